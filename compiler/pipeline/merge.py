"""Follow `extends` chains and merge profiles: mappings key by key, the child winning."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler.diagnostics import CompileError, Diagnostic, Mark, did_you_mean
from compiler.pipeline.load import Document, Marked, Path

NOT_INHERITED = ("abstract", "extends")


@dataclass(frozen=True)
class MergedProfile(Marked):
    """A concrete profile after merging its chain; marks point into the file that set a value."""

    name: str
    path: str
    chain: tuple[str, ...]
    data: dict[str, Any]
    value_marks: dict[Path, Mark] = field(repr=False)
    key_marks: dict[Path, Mark] = field(repr=False)


def is_abstract(document: Document) -> bool:
    """Bases say `abstract: true` and emit nothing."""
    return document.data.get("abstract") is True


def extends_chain(name: str, documents: Mapping[str, Document]) -> tuple[str, ...]:
    """`name` and its ancestors, nearest first; raises on unknown names and cycles."""
    chain = [name]
    while True:
        document = documents[chain[-1]]
        parent = document.data.get("extends")
        if parent is None:
            return tuple(chain)
        mark = document.mark(("extends",))
        if parent not in documents:
            hint = did_you_mean(str(parent), documents)
            raise CompileError([Diagnostic(mark, f"unknown profile '{parent}' in extends", hint)])
        if parent in chain:
            cycle = " -> ".join([*chain[chain.index(parent) :], parent])
            raise CompileError([Diagnostic(mark, f"extends cycle: {cycle}")])
        chain.append(parent)


def merge_chain(chain: tuple[str, ...], documents: Mapping[str, Document]) -> MergedProfile:
    """Merge the documents of `chain` (nearest first) into one profile."""
    data: dict[str, Any] = {}
    value_marks: dict[Path, Mark] = {}
    key_marks: dict[Path, Mark] = {}
    for name in reversed(chain):
        document = documents[name]
        layer = {k: v for k, v in document.data.items() if k not in NOT_INHERITED}
        if data:
            _merge_into(data, layer, (), document, value_marks, key_marks)
        else:
            _take_whole(data, layer, document, value_marks, key_marks)
    leaf = documents[chain[0]]
    return MergedProfile(chain[0], leaf.path, chain, data, value_marks, key_marks)


def _take_whole(
    target: dict[str, Any],
    layer: Mapping[str, Any],
    document: Document,
    value_marks: dict[Path, Mark],
    key_marks: dict[Path, Mark],
) -> None:
    """`_merge_into` an empty target, faster: a plain copy, and the document's own marks
    of every path below the layer's keys (the loader marked each node it made)."""
    for key, value in layer.items():
        target[key] = _plain_copy(value)
    value_marks.update((p, m) for p, m in document.value_marks.items() if p and p[0] in layer)
    key_marks.update((p, m) for p, m in document.key_marks.items() if p and p[0] in layer)


def _plain_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain_copy(item) for item in value]
    return value


def _merge_into(
    target: dict[str, Any],
    layer: Mapping[str, Any],
    path: Path,
    document: Document,
    value_marks: dict[Path, Mark],
    key_marks: dict[Path, Mark],
) -> None:
    for key, value in layer.items():
        child = (*path, key)
        key_marks[child] = document.key_marks[child]
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            value_marks[child] = document.value_marks[child]
            _merge_into(old, value, child, document, value_marks, key_marks)
            continue
        target[key] = _copy(value, child, document, value_marks, key_marks)


def _copy(
    value: Any,
    path: Path,
    document: Document,
    value_marks: dict[Path, Mark],
    key_marks: dict[Path, Mark],
) -> Any:
    """A fresh copy of `value`, recording the marks of everything in it."""
    value_marks[path] = document.value_marks[path]
    if isinstance(value, dict):
        copied: dict[str, Any] = {}
        for key, item in value.items():
            child = (*path, key)
            key_marks[child] = document.key_marks[child]
            copied[key] = _copy(item, child, document, value_marks, key_marks)
        return copied
    if isinstance(value, list):
        return [
            _copy(item, (*path, i), document, value_marks, key_marks)
            for i, item in enumerate(value)
        ]
    return value
