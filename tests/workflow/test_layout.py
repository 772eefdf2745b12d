"""The package's layout holds: rooms by stage, imports downhill, no cycle, small files, and
every module path the project names resolves.

    .venv/bin/python -m pytest -v tests/workflow/test_layout.py

Read statically from the source (ast), so imports inside functions count too: several sit
on GPU-only paths (vLLM, QLoRA, multi-GPU) that the CPU suite never executes.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

PACKAGE = ROOT / "workflow_scripts" / "bayling_pipeline"
MAX_FILE_LINES = 400
MAX_FUNCTION_LINES = 60
# Floors, lowest first: a module may import from its own floor or lower ones only.
FLOORS = {
    "io": 0,
    "logs": 0,
    "languages": 0,
    "cli": 0,  # UserError and run_cli: every command's errors, below every stage
    "durable": 0,  # fsync, unique temporaries, run locks: under io's atomic writes
    "prompts": 1,
    "download": 2,
    "synthesize": 3,
    "finetune": 4,
    "decode": 5,
    "score": 6,
    "report": 7,
    "constrained": 7,  # an evaluation room: uses download, decode and score, as report does
    "judge": 7,  # an evaluation room: uses download, synthesize (teacher) and decode
    "knowledge": 7,  # an evaluation room: uses download and decode's loading and settings
    "workflow": 8,  # parse-time checks: may consult any stage's light settings module
}
STAGES = (
    "download",
    "synthesize",
    "finetune",
    "decode",
    "score",
    "report",
    "constrained",
    "judge",
    "knowledge",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def project_imports(path: Path) -> set[str]:
    """Every bayling_pipeline module ``path`` imports, at any depth of the code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("bayling_pipeline")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "bayling_pipeline"
        ):
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in MODULES else node.module)
    return found - {"bayling_pipeline"}


GRAPH = {name: project_imports(path) for name, path in MODULES.items()}


def floor(module: str) -> int:
    return FLOORS[module.split(".")[1]]


def test_every_stage_is_a_subpackage_named_like_its_rule_file():
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").exists(), stage
        assert (PACKAGE / stage / "__main__.py").exists(), f"python -m bayling_pipeline.{stage}"
        assert (ROOT / "rules" / f"{stage}.smk").exists(), stage
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert rooms == set(STAGES) | {"prompts", "workflow"}
    loose = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert loose == {"io", "logs", "languages", "cli", "durable"}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_project_import_resolves(name):
    for target in sorted(GRAPH[name]):
        assert target in MODULES, f"{name} imports {target}, which does not exist"
    tree = ast.parse(MODULES[name].read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bayling_pipeline"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name) or f"{node.module}.{alias.name}" in MODULES, (
                    f"{name}: from {node.module} import {alias.name}: no such name"
                )


def test_imports_run_downhill():
    uphill = [
        f"{source} -> {target}"
        for source, targets in GRAPH.items()
        for target in targets
        if floor(target) > floor(source)
    ]
    assert uphill == []


def test_no_import_cycle():
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    cycles = []

    def visit(node, path):
        state[node] = 1
        for target in sorted(GRAPH.get(node, ())):
            if state.get(target) == 1:
                cycles.append(" -> ".join(path[path.index(target) :] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[node] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [name])
    assert cycles == []


def test_files_and_functions_stay_small():
    too_long = []
    for path in sorted((ROOT / "workflow_scripts").rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(ROOT)
        if text.count("\n") > MAX_FILE_LINES:
            too_long.append(f"{where}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []


RUN_MODULE = re.compile(r"-m\s+(bayling_pipeline(?:\.\w+)*)")
NAMED_MODULE = re.compile(r"\b(bayling_pipeline(?:\.[a-z_]+)+)")


def documents():
    """Every text that tells a user or a rule which module to run."""
    paths = [ROOT / "README.md", ROOT / "Makefile", ROOT / "schemas" / "config.schema.yaml"]
    paths += sorted((ROOT / "docs").glob("*.md")) + sorted((ROOT / "rules").glob("*.smk"))
    paths += sorted((ROOT / "workflow_scripts").rglob("*.py"))
    paths += sorted((ROOT / "benchmarks").glob("*.py")) + sorted((ROOT / "tests").rglob("*.py"))
    return [p for p in paths if p.exists()]


def test_every_python_dash_m_named_anywhere_runs():
    broken = []
    for path in documents():
        for name in set(RUN_MODULE.findall(path.read_text())) - {"bayling_pipeline"}:
            spec = importlib.util.find_spec(name)
            if spec is None:
                broken.append(f"{path.relative_to(ROOT)}: python -m {name}: no such module")
            elif spec.submodule_search_locations is not None:
                if importlib.util.find_spec(f"{name}.__main__") is None:
                    broken.append(f"{path.relative_to(ROOT)}: {name} has no __main__")
            elif '__name__ == "__main__"' not in Path(spec.origin).read_text():
                broken.append(f"{path.relative_to(ROOT)}: {name} has no __main__ block")
    assert broken == []


def test_every_module_path_named_in_the_docs_exists():
    missing = []
    for path in documents():
        for name in set(NAMED_MODULE.findall(path.read_text())):
            if name in MODULES or name.rsplit(".", 1)[0] in MODULES:
                continue  # a module, or a name inside one (bayling_pipeline.io.write_json)
            missing.append(f"{path.relative_to(ROOT)}: {name}")
    assert missing == []


HEAVY = ("torch", "transformers", "peft", "numpy", "pandas", "orjson", "py3langid", "sacrebleu")


@pytest.mark.parametrize("configfile", ["config.yaml", "presets/bayling-wmt22.yaml"])
def test_parse_time_checks_import_nothing_heavy(configfile):
    """What the rules import at parse time (every cluster job parses the workflow again):
    the config checks and lookups, run on a shipped config, in a fresh interpreter."""
    script = f"""
import sys, yaml
from snakemake.utils import validate
config = yaml.safe_load(open({str(ROOT / configfile)!r}))
validate(config, {str(ROOT / "schemas" / "config.schema.yaml")!r})
before = set(sys.modules)  # snakemake's own imports are not ours
from bayling_pipeline.workflow import queries
from bayling_pipeline.workflow.checks import check_config
check_config(config)
queries.evaluated_system_directions(config)
print(" ".join(sorted(set(sys.modules) - before)))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    loaded = set(result.stdout.split())
    assert {m for m in loaded if m.split(".")[0] in HEAVY} == set()
    engine = {"shard", "plan", "merge", "hygiene", "teacher", "cli"}
    assert {m for m in loaded if m.startswith("bayling_pipeline.synthesize.")} <= {
        f"bayling_pipeline.synthesize.{name}" for name in ("recipe", "families", "terms")
    }, "the synthesis engine (" + ", ".join(sorted(engine)) + ") is not needed to check a config"
