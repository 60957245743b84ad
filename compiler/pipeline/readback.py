"""Read a rendered YAML output back: exactly what `yaml.load(text, CSafeLoader)` gives, faster.

`yaml.load` spends most of its time in PyYAML's Python constructor and resolver, once
per scalar. Here the C parser's events are assembled directly, and each distinct plain
scalar is resolved and constructed once (by PyYAML's own SafeLoader, so the YAML 1.1
rules are PyYAML's: `yes` is True, `0777` an int, `"5.0"` a string). Anything this
short path does not handle (tags, anchors, aliases, merge keys, a non-scalar key, a
second document, any error) is handed to `yaml.load` itself, so results and exceptions
are always PyYAML's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

MAX_MEMO = 100_000
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"
_safe = yaml.SafeLoader("")  # used only for its resolver and scalar constructors
_scalars: dict[tuple[str, tuple[bool, bool]], Any] = {}


class _Unhandled(Exception):
    """The short path does not handle this document; `yaml.load` will."""


def load_yaml(text: str) -> Any:
    """`yaml.load(text, Loader=yaml.CSafeLoader)`, same value, same exceptions."""
    try:
        return _assemble(text)
    except Exception:  # _Unhandled, or an error yaml.load raises again, identically
        return yaml.load(text, Loader=yaml.CSafeLoader)


def _scalar(value: str, implicit: tuple[bool, bool]) -> Any:
    """The constructed value of an untagged scalar, as PyYAML's SafeLoader makes it."""
    key = (value, implicit)
    try:
        return _scalars[key]
    except KeyError:
        pass
    tag = _safe.resolve(yaml.ScalarNode, value, implicit)  # type: ignore[no-untyped-call]
    if tag == _MERGE:
        raise _Unhandled("merge key")
    result = _safe.construct_object(yaml.ScalarNode(tag, value))
    _safe.constructed_objects.clear()  # the loader remembers every node it built
    if len(_scalars) >= MAX_MEMO:
        _scalars.clear()
    _scalars[key] = result
    return result


def _assemble(text: str) -> Any:
    """Build the document from parser events; raise `_Unhandled` on anything unusual."""
    scalar_event, mapping_start, sequence_start = (
        yaml.ScalarEvent,
        yaml.MappingStartEvent,
        yaml.SequenceStartEvent,
    )
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    skipped = (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)
    containers: list[Any] = []
    keys: list[Any] = []
    root: Any = None
    documents = 0
    events: Iterator[Any] = yaml.parse(text, Loader=yaml.CSafeLoader)
    for event in events:
        kind = type(event)
        if kind is scalar_event:
            if event.tag is not None or event.anchor is not None:
                raise _Unhandled("tag or anchor")
            value: Any = _scalar(event.value, event.implicit)
        elif kind is mapping_start or kind is sequence_start:
            if event.tag is not None or event.anchor is not None:
                raise _Unhandled("tag or anchor")
            value = {} if kind is mapping_start else []
        elif kind in ends:
            containers.pop()
            keys.pop()
            continue
        elif kind is yaml.DocumentStartEvent:
            documents += 1
            if documents > 1:
                raise _Unhandled("more than one document")
            continue
        elif kind in skipped:
            continue
        else:
            raise _Unhandled("alias")
        if not containers:
            root = value
        else:
            top = containers[-1]
            if type(top) is dict:
                if keys[-1] is _NO_KEY:
                    if kind is not scalar_event:
                        raise _Unhandled("non-scalar key")
                    keys[-1] = value
                    continue
                top[keys[-1]] = value
                keys[-1] = _NO_KEY
            else:
                top.append(value)
        if kind is not scalar_event:
            containers.append(value)
            keys.append(_NO_KEY)
    return root


_NO_KEY = object()
