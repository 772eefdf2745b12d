"""Prompt templates: rendering, registry shape, stable ids and versions."""

import hashlib
import re

import pytest

from bayling_pipeline.languages import chinese_name, english_name
from bayling_pipeline.prompts import templates as T

CJK = re.compile(r"[\u4e00-\u9fff]")

# Text digest of every template version. A failing row means a template text changed:
# bump its version (outputs record "id@v<version>") and update the row.
PINNED = {
    "bayling-en@v1": "b152a62a2122",
    "bayling-zh@v2": "00d43f2c57fe",
    "alma-en@v1": "4530efb4b133",
    "plain-en@v1": "5e3bd3276656",
    "ask-en@v1": "431b394bc4c0",
    "plain-zh@v1": "9897ef7b7aac",
    "ask-zh@v1": "bfedec38132c",
    "labelled-zh@v1": "777bb99d5281",
    "further-language-en-1@v1": "23aaae8dca22",
    "further-language-en-2@v1": "94b7671e5eef",
    "further-language-en-3@v1": "3b2da6cc278a",
    "further-language-zh-1@v1": "5e929a7d63d4",
    "further-language-zh-2@v1": "19f95a1439bd",
    "further-language-zh-3@v1": "1aafcbc45d1e",
    "use-term-en-1@v1": "1971b34956be",
    "use-term-en-2@v1": "e4d2ddbbd169",
    "use-term-en-3@v1": "65db121bd1ac",
    "use-term-zh-1@v1": "3e6be8441aa4",
    "use-term-zh-2@v1": "a6776c76ad81",
    "back-translate-en-1@v1": "3a1c6c1bad0b",
    "back-translate-en-2@v1": "a55806d5e858",
    "back-translate-en-3@v1": "9f12095dc229",
    "back-translate-zh-1@v1": "c1af6deae616",
    "back-translate-zh-2@v1": "3e2362762897",
    "only-translation-en-1@v1": "ba734b7a9218",
    "only-translation-en-2@v1": "9d0169facca7",
    "only-translation-zh-1@v1": "46210de6394d",
    "only-translation-zh-2@v1": "ea2fb3383ec9",
    "cross-meaning-en@v1": "bbc06fd2bb51",
    "cross-cannot-read-en@v1": "e218efe9291e",
    "cross-answer-in-en@v1": "c8f3b9718460",
    "cross-meaning-zh@v1": "2ef975e303b1",
    "cross-cannot-read-zh@v1": "6dec3b0f8d4f",
    "cross-answer-in-zh@v1": "73ed5833a377",
    "native-de-1@v1": "4ccab8a07648",
    "native-de-2@v1": "1a6002f04637",
    "native-fr-1@v1": "55aadb418704",
    "native-fr-2@v1": "01a3380ab804",
    "native-es-1@v1": "84368e0198c2",
    "native-ru-1@v1": "da09d3e9d595",
    "native-ja-1@v1": "90d661e7b7dc",
    "polish-en-1@v1": "7496bd704861",
    "polish-en-2@v1": "4884e9627d1d",
    "polish-zh-1@v1": "481c15bbb6f1",
    "formal-en-1@v1": "36de721ff955",
    "formal-zh-1@v1": "08933ce28788",
    "casual-en-1@v1": "50241ce4b6db",
    "casual-zh-1@v1": "7039b2188e61",
    "add-modifier-en-1@v1": "f79ebeb80f4e",
    "add-modifier-zh-1@v1": "70acb8e397b1",
    "summarize-en-1@v1": "fcabfcf52e32",
    "summarize-zh-1@v1": "c8b5fed1c513",
    "comment-en-1@v1": "ef9bbab71473",
    "comment-zh-1@v1": "17c031a03085",
    "answer-in-en-1@v1": "f2dfc1a1e360",
    "answer-in-en-2@v1": "d9ad11758716",
    "answer-in-zh-1@v1": "1b23a55e7d37",
    "answer-in-zh-2@v1": "087a320c1aeb",
    "teacher-translate-en@v1": "19a1e38acf06",
}


def test_every_template_text_is_pinned_to_its_version():
    actual = {
        T.template_ref(t): hashlib.sha256(t.text.encode("utf-8")).hexdigest()[:12]
        for t in T.ALL.values()
    }
    assert actual == PINNED


@pytest.mark.parametrize(
    ("template_id", "src", "tgt", "source", "expected"),
    [
        (
            "bayling-en",
            "eng_Latn",
            "deu_Latn",
            "Save and continue",
            "Provide the German translation for this sentence: Save and continue",
        ),
        ("bayling-zh", "eng_Latn", "deu_Latn", "Save", "提供这句话的德语翻译：Save"),
        ("bayling-zh", "deu_Latn", "eng_Latn", "Sichern", "提供这句话的英语翻译：Sichern"),
        (
            "alma-en",
            "deu_Latn",
            "eng_Latn",
            "Sichern",
            "Translate this from German to English:\nGerman: Sichern\nEnglish:",
        ),
        ("plain-zh", "eng_Latn", "jpn_Jpan", "Save", "把下面的英语翻译成日语：\nSave"),
        # braces in the source are data, not placeholders
        (
            "bayling-en",
            "eng_Latn",
            "fra_Latn",
            "Change {name} “{object}”.",
            "Provide the French translation for this sentence: Change {name} “{object}”.",
        ),
    ],
)
def test_render_translation_prompt(template_id, src, tgt, source, expected):
    assert T.render_translation_prompt(template_id, src, tgt, source) == expected


def test_registries_have_enough_phrasings_in_both_instruction_languages():
    assert len(T.TRANSLATION) >= 6
    assert {"bayling-en", "bayling-zh", "alma-en"} <= set(T.translation_template_ids())
    for registry in (T.TRANSLATION, T.CROSS_LINGUAL, *T.FOLLOW_UP.values()):
        languages = [t.language for t in registry.values()]
        assert languages.count(T.ENGLISH) >= 2 and languages.count(T.CHINESE) >= 2
    assert tuple(T.FOLLOW_UP) == T.FOLLOW_UP_ACTIONS


def test_ids_are_unique_across_registries_and_refs_are_versioned():
    sizes = (
        len(T.TRANSLATION)
        + len(T.CROSS_LINGUAL)
        + sum(map(len, T.FOLLOW_UP.values()))
        + len(T.NATIVE_TRANSLATION)
        + sum(map(len, T.TEACHER_FOLLOW_UP.values()))
        + len(T.ANSWER_IN)
        + len(T.TEACHER_PROMPTS)
    )
    assert len(T.ALL) == sizes
    for id_, template in T.ALL.items():
        assert template.id == id_
        assert isinstance(template.version, int) and template.version >= 1
        assert T.template_ref(template) == f"{id_}@v{template.version}" == template.ref


REQUIRED = {
    **{id_: {"source", "tgt_name"} for id_ in T.TRANSLATION},
    **{id_: {"source", "src_name", "tgt_name"} for id_ in T.CROSS_LINGUAL},
    **{id_: {"tgt_name"} for id_ in T.FOLLOW_UP["further_language"]},
    **{id_: {"term"} for id_ in T.FOLLOW_UP["use_term"]},
    **{id_: {"src_name"} for id_ in T.FOLLOW_UP["back_translate"]},
    **{id_: set() for id_ in T.FOLLOW_UP["only_translation"]},
    **{id_: {"source", "tgt_name"} for id_ in T.NATIVE_TRANSLATION},
    **{id_: set() for f in T.TEACHER_FOLLOW_UP.values() for id_ in f},
    **{id_: {"instruction", "tgt_name"} for id_ in T.ANSWER_IN},
    **{id_: {"source", "tgt_name"} for id_ in T.TEACHER_PROMPTS},
}
ALLOWED = {
    **{id_: {"source", "src_name", "tgt_name"} for id_ in (*T.TRANSLATION, *T.CROSS_LINGUAL)},
    **{id_: {"src_name", "tgt_name", "term"} for f in T.FOLLOW_UP.values() for id_ in f},
    **{id_: {"source", "src_name", "tgt_name"} for id_ in T.NATIVE_TRANSLATION},
    **{id_: set() for f in T.TEACHER_FOLLOW_UP.values() for id_ in f},
    **{id_: {"instruction", "tgt_name"} for id_ in T.ANSWER_IN},
    **{id_: {"source", "tgt_name"} for id_ in T.TEACHER_PROMPTS},
}


@pytest.mark.parametrize("template_id", sorted(T.ALL))
def test_placeholders_fit_the_kind(template_id):
    found = T.ALL[template_id].placeholders
    assert REQUIRED[template_id] <= found <= ALLOWED[template_id]


@pytest.mark.parametrize(
    "template_id", sorted(t.id for t in T.ALL.values() if t.language in T.INSTRUCTION_LANGUAGES)
)
def test_names_are_rendered_in_the_instruction_language(template_id):
    template = T.ALL[template_id]
    values = {"source": "Hallo", "term": "Begriff", "instruction": "Hallo"}
    text = T.render(template, src="deu_Latn", tgt="zho_Hant", **values)
    name = chinese_name if template.language == T.CHINESE else english_name
    if "src_name" in template.placeholders:
        assert name("deu_Latn") in text
    if "tgt_name" in template.placeholders:
        assert name("zho_Hant") in text
    if template.language == T.CHINESE:
        assert CJK.search(template.text)
        assert "German" not in text and "Chinese" not in text
    else:
        assert template.text.isascii() and not CJK.search(text)


def test_unknown_id_lists_the_known_ones():
    with pytest.raises(KeyError, match="bayling-en.*alma-en"):
        T.render_translation_prompt("nope", "eng_Latn", "deu_Latn", "x")
    # a follow-up is not a translation template
    with pytest.raises(KeyError, match="unknown translation template 'use-term-en-1'"):
        T.render_translation_prompt("use-term-en-1", "eng_Latn", "deu_Latn", "x")
    with pytest.raises(KeyError, match="cross-meaning-zh"):
        T.get_template("missing")
    assert T.get_template("use-term-zh-1").language == T.CHINESE


def test_missing_value_and_unknown_language_are_errors():
    with pytest.raises(ValueError, match=r"use-term-en-1@v1 needs \['term'\]"):
        T.render(T.get_template("use-term-en-1"))
    with pytest.raises(ValueError, match="unknown language code"):
        T.render_translation_prompt("bayling-en", "eng_Latn", "xxx_Latn", "x")


def test_follow_up_templates_filters_by_language():
    chinese = T.follow_up_templates("back_translate", T.CHINESE)
    assert chinese and all(t.language == T.CHINESE for t in chinese)
    assert len(T.follow_up_templates("back_translate")) == len(T.FOLLOW_UP["back_translate"])
    with pytest.raises(KeyError, match="further_language"):
        T.follow_up_templates("rephrase")


@pytest.mark.parametrize(
    ("template_id", "src", "tgt", "expected"),
    [
        ("native-de-1", "eng_Latn", "deu_Latn", "Übersetze bitte von Englisch nach Deutsch:\nHi"),
        ("native-fr-1", "fra_Latn", "eng_Latn", "Traduis le texte suivant en anglais :\nHi"),
        (
            "native-es-1",
            "eng_Latn",
            "spa_Latn",
            "Traduce el siguiente texto del inglés al español:\nHi",
        ),
        ("native-ja-1", "jpn_Jpan", "eng_Latn", "次の日本語の文を英語に翻訳してください。\nHi"),
    ],
)
def test_native_templates_name_languages_in_their_own_language(template_id, src, tgt, expected):
    template = T.NATIVE_TRANSLATION[template_id]
    assert T.render(template, src=src, tgt=tgt, source="Hi") == expected


def test_native_names_cover_the_template_languages_and_refuse_unknown_ones():
    for template in T.NATIVE_TRANSLATION.values():
        assert template.language in T.NATIVE_NAMES
        assert T.can_name(template.language, template.language)
    assert not T.can_name("isl_Latn", "jpn_Jpan") or "isl_Latn" in T.NATIVE_NAMES["jpn_Jpan"]
    assert not T.can_name("swh_Latn", "deu_Latn")
    with pytest.raises(ValueError, match="no name for swh_Latn in deu_Latn"):
        T.render(T.NATIVE_TRANSLATION["native-de-1"], src="swh_Latn", tgt="deu_Latn", source="x")


def test_teacher_actions_have_both_instruction_languages_and_an_answer_language():
    assert set(T.TEACHER_ACTIONS) == set(T.TEACHER_ANSWER_LANGUAGE)
    assert not set(T.TEACHER_ACTIONS) & set(T.FOLLOW_UP_ACTIONS)
    for action, registry in T.TEACHER_FOLLOW_UP.items():
        assert {t.language for t in registry.values()} == set(T.INSTRUCTION_LANGUAGES), action
