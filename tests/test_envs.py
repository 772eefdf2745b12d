"""envs/*.yaml (for --software-deployment-method conda) parse and agree with the pip pins."""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
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
