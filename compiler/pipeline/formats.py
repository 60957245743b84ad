"""Verify an output by its format, chosen by its extension: it must parse as what it claims.

YAML (every document), JSON (strict: no duplicate keys, no NaN), Python (compiles), TOML
(stdlib tomllib), env files (`NAME=value` lines in the subset that Docker, python-dotenv
and systemd read alike); any other extension is text and taken as it is.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable
from typing import Any

import yaml

FormatCheck = Callable[[str], list[str]]
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
ENV_UNSAFE = frozenset(" \t\"'$#\\`")


def env_pairs(text: str) -> tuple[dict[str, str], list[str]]:
    """The `NAME=value` pairs of an env file, and the lines that readers would disagree on."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not ENV_NAME.fullmatch(name) or any(c in ENV_UNSAFE for c in value):
            return pairs, [f"has a line that env-file readers disagree on: {line!r}"]
        if name in pairs:
            return pairs, [f"sets {name} twice; env-file readers disagree on which one wins"]
        pairs[name] = value
    return pairs, []


def _env(text: str) -> list[str]:
    return env_pairs(text)[1]


def _yaml(text: str) -> list[str]:
    for _ in yaml.load_all(text, Loader=yaml.CSafeLoader):
        pass
    return []


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key {key!r}")
        found[key] = value
    return found


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _json(text: str) -> list[str]:
    json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    return []


def _python(text: str) -> list[str]:
    compile(text, "<output>", "exec", dont_inherit=True)
    return []


def _toml(text: str) -> list[str]:
    tomllib.loads(text)
    return []


FORMAT_CHECKS: dict[str, FormatCheck] = {
    "yaml": _yaml,
    "yml": _yaml,
    "json": _json,
    "py": _python,
    "toml": _toml,
    "env": _env,
}


def format_check(name: str) -> FormatCheck | None:
    """The check for an output named `name`, by its extension; None for plain text."""
    return FORMAT_CHECKS.get(name.rsplit(".", 1)[-1]) if "." in name else None
