"""Config lookups of the synthesis stage's rules: the recipe, the instruction file, the
contamination files, the teacher, a shard's options. Pure functions of the validated
config, as in ``bayling_pipeline.workflow.queries`` (tested in tests/workflow/test_queries.py);
nothing heavy is imported.
"""

from __future__ import annotations

import shlex


def synthesis_recipe(config: dict, dataset: str) -> dict:
    """A dataset's recipe as the synthesis code reads it (the corpus comes in as files).
    The general family, when not mixed in, leaves no trace: a recipe written before it
    existed stays equal, and so does the rule's params (no rerun)."""
    recipe = {key: value for key, value in config["datasets"][dataset].items() if key != "corpus"}
    if not recipe.get("mix", {}).get("general"):
        recipe.pop("general", None)
        recipe["mix"] = {k: v for k, v in recipe.get("mix", {}).items() if k != "general"}
    return recipe


def synthesis_instructions(config: dict, dataset: str) -> str | None:
    """The instruction file of the instruction_cross_lingual family, when it is mixed in."""
    spec = config["datasets"][dataset]
    instructions = spec["instruction_cross_lingual"]["instructions"]
    if instructions and spec["mix"].get("instruction_cross_lingual"):
        return instructions
    return None


def contamination_files(
    config: dict, dataset: str, testset_patterns: list[str], dialogue_pattern: str
) -> list[str]:
    """Every configured test-set file (``testset_patterns``: the download stage's source and
    reference paths), every dialogue set (local path, or the downloaded copy at
    ``dialogue_pattern``) and the dataset's extra files: texts no example may quote."""
    files = [
        pattern.format(testset=testset, pair=pair)
        for testset, spec in config["testsets"].items()
        for pair in spec["directions"]
        for pattern in testset_patterns
    ]
    for name, spec in config["evaluation"].get("dialogue_sets", {}).items():
        files.append(spec.get("path") or dialogue_pattern.format(dialogue_set=name))
    return files + config["datasets"][dataset]["hygiene"]["contamination_files"]


def teacher_model_dir(config: dict, dataset: str) -> str | None:
    """The local model folder a dataset's teacher runs, if its teacher is local."""
    teacher = config["datasets"][dataset]["teacher"]
    if teacher and teacher["backend"] == "local":
        return f"resources/models/{teacher['model']}"
    return None


def synthesis_shard_options(
    config: dict, dataset: str, shard: str, instructions: str | None, teacher_model: str | None
) -> str:
    """Command-line options for the optional inputs of a synthesis shard job."""
    args = []
    if instructions:
        args += ["--instructions", instructions]
    if config["datasets"][dataset]["teacher"]:
        args += ["--teacher-cache", f"resources/teacher-cache/{dataset}/shard-{shard}.sqlite"]
    if teacher_model:
        args += ["--teacher-model", teacher_model]
    return " ".join(shlex.quote(str(arg)) for arg in args)
