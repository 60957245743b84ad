"""Key paths into a profile (`services.api.dependencies.database.timeouts.connect`).

A key path is read against the profile schema: each segment is a property the schema
names, or a name under a mapping whose keys are free (services, dependencies, timeouts,
request paths, allow rule ids). `set` and shell completion both walk the schema here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from compiler.diagnostics import did_you_mean

KeyPath = tuple[str, ...]
Kind = Literal["object", "array", "timeout", "string", "number", "integer", "boolean"]
_QUOTES = "\"'"


class KeyPathError(ValueError):
    """A key path the schema does not allow; `depth` segments of it were fine."""

    def __init__(self, message: str, hint: str = "", depth: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.depth = depth


def parse_key_path(text: str) -> KeyPath:
    """Split on dots; a segment in double or single quotes may hold dots itself."""
    segments: list[str] = []
    position = 0
    while True:
        if position < len(text) and text[position] in _QUOTES:
            close = text.find(text[position], position + 1)
            if close < 0:
                raise KeyPathError(f"unclosed quote in key path '{text}'")
            segment = text[position + 1 : close]
            position = close + 1
            if position < len(text) and text[position] != ".":
                raise KeyPathError(f"expected '.' after the quoted key in key path '{text}'")
        else:
            end = text.find(".", position)
            end = len(text) if end < 0 else end
            segment = text[position:end]
            position = end
        if not segment:
            raise KeyPathError(
                f"empty key in key path '{text}'",
                "write keys separated by single dots, e.g. environment.max_timeout",
            )
        segments.append(segment)
        if position >= len(text):
            return tuple(segments)
        position += 1


def format_key_path(path: KeyPath) -> str:
    """The text form of `path`; segments holding a dot are double-quoted."""
    return ".".join(f'"{s}"' if "." in s else s for s in path)


@dataclass(frozen=True)
class Target:
    """Where a key path leads: the normalized path, its schema and which names are free."""

    path: KeyPath
    schema: Mapping[str, Any]
    free: tuple[bool, ...]

    @property
    def kind(self) -> Kind:
        """What the value at the path is."""
        return kind_of(self.schema)


class SchemaWalker:
    """Resolves `$ref`s and steps from a schema node to the node of one key."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        self.root = schema

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        """`node` with its `$ref` (into this schema's `$defs`) merged in."""
        seen = 0
        while "$ref" in node and seen < 16:
            reference = str(node["$ref"])
            target: Any = self.root
            for part in reference.removeprefix("#/").split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
        return node

    def object_branch(self, node: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The mapping form of `node`: itself, or its object `oneOf` branch (`{fixed: D}`)."""
        if node.get("type") == "object":
            return node
        for branch in node.get("oneOf", ()):
            resolved = self.resolve(branch)
            if resolved.get("type") == "object":
                return resolved
        return None

    def names(self, node: Mapping[str, Any]) -> list[str]:
        """The fixed property names of a mapping node, or its enum of allowed keys."""
        mapping = self.object_branch(node) or {}
        names = list(mapping.get("properties", {}))
        names.extend(str(v) for v in self.resolve(mapping.get("propertyNames", {})).get("enum", ()))
        return names

    def is_free(self, node: Mapping[str, Any]) -> bool:
        """Whether `node` is a mapping whose keys are names chosen by the author."""
        mapping = self.object_branch(node) or {}
        names = self.resolve(mapping.get("propertyNames", {}))
        return isinstance(mapping.get("additionalProperties"), Mapping) and "enum" not in names

    def child(self, node: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
        """The schema of `key` under `node`, or None when the schema does not allow it."""
        mapping = self.object_branch(node)
        if mapping is None:
            return None
        properties = mapping.get("properties", {})
        if key in properties:
            return self.resolve(properties[key])
        extra = mapping.get("additionalProperties")
        if not isinstance(extra, Mapping):
            return None
        names = self.resolve(mapping.get("propertyNames", {}))
        if "enum" in names and key not in names["enum"]:
            return None
        return self.resolve(extra)

    def check_name(self, node: Mapping[str, Any], key: str) -> tuple[str, str] | None:
        """A (message, hint) when `key` breaks the `propertyNames` rule of `node`."""
        mapping = self.object_branch(node) or {}
        rule = self.resolve(mapping.get("propertyNames", {}))
        title = str(rule.get("title", "name")).lower()
        limit = rule.get("maxLength")
        if isinstance(limit, int) and len(key) > limit:
            return f"{title} '{key}' is longer than {limit} characters", ""
        pattern = rule.get("pattern")
        if isinstance(pattern, str) and not re.search(pattern, key):
            examples = rule.get("examples") or []
            hint = f"expected {pattern}" + (f", e.g. {examples[0]}" if examples else "")
            return f"invalid {title} '{key}'", hint
        return None


def kind_of(node: Mapping[str, Any]) -> Kind:
    """What a resolved schema node holds."""
    if "oneOf" in node:
        return "timeout"
    kinds: dict[Any, Kind] = {
        "object": "object",
        "array": "array",
        "number": "number",
        "integer": "integer",
        "boolean": "boolean",
    }
    return kinds.get(node.get("type"), "string")


def locate(schema: Mapping[str, Any], segments: KeyPath) -> Target:
    """Follow `segments` through the schema; dotted enum keys may be written unquoted."""
    walker = SchemaWalker(schema)
    node: Mapping[str, Any] = walker.resolve(schema)
    path: list[str] = []
    free: list[bool] = []
    index = 0
    while index < len(segments):
        key, used = _joined_enum_key(walker, node, segments, index)
        child = walker.child(node, key)
        where = f"'{format_key_path(tuple(path))}'" if path else "the profile"
        if child is None:
            if walker.object_branch(node) is None:
                raise KeyPathError(
                    f"'{format_key_path(tuple(path))}' is a {_describe(node)}, "
                    f"it has no key '{key}'",
                    depth=len(path),
                )
            if any("." in name for name in walker.names(node)):
                key = ".".join(segments[index:])  # rule ids hold dots: name the whole rest
            raise KeyPathError(
                f"unknown key '{key}' in {where}",
                did_you_mean(key, walker.names(node)),
                depth=len(path),
            )
        is_free = walker.is_free(node) and key not in walker.names(node)
        if is_free:
            problem = walker.check_name(node, key)
            if problem is not None:
                raise KeyPathError(*problem, depth=len(path))
        path.append(key)
        free.append(is_free)
        node = child
        index += used
    if not path:
        raise KeyPathError("empty key path", "e.g. environment.max_timeout")
    return Target(tuple(path), node, tuple(free))


def _joined_enum_key(
    walker: SchemaWalker, node: Mapping[str, Any], segments: KeyPath, index: int
) -> tuple[str, int]:
    """`allow.budget.callee`: join segments when they spell one allowed dotted key."""
    enum = walker.names(node)
    for end in range(len(segments), index + 1, -1):
        joined = ".".join(segments[index:end])
        if joined in enum:
            return joined, end - index
    return segments[index], 1


def _describe(node: Mapping[str, Any]) -> str:
    kind = kind_of(node)
    if node.get("format") in ("duration", "request-timeout"):
        return "duration"
    return {"array": "list", "timeout": "timeout"}.get(kind, kind)


def children(
    schema: Mapping[str, Any], segments: KeyPath, view: Mapping[str, Any]
) -> Iterator[tuple[str, bool]]:
    """The keys one level below `segments` (schema names, then names the profile uses).

    Each comes with whether it is a mapping one can descend into.
    """
    walker = SchemaWalker(schema)
    try:
        node = locate(schema, segments).schema if segments else walker.resolve(schema)
    except KeyPathError:
        return
    here: Any = view
    for key in segments:
        here = here.get(key) if isinstance(here, Mapping) else None
    if walker.object_branch(node) is None or kind_of(node) == "timeout":
        return
    seen: set[str] = set()
    used = list(here) if isinstance(here, Mapping) else []
    for name in [*walker.names(node), *(k for k in used if isinstance(k, str))]:
        child = walker.child(node, name)
        if name in seen or child is None:
            continue
        seen.add(name)
        yield name, kind_of(child) == "object"


def merged_view(root: Path, profile: str) -> dict[str, Any]:
    """The profile merged with its bases, as plain data; tolerant of broken files."""
    from compiler.files import read_limited
    from compiler.pipeline import PROFILES_DIR
    from compiler.pipeline.load import load_bytes

    layers: list[dict[str, Any]] = []
    name: Any = profile
    while isinstance(name, str) and len(layers) < 32:
        path = root / PROFILES_DIR / f"{name}.yaml"
        try:
            relative = f"{PROFILES_DIR}/{path.name}"
            data = load_bytes(read_limited(path, relative), relative).data
        except Exception:  # a missing or broken file ends the chain; the build reports it
            break
        layers.append(data)
        name = data.get("extends")
    from compiler.pipeline.merge import NOT_INHERITED

    merged: dict[str, Any] = {}
    for depth, layer in reversed(list(enumerate(layers))):
        if depth:  # a base passes on all but the keys that belong to a profile itself
            layer = {key: value for key, value in layer.items() if key not in NOT_INHERITED}
        _merge(merged, layer)
    return merged


def _merge(target: dict[str, Any], layer: Mapping[str, Any]) -> None:
    for key, value in layer.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, Mapping):
            _merge(old, value)
        elif isinstance(value, Mapping):
            target[key] = {}
            _merge(target[key], value)
        else:
            target[key] = value
