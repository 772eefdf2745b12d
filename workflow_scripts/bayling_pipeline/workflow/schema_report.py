"""The config schema's errors as short lines: the key path, what is wrong, what is allowed.

jsonschema's own message for a misspelled key is the whole config and the whole schema;
here it is one line::

    scoring.metric: unknown key; did you mean 'metrics'? (scoring has: metrics,
    bleu_tokenize, references, significance, comet)

``schema_errors`` validates with the defaults of the schema filled in, as Snakemake's
``validate(config, schema)`` fills them, and returns every error, not only the first.
"""

from __future__ import annotations

import copy
import functools
import re
from pathlib import Path

import yaml

from bayling_pipeline.workflow.checks import did_you_mean

LANGUAGE = "^[a-z]{3}_[A-Z][a-z]{3}$"
PAIR = "^[a-z]{3}_[A-Z][a-z]{3}-[a-z]{3}_[A-Z][a-z]{3}$"
# Patterns of the schema in words (the regex stays the last resort).
PATTERN_WORDS = {
    "^[a-z0-9][a-z0-9._]*(-[a-z0-9._]+)*$": (
        "a short name of lowercase letters, digits, '.' and '_', parts joined by single "
        "'-' (e.g. my-model-7b); it becomes part of result paths"
    ),
    LANGUAGE: (
        "a language code: 3 lowercase letters, '_' and the 4-letter script (e.g. deu_Latn, "
        "zho_Hans; see bayling_pipeline/data/languages.tsv)"
    ),
    PAIR: ("a direction src-tgt of two language codes (e.g. eng_Latn-deu_Latn, not en-de)"),
    "^[0-9a-f]{64}$": "a sha256 digest: 64 lowercase hexadecimal digits",
    "^(single|multi)turn\\.[a-z0-9._-]+$": "singleturn.<lang> or multiturn.<lang>",
}
TYPE_WORDS = {
    "object": "a mapping (key: value)",
    "array": "a list",
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


@functools.cache
def load_schema(path: str) -> dict:
    """The schema at ``path`` (YAML or JSON), read once per process."""
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _validator_class():
    """Draft 2020-12, filling in every ``default`` of a property before validating it (as
    Snakemake's validate does, but only into mappings, and with a copy of each default)."""
    from jsonschema import Draft202012Validator, validators

    check_properties = Draft202012Validator.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if isinstance(subschema, dict) and "default" in subschema:
                    instance.setdefault(name, copy.deepcopy(subschema["default"]))
        yield from check_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": fill_defaults})


def schema_errors(config: dict, schema: dict) -> list[str]:
    """Every schema error of ``config`` as one line each (empty when it is valid); the
    schema's defaults are filled into ``config`` on the way."""
    validator = _validator_class()(schema)
    lines = []
    for error in validator.iter_errors(config):
        lines += describe(error, schema)
    return list(dict.fromkeys(lines))


# --- one error in words


def key_path(parts) -> str:
    """``['testsets', 'wmt22', 'directions', 1]`` -> ``testsets.wmt22.directions[1]``."""
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


def _value(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def accepts(schema: dict, root: dict) -> str:
    """What ``schema`` accepts, in a few words."""
    schema = _resolve(schema, root)
    if "const" in schema:
        return repr(schema["const"])
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    if "pattern" in schema:
        return PATTERN_WORDS.get(schema["pattern"], f"a string matching {schema['pattern']}")
    kind = schema.get("type")
    if kind == "array" and isinstance(schema.get("items"), dict):
        return f"a list of {accepts(schema['items'], root)}"
    if isinstance(kind, list):
        return " or ".join(TYPE_WORDS.get(k, k) for k in kind)
    if kind:
        return TYPE_WORDS.get(kind, kind)
    if "description" in schema:
        return schema["description"].strip().split(";")[0]
    return "something else"


def _resolve(schema, root: dict) -> dict:
    """A local ``$ref`` (``#/$defs/key``) followed to its schema."""
    while isinstance(schema, dict) and str(schema.get("$ref", "")).startswith("#/"):
        node = root
        for part in schema["$ref"][2:].split("/"):
            node = node[part]
        schema = node
    return schema if isinstance(schema, dict) else {}


def describe(error, root: dict) -> list[str]:
    """Lines for one jsonschema error: ``key.path: problem (allowed: ...)``."""
    where = key_path(error.absolute_path)
    kind, value, instance = error.validator, error.validator_value, error.instance
    if kind == "additionalProperties" and isinstance(instance, dict):
        return _unknown_keys(error, root)
    if "propertyNames" in error.relative_schema_path:  # a key of a named entry
        name = key_path([*error.absolute_path, str(instance)])
        return [f"{name}: {instance!r} is not a valid name here: {accepts(error.schema, root)}"]
    if kind in ("oneOf", "anyOf"):
        return _alternatives(error, root)
    if kind == "required":
        missing = re.findall(r"'([^']+)' is a required property", error.message)
        condition = _condition(error, root)
        return [f"{where}: missing key {', '.join(missing) or value}{condition}"]
    return [f"{where}: {_problem(error, root)}"]


def _problem(error, root: dict) -> str:
    kind, value, instance = error.validator, error.validator_value, error.instance
    got = _value(instance)
    if kind == "enum":
        return f"{got} is not one of {', '.join(map(str, value))}{did_you_mean(instance, value)}"
    if kind == "const":
        return f"{got} is not allowed here (only {value!r})"
    if kind == "pattern":
        hint = _code_hint(instance) if value in (LANGUAGE, PAIR) else ""
        return f"{got} is not {PATTERN_WORDS.get(value, f'a string matching {value}')}{hint}"
    if kind == "type":
        wanted = accepts({"type": value}, root)
        return f"expected {wanted}, got {got} ({TYPE_WORDS.get(_json_type(instance))})"
    if kind == "minItems" and value == 1:
        return "an empty list: give at least one entry"
    if kind == "minProperties" and value == 1:
        return "empty: give at least one entry"
    if kind == "uniqueItems":
        repeated = sorted({str(x) for x in instance if instance.count(x) > 1})
        return f"{', '.join(repeated)} listed twice: list each once"
    return error.message


def _json_type(instance) -> str:
    for name, kind in (("boolean", bool), ("integer", int), ("number", float), ("string", str)):
        if isinstance(instance, kind):
            return name
    return "array" if isinstance(instance, list) else "object" if instance is not None else "null"


def _code_hint(value) -> str:
    """For a language or direction written with short codes (en, en-zh), the project's."""
    from bayling_pipeline.languages import from_locale

    if not isinstance(value, str) or value.count("-") > 1:
        return ""
    codes = [from_locale(side) or from_locale(f"{side}_Hans") for side in value.split("-")]
    return f"; write {'-'.join(codes)}" if all(codes) else ""


def _unknown_keys(error, root: dict) -> list[str]:
    where = list(error.absolute_path)
    known = list(error.schema.get("properties", {}))
    patterns = list(error.schema.get("patternProperties", {}))
    extra = [
        key
        for key in error.instance
        if key not in known and not any(re.search(p, str(key)) for p in patterns)
    ]
    section = key_path(where) if where else "the config"
    listing = f" ({section} has: {', '.join(known)})" if known else ""
    return [
        f"{key_path([*where, key])}: unknown key{did_you_mean(key, known)}{listing}"
        for key in extra
    ]


def _alternatives(error, root: dict) -> list[str]:
    """A value that fits none (or several) of the alternatives of a oneOf/anyOf."""
    where = key_path(error.absolute_path)
    options = [_resolve(s, root) for s in error.validator_value]
    if all(set(o) == {"required"} for o in options):  # "exactly one of these keys"
        keys = [" + ".join(o["required"]) for o in options]
        given = [k for o in options for k in o["required"] if k in (error.instance or {})]
        if len(given) > 1:
            return [f"{where}: give only one of {', '.join(keys)}, not both"]
        return [f"{where}: missing key: give one of {', '.join(keys)}"]
    if "is valid under each of" in error.message:
        return [f"{where}: fits more than one of: {'; '.join(accepts(o, root) for o in options)}"]
    deeper = _matching_alternative(error)
    if deeper:
        lines = []
        for sub in deeper:
            lines += describe(sub, root)
        return lines
    wanted = " or ".join(accepts(o, root) for o in options)
    return [f"{where}: {_value(error.instance)} is not allowed here; expected {wanted}"]


def _matching_alternative(error) -> list:
    """The errors inside the one alternative whose type the value has (a mapping given
    where a mapping or null is allowed: what is wrong inside the mapping)."""
    by_branch: dict = {}
    for sub in error.context:
        by_branch.setdefault(sub.relative_schema_path[0], []).append(sub)
    typed = [
        subs
        for subs in by_branch.values()
        if not any(s.validator in ("type", "const", "enum") and not s.relative_path for s in subs)
    ]
    return typed[0] if len(typed) == 1 else []


def _condition(error, root: dict) -> str:
    """For a key required by an if/then, the condition: `` (needed when source is local)``."""
    path = list(error.absolute_schema_path)
    if "then" not in path:
        return ""
    node = root
    index = len(path) - 1 - path[::-1].index("then")
    for part in path[:index]:  # the schema path skips $ref: follow them on the way
        node = (_resolve(node, root) if isinstance(node, dict) else node)[part]
    condition = _resolve(node, root).get("if", {}).get("properties", {})
    said = [f"{k} is {v['const']}" for k, v in condition.items() if "const" in v]
    return f" (needed when {' and '.join(said)})" if said else ""
