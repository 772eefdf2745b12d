"""lm-evaluation-harness's own task definitions pointed at local files: the reference that
the knowledge stage's multiple-choice scorer is tested against (no hub access here).

The task's YAML is read by lm-eval's loader (its ``!function`` prompt code included), and
only where the data comes from is replaced: ``datasets``' JSON builder on local files.
"""

from __future__ import annotations

from pathlib import Path


def task_yaml(folder: str, name: str) -> Path:
    """A task definition shipped with the installed lm-eval (lm_eval/tasks/<folder>/<name>)."""
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks" / folder / name


def local_task(yaml_path: Path, data_files: dict[str, str], cache_dir: Path):
    """lm-eval's ConfigurableTask of ``yaml_path`` reading ``data_files`` ({split: path})."""
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    config = load_yaml(yaml_path)
    config.update(
        dataset_path="json",
        dataset_name=None,
        dataset_kwargs={"data_files": data_files, "cache_dir": str(cache_dir)},
    )
    return ConfigurableTask(config=config)


def xcopa_task(data: Path, language: str, cache_dir: Path):
    """lm-eval's xcopa_<language> on the XCOPA checkout ``data`` (data/<lang>/*.jsonl)."""
    folder = data / language
    files = {
        "validation": str(folder / f"val.{language}.jsonl"),
        "test": str(folder / f"test.{language}.jsonl"),
    }
    return local_task(task_yaml("xcopa", f"default_{language}.yaml"), files, cache_dir)


def belebele_task(path: Path, language: str, cache_dir: Path):
    """lm-eval's belebele_<language> on one local JSON Lines file (its test split)."""
    yaml_path = task_yaml("belebele", f"belebele_{language}.yaml")
    return local_task(yaml_path, {"test": str(path)}, cache_dir)


def requests(task, limit: int | None = None) -> dict[int, list[tuple[str, str]]]:
    """{document number: [(context, continuation) of each option]} as lm-eval builds them."""
    task.build_all_requests(limit=limit, rank=0, world_size=1)
    found: dict[int, list[tuple[str, str]]] = {}
    for instance in sorted(task.instances, key=lambda i: (i.doc_id, i.idx)):
        found.setdefault(instance.doc_id, []).append(tuple(instance.arguments))
    return found
