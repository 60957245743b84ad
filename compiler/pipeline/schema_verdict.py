"""A compiled JSON Schema validator (jsonschema-rs) that decides, quickly, that a profile is valid.

python-jsonschema walks every node of a profile in Python: about 0.9 s for a
1,000-service one, where jsonschema-rs takes a few milliseconds. jsonschema-rs only
says "valid" here; a profile it does not call valid is handed to python-jsonschema,
which decides again and words every error (`schema.validate_document`). So messages,
places and hints are python-jsonschema's, and a profile is accepted only when both
would accept it. The two are asked the same question only where they are known to
answer it alike:

- every key and string is printable ASCII (Python's `re` and ECMA-262 regular
  expressions disagree on what `\\s`, `\\d`, `\\w` and `.` match beyond it);
- no number is a whole Decimal such as `8080.0` (python-jsonschema calls it a number
  but never an integer; JSON Schema, and so jsonschema-rs, calls it an integer);
- every `$ref` points inside the schema (nothing is ever fetched);
- the formats are timeoutc's own (`duration`, `request-timeout`), checked by the same
  functions; any other format is not checked, as python-jsonschema is told.

Anything else, including jsonschema-rs being unavailable or refusing the schema, is
left to python-jsonschema alone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from compiler.durations import DurationError

FormatCheck = Callable[[object], bool]


def known_valid(
    instance: Any, schema: Mapping[str, Any] | bool, formats: Mapping[str, FormatCheck]
) -> bool:
    """True only when jsonschema-rs may decide and says `instance` is valid under `schema`."""
    if not isinstance(schema, Mapping) or not comparable(instance):
        return False
    validator = compiled(schema, formats)
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(instance))
    except Exception:  # a value it cannot take (an integer beyond its range): ask the other
        return False


DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"


def meta_valid(schema: Any, formats: Mapping[str, FormatCheck]) -> bool:
    """True only when `schema` is certainly a valid Draft 2020-12 schema, as python-jsonschema's
    `check_schema` would find it: the meta-schema holds (jsonschema-rs), every regular
    expression compiles in Python too, and jsonschema-rs can validate with it."""
    if not isinstance(schema, dict) or schema.get("$schema", DRAFT_2020_12) != DRAFT_2020_12:
        return False
    try:
        import jsonschema_rs
    except ImportError:
        return False
    try:
        if not jsonschema_rs.meta.is_valid(schema):
            return False
    except Exception:
        return False
    return _regexes_compile(schema) and compiled(schema, formats) is not None


def _regexes_compile(schema: Any) -> bool:
    """Every `pattern` and `patternProperties` key compiles with Python's `re`."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = [node.get("pattern")]
            if isinstance(node.get("patternProperties"), dict):
                found += list(node["patternProperties"])
            for pattern in found:
                if isinstance(pattern, str):
                    try:
                        re.compile(pattern)
                    except (re.error, RecursionError, OverflowError):
                        return False
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def compiled(schema: Mapping[str, Any], formats: Mapping[str, FormatCheck]) -> Any:
    """The jsonschema-rs validator of `schema`, built once; None when it cannot decide for it."""
    return _compiled(json.dumps(schema, sort_keys=True), tuple(sorted(formats.items())))


def comparable(instance: Any) -> bool:
    """Whether both validators read every value of `instance` alike (see the module's list)."""
    stack = [instance]
    pop, push = stack.pop, stack.append
    while stack:
        value = pop()
        kind = type(value)
        if kind is str:
            if not (value.isascii() and value.isprintable()):
                return False
        elif kind is dict:
            for key, item in value.items():
                if type(key) is not str or not (key.isascii() and key.isprintable()):
                    return False
                push(item)
        elif kind is list:
            stack.extend(value)
        elif kind is Decimal:
            if not value.is_finite() or value == value.to_integral_value():
                return False
        elif kind is not int and kind is not bool and value is not None:
            return False
    return True


def _formats_in(schema: Any) -> Iterator[str]:
    """Every `format` named in the schema."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found = node.get("format")
            if isinstance(found, str):
                yield found
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _local_refs_only(schema: Any) -> bool:
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in ("$ref", "$dynamicRef"):
                ref = node.get(key)
                if ref is not None and not (isinstance(ref, str) and ref.startswith("#")):
                    return False
            if "$id" in node and node is not schema:
                return False  # an embedded resource: resolution rules differ in detail
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return True


def _as_verdict(check: FormatCheck) -> FormatCheck:
    """A python-jsonschema format check (raises on a bad value) as a yes/no function."""

    def verdict(instance: object) -> bool:
        try:
            return bool(check(instance))
        except (DurationError, ValueError):
            return False

    return verdict


def _always(instance: object) -> bool:
    return True


@cache
def _compiled(schema_text: str, formats: tuple[tuple[str, FormatCheck], ...]) -> Any:
    """The jsonschema-rs validator of a schema, or None when it cannot decide for it."""
    try:
        import jsonschema_rs
    except ImportError:  # no wheel for this platform: python-jsonschema decides alone
        return None
    schema = json.loads(schema_text)
    if not isinstance(schema, dict) or not _local_refs_only(schema):
        return None
    checks: dict[str, FormatCheck] = dict.fromkeys(_formats_in(schema), _always)
    checks.update({name: _as_verdict(check) for name, check in formats})
    try:
        return jsonschema_rs.Draft202012Validator(
            schema, formats=checks, validate_formats=True, offline=True
        )
    except Exception:  # a schema it refuses: python-jsonschema reports or validates it
        return None
