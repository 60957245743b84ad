"""Timeout budgets: rules over a resolved profile that no single value can break alone."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from compiler import cloudrun
from compiler.diagnostics import Diagnostic, Mark
from compiler.durations import format_duration
from compiler.model import Profile, Service, Timeout


@dataclass(frozen=True)
class Violation:
    """A broken rule: where, what, and what would fix it."""

    rule: str
    mark: Mark
    message: str
    hint: str = ""


Rule = Callable[[Profile, Service], Iterator[Violation]]


def term(timeout: Timeout) -> str:
    """`database.connect 3.0s (profiles/staging.yaml:15:30)`."""
    return f"{timeout.ref} {timeout.seconds}s ({timeout.mark})"


def startup_total(profile: Profile, service: Service) -> Iterator[Violation]:
    """The startup chain's sum is at most `max_total_timeout`."""
    env = profile.environment
    limit = env.max_total_timeout_ms
    if limit is None or env.max_total_timeout is None or service.startup_total_ms <= limit:
        return
    over = service.startup_total_ms - limit
    yield Violation(
        "budget.startup-total",
        service.marks.get("startup", service.marks["service"]),
        f"startup chain {format_duration(service.startup_total_ms)} exceeds max_total_timeout "
        f"{env.max_total_timeout.text} ({env.max_total_timeout.mark}) by {format_duration(over)}: "
        + " + ".join(term(t) for t in service.startup),
        f"shorten the chain by {format_duration(over)}, or raise max_total_timeout to "
        f"{format_duration(service.startup_total_ms)}",
    )


def startup_probe(profile: Profile, service: Service) -> Iterator[Violation]:
    """The startup budget fits Cloud Run's 240 s startup-probe window."""
    budget = service.startup_budget_ms
    window_ms = cloudrun.PROBE_WINDOW_S * 1000
    if budget <= window_ms:
        return
    terms = [term(t) for t in service.startup]
    if service.cold_start_buffer_ms:
        terms.append(f"cold_start_buffer {format_duration(service.cold_start_buffer_ms)}")
    yield Violation(
        "budget.startup-probe",
        service.marks.get("startup", service.marks["service"]),
        f"startup budget {format_duration(budget)} exceeds Cloud Run's "
        f"{cloudrun.PROBE_WINDOW_S}s startup-probe window "
        f"by {format_duration(budget - window_ms)}: " + " + ".join(terms),
        f"shorten the startup chain by {format_duration(budget - window_ms)}",
    )


RULES: dict[str, Rule] = {
    "budget.startup-total": startup_total,
    "budget.startup-probe": startup_probe,
}


def check_budgets(profile: Profile) -> list[Diagnostic]:
    """Every broken, not allowed rule of every service of `profile`, as diagnostics."""
    found = []
    for service in profile.services:
        for rule_id, rule in RULES.items():
            if rule_id in service.allow:
                continue
            for violation in rule(profile, service):
                found.append(
                    Diagnostic(
                        violation.mark,
                        f"{violation.rule}: profile '{profile.name}', service '{service.name}': "
                        f"{violation.message}",
                        violation.hint,
                        rule=violation.rule,
                    )
                )
    return found
