"""Which profile line declares a field of service.yaml: provenance for the drift report.

Env vars come from the resolved timeouts (and the dependency settings they name); the
rest from the profile key the template reads: `timeoutSeconds` from `request_timeout`,
annotations and spec settings from the `platform:` key of the same name in snake case,
as the service sets it or else as the profile does. What no key declares points at the
service itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from compiler.diagnostics import Mark
from compiler.model import STARTUP_TOTAL_ENV, Service
from compiler.pipeline.merge import MergedProfile
from compiler.review.drift.compare import FieldPath, Named
from compiler.review.places import holds

# Fields whose profile key is not their own name in snake case.
ALIASES = {
    "autoscaling.knative.dev/minScale": "min_instances",
    "autoscaling.knative.dev/maxScale": "max_instances",
    "containerConcurrency": "concurrency",
    "timeoutSeconds": "request_timeout",
    "containerPort": "port",
}
_TOTALS = {STARTUP_TOTAL_ENV: "startup", "SHUTDOWN_TOTAL_TIMEOUT_S": "shutdown"}
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def snake(name: str) -> str:
    """`run.googleapis.com/startup-cpu-boost` -> `startup_cpu_boost`; `sessionAffinity` ->
    `session_affinity`."""
    last = name.rsplit("/", 1)[-1]
    return _CAMEL.sub("_", last).replace("-", "_").lower()


def _value(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _longest_key(data: dict[str, Any], words: list[str], start: int) -> str | None:
    """The longest key of `data` spelled by `words[start:end]` for some `end`."""
    for end in range(len(words), start, -1):
        key = "_".join(words[start:end])
        if key in data:
            return key
    return None


def first_mark(merged: MergedProfile, paths: Iterable[tuple[str, ...]]) -> Mark | None:
    """The mark of the first of `paths` that the merged profile holds."""
    for path in paths:
        if holds(merged, path):
            return merged.mark(path)
    return None


class Places:
    """Finds the declaring place of each field of one service's service.yaml."""

    def __init__(self, merged: MergedProfile, service: Service) -> None:
        self.merged = merged
        self.service = service
        self.root = ("services", service.name)

    def setting(self, key: str, *below: str) -> Mark | None:
        """`key` (or one of the keys `below` it) as the service sets it (itself or in its
        own `platform:`), else as the profile's platform does."""
        paths = []
        for owner in (self.root, (*self.root, "platform"), ("platform",)):
            paths += [(*owner, key, sub) for sub in below]
            paths.append((*owner, key))
        return first_mark(self.merged, paths)

    def of(self, path: FieldPath) -> Mark | None:
        """Where the value at `path` is declared; None for a field out/ does not declare."""
        service = self.service
        last = path[-1] if path else ""
        keys = [step for step in path if isinstance(step, str)]
        if isinstance(last, Named) and "env" in keys:
            return self.env_var(last.name)
        probe = next((key for key in keys if key.endswith("Probe")), None)
        if probe is not None:
            return self.probe(probe, keys[-1] if keys else "")
        if keys[-2:] == ["metadata", "name"]:
            return self.setting("service_name") or service.marks["service"]
        if keys[-2:] == ["metadata", "namespace"]:
            return self.setting("project")
        if keys[-1:] == ["cloud.googleapis.com/location"]:
            return self.setting("region")
        if keys and keys[-1] in ("image", "port", "containerPort", "timeoutSeconds"):
            key = ALIASES.get(keys[-1], keys[-1])
            return service.marks.get(key) or service.marks["service"]
        if keys:
            key = ALIASES.get(keys[-1]) or snake(keys[-1])
            found = self.setting(key)
            if found is not None:
                return found
        return service.marks["service"]

    def env_var(self, name: str) -> Mark | None:
        """A timeout's own place; a dependency setting's key; a total's chain."""
        service = self.service
        for timeout in service.timeouts:
            if timeout.env_name == name:
                return timeout.mark
        if name in _TOTALS:
            return service.marks.get(_TOTALS[name]) or service.marks["service"]
        longest_first = sorted(service.dependencies, key=lambda d: -len(d.name))
        for dependency in longest_first:
            prefix = f"{dependency.name.upper()}_"
            if name.startswith(prefix):
                path = (*self.root, "dependencies", dependency.name)
                words = name[len(prefix) :].lower().split("_")
                return self.words_mark(path, words) or self.merged.key_mark(path)
        return None  # not one of ours: an env var out/ does not declare

    def words_mark(self, dependency: tuple[str, ...], words: list[str]) -> Mark | None:
        """The deepest key below `dependency` spelled by `words` (`backoff_initial_s` ->
        `backoff.initial`, a trailing unit `s` left over), else the key named by the last
        word (`backoff_jitter` -> `jitter`), else the deepest key spelled at all."""
        data = _value(self.merged.data, dependency)
        path, start = dependency, 0
        while isinstance(data, dict):
            key = _longest_key(data, words, start)
            if key is None:
                break
            path, data, start = (*path, key), data[key], start + key.count("_") + 1
        if path != dependency and words[start:] in ([], ["s"]):
            return self.merged.mark(path)
        if len(words) > 1 and holds(self.merged, (*dependency, words[-1])):
            return self.merged.mark((*dependency, words[-1]))
        return self.merged.mark(path) if path != dependency else None

    def probe(self, probe: str, key: str) -> Mark | None:
        """Health paths and the port from the service; the other settings from their key,
        else from the startup chain (the startup probe) or the liveness path."""
        service = self.service
        kind = probe.removesuffix("Probe")  # startup, liveness
        if key == "path":
            return first_mark(self.merged, [(*self.root, "health", kind)])
        if key == "port":
            return service.marks.get("port")
        name = snake(key)  # period_seconds, also as period and period_s
        short = name.removesuffix("_seconds")
        names = (name, short, f"{short}_s") if short != name else (name,)
        found = self.setting(f"{kind}_probe", *names)
        if found is not None:
            return found
        if kind == "startup":
            return service.marks.get("startup") or service.marks["service"]
        return first_mark(self.merged, [(*self.root, "health", kind)]) or service.marks["service"]
