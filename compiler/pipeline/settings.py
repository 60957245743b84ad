"""A service's Cloud Run settings: its own value, else the platform's, checked against Cloud Run.

Each setting is a key of `platform:` (the profile's default) that a service may set for
itself under `services.<name>:`; `liveness_probe` is merged key by key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compiler import cloudrun
from compiler.diagnostics import Mark
from compiler.durations import DurationError, format_duration, parse_duration_ms
from compiler.model import CloudRunSettings, LivenessProbe
from compiler.pipeline.load import Path
from compiler.pipeline.merge import MergedProfile

Fail = Callable[[Path, str], None]
SWITCHES = ("startup_cpu_boost", "cpu_throttling", "session_affinity")
LIVENESS_KEYS = ("timeout", "period", "failure_threshold")
SETTINGS = (*SWITCHES, "concurrency", "boot_time", "liveness_probe")


@dataclass(frozen=True)
class Resolved:
    """The settings of one service and its boot time."""

    settings: CloudRunSettings
    boot_time_ms: int


def resolve_settings(
    merged: MergedProfile, service: str, data: dict[str, Any], fail: Fail
) -> Resolved:
    """The settings of `service` (whose merged data is `data`); each value out of Cloud
    Run's range is reported to `fail`."""
    marks: dict[str, Mark] = {}
    platform = merged.data.get("platform")

    def value(*key: str) -> tuple[Any, Path | None]:
        found = _value(data, key)
        path: Path = ("services", service, *key)
        if found is None:
            found = _value(platform, key)
            if found is None:
                return None, None
            path = ("platform", *key)
        marks[".".join(key)] = merged.mark(path)
        return found, path

    switches: list[bool | None] = []
    for name in SWITCHES:
        raw, path = value(name)
        if path is not None and not isinstance(raw, bool):
            fail(path, f"{name} must be true or false, not {raw!r}")
            raw = None
        switches.append(raw)
    concurrency, path = value("concurrency")
    if path is not None and not _in_range(concurrency, 1, cloudrun.MAX_CONCURRENCY):
        fail(
            path,
            f"concurrency must be a whole number from 1 to {cloudrun.MAX_CONCURRENCY}, "
            f"not {concurrency!r}",
        )
        concurrency = None
    boot_time_ms = cloudrun.DEFAULT_BOOT_TIME_MS
    boot, path = value("boot_time")
    if path is not None:
        boot_time_ms = _duration_ms(boot, path, "boot_time", fail) or boot_time_ms
    liveness = _liveness(value, fail)
    settings = CloudRunSettings(switches[0], switches[1], switches[2], concurrency, liveness, marks)
    return Resolved(settings, boot_time_ms)


def _liveness(value: Callable[..., tuple[Any, Path | None]], fail: Fail) -> LivenessProbe:
    """`liveness_probe`, key by key; whole seconds in 1..3600 and `timeout <= period`."""
    default = LivenessProbe()
    seconds = {"timeout": default.timeout_s, "period": default.period_s}
    places: dict[str, Path] = {}
    valid = True
    for key in ("timeout", "period"):
        raw, path = value("liveness_probe", key)
        if path is None:
            continue
        places[key] = path
        ms = _duration_ms(raw, path, f"liveness_probe.{key}", fail)
        if ms is None:
            valid = False
            continue
        if ms % 1000 or not 1 <= ms // 1000 <= cloudrun.LIVENESS_MAX_S:
            fail(
                path,
                f"liveness_probe.{key} {raw} must be whole seconds from 1s to "
                f"{cloudrun.LIVENESS_MAX_S}s (Cloud Run's range)",
            )
            valid = False
            continue
        seconds[key] = ms // 1000
    threshold, path = value("liveness_probe", "failure_threshold")
    if path is not None and not _in_range(threshold, 1, None):
        fail(
            path, f"liveness_probe.failure_threshold must be a whole number >= 1, not {threshold!r}"
        )
        threshold = None
    if valid and seconds["timeout"] > seconds["period"]:
        where = places.get("timeout") or places["period"]
        fail(
            where,
            f"liveness_probe.timeout {format_duration(seconds['timeout'] * 1000)} is above "
            f"liveness_probe.period {format_duration(seconds['period'] * 1000)}; Cloud Run "
            "requires timeoutSeconds <= periodSeconds",
        )
    return LivenessProbe(
        seconds["timeout"],
        seconds["period"],
        default.failure_threshold if threshold is None else threshold,
    )


def _duration_ms(raw: Any, path: Path, name: str, fail: Fail) -> int | None:
    try:
        return parse_duration_ms(str(raw))
    except DurationError as exc:
        fail(path, f"{name}: {exc}")
        return None


def _in_range(raw: Any, low: int, high: int | None) -> bool:
    if isinstance(raw, bool) or not isinstance(raw, int):
        return False
    return raw >= low and (high is None or raw <= high)


def _value(data: Any, path: Path) -> Any:
    """The value at `path` below `data`; None when it is not there or is null."""
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
