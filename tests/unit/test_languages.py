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


# The 204 codes of FLORES-200 (its README's table: NLLB's 202 language codes, with Santali as
# sat_Olck, plus arb_Latn and min_Arab), written out here so the table is checked against them.
FLORES200 = """
    ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn als_Latn
    amh_Ethi apc_Arab arb_Arab arb_Latn ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn
    awa_Deva ayr_Latn azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn
    ben_Beng bho_Deva bjn_Arab bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn
    ceb_Latn ces_Latn cjk_Latn ckb_Arab crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn
    dyu_Latn dzo_Tibt ell_Grek eng_Latn epo_Latn est_Latn eus_Latn ewe_Latn fao_Latn
    fij_Latn fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gaz_Latn gla_Latn gle_Latn
    glg_Latn grn_Latn guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn
    hun_Latn hye_Armn ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn jpn_Jpan
    kab_Latn kac_Latn kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor kaz_Cyrl kbp_Latn
    kea_Latn khk_Cyrl khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kmr_Latn knc_Arab
    knc_Latn kon_Latn kor_Hang lao_Laoo lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn
    ltg_Latn ltz_Latn lua_Latn lug_Latn luo_Latn lus_Latn lvs_Latn mag_Deva mai_Deva
    mal_Mlym mar_Deva min_Arab min_Latn mkd_Cyrl mlt_Latn mni_Beng mos_Latn mri_Latn
    mya_Mymr nld_Latn nno_Latn nob_Latn npi_Deva nso_Latn nus_Latn nya_Latn oci_Latn
    ory_Orya pag_Latn pan_Guru pap_Latn pbt_Arab pes_Arab plt_Latn pol_Latn por_Latn
    prs_Arab quy_Latn ron_Latn run_Latn rus_Cyrl sag_Latn san_Deva sat_Olck scn_Latn
    shn_Mymr sin_Sinh slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab som_Latn sot_Latn
    spa_Latn srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn tam_Taml
    taq_Latn taq_Tfng tat_Cyrl tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi tpi_Latn
    tsn_Latn tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl
    umb_Latn urd_Arab uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr
    yor_Latn yue_Hant zho_Hans zho_Hant zsm_Latn zul_Latn""".split()
# Flores-101's languages under their Flores-200 codes (ful -> fuv_Latn, msa -> zsm_Latn, ...)
FLORES101_ADDED_LATE = ["fuv_Latn", "kea_Latn", "kam_Latn", "lin_Latn", "luo_Latn"]
FLORES101_ADDED_LATE += ["nso_Latn", "nya_Latn", "gaz_Latn", "sna_Latn", "umb_Latn"]


def test_every_flores200_code_is_known_and_pairs_with_english_and_chinese():
    assert len(FLORES200) == len(set(FLORES200)) == 204
    assert sorted(L.language_list("flores200")) == sorted(FLORES200)
    for code in FLORES200:
        assert L.english_name(code) and L.chinese_name(code)
        for hub in ("eng_Latn", "zho_Hans"):
            if code != hub:
                assert L.parse_pair(f"{code}-{hub}") == (code, hub)
                assert L.parse_pair(f"{hub}-{code}") == (hub, code)


def test_flores101_is_a_named_list_inside_flores200():
    flores101 = L.language_list("flores101")
    assert len(flores101) == 102  # 101 languages, Chinese in both scripts
    assert set(flores101) <= set(FLORES200)
    assert set(FLORES101_ADDED_LATE) <= set(flores101)
    with pytest.raises(ValueError, match="known: flores200, flores101"):
        L.language_list("flores300")


@pytest.mark.parametrize(
    ("code", "english", "chinese", "tokenizer"),
    [
        ("zho_Hans", "Chinese (Simplified)", "简体中文", "zh"),
        ("yue_Hant", "Cantonese", "粤语", "zh"),
        ("jpn_Jpan", "Japanese", "日语", "ja-mecab"),
        ("kor_Hang", "Korean", "韩语", "ko-mecab"),
        ("tha_Thai", "Thai", "泰语", "flores200"),
        ("khm_Khmr", "Khmer", "高棉语", "flores200"),
        ("lao_Laoo", "Lao", "老挝语", "flores200"),
        ("mya_Mymr", "Burmese", "缅甸语", "flores200"),
        ("bod_Tibt", "Tibetan", "藏语", "flores200"),
        ("dzo_Tibt", "Dzongkha", "宗卡语", "flores200"),
        ("isl_Latn", "Icelandic", "冰岛语", "13a"),
        ("swh_Latn", "Swahili", "斯瓦希里语", "13a"),
        ("gaz_Latn", "Oromo", "奥罗莫语", "13a"),
        ("sat_Olck", "Santali", "桑塔利语", "13a"),
        ("ace_Arab", "Acehnese (Arabic script)", "亚齐语（阿拉伯字母）", "13a"),
        ("bre_Latn", "Breton", "布列塔尼语", "13a"),  # not in Flores: a Django language
    ],
)
def test_names_and_bleu_tokenizers(code, english, chinese, tokenizer):
    assert (L.english_name(code), L.chinese_name(code)) == (english, chinese)
    assert L.bleu_tokenize(code) == tokenizer


def test_only_spaceless_scripts_and_cjk_leave_13a():
    special = {code for code in L.known_codes() if L.bleu_tokenize(code) != "13a"}
    scripts = {code.split("_")[1] for code in special}
    assert scripts == {"Hans", "Hant", "Jpan", "Hang", "Thai", "Khmr", "Laoo", "Mymr", "Tibt"}
