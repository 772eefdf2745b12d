"""Versioned prompt templates, shared by instruction synthesis and decoding.

Three registries, by kind of turn:

* ``TRANSLATION`` -- single-turn translation prompts (BayLing's own English and Chinese
  prompts, ALMA's prompt, and a few more phrasings). Placeholders: ``{src_name}``,
  ``{tgt_name}``, ``{source}``.
* ``FOLLOW_UP`` -- the later user turns of an interactive-translation dialogue (BayLing),
  grouped by action; each action's answer is known from the multi-way data:

  - ``further_language``: "Now give it in {tgt_name}." -> the record's text in that language;
  - ``use_term``: "... use the term "{term}"." -> the reference (which contains the term);
  - ``back_translate``: "Translate your answer back into {src_name}." -> the original source;
  - ``only_translation``: "Just give me the translation ..." -> the current translation.

* ``CROSS_LINGUAL`` -- BayLing 2 style: an English or Chinese instruction about content in
  language A that asks for the answer in language B. Placeholders as for TRANSLATION.

Three more, for synthesis only:

* ``NATIVE_TRANSLATION`` -- translation prompts written in the source or target language
  itself (German, French, Spanish, Russian, Japanese), usable for a direction only when
  the template's language is one of its two languages and ``NATIVE_NAMES`` names both.
* ``TEACHER_FOLLOW_UP`` -- follow-ups whose answer a teacher model writes (polish, change
  the tone, add a modifier, summarize, comment), grouped by action like ``FOLLOW_UP``.
* ``ANSWER_IN`` -- BayLing 2 cross-lingual instructions: an instruction followed by a
  request to answer in another language (``{instruction}``, ``{tgt_name}``); and
  ``TEACHER_PROMPTS``, the prompts sent to the teacher itself (never training data).

A template's ``language`` is the language its instruction is written in; language names
are rendered in that language (``english_name`` / ``chinese_name``, or ``NATIVE_NAMES``).
Ids are stable and unique across the registries; change a template's
text only together with its ``version``, which every synthesized example and decoding
output records as ``template_ref(t)`` == ``"<id>@v<version>"``.
"""

from __future__ import annotations

import functools
import string
from dataclasses import dataclass

from bayling_pipeline.languages import chinese_name, english_name

ENGLISH = "eng_Latn"
CHINESE = "zho_Hans"
INSTRUCTION_LANGUAGES = (ENGLISH, CHINESE)

#: Actions of interactive follow-up turns, in a fixed order (synthesis draws from it).
FOLLOW_UP_ACTIONS = ("further_language", "use_term", "back_translate", "only_translation")


@dataclass(frozen=True)
class Template:
    """One instruction phrasing; ``text`` is a ``str.format`` pattern."""

    id: str
    version: int
    language: str
    text: str

    @functools.cached_property  # asked at every render
    def placeholders(self) -> frozenset[str]:
        """Names of the ``{placeholders}`` in ``text``."""
        return frozenset(
            name for _, name, _, _ in string.Formatter().parse(self.text) if name is not None
        )

    @property
    def ref(self) -> str:
        return template_ref(self)


def template_ref(template: Template) -> str:
    """The stable reference recorded with every output, e.g. ``"bayling-en@v1"``."""
    return f"{template.id}@v{template.version}"


def _en(id_: str, text: str, version: int = 1) -> Template:
    return Template(id_, version, ENGLISH, text)


def _zh(id_: str, text: str, version: int = 1) -> Template:
    return Template(id_, version, CHINESE, text)


def _registry(*templates: Template) -> dict[str, Template]:
    return {template.id: template for template in templates}


TRANSLATION: dict[str, Template] = _registry(
    # BayLing's prompt (BayLing 2023, translation evaluation).
    _en("bayling-en", "Provide the {tgt_name} translation for this sentence: {source}"),
    # v1 was a paraphrase; v2 is BayLing's own Chinese prompt (its scripts/translate.py)
    _zh("bayling-zh", "提供这句话的{tgt_name}翻译：{source}", version=2),
    # ALMA's prompt (Xu et al. 2023), completion style.
    _en(
        "alma-en",
        "Translate this from {src_name} to {tgt_name}:\n{src_name}: {source}\n{tgt_name}:",
    ),
    _en("plain-en", "Translate the following {src_name} text into {tgt_name}.\n{source}"),
    _en("ask-en", "How do you say this {src_name} sentence in {tgt_name}?\n{source}"),
    _zh("plain-zh", "把下面的{src_name}翻译成{tgt_name}：\n{source}"),
    _zh("ask-zh", "这句{src_name}用{tgt_name}怎么说？\n{source}"),
    _zh("labelled-zh", "将下面的{src_name}翻译成{tgt_name}。\n{src_name}：{source}\n{tgt_name}："),
)

FOLLOW_UP: dict[str, dict[str, Template]] = {
    # {tgt_name}: the further language asked for.
    "further_language": _registry(
        _en("further-language-en-1", "Now give it in {tgt_name}."),
        _en("further-language-en-2", "Can you also translate it into {tgt_name}?"),
        _en("further-language-en-3", "What would that be in {tgt_name}?"),
        _zh("further-language-zh-1", "现在请给出{tgt_name}译文。"),
        _zh("further-language-zh-2", "再把它翻译成{tgt_name}。"),
        _zh("further-language-zh-3", "那用{tgt_name}怎么说？"),
    ),
    # {term}: a word or phrase of the reference the answer repeats.
    "use_term": _registry(
        _en("use-term-en-1", 'Please translate it again and use the term "{term}".'),
        _en("use-term-en-2", 'Translate it once more, this time using "{term}".'),
        _en("use-term-en-3", 'Could you redo the translation so that it contains "{term}"?'),
        _zh("use-term-zh-1", "请重新翻译，并使用术语“{term}”。"),
        _zh("use-term-zh-2", "请再翻译一次，译文中要用到“{term}”。"),
    ),
    # {src_name}: the language of the original sentence.
    "back_translate": _registry(
        _en("back-translate-en-1", "Translate your answer back into {src_name}."),
        _en("back-translate-en-2", "Now translate that back to {src_name}, please."),
        _en("back-translate-en-3", "Back-translate your last answer into {src_name}."),
        _zh("back-translate-zh-1", "请把你的译文再翻译回{src_name}。"),
        _zh("back-translate-zh-2", "把上面的译文回译成{src_name}。"),
    ),
    # {tgt_name}: the language of the current translation.
    "only_translation": _registry(
        _en("only-translation-en-1", "Just give me the translation, nothing else."),
        _en("only-translation-en-2", "Please reply with the {tgt_name} translation only."),
        _zh("only-translation-zh-1", "只需要给出译文，不要其他内容。"),
        _zh("only-translation-zh-2", "请只回复{tgt_name}译文。"),
    ),
}

CROSS_LINGUAL: dict[str, Template] = _registry(
    _en(
        "cross-meaning-en",
        "Here is a sentence in {src_name}: {source}\nWhat does it mean in {tgt_name}?",
    ),
    _en(
        "cross-cannot-read-en",
        "I can't read {src_name}. Please tell me in {tgt_name} what this says:\n{source}",
    ),
    _en(
        "cross-answer-in-en",
        "{source}\n\nThe text above is in {src_name}. Answer in {tgt_name}: what does it say?",
    ),
    _zh("cross-meaning-zh", "这是一句{src_name}：{source}\n它用{tgt_name}表达是什么意思？"),
    _zh(
        "cross-cannot-read-zh",
        "我看不懂{src_name}。请用{tgt_name}告诉我下面这段话的意思：\n{source}",
    ),
    _zh("cross-answer-in-zh", "{source}\n\n上面是一段{src_name}。请用{tgt_name}回答：它说了什么？"),
)


#: Names of languages as written in the native-language templates' own languages (the
#: form each template's grammar needs: German and Russian nominative, French and Spanish
#: after "en"/"al"). A direction is only rendered natively when both names are here.
NATIVE_NAMES: dict[str, dict[str, str]] = {
    "deu_Latn": {
        "eng_Latn": "Englisch", "deu_Latn": "Deutsch", "fra_Latn": "Französisch",
        "spa_Latn": "Spanisch", "rus_Cyrl": "Russisch", "jpn_Jpan": "Japanisch",
        "zho_Hans": "Chinesisch", "ita_Latn": "Italienisch", "por_Latn": "Portugiesisch",
        "nld_Latn": "Niederländisch", "pol_Latn": "Polnisch", "ces_Latn": "Tschechisch",
        "ukr_Cyrl": "Ukrainisch", "isl_Latn": "Isländisch", "kor_Hang": "Koreanisch",
        "arb_Arab": "Arabisch",
    },
    "fra_Latn": {
        "eng_Latn": "anglais", "deu_Latn": "allemand", "fra_Latn": "français",
        "spa_Latn": "espagnol", "rus_Cyrl": "russe", "jpn_Jpan": "japonais",
        "zho_Hans": "chinois", "ita_Latn": "italien", "por_Latn": "portugais",
        "nld_Latn": "néerlandais", "pol_Latn": "polonais", "ces_Latn": "tchèque",
        "ukr_Cyrl": "ukrainien", "isl_Latn": "islandais", "kor_Hang": "coréen",
        "arb_Arab": "arabe",
    },
    "spa_Latn": {
        "eng_Latn": "inglés", "deu_Latn": "alemán", "fra_Latn": "francés",
        "spa_Latn": "español", "rus_Cyrl": "ruso", "jpn_Jpan": "japonés",
        "zho_Hans": "chino", "ita_Latn": "italiano", "por_Latn": "portugués",
        "nld_Latn": "neerlandés", "pol_Latn": "polaco", "ces_Latn": "checo",
        "ukr_Cyrl": "ucraniano", "isl_Latn": "islandés", "kor_Hang": "coreano",
        "arb_Arab": "árabe",
    },
    "rus_Cyrl": {
        "eng_Latn": "английский", "deu_Latn": "немецкий", "fra_Latn": "французский",
        "spa_Latn": "испанский", "rus_Cyrl": "русский", "jpn_Jpan": "японский",
        "zho_Hans": "китайский", "ita_Latn": "итальянский", "por_Latn": "португальский",
        "nld_Latn": "нидерландский", "pol_Latn": "польский", "ces_Latn": "чешский",
        "ukr_Cyrl": "украинский", "isl_Latn": "исландский", "kor_Hang": "корейский",
        "arb_Arab": "арабский",
    },
    "jpn_Jpan": {
        "eng_Latn": "英語", "deu_Latn": "ドイツ語", "fra_Latn": "フランス語",
        "spa_Latn": "スペイン語", "rus_Cyrl": "ロシア語", "jpn_Jpan": "日本語",
        "zho_Hans": "中国語", "ita_Latn": "イタリア語", "por_Latn": "ポルトガル語",
        "nld_Latn": "オランダ語", "pol_Latn": "ポーランド語", "ces_Latn": "チェコ語",
        "ukr_Cyrl": "ウクライナ語", "isl_Latn": "アイスランド語", "kor_Hang": "韓国語",
        "arb_Arab": "アラビア語",
    },
}  # fmt: skip


def _native(id_: str, language: str, text: str, version: int = 1) -> Template:
    return Template(id_, version, language, text)


NATIVE_TRANSLATION: dict[str, Template] = _registry(
    _native("native-de-1", "deu_Latn", "Übersetze bitte von {src_name} nach {tgt_name}:\n{source}"),
    _native("native-de-2", "deu_Latn", "Wie lautet der folgende Satz auf {tgt_name}?\n{source}"),
    _native("native-fr-1", "fra_Latn", "Traduis le texte suivant en {tgt_name} :\n{source}"),
    _native(
        "native-fr-2",
        "fra_Latn",
        "Langue source : {src_name}. Langue cible : {tgt_name}. Traduis :\n{source}",
    ),
    _native(
        "native-es-1",
        "spa_Latn",
        "Traduce el siguiente texto del {src_name} al {tgt_name}:\n{source}",
    ),
    _native(
        "native-ru-1",
        "rus_Cyrl",
        "Переведи текст. Исходный язык: {src_name}. Язык перевода: {tgt_name}.\n{source}",
    ),
    _native(
        "native-ja-1", "jpn_Jpan", "次の{src_name}の文を{tgt_name}に翻訳してください。\n{source}"
    ),
)

#: Follow-ups answered by a teacher model. ``answer_language`` of an action: "focus" (the
#: language of the translation being revised) or "instruction" (the follow-up's own).
TEACHER_FOLLOW_UP: dict[str, dict[str, Template]] = {
    "polish": _registry(
        _en("polish-en-1", "Please polish your translation so that it reads more naturally."),
        _en("polish-en-2", "Can you make that translation sound more fluent?"),
        _zh("polish-zh-1", "请润色一下你的译文，让它读起来更自然。"),
    ),
    "formal": _registry(
        _en("formal-en-1", "Rewrite your translation in a more formal tone."),
        _zh("formal-zh-1", "请把译文改写得更正式一些。"),
    ),
    "casual": _registry(
        _en("casual-en-1", "Make the translation sound casual, as if said to a friend."),
        _zh("casual-zh-1", "请把译文改得口语化一些，就像对朋友说话一样。"),
    ),
    "add_modifier": _registry(
        _en("add-modifier-en-1", "Add a fitting adjective to the main noun of your translation."),
        _zh("add-modifier-zh-1", "请给译文中的主要名词加上一个合适的修饰语。"),
    ),
    "summarize": _registry(
        _en("summarize-en-1", "Summarize what the sentence says in a few words."),
        _zh("summarize-zh-1", "用几个词概括这句话的内容。"),
    ),
    "comment": _registry(
        _en("comment-en-1", "Comment briefly on what this sentence says."),
        _zh("comment-zh-1", "请简单评论一下这句话的内容。"),
    ),
}
TEACHER_ANSWER_LANGUAGE = {
    "polish": "focus",
    "formal": "focus",
    "casual": "focus",
    "add_modifier": "focus",
    "summarize": "instruction",
    "comment": "instruction",
}
TEACHER_ACTIONS = tuple(TEACHER_FOLLOW_UP)

ANSWER_IN: dict[str, Template] = _registry(
    _en("answer-in-en-1", "{instruction}\n\nPlease answer in {tgt_name}."),
    _en("answer-in-en-2", "{instruction}\n\n(Reply in {tgt_name}, not in English.)"),
    _zh("answer-in-zh-1", "{instruction}\n\n请用{tgt_name}回答。"),
    _zh("answer-in-zh-2", "{instruction}\n\n（请不要用中文，用{tgt_name}回答。）"),
)

TEACHER_PROMPTS: dict[str, Template] = _registry(
    _en(
        "teacher-translate-en",
        "Translate the following text into {tgt_name}. Reply with the translation only,"
        " keeping its formatting.\n\n{source}",
    ),
)


def _all_templates() -> dict[str, Template]:
    merged: dict[str, Template] = {}
    for registry in (
        TRANSLATION,
        *FOLLOW_UP.values(),
        CROSS_LINGUAL,
        NATIVE_TRANSLATION,
        *TEACHER_FOLLOW_UP.values(),
        ANSWER_IN,
        TEACHER_PROMPTS,
    ):
        for id_, template in registry.items():
            if id_ in merged:
                raise RuntimeError(f"template id {id_!r} is defined twice")
            merged[id_] = template
    return merged


ALL: dict[str, Template] = _all_templates()


def _lookup(registry: dict[str, Template], template_id: str, kind: str) -> Template:
    try:
        return registry[template_id]
    except KeyError:
        known = ", ".join(registry)
        raise KeyError(f"unknown {kind} template {template_id!r}; known: {known}") from None


def get_template(template_id: str) -> Template:
    """Any template by id, whatever its kind; KeyError lists the known ids."""
    return _lookup(ALL, template_id, "prompt")


def translation_template_ids() -> list[str]:
    """Ids of the single-turn translation templates, in registry order."""
    return list(TRANSLATION)


@functools.lru_cache(maxsize=1024)  # asked for every follow-up turn synthesized
def follow_up_templates(action: str, language: str | None = None) -> tuple[Template, ...]:
    """The follow-up templates of one action, optionally only those written in ``language``."""
    if action not in FOLLOW_UP:
        raise KeyError(f"unknown follow-up action {action!r}; known: {', '.join(FOLLOW_UP)}")
    return tuple(t for t in FOLLOW_UP[action].values() if language in (None, t.language))


@functools.lru_cache(maxsize=16384)  # asked for every turn synthesized
def language_name(code: str, in_language: str) -> str:
    """The name of language ``code`` as written in an instruction in ``in_language``."""
    if in_language == CHINESE:
        return chinese_name(code)
    if in_language == ENGLISH:
        return english_name(code)
    if in_language in NATIVE_NAMES:
        try:
            return NATIVE_NAMES[in_language][code]
        except KeyError:
            raise ValueError(f"no name for {code} in {in_language} (NATIVE_NAMES)") from None
    raise ValueError(f"no instruction templates are written in {in_language!r}")


def can_name(code: str, in_language: str) -> bool:
    """Whether ``language_name(code, in_language)`` has a name to render."""
    return in_language in INSTRUCTION_LANGUAGES or code in NATIVE_NAMES.get(in_language, {})


def render(
    template: Template, *, src: str | None = None, tgt: str | None = None, **values: str
) -> str:
    """Fill a template; ``src``/``tgt`` codes become names in the template's own language.

    Every placeholder must be given (ValueError otherwise); values a template does not use
    are ignored, so callers may pass the same dialogue state to every follow-up.
    """
    if src is not None:
        values["src_name"] = language_name(src, template.language)
    if tgt is not None:
        values["tgt_name"] = language_name(tgt, template.language)
    missing = template.placeholders - values.keys()
    if missing:
        raise ValueError(f"template {template_ref(template)} needs {sorted(missing)}")
    return template.text.format(**values)


def render_translation_prompt(template_id: str, src: str, tgt: str, source: str) -> str:
    """The user prompt asking to translate ``source`` from ``src`` into ``tgt`` (decoding)."""
    return render(_lookup(TRANSLATION, template_id, "translation"), src=src, tgt=tgt, source=source)
