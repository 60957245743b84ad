"""Compare two sets of resolved profiles: every value that changed, with its exact % change.

Values are compared as the model holds them (integer milliseconds, exact factors), per
environment, service and timeout, plus the derived startup and Cloud Run settings and
the margin of every budget rule that `compiler.pipeline.budgets` evaluates.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from compiler.durations import format_factor, format_signed_seconds
from compiler.model import SHUTDOWN_TOTAL_ENV, STARTUP_TOTAL_ENV, Profile, Service
from compiler.pipeline.amplification import chains
from compiler.pipeline.budgets import evaluate_service

Unit = Literal["ms", "count", "factor", "text"]
Section = Literal["environment", "timeout", "dependency", "startup", "cloud-run", "budget"]
Value = int | Fraction | str
UNSET = "unset"
ABSENT = "—"


@dataclass(frozen=True)
class Change:
    """One value of one environment (and service) that differs; None: absent on that side."""

    environment: str
    service: str  # "" for a value of the whole environment
    section: Section
    item: str
    unit: Unit
    before: Value | None
    after: Value | None

    @property
    def status(self) -> Literal["added", "removed", "changed"]:
        """Whether the value is new, gone, or different."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "removed"
        return "changed"

    @property
    def ratio(self) -> Fraction | None:
        """(after - before) / |before|, exactly; None when not a number or from zero."""
        before, after = self.before, self.after
        if isinstance(before, str) or isinstance(after, str) or before is None or after is None:
            return None
        if before == 0:
            return None
        return (Fraction(after) - Fraction(before)) / abs(Fraction(before))


@dataclass(frozen=True)
class ServicePair:
    """A service that changed, as it was and as it is (None where absent)."""

    environment: str
    name: str
    before: Service | None
    after: Service | None


@dataclass(frozen=True)
class Diff:
    """Everything that changed between two sets of profiles."""

    changes: tuple[Change, ...]
    environments_added: tuple[str, ...]
    environments_removed: tuple[str, ...]
    services_added: tuple[tuple[str, str], ...]
    services_removed: tuple[tuple[str, str], ...]
    services: tuple[ServicePair, ...]

    @property
    def changed(self) -> bool:
        """Whether anything differs at all."""
        return bool(self.changes or self.environments_added or self.environments_removed)


def format_value(value: Value | None, unit: Unit) -> str:
    """`8.0s`, `-0.5s`, `3`, `0.7`, text as is; ABSENT for None."""
    if value is None:
        return ABSENT
    if isinstance(value, str):
        return value
    if unit == "ms":
        ms = int(value)
        return format_signed_seconds(ms)
    if unit == "factor":
        return format_factor(Fraction(value))
    return str(value)


def _terminates(value: Fraction) -> bool:
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    return denominator == 1


def _decimal_text(value: Fraction, places: int) -> str:
    """`value` (>= 0) rounded half-even to `places` decimals, all of them printed."""
    scaled = round(value * 10**places)
    whole, fraction = divmod(scaled, 10**places)
    return f"{whole}.{fraction:0{places}d}" if places else str(whole)


def percent(ratio: Fraction) -> tuple[str, bool]:
    """`(-62.5%, True)`: the change in percent, and whether it is exact.

    A terminating decimal is printed in full. Otherwise it is rounded to 2 decimals, or to
    3 significant digits below 1 %, and marked with `~` (`~+0.0866%`).
    """
    value = ratio * 100
    sign = "+" if value > 0 else "-" if value < 0 else ""
    size = abs(value)
    if _terminates(size):
        places = 0
        while (size * 10**places).denominator != 1:
            places += 1
        return f"{sign}{_decimal_text(size, places)}%", True
    places = 2
    while size < 1 and size * 10 ** (places - 2) < 1:
        places += 1
    return f"~{sign}{_decimal_text(size, places)}%", False


def change_text(change: Change) -> str:
    """The last column: `-62.5%`, `added`, `removed` or `changed`."""
    if change.status != "changed":
        return change.status
    ratio = change.ratio
    return percent(ratio)[0] if ratio is not None else "changed"


Entry = tuple[Section, str, Unit, Value]


def environment_values(profile: Profile) -> Iterator[Entry]:
    """The values of a profile that apply to all of its services."""
    env, platform = profile.environment, profile.platform
    yield "environment", "timeout_multiplier", "factor", env.multiplier_value
    yield "environment", "safety_margin", "factor", env.margin_value
    yield "environment", "max_timeout", "ms", _or_unset(env.max_timeout_ms)
    yield "environment", "max_total_timeout", "ms", _or_unset(env.max_total_timeout_ms)
    yield "environment", "max_retry_amplification", "count", env.max_retry_amplification_value
    yield "environment", "region", "text", platform.region or UNSET
    yield "environment", "project", "text", platform.project or UNSET


def service_values(profile: Profile, service: Service) -> Iterator[Entry]:
    """Every resolved and derived value of one service, in reading order."""
    for timeout in service.timeouts:
        yield "timeout", timeout.ref, "ms", timeout.ms
    for dependency in service.dependencies:
        name = dependency.name
        yield "dependency", f"{name} retries", "count", dependency.retries
        yield "dependency", f"{name} backoff", "ms", dependency.backoff_ms
        yield "dependency", f"{name} backoff max", "ms", _or_unset(dependency.backoff_max_ms)
        yield "dependency", f"{name} backoff multiplier", "factor", dependency.backoff_multiplier
        yield "dependency", f"{name} jitter", "text", dependency.jitter
        yield "dependency", f"{name} backoff delays total", "ms", sum(dependency.delays_ms)
        yield "dependency", f"{name} calls", "text", dependency.service or UNSET
    for chain in chains(profile, service):
        via = chain.hops[0].dependency.name
        yield "dependency", f"{via} retry amplification", "count", chain.product
    # both totals count each phase at its worst case: a change of retries or backoff alone
    # moves them, and the env var of the same name, like any other value
    yield "startup", f"startup total ({STARTUP_TOTAL_ENV})", "ms", service.startup_total_ms
    yield "startup", "cold-start buffer", "ms", service.cold_start_buffer_ms
    yield "startup", "boot time", "ms", service.boot_time_ms
    yield "startup", "startup budget", "ms", service.startup_budget_ms
    if service.shutdown:
        yield "startup", f"shutdown total ({SHUTDOWN_TOTAL_ENV})", "ms", service.shutdown_total_ms
    probe = service.startup_probe
    yield "cloud-run", "Cloud Run service name", "text", service.cloud_run_name
    yield "cloud-run", "timeoutSeconds", "count", service.request_timeout_s
    yield "cloud-run", "startup probe periodSeconds", "count", probe.period_s
    yield "cloud-run", "startup probe failureThreshold", "count", probe.failure_threshold
    yield "cloud-run", "startup probe window", "ms", probe.window_s * 1000
    yield "cloud-run", "startup probe initialDelaySeconds", "count", probe.initial_delay_s
    yield "cloud-run", "startup probe timeoutSeconds", "count", probe.timeout_s
    yield from settings_values(service)
    yield "cloud-run", "min instances", "count", _or_unset(profile.platform.min_instances)
    yield "cloud-run", "max instances", "count", _or_unset(profile.platform.max_instances)
    seen: dict[str, int] = {}
    for result in evaluate_service(profile, service):
        name = f"{result.rule} margin ({result.subject})"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} #{seen[name]}"
        yield "budget", name, "ms" if result.unit == "ms" else "count", result.margin_ms
        if result.status != "ok":
            yield "budget", name.replace(" margin ", " status ", 1), "text", result.status


def settings_values(service: Service) -> Iterator[Entry]:
    """The Cloud Run settings of one service: container, liveness probe, switches."""
    settings = service.settings
    liveness = settings.liveness_probe
    yield "cloud-run", "container name", "text", service.container_name
    yield "cloud-run", "liveness probe timeoutSeconds", "count", liveness.timeout_s
    yield "cloud-run", "liveness probe periodSeconds", "count", liveness.period_s
    yield "cloud-run", "liveness probe failureThreshold", "count", liveness.failure_threshold
    yield "cloud-run", "concurrency", "count", _or_unset(settings.concurrency)
    for name in ("startup_cpu_boost", "cpu_throttling", "session_affinity"):
        value = getattr(settings, name)
        yield "cloud-run", name, "text", UNSET if value is None else str(value).lower()


def _or_unset(value: int | None) -> Value:
    return UNSET if value is None else value


def _compare(
    environment: str, service: str, before: Sequence[Entry], after: Sequence[Entry]
) -> list[Change]:
    old = {(section, item): (unit, value) for section, item, unit, value in before}
    new = {(section, item): (unit, value) for section, item, unit, value in after}
    changes = []
    for key in [*new, *(k for k in old if k not in new)]:
        unit, value_after = new[key] if key in new else old[key]
        value_before = old[key][1] if key in old else None
        if key in new and key in old and value_before == value_after:
            continue
        section, item = key
        changes.append(
            Change(
                environment,
                service,
                section,
                item,
                unit,
                value_before,
                value_after if key in new else None,
            )
        )
    return changes


def _by_name(profiles: Sequence[Profile]) -> dict[str, Profile]:
    return {p.name: p for p in profiles}


def compare(before: Sequence[Profile], after: Sequence[Profile]) -> Diff:
    """Every difference from `before` to `after`, environments in name order."""
    old, new = _by_name(before), _by_name(after)
    changes: list[Change] = []
    added_services: list[tuple[str, str]] = []
    removed_services: list[tuple[str, str]] = []
    pairs: list[ServicePair] = []
    for env in sorted(old.keys() | new.keys()):
        was, now = old.get(env), new.get(env)
        changes += _compare(
            env,
            "",
            list(environment_values(was)) if was else [],
            list(environment_values(now)) if now else [],
        )
        old_services = was.services_by_name if was else {}
        new_services = now.services_by_name if now else {}
        for name in [*new_services, *(n for n in old_services if n not in new_services)]:
            service_before, service_after = old_services.get(name), new_services.get(name)
            found = _compare(
                env,
                name,
                list(service_values(was, service_before)) if was and service_before else [],
                list(service_values(now, service_after)) if now and service_after else [],
            )
            if service_before is None and was is not None:
                added_services.append((env, name))
            if service_after is None and now is not None:
                removed_services.append((env, name))
            if found:
                changes += found
                pairs.append(ServicePair(env, name, service_before, service_after))
    return Diff(
        tuple(changes),
        tuple(sorted(new.keys() - old.keys())),
        tuple(sorted(old.keys() - new.keys())),
        tuple(added_services),
        tuple(removed_services),
        tuple(pairs),
    )
