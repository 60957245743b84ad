"""Timeout budgets: rules over a resolved profile that no single value can break alone.

Each rule yields one `RuleResult` per thing it checks (ok or broken); `explain` and
`diff` read the results and their margins, `check_budgets` turns broken ones into errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from compiler import cloudrun
from compiler.diagnostics import Diagnostic, Mark
from compiler.durations import format_duration
from compiler.model import Profile, Service, Timeout

Status = Literal["ok", "broken", "allowed"]


@dataclass(frozen=True)
class RuleResult:
    """One check of one rule: what was summed, against which limit, and the verdict."""

    rule: str
    subject: str
    status: Status
    used_ms: int
    limit_ms: int
    terms: tuple[str, ...]
    mark: Mark
    message: str = ""
    hint: str = ""
    reason: str = ""

    @property
    def margin_ms(self) -> int:
        """How much of the limit is left (negative when broken)."""
        return self.limit_ms - self.used_ms


Rule = Callable[[Profile, Service], Iterator[RuleResult]]


def term(timeout: Timeout) -> str:
    """`database.connect 3.0s (profiles/staging.yaml:15:30)`."""
    return f"{timeout.ref} {timeout.seconds}s ({timeout.mark})"


def startup_total(profile: Profile, service: Service) -> Iterator[RuleResult]:
    """The startup chain's sum is at most `max_total_timeout`."""
    env = profile.environment
    limit = env.max_total_timeout_ms
    if limit is None or env.max_total_timeout is None:
        return
    used = service.startup_total_ms
    terms = tuple(term(t) for t in service.startup)
    mark = service.marks.get("startup", service.marks["service"])
    if used <= limit:
        yield RuleResult("budget.startup-total", "startup chain", "ok", used, limit, terms, mark)
        return
    over = used - limit
    yield RuleResult(
        "budget.startup-total",
        "startup chain",
        "broken",
        used,
        limit,
        terms,
        mark,
        f"startup chain {format_duration(used)} exceeds max_total_timeout "
        f"{env.max_total_timeout.text} ({env.max_total_timeout.mark}) by {format_duration(over)}: "
        + " + ".join(terms),
        f"shorten the chain by {format_duration(over)}, or raise max_total_timeout to "
        f"{format_duration(used)}",
    )


def startup_probe(profile: Profile, service: Service) -> Iterator[RuleResult]:
    """The startup budget fits Cloud Run's 240 s startup-probe window."""
    used = service.startup_budget_ms
    limit = cloudrun.PROBE_WINDOW_S * 1000
    terms = [term(t) for t in service.startup]
    if service.cold_start_buffer_ms:
        terms.append(f"cold_start_buffer {format_duration(service.cold_start_buffer_ms)}")
    mark = service.marks.get("startup", service.marks["service"])
    if used <= limit:
        yield RuleResult(
            "budget.startup-probe", "startup budget", "ok", used, limit, tuple(terms), mark
        )
        return
    over = format_duration(used - limit)
    yield RuleResult(
        "budget.startup-probe",
        "startup budget",
        "broken",
        used,
        limit,
        tuple(terms),
        mark,
        f"startup budget {format_duration(used)} exceeds Cloud Run's "
        f"{cloudrun.PROBE_WINDOW_S}s startup-probe window by {over}: " + " + ".join(terms),
        f"shorten the startup chain by {over}",
    )


RULES: dict[str, Rule] = {
    "budget.startup-total": startup_total,
    "budget.startup-probe": startup_probe,
}


def evaluate_service(profile: Profile, service: Service) -> tuple[RuleResult, ...]:
    """Every rule's results for one service; a rule named in `allow` is marked allowed."""
    results = []
    for rule_id, rule in RULES.items():
        reason = service.allow.get(rule_id, "")
        for result in rule(profile, service):
            if reason:
                result = replace(result, status="allowed", reason=reason)
            results.append(result)
    return tuple(results)


def check_budgets(profile: Profile) -> list[Diagnostic]:
    """Every broken, not allowed rule of every service of `profile`, as diagnostics."""
    found = []
    for service in profile.services:
        for result in evaluate_service(profile, service):
            if result.status != "broken":
                continue
            found.append(
                Diagnostic(
                    result.mark,
                    f"{result.rule}: profile '{profile.name}', service '{service.name}': "
                    f"{result.message}",
                    result.hint,
                    rule=result.rule,
                )
            )
    return found
