"""Every problem of a config in one report, before any job runs.

The Snakefile calls :func:`validate_config` once Snakemake has read the config files:
the files again, strictly (YAML errors with file, line and column; a repeated key
refused), the schema (with its defaults filled in, as Snakemake's ``validate`` would),
direction generators expanded in place (:mod:`bayling_pipeline.workflow.directions`),
the cross-references (:mod:`bayling_pipeline.workflow.checks`), names the workflow takes
for itself, corpus options and directions, labels, and local files. All errors go into
one ConfigError, each naming its key path and what is allowed; warnings are returned for
the Snakefile to log. The same check without Snakemake, on one config or an overlay::

    python -m bayling_pipeline.workflow.validation config.yaml
    python -m bayling_pipeline.workflow.validation config.yaml presets/gpu-smollm2.yaml
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from bayling_pipeline.workflow.checks import ConfigError, config_errors
from bayling_pipeline.workflow.configfiles import (
    config_file_errors,
    merge_config,
    read_config_file,
)
from bayling_pipeline.workflow.schema_report import load_schema, schema_errors

ROOT = Path(__file__).resolve().parents[3]  # the workflow: Snakefile, rules/, schemas/
SCHEMA = "schemas/config.schema.yaml"
# What a check of a half-valid config may stumble on: a section the schema refused has
# no defaults filled in. Such a check is skipped; the schema's errors say what to fix.
STUMBLES = (KeyError, TypeError, AttributeError, IndexError, ValueError)


def config_problems(
    config: dict, configfiles=(), root: str | Path = ROOT, files: bool = True
) -> list[str]:
    """Every error of ``config`` (read from ``configfiles``), schema errors first; fills
    in the schema's defaults. ``files``: also check that local files exist."""
    from bayling_pipeline.workflow import directions, local_files, preflight

    problems = config_file_errors(configfiles)
    problems += schema_errors(config, load_schema(str(Path(root) / SCHEMA)))
    checks: list[Callable[[bool], list[str]]] = [
        # direction generators become lists, in place, before anything reads directions
        lambda _: directions.expand_config(config),
        lambda partial: config_errors(config, partial=partial),
        lambda _: preflight.name_errors(config, root),
        lambda _: preflight.corpus_errors(config),
        lambda _: preflight.model_errors(config),
        lambda _: preflight.label_errors(config),
    ]
    if files:
        checks.append(lambda _: local_files.missing_file_errors(config))
    for check in checks:
        # after an error, later checks may meet what it is about: skip what they cannot do
        partial = bool(problems)
        try:
            problems += [p for p in check(partial) if not _said(p, problems)]
        except STUMBLES:
            if not partial:
                raise
    return problems


def _said(problem: str, problems: list[str]) -> bool:
    """Whether ``problem`` is about a key (or a key inside one) that has a problem already:
    an unknown language in a direction the schema refused says nothing new."""
    key = problem.split(": ", 1)[0]
    keys = {p.split(": ", 1)[0] for p in problems}
    return any(key == k or key.startswith((f"{k}.", f"{k}[")) for k in keys)


def validate_config(
    config: dict,
    configfiles=(),
    root: str | Path = ROOT,
    warn: Callable[[str], object] | None = None,
    files: bool = True,
) -> list[str]:
    """Raise ConfigError listing every problem of ``config``; else return its warnings,
    and pass them to ``warn`` as one block when given (Snakemake's logger.warning)."""
    problems = config_problems(config, configfiles, root, files)
    if problems:
        raise ConfigError(report(problems, configfiles))
    from bayling_pipeline.workflow.config_warnings import config_warnings

    warnings = config_warnings(config)
    if warnings and warn is not None:
        warn(f"config: {len(warnings)} warning(s)\n  " + "\n  ".join(warnings))
    return warnings


def report(problems: list[str], configfiles=()) -> str:
    """The problems as one message: a count, the files, one problem per line."""
    files = ", ".join(str(p) for p in configfiles) or "the config"
    count = f"{len(problems)} problem" + ("s" if len(problems) > 1 else "")
    return (
        f"invalid config ({count} in {files}; every key is described in {SCHEMA}):\n  "
        + "\n  ".join(problems)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bayling_pipeline.workflow.validation",
        description="Check config files as the workflow does before any job (the later "
        "file overrides the earlier, as with snakemake --configfile A B).",
    )
    parser.add_argument("configfiles", nargs="+", type=Path, help="YAML config files")
    parser.add_argument(
        "--no-files", action="store_true", help="do not check that local files exist"
    )
    args = parser.parse_args(argv)
    unreadable = config_file_errors(args.configfiles)
    if unreadable:
        print(f"error: {report(unreadable, args.configfiles)}", file=sys.stderr)
        return 1
    config: dict = {}
    for path in args.configfiles:
        merge_config(config, read_config_file(path))
    try:
        warnings = validate_config(config, args.configfiles, files=not args.no_files)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"{', '.join(map(str, args.configfiles))}: valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
