"""Compare a declared Cloud Run service (out/) with its export, by meaning, field by field.

The walk follows the declared document, so whatever a template declares is compared:
mappings key by key, lists of named items (env vars) by name, other lists by position,
scalars by meaning (`"300"` is `300`, `"true"` is `true`). A declared field that is
missing or different on the deployed side is drift; so is a deployed item of a declared
list that out/ lacks (an extra env var). `server_fields` says what is never drift.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from compiler.diagnostics import Mark
from compiler.durations import format_signed_seconds
from compiler.pipeline.load import Document
from compiler.review.drift.server_fields import default_value, managed_reason

Kind = Literal["changed", "missing", "undeclared", "not-deployed", "not-declared"]
SERVICE_FIELD = "(service)"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?[0-9]{1,30}(?:\.[0-9]{1,30})?")
_LARGEST_SECONDS = Decimal(10) ** 12
MAX_SHOWN = 200  # characters of one value in a row: an export may hold megabytes


@dataclass(frozen=True)
class Named:
    """An item of a list of named items (`env`, `containers`), found by its name."""

    name: str


Step = str | int | Named
FieldPath = tuple[Step, ...]


class _Absent:
    """No value on that side."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class Difference:
    """One field whose declared and deployed values differ; ABSENT where there is none."""

    path: FieldPath
    declared: Any
    deployed: Any
    deployed_at: Mark

    @property
    def field(self) -> str:
        """The field as printed: `spec.template.spec.containers[0].env[AUTH_TIMEOUT_S]`."""
        return field_text(self.path)

    @property
    def kind(self) -> Kind:
        """changed, missing (declared only) or undeclared (deployed only)."""
        if self.deployed is ABSENT:
            return "missing"
        if self.declared is ABSENT:
            return "undeclared"
        return "changed"


def field_text(path: FieldPath) -> str:
    """Keys joined by dots; list items, and keys with dots or slashes, in brackets."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif isinstance(step, Named):
            text += f"[{step.name}]"
        elif _PLAIN_KEY.fullmatch(step):
            text += f".{step}" if text else step
        else:
            text += f"[{step}]"
    return text


def canonical(value: Any) -> Any:
    """What a scalar means: numbers as Decimal, booleans as 'true'/'false', text as is."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, str):
        if _NUMBER.fullmatch(value):
            return Decimal(value)
        if value.lower() in ("true", "false"):
            return value.lower()
    return value


def same(declared: Any, deployed: Any) -> bool:
    """Whether two scalars mean the same (`300` and `"300"`, `true` and `"true"`)."""
    return bool(canonical(declared) == canonical(deployed))


def is_seconds(path: FieldPath) -> bool:
    """`timeoutSeconds`, `periodSeconds`, and env vars whose name ends in `_S`."""
    last = path[-1] if path else ""
    if isinstance(last, Named):
        return last.name.endswith("_S")
    return isinstance(last, str) and last.endswith("Seconds")


def seconds_text(value: Decimal) -> str:
    """Exact seconds with at least one fractional digit, as everywhere else: `5.0s`."""
    if abs(value) < _LARGEST_SECONDS and (value * 1000) % 1 == 0:
        ms = int(value * 1000)
        return format_signed_seconds(ms)
    return f"{value:f}s"


def display(path: FieldPath, value: Any) -> str | None:
    """A value as a report shows it, at most MAX_SHOWN characters; None for ABSENT."""
    text = _shown(path, value)
    if text is not None and len(text) > MAX_SHOWN:
        return f"{text[:MAX_SHOWN]}... ({len(text) - MAX_SHOWN} more characters)"
    return text


def _shown(path: FieldPath, value: Any) -> str | None:
    if value is ABSENT:
        return None
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=_json_scalar, separators=(", ", ": "))
    meaning = canonical(value)
    if isinstance(meaning, Decimal) and is_seconds(path):
        return seconds_text(meaning)
    if value is None:
        return "null"
    return _json_scalar(value) if not isinstance(value, str) else value


def _json_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)


def _is_named(items: list[Any]) -> bool:
    return bool(items) and all(
        isinstance(item, dict) and isinstance(item.get("name"), str) for item in items
    )


class _Walker:
    """Collects the differences below one declared document."""

    def __init__(self, deployed: Document) -> None:
        self.deployed = deployed
        self.found: list[Difference] = []

    def add(self, path: FieldPath, declared: Any, deployed: Any, real: tuple[Any, ...]) -> None:
        self.found.append(Difference(path, declared, deployed, self.deployed.mark(real)))

    def walk(self, declared: Any, deployed: Any, path: FieldPath, real: tuple[Any, ...]) -> None:
        if managed_reason(field_text(path), deployed):
            return
        if isinstance(declared, dict):
            if isinstance(deployed, dict) or deployed is ABSENT:
                for key, value in declared.items():
                    below = deployed.get(key, ABSENT) if deployed is not ABSENT else ABSENT
                    self.walk(value, below, (*path, key), (*real, key))
            else:
                self.add(path, declared, deployed, real)
        elif isinstance(declared, list):
            if isinstance(deployed, list) or deployed is ABSENT:
                self.walk_list(declared, [] if deployed is ABSENT else deployed, path, real)
            else:
                self.add(path, declared, deployed, real)
        elif deployed is ABSENT:
            default = default_value(field_text(path))
            if default is None or not same(declared, default):
                self.add(path, declared, ABSENT, real)
        elif isinstance(deployed, dict | list) or not same(declared, deployed):
            self.add(path, declared, deployed, real)

    def walk_list(
        self, declared: list[Any], deployed: list[Any], path: FieldPath, real: tuple[Any, ...]
    ) -> None:
        if not _is_named(declared):
            for index, item in enumerate(declared):
                other = deployed[index] if index < len(deployed) else ABSENT
                self.walk(item, other, (*path, index), (*real, index))
            for index in range(len(declared), len(deployed)):
                self.add((*path, index), ABSENT, deployed[index], (*real, index))
            return
        by_name = {
            item["name"]: index
            for index, item in enumerate(deployed)
            if isinstance(item, dict) and isinstance(item.get("name"), str)
        }
        for item in declared:
            found = by_name.get(item["name"])
            other = deployed[found] if found is not None else ABSENT
            spot = (*real, found) if found is not None else real
            self.walk_named(item, other, (*path, Named(item["name"])), spot)
        names = {item["name"] for item in declared}
        for index, item in enumerate(deployed):
            name = item.get("name") if isinstance(item, dict) else None
            if name not in names:
                step: Step = Named(name) if isinstance(name, str) else index
                rest = _without_name(item)
                if isinstance(rest, dict) and set(rest) == {"value"}:
                    self.add((*path, step), ABSENT, rest["value"], (*real, index, "value"))
                else:
                    self.add((*path, step), ABSENT, rest, (*real, index))

    def walk_named(self, item: dict[str, Any], other: Any, path: FieldPath, real: Any) -> None:
        """An env var `{name, value}` is compared as its value; other items key by key."""
        rest = _without_name(item)
        deployed = _without_name(other)
        if set(rest) != {"value"}:
            self.walk(rest, deployed, path, real)
        elif isinstance(deployed, dict) and set(deployed) <= {"value"}:
            value = deployed.get("value", "")  # the API leaves an empty value out
            self.walk(rest["value"], value, path, (*real, "value"))
        else:
            self.add(path, rest["value"], deployed, real)


def _without_name(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k != "name"}
    return item


def differences(declared: Document, deployed: Document) -> list[Difference]:
    """Every declared field that the export lacks or holds with another meaning."""
    walker = _Walker(deployed)
    walker.walk(declared.data, deployed.data, (), ())
    return walker.found


def order(path: FieldPath) -> int:
    """Timeout env vars first, then probe settings, then the rest."""
    if path and isinstance(path[-1], Named) and path[-1].name.endswith("_TIMEOUT_S"):
        return 0
    if any(isinstance(step, str) and step.endswith("Probe") for step in path):
        return 1
    return 2


@dataclass(frozen=True)
class Row:
    """One line of the drift report."""

    environment: str
    service: str
    cloud_run_name: str
    field: str
    kind: Kind
    declared: str | None
    deployed: str | None
    declared_at: Mark | None
    deployed_at: Mark | None


def sorted_differences(found: Sequence[Difference]) -> Iterator[Difference]:
    """`found` with timeout env vars first and probe settings next, else as declared."""
    ranked = sorted(enumerate(found), key=lambda pair: (order(pair[1].path), pair[0]))
    return (difference for _, difference in ranked)
