"""What a template sees: the model's objects and attributes, the filters, and plain errors.

docs/templates.md documents exactly what `context_types` and `attributes` list; a test
holds the two together. A wrong guess is an error that says what exists
(`'Dependency' has no attribute 'retry'; it has name, timeouts, ...`), and a model object
is never printed into an output (its repr is no value a consumer could read).
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from functools import cache, cached_property
from json.encoder import encode_basestring_ascii
from typing import Any

import jinja2
from jinja2.utils import missing

from compiler import model
from compiler.diagnostics import did_you_mean
from compiler.pipeline.resolve import class_name


def _is_model_object(value: object) -> bool:
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


_ATTRIBUTES: dict[type, tuple[str, ...]] = {}


def attributes(kind: type) -> tuple[str, ...]:
    """The attributes a template may use on `kind`: its fields (internal ones, left out of
    its repr, aside), then its properties, in the order the class declares them."""
    known = _ATTRIBUTES.get(kind)
    if known is None:
        names = [f.name for f in dataclasses.fields(kind) if f.repr]
        for name, member in vars(kind).items():
            if isinstance(member, property | cached_property) and not name.startswith("_"):
                names.append(name)
        known = _ATTRIBUTES[kind] = tuple(names)
    return known


def _annotation(kind: type, name: str) -> Any:
    member = vars(kind).get(name)
    if isinstance(member, property) and member.fget is not None:
        return typing.get_type_hints(member.fget, vars(model)).get("return")
    if isinstance(member, cached_property):
        return typing.get_type_hints(member.func, vars(model)).get("return")
    return typing.get_type_hints(kind, vars(model))[name]


def _classes_in(annotation: Any) -> list[type]:
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return [annotation]
    return [kind for arg in typing.get_args(annotation) for kind in _classes_in(arg)]


@cache
def context_types() -> tuple[type, ...]:
    """Every class a template can reach from `profile` and `service`, in the order reached."""
    found: list[type] = []
    pending: list[type] = [model.Profile]
    while pending:
        kind = pending.pop(0)
        if kind in found:
            continue
        found.append(kind)
        for name in attributes(kind):
            pending.extend(_classes_in(_annotation(kind, name)))
    return tuple(found)


def type_text(kind: type, name: str) -> str:
    """The annotation of `kind.name` as docs/templates.md writes it (`tuple[Timeout, ...]`)."""
    annotation = _annotation(kind, name)
    text = annotation if isinstance(annotation, str) else typing_text(annotation)
    return text.replace("fractions.", "").replace("compiler.model.", "")


def typing_text(annotation: Any) -> str:
    """`int`, `str | None`, `dict[str, tuple[Timeout, ...]]`."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is None:
        return "None" if annotation is type(None) else annotation.__name__
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return " | ".join(typing_text(a) for a in args)
    inner = ", ".join("..." if a is Ellipsis else typing_text(a) for a in args)
    return f"{origin.__name__}[{inner}]"


_PLAIN = frozenset({str, int, bool, float, type(None)})


class ModelUndefined(jinja2.StrictUndefined):
    """StrictUndefined whose message names what does exist on the object asked."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if obj is missing or self._undefined_hint or not isinstance(name, str):
            return str(super()._undefined_message)
        if _is_model_object(obj):
            kind = type(obj)
            known = attributes(kind)
            hint = did_you_mean(name, known)
            return f"'{kind.__name__}' has no attribute {name!r}; it has {', '.join(known)}" + (
                f" ({hint})" if hint else ""
            )
        if isinstance(obj, Mapping):
            keys = sorted(str(key) for key in obj)
            shown = ", ".join(keys[:20]) + (", ..." if len(keys) > 20 else "")
            return f"no key {name!r} here; the keys are {shown or 'none (it is empty)'}"
        if isinstance(obj, tuple | list):
            return (
                f"a list has no attribute {name!r}; loop over it, or pick an item with "
                f"selectattr('name', 'equalto', {name!r}) | first"
            )
        return f"'{type(obj).__name__}' has no attribute {name!r}"


def finalize(value: object) -> object:
    """Every `{{ ... }}` passes here: a model object without text of its own (a `Mark`
    reads `path:line:col`) is an error, not its repr."""
    if type(value) in _PLAIN:  # nearly every value: no further look
        return value
    if _is_model_object(value) and type(value).__str__ is object.__str__:
        raise jinja2.TemplateRuntimeError(_not_text(value))
    return value


def _not_text(value: object) -> str:
    kind = type(value)
    return (
        f"a {kind.__name__} cannot be written out as it is; "
        f"use one of its attributes: {', '.join(attributes(kind))}"
    )


def _json_default(value: object) -> object:
    if _is_model_object(value):
        raise TypeError(_not_text(value))
    raise TypeError(f"a {type(value).__name__} cannot be written as JSON")


def to_json(value: object, indent: int | None = None) -> str:
    """A complete JSON value (ASCII only), so no string can break the document around it."""
    return json.dumps(
        value, ensure_ascii=True, allow_nan=False, indent=indent, default=_json_default
    )


def quoted(value: object) -> str:
    """A double-quoted string that YAML and Python both read back as exactly `value`:
    `json.dumps(str(value))`, ASCII only."""
    if type(value) is not str:
        if _is_model_object(value):
            raise TypeError(_not_text(value))
        value = str(value)
    return encode_basestring_ascii(value)


def timeouts_class_name(dependency: str) -> str:
    """The `class_name` filter: memoized for names; anything else a template passes goes
    to the function itself, so its error is the function's own, not the memo's."""
    return class_name(dependency) if type(dependency) is str else class_name.__wrapped__(dependency)


FILTERS: dict[str, Callable[..., str]] = {
    "yaml_str": quoted,
    "py_str": quoted,
    "tojson": to_json,
    "class_name": timeouts_class_name,
}
