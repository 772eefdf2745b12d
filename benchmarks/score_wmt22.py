"""Score every official WMT22 submission (144 outputs, 14 directions) through the workflow:
the outputs as published systems, the test set fetched from a loopback mirror of
../shared/data/wmt22, BLEU and chrF against all references, paired bootstrap (1000
resamples) of every system against Online-B; then add one system and run again.

    .venv/bin/python benchmarks/score_wmt22.py [--workdir /tmp/wmt22-bench] [--cores 2]

Prints the wall time and job counts of both runs, how many of WMT22's bleu-all/chrf-all
rows the workflow's scores.tsv reproduces (within 0.01), and, as its last line, the ratios
(second run / first run) of wall time and jobs: Snakemake redoes only the new system's
decode_published and scoring, that direction's bootstrap, and the report.
"""

from __future__ import annotations

import argparse
import collections
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow_scripts"))

from bayling_pipeline.score.regenerate import FLORES, hypothesis_path, wmt22_rows  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "wmt22"
UPSTREAM = "https://raw.githubusercontent.com/wmt-conference/wmt22-news-systems/main/txt/"
LATE = ("en-de", "Online-W")  # the system added for the second run


def serve(folder: Path) -> str:
    """Serve ``folder`` on 127.0.0.1 (a thread); return its URL."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/"


def key(name: str) -> str:
    """A WMT system name as a config key (lowercase, path-safe)."""
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9._-]", "-", name.lower())).strip("-._")


def config(mirror: str, outputs: dict[str, set[str]]) -> dict:
    preset = yaml.safe_load((ROOT / "presets" / "bayling-wmt22.yaml").read_text())
    wmt22 = preset["testsets"]["wmt22"]
    published = {}
    for name, pairs in sorted(outputs.items()):
        published[key(name)] = {
            "testset": "wmt22",
            "label": name,
            "path": str(
                DATA
                / "txt"
                / "system-outputs"
                / f"generaltest2022.{{src2}}-{{tgt2}}.hyp.{name}.{{tgt2}}"
            ),
            "directions": sorted(f"{FLORES[p[:2]]}-{FLORES[p[3:]]}" for p in pairs),
        }
    return {
        "corpora": preset["corpora"],
        "testsets": {"wmt22": wmt22},
        "models": preset["models"],
        "datasets": {},
        "finetune": {},
        "published": published,
        "evaluation": {"systems": sorted(published), "testsets": ["wmt22"]},
        "scoring": {
            "metrics": ["bleu", "chrf"],
            "references": "all",
            "bleu_tokenize": {"jpn_Jpan": "char"},  # WMT22's convention
            "significance": {"baseline": "online-b", "resamples": 1000},
        },
        "download": {"mirrors": {UPSTREAM: mirror}, "lock": None},
    }


def snakemake(workdir: Path, configfile: Path, cores: int) -> tuple[float, dict[str, int]]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    command = [sys.executable, "-m", "snakemake", "score", "report"]
    command += ["--snakefile", str(ROOT / "Snakefile")]
    command += ["--directory", str(workdir), "--configfile", str(configfile)]
    command += ["--cores", str(cores), "--quiet", "rules"]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake failed:\n{result.stderr[-4000:]}")
    counts = {}
    for line in result.stdout.splitlines() + result.stderr.splitlines():
        match = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if match and match.group(1) not in ("total", "count"):
            counts[match.group(1)] = int(match.group(2))
    return seconds, counts


def matched(workdir: Path) -> tuple[int, int]:
    """WMT22 bleu-all/chrf-all rows the workflow's scores.tsv reproduces within 0.01."""
    import pandas as pd

    scores = pd.read_csv(workdir / "results/report/scores.tsv", sep="\t")
    ours = {(row.system, row.pair, row.metric): row.score for row in scores.itertuples(index=False)}
    rows = [r for r in wmt22_rows(DATA) if r.reference == "all"]
    good = 0
    for row in rows:
        pair = f"{FLORES[row.pair[:2]]}-{FLORES[row.pair[3:]]}"
        value = ours.get((key(row.system), pair, row.metric))
        good += value is not None and abs(value - row.score) <= 0.01 + 5e-5  # TSV: 4 decimals
    return good, len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/wmt22-bench"))
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent")
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    mirror = serve(DATA / "txt")
    outputs = collections.defaultdict(set)
    for row in wmt22_rows(DATA):
        assert hypothesis_path(DATA, row.pair, row.system).is_file(), row
        outputs[row.system].add(row.pair)
    total = sum(len(pairs) for pairs in outputs.values())
    first = {name: set(pairs) for name, pairs in outputs.items()}
    first[LATE[1]].discard(LATE[0])
    configfile = args.workdir / "config.yaml"
    configfile.write_text(yaml.safe_dump(config(mirror, first)))
    one, jobs_one = snakemake(args.workdir, configfile, args.cores)
    print(f"run 1: {total - 1} outputs, {one:.1f} s, jobs {jobs_one}")
    configfile.write_text(yaml.safe_dump(config(mirror, outputs)))
    two, jobs_two = snakemake(args.workdir, configfile, args.cores)
    print(f"run 2: + {LATE[1]} {LATE[0]} ({total} outputs), {two:.1f} s, jobs {jobs_two}")
    good, rows = matched(args.workdir)
    print(f"WMT22 bleu-all/chrf-all rows reproduced by the workflow: {good}/{rows}")
    n_one, n_two = sum(jobs_one.values()), sum(jobs_two.values())
    print(f"ratios run2/run1: wall {two / one:.3f}, jobs {n_two}/{n_one} = {n_two / n_one:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
