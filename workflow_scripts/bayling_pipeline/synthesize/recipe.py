"""The synthesis recipe: its defaults and the check that fills them in.

``validate_recipe`` resolves a recipe (the ``synthesize`` entries of ``config.yaml``, or a
JSON/YAML file given to ``python -m bayling_pipeline.synthesize plan``) into the form the
plan stores; ``generator_options`` is what one family's generator needs of it. The
workflow's parse-time config check imports ``validate_recipe`` from here, so this module
stays light: no hygiene, teacher, orjson or numpy import.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bayling_pipeline.languages import is_known, parse_pair
from bayling_pipeline.prompts import templates as T
from bayling_pipeline.synthesize import families as F

TASKS = F.FAMILIES
#: Every family, the optional ones last (``recipe_tasks`` says which a recipe has).
ALL_TASKS = F.FAMILIES + F.OPTIONAL_FAMILIES
SPLITS = ("train", "dev")

_FAMILY_DEFAULTS = {
    "single_turn": {"directions": [], "templates": "all", "native_templates": True},
    "interactive": {
        "directions": [],
        "templates": "all",
        "native_templates": True,
        "max_turns": 3,
        "follow_ups": "all",
        "teacher_follow_ups": [],
        "teacher_probability": 0.0,
    },
    "cross_lingual": {"languages": "all", "templates": "all"},
    "instruction_cross_lingual": {"languages": [], "templates": "all"},
    # max_chars: the whole dialogue, in script-weighted characters (hygiene.weighted_length)
    "general": {"files": [], "max_chars": 8000},
}
_SHARE_DEFAULTS = {"weights": {}, "alpha": 0.0, "cap": None}
_HYGIENE_DEFAULTS = {
    "language_id": True,
    "min_language_probability": 0.99,
    "max_length_ratio": 3.0,
    "near_duplicate_threshold": 0.8,
    "contamination_word_n": 8,
    "contamination_char_n": 16,
}


def validate_recipe(recipe: dict) -> dict:
    """A copy of ``recipe`` with defaults filled in and template names resolved to ids.

    Raises ValueError for what a JSON schema cannot see: unknown template ids, follow-up
    actions or languages, malformed directions, a family in ``mix`` without its units, a
    teacher family or follow-up without a teacher.
    """
    recipe = {"seed": 1, **recipe}  # the schema's default
    if not isinstance(recipe["seed"], int) or isinstance(recipe["seed"], bool):
        raise ValueError("recipe: 'seed' must be an integer")
    mix = dict(recipe.get("mix") or {})
    unknown = sorted(set(mix) - set(ALL_TASKS))
    if unknown:
        raise ValueError(f"recipe: mix: unknown families {unknown}; known: {', '.join(ALL_TASKS)}")
    # an optional family joins a resolved recipe (and plan.json, stats.json) only when mixed in
    tasks = [t for t in ALL_TASKS if t in TASKS or mix.get(t)]
    if any(not isinstance(v, int | float) or v < 0 for v in mix.values()):
        raise ValueError("recipe: mix ratios must be numbers >= 0")
    resolved: dict = {
        "seed": recipe["seed"],
        "examples": _non_negative(recipe.get("examples", 0), "examples"),
        "dev_examples": _non_negative(recipe.get("dev_examples", 0), "dev_examples"),
        "mix": {task: float(mix.get(task, 0)) for task in tasks},
        "max_reuse": recipe.get("max_reuse", 3),
        "shards": recipe.get("shards", 1),
        "hygiene": {**_HYGIENE_DEFAULTS, **(recipe.get("hygiene") or {})},
        "teacher": recipe.get("teacher"),
    }
    if resolved["examples"] and not sum(resolved["mix"].values()):
        raise ValueError("recipe: mix must give some family a ratio > 0")
    for task in tasks:
        part = {**_FAMILY_DEFAULTS[task], **_SHARE_DEFAULTS, **(recipe.get(task) or {})}
        resolved[task] = _resolve_part(task, part, resolved["mix"][task] > 0, resolved["teacher"])
    return resolved


def _resolve_part(task: str, part: dict, active: bool, teacher) -> dict:
    """Check one family's part and resolve its template and follow-up names, in place."""
    if task == "general":  # in a resolved recipe only when mixed in (active)
        return _resolve_general(part)
    registry = {
        "cross_lingual": T.CROSS_LINGUAL,
        "instruction_cross_lingual": T.ANSWER_IN,
    }.get(task, T.TRANSLATION)
    part["templates"] = _resolve_names(part["templates"], list(registry), f"{task}.templates")
    if "directions" in part:
        if active and not part["directions"]:
            raise ValueError(f"recipe: {task}.directions must list at least one pair")
        for pair in part["directions"]:
            parse_pair(pair)  # ValueError on a malformed pair, unknown code or src == tgt
    if task == "interactive":
        _resolve_interactive(part, teacher)
    if "languages" in part and part["languages"] != "all":
        unknown = [code for code in part["languages"] if not is_known(code)]
        if unknown:
            raise ValueError(f"recipe: {task}.languages: unknown codes {unknown}")
    if task == "instruction_cross_lingual" and active:
        if not teacher:
            raise ValueError("recipe: instruction_cross_lingual needs a 'teacher'")
        if not part["languages"] or part["languages"] == "all":
            raise ValueError("recipe: instruction_cross_lingual.languages must list codes")
    return part


def _resolve_general(part: dict) -> dict:
    """Check the ``general`` part: files that make distinct units, weights of those units."""
    files = part["files"]
    if not isinstance(files, list) or not all(isinstance(path, str) for path in files):
        raise ValueError("recipe: general.files must be a list of paths")
    if not files:
        raise ValueError("recipe: general.files must list at least one JSON Lines file")
    units = file_units(files)
    unknown = sorted(set(part["weights"]) - set(units))
    if unknown:
        raise ValueError(f"recipe: general.weights: {unknown} are not units ({sorted(units)})")
    limit = part["max_chars"]
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise ValueError("recipe: general.max_chars must be an integer >= 1 or null")
    return part


def file_unit(path: str) -> str:
    """The unit a file's records serve: its name without a ``.jsonl`` or ``.json`` suffix."""
    name = Path(path).name
    for suffix in (".jsonl", ".json"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def file_units(files: Sequence[str]) -> dict[str, str]:
    """``{unit: path}``; ValueError when two files would make one unit."""
    units: dict[str, str] = {}
    for path in files:
        unit = file_unit(path)
        if unit in units:
            raise ValueError(
                f"recipe: general.files: {units[unit]!r} and {path!r} are both unit {unit!r};"
                " rename one (a unit is a file name without .jsonl)"
            )
        units[unit] = path
    return units


def recipe_tasks(recipe: dict) -> list[str]:
    """The families of a resolved recipe, in ``ALL_TASKS`` order."""
    return [task for task in ALL_TASKS if task in recipe["mix"]]


def _resolve_interactive(part: dict, teacher) -> None:
    """Check the ``interactive`` part and resolve its follow-up names, in place."""
    if not isinstance(part["max_turns"], int) or part["max_turns"] < 2:
        raise ValueError("recipe: interactive.max_turns must be an integer >= 2")
    part["follow_ups"] = _resolve_names(
        part["follow_ups"], list(T.FOLLOW_UP_ACTIONS), "interactive.follow_ups"
    )
    unknown = sorted(set(part["teacher_follow_ups"]) - set(T.TEACHER_ACTIONS))
    if unknown:
        raise ValueError(
            f"recipe: interactive.teacher_follow_ups: unknown {unknown};"
            f" known: {', '.join(T.TEACHER_ACTIONS)}"
        )
    if part["teacher_follow_ups"] and part["teacher_probability"] > 0 and not teacher:
        raise ValueError("recipe: interactive.teacher_follow_ups need a 'teacher'")


def _non_negative(value, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"recipe: {where} must be an integer >= 0")
    return value


def _resolve_names(value, known: list[str], where: str) -> list[str]:
    if value == "all":
        return list(known)
    if isinstance(value, str) or not value:
        raise ValueError(f"recipe: {where} must be 'all' or a non-empty list")
    unknown = [name for name in value if name not in known]
    if unknown:
        raise ValueError(f"recipe: {where}: unknown {unknown}; known: {', '.join(known)}")
    return list(value)


def generator_options(recipe: dict, task: str, units: Sequence[str]) -> dict:
    """What ``families.generate`` needs of a (validated) recipe's family part."""
    part = recipe[task]
    if task == "general":
        return {"max_chars": part["max_chars"]}
    options = {
        "templates": part["templates"],
        "native": part.get("native_templates", False),
        "max_turns": part.get("max_turns"),
        "follow_ups": part.get("follow_ups", ()),
        "teacher_follow_ups": part.get("teacher_follow_ups", ()) if recipe["teacher"] else (),
        "teacher_probability": part.get("teacher_probability", 0.0),
        "languages": None,
    }
    if task == "cross_lingual" and part["languages"] != "all":
        options["languages"] = frozenset(part["languages"])
    elif task == "cross_lingual":
        options["languages"] = frozenset(units)
    return options
