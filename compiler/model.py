"""The resolved model: frozen values with their provenance, shared by every later stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property

from compiler.diagnostics import Mark
from compiler.durations import format_seconds

STARTUP_TOTAL_ENV = "STARTUP_TOTAL_TIMEOUT_S"
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

    @cached_property
    def ref(self) -> str:
        """`database.connect`."""
        return f"{self.dependency}.{self.name}"

    @cached_property
    def env_name(self) -> str:
        """`DATABASE_CONNECT_TIMEOUT_S`."""
        return f"{self.dependency}_{self.name}_TIMEOUT_S".upper()

    @cached_property
    def seconds(self) -> str:
        """Exact decimal seconds: `3.0`, `1.155`."""
        return format_seconds(self.ms)


@dataclass(frozen=True)
class Dependency:
    """A dependency of a service: its timeouts and how it is retried."""

    name: str
    timeouts: tuple[Timeout, ...]
    retries: int = 0
    backoff_ms: int = 0
    service: str | None = None
    marks: dict[str, Mark] = field(default_factory=dict, compare=False, repr=False)


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
    startup_total_ms: int
    cold_start_buffer_ms: int
    startup_probe: StartupProbe
    request_paths: dict[str, tuple[Timeout, ...]]
    allow: dict[str, str]
    marks: dict[str, Mark] = field(compare=False, repr=False)
    boot_time_ms: int = 10_000
    shutdown: tuple[Timeout, ...] = ()
    settings: CloudRunSettings = CloudRunSettings()
    container_name: str = ""

    @property
    def startup_budget_ms(self) -> int:
        """`startup_total` plus the cold-start buffer plus the boot time."""
        return self.startup_total_ms + self.cold_start_buffer_ms + self.boot_time_ms

    @property
    def shutdown_total_ms(self) -> int:
        """The sum of the shutdown steps."""
        return sum(t.ms for t in self.shutdown)

    @property
    def request_timeout_s(self) -> int:
        """Cloud Run's `timeoutSeconds`."""
        return self.request_timeout_ms // 1000

    @cached_property
    def timeouts(self) -> tuple[Timeout, ...]:
        """Every timeout of every dependency, in declaration order."""
        return tuple(t for d in self.dependencies for t in d.timeouts)

    @cached_property
    def env(self) -> tuple[tuple[str, str], ...]:
        """The environment variables, sorted by name, values in exact seconds."""
        pairs = [(t.env_name, t.seconds) for t in self.timeouts]
        pairs.append((STARTUP_TOTAL_ENV, format_seconds(self.startup_total_ms)))
        if self.shutdown:
            pairs.append((SHUTDOWN_TOTAL_ENV, format_seconds(self.shutdown_total_ms)))
        return tuple(sorted(pairs))


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

    @cached_property
    def services_by_name(self) -> dict[str, Service]:
        """The services by name, for rules that follow a callee."""
        return {service.name: service for service in self.services}

    @property
    def header(self) -> str:
        """The first line of every output of this profile, without its comment marker."""
        return f"Code generated by timeoutc from {self.path}. DO NOT EDIT."
