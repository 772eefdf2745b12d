"""Direction generators (hubs x languages) and Flores-200 codes through the config check.

    .venv/bin/python -m pytest -q tests/workflow/test_directions.py

The generator is expanded by the same validation the Snakefile calls
(bayling_pipeline.workflow.validation), so what these tests see is what the rules see.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from conftest import ROOT

from bayling_pipeline import languages
from bayling_pipeline.workflow.checks import ConfigError
from bayling_pipeline.workflow.directions import expand
from bayling_pipeline.workflow.validation import validate_config

TINY = yaml.safe_load((ROOT / "tests" / "configs" / "tiny.yaml").read_text())
FLORES = {"source": "flores200", "split": "devtest"}


def with_testset(directions, **extra) -> dict:
    """tests/configs/tiny.yaml plus a Flores-200 test set with these directions."""
    config = copy.deepcopy(TINY)
    config["testsets"]["flores"] = {"download": dict(FLORES), "directions": directions, **extra}
    return config


def refusal(config: dict) -> str:
    with pytest.raises(ConfigError) as error:
        validate_config(config, (), ROOT)
    return str(error.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"hubs": ["eng_Latn"], "languages": ["deu_Latn", "isl_Latn"]},
            ["eng_Latn-deu_Latn", "deu_Latn-eng_Latn", "eng_Latn-isl_Latn", "isl_Latn-eng_Latn"],
        ),
        (
            {"hubs": ["eng_Latn"], "languages": ["deu_Latn", "isl_Latn"], "ways": "out_of_hubs"},
            ["eng_Latn-deu_Latn", "eng_Latn-isl_Latn"],
        ),
        (
            {"hubs": ["eng_Latn"], "languages": ["deu_Latn", "isl_Latn"], "ways": "into_hubs"},
            ["deu_Latn-eng_Latn", "isl_Latn-eng_Latn"],
        ),
        (  # a hub among the languages is skipped with itself; eng-zho arises twice, kept once
            {"hubs": ["eng_Latn", "zho_Hans"], "languages": ["eng_Latn", "zho_Hans", "tha_Thai"]},
            [
                "eng_Latn-zho_Hans",
                "zho_Hans-eng_Latn",
                "eng_Latn-tha_Thai",
                "tha_Thai-eng_Latn",
                "zho_Hans-tha_Thai",
                "tha_Thai-zho_Hans",
            ],
        ),
        (
            {"hubs": ["eng_Latn"], "languages": ["deu_Latn", "isl_Latn"], "exclude": ["deu_Latn"]},
            ["eng_Latn-isl_Latn", "isl_Latn-eng_Latn"],
        ),
    ],
)
def test_expand(spec, expected):
    assert expand(spec) == expected


@pytest.mark.parametrize(
    ("spec", "count"),
    [
        ({"hubs": ["eng_Latn", "zho_Hans"], "languages": "flores200"}, 202 * 4 + 2),
        ({"hubs": ["eng_Latn"], "languages": "flores101", "ways": "out_of_hubs"}, 101),
        ({"hubs": ["eng_Latn"], "languages": "flores200", "exclude": ["arb_Latn"]}, 2 * 202),
    ],
)
def test_named_lists(spec, count):
    pairs = expand(spec)
    assert len(pairs) == len(set(pairs)) == count


def test_every_flores200_code_passes_the_config_check_written_out_and_generated():
    codes = languages.language_list("flores200")
    assert len(codes) == 204
    written = [
        f"{a}-{b}" for c in codes if c != "eng_Latn" for a, b in (("eng_Latn", c), (c, "eng_Latn"))
    ]
    config = with_testset(written)
    assert validate_config(config, (), ROOT) is not None
    generated = with_testset({"hubs": ["eng_Latn"], "languages": "flores200"})
    validate_config(generated, (), ROOT)
    assert generated["testsets"]["flores"]["directions"] == written


def test_the_config_holds_the_expanded_list_with_its_defaults():
    config = with_testset({"hubs": ["zho_Hans"], "languages": ["khm_Khmr", "lao_Laoo"]})
    config["datasets"]["tiny"]["single_turn"]["directions"] = {
        "hubs": ["eng_Latn"],
        "languages": ["deu_Latn", "zho_Hans"],
        "ways": "out_of_hubs",
    }
    validate_config(config, (), ROOT)
    assert config["testsets"]["flores"]["directions"] == [
        "zho_Hans-khm_Khmr",
        "khm_Khmr-zho_Hans",
        "zho_Hans-lao_Laoo",
        "lao_Laoo-zho_Hans",
    ]
    assert config["datasets"]["tiny"]["single_turn"]["directions"] == [
        "eng_Latn-deu_Latn",
        "eng_Latn-zho_Hans",
    ]


@pytest.mark.parametrize(
    ("directions", "messages"),
    [
        (
            {"hubs": ["eng_Latn", "zzz_Latn"], "languages": ["deu_Latn", "fra_Latm"]},
            [
                "testsets.flores.directions.hubs[1]: unknown language 'zzz_Latn'",
                "testsets.flores.directions.languages[1]: unknown language 'fra_Latm' (see "
                "bayling_pipeline/data/languages.tsv); did you mean 'fra_Latn'?",
            ],
        ),
        (
            {"hubs": ["eng_Latn"], "languages": ["deu_Latn"], "exclude": ["ita_Latn"]},
            ["testsets.flores.directions.exclude[0]: 'ita_Latn' is not one of the languages"],
        ),
        (
            {"hubs": ["eng_Latn"], "languages": ["eng_Latn"]},
            ["testsets.flores.directions: the generator gives no direction"],
        ),
        (
            {"hubs": ["eng_Latn"], "languages": "flores300"},
            [
                "testsets.flores.directions.languages: 'flores300' is not allowed here; "
                "expected one of flores200"
            ],
        ),
        (
            {"hubs": ["eng_Latn"], "languages": "flores200", "ways": "both_ways"},
            ["testsets.flores.directions.ways: 'both_ways' is not one of both, out_of_hubs"],
        ),
        (
            {"hubs": ["eng_Latn"], "language": "flores200"},
            [
                "testsets.flores.directions.language: unknown key; did you mean 'languages'?",
                "testsets.flores.directions: missing key languages",
            ],
        ),
    ],
)
def test_bad_generators_are_refused_with_their_key(directions, messages):
    report = refusal(with_testset(directions))
    for message in messages:
        assert message in report
    # one report, no echo of the generator's keys read as directions
    assert "unknown language 'hubs'" not in report
