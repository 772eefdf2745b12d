"""Config lookups of the knowledge-benchmark rules at parse time (rules/knowledge.smk) and
the cross-reference checks of the ``knowledge`` section.

Like :mod:`bayling_pipeline.workflow.queries`: pure functions of the validated config, light
imports only (every cluster job parses the workflow again). Jobs scale with systems, not
subsets: one answering job per (system, suite) loads its model once for every subset (the
GaoKao subjects, the XCOPA languages), and one scoring job writes a row per subset.
"""

from __future__ import annotations

from collections.abc import Iterator

from bayling_pipeline.decode.settings import TRANSLATE_OPTIONS, command_options

# how each task is answered: the model generates and the answer is extracted from its text
# (BayLing 1's AGIEval), or the options are ranked by their log-likelihood as
# lm-evaluation-harness ranks them (no generation, no chat format)
PROTOCOLS = {"agieval": "generate", "xcopa": "loglikelihood", "belebele": "loglikelihood"}
# the decoder's options a generating job takes from config["decoding"] (its own prompt: no
# template; the system's chat format is set per system)
GENERATE_OPTIONS = tuple(o for o in TRANSLATE_OPTIONS if o not in ("template", "chat_format"))


def section(config: dict) -> dict:
    """The ``knowledge`` section (empty when the stage is off)."""
    return config.get("knowledge") or {}


def suites(config: dict) -> dict:
    return section(config).get("suites") or {}


def protocol(config: dict, suite: str) -> str:
    return PROTOCOLS[suites(config)[suite]["task"]]


def subsets(config: dict, suite: str) -> list[str]:
    return list(suites(config)[suite]["subsets"])


def evaluated_suites(config: dict) -> list[str]:
    return list(suites(config))


def answering_systems(config: dict) -> list[str]:
    """The systems that answer the suites: ``knowledge.systems``, by default every model,
    fine-tuning run and variant of evaluation.systems; none without a suite."""
    if not suites(config):
        return []
    chosen = section(config).get("systems")
    if chosen is not None:
        return list(chosen)
    decodable = _decodable(config)
    return [s for s in config["evaluation"]["systems"] if s in decodable]


def published_systems(config: dict) -> dict:
    """Released answers by system name (BayLing's exp/examination predictions)."""
    return section(config).get("published") or {}


def published_subsets(config: dict, system: str) -> list[str]:
    spec = published_systems(config)[system]
    return list(spec.get("subsets") or subsets(config, spec["suite"]))


def jobs(config: dict) -> list[tuple[str, str]]:
    """Every (system, suite): answering systems on every suite, then each published system
    on its suite."""
    answered = [(s, suite) for s in answering_systems(config) for suite in suites(config)]
    published = [(s, spec["suite"]) for s, spec in published_systems(config).items()]
    return answered + published


def label(config: dict, system: str) -> str:
    """The name a system's rows carry: a published system's label, else its key."""
    spec = published_systems(config).get(system)
    return (spec or {}).get("label") or system


def file_specs(spec: dict, names: list[str]) -> dict[str, dict]:
    """Per subset, the file spec ({path} or {url, sha256}) of a ``{subset}`` template."""
    out = {}
    for name in names:
        if spec.get("path"):
            out[name] = {"path": spec["path"].format(subset=name)}
        else:
            digest = (spec.get("sha256") or {}).get(name)
            out[name] = {"url": spec["url"].format(subset=name), "sha256": digest}
    return out


def suite_files(config: dict, suite: str) -> dict[str, dict]:
    return file_specs(suites(config)[suite], subsets(config, suite))


def published_files(config: dict, system: str) -> dict[str, dict]:
    return file_specs(published_systems(config)[system], published_subsets(config, system))


def local_inputs(specs: dict[str, dict]) -> list[str]:
    """Local files are inputs of the rule that reads them (editing one reruns it)."""
    return [spec["path"] for spec in specs.values() if spec.get("path")]


def generate_options(config: dict, chat_format: str) -> str:
    """The command-line options of a generating job: config["decoding"]'s decoder settings,
    the system's chat format, and knowledge.max_new_tokens / batch_size when set."""
    decoding = config.get("decoding", {})
    settings = {key: decoding[key] for key in GENERATE_OPTIONS if key in decoding}
    settings["chat_format"] = chat_format
    for key in ("max_new_tokens", "batch_size"):
        if section(config).get(key):
            settings[key] = section(config)[key]
    return command_options(settings)


def _decodable(config: dict) -> set[str]:
    return (
        set(config.get("models", {}))
        | set(config.get("finetune", {}))
        | set(config.get("variants", {}))
    )


def config_errors(config: dict) -> list[str]:
    """Cross-reference errors of the ``knowledge`` section (empty when consistent)."""
    return (
        list(_suite_errors(config)) + list(_system_errors(config)) + list(_published_errors(config))
    )


def _template_errors(where: str, spec: dict, names: list[str]) -> Iterator[str]:
    template = spec.get("url") or spec.get("path") or ""
    if "{subset}" not in template and len(names) > 1:
        yield f"{where}: {template!r} has no {{subset}} placeholder but names {len(names)} subsets"
    for name in spec.get("sha256") or {}:
        if name not in names:
            yield f"{where}.sha256.{name}: not one of its subsets ({', '.join(names)})"


def _suite_errors(config: dict) -> Iterator[str]:
    for name, spec in suites(config).items():
        yield from _template_errors(f"knowledge.suites.{name}", spec, spec["subsets"])


def _system_errors(config: dict) -> Iterator[str]:
    decodable = _decodable(config)
    for index, system in enumerate(section(config).get("systems") or []):
        if system not in decodable:
            yield (
                f"knowledge.systems[{index}]: {system!r} is not a model, finetune run or "
                f"variant (known: {sorted(decodable)})"
            )


def _published_errors(config: dict) -> Iterator[str]:
    decodable = _decodable(config)
    for system, spec in published_systems(config).items():
        where = f"knowledge.published.{system}"
        if system in decodable:
            yield f"{where}: also a model, finetune run or variant; system names must be unique"
        if spec["suite"] not in suites(config):
            known = ", ".join(sorted(suites(config))) or "none"
            yield f"{where}.suite: {spec['suite']!r} is not under knowledge.suites ({known})"
            continue
        if protocol(config, spec["suite"]) != "generate":
            yield (
                f"{where}: released answers are read by extraction, but suite "
                f"{spec['suite']!r} ranks options by log-likelihood"
            )
        names = published_subsets(config, system)
        for name in names:
            if name not in subsets(config, spec["suite"]):
                yield f"{where}.subsets: {name!r} is not a subset of suite {spec['suite']!r}"
        yield from _template_errors(where, spec, names)
