"""Tests of bayling_pipeline.languages: the code table and the Django locale mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from bayling_pipeline import languages as L


@pytest.mark.parametrize(
    ("code", "english", "chinese"),
    [
        ("eng_Latn", "English", "英语"),
        ("deu_Latn", "German", "德语"),
        ("zho_Hans", "Chinese (Simplified)", "简体中文"),
        ("zho_Hant", "Chinese (Traditional)", "繁体中文"),
        ("jpn_Jpan", "Japanese", "日语"),
        ("kor_Hang", "Korean", "韩语"),
        ("fra_Latn", "French", "法语"),
        ("ces_Latn", "Czech", "捷克语"),
        ("rus_Cyrl", "Russian", "俄语"),
        ("ukr_Cyrl", "Ukrainian", "乌克兰语"),
        ("isl_Latn", "Icelandic", "冰岛语"),
        ("hau_Latn", "Hausa", "豪萨语"),
        ("nob_Latn", "Norwegian Bokmål", "书面挪威语"),
        ("srp_Latn", "Serbian (Latin)", "塞尔维亚语（拉丁字母）"),
    ],
)
def test_names(code, english, chinese):
    assert L.is_known(code)
    assert L.english_name(code) == english
    assert L.chinese_name(code) == chinese


@pytest.mark.parametrize(
    ("locale", "code"),
    [
        ("de", "deu_Latn"),
        ("en", "eng_Latn"),
        ("zh_Hans", "zho_Hans"),
        ("zh_Hant", "zho_Hant"),
        ("zh-hans", "zho_Hans"),  # HTTP spelling
        ("sr", "srp_Cyrl"),
        ("sr_Latn", "srp_Latn"),
        ("nb", "nob_Latn"),
        ("fa", "pes_Arab"),
        ("ms", "zsm_Latn"),
        ("ar", "arb_Arab"),
        ("sw", "swh_Latn"),
        ("et", "est_Latn"),
        ("lv", "lvs_Latn"),
        ("uz", "uzn_Latn"),
        ("ia", "ina_Latn"),
        ("io", "ido_Latn"),
        ("udm", "udm_Cyrl"),
        ("dsb", "dsb_Latn"),
        ("hsb", "hsb_Latn"),
        ("is", "isl_Latn"),
        # Regional variants are not separate codes.
        ("de_CH", None),
        ("en_GB", None),
        ("es_AR", None),
        ("es_MX", None),
        ("fr_CA", None),
        ("pt_BR", None),
        ("pt-br", None),
        ("ar_DZ", None),
        # Unmapped.
        ("xx", None),
        ("zh_CN", None),
    ],
)
def test_from_locale(locale, code):
    assert L.from_locale(locale) == code


@pytest.mark.parametrize(
    ("locale", "regional"),
    [("de_CH", True), ("es_419", True), ("pt-br", True), ("sr_Latn", False), ("de", False)],
)
def test_is_regional_variant(locale, regional):
    assert L.is_regional_variant(locale) is regional


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ("eng_Latn-deu_Latn", ("eng_Latn", "deu_Latn")),
        ("zho_Hans-eng_Latn", ("zho_Hans", "eng_Latn")),
    ],
)
def test_parse_pair(pair, expected):
    assert L.parse_pair(pair) == expected


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("eng_Latn_deu_Latn", "malformed"),
        ("en-de", "malformed"),
        ("eng_Latn-deu_Latn-fra_Latn", "malformed"),
        ("eng_Latn-xxx_Latn", "xxx_Latn"),
        ("eng_Latn-eng_Latn", "same language"),
    ],
)
def test_parse_pair_errors(pair, message):
    with pytest.raises(ValueError, match=message):
        L.parse_pair(pair)


def test_unknown_code_raises():
    assert not L.is_known("xxx_Latn")
    with pytest.raises(ValueError, match="xxx_Latn"):
        L.english_name("xxx_Latn")


def test_table_is_consistent():
    codes = L.known_codes()
    assert codes == sorted(set(codes))
    assert len(codes) >= 100
    english = [L.english_name(code) for code in codes]
    assert all(name.strip() for name in english)
    assert all(L.chinese_name(code).strip() for code in codes)
    assert len(set(english)) == len(english), "two codes share an English name"


def _django_locales() -> list[str]:
    django = pytest.importorskip("django")
    root = Path(django.__file__).parent
    found = {path.name for path in root.glob("**/locale/*") if path.is_dir()}
    return sorted(found - {"__pycache__"})


def test_every_django_locale_is_mapped_or_regional():
    locales = _django_locales()
    assert len(locales) > 90
    unmapped = [
        loc for loc in locales if L.from_locale(loc) is None and not L.is_regional_variant(loc)
    ]
    assert unmapped == []
    mapped = {L.from_locale(loc) for loc in locales} - {None}
    assert len(mapped) == len([loc for loc in locales if L.from_locale(loc)])  # injective
    assert len(mapped) >= 90
