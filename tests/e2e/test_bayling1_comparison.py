"""presets/bayling1-comparison.yaml through Snakemake, its downloads served by a loopback
mirror of ../shared/data: every published system's BLEU and chrF equal sacreBLEU's own API
on the same files, and the report is in the paper's layout.

Two of the paper's 14 directions (one into English, one into Chinese, the tokenizers that
differ) keep the run short; the acceptance run of the whole preset is in docs/bayling1.md.
"""

from __future__ import annotations

import conftest
import pandas as pd
import pytest
import sacrebleu
import yaml
from conftest import ROOT, SHARED_DATA, run_snakemake
from fileserver import FaultServer

from bayling_pipeline.io import read_json

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (SHARED_DATA / "bayling").is_dir(), reason="needs ../shared/data"),
]
PRESET = ROOT / "presets" / "bayling1-comparison.yaml"
DIRECTIONS = {"zho_Hans-eng_Latn": ("zh", "en"), "eng_Latn-zho_Hans": ("en", "zh")}


def _online_env(workflow_env=conftest.workflow_env):
    return {k: v for k, v in workflow_env().items() if k != "HF_HUB_OFFLINE"}


def _lines(path):
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


@pytest.fixture(scope="module")
def comparison_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("bayling1-comparison")
    config = yaml.safe_load(PRESET.read_text())
    config["testsets"]["wmt22"]["directions"] = list(DIRECTIONS)
    for spec in config["download"]["published"].values():
        spec["directions"] = [pair for pair in DIRECTIONS if pair in spec["sha256"]]
    config["report"]["groups"] = {"WMT22 main directions": list(DIRECTIONS)}
    config["scoring"]["comet"] = None
    config["scoring"]["significance"]["resamples"] = 100
    with FaultServer(SHARED_DATA) as server:
        config["download"]["mirrors"] = {
            "https://raw.githubusercontent.com/ictnlp/BayLing/main/": f"{server.url}bayling/",
            "https://raw.githubusercontent.com/wmt-conference/wmt22-news-systems/main/txt/": (
                f"{server.url}wmt22/txt/"
            ),
            "https://raw.githubusercontent.com/microsoft/AGIEval/3680910/data/v1/": (
                f"{server.url}agieval/data/v1/"
            ),
        }
        configfile = workdir / "config.yaml"
        configfile.write_text(yaml.safe_dump(config, allow_unicode=True))
        # as on a cluster: the download stage where the network is (HF_HUB_OFFLINE unset),
        # then everything else offline
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(conftest, "workflow_env", _online_env)
            run_snakemake(workdir, configfile, "download")
    run_snakemake(workdir, configfile)
    return workdir, config


def test_every_published_file_scores_as_sacrebleu_does(comparison_run):
    workdir, config = comparison_run
    checked = 0
    for system, spec in config["download"]["published"].items():
        url = spec["url"]
        for pair, (src, tgt) in DIRECTIONS.items():
            if pair not in spec["sha256"]:
                continue
            # the file as BayLing released it, and the reference as WMT released it
            name = url.rsplit("/", 2)[-2] + "/" + url.rsplit("/", 1)[-1].format(src=src, tgt=tgt)
            hypotheses = _lines(SHARED_DATA / "bayling/exp/translation_benchmark" / name)
            reference = _lines(
                SHARED_DATA / f"wmt22/txt/references/generaltest2022.{src}-{tgt}.ref.A.{tgt}"
            )
            # sacreBLEU's defaults, as WMT scores: zh for Chinese, 13a for English
            tokenize = "zh" if tgt == "zh" else "13a"
            expected = {
                "bleu": sacrebleu.corpus_bleu(hypotheses, [reference], tokenize=tokenize).score,
                "chrf": sacrebleu.corpus_chrf(hypotheses, [reference]).score,
            }
            for metric, value in expected.items():
                record = read_json(workdir / f"results/score/{system}/wmt22/{pair}/{metric}.json")
                assert record["score"] == pytest.approx(value, abs=1e-9), (system, pair, metric)
                assert record["system"] == config["published"][system]["label"]
                checked += 1
    assert checked == 2 * 2 * 16  # 11 systems and 5 Chinese-instruction variants


def test_report_in_the_paper_layout(comparison_run):
    workdir, config = comparison_run
    scores = pd.read_csv(workdir / "results/report/scores.tsv", sep="\t")
    assert set(scores["system"]) == {spec["label"] for spec in config["published"].values()}
    assert (scores["kind"] == "published").all()
    text = (workdir / "results/report/scores.md").read_text()
    assert "### wmt22: WMT22 main directions" in text
    assert "### wmt22: share of GPT-4's score (%)" in text
    shares = text.split("### wmt22: share of GPT-4's score (%)", 1)[1]
    share = next(line for line in shares.splitlines() if line.startswith("| GPT-4 | "))
    assert share.split("|")[2].strip() == "100.0"
    # significance against BayLing-13B, the paper's system, not a demo model
    assert set(scores["baseline"].dropna()) == {"BayLing-13B"}


def test_constrained_and_judged_tables_come_with_it(comparison_run):
    workdir, config = comparison_run
    constrained = (workdir / "results/report/constrained.md").read_text()
    for spec in config["constrained"]["published"].values():
        assert f"| {spec['label']} |" in constrained
    judged = pd.read_csv(workdir / "results/report/judging.tsv", sep="\t")
    assert set(judged["opponent"]) == {p["opponent"] for p in config["judging"]["pairings"]}
    # the counts printed on BayLing's battle charts (assets/battle*.png), GPT-3.5-turbo's bars
    table = (workdir / "results/report/judging.md").read_text()
    assert "| BayLing-13B vs GPT-3.5-turbo | 31 / 8 / 41 | 26 / 12 / 42 | 32 / 11 / 37 |" in table


def test_agieval_tables_as_printed_come_with_it(comparison_run):
    workdir, config = comparison_run
    markdown = (workdir / "results/report/knowledge.md").read_text(encoding="utf-8")
    assert "## AGIEval as BayLing 1 prints it" in markdown
    for spec in config["knowledge"]["published"].values():
        assert markdown.count(f"| {spec['label']} | ") == 3  # its suite table, both paper tables
