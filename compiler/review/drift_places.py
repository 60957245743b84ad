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
from compiler.review.drift import FieldPath, Named

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


def _present(merged: MergedProfile, path: tuple[str, ...]) -> bool:
    data: Any = merged.data
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return False
        data = data[key]
    return True


def first_mark(merged: MergedProfile, paths: Iterable[tuple[str, ...]]) -> Mark | None:
    """The mark of the first of `paths` that the merged profile holds."""
    for path in paths:
        if _present(merged, path):
            return merged.mark(path)
    return None


class Places:
    """Finds the declaring place of each field of one service's service.yaml."""

    def __init__(self, merged: MergedProfile, service: Service) -> None:
        self.merged = merged
        self.service = service
        self.root = ("services", service.name)

    def setting(self, key: str, *below: str) -> Mark | None:
        """`key` as the service sets it, else as the profile's platform does."""
        return first_mark(
            self.merged,
            [(*self.root, key, *below), (*self.root, key), ("platform", key, *below)],
        )

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
        for dependency in service.dependencies:
            prefix = f"{dependency.name.upper()}_"
            if not name.startswith(prefix):
                continue
            words = name[len(prefix) :].lower().split("_")
            for end in range(len(words), 0, -1):
                key = "_".join(words[:end])
                if key in dependency.marks:
                    return dependency.marks[key]
            return self.merged.key_mark((*self.root, "dependencies", dependency.name))
        return None  # not one of ours: an env var out/ does not declare

    def probe(self, probe: str, key: str) -> Mark | None:
        """Health paths and the port from the service; the other settings from their key,
        else from the startup chain (the startup probe) or the liveness path."""
        service = self.service
        kind = probe.removesuffix("Probe")  # startup, liveness
        if key == "path":
            return first_mark(self.merged, [(*self.root, "health", kind)])
        if key == "port":
            return service.marks.get("port")
        found = self.setting(f"{kind}_probe", snake(key))
        if found is not None:
            return found
        if kind == "startup":
            return service.marks.get("startup") or service.marks["service"]
        return first_mark(self.merged, [(*self.root, "health", kind)]) or service.marks["service"]
