"""What the ``judging:`` section asks for, as names and paths: the rules' parse-time lookups.

A *setting* is one of BayLing's four panels: ``<turns>turn.<lang>`` (``singleturn.en``,
``multiturn.zh``), the suffix of BayLing's own review files. ``<lang>`` is a key of
``judging.dialogue_sets`` (BayLing's ``en``/``zh``), ``<turns>`` ``single`` (the first user
turn and its answer only) or ``multi`` (the whole dialogue). A *source* of judgments is
``published`` (the released reviews of a pairing) or the configured judge's ``name``.

Light on purpose (the rules import it at parse time): no third-party imports.
"""

from __future__ import annotations

PUBLISHED = "published"  # the source name of released judgments (never a judge's name)
TURNS = ("single", "multi")


def section(config: dict) -> dict:
    """The ``judging`` section with its defaults (a config the schema has not filled)."""
    judging = config.get("judging") or {}
    return {
        "judge": judging.get("judge"),
        "dialogue_sets": judging.get("dialogue_sets") or {},
        "turns": judging.get("turns") or list(TURNS),
        "max_items": judging.get("max_items"),
        "published_answers": judging.get("published_answers") or {},
        "pairings": judging.get("pairings") or [],
    }


def enabled(config: dict) -> bool:
    """Whether the stage has anything to do (at least one pairing)."""
    return bool(section(config)["pairings"])


def setting_name(turns: str, lang: str) -> str:
    return f"{turns}turn.{lang}"


def parse_setting(setting: str) -> tuple[str, str]:
    """``multiturn.zh`` -> ("multi", "zh")."""
    turns, _, lang = setting.partition(".")
    if not turns.endswith("turn") or turns[: -len("turn")] not in TURNS or not lang:
        raise ValueError(f"not a judging setting: {setting!r} (e.g. singleturn.en)")
    return turns[: -len("turn")], lang


def settings(config: dict) -> list[str]:
    """Every setting, in the paper's order (its figures: single-turn en, zh, then
    multi-turn en, zh), languages in config order."""
    judging = section(config)
    return [
        setting_name(turns, lang)
        for turns in TURNS
        if turns in judging["turns"]
        for lang in judging["dialogue_sets"]
    ]


def judge_name(config: dict) -> str | None:
    judge = section(config)["judge"]
    return judge["name"] if judge else None


def sources(config: dict, pairing: dict) -> list[str]:
    """Where a pairing's judgments come from: the released reviews, the configured judge."""
    found = [PUBLISHED] if pairing.get("published_reviews") else []
    name = judge_name(config)
    return found + ([name] if name else [])


def pairings(config: dict) -> list[tuple[str, str]]:
    return [(p["system"], p["opponent"]) for p in section(config)["pairings"]]


def pairing_spec(config: dict, system: str, opponent: str) -> dict:
    for pairing in section(config)["pairings"]:
        if (pairing["system"], pairing["opponent"]) == (system, opponent):
            return pairing
    raise KeyError(f"no judging pairing {system} vs {opponent}")


def review_jobs(config: dict) -> list[tuple[str, str, str, str]]:
    """Every (source, system, opponent, setting) whose reviews the report reads."""
    return [
        (source, pairing["system"], pairing["opponent"], setting)
        for pairing in section(config)["pairings"]
        for source in sources(config, pairing)
        for setting in settings(config)
    ]


def published_answer_jobs(config: dict) -> list[tuple[str, str]]:
    """Every (published answers name, lang) to fetch."""
    judging = section(config)
    return [
        (name, lang) for name in judging["published_answers"] for lang in judging["dialogue_sets"]
    ]


def label(config: dict, name: str) -> str:
    """A system's name as the paper prints it: its published label, else its key."""
    spec = section(config)["published_answers"].get(name) or {}
    return spec.get("label") or name


def judge_label(config: dict, source: str, system: str, opponent: str) -> str:
    """How a source of judgments is named in tables: the released reviews' judge (GPT-4),
    or the configured judge's label."""
    if source == PUBLISHED:
        reviews = pairing_spec(config, system, opponent)["published_reviews"]
        return f"{reviews.get('judge_label') or 'GPT-4'} (released)"
    judge = section(config)["judge"]
    return judge.get("label") or judge["model"]


def answers_path(
    config: dict, name: str, lang: str, decoded_pattern: str, published_pattern: str
) -> str:
    """A system's answers to the dialogue set of ``lang``: fetched published answers, or
    the decode stage's multi-turn answers (``decoded_pattern``: its dialogues.jsonl)."""
    judging = section(config)
    if name in judging["published_answers"]:
        return published_pattern.format(answers=name, lang=lang)
    return decoded_pattern.format(system=name, dialogue_set=judging["dialogue_sets"][lang])


def judge_spec(config: dict) -> dict:
    """The teacher spec (bayling_pipeline.synthesize.teacher.build_teacher) of the judge.

    The cache key's model id names the endpoint too: one model name behind two servers may
    be two different models (a local vLLM serving a fine-tune under a hub name)."""
    judge = section(config)["judge"]
    keys = ("base_url", "model", "api_key_env", "requests_per_minute", "max_retries")
    spec = {"backend": "openai", **{k: judge[k] for k in keys if k in judge}}
    for key in ("max_new_tokens", "temperature", "timeout"):
        if key in judge:
            spec[key] = judge[key]
    spec["model_id"] = f"judge:{judge['model']}@{judge['base_url'].rstrip('/')}"
    return spec


def both_orders(config: dict) -> bool:
    judge = section(config)["judge"] or {}
    return judge.get("both_orders", True)


def plot_names(config: dict) -> tuple[list[str], list[str]]:
    """(battle chart stems, radar chart stems): one battle chart per source, one radar per
    (source, pairing); ``radar.<source>.<system>.vs.<opponent>``."""
    names = dict.fromkeys(s for p in section(config)["pairings"] for s in sources(config, p))
    battles = [f"battle.{source}" for source in names]
    radars = [
        f"radar.{source}.{pairing['system']}.vs.{pairing['opponent']}"
        for pairing in section(config)["pairings"]
        for source in sources(config, pairing)
    ]
    return battles, radars


# --- cross-reference checks (bayling_pipeline.workflow.checks runs them at parse time)


def _placeholder_errors(where: str, template: str, allowed: set[str]) -> list[str]:
    import string

    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as error:
        return [f"{where}: not a valid template ({error})"]
    unknown = sorted(fields - allowed)
    return [f"{where}: unknown placeholder(s) {', '.join(unknown)}"] if unknown else []


def _pairing_errors(config: dict, index: int, pairing: dict, seen: set) -> list[str]:
    where = f"judging.pairings[{index}]"
    judging = section(config)
    systems = set(config.get("models", {})) | set(config.get("finetune", {}))
    known = systems | set(judging["published_answers"])
    errors = [
        f"{where}.{side}: {pairing[side]!r} is neither a model, a finetune run nor a "
        f"key of judging.published_answers"
        for side in ("system", "opponent")
        if pairing[side] not in known
    ]
    key = (pairing["system"], pairing["opponent"])
    if key[0] == key[1]:
        errors.append(f"{where}: a system cannot be judged against itself")
    if key in seen:
        errors.append(f"{where}: {key[0]} vs {key[1]} is listed twice")
    seen.add(key)
    reviews = pairing.get("published_reviews")
    if not reviews and not judging["judge"]:
        errors.append(f"{where}: neither published_reviews nor a judge (judging.judge) judges it")
    if reviews:
        url = reviews["url"]
        errors += _placeholder_errors(f"{where}.published_reviews.url", url, {"turns", "lang"})
    return errors


def config_errors(config: dict) -> list[str]:
    """What the schema cannot see in ``judging``: names that refer to nothing, clashes."""
    judging = section(config)
    dialogue_sets = config["evaluation"].get("dialogue_sets", {})
    errors = [
        f"judging.dialogue_sets.{lang}: {name!r} is not a key of evaluation.dialogue_sets"
        for lang, name in judging["dialogue_sets"].items()
        if name not in dialogue_sets
    ]
    if judging["judge"] and judging["judge"]["name"] == PUBLISHED:
        errors.append(f"judging.judge.name: {PUBLISHED!r} names the released reviews")
    if judging["pairings"] and not judging["dialogue_sets"]:
        errors.append("judging.dialogue_sets: pairings need at least one dialogue set")
    systems = set(config.get("models", {})) | set(config.get("finetune", {}))
    for name, spec in judging["published_answers"].items():
        where = f"judging.published_answers.{name}"
        if name in systems:
            errors.append(f"{where}: the name is also a model or finetune run")
        errors += _placeholder_errors(f"{where}.url", spec["url"], {"lang"})
    seen: set = set()
    for index, pairing in enumerate(judging["pairings"]):
        errors += _pairing_errors(config, index, pairing, seen)
    return errors


# --- the rules' lookup tables (rules/judge.smk looks jobs up by their wildcards)


def job_table(
    config: dict, decoded_pattern: str, published_pattern: str, dialogue_files: dict
) -> dict:
    """``{source: {system: {opponent: {setting: {"names", "inputs"}}}}}`` for every review
    job: the labels recorded with its reviews, and its input files (a judge's: the dialogue
    set and both answer files; released reviews': the published answers of either side,
    which the answers the reviews quote are compared with)."""
    judging = section(config)
    table: dict = {}
    for source, system, opponent, setting in review_jobs(config):
        lang = parse_setting(setting)[1]
        sides = {"system": system, "opponent": opponent}
        answers = {
            side: answers_path(config, name, lang, decoded_pattern, published_pattern)
            for side, name in sides.items()
        }
        if source == PUBLISHED:
            inputs = {s: p for s, p in answers.items() if sides[s] in judging["published_answers"]}
        else:
            inputs = {"dialogues": dialogue_files[judging["dialogue_sets"][lang]], **answers}
        names = {
            "source": source,
            "judge_label": judge_label(config, source, system, opponent),
            "system": system,
            "system_label": label(config, system),
            "opponent": opponent,
            "opponent_label": label(config, opponent),
            "dialogue_set": judging["dialogue_sets"][lang],
        }
        node = table.setdefault(source, {}).setdefault(system, {}).setdefault(opponent, {})
        node[setting] = {"names": names, "inputs": inputs}
    return table


def released_specs(config: dict) -> dict:
    """``{system: {opponent: published_reviews}}`` of the pairings with released reviews."""
    table: dict = {}
    for pairing in section(config)["pairings"]:
        if pairing.get("published_reviews"):
            table.setdefault(pairing["system"], {})[pairing["opponent"]] = dict(
                pairing["published_reviews"]
            )
    return table
