"""Language codes, names and gettext locale mapping, read from ``data/languages.tsv``.

Every stage names a language by its Flores-200 code, ``<ISO 639-3>_<ISO 15924 script>``
(``deu_Latn``, ``zho_Hans``); a translation direction is ``src-tgt``
(``eng_Latn-deu_Latn``). Languages that Flores-200 lacks (Breton, Interlingua, Ido, Udmurt,
the Sorbian languages, ...) use the same shape: their ISO 639-3 code plus their script.

The table has one row per code: ``code``, ``locale`` (the Django/gettext locale the code
comes from, blank for rows added for WMT/Flores only), ``english_name`` (Flores-200's name,
shortened to the everyday one where Flores qualifies a macrolanguage member, e.g. "Arabic"
for arb_Arab, "Persian" for pes_Arab, "Oromo" for gaz_Latn, because the names go into
prompts), ``chinese_name``, ``bleu_tokenize`` (the sacreBLEU tokenizer BLEU into the
language needs: ``zh`` for Chinese and Cantonese, ``ja-mecab``, ``ko-mecab``, ``flores200``
(SentencePiece, i.e. spBLEU) for scripts written without spaces between words: Thai, Lao,
Khmer, Burmese, Shan, Tibetan, Dzongkha; ``13a`` otherwise) and ``flores`` (``101`` for a
Flores-101 language, ``200`` for the other Flores-200 ones, blank otherwise: the named
lists :data:`LANGUAGE_LISTS`). Every Flores-200 code is a row (204; Santali is ``sat_Olck``, its
script, although NLLB's models and the first Flores-200 tarball call it ``sat_Beng``:
facebookresearch/flores#52).

Quick look::

    python -c "from bayling_pipeline import languages as L; print(L.english_name('deu_Latn'))"
"""

from __future__ import annotations

import csv
import functools
import importlib.resources
import re
from dataclasses import dataclass

_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")
# A gettext locale: language, then an optional script (Latn, Hans) or region (DE, 419).
_LOCALE = re.compile(
    r"^(?P<lang>[a-z]{2,3})(?:_(?P<script>[A-Z][a-z]{3})|_(?P<region>[A-Z]{2}|\d{3}))?$"
)


# BLEU tokenizers of sacreBLEU 2.x that the table may name (not imported: parse time)
BLEU_TOKENIZERS = frozenset(
    {"13a", "char", "flores101", "flores200", "intl", "ja-mecab", "ko-mecab", "none", "zh"}
)
#: Named lists of codes, by the ``flores`` column: Flores-200 includes Flores-101.
LANGUAGE_LISTS = {"flores200": ("101", "200"), "flores101": ("101",)}


@dataclass(frozen=True)
class Language:
    code: str
    locale: str
    english_name: str
    chinese_name: str
    bleu_tokenize: str
    flores: str


@functools.cache
def _table() -> dict[str, Language]:
    """Load and validate the TSV once per process."""
    resource = importlib.resources.files("bayling_pipeline") / "data" / "languages.tsv"
    rows: dict[str, Language] = {}
    locales: set[str] = set()
    with resource.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.DictReader(handle, delimiter="\t"), start=2):
            language = Language(**{key: (value or "").strip() for key, value in row.items()})
            where = f"languages.tsv:{number}"
            if not _CODE.match(language.code):
                raise ValueError(f"{where}: malformed code {language.code!r}")
            if language.code in rows:
                raise ValueError(f"{where}: duplicate code {language.code}")
            if not language.english_name or not language.chinese_name:
                raise ValueError(f"{where}: {language.code} lacks a name")
            if language.bleu_tokenize not in BLEU_TOKENIZERS:
                raise ValueError(f"{where}: unknown BLEU tokenizer {language.bleu_tokenize!r}")
            if language.flores not in ("", "101", "200"):
                raise ValueError(f"{where}: flores is 101, 200 or blank, not {language.flores!r}")
            if language.locale:
                if language.locale in locales:
                    raise ValueError(f"{where}: duplicate locale {language.locale}")
                locales.add(language.locale)
            rows[language.code] = language
    return rows


@functools.cache
def _by_locale() -> dict[str, str]:
    return {lang.locale: lang.code for lang in _table().values() if lang.locale}


def _get(code: str) -> Language:
    try:
        return _table()[code]
    except KeyError:
        raise ValueError(
            f"unknown language code {code!r}; expected a Flores-200 style code such as "
            "'deu_Latn' (see bayling_pipeline/data/languages.tsv)"
        ) from None


def english_name(code: str) -> str:
    """English name of ``code``, e.g. ``"German"`` for ``deu_Latn``; ValueError if unknown."""
    return _get(code).english_name


def chinese_name(code: str) -> str:
    """Chinese name of ``code``, e.g. ``"德语"`` for ``deu_Latn``; ValueError if unknown."""
    return _get(code).chinese_name


def locale_of(code: str) -> str:
    """The gettext locale of ``code`` (``zh_Hans`` for ``zho_Hans``), "" when it has none."""
    return _get(code).locale


def bleu_tokenize(code: str) -> str:
    """The sacreBLEU tokenizer of BLEU into ``code`` (``zh`` for ``zho_Hans``, ``flores200``
    for ``tha_Thai``, ``13a`` for ``deu_Latn``); ValueError if unknown."""
    return _get(code).bleu_tokenize


def language_list(name: str) -> list[str]:
    """The codes of a named list (:data:`LANGUAGE_LISTS`: ``flores200``, ``flores101``), in
    table order; ValueError for another name."""
    if name not in LANGUAGE_LISTS:
        raise ValueError(f"unknown language list {name!r}; known: {', '.join(LANGUAGE_LISTS)}")
    return [code for code, row in _table().items() if row.flores in LANGUAGE_LISTS[name]]


def is_known(code: str) -> bool:
    """Whether ``code`` is a row of the table."""
    return code in _table()


def known_codes() -> list[str]:
    """Every known code, sorted."""
    return sorted(_table())


def parse_pair(pair: str) -> tuple[str, str]:
    """Split ``"eng_Latn-deu_Latn"`` into ``("eng_Latn", "deu_Latn")``.

    Raises ValueError for a malformed pair, an unknown code, or a pair whose two sides are
    the same language.
    """
    parts = pair.split("-")
    if len(parts) != 2 or not all(_CODE.match(part) for part in parts):
        raise ValueError(f"malformed language pair {pair!r}; expected e.g. 'eng_Latn-deu_Latn'")
    src, tgt = parts
    for code in parts:
        if not is_known(code):
            raise ValueError(f"language pair {pair!r}: unknown language code {code!r}")
    if src == tgt:
        raise ValueError(f"language pair {pair!r}: source and target are the same language")
    return src, tgt


def _normalize_locale(locale: str) -> str:
    """``zh-hans`` -> ``zh_Hans``, ``pt-br`` -> ``pt_BR``: gettext's own spelling."""
    parts = locale.strip().replace("-", "_").split("_")
    head, rest = parts[0].lower(), parts[1:]
    fixed = [part.title() if len(part) == 4 else part.upper() for part in rest]
    return "_".join([head, *fixed])


def is_regional_variant(locale: str) -> bool:
    """Whether ``locale`` is a region-specific form (``de_CH``, ``pt_BR``, ``es_419``) of a
    language the table knows under its bare locale (``de``, ``pt``, ``es``)."""
    match = _LOCALE.match(_normalize_locale(locale))
    return bool(match and match["region"] and match["lang"] in _by_locale())


def from_locale(locale: str) -> str | None:
    """Map a gettext/Django locale name to a code: ``"zh_Hans"`` -> ``"zho_Hans"``.

    Accepts gettext (``pt_BR``) and HTTP (``pt-br``) spellings. Returns None when the locale
    is unmapped, and also for a regional variant such as ``de_CH`` or ``pt_BR``: Flores-200
    codes carry a language and a script but no region, so the regional catalogs would
    collide with (and are mostly copies of) the base language's catalog, which is used
    instead. Script variants are distinct codes (``sr_Latn`` -> ``srp_Latn``).
    """
    return _by_locale().get(_normalize_locale(locale))
