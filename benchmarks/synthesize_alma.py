"""Synthesis throughput and memory on ALMA's 30k human-written de-en/zh-en pairs.

    .venv/bin/python benchmarks/synthesize_alma.py            # ../shared/data beside the repo
    .venv/bin/python benchmarks/synthesize_alma.py --per-pair 3 --scales 1 10 --repeats 3

Each run is a fresh single-threaded process doing plan + one shard + merge on the corpus
(``--scales``: the corpus repeated N times as new records, so the larger input has the
same content and the same targets: the repeats are found as duplicates). It reports
template-based instructions per second per core: examples written / CPU seconds of the
whole run, so other load on the machine does not count (wall time is printed too), the
median of ``--repeats`` runs.
Hygiene is included: language identification, the n-gram contamination index of all
WMT22 test sets, MinHash near-duplicates. Peak RSS per run. The baseline, measured in the
same run, streams the same corpus through JSON parse and dump without synthesis. The last
line gives instructions/s/core and the ratio of peak memory at the largest scale to the
smallest (1.0 = flat).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CODES = {"de": "deu_Latn", "zh": "zho_Hans", "en": "eng_Latn"}


def build_corpus(path: Path, scale: int) -> int:
    """ALMA's de-en and zh-en pairs as multi-way records, repeated ``scale`` times."""
    pairs = []
    for src in ("de", "zh"):
        folder = SHARED / "alma" / "human_written_data" / f"{src}en"
        with (
            open(folder / f"train.{src}-en.{src}", encoding="utf-8") as a,
            open(folder / f"train.{src}-en.en", encoding="utf-8") as b,
        ):
            for index, (left, right) in enumerate(zip(a, b, strict=True)):
                texts = {CODES[src]: left.strip(), "eng_Latn": right.strip()}
                pairs.append((f"{src}en-{index:05d}", texts))
    with open(path, "w", encoding="utf-8") as handle:
        for repeat in range(scale):  # the same texts again, as new records
            for record_id, texts in pairs:
                record = {"id": f"{record_id}-r{repeat}", "texts": texts}
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(pairs) * scale


def recipe(pairs: int, per_pair: int) -> dict:
    return {
        "seed": 1,
        "examples": pairs * per_pair,
        "dev_examples": 0,
        "mix": {"single_turn": 3, "interactive": 1, "cross_lingual": 1},
        "single_turn": {
            "directions": ["deu_Latn-eng_Latn", "eng_Latn-deu_Latn", "zho_Hans-eng_Latn",
                           "eng_Latn-zho_Hans"],
        },
        "interactive": {"directions": ["eng_Latn-deu_Latn", "eng_Latn-zho_Hans"]},
        "max_reuse": 10,
    }  # fmt: skip


def child(args) -> None:
    """One measured run (a fresh process, so peak RSS is this run's)."""
    sys.path.insert(0, str(ROOT / "workflow_scripts"))
    from bayling_pipeline.synthesize.cli import synthesize_dataset
    from bayling_pipeline.synthesize.shard_hygiene import read_forbidden

    work = Path(args.work)
    corpus = work / "corpus.jsonl"
    dev = work / "dev.jsonl"
    dev.write_text("", encoding="utf-8")
    wmt = SHARED / "wmt22" / "txt"
    tests = [*wmt.glob("sources/generaltest2022.*"), *wmt.glob("references/generaltest2022.*")]
    forbidden = read_forbidden(sorted(map(str, tests)))
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = before.ru_utime + before.ru_stime
    started = time.perf_counter()
    if args.baseline:
        count = 0
        with open(corpus, encoding="utf-8") as handle, open(os.devnull, "w") as sink:
            for line in handle:
                sink.write(json.dumps(json.loads(line), ensure_ascii=False) + "\n")
                count += 1
    else:
        out = [work / f"out.{name}" for name in ("train.jsonl", "dev.jsonl", "stats.json", "md")]
        stats = synthesize_dataset(
            str(corpus), str(dev), json.loads(args.recipe), "alma", forbidden, work / "w", *out
        )
        count = stats["train"]["examples"]
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    print(
        json.dumps(
            {"items": count, "seconds": seconds, "cpu": cpu, "peak_mb": usage.ru_maxrss / 1024}
        )
    )


def measure(work: Path, scale: int, pairs: int, per_pair: int, baseline: bool) -> dict:
    command = [sys.executable, __file__, "--child", "--work", str(work)]
    command += ["--recipe", json.dumps(recipe(pairs, per_pair))]
    command += ["--baseline"] if baseline else []
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def median_run(repeats: int, *args) -> dict:
    """The run of median CPU time out of ``repeats`` (other tenants of a shared machine
    slow single runs down by 10-20%, even per CPU-second)."""
    runs = sorted((measure(*args) for _ in range(repeats)), key=lambda run: run["cpu"])
    return runs[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-pair", type=int, default=3, help="instructions per input pair")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--repeats", type=int, default=3, help="runs per scale (median kept)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--recipe", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    if not (SHARED / "alma").is_dir():
        sys.exit(f"benchmark needs {SHARED}/alma (the shared data folder beside the repo)")
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for scale in args.scales:
            work = Path(tmp) / f"x{scale}"
            work.mkdir()
            records = build_corpus(work / "corpus.jsonl", scale)
            pairs = records // scale
            base = median_run(args.repeats, work, scale, pairs, args.per_pair, True)
            run = median_run(args.repeats, work, scale, pairs, args.per_pair, False)
            rows[scale] = run
            print(
                f"x{scale}: {records} input records -> {run['items']} instructions in"
                f" {run['seconds']:.1f} s wall, {run['cpu']:.1f} s CPU ="
                f" {run['items'] / run['cpu']:,.0f} instr per CPU-second (one core),"
                f" peak {run['peak_mb']:.0f} MB | baseline JSON pass-through"
                f" {base['items'] / base['cpu']:,.0f} records per CPU-second,"
                f" peak {base['peak_mb']:.0f} MB"
            )
    small, large = rows[min(rows)], rows[max(rows)]
    rate = small["items"] / small["cpu"]
    print(
        f"instructions/s/core {rate:,.0f} (x{min(rows)}, per CPU-second of the single-threaded"
        f" run); peak memory x{max(rows)}/x{min(rows)}: {large['peak_mb'] / small['peak_mb']:.2f}"
    )


if __name__ == "__main__":
    main()
