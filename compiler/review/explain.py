"""Where every resolved number of one service comes from, step by step, with its place.

`explanation` builds one JSON-ready document (the json format prints it as is);
`render_text` walks the same document for people.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

from compiler.diagnostics import CompileError, Diagnostic, Mark, UsageError, did_you_mean
from compiler.durations import format_duration, format_factor, format_signed_seconds
from compiler.model import Operand, Profile, Service, Timeout
from compiler.pipeline.budgets import RuleResult, evaluate_service
from compiler.pipeline.load import Document
from compiler.pipeline.merge import MergedProfile, extends_chain, is_abstract, merge_chain
from compiler.pipeline.resolve import resolve_profile
from compiler.review.cloud_run import (
    cloud_run_lines,
    phase_lines,
    phases_doc,
    probe_reasoning,
    settings_doc,
    shutdown_doc,
    shutdown_lines,
)
from compiler.review.explain_retries import (
    amplification_doc,
    amplification_lines,
    retries_doc,
    retries_lines,
)
from compiler.review.places import set_by, shown, value_mark, where

Doc = dict[str, Any]


def load(root: Path, environment: str) -> tuple[Profile, MergedProfile]:
    """The resolved profile `environment` and its merged form (for marks); budgets unchecked.

    Only its extends chain is resolved, so a broken budget here, or an error in another
    profile's values, does not stop the explanation.
    """
    from compiler.pipeline import PROFILES_DIR, load_profiles

    documents = load_profiles(root)
    concrete = sorted(name for name, doc in documents.items() if not is_abstract(doc))
    if environment not in documents:
        raise UsageError(
            [
                Diagnostic(
                    Mark(PROFILES_DIR),
                    f"unknown environment '{environment}'",
                    did_you_mean(environment, concrete)
                    or f"environments: {', '.join(concrete) or 'none'}",
                )
            ]
        )
    if is_abstract(documents[environment]):
        heirs = [name for name in concrete if environment in _chain(name, documents)]
        hint = (
            f"name an environment that extends it: {', '.join(heirs)}"
            if heirs
            else "no environment extends it"
        )
        message = f"profile '{environment}' is abstract: it resolves to nothing"
        raise UsageError([Diagnostic(Mark(documents[environment].path), message, hint)])
    merged = merge_chain(extends_chain(environment, documents), documents)
    return resolve_profile(merged), merged


def _chain(name: str, documents: dict[str, Document]) -> tuple[str, ...]:
    """`name` and the profiles it extends; empty when its chain is broken."""
    try:
        return extends_chain(name, documents)
    except CompileError:
        return ()


def find_service(profile: Profile, name: str) -> Service:
    """The service `name` of `profile`, or a usage error with a did-you-mean."""
    for service in profile.services:
        if service.name == name:
            return service
    names = [s.name for s in profile.services]
    raise UsageError(
        [
            Diagnostic(
                Mark(profile.path),
                f"no service '{name}' in environment '{profile.name}'",
                did_you_mean(name, names) or f"services: {', '.join(names)}",
            )
        ]
    )


def find_timeout(service: Service, ref: str) -> Timeout:
    """The timeout `dependency.timeout` of `service`, or a usage error with a did-you-mean."""
    refs = {t.ref: t for t in service.timeouts}
    if ref in refs:
        return refs[ref]
    raise UsageError(
        [
            Diagnostic(
                service.marks["service"],
                f"no timeout '{ref}' in service '{service.name}'",
                did_you_mean(ref, refs) or f"timeouts: {', '.join(refs)}",
            )
        ]
    )


def _place(mark: Mark | None) -> Doc:
    return {"at": str(mark) if mark else None, "set_by": set_by(mark)}


def _operand(operand: Operand, **extra: Any) -> Doc:
    return {"step": operand.role, "text": operand.text, **extra, **_place(operand.mark)}


def _exact_ms(value: Fraction) -> str:
    """An exact product in milliseconds as a decimal: `256.41`, `6160`."""
    if value.denominator == 1:
        return str(value.numerator)
    places = 0
    while (value * 10**places).denominator != 1 and places < 30:
        places += 1
    if (value * 10**places).denominator != 1:
        return str(value)
    whole, fraction = divmod(int(value * 10**places), 10**places)
    return f"{whole}.{fraction:0{places}d}".rstrip("0")


def timeout_steps(timeout: Timeout) -> list[Doc]:
    """The arithmetic of one timeout, one step per operand and operation."""
    first, *rest = timeout.operands
    if timeout.fixed:
        return [_operand(first, ms=timeout.ms, note="pinned: not scaled")]
    steps = [_operand(first, ms=timeout.base_ms)]
    steps += [_operand(op) for op in rest if op.role != "max_timeout"]
    factors = " x ".join(op.text for op in rest if op.role != "max_timeout")
    exact = _exact_ms(timeout.exact_ms)
    steps.append(
        {"step": "product", "text": f"{timeout.base_ms} ms x {factors} = {exact} ms exactly"}
    )
    ceiled = -(-timeout.exact_ms.numerator // timeout.exact_ms.denominator)
    whole = timeout.exact_ms.denominator == 1
    steps.append(
        {
            "step": "ceil",
            "ms": ceiled,
            "text": f"{ceiled} ms (already whole)" if whole else f"{exact} ms -> {ceiled} ms",
        }
    )
    for op in rest:
        if op.role == "max_timeout":
            steps.append(
                _operand(op, note=f"capped: {format_duration(ceiled)} is above max_timeout")
            )
    return steps


def timeout_doc(service: Service, timeout: Timeout) -> Doc:
    """One resolved timeout: value, kind, where it was declared, the steps, where it is used."""
    kind = "fixed" if timeout.fixed else "capped" if timeout.capped else "scaled"
    used_in = [
        f"startup chain, phase {i} of {len(service.startup)}"
        for i, t in enumerate(service.startup, 1)
        if t.ref == timeout.ref
    ]
    used_in += [
        f"shutdown steps, step {i} of {len(service.shutdown)}"
        for i, t in enumerate(service.shutdown, 1)
        if t.ref == timeout.ref
    ]
    used_in += [
        f"request path {name}"
        for name, chain in service.request_paths.items()
        if timeout.ref in {t.ref for t in chain}
    ]
    return {
        "timeout": timeout.ref,
        "ms": timeout.ms,
        "seconds": timeout.seconds,
        "env_var": timeout.env_name,
        "kind": kind,
        **_place(timeout.mark),
        "steps": timeout_steps(timeout),
        "used_in": used_in,
    }


def startup_doc(profile: Profile, service: Service, merged: MergedProfile) -> Doc:
    """The startup chain with offsets, each phase at its worst case; its total, the buffer,
    the budget and the cap."""
    env = profile.environment
    return {
        "phases": phases_doc(service.startup),
        **_place(service.marks.get("startup")),
        "total_ms": service.startup_total_ms,
        "cold_start_buffer_ms": service.cold_start_buffer_ms,
        "cold_start_buffer_at": shown(value_mark(merged, ("platform", "cold_start_buffer"))),
        "boot_time_ms": service.boot_time_ms,
        "boot_time_at": shown(service.settings.marks.get("boot_time")),
        "budget_ms": service.startup_budget_ms,
        "max_total_timeout_ms": env.max_total_timeout_ms,
        "max_total_timeout_at": shown(
            env.max_total_timeout.mark if env.max_total_timeout else None
        ),
    }


def cloud_run_doc(profile: Profile, service: Service, merged: MergedProfile) -> Doc:
    """The settings of service.yaml that come from the resolved values."""
    probe = service.startup_probe
    return {
        "service_name": service.cloud_run_name,
        "service_name_template_at": shown(value_mark(merged, ("platform", "service_name"))),
        "timeout_seconds": service.request_timeout_s,
        "request_timeout_at": shown(service.marks.get("request_timeout")),
        "startup_probe": {
            "initial_delay_seconds": probe.initial_delay_s,
            "timeout_seconds": probe.timeout_s,
            "period_seconds": probe.period_s,
            "failure_threshold": probe.failure_threshold,
            "window_seconds": probe.window_s,
            "last_probe_seconds": probe.last_probe_s,
            "covers_budget_ms": service.startup_budget_ms,
            "reasoning": probe_reasoning(service),
        },
        **settings_doc(service),
        "min_instances": profile.platform.min_instances,
        "min_instances_at": shown(value_mark(merged, ("platform", "min_instances"))),
        "max_instances": profile.platform.max_instances,
    }


def _rule_doc(result: RuleResult) -> Doc:
    numbers: Doc
    if result.unit == "ms":
        numbers = {
            "used_ms": result.used_ms,
            "limit_ms": result.limit_ms,
            "margin_ms": result.margin_ms,
        }
    else:
        numbers = {
            "unit": result.unit,
            "used": result.used_ms,
            "limit": result.limit_ms,
            "margin": result.margin_ms,
        }
    return {
        "rule": result.rule,
        "subject": result.subject,
        "status": result.status,
        **numbers,
        "terms": list(result.terms),
        "at": str(result.mark),
        "reason": result.reason or None,
    }


def budgets_doc(profile: Profile, service: Service, merged: MergedProfile, only: str | None) -> Doc:
    """Every rule result (those naming `only`, when given) and every `allow` with its reason."""
    results = evaluate_service(profile, service)
    if only is not None:
        results = tuple(
            r for r in results if r.subject == only or any(_names(term, only) for term in r.terms)
        )
    allowed = [
        {
            "rule": rule,
            "reason": reason,
            "at": shown(value_mark(merged, ("services", service.name, "allow", rule))),
        }
        for rule, reason in sorted(service.allow.items())
    ]
    return {"rules": [_rule_doc(r) for r in results], "allowed": allowed}


def _names(term: str, ref: str) -> bool:
    """Whether a budget term is about `ref`: `ref 3.0s (...)`, `step 1 of 2 ref 3.0s (...)`."""
    if term.startswith("step "):
        term = term.split(" ", 4)[-1]
    return term.startswith(f"{ref} ")


def explanation(
    profile: Profile, merged: MergedProfile, service: Service, ref: str | None = None
) -> Doc:
    """The whole explanation of `service` (or of one of its timeouts) as plain data."""
    env = profile.environment
    timeouts = [find_timeout(service, ref)] if ref else list(service.timeouts)
    document: Doc = {
        "environment": profile.name,
        "profile": profile.path,
        "extends": list(profile.chain[1:]),
        "service": service.name,
        "factors": {
            "timeout_multiplier": format_factor(env.multiplier_value),
            "timeout_multiplier_at": shown(env.multiplier.mark),
            "safety_margin": format_factor(env.margin_value),
            "safety_margin_at": shown(env.margin.mark),
            "max_timeout_ms": env.max_timeout_ms,
            "max_timeout_at": shown(env.max_timeout.mark if env.max_timeout else None),
        },
        "timeouts": [timeout_doc(service, t) for t in timeouts],
        "retries": retries_doc(service, ref),
    }
    if ref is None:
        document["amplification"] = amplification_doc(profile, service)
        document["startup"] = startup_doc(profile, service, merged)
        document["shutdown"] = shutdown_doc(service)
        document["cloud_run"] = cloud_run_doc(profile, service, merged)
    document["budgets"] = budgets_doc(profile, service, merged, ref)
    return document


# --- text --------------------------------------------------------------------------------


def _timeout_lines(doc: Doc) -> Iterator[str]:
    yield f"  {doc['timeout']} = {doc['seconds']}s ({doc['kind']}), {doc['env_var']}"
    labels = {
        "base": "base",
        "fixed": "fixed",
        "timeout_multiplier": "x timeout_multiplier",
        "safety_margin": "x safety_margin",
        "max_timeout": "cap at max_timeout",
    }
    for step in doc["steps"]:
        name = step["step"]
        if name in ("product", "ceil"):
            label = "= exact product" if name == "product" else "ceil"
            yield f"    {label:<22} {step['text']}"
            continue
        place = where(step["at"], step["set_by"])
        note = f"; {step['note']}" if step.get("note") else ""
        yield f"    {labels.get(name, name):<22} {step['text']:<8} {place}{note}"
    yield f"    {'= ' + str(doc['ms']) + ' ms':<22} {doc['seconds']}s"
    if doc["used_in"]:
        yield f"    used in: {'; '.join(doc['used_in'])}"


def render_text(doc: Doc) -> str:
    """The explanation for people: one block per section, every operand with its place."""
    factors = doc["factors"]
    chain = " -> ".join(doc["extends"])
    extends = f"; extends {chain}" if chain else ""
    lines = [
        f"{doc['environment']} / {doc['service']}  ({doc['profile']}{extends})",
        f"  timeout_multiplier {factors['timeout_multiplier']} "
        f"{where(factors['timeout_multiplier_at'])}, "
        f"safety_margin {factors['safety_margin']} {where(factors['safety_margin_at'])}",
        "",
        "timeouts",
    ]
    for timeout in doc["timeouts"]:
        lines += [*_timeout_lines(timeout), ""]
    lines += retries_lines(doc["retries"])
    if "amplification" in doc:
        lines += amplification_lines(doc["amplification"])
    if "startup" in doc:
        lines += _startup_lines(doc["startup"])
        lines += shutdown_lines(doc["shutdown"])
        lines += cloud_run_lines(doc["cloud_run"])
    lines += _budget_lines(doc["budgets"])
    return "\n".join(lines).rstrip("\n") + "\n"


def _startup_lines(startup: Doc) -> list[str]:
    lines = [f"startup chain  {where(startup['at'])}"]
    lines += phase_lines(startup["phases"])
    lines.append(f"  {'startup total':<31} {format_signed_seconds(startup['total_ms']):>9}")
    buffer = format_signed_seconds(startup["cold_start_buffer_ms"])
    lines.append(
        f"  {'+ cold_start_buffer':<31} {buffer:>9}   {where(startup['cold_start_buffer_at'])}"
    )
    boot = format_signed_seconds(startup["boot_time_ms"])
    lines.append(f"  {'+ boot_time':<31} {boot:>9}   {where(startup['boot_time_at'])}")
    lines.append(f"  {'= startup budget':<31} {format_signed_seconds(startup['budget_ms']):>9}")
    if startup["max_total_timeout_ms"] is not None:
        cap = format_signed_seconds(startup["max_total_timeout_ms"])
        margin = format_signed_seconds(startup["max_total_timeout_ms"] - startup["total_ms"])
        lines.append(
            f"  {'max_total_timeout':<31} {cap:>9}   {startup['max_total_timeout_at']}; "
            f"margin {margin}"
        )
    return [*lines, ""]


def _budget_lines(budgets: Doc) -> list[str]:
    lines = ["budget rules"]
    if not budgets["rules"]:
        lines.append("  (none apply)")
    for rule in budgets["rules"]:
        if "used_ms" in rule:
            used, limit = (
                format_signed_seconds(rule["used_ms"]),
                format_signed_seconds(rule["limit_ms"]),
            )
            margin = format_signed_seconds(rule["margin_ms"])
        else:
            used, limit = str(rule["used"]), f"{rule['limit']} {rule['unit']}"
            margin = str(rule["margin"])
        lines.append(
            f"  {rule['status']:<7} {rule['rule']} ({rule['subject']}): "
            f"{used} of {limit}, margin {margin}"
        )
        if rule["reason"]:
            lines.append(f'      allowed: "{rule["reason"]}"')
        lines += [f"      {term}" for term in rule["terms"]]
    if budgets["allowed"]:
        lines += ["", "switched off with allow"]
        for allowed in budgets["allowed"]:
            lines.append(f'  {allowed["rule"]}: "{allowed["reason"]}"  {where(allowed["at"])}')
    return lines
