"""Timeout budgets: rules over a resolved profile that no single value can break alone.

Each rule yields one `RuleResult` per thing it checks (ok or broken); `explain` and
`diff` read the results and their margins. `check_budgets` asks each rule for its broken
checks only (`passing=False`: most pass, and a passing one is then not even made) and
turns them into errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import partial

from compiler import cloudrun
from compiler.diagnostics import Diagnostic, Mark, possessive
from compiler.durations import format_duration, format_factor
from compiler.model import Dependency, Environment, Profile, Service, Timeout, lazy
from compiler.pipeline.amplification import link_cycles, retry_amplification
from compiler.pipeline.terms import (
    Rule,
    RuleResult,
    Status,
    Terms,
    phase_term,
    term,
    worst_case_terms,
)

Parts = tuple[tuple[Timeout, Dependency], ...]
__all__ = ["RULES", "Rule", "RuleResult", "Status", "check_budgets", "evaluate_service", "term"]


def startup_total(profile: Profile, service: Service, passing: bool = True) -> Iterator[RuleResult]:
    """The startup chain at its worst case is at most `max_total_timeout`."""
    env = profile.environment
    limit = env.max_total_timeout_ms
    if limit is None or env.max_total_timeout is None:
        return
    used = service.startup_total_ms
    mark = service.marks.get("startup", service.marks["service"])
    if used <= limit:
        if passing:
            terms_of = partial(_chain_terms, service, service.startup)
            yield RuleResult(
                "budget.startup-total", "startup chain", "ok", used, limit, terms_of, mark
            )
        return
    terms = _chain_terms(service, service.startup)
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
        _hint(
            *_fewer_retries(_parts(service, service.startup), over),
            f"shorten the chain by {format_duration(over)}",
            f"raise max_total_timeout to {format_duration(used)}",
        ),
    )


def _parts(service: Service, timeouts: tuple[Timeout, ...]) -> Parts:
    """Each timeout of a chain with its dependency."""
    by_name = service.dependencies_by_name
    return tuple((t, by_name[t.dependency]) for t in timeouts)


def _chain_terms(service: Service, timeouts: tuple[Timeout, ...]) -> Terms:
    """Each phase at its worst case: `database.connect 4 x 9.6s + 0.55s = 38.95s (...)`."""
    return tuple(phase_term(t, d) for t, d in _parts(service, timeouts))


def _budget_terms(service: Service) -> Terms:
    """The startup chain, the cold-start buffer and the boot time, each with its place."""
    terms = list(_chain_terms(service, service.startup))
    if service.cold_start_buffer_ms:
        buffer = f"cold_start_buffer {format_duration(service.cold_start_buffer_ms)}"
        where = service.marks.get("cold_start_buffer")
        terms.append(f"{buffer} ({where})" if where else buffer)
    boot = f"boot_time {format_duration(service.boot_time_ms)}"
    terms.append(f"{boot} ({service.marks.get('boot_time') or 'default'})")
    return tuple(terms)


def startup_probe(profile: Profile, service: Service, passing: bool = True) -> Iterator[RuleResult]:
    """The startup budget, from the chain at its worst case, fits Cloud Run's 240 s window."""
    used = service.startup_budget_ms
    limit = cloudrun.PROBE_WINDOW_S * 1000
    mark = service.marks.get("startup", service.marks["service"])
    if used <= limit:
        if passing:
            terms_of = partial(_budget_terms, service)
            yield RuleResult(
                "budget.startup-probe", "startup budget", "ok", used, limit, terms_of, mark
            )
        return
    terms = _budget_terms(service)
    over_ms = used - limit
    over = format_duration(over_ms)
    fixes = [f"shorten the startup chain by {over}"]
    why = ""
    parts = _parts(service, service.startup)
    if any(t.delays_ms for t, _ in parts):  # retried phases: say which costs the most
        timeout, dependency = max(parts, key=lambda part: part[0].worst_ms)
        why = (
            f"the startup chain at its worst case (every attempt of every phase) is "
            f"{format_duration(service.startup_total_ms)}, and {timeout.ref} costs the most "
            f"({format_duration(timeout.worst_ms)}): "
        )
        if dependency.retries:
            fixes[:0] = _fewer_retries(((timeout, dependency),), over_ms) or [
                f"lower {dependency.name}.retries{_at(dependency)}"
            ]
    yield RuleResult(
        "budget.startup-probe",
        "startup budget",
        "broken",
        used,
        limit,
        terms,
        mark,
        f"startup budget {format_duration(used)} exceeds Cloud Run's "
        f"{cloudrun.PROBE_WINDOW_S}s startup-probe window by {over}: {why}" + " + ".join(terms),
        _hint(*fixes),
    )


def shutdown(profile: Profile, service: Service, passing: bool = True) -> Iterator[RuleResult]:
    """The shutdown steps at their worst case fit the 10 s Cloud Run leaves after SIGTERM."""
    if not service.shutdown:
        return
    used = service.shutdown_total_ms
    limit = cloudrun.SHUTDOWN_GRACE_MS
    mark = service.marks.get("shutdown", service.marks["service"])
    if used <= limit:
        if passing:
            terms_of = partial(_shutdown_terms, service)
            yield RuleResult("budget.shutdown", "shutdown steps", "ok", used, limit, terms_of, mark)
        return
    terms = _shutdown_terms(service)
    over = format_duration(used - limit)
    yield RuleResult(
        "budget.shutdown",
        "shutdown steps",
        "broken",
        used,
        limit,
        terms,
        mark,
        f"shutdown steps take {format_duration(used)}{_at_worst(service.shutdown)}, {over} more "
        f"than the {format_duration(limit)} Cloud Run leaves between SIGTERM and SIGKILL: "
        + " + ".join(terms),
        _hint(
            *_fewer_retries(_parts(service, service.shutdown), used - limit),
            f"shorten the shutdown steps by {over}",
        ),
    )


def _at_worst(timeouts: tuple[Timeout, ...]) -> str:
    """` at their worst case` where a step is retried; nothing otherwise."""
    return " at their worst case" if any(t.delays_ms for t in timeouts) else ""


def _shutdown_terms(service: Service) -> Terms:
    steps = _chain_terms(service, service.shutdown)
    return tuple(f"step {i} of {len(steps)} {text}" for i, text in enumerate(steps, 1))


# --- terms and fixes shared by the request rules ---------------------------------------


@dataclass(frozen=True)
class PathCost:
    """The worst case of one request path: the total and each timeout's share."""

    name: str
    used_ms: int
    parts: Parts

    @lazy
    def terms(self) -> Terms:
        """Each timeout's worst case as terms: attempts, then each delay."""
        return tuple(text for t, d in self.parts for text in worst_case_terms(t, d))

    def terms_of(self) -> Terms:
        """`terms`, as a rule result asks for them."""
        return self.terms


def path_cost(service: Service, name: str) -> PathCost:
    """The worst case of the request path `name` of `service`, part by part.

    Its total is `service.request_path_worst_ms[name]`: a rule that only needs the total
    reads that, and makes the parts only for a path it reports.
    """
    return PathCost(
        name, service.request_path_worst_ms[name], _parts(service, service.request_paths[name])
    )


def longest_path(service: Service) -> str | None:
    """The request path of `service` with the largest worst case (the first of equals)."""
    worst = service.request_path_worst_ms
    return max(worst, key=worst.__getitem__) if worst else None


def request_timeout_term(service: Service) -> str:
    """`request_timeout 300s (profiles/base.yaml:16:22)`."""
    mark = service.marks.get("request_timeout", service.marks["service"])
    return f"request_timeout {format_duration(service.request_timeout_ms)} ({mark})"


def _factor(env: Environment) -> Fraction:
    return env.multiplier_value * env.margin_value


def _pinned(timeout: Timeout) -> str:
    pin = timeout.operands[0]
    return f"pinned with fixed at {pin.mark}" if pin.mark else "pinned with fixed"


def raise_request_timeout(service: Service, at_least_ms: int, whose: str = "") -> str:
    """Raise request_timeout to whole seconds covering `at_least_ms`; '' past Cloud Run's max."""
    seconds = -(-at_least_ms // 1000)
    if seconds > cloudrun.MAX_REQUEST_TIMEOUT_S:
        return ""
    mark = service.marks.get("request_timeout", service.marks["service"])
    return f"raise {whose}request_timeout to {seconds}s ({mark})"


def lower_timeout(timeout: Timeout, env: Environment, target_ms: int) -> str:
    """How to bring `timeout` down to `target_ms`, as a user edits it; '' when impossible."""
    if target_ms < 1 or target_ms >= timeout.ms:
        return ""
    by = format_duration(timeout.ms - target_ms)
    text = f"lower {timeout.ref} by {by} to {format_duration(target_ms)}"
    if timeout.fixed:
        return f"{text} ({_pinned(timeout)})"
    factor = _factor(env)
    if factor == 1 and not timeout.capped:
        return text
    base_ms = math.floor(target_ms / factor)  # the largest base whose ceil(base * factor) fits
    if base_ms < 1:
        return ""
    base = timeout.operands[0]
    return (
        f"{text} (a base of at most {format_duration(base_ms)} at "
        f"x{format_factor(factor)}, {base.mark})"
    )


def raise_timeout(timeout: Timeout, env: Environment, target_ms: int) -> str:
    """How to bring `timeout` up to `target_ms`, as a user edits it (caps included)."""
    target = format_duration(target_ms)
    first = ""
    if env.max_timeout_ms is not None and target_ms > env.max_timeout_ms:
        assert env.max_timeout is not None
        why = "no pin may exceed it" if timeout.fixed else f"it caps {timeout.ref}"
        first = f"raise max_timeout ({why}) to {target} ({env.max_timeout.mark})"
        if not timeout.fixed and math.ceil(timeout.exact_ms) >= target_ms:
            return first
        first += " and "
    text = f"{first}raise {timeout.ref}"
    if not timeout.capped:
        text += f" by {format_duration(target_ms - timeout.ms)}"
    text += f" to {target}"
    if timeout.fixed:
        return f"{text} ({_pinned(timeout)})"
    factor = _factor(env)
    if factor == 1:
        return text
    # the smallest base whose ceil(base * factor) reaches the target: base * factor > target - 1
    base_ms = math.floor((target_ms - 1) / factor) + 1
    base = timeout.operands[0]
    return (
        f"{text} (a base of at least {format_duration(base_ms)} at "
        f"x{format_factor(factor)}, {base.mark})"
    )


def _hint(*options: str) -> str:
    return ", or ".join(o for o in options if o)


# --- budget.dependency -----------------------------------------------------------------


def _dependency_terms(timeout: Timeout, service: Service) -> Terms:
    return term(timeout), request_timeout_term(service)


def dependency_below_request(
    profile: Profile, service: Service, passing: bool = True
) -> Iterator[RuleResult]:
    """Every timeout outside the startup chain is strictly below `request_timeout`."""
    in_startup = {t.ref for t in service.startup}
    limit = service.request_timeout_ms
    for timeout in service.timeouts:
        if timeout.ref in in_startup:
            continue
        if timeout.ms < limit:
            if not passing:
                continue
            yield RuleResult(
                "budget.dependency",
                timeout.ref,
                "ok",
                timeout.ms,
                limit,
                partial(_dependency_terms, timeout, service),
                timeout.mark,
                strict=True,
            )
            continue
        terms = _dependency_terms(timeout, service)
        yield RuleResult(
            "budget.dependency",
            timeout.ref,
            "broken",
            timeout.ms,
            limit,
            terms,
            timeout.mark,
            f"{term(timeout)} is not below {request_timeout_term(service)}: "
            "Cloud Run ends the request before this timeout can fire",
            _hint(
                lower_timeout(timeout, profile.environment, limit - 1),
                raise_request_timeout(service, timeout.ms + 1),
            ),
            strict=True,
        )


# --- budget.request-path ---------------------------------------------------------------


def _at(dependency: Dependency) -> str:
    mark = dependency.marks.get("retries")
    return f" ({mark})" if mark else ""


def _fewer_retries(parts: Parts, over_ms: int) -> list[str]:
    """`lower auth.retries to 1 (mark)` for each retried dependency that alone can fix it."""
    options = []
    seen: set[str] = set()
    for _, dependency in parts:
        if dependency.retries == 0 or dependency.name in seen:
            continue
        seen.add(dependency.name)
        timeouts = [t for t, d in parts if d is dependency]
        for retries in range(dependency.retries - 1, -1, -1):  # the most retries that fit
            kept = sum(dependency.delays_ms[:retries])
            saved = sum(t.worst_ms - (retries + 1) * t.ms - kept for t in timeouts)
            if saved >= over_ms:
                options.append(f"lower {dependency.name}.retries to {retries}{_at(dependency)}")
                break
    return options


def request_path(profile: Profile, service: Service, passing: bool = True) -> Iterator[RuleResult]:
    """Each request path's summed worst case is at most `request_timeout`."""
    limit = service.request_timeout_ms
    for name, used in service.request_path_worst_ms.items():
        if used <= limit and not passing:
            continue
        cost = path_cost(service, name)
        subject = f"request path {cost.name}"
        mark = service.marks.get(f"request_paths.{cost.name}", service.marks["service"])
        if cost.used_ms <= limit:
            yield RuleResult(
                "budget.request-path", subject, "ok", cost.used_ms, limit, cost.terms_of, mark
            )
            continue
        over = cost.used_ms - limit
        largest, dependency = max(cost.parts, key=lambda part: part[0].worst_ms)
        shorter = largest.ms - -(-over // (dependency.retries + 1))
        yield RuleResult(
            "budget.request-path",
            subject,
            "broken",
            cost.used_ms,
            limit,
            cost.terms,
            mark,
            f"request path '{cost.name}' may wait {format_duration(cost.used_ms)} in the worst "
            f"case, {format_duration(over)} more than {request_timeout_term(service)}: "
            + " + ".join(cost.terms),
            _hint(
                *_fewer_retries(cost.parts, over),
                lower_timeout(largest, profile.environment, shorter),
                raise_request_timeout(service, cost.used_ms),
            ),
        )


# --- budget.callee ---------------------------------------------------------------------


def callee(profile: Profile, service: Service, passing: bool = True) -> Iterator[RuleResult]:
    """A caller waits at least as long as its callee's longest path, at most its request."""
    services = profile.services_by_name
    for dependency in service.dependencies:
        if dependency.service is None or dependency.service not in services:
            continue
        target = services[dependency.service]
        mark = dependency.marks.get("service", service.marks["service"])
        longest = longest_path(target)
        cost: PathCost | None = None
        for timeout in dependency.timeouts:
            if longest is not None and (
                passing or target.request_path_worst_ms[longest] > timeout.ms
            ):
                cost = cost or path_cost(target, longest)
                yield _covers_callee_path(profile, timeout, target, cost, mark)
            if passing or timeout.ms > target.request_timeout_ms:
                yield _within_callee_request(profile, timeout, target, mark)


def _callee_result(
    subject: str,
    used: int,
    limit: int,
    terms: Callable[[], Terms],
    mark: Mark,
    why: Callable[[], tuple[str, str]],
) -> RuleResult:
    """One budget.callee check; `why` gives the message and hint, only when it is broken."""
    if used <= limit:
        return RuleResult("budget.callee", subject, "ok", used, limit, terms, mark)
    message, hint = why()
    return RuleResult("budget.callee", subject, "broken", used, limit, terms(), mark, message, hint)


def _covers_callee_path(
    profile: Profile, timeout: Timeout, target: Service, longest: PathCost, mark: Mark
) -> RuleResult:
    """The caller's timeout lets the callee's longest request path finish."""
    used, limit = longest.used_ms, timeout.ms

    def why() -> tuple[str, str]:
        over = format_duration(used - limit)
        message = (
            f"{term(timeout)} gives up {over} before {possessive(target.name)} request path "
            f"'{longest.name}' can finish (worst case {format_duration(used)}: "
            + " + ".join(longest.terms)
            + ")"
        )
        shorten = f"shorten {possessive(target.name)} request path '{longest.name}' by {over}"
        if used > target.request_timeout_ms:  # raising the caller would outlast the callee
            return message, shorten
        return message, _hint(raise_timeout(timeout, profile.environment, used), shorten)

    terms = partial(_covers_terms, timeout, target, longest)
    return _callee_result(f"{timeout.ref} covers {target.name}", used, limit, terms, mark, why)


def _covers_terms(timeout: Timeout, target: Service, longest: PathCost) -> Terms:
    return term(timeout), *(f"{target.name} {t}" for t in longest.terms)


def _within_callee_request(
    profile: Profile, timeout: Timeout, target: Service, mark: Mark
) -> RuleResult:
    """The caller's timeout does not outlast the callee's request timeout."""
    used, limit = timeout.ms, target.request_timeout_ms

    def why() -> tuple[str, str]:
        callee = possessive(target.name)
        message = (
            f"{term(timeout)} waits {format_duration(used - limit)} longer than {callee} "
            f"{request_timeout_term(target)}: Cloud Run ends {callee} request first"
        )
        return message, _hint(
            lower_timeout(timeout, profile.environment, limit),
            raise_request_timeout(target, used, f"{possessive(target.name)} "),
        )

    terms = partial(_within_terms, timeout, target)
    subject = f"{timeout.ref} within {target.name} request_timeout"
    return _callee_result(subject, used, limit, terms, mark, why)


def _within_terms(timeout: Timeout, target: Service) -> Terms:
    return term(timeout), f"{target.name} {request_timeout_term(target)}"


RULES: dict[str, Rule] = {
    "budget.dependency": dependency_below_request,
    "budget.request-path": request_path,
    "budget.startup-total": startup_total,
    "budget.startup-probe": startup_probe,
    "budget.callee": callee,
    "budget.retry-amplification": retry_amplification,
    "budget.shutdown": shutdown,
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
    found: list[Diagnostic] = []
    for service in profile.services:
        for rule_id, rule in RULES.items():
            if service.allow.get(rule_id, ""):  # allowed: `evaluate_service` marks them so
                continue
            found.extend(
                Diagnostic(
                    result.mark,
                    f"{result.rule}: profile '{profile.name}', service '{service.name}': "
                    f"{result.message}",
                    result.hint,
                    rule=result.rule,
                )
                for result in rule(profile, service, passing=False)
            )
    return found + link_cycles(profile)
