"""What a budget rule yields: `RuleResult`, and the terms of its sums, each with its place."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

from compiler.diagnostics import Mark
from compiler.durations import format_seconds
from compiler.model import Dependency, Profile, Service, Timeout, lazy

Status = Literal["ok", "broken", "allowed"]
Unit = Literal["ms", "attempts"]
Terms = tuple[str, ...]


@dataclass(frozen=True)
class RuleResult:
    """One check of one rule: what was summed, against which limit, and the verdict.

    `used_ms` and `limit_ms` are milliseconds, or numbers of attempts when `unit` says so.
    `terms_of` is the terms, or what makes them: most results pass, and only `explain`,
    `diff --only` and the message of a broken one read them.
    """

    rule: str
    subject: str
    status: Status
    used_ms: int
    limit_ms: int
    terms_of: Terms | Callable[[], Terms] = field(repr=False, compare=False)
    mark: Mark
    message: str = ""
    hint: str = ""
    reason: str = ""
    strict: bool = False
    unit: Unit = "ms"

    @property
    def margin_ms(self) -> int:
        """How much of the limit is left (negative when broken).

        With `strict` (`used` must stay below `limit`), a margin of 0 is already broken.
        """
        return self.limit_ms - self.used_ms

    @lazy
    def terms(self) -> Terms:
        """What was summed, each term with its place: `database.connect 3.0s (...)`."""
        terms = self.terms_of
        return terms if isinstance(terms, tuple) else terms()


class Rule(Protocol):
    """A budget rule: one result per check; only the broken ones unless `passing`."""

    def __call__(
        self, profile: Profile, service: Service, passing: bool = True
    ) -> Iterator[RuleResult]: ...


def term(timeout: Timeout) -> str:
    """`database.connect 3.0s (profiles/staging.yaml:15:30)`."""
    return f"{timeout.ref} {timeout.seconds}s ({timeout.mark})"


def delay_mark(dependency: Dependency, delay_ms: int) -> Mark | None:
    """Where one delay comes from: the constant backoff, its `initial`, or its `max` cap."""
    marks = dependency.marks
    if "backoff.initial" not in marks:
        return marks.get("backoff")
    if dependency.backoff_max_ms is not None and delay_ms == dependency.backoff_max_ms:
        return marks.get("backoff.max")
    return marks.get("backoff.initial")


def delay_terms(dependency: Dependency) -> tuple[str, ...]:
    """`auth backoff 1 0.1s (profiles/base.yaml:29:28)`, one per delay that is not zero."""
    return tuple(
        f"{dependency.name} backoff {n} {format_seconds(delay)}s "
        f"({delay_mark(dependency, delay) or 'default'})"
        for n, delay in enumerate(dependency.delays_ms, 1)
        if delay
    )


def worst_case_terms(timeout: Timeout, dependency: Dependency) -> tuple[str, ...]:
    """`auth.request 4 x 1.0s (profiles/base.yaml:27:19)`, then each delay as a term."""
    if dependency.retries == 0:
        return (term(timeout),)
    attempts = f"{timeout.ref} {dependency.attempts} x {timeout.seconds}s ({timeout.mark})"
    return (attempts, *delay_terms(dependency))


def phase_term(timeout: Timeout, dependency: Dependency) -> str:
    """One phase of a startup chain or shutdown at its worst case, with its places:
    `database.connect 4 x 9.6s + 0.55s = 38.95s (profiles/base.yaml:20:29; retries
    profiles/base.yaml:22:18)`; `term(timeout)` for a phase without retries."""
    if not timeout.delays_ms:
        return term(timeout)
    waits = sum(timeout.delays_ms)
    arithmetic = f"{timeout.attempts} x {timeout.seconds}s"
    if waits:
        arithmetic += f" + {format_seconds(waits)}s"
    retries = dependency.marks.get("retries")
    where = f"{timeout.mark}; retries {retries}" if retries else str(timeout.mark)
    return f"{timeout.ref} {arithmetic} = {timeout.worst_seconds}s ({where})"
