"""The retries part of `explain`: each delay with its arithmetic, worst cases, chains of links.

`retries_doc` and `amplification_doc` build JSON-ready documents; `retries_lines` and
`amplification_lines` print them for people.
"""

from __future__ import annotations

from typing import Any

from compiler.diagnostics import plural
from compiler.durations import format_factor, format_seconds
from compiler.model import Dependency, Profile, Service
from compiler.pipeline.amplification import chains
from compiler.pipeline.terms import delay_mark
from compiler.review.places import set_by, shown, where

Doc = dict[str, Any]


def _delay_step(dependency: Dependency, retry: int, delay_ms: int) -> str:
    """`100 ms x 2^2 = 400 ms, capped at max 250 ms`, or `constant 200 ms`."""
    if "backoff.initial" not in dependency.marks:
        return f"constant {delay_ms} ms"
    exact = dependency.backoff_ms * dependency.backoff_multiplier ** (retry - 1)
    multiplier = format_factor(dependency.backoff_multiplier)
    text = f"{dependency.backoff_ms} ms x {multiplier}^{retry - 1} = {format_factor(exact)} ms"
    ceiled = -(-exact.numerator // exact.denominator)
    if ceiled != exact:
        text += f" -> {ceiled} ms"
    if ceiled > delay_ms:
        text += f", capped at max {delay_ms} ms"
    return text


def _backoff_doc(dependency: Dependency) -> Doc:
    marks = dependency.marks
    exponential = "backoff.initial" in marks
    kind = "exponential" if exponential else "constant" if "backoff" in marks else "none"
    return {
        "kind": kind,
        "initial_ms": dependency.backoff_ms,
        "initial_at": shown(marks.get("backoff.initial") or marks.get("backoff")),
        "multiplier": format_factor(dependency.backoff_multiplier),
        "multiplier_at": shown(marks.get("backoff.multiplier")),
        "max_ms": dependency.backoff_max_ms,
        "max_at": shown(marks.get("backoff.max")),
    }


def dependency_retries_doc(service: Service, dependency: Dependency) -> Doc:
    """One retried dependency: its policy, each delay, and each timeout's worst case."""
    delays = dependency.delays_ms
    worst_cases = []
    for timeout in dependency.timeouts:
        worst = timeout.worst_ms
        text = f"{dependency.attempts} x {timeout.ms} ms"
        waits = [str(d) for d in delays if d]
        if len(waits) == 1:
            text += f" + {waits[0]} ms"
        elif waits:
            text += " + (" + " + ".join(waits) + ") ms"
        worst_cases.append({"timeout": timeout.ref, "ms": worst, "text": f"{text} = {worst} ms"})
    return {
        "dependency": dependency.name,
        "retries": dependency.retries,
        "attempts": dependency.attempts,
        "retries_at": shown(dependency.marks.get("retries")),
        "backoff": _backoff_doc(dependency),
        "jitter": dependency.jitter,
        "jitter_at": shown(dependency.marks.get("jitter")),
        "delays": [
            {
                "retry": n,
                "ms": delay,
                "text": _delay_step(dependency, n, delay),
                "at": shown(delay_mark(dependency, delay)),
            }
            for n, delay in enumerate(delays, 1)
        ],
        "worst_cases": worst_cases,
    }


def retries_doc(service: Service, only: str | None = None) -> list[Doc]:
    """Every retried dependency of `service` (only the one of timeout `only`, when given)."""
    dependency = only.split(".", 1)[0] if only else None
    return [
        dependency_retries_doc(service, d)
        for d in service.retried
        if dependency is None or d.name == dependency
    ]


def amplification_doc(profile: Profile, service: Service) -> Doc:
    """The chain of most attempts that each `service:` link of `service` starts."""
    env = profile.environment
    limit = env.max_retry_amplification_value
    found = []
    for chain in chains(profile, service):
        found.append(
            {
                "via": chain.hops[0].dependency.name,
                "chain": str(chain),
                "product": chain.product,
                "within_limit": chain.product <= limit,
                "hops": [
                    {
                        "caller": hop.caller,
                        "dependency": hop.dependency.name,
                        "callee": hop.callee,
                        "attempts": hop.attempts,
                        "at": shown(hop.mark),
                    }
                    for hop in chain.hops
                ],
            }
        )
    mark = env.max_retry_amplification.mark
    return {
        "max_retry_amplification": limit,
        "max_retry_amplification_at": shown(mark),
        "set_by": set_by(mark),
        "chains": found,
    }


def retries_lines(docs: list[Doc]) -> list[str]:
    """`retries` for people: the policy, each delay with its arithmetic, the worst cases."""
    if not docs:
        return []
    lines = ["retries"]
    for doc in docs:
        backoff = doc["backoff"]
        lines.append(
            f"  {doc['dependency']}: {plural(doc['retries'], 'retry', 'retries')}, "
            f"{plural(doc['attempts'], 'attempt')}"
            f"   {where(doc['retries_at'])}"
        )
        if backoff["kind"] == "exponential":
            cap = "no max" if backoff["max_ms"] is None else f"max {backoff['max_ms']} ms"
            lines.append(
                f"    backoff initial {backoff['initial_ms']} ms {where(backoff['initial_at'])}, "
                f"multiplier {backoff['multiplier']} {where(backoff['multiplier_at'])}, "
                f"{cap}" + (f" {backoff['max_at']}" if backoff["max_at"] else "")
            )
        elif backoff["kind"] == "constant":
            lines.append(
                f"    backoff constant {backoff['initial_ms']} ms {where(backoff['initial_at'])}"
            )
        else:
            lines.append("    backoff none: each retry starts at once (default)")
        lines.append(
            f"    jitter {doc['jitter']} {where(doc['jitter_at'])} (the worst case is the same)"
        )
        for delay in doc["delays"]:
            seconds = format_seconds(delay["ms"]) + "s"
            lines.append(
                f"    retry {delay['retry']} waits {seconds:<9} {delay['text']}"
                + (f"   {delay['at']}" if delay["at"] else "")
            )
        for worst in doc["worst_cases"]:
            lines.append(
                f"    worst case {worst['timeout']} = {worst['text']} "
                f"= {format_seconds(worst['ms'])}s"
            )
    return [*lines, ""]


def amplification_lines(doc: Doc) -> list[str]:
    """`retry amplification` for people: each chain, its product and the limit."""
    if not doc["chains"]:
        return []
    limit = doc["max_retry_amplification"]
    lines = [
        f"retry amplification (max_retry_amplification {limit} "
        f"{where(doc['max_retry_amplification_at'])})"
    ]
    for chain in doc["chains"]:
        verdict = "<=" if chain["within_limit"] else ">"
        lines.append(f"  {chain['chain']} = {chain['product']} {verdict} {limit}")
    return [*lines, ""]
