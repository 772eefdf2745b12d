"""Config files read strictly: YAML errors with file, line and column; duplicate keys refused.

Snakemake reads the config files itself (``--configfile``, or the Snakefile's
``configfile:``) with a loader where a repeated key silently wins over the first, and
reports a YAML syntax error without the file or the line. The Snakefile reads the same
files again here, before it validates them, so that both name the file and the line::

    config.yaml, line 12, column 3: key 'metrics' appears twice in this mapping (first on
    line 9): delete one of them

A config file given on the command line with a syntax error stops Snakemake before the
Snakefile runs; ``python -m bayling_pipeline.workflow.validation FILE`` then says where.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from bayling_pipeline.workflow.checks import ConfigError


class ConfigFileError(ConfigError):
    """A config file that is not valid YAML, or repeats a key."""


class StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key repeated within one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            self.flatten_mapping(node)  # merge keys (<<) first: they may be overridden
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.setdefault(key, key_node)
                except TypeError:  # an unhashable key: let PyYAML report it as usual
                    continue
                if first is not key_node:
                    mark = key_node.start_mark
                    raise ConfigFileError(
                        f"{mark.name}, line {mark.line + 1}, column {mark.column + 1}: key "
                        f"{key!r} appears twice in this mapping (first on line "
                        f"{first.start_mark.line + 1}); YAML would silently keep the last: "
                        "delete one of them"
                    )
        return super().construct_mapping(node, deep=deep)


# what PyYAML's words usually mean, as what to do
SYNTAX_HINTS = (
    ("'\\t'", "; indent with spaces, not tabs"),
    ("<block end>", "; check this line's indentation: the keys of one section start in one column"),
    (
        "mapping values are not allowed",
        "; quote a value that contains ': ', or check the indentation",
    ),
    (
        "expected ',' or ']'",
        "; close the [ ] list on its line, or quote an item that contains ': '",
    ),
    ("expected ',' or '}'", "; close the { } mapping on its line, or quote a value with ': '"),
    ("quoted scalar", "; a quote is not closed"),
)


def _syntax_error(path: Path, error: yaml.YAMLError) -> ConfigFileError:
    """A YAML error as one line naming the file, the line and the column, and the problem."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark else str(path)
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{problem} ({context})" if context else problem
    hint = next((h for clue, h in SYNTAX_HINTS if clue in f"{problem} {context}"), "")
    return ConfigFileError(f"{where}: not valid YAML: {detail}{hint}")


def read_config_file(path: str | Path) -> dict:
    """The mapping in config file ``path``, read strictly (ConfigFileError otherwise)."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as stream:
            data = yaml.load(stream, Loader=StrictLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise _syntax_error(path, error) from None
    except UnicodeDecodeError as error:
        raise ConfigFileError(
            f"{path}, byte {error.start}: not UTF-8 text; save the file as UTF-8"
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"{path}: a config file is a mapping of sections (corpora:, testsets:, ...), "
            f"not a {type(data).__name__}"
        )
    return data


def config_file_errors(paths) -> list[str]:
    """The problem of every config file in ``paths`` that is not strict, valid YAML."""
    errors = []
    for path in paths:
        try:
            read_config_file(path)
        except ConfigFileError as error:
            errors.append(str(error))
        except OSError as error:
            errors.append(f"{path}: cannot be read: {error.strerror}")
    return errors


def checked_configfile(path: str) -> str:
    """``path``, once read strictly (for the Snakefile's ``configfile:``, which would report
    a syntax error without file or line); a missing file is left to Snakemake to report."""
    if Path(path).exists():
        read_config_file(path)
    return path


def merge_config(into: dict, overlay: dict) -> dict:
    """Snakemake's merge of config files: nested sections key by key, the later file wins."""
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge_config(into[key], value)
        else:
            into[key] = value
    return into
