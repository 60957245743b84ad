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


def parent_of(document: Document) -> Any:
    """The name a profile extends, or None."""
    return document.data.get("extends")


def extends_chain(name: str, documents: Mapping[str, Document]) -> tuple[str, ...]:
    """`name` and its ancestors, nearest first; raises on unknown names and cycles."""
    chains = Chains(documents)
    errors = chains.errors_reaching(name)
    if errors:
        raise CompileError(errors)
    return chains.chain(name)


CYCLE_NAMES_SHOWN = 8  # a cycle of 10,000 profiles is named by its ends


class Chains:
    """Every profile's `extends` link, checked once for all profiles: each profile is
    visited once, so the time is linear in their number, and a cycle is found in one pass.

    A broken link (an unknown parent, a cycle) is reported once, at the `extends` that
    breaks; the profiles below it are not whole and report nothing more.
    """

    def __init__(self, documents: Mapping[str, Document]) -> None:
        self.documents = documents
        self.errors: dict[str, list[Diagnostic]] = {}
        self.whole: set[str] = set()
        self._broken: set[str] = set()
        for name in documents:
            self._walk(name)

    def _walk(self, name: str) -> None:
        path: list[str] = []
        index: dict[str, int] = {}
        current: Any = name
        whole = False
        while True:
            if current in self.whole or current in self._broken:
                whole = current in self.whole
                break
            if current in index:
                self._report_cycle(path[index[current] :])
                break
            index[current] = len(path)
            path.append(current)
            document = self.documents[current]
            parent = parent_of(document)
            if parent is None:
                whole = True
                break
            if parent not in self.documents:
                hint = did_you_mean(str(parent), self.documents)
                message = f"unknown profile '{parent}' in extends"
                self._fail(current, Diagnostic(document.mark(("extends",)), message, hint))
                break
            current = parent
        (self.whole if whole else self._broken).update(path)

    def _fail(self, name: str, diagnostic: Diagnostic) -> None:
        self.errors.setdefault(name, []).append(diagnostic)

    def _report_cycle(self, cycle: list[str]) -> None:
        """Each profile of the cycle reports it at its own `extends`, from its parent on."""
        size = len(cycle)
        for i, name in enumerate(cycle):
            names = [cycle[(i + 1 + k) % size] for k in range(min(size, CYCLE_NAMES_SHOWN))]
            if size > CYCLE_NAMES_SHOWN:
                names[-1:] = ["...", name]
                text = " -> ".join([*names, names[0]]) + f" ({size} profiles)"
            else:
                text = " -> ".join([*names, names[0]])
            mark = self.documents[name].mark(("extends",))
            self._fail(name, Diagnostic(mark, f"extends cycle: {text}"))

    def errors_reaching(self, name: str) -> list[Diagnostic]:
        """The errors that break `name`'s chain (its own, or an ancestor's)."""
        if name in self.whole:
            return []
        seen: set[str] = set()
        current: Any = name
        while current in self.documents and current not in seen:
            if current in self.errors:
                return self.errors[current]
            seen.add(current)
            current = parent_of(self.documents[current])
        return []

    def chain(self, name: str) -> tuple[str, ...]:
        """`name` and its ancestors, nearest first (for a whole chain)."""
        chain = [name]
        parent = parent_of(self.documents[name])
        while parent is not None:
            chain.append(parent)
            parent = parent_of(self.documents[parent])
        return tuple(chain)


class Merger:
    """Merged profiles, each chain layered once: a merged profile is kept where it is
    needed again (a concrete profile, or a base with more than one child), and every
    other one is only a step on the way, so the work is linear in the layers merged.

    Merged data is never changed once made: a layer copies only the mappings it changes
    and shares every other subtree with the profile below it and with the documents."""

    def __init__(self, documents: Mapping[str, Document], chains: Chains) -> None:
        self.documents = documents
        children: dict[str, int] = {}
        for name in chains.whole:
            parent = parent_of(documents[name])
            if parent is not None:
                children[parent] = children.get(parent, 0) + 1
        self.keep = {
            n for n in chains.whole if children.get(n, 0) > 1 or not is_abstract(documents[n])
        }
        self.memo: dict[str, MergedProfile] = {}

    def merged(self, name: str) -> MergedProfile:
        """The merged profile of `name`, whose chain must be whole."""
        pending: list[str] = []
        current: Any = name
        while current is not None and current not in self.memo:
            pending.append(current)
            current = parent_of(self.documents[current])
        base = self.memo.get(current) if current is not None else None
        data: dict[str, Any] = base.data if base else {}
        value_marks = dict(base.value_marks) if base else {}
        key_marks = dict(base.key_marks) if base else {}
        for depth, step in enumerate(reversed(pending)):
            document = self.documents[step]
            data = _layer(data, document, value_marks, key_marks)
            if step in self.keep and step != name:
                chain = (*pending[len(pending) - 1 - depth :], *(base.chain if base else ()))
                self.memo[step] = MergedProfile(
                    step, document.path, chain, data, dict(value_marks), dict(key_marks)
                )
        chain = (*pending, *(base.chain if base else ()))
        result = MergedProfile(name, self.documents[name].path, chain, data, value_marks, key_marks)
        if name in self.keep:
            self.memo[name] = result
        return result


def merge_chain(chain: tuple[str, ...], documents: Mapping[str, Document]) -> MergedProfile:
    """Merge the documents of `chain` (nearest first) into one profile."""
    data: dict[str, Any] = {}
    value_marks: dict[Path, Mark] = {}
    key_marks: dict[Path, Mark] = {}
    for name in reversed(chain):
        data = _layer(data, documents[name], value_marks, key_marks)
    leaf = documents[chain[0]]
    return MergedProfile(chain[0], leaf.path, chain, data, value_marks, key_marks)


def _layer(
    data: dict[str, Any],
    document: Document,
    value_marks: dict[Path, Mark],
    key_marks: dict[Path, Mark],
) -> dict[str, Any]:
    """`data` with one document merged over it; `data` itself is not changed."""
    layer = {k: v for k, v in document.data.items() if k not in NOT_INHERITED}
    if data:
        return _merged(data, layer, (), document, value_marks, key_marks)
    # The first layer is the document itself, with the document's own marks of every
    # path below its keys (the loader marked each node it made).
    value_marks.update((p, m) for p, m in document.value_marks.items() if p and p[0] in layer)
    key_marks.update((p, m) for p, m in document.key_marks.items() if p and p[0] in layer)
    return layer


def _merged(
    target: dict[str, Any],
    layer: Mapping[str, Any],
    path: Path,
    document: Document,
    value_marks: dict[Path, Mark],
    key_marks: dict[Path, Mark],
) -> dict[str, Any]:
    """A copy of `target` with `layer` merged over it, key by key (the child winning)."""
    merged = dict(target)
    for key, value in layer.items():
        child = (*path, key)
        key_marks[child] = document.key_marks[child]
        old = merged.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            value_marks[child] = document.value_marks[child]
            merged[key] = _merged(old, value, child, document, value_marks, key_marks)
            continue
        _mark_all(value, child, document, value_marks, key_marks)
        merged[key] = value
    return merged


def _mark_all(
    value: Any,
    path: Path,
    document: Document,
    value_marks: dict[Path, Mark],
    key_marks: dict[Path, Mark],
) -> None:
    """Record the marks of `value` and of everything in it."""
    value_marks[path] = document.value_marks[path]
    if isinstance(value, dict):
        for key, item in value.items():
            child = (*path, key)
            key_marks[child] = document.key_marks[child]
            _mark_all(item, child, document, value_marks, key_marks)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _mark_all(item, (*path, i), document, value_marks, key_marks)
