"""Direction lists written as a generator: hubs x languages, expanded at parse time.

A test set's ``directions`` (and a synthesis family's, ``datasets.<name>.single_turn`` or
``interactive``) is a list of pairs, or a mapping that generates one::

    directions:
      hubs: [eng_Latn, zho_Hans]   # every direction has a hub on one side
      languages: flores200         # a named list (flores200, flores101) or a list of codes
      ways: both                   # both (the default), out_of_hubs or into_hubs
      exclude: [arb_Latn]          # codes left out of languages (default: none)

It expands hub by hub, language by language, into ``hub-language`` (out of the hubs) then
``language-hub`` (into them); a hub paired with itself is skipped and a pair met twice is
kept once (``eng_Latn-zho_Hans`` arises from both hubs above), so the example gives the
paper's 4 directions per language: 4 x 201 + 2 = 806 pairs (810 without the exclude).
The config check (:mod:`bayling_pipeline.workflow.validation`) expands every generator in
place, after the schema and before the cross-reference checks, so rules and checks see
plain lists; an unknown code is reported with its key
(``testsets.flores.directions.languages[3]``) and left out. By hand::

    python -c "from bayling_pipeline.workflow.directions import expand; \\
        print(len(expand({'hubs': ['eng_Latn'], 'languages': 'flores101'})))"
"""

from __future__ import annotations

from bayling_pipeline import languages

WAYS = ("both", "out_of_hubs", "into_hubs")
# the direction lists of a dataset that may be generators (datasets.<name>.<family>.directions)
DATASET_FAMILIES = ("single_turn", "interactive")


def is_generator(value) -> bool:
    """Whether a ``directions`` value is a generator (a mapping), not a list of pairs."""
    return isinstance(value, dict)


def generator_languages(spec: dict) -> list[str]:
    """The generator's languages: its named list or its codes, without ``exclude``."""
    chosen = spec["languages"]
    codes = languages.language_list(chosen) if isinstance(chosen, str) else list(chosen)
    excluded = set(spec.get("exclude") or ())
    return [code for code in codes if code not in excluded]


def expand(spec: dict) -> list[str]:
    """The directions a generator stands for, in a stable order (see the module docstring)."""
    ways = spec.get("ways", "both")
    if ways not in WAYS:
        raise ValueError(f"ways: {ways!r} is not one of {', '.join(WAYS)}")
    pairs: dict[str, None] = {}
    for hub in spec["hubs"]:
        for code in generator_languages(spec):
            if code == hub:
                continue
            if ways != "into_hubs":
                pairs[f"{hub}-{code}"] = None
            if ways != "out_of_hubs":
                pairs[f"{code}-{hub}"] = None
    return list(pairs)


def generator_errors(where: str, spec: dict) -> list[str]:
    """Codes of a generator the language table lacks, each with its key path; an exclude
    that names no language of the list (a misspelling would silently keep it)."""
    from bayling_pipeline.workflow.checks import did_you_mean

    errors = []
    known = languages.known_codes()
    lists = {"hubs": spec["hubs"], "exclude": spec.get("exclude") or []}
    if not isinstance(spec["languages"], str):
        lists["languages"] = spec["languages"]
    for key, codes in lists.items():
        for index, code in enumerate(codes):
            if not languages.is_known(code):
                errors.append(
                    f"{where}.{key}[{index}]: unknown language {code!r} (see "
                    f"bayling_pipeline/data/languages.tsv){did_you_mean(code, known)}"
                )
    listed = set(generator_languages({**spec, "exclude": []}))
    for index, code in enumerate(lists["exclude"]):
        if languages.is_known(code) and code not in listed:
            errors.append(f"{where}.exclude[{index}]: {code!r} is not one of the languages")
    return errors


def _known_only(spec: dict) -> dict:
    """The generator without its unknown codes (reported apart), so that it still expands."""
    kept = dict(spec)
    for key in ("hubs", "exclude"):
        kept[key] = [c for c in spec.get(key) or [] if languages.is_known(c)]
    if not isinstance(spec["languages"], str):
        kept["languages"] = [c for c in spec["languages"] if languages.is_known(c)]
    return kept


def _expand_at(where: str, parent: dict, errors: list[str], required: bool) -> None:
    spec = parent.get("directions")
    if not is_generator(spec):
        return
    try:
        errors += generator_errors(f"{where}.directions", spec)
        parent["directions"] = expand(_known_only(spec))
    except (KeyError, TypeError, ValueError):
        # a generator the schema refused (it said why): no directions, nothing more to say
        parent["directions"] = []
        return
    if required and not parent["directions"] and not errors:
        errors.append(f"{where}.directions: the generator gives no direction")


def expand_config(config: dict) -> list[str]:
    """Replace every direction generator of a schema-checked ``config`` by its list, in
    place; return the problems found (unknown codes, a generator that gives nothing)."""
    errors: list[str] = []
    for name, testset in (config.get("testsets") or {}).items():
        if isinstance(testset, dict):
            _expand_at(f"testsets.{name}", testset, errors, required=True)
    for name, dataset in (config.get("datasets") or {}).items():
        for family in DATASET_FAMILIES:
            section = dataset.get(family) if isinstance(dataset, dict) else None
            if isinstance(section, dict):
                _expand_at(f"datasets.{name}.{family}", section, errors, required=False)
    return errors
