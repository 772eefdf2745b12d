"""Task families of instruction synthesis: one record and one unit in, one draft dialogue out.

A *unit* is what a family's examples are counted, capped and sharded by: a translation
direction ``src-tgt`` for ``single_turn`` and ``interactive``, the focus language for
``cross_lingual``, the answer language for ``instruction_cross_lingual``, a file for
``general``. Every function
here is pure: the same record, unit, options and ``random.Random`` give the same draft,
which is what makes synthesis independent of the shard a unit runs in.

Families (BayLing 1 and 2):

* ``single_turn``: one translation prompt and the reference. Prompts come from
  ``templates.TRANSLATION`` (English and Chinese) and, for a direction between languages
  it names, ``templates.NATIVE_TRANSLATION`` (written in the source or target language).
* ``interactive`` (BayLing 1): a translation, then follow-ups whose answers the same
  multi-way record holds (``templates.FOLLOW_UP``: a further language, the reference
  again with a given term, the back-translation, the translation only), and optionally a
  last follow-up answered by a teacher model (``templates.TEACHER_FOLLOW_UP``: polish,
  formal, casual, add a modifier, summarize, comment).
* ``cross_lingual`` (BayLing 2): an English or Chinese instruction about content in
  language A that asks for the answer in language B (``templates.CROSS_LINGUAL``).
* ``instruction_cross_lingual`` (BayLing 2): an English or Chinese instruction with its
  answer (e.g. Alpaca's seed tasks), asked to be answered in another language; the
  answer is the teacher's translation of the original answer (``templates.ANSWER_IN``).
* ``general`` (BayLing 1): general instructions with their own answers, as they are
  (Alpaca, Alpaca seed-task or ShareGPT records of local files, read by ``general``); a
  unit is a file. It quotes no corpus text: hygiene checks its turns (``free_texts``).

A draft carries the corpus texts it quotes (``segments``), which hygiene checks, and a
``TeacherRequest`` when its last answer is still to be written by the teacher.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from bayling_pipeline import languages
from bayling_pipeline.prompts import templates as T
from bayling_pipeline.synthesize.terms import pick_term

# Directions are parsed once each: eligibility is asked for every record and unit.
parse_pair = functools.lru_cache(maxsize=None)(languages.parse_pair)

FAMILIES = ("single_turn", "interactive", "cross_lingual", "instruction_cross_lingual")
#: Families a resolved recipe holds only when ``mix`` gives them a ratio > 0, so that recipes
#: without them resolve, and synthesize, byte for byte as before they existed.
OPTIONAL_FAMILIES = ("general",)
#: Families whose answers a teacher model writes (they need ``teacher`` in the recipe).
TEACHER_FAMILIES = frozenset({"instruction_cross_lingual"})


def source_kind(family: str) -> int:
    """The record stream a family reads: 0 the corpus, 1 the instruction file (teacher
    families), 2 the general files."""
    if family in TEACHER_FAMILIES:
        return 1
    return 2 if family == "general" else 0


@dataclass
class TeacherRequest:
    """A conversation for the teacher; its reply becomes the draft's last assistant turn."""

    conversation: list[dict]
    answer_language: str
    action: str
    prompt_template: str | None = None  # ref of a TEACHER_PROMPTS template, if one wraps it


@dataclass
class Draft:
    """A dialogue being built, with what provenance and hygiene need to know about it."""

    family: str
    messages: list[dict] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    segments: dict[str, str] = field(default_factory=dict)  # corpus texts quoted, by language
    teacher: TeacherRequest | None = None
    # texts of no one language (general dialogues): checked for emptiness and contamination
    free_texts: list[str] = field(default_factory=list)

    def turn(self, template: T.Template, prompt: str, answer: str | None, *languages: str):
        self.messages.append({"role": "user", "content": prompt})
        if answer is not None:
            self.messages.append({"role": "assistant", "content": answer})
        self.templates.append(template.ref)
        self.languages += [code for code in languages if code not in self.languages]


def texts_of(record: dict) -> dict[str, str]:
    """The record's non-blank texts, by language."""
    return {code: text for code, text in record["texts"].items() if text.strip()}


def pairable(texts: dict[str, str], src: str, tgt: str) -> bool:
    """Both texts present and different (an untranslated copy teaches nothing)."""
    return src in texts and tgt in texts and texts[src] != texts[tgt]


# --------------------------------------------------------------------------- eligibility


# follow-ups that fit every record once a first translation exists
_ALWAYS_FIT = frozenset({"back_translate", "only_translation"})


def eligible(family: str, unit: str, texts: dict[str, str], options: dict) -> bool:
    """Whether a record (its ``texts``) can yield an example of ``family`` for ``unit``."""
    if family == "single_turn":
        return pairable(texts, *parse_pair(unit))
    if family == "interactive":
        src, tgt = parse_pair(unit)
        if not pairable(texts, src, tgt):
            return False
        # after a first translation, back_translate and only_translation always fit
        if not _ALWAYS_FIT.isdisjoint(options["follow_ups"]):
            return True
        return bool(_Dialogue(texts, src, tgt, {("lang", tgt)}).available(options["follow_ups"]))
    if family == "cross_lingual":
        return has_partner(texts, unit, options["languages"])
    if family == "instruction_cross_lingual":
        return unit != texts["language"]
    if family == "general":
        return texts["unit"] == unit and bool(texts["dialogues"])
    raise ValueError(f"unknown family {family!r}")


def has_partner(texts: dict[str, str], code: str, languages: frozenset | None) -> bool:
    """``bool(_partners(...))`` without building the list (eligibility is asked often)."""
    if code not in texts:
        return False
    text = texts[code]
    return any(
        other != code and texts[other] != text and (languages is None or other in languages)
        for other in texts
    )


def _partners(texts: dict[str, str], code: str, languages: frozenset | None) -> list[str]:
    if code not in texts:
        return []
    chosen = texts.keys() if languages is None else languages & texts.keys()
    return sorted(c for c in chosen if c != code and texts[c] != texts[code])


# --------------------------------------------------------------------------- generators


def generate(family: str, unit: str, texts: dict[str, str], options: dict, rng) -> Draft:
    """One draft of ``family`` for ``unit`` from an eligible record, choices from ``rng``."""
    return _GENERATORS[family](unit, texts, options, rng)


def translation_templates(ids: Sequence[str], src: str, tgt: str, native: bool) -> tuple:
    """The templates that can ask for ``src`` -> ``tgt``: the configured English/Chinese
    ones, plus native ones written in ``src`` or ``tgt`` that name both languages."""
    return _translation_templates(tuple(ids), src, tgt, native)


@functools.lru_cache(maxsize=4096)  # asked once per example; the answer is per direction
def _translation_templates(ids: tuple[str, ...], src: str, tgt: str, native: bool) -> tuple:
    chosen = [T.TRANSLATION[id_] for id_ in ids]
    if native:
        chosen += [
            t
            for t in T.NATIVE_TRANSLATION.values()
            if t.language in (src, tgt)
            and T.can_name(src, t.language)
            and T.can_name(tgt, t.language)
        ]
    return tuple(chosen)


def _single_turn(unit, texts, options, rng) -> Draft:
    src, tgt = parse_pair(unit)
    template = rng.choice(translation_templates(options["templates"], src, tgt, options["native"]))
    draft = Draft("single_turn", segments={src: texts[src], tgt: texts[tgt]})
    draft.turn(
        template, T.render(template, src=src, tgt=tgt, source=texts[src]), texts[tgt], src, tgt
    )
    return draft


@dataclass
class _Dialogue:
    """What an interactive dialogue has said so far, to know which follow-ups fit."""

    texts: dict[str, str]
    src: str
    focus: str  # language of the latest answer
    done: set = field(default_factory=set)  # (action, language) pairs already used

    def further_languages(self) -> list[str]:
        """Languages not shown yet whose text is not the (untranslated) source."""
        shown = {self.src, self.focus} | {code for action, code in self.done if action == "lang"}
        source = self.texts[self.src]
        return sorted(c for c, t in self.texts.items() if c not in shown and t != source)

    def available(self, actions: Sequence[str]) -> list[str]:
        translated = self.focus != self.src
        ok = {
            "further_language": bool(self.further_languages()),
            "use_term": translated
            and ("term", self.focus) not in self.done
            and pick_term(self.texts[self.focus], self.focus) is not None,
            "back_translate": translated and ("back", None) not in self.done,
            "only_translation": translated and ("only", None) not in self.done,
        }
        return [action for action in actions if ok[action]]


def _interactive(unit, texts, options, rng) -> Draft:
    src, tgt = parse_pair(unit)
    first = rng.choice(translation_templates(options["templates"], src, tgt, options["native"]))
    # follow-ups are written in the first turn's language, in English after a native prompt
    language = first.language if first.language in T.INSTRUCTION_LANGUAGES else T.ENGLISH
    draft = Draft("interactive", segments={src: texts[src], tgt: texts[tgt]})
    draft.turn(first, T.render(first, src=src, tgt=tgt, source=texts[src]), texts[tgt], src, tgt)
    state = _Dialogue(texts, src, tgt, {("lang", tgt)})
    follow_ups = rng.randint(1, options["max_turns"] - 1)
    teacher_last = bool(options["teacher_follow_ups"]) and (
        rng.random() < options["teacher_probability"]
    )
    for _ in range(follow_ups - teacher_last):
        choices = state.available(options["follow_ups"])
        if not choices:
            break
        _follow_up(draft, state, rng.choice(choices), language, rng)
    if teacher_last:
        _teacher_follow_up(draft, state, options["teacher_follow_ups"], language, rng)
    return draft


def _follow_up(draft: Draft, state: _Dialogue, action: str, language: str, rng) -> None:
    """Append one data-answered follow-up turn of ``action`` and update the dialogue state."""
    template, texts = rng.choice(T.follow_up_templates(action, language)), state.texts
    if action == "further_language":
        code = rng.choice(state.further_languages())
        state.done.add(("lang", code))
        state.focus = code
        draft.segments[code] = texts[code]
        draft.turn(template, T.render(template, src=state.src, tgt=code), texts[code], code)
    elif action == "use_term":
        term = pick_term(texts[state.focus], state.focus)
        state.done.add(("term", state.focus))
        prompt = T.render(template, src=state.src, tgt=state.focus, term=term)
        draft.turn(template, prompt, texts[state.focus])
    elif action == "back_translate":
        state.done.add(("back", None))
        prompt = T.render(template, src=state.src, tgt=state.focus)
        state.focus = state.src
        draft.turn(template, prompt, texts[state.src])
    else:  # only_translation
        state.done.add(("only", None))
        prompt = T.render(template, src=state.src, tgt=state.focus)
        draft.turn(template, prompt, texts[state.focus])


def _teacher_follow_up(draft: Draft, state: _Dialogue, actions, language: str, rng) -> None:
    """Append a follow-up the teacher answers; revising actions need a translated focus."""
    translated = state.focus != state.src
    fitting = [a for a in actions if translated or T.TEACHER_ANSWER_LANGUAGE[a] == "instruction"]
    if not fitting:
        return
    action = rng.choice(fitting)
    template = rng.choice(
        [t for t in T.TEACHER_FOLLOW_UP[action].values() if t.language == language]
    )
    draft.turn(template, T.render(template), None)
    answer_language = state.focus if T.TEACHER_ANSWER_LANGUAGE[action] == "focus" else language
    draft.teacher = TeacherRequest([dict(m) for m in draft.messages], answer_language, action)


def _cross_lingual(unit, texts, options, rng) -> Draft:
    other = rng.choice(_partners(texts, unit, options["languages"]))
    src, tgt = (unit, other) if rng.random() < 0.5 else (other, unit)
    template = T.CROSS_LINGUAL[rng.choice(options["templates"])]
    draft = Draft("cross_lingual", segments={src: texts[src], tgt: texts[tgt]})
    draft.turn(
        template, T.render(template, src=src, tgt=tgt, source=texts[src]), texts[tgt], src, tgt
    )
    return draft


def _instruction_cross_lingual(unit, texts, options, rng) -> Draft:
    """``texts``: an instruction record's ``instruction``, ``output`` and ``language``."""
    language = texts["language"]
    fitting = [T.ANSWER_IN[id_] for id_ in options["templates"]]
    fitting = [t for t in fitting if t.language == language] or fitting
    template = rng.choice(fitting)
    prompt = T.render(template, tgt=unit, instruction=texts["instruction"])
    draft = Draft("instruction_cross_lingual", segments={language: texts["instruction"]})
    draft.turn(template, prompt, None, language, unit)
    translate = T.TEACHER_PROMPTS["teacher-translate-en"]
    request = T.render(translate, tgt=unit, source=texts["output"])
    draft.teacher = TeacherRequest(
        [{"role": "user", "content": request}], unit, "translate", translate.ref
    )
    return draft


def _general(unit, texts, options, rng) -> Draft:
    """``texts``: a general record (``general.parse_record``): one of its dialogues, as is."""
    dialogue = rng.choice(texts["dialogues"])  # seed tasks: one instance of several
    language = texts["language"]
    return Draft(
        "general",
        messages=[dict(message) for message in dialogue],
        languages=[language] if language else [],
        free_texts=[message["content"] for message in dialogue],
    )


_GENERATORS = {
    "single_turn": _single_turn,
    "interactive": _interactive,
    "cross_lingual": _cross_lingual,
    "instruction_cross_lingual": _instruction_cross_lingual,
    "general": _general,
}


def instruction_texts(record: dict) -> dict[str, str]:
    """An instruction record (Alpaca seed-task or Alpaca format) as family input texts.

    Seed tasks carry ``instances`` (the first one's input and output are used); Alpaca
    records carry ``input`` and ``output``. ``language`` defaults to English.
    """
    if "instances" in record:
        instance = record["instances"][0]
        extra, output = instance.get("input", ""), instance["output"]
    else:
        extra, output = record.get("input", ""), record["output"]
    instruction = record["instruction"].strip()
    if extra.strip():
        instruction = f"{instruction}\n\n{extra.strip()}"
    return {
        "instruction": instruction,
        "output": output.strip(),
        "language": record.get("language", T.ENGLISH),
    }


def seeded_rng(*parts) -> random.Random:
    """A ``random.Random`` seeded by a string of ``parts`` (independent of PYTHONHASHSEED)."""
    return random.Random(":".join(map(str, parts)))
