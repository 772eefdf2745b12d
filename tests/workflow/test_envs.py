"""envs/*.yaml (for --software-deployment-method conda) parse and agree with the pip pins."""

import json
import os
import re
from pathlib import Path

import pytest
import yaml
from conftest import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)")


def pins(lines):
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def test_requirements_pin_every_package_exactly():
    lines = [
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(pins(lines)) == len(lines), "every requirement must be pinned with =="


ENV_FILES = sorted((ROOT / "envs").glob("*.yaml"))


@pytest.mark.parametrize("path", ENV_FILES, ids=lambda p: p.name)
def test_env_file_agrees_with_requirements(path):
    env = yaml.safe_load(path.read_text())
    assert "python=3.11" in env["dependencies"]
    pip_sections = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_sections, f"{path.name} has no pip section"
    env_pins = pins(pip_sections[0])
    assert env_pins, f"{path.name} pins nothing"
    required = pins((ROOT / "requirements.txt").read_text().splitlines())
    for name, version in env_pins.items():
        assert required.get(name) == version, f"{path.name}: {name}=={version} vs requirements"


def test_every_rule_names_an_existing_env():
    text = "\n".join(p.read_text() for p in (ROOT / "rules").glob("*.smk"))
    named = set(re.findall(r'conda:\n\s+"\.\./envs/([a-z]+\.yaml)"', text))
    assert named == {p.name for p in ENV_FILES}
    rules = re.findall(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", text, re.S | re.M)
    jobs = [name for name, body in rules if "log:" in body]
    assert jobs and all("conda:" in body for name, body in rules if name in jobs)


# --------------------------------------------------------------------------------------
# A rule runs with only its env's packages: each synthesis step is run against a
# site-packages folder holding just the distributions its conda env pins (and what they
# require), so an import that the env lacks fails here as it would on a cluster.
# --------------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(names) -> set[str]:
    """The distributions ``names`` need, transitively (extras left out), as installed."""
    from importlib import metadata

    from packaging.requirements import Requirement

    todo, seen = [_canonical(name) for name in names], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for text in requirements:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(_canonical(requirement.name))
    return seen


def env_site_packages(env_file: Path, folder: Path) -> Path:
    """A folder of links to the installed files of the env's pinned distributions."""
    from importlib import metadata

    env = yaml.safe_load(env_file.read_text())
    pinned = pins(next(d["pip"] for d in env["dependencies"] if isinstance(d, dict)))
    wanted = _closure(pinned)
    folder.mkdir(parents=True)
    for dist in metadata.distributions():
        if _canonical(dist.metadata["Name"]) not in wanted:
            continue
        for top in {Path(str(f)).parts[0] for f in dist.files or ()}:
            source = Path(str(dist.locate_file(top)))
            if top != ".." and source.exists() and not (folder / top).exists():
                (folder / top).symlink_to(source)
    return folder


def rule_envs(path: Path) -> dict[str, str]:
    rules = re.findall(r"^rule (\w+):\n(.*?)(?=^\S|\Z)", path.read_text(), re.S | re.M)
    found = {}
    for name, body in rules:
        match = re.search(r'conda:\n\s+"\.\./envs/([a-z]+\.yaml)"', body)
        if match:
            found[name] = match.group(1)
    return found


def test_synthesis_steps_run_with_only_their_env_packages(tmp_path):
    import subprocess
    import sys

    alma = ROOT.parent / "shared" / "data" / "alma" / "human_written_data" / "deen"
    if not alma.is_dir():
        pytest.skip("../shared/data is absent")
    envs = rule_envs(ROOT / "rules" / "synthesize.smk")
    steps = {"plan": "synthesize_plan", "shard": "synthesize_shard"}
    steps["merge"] = "synthesize_instructions"
    de = (alma / "train.de-en.de").read_text("utf-8").splitlines()[:150]
    en = (alma / "train.de-en.en").read_text("utf-8").splitlines()[:150]
    corpus = [{"id": f"r{i}", "texts": {"deu_Latn": d, "eng_Latn": e}} for i, (d, e) in
              enumerate(zip(de, en, strict=True))]  # fmt: skip
    for split, records in (("train", corpus[:120]), ("dev", corpus[120:])):
        lines = [json.dumps(record, ensure_ascii=False) for record in records]
        (tmp_path / f"{split}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
    (tmp_path / "test.txt").write_text(en[0] + "\n", "utf-8")
    recipe = {"examples": 100, "dev_examples": 10, "mix": {"single_turn": 1}, "single_turn": {
        "directions": ["deu_Latn-eng_Latn", "eng_Latn-deu_Latn"]}}  # fmt: skip
    (tmp_path / "recipe.yaml").write_text(yaml.safe_dump(recipe), "utf-8")
    corpus_args = ["--train", "train.jsonl", "--dev", "dev.jsonl"]
    arguments = {
        "plan": ["--recipe", "recipe.yaml", *corpus_args, "--out", "plan.json"],
        "shard": ["--plan", "plan.json", "--shard", "0", *corpus_args, "--corpus-name", "alma",
                  "--forbidden", "test.txt", "--out", "shards/0"],
        "merge": ["--plan", "plan.json", "--shards", "shards/0", "--out-train", "out.jsonl",
                  "--out-dev", "dev.out.jsonl", "--out-stats", "stats.json",
                  "--out-samples", "samples.md"],
    }  # fmt: skip
    for step, rule in steps.items():
        site = env_site_packages(ROOT / "envs" / envs[rule], tmp_path / f"site-{step}")
        # -S: no site-packages of this interpreter, only the env's links
        command = [sys.executable, "-S", "-m", "bayling_pipeline.synthesize", step]
        environment = {**os.environ, "PYTHONPATH": f"{site}:{ROOT / 'workflow_scripts'}"}
        result = subprocess.run(
            command + arguments[step], cwd=tmp_path, env=environment, capture_output=True,
            text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, f"{rule} in envs/{envs[rule]}:\n{result.stderr[-3000:]}"
    assert sum(1 for _ in open(tmp_path / "out.jsonl", encoding="utf-8")) > 50
