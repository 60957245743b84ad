"""The resolved model: frozen values with their provenance, shared by every later stage."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any, Generic, Literal, TypeVar, overload

from compiler.diagnostics import Mark
from compiler.durations import format_factor, format_seconds
from compiler.headers import header_text
from compiler.retries import (
    CONSTANT_MULTIPLIER,
    DEFAULT_JITTER,
    DEFAULT_MAX_RETRY_AMPLIFICATION,
    backoff_delays_ms,
    worst_case_ms,
)

T = TypeVar("T")
STARTUP_TOTAL_ENV = "STARTUP_TOTAL_TIMEOUT_S"
EnvKind = Literal["seconds", "count", "factor", "text"]
_PY_TYPES: dict[str, str] = {
    "seconds": "float",
    "count": "int",
    "factor": "float",
    "text": "str",
}


class lazy(cached_property[T], Generic[T]):
    """`cached_property` without its lock: computed on first read, then a plain attribute.

    Python 3.11's `cached_property` takes a lock on every first read, which costs more than
    most of the model's values do to compute; a frozen, immutable value needs no lock (two
    threads at worst compute the same value twice). Templates see it as a property.
    """

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> lazy[T]: ...

    @overload
    def __get__(self, instance: object, owner: type[Any] | None = None) -> T: ...

    def __get__(self, instance: object | None, owner: type[Any] | None = None) -> T | lazy[T]:
        if instance is None:
            return self
        value = self.func(instance)
        instance.__dict__[self.attrname] = value  # type: ignore[index]
        return value


@dataclass(frozen=True)
class EnvVar:
    """One environment variable of a service: its name, its text, and what kind of value."""

    name: str
    text: str
    kind: str = "seconds"  # an EnvKind

    @property
    def py_type(self) -> str:
        """The type of its `Final` constant in timeouts.py: `float`, `int` or `str`."""
        return _PY_TYPES[self.kind]

    @property
    def value(self) -> float | int | str:
        """The value its constant in timeouts.py holds."""
        if self.kind == "count":
            return int(self.text)
        if self.kind == "text":
            return self.text
        return float(self.text)

    @property
    def py_literal(self) -> str:
        """The constant as Python source: `3.0`, `3`, `2.0`, `"full"`."""
        if self.kind == "text":
            return json.dumps(self.text)
        if self.kind == "factor" and "." not in self.text:
            return self.text + ".0"
        return self.text


SHUTDOWN_TOTAL_ENV = "SHUTDOWN_TOTAL_TIMEOUT_S"


@dataclass(frozen=True)
class Operand:
    """One input of a computation: what it is, its text as written, and where."""

    role: str
    text: str
    mark: Mark | None = None

    def __str__(self) -> str:
        where = str(self.mark) if self.mark else "default"
        return f"{self.role} {self.text} ({where})"


@dataclass(frozen=True)
class Timeout:
    """One resolved timeout of one dependency, in integer milliseconds."""

    dependency: str
    name: str
    ms: int
    base_ms: int
    fixed: bool
    capped: bool
    exact_ms: Fraction
    operands: tuple[Operand, ...]
    mark: Mark
    delays_ms: tuple[int, ...] = ()  # its dependency's delay before each retry

    @property
    def attempts(self) -> int:
        """The first attempt and every retry of its dependency."""
        return len(self.delays_ms) + 1

    @lazy
    def worst_ms(self) -> int:
        """`worst(t)`: how long this timeout can take with every retry, `(r + 1) x t + d1 +
        ... + dr`; the timeout itself without retries."""
        return worst_case_ms(self.ms, self.delays_ms)

    @property
    def worst_seconds(self) -> str:
        """`worst_ms` in exact decimal seconds: `10.15`."""
        return format_seconds(self.worst_ms)

    @lazy
    def ref(self) -> str:
        """`database.connect`."""
        return f"{self.dependency}.{self.name}"

    @lazy
    def env_name(self) -> str:
        """`DATABASE_CONNECT_TIMEOUT_S`."""
        return f"{self.dependency}_{self.name}_TIMEOUT_S".upper()

    @lazy
    def seconds(self) -> str:
        """Exact decimal seconds: `3.0`, `1.155`."""
        return format_seconds(self.ms)


@dataclass(frozen=True)
class Dependency:
    """A dependency of a service: its timeouts and how it is retried."""

    name: str
    timeouts: tuple[Timeout, ...]
    retries: int = 0
    backoff_ms: int = 0  # the initial delay; of a constant `backoff: b`, every delay
    service: str | None = None
    marks: dict[str, Mark] = field(default_factory=dict, compare=False, repr=False)
    backoff_max_ms: int | None = None
    backoff_multiplier: Fraction = CONSTANT_MULTIPLIER
    jitter: str = DEFAULT_JITTER

    @property
    def attempts(self) -> int:
        """The first attempt and every retry."""
        return self.retries + 1

    @lazy
    def delays_ms(self) -> tuple[int, ...]:
        """The delay before each retry, in milliseconds: `(100, 200, 250)`."""
        return backoff_delays_ms(
            self.backoff_ms, self.backoff_multiplier, self.backoff_max_ms, self.retries
        )

    @property
    def delays_seconds(self) -> tuple[str, ...]:
        """The delays in exact decimal seconds: `('0.1', '0.2', '0.25')`."""
        return tuple(format_seconds(ms) for ms in self.delays_ms)

    @lazy
    def env_prefix(self) -> str:
        """`AUTH`: the start of this dependency's retry env var names."""
        return self.name.upper()

    @lazy
    def retry_env(self) -> tuple[EnvVar, ...]:
        """`<DEP>_RETRIES`, `<DEP>_BACKOFF_*`; none when the dependency is not retried."""
        if not self.retries:
            return ()
        prefix = self.env_prefix
        found = [
            EnvVar(f"{prefix}_RETRIES", str(self.retries), "count"),
            EnvVar(f"{prefix}_BACKOFF_INITIAL_S", format_seconds(self.backoff_ms)),
        ]
        if self.backoff_max_ms is not None:
            found.append(EnvVar(f"{prefix}_BACKOFF_MAX_S", format_seconds(self.backoff_max_ms)))
        found.append(
            EnvVar(f"{prefix}_BACKOFF_MULTIPLIER", format_factor(self.backoff_multiplier), "factor")
        )
        found.append(EnvVar(f"{prefix}_BACKOFF_JITTER", self.jitter, "text"))
        return tuple(found)


@dataclass(frozen=True)
class StartupProbe:
    """Cloud Run startup probe settings derived from the startup budget."""

    timeout_s: int
    period_s: int
    failure_threshold: int
    initial_delay_s: int = 0

    @property
    def window_s(self) -> int:
        """Cloud Run's window, `failureThreshold x periodSeconds` (at most 240 s)."""
        return self.period_s * self.failure_threshold

    @property
    def last_probe_s(self) -> int:
        """When the last probe runs: `initialDelaySeconds + (failureThreshold - 1) x period`."""
        return self.initial_delay_s + (self.failure_threshold - 1) * self.period_s


@dataclass(frozen=True)
class LivenessProbe:
    """Cloud Run liveness probe settings, in whole seconds."""

    timeout_s: int = 3
    period_s: int = 10
    failure_threshold: int = 3


@dataclass(frozen=True)
class CloudRunSettings:
    """The Cloud Run settings of one service: its own value, else the platform's, else unset.

    `marks` holds where each setting was written (`liveness_probe.period` for a probe key).
    """

    startup_cpu_boost: bool | None = None
    cpu_throttling: bool | None = None
    session_affinity: bool | None = None
    concurrency: int | None = None
    liveness_probe: LivenessProbe = LivenessProbe()
    marks: dict[str, Mark] = field(default_factory=dict, compare=False, repr=False)

    @property
    def annotations(self) -> tuple[tuple[str, str], ...]:
        """The revision annotations these settings set, values `"true"`/`"false"`."""
        pairs = (
            ("run.googleapis.com/startup-cpu-boost", self.startup_cpu_boost),
            ("run.googleapis.com/cpu-throttling", self.cpu_throttling),
            ("run.googleapis.com/sessionAffinity", self.session_affinity),
        )
        return tuple((name, str(value).lower()) for name, value in pairs if value is not None)


@dataclass(frozen=True)
class Service:
    """One service of one concrete profile, fully resolved."""

    name: str
    cloud_run_name: str
    image: str
    port: int
    request_timeout_ms: int
    health_startup: str
    health_liveness: str
    dependencies: tuple[Dependency, ...]
    startup: tuple[Timeout, ...]
    cold_start_buffer_ms: int
    startup_probe: StartupProbe
    request_paths: dict[str, tuple[Timeout, ...]]
    allow: dict[str, str]
    marks: dict[str, Mark] = field(compare=False, repr=False)
    boot_time_ms: int = 10_000
    shutdown: tuple[Timeout, ...] = ()
    settings: CloudRunSettings = CloudRunSettings()
    container_name: str = ""

    @lazy
    def startup_total_ms(self) -> int:
        """The startup chain at its worst: the sum of its phases' `worst_ms`."""
        return sum(t.worst_ms for t in self.startup)

    @property
    def startup_budget_ms(self) -> int:
        """`startup_total` plus the cold-start buffer plus the boot time."""
        return self.startup_total_ms + self.cold_start_buffer_ms + self.boot_time_ms

    @lazy
    def shutdown_total_ms(self) -> int:
        """The shutdown steps at their worst: the sum of their `worst_ms`."""
        return sum(t.worst_ms for t in self.shutdown)

    @property
    def request_timeout_s(self) -> int:
        """Cloud Run's `timeoutSeconds`."""
        return self.request_timeout_ms // 1000

    @lazy
    def timeouts(self) -> tuple[Timeout, ...]:
        """Every timeout of every dependency, in declaration order."""
        return tuple(t for d in self.dependencies for t in d.timeouts)

    @lazy
    def env_vars(self) -> tuple[EnvVar, ...]:
        """The environment variables, sorted by name: timeouts in exact seconds, retries."""
        found = [EnvVar(t.env_name, t.seconds) for t in self.timeouts]
        found.append(EnvVar(STARTUP_TOTAL_ENV, format_seconds(self.startup_total_ms)))
        if self.shutdown:
            found.append(EnvVar(SHUTDOWN_TOTAL_ENV, format_seconds(self.shutdown_total_ms)))
        found += [var for d in self.dependencies for var in d.retry_env]
        return tuple(sorted(found, key=lambda var: var.name))

    @lazy
    def env(self) -> tuple[tuple[str, str], ...]:
        """The environment variables as (name, text), sorted by name."""
        return tuple((var.name, var.text) for var in self.env_vars)

    @lazy
    def dependencies_by_name(self) -> dict[str, Dependency]:
        """The dependencies by name."""
        return {d.name: d for d in self.dependencies}

    @lazy
    def retried(self) -> tuple[Dependency, ...]:
        """The dependencies that are retried, in declaration order."""
        return tuple(d for d in self.dependencies if d.retries)

    @lazy
    def request_path_worst_ms(self) -> dict[str, int]:
        """Each request path's worst case: the sum of its timeouts' worst cases."""
        return {
            name: sum(t.worst_ms for t in timeouts) for name, timeouts in self.request_paths.items()
        }

    @property
    def request_path_deadlines_s(self) -> dict[str, str]:
        """Each request path's worst case in exact decimal seconds: its deadline."""
        return {name: format_seconds(ms) for name, ms in self.request_path_worst_ms.items()}


@dataclass(frozen=True)
class Environment:
    """The scaling and caps of one concrete profile."""

    multiplier: Operand
    margin: Operand
    multiplier_value: Fraction
    margin_value: Fraction
    max_timeout_ms: int | None
    max_total_timeout_ms: int | None
    max_timeout: Operand | None
    max_total_timeout: Operand | None
    max_retry_amplification: Operand = Operand(
        "max_retry_amplification", str(DEFAULT_MAX_RETRY_AMPLIFICATION)
    )

    @property
    def max_retry_amplification_value(self) -> int:
        """The largest product of attempts allowed along a chain of `service:` links."""
        return int(self.max_retry_amplification.text)


@dataclass(frozen=True)
class Platform:
    """Where and how the services of a profile run."""

    region: str | None
    project: str | None
    min_instances: int | None
    max_instances: int | None


@dataclass(frozen=True)
class Profile:
    """A concrete profile: one environment, resolved."""

    name: str
    path: str
    chain: tuple[str, ...]
    environment: Environment
    platform: Platform
    services: tuple[Service, ...]

    @lazy
    def services_by_name(self) -> dict[str, Service]:
        """The services by name, for rules that follow a callee."""
        return {service.name: service for service in self.services}

    @property
    def header(self) -> str:
        """The first line of every output of this profile, without its comment marker."""
        return header_text(self.path)
