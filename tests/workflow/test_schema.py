"""The config schema documents every key, and gives every optional key a default."""

import pytest
import yaml
from conftest import ROOT

SCHEMA = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())


def properties(node, where="config"):
    """Yield (path, property schema, required) for every property in the schema."""
    if isinstance(node, dict):
        required = set(node.get("required", []))
        # keys that one alternative (oneOf) or one condition (allOf: if/then) requires
        for alternative in node.get("oneOf", []) + [
            c.get("then", {}) for c in node.get("allOf", [])
        ]:
            required |= set(alternative.get("required", []))
        for name, sub in node.get("properties", {}).items():
            yield f"{where}.{name}", sub, name in required
            yield from properties(sub, f"{where}.{name}")
        for key in ("additionalProperties", "items"):
            if isinstance(node.get(key), dict):
                yield from properties(node[key], f"{where}.<{key}>")
        for key in ("oneOf", "allOf"):
            for index, sub in enumerate(node.get(key, [])):
                yield from properties(sub, f"{where}.<{key}{index}>")
        for name, sub in node.get("$defs", {}).items():
            yield from properties(sub, f"$defs.{name}")


ALL = list(properties(SCHEMA))


def test_schema_has_many_properties():
    assert len(ALL) > 60


@pytest.mark.parametrize("path,node,required", ALL, ids=[p for p, _, _ in ALL])
def test_every_key_is_described_and_optional_keys_have_defaults(path, node, required):
    ref = node.get("$ref", "")
    target = SCHEMA["$defs"][ref.split("/")[-1]] if ref.startswith("#/$defs/") else {}
    assert node.get("description") or target.get("description"), f"{path} has no description"
    if not required and not path.endswith(("package", "file", "path", "repo", "revision")):
        assert "default" in node, f"{path} is optional but has no default"
