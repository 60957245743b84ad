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


_SCALAR, _MAPPING, _SEQUENCE = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_SKIPPED = (yaml.StreamStartEvent, yaml.StreamEndEvent, yaml.DocumentEndEvent)
_NO_KEY = object()


def _assemble(text: str) -> Any:
    """Build the document from parser events; raise `_Unhandled` on anything unusual."""
    loader = yaml.CSafeLoader(text)
    try:
        next_event: Any = loader.get_event
        outer: list[tuple[Any, Any]] = []  # the enclosing containers and their pending keys
        container: Any = None
        key: Any = _NO_KEY
        root: Any = None
        documents = 0
        while (event := next_event()) is not None:
            kind = type(event)
            if kind is _SCALAR or kind is _MAPPING or kind is _SEQUENCE:
                if event.tag is not None or event.anchor is not None:
                    raise _Unhandled("tag or anchor")
                if kind is _SCALAR:
                    value: Any = _scalar(event.value, event.implicit)
                else:
                    value = {} if kind is _MAPPING else []
                if container is None:
                    root = value
                elif type(container) is dict:
                    if key is _NO_KEY:
                        if kind is not _SCALAR:
                            raise _Unhandled("non-scalar key")
                        key = value
                        continue
                    container[key] = value
                    key = _NO_KEY
                else:
                    container.append(value)
                if kind is not _SCALAR:
                    outer.append((container, key))
                    container, key = value, _NO_KEY
            elif kind in _ENDS:
                container, key = outer.pop()
            elif kind is yaml.DocumentStartEvent:
                documents += 1
                if documents > 1:
                    raise _Unhandled("more than one document")
            elif kind not in _SKIPPED:
                raise _Unhandled("alias")
        return root
    finally:
        loader.dispose()
