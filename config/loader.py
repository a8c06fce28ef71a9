"""Reading a config file: YAML, `${VAR}` expansion, validation, errors that name their path."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from config.schema import Config, cross_reference_errors

M = TypeVar("M", bound=BaseModel)
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ConfigError(Exception):
    """A config that cannot be used; `errors` holds one `path: message` line per problem."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.source = source
        self.errors = errors
        super().__init__(f"{source}: " + "; ".join(errors))


def load_config(path: str | os.PathLike[str]) -> Config:
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(source, [f"cannot read file: {e.__class__.__name__}: {e}"]) from None
    return parse_config(text, source)


def load_section(path: str | os.PathLike[str], name: str, model: type[M]) -> M:
    """One top-level section of a config file, validated on its own: for tools that need only it
    (`tollgate secrets` must work while the rest of the file still refers to unset secrets)."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(source, [f"cannot read file: {e.__class__.__name__}: {e}"]) from None
    errors: list[str] = []
    section = _expand(_parse_yaml(text, source).get(name) or {}, (name,), errors)
    if errors:
        raise ConfigError(source, errors)
    try:
        return model.model_validate(section)
    except ValidationError as e:
        raise ConfigError(source, [_format({**err, "loc": (name, *err["loc"])}) for err in e.errors()]) from None


def _parse_yaml(text: str, source: str) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(source, [f"{where}invalid YAML: {problem}"]) from None
    if not isinstance(raw, dict):
        raise ConfigError(source, ["(top level): expected a mapping of settings"])
    return raw


def parse_config(text: str, source: str = "<config>") -> Config:
    raw = _parse_yaml(text, source)
    errors: list[str] = []
    expanded = _expand(raw, (), errors)
    if errors:
        raise ConfigError(source, errors)
    try:
        config = Config.model_validate(expanded)
    except ValidationError as e:
        raise ConfigError(source, [_format(err) for err in e.errors()]) from None
    problems = cross_reference_errors(config)
    if problems:
        raise ConfigError(source, [f"{format_path(loc)}: {msg}" for loc, msg in problems])
    return config


def _expand(node: Any, path: tuple[str | int, ...], errors: list[str]) -> Any:
    """Fill `${VAR}` references from the environment; an unset variable is an error, not ''."""
    if isinstance(node, dict):
        return {k: _expand(v, (*path, k), errors) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, (*path, i), errors) for i, v in enumerate(node)]
    if isinstance(node, str) and "${" in node:

        def sub(m: re.Match[str]) -> str:
            value = os.environ.get(m.group(1))
            if value is None:
                errors.append(f"{format_path(path)}: environment variable {m.group(1)} is not set")
                return ""
            return value

        return _VAR_RE.sub(sub, node)
    return node


def format_path(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _format(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    if err["type"] == "extra_forbidden":
        msg = "unknown setting (check the spelling)"
    return f"{format_path(tuple(err['loc']))}: {msg}"
