"""The constrained-translation table: long TSV with provenance, Markdown and LaTeX in the
paper's shape (systems x (direction x metric), one block per instruction language).

.venv/bin/python -m pytest tests/unit/constrained/test_constrained_tables.py -q
"""

from __future__ import annotations

import csv

from bayling_pipeline.constrained.metrics import score_file
from bayling_pipeline.constrained.tables import direction_label, latex_escape, write_tables
from bayling_pipeline.io import write_jsonl

SET = {
    "zho_Hans-eng_Latn": [
        {"src": "是否有途径处罚他", "tgt": "Is there a way to punish him?", "constraint": ["Is"]},
        {"src": "暂时没有，谢谢", "tgt": "We don't have it, thank you.", "constraint": ["We"]},
    ],
    "eng_Latn-zho_Hans": [
        {"src": "Thanks.", "tgt": "谢谢。", "constraint": ["谢谢"]},
        {"src": "Sorry.", "tgt": "很抱歉。", "constraint": ["抱歉"]},
    ],
}
# (system, label, kind, instruction) -> hypotheses per direction
SYSTEMS = {
    ("smollm2", "smollm2", "base", "eng_Latn"): (["is there", "We don't"], ["谢谢。", "对不起"]),
    ("gpt", "GPT-3.5_turbo & co", "published", "eng_Latn"): (
        ["Is there a way to punish him?", "We don't have it, thank you."],
        ["谢谢。", "很抱歉。"],
    ),
    ("bayling", "BayLing-7B", "published", "zho_Hans"): (["Is it", "no"], ["谢谢", "抱歉"]),
}


def scored(tmp_path) -> list:
    paths = []
    for pair, records in SET.items():
        write_jsonl(tmp_path / f"{pair}.jsonl", records)
    for (system, label, kind, instruction), hypotheses in SYSTEMS.items():
        for (pair, records), hyps in zip(SET.items(), hypotheses, strict=True):
            outputs = tmp_path / f"{system}.{instruction}.{pair}.jsonl"
            write_jsonl(outputs, [{**r, "hypo": h} for r, h in zip(records, hyps, strict=True)])
            path = tmp_path / f"{system}.{instruction}.{pair}.json"
            score_file(
                outputs, tmp_path / f"{pair}.jsonl", pair, path, system=system, label=label,
                kind=kind, set="bayling", instruction=instruction, template="t@v1",
                decoding={"num_beams": 5}, source={"url": "https://example.org/x"},
            )  # fmt: skip
            paths.append(path)
    return paths


def test_tables(tmp_path):
    paths = scored(tmp_path)
    out = {ext: tmp_path / f"constrained.{ext}" for ext in ("tsv", "md", "tex")}
    # the published systems' files first: a base model's rows still come first
    paths = sorted(paths, key=lambda path: path.name.startswith("smollm2"))
    rows = write_tables(paths, out["tsv"], out["md"], out["tex"])
    assert len(rows) == 3 * 2 * 3  # systems x directions x metrics
    with open(out["tsv"], encoding="utf-8") as handle:
        table = list(csv.DictReader(handle, delimiter="\t"))
    assert table[0].keys() >= {"system", "label", "kind", "metric", "score", "signature"}
    assert {r["template"] for r in table} == {"t@v1"} and table[0]["decoding"] == '{"num_beams":5}'
    hit = [r for r in table if r["system"] == "gpt" and r["metric"] == "term_hit_rate"]
    assert [r["score"] for r in hit] == ["100.0000", "100.0000"]
    assert [r["system"] for r in table[:6]] == ["smollm2"] * 6

    markdown = out["md"].read_text(encoding="utf-8")
    english, chinese = markdown.split("## bayling: instruction in ")[1:]
    assert english.startswith("English\n")
    assert "| System | Zh→En BLEU | Zh→En Hit | Zh→En All | En→Zh BLEU |" in english
    assert "| smollm2 | " in english and "BayLing-7B" not in english
    assert "| GPT-3.5_turbo & co | **100.00** | **100.00** | **100.00** |" in english
    assert "| smollm2 | 0.00 | 50.00 | 50.00 |" in english
    assert chinese.startswith("Chinese (Simplified)\n") and "| BayLing-7B | " in chinese
    assert "`nrefs:1|case:mixed|eff:no|tok:zh|" in markdown

    latex = out["tex"].read_text(encoding="utf-8")
    assert latex.count(r"\begin{tabular}{lrrrrrr}") == 2
    assert r"GPT-3.5\_turbo \& co & \textbf{100.00}" in latex
    assert r"\multicolumn{3}{c}{Zh$\to$En}" in latex


def test_labels():
    assert direction_label("eng_Latn-zho_Hans") == "En→Zh"
    assert latex_escape("a_b & 50% #1 {x}") == r"a\_b \& 50\% \#1 \{x\}"
