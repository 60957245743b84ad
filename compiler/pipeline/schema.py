"""Validate one profile file against schemas/profile.schema.json, errors at their key or value."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cache
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, Protocol, cast

from compiler import cloudrun
from compiler.diagnostics import MAX_ERRORS, CompileError, Diagnostic, Mark, did_you_mean
from compiler.durations import DURATION_TEXT, DurationError, parse_duration_ms
from compiler.files import read_limited
from compiler.pipeline.load import Document
from compiler.pipeline.schema_verdict import known_valid, meta_valid
from compiler.retries import MAX_BACKOFF_MS

if TYPE_CHECKING:  # python-jsonschema is imported only when a profile needs its messages
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import ValidationError

_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]+\Z")
YAML11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n", "Yes", "No", "On", "Off"})

_BOUNDS = {
    "minimum": "at least",
    "maximum": "at most",
    "exclusiveMinimum": "greater than",
    "exclusiveMaximum": "less than",
}
SCHEMA_FILE = FsPath("schemas") / "profile.schema.json"
BUILTIN_SCHEMA = FsPath(__file__).resolve().parent.parent / "data" / SCHEMA_FILE


def schema_file(root: FsPath) -> FsPath:
    """The repository's schema file, or timeoutc's own when the repository has none."""
    file = root / SCHEMA_FILE
    return file if file.exists() or file.is_symlink() else BUILTIN_SCHEMA


class SchemaValidator(Protocol):
    """What validating a profile needs: the schema, and every error of an instance."""

    @property
    def schema(self) -> Mapping[str, Any] | bool: ...

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]: ...


class Schema:
    """A profile schema; its python-jsonschema validator is built the first time it is asked."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.schema: Mapping[str, Any] | bool = schema

    def iter_errors(self, instance: Any) -> Iterator[ValidationError]:
        """python-jsonschema's errors of `instance`."""
        assert isinstance(self.schema, Mapping)
        return validator_for(self.schema).iter_errors(instance)


def validators_for(root: FsPath) -> list[Schema]:
    """The repository's schema, and timeoutc's own when they differ (or when it has none).

    The repository's schema is what editors read and may add local rules; timeoutc's
    own is the contract every later stage relies on, so a looser or older repository
    schema can never let a value of the wrong type through.
    """
    own = read_schema_file(BUILTIN_SCHEMA)
    file = schema_file(root)
    if file == BUILTIN_SCHEMA:
        return [Schema(own)]
    theirs = read_schema_file(file)
    return [Schema(theirs)] + ([Schema(own)] if theirs != own else [])


def _is_duration(instance: object) -> bool:
    if isinstance(instance, str) and DURATION_TEXT.fullmatch(instance):
        parse_duration_ms(instance)
    return True


def _is_backoff_duration(instance: object) -> bool:
    if (
        isinstance(instance, str)
        and DURATION_TEXT.fullmatch(instance)
        and parse_duration_ms(instance) > MAX_BACKOFF_MS
    ):
        raise DurationError(f"backoff '{instance}' is more than 1h")
    return True


def _is_request_timeout(instance: object) -> bool:
    if not isinstance(instance, str) or not DURATION_TEXT.fullmatch(instance):
        return True
    ms = parse_duration_ms(instance)
    if ms % 1000:
        raise DurationError(f"request_timeout '{instance}' must be whole seconds")
    if ms > cloudrun.MAX_REQUEST_TIMEOUT_S * 1000:
        raise DurationError(f"request_timeout '{instance}' is above Cloud Run's limit of 3600s")
    return True


FORMAT_CHECKS = {
    "duration": _is_duration,
    "backoff": _is_backoff_duration,
    "request-timeout": _is_request_timeout,
}


def read_schema(root: FsPath) -> dict[str, Any]:
    """The repository's profile schema (or timeoutc's own, when it has none), as JSON."""
    return read_schema_file(schema_file(root))


def read_schema_file(file: FsPath) -> dict[str, Any]:
    """A profile schema, as JSON; errors name it as the repository's schema file."""
    raw = read_limited(file, SCHEMA_FILE.as_posix())
    try:
        schema: dict[str, Any] = json.loads(raw.decode("utf-8"))
        if not meta_valid(schema, FORMAT_CHECKS):
            from jsonschema import Draft202012Validator

            Draft202012Validator.check_schema(schema)
    except (OSError, ValueError) as exc:
        message = f"cannot read: {exc}"
        raise CompileError([Diagnostic(Mark(SCHEMA_FILE.as_posix()), message)]) from None
    except Exception as exc:  # jsonschema's SchemaError, or anything a bad schema raises
        raise CompileError(
            [Diagnostic(Mark(SCHEMA_FILE.as_posix()), f"not a valid JSON Schema: {exc}")]
        ) from None
    return schema


def _end_anchored(pattern: str) -> str:
    """`pattern` with each `$` as `\\Z`: Python's `$` also matches before a final newline."""
    out: list[str] = []
    escaped = in_class = False
    for char in pattern:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "$" and not in_class:
            char = r"\Z"
        out.append(char)
    return "".join(out)


@cache
def _ecma_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_end_anchored(pattern))


def _pattern(
    validator: Any, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """`pattern` as JSON Schema (ECMA-262) reads it: `'name\\n'` does not match `^[a-z]+$`."""
    from jsonschema.exceptions import ValidationError

    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _python_validator() -> tuple[type[Draft202012Validator], FormatChecker]:
    """python-jsonschema's Draft 2020-12 validator with ECMA-262 `pattern`, and its formats."""
    from jsonschema import Draft202012Validator, FormatChecker, validators

    formats = FormatChecker(formats=())
    for name, check in FORMAT_CHECKS.items():
        formats.checks(name, raises=DurationError)(check)
    extended = validators.extend(Draft202012Validator, {"pattern": _pattern})  # type: ignore[no-untyped-call]
    return cast(type[Draft202012Validator], extended), formats


@cache
def _validator(schema_text: str) -> Draft202012Validator:
    kind, formats = _python_validator()
    return kind(json.loads(schema_text), format_checker=formats)


def validator_for(schema: Mapping[str, Any]) -> Draft202012Validator:
    """A compiled validator, built once per schema."""
    return _validator(json.dumps(schema, sort_keys=True))


def validate_document(document: Document, validator: SchemaValidator) -> list[Diagnostic]:
    """Every schema error of `document`, each at the key or value it concerns."""
    found: list[Diagnostic] = []
    for error in validator.iter_errors(document.data):
        if len(found) >= MAX_ERRORS:
            found.append(
                Diagnostic(Mark(document.path), f"too many errors; stopped after {MAX_ERRORS}")
            )
            break
        diagnosed = list(itertools.islice(_diagnose(error, document), MAX_ERRORS))
        if not diagnosed:  # never drop a schema error, even one no branch above words well
            path = tuple(error.absolute_path)
            message = f"{_describe_path(path)}: {_plain(error.message)}"
            diagnosed = [Diagnostic(document.mark(path), message)]
        found.extend(diagnosed)
    return found


def raise_for_schema(document: Document, validator: SchemaValidator) -> None:
    """Raise `CompileError` when `document` breaks the schema.

    jsonschema-rs decides first (`schema_verdict`); python-jsonschema runs only on a
    document that it does not call valid, and then decides and words every error.
    """
    if known_valid(document.data, validator.schema, FORMAT_CHECKS):
        return
    try:
        errors = validate_document(document, validator)
    except CompileError:
        raise
    except Exception as exc:  # e.g. a $ref the schema cannot resolve: the schema's fault
        where = Mark(SCHEMA_FILE.as_posix())
        message = f"cannot validate {document.path} with this schema: {exc}"
        raise CompileError([Diagnostic(where, message)]) from None
    if errors:
        raise CompileError(errors)


def _diagnose(error: ValidationError, document: Document) -> Iterator[Diagnostic]:
    path = tuple(error.absolute_path)
    name = _describe_path(path)
    kind = error.validator
    if kind == "additionalProperties" and isinstance(error.instance, dict):
        known = _schema(error).get("properties", {})
        for key in error.instance:
            if key not in known:
                yield Diagnostic(
                    document.key_mark((*path, key)),
                    f"unknown key '{key}' in {name}",
                    did_you_mean(key, known),
                )
        return
    if len(error.absolute_schema_path) > 1 and error.absolute_schema_path[-2] == "propertyNames":
        yield _property_name(error, document, path, str(error.instance))
        return
    mark = document.mark(path)
    if kind == "format" and isinstance(error.cause, DurationError):
        yield Diagnostic(mark, str(error.cause))
    elif kind == "type":
        yield _type_error(error, mark, name)
    elif kind == "oneOf":
        yield from _one_of(error, document, mark, name)
    elif kind == "pattern" and isinstance(error.instance, str) and not error.instance.strip():
        yield Diagnostic(mark, f"{name} must not be {'blank' if error.instance else 'empty'}")
    elif kind == "pattern":
        title = _schema(error).get("title", "value")
        hint = _pattern_hint(_schema(error))
        yield Diagnostic(mark, f"invalid {title.lower()} {_show(error.instance)} for {name}", hint)
    elif kind in _BOUNDS:
        yield Diagnostic(
            mark,
            f"{name} must be {_BOUNDS[kind]} {error.validator_value}, not {_show(error.instance)}",
        )
    elif kind == "enum":
        choices = [str(choice) for choice in _schema(error).get("enum", ())]
        hint = did_you_mean(str(error.instance), choices)
        yield Diagnostic(
            mark, f"{name} must be one of {', '.join(choices)}, not {_show(error.instance)}", hint
        )
    elif kind == "required":
        yield Diagnostic(mark, f"{name}: {error.message}")
    elif kind in ("minLength", "minItems") and error.instance in ("", []):
        yield Diagnostic(mark, f"{name} must not be empty")
    else:
        yield Diagnostic(mark, f"{name}: {_plain(error.message)}")


def _property_name(
    error: ValidationError, document: Document, parent: tuple[Any, ...], key: str
) -> Diagnostic:
    """A key whose name breaks `propertyNames`: enum (rule ids) or pattern (names)."""
    mark = document.key_mark((*parent, key))
    rule = _schema(error)
    enum = rule.get("enum")
    if enum:
        where = _describe_path(parent)
        return Diagnostic(mark, f"unknown key '{key}' in {where}", did_you_mean(key, enum))
    title = str(rule.get("title", "name")).lower()
    limit = rule.get("maxLength")
    if limit and len(key) > limit:
        return Diagnostic(mark, f"{title} '{key}' is longer than {limit} characters")
    return Diagnostic(mark, f"invalid {title} {_show(key)}", _pattern_hint(rule))


def _type_error(error: ValidationError, mark: Mark, name: str) -> Diagnostic:
    expected = error.validator_value
    expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
    got = error.instance
    hint = ""
    if expected == "boolean" and isinstance(got, str) and got in YAML11_BOOLEANS:
        hint = "YAML 1.2 reads this as a string; write true or false"
    elif expected in ("number", "integer") and isinstance(got, str) and _DECIMAL_COMMA.match(got):
        hint = f"use a dot as the decimal separator: {got.replace(',', '.')}"
    elif expected in ("number", "integer") and isinstance(got, str):
        hint = "write a plain number without quotes or leading zeros"
    elif isinstance(got, int | Decimal) and _schema(error).get("format") == "duration":
        hint = "add a unit, e.g. 3s"
    article = "an" if expected_text[0] in "aeiou" else "a"
    return Diagnostic(mark, f"{name} must be {article} {expected_text}, not {_show(got)}", hint)


def _one_of(
    error: ValidationError, document: Document, mark: Mark, name: str
) -> Iterator[Diagnostic]:
    """A timeout is either a duration or `{fixed: D}`: report against the branch meant."""
    instance = error.instance
    if isinstance(instance, dict | str):
        meant = [e for e in error.context or () if e.validator != "type" or e.relative_path]
        for sub in meant:
            yield from _diagnose(sub, document)
        if meant:
            return
    forms = "3s, or {fixed: 3s}"
    if _is_backoff(tuple(error.absolute_path)):
        forms = "200ms, or {initial: 100ms, max: 1s}"
    yield Diagnostic(mark, f"{name} must be a duration such as {forms}, not {_show(instance)}")


def _is_backoff(path: tuple[Any, ...]) -> bool:
    """Whether `path` is a dependency's `backoff` (else a `oneOf` is about a timeout)."""
    return path[-2:] != ("timeouts", "backoff") and path[-1:] == ("backoff",)


def _schema(error: ValidationError) -> Mapping[str, Any]:
    return error.schema if isinstance(error.schema, Mapping) else {}


def _pattern_hint(schema: Mapping[str, Any]) -> str:
    if schema.get("format") == "duration" or schema.get("title") == "duration":
        return "expected a number and a unit (ms, s, m or h), e.g. 250ms, 1.5s, 2m"
    examples = schema.get("examples")
    pattern = schema.get("pattern", "")
    if examples:
        return f"expected {pattern}, e.g. {examples[0]}"
    return f"expected {pattern}"


def _describe_path(path: tuple[Any, ...]) -> str:
    if not path:
        return "the profile"
    return "'" + ".".join(str(p) for p in path) + "'"


def _show(value: Any) -> str:
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        quoted = value.replace("\\", "\\\\").replace("'", "\\'")
        return f"'{quoted}'"  # invisible characters are escaped when the line is printed
    return str(value)


def _plain(message: str) -> str:
    return message.replace("Decimal('", "").replace("')", "")
