"""The Cloud Run part of an explanation: why the probes are what they are, and each setting.

Plain data for `explain --format json`, and the lines `explain` prints for people.
"""

from __future__ import annotations

from typing import Any

from compiler import cloudrun
from compiler.durations import format_seconds, format_signed_seconds
from compiler.model import Service, Timeout
from compiler.review.places import shown, where

Doc = dict[str, Any]


def probe_reasoning(service: Service) -> list[str]:
    """Why the startup probe has this period, this threshold and this window."""
    probe = service.startup_probe
    budget = service.startup_budget_ms
    budget_s = -(-budget // 1000)
    lines = [
        f"Cloud Run probes at initialDelaySeconds + k x periodSeconds (k = 0 .. "
        f"failureThreshold - 1) and ends the container after the last failure, so the last "
        f"probe must run at or after the startup budget: {probe.initial_delay_s} + "
        f"({probe.failure_threshold} - 1) x {probe.period_s} = {probe.last_probe_s}s >= "
        f"{format_seconds(budget)}s",
        f"periodSeconds {probe.period_s}: the shortest Cloud Run allows, so a ready instance "
        f"waits at most {probe.period_s}s for its first passing probe",
        f"failureThreshold {probe.failure_threshold}: the fewest probes whose last one runs at "
        f"or after {budget_s}s, the budget in whole seconds",
        f"window failureThreshold x periodSeconds = {probe.window_s}s <= "
        f"{cloudrun.PROBE_WINDOW_S}s (Cloud Run's limit)",
    ]
    if probe.initial_delay_s:
        lines.append(
            f"initialDelaySeconds {probe.initial_delay_s}: the window alone cannot reach "
            f"{budget_s}s, so the first probe waits the least that does"
        )
    else:
        lines.append("initialDelaySeconds 0: the first probe runs as the container starts")
    lines.append(f"timeoutSeconds {probe.timeout_s}: at most periodSeconds, as Cloud Run requires")
    if probe.last_probe_s * 1000 < budget:
        lines.append(
            f"the budget is above what Cloud Run's limits allow: a start slower than "
            f"{probe.last_probe_s}s is ended (rule budget.startup-probe)"
        )
    return lines


def _setting(service: Service, key: str, value: object, default: str) -> Doc:
    mark = service.settings.marks.get(key)
    return {"value": value, "at": shown(mark), "default": default if mark is None else None}


def settings_doc(service: Service) -> Doc:
    """Each Cloud Run setting with where it was set, and where service.yaml writes it."""
    settings = service.settings
    liveness = settings.liveness_probe
    return {
        "container_name": service.container_name,
        "startup_cpu_boost": _setting(
            service, "startup_cpu_boost", settings.startup_cpu_boost, "Cloud Run's (false)"
        ),
        "cpu_throttling": _setting(
            service, "cpu_throttling", settings.cpu_throttling, "Cloud Run's (true)"
        ),
        "session_affinity": _setting(
            service, "session_affinity", settings.session_affinity, "Cloud Run's (false)"
        ),
        "concurrency": _setting(service, "concurrency", settings.concurrency, "Cloud Run's (80)"),
        "annotations": dict(settings.annotations),
        "liveness_probe": {
            "timeout_seconds": _setting(
                service, "liveness_probe.timeout", liveness.timeout_s, "timeoutc's (3s)"
            ),
            "period_seconds": _setting(
                service, "liveness_probe.period", liveness.period_s, "timeoutc's (10s)"
            ),
            "failure_threshold": _setting(
                service,
                "liveness_probe.failure_threshold",
                liveness.failure_threshold,
                "timeoutc's (3)",
            ),
        },
    }


def phases_doc(timeouts: tuple[Timeout, ...]) -> list[Doc]:
    """The phases of a startup chain or the steps of a shutdown, each at its worst case
    (every attempt and every wait before a retry), and when it starts at the latest."""
    phases, offset = [], 0
    for timeout in timeouts:
        phases.append(
            {
                "timeout": timeout.ref,
                "ms": timeout.ms,
                "attempts": timeout.attempts,
                "backoff_ms": sum(timeout.delays_ms),
                "worst_ms": timeout.worst_ms,
                "starts_at_ms": offset,
            }
        )
        offset += timeout.worst_ms
    return phases


def phase_lines(phases: list[Doc]) -> list[str]:
    """`1. database.connect  10.15s   from 0.0s   4 x 2.4s + 0.55s backoff`."""
    lines = []
    for number, phase in enumerate(phases, 1):
        line = (
            f"  {number}. {phase['timeout']:<28} {format_signed_seconds(phase['worst_ms']):>9}"
            f"   from {format_signed_seconds(phase['starts_at_ms'])}"
        )
        if phase["attempts"] > 1:
            line += f"   {phase['attempts']} x {format_signed_seconds(phase['ms'])}"
            if phase["backoff_ms"]:
                line += f" + {format_signed_seconds(phase['backoff_ms'])} backoff"
        lines.append(line)
    return lines


def shutdown_doc(service: Service) -> Doc:
    """The shutdown steps with offsets, each at its worst case; their total and Cloud
    Run's 10 s limit."""
    return {
        "steps": phases_doc(service.shutdown),
        "at": shown(service.marks.get("shutdown")),
        "total_ms": service.shutdown_total_ms,
        "limit_ms": cloudrun.SHUTDOWN_GRACE_MS,
    }


def shutdown_lines(shutdown: Doc) -> list[str]:
    if not shutdown["steps"]:
        return ["shutdown steps  (none)", ""]
    lines = [f"shutdown steps  {where(shutdown['at'])}", *phase_lines(shutdown["steps"])]
    margin = format_signed_seconds(shutdown["limit_ms"] - shutdown["total_ms"])
    lines.append(f"  {'shutdown total':<31} {format_signed_seconds(shutdown['total_ms']):>9}")
    lines.append(
        f"  {'SIGTERM to SIGKILL':<31} {format_signed_seconds(shutdown['limit_ms']):>9}   "
        f"Cloud Run; margin {margin}"
    )
    return [*lines, ""]


def _setting_text(setting: Doc) -> str:
    value = setting["value"]
    shown = "unset" if value is None else str(value).lower() if isinstance(value, bool) else value
    where = setting["at"] or f"default: {setting['default']}"
    return f"{shown}   {where}"


def cloud_run_lines(cloud_run: Doc) -> list[str]:
    probe = cloud_run["startup_probe"]
    minimum = cloud_run["min_instances"]
    maximum = cloud_run["max_instances"]
    liveness = cloud_run["liveness_probe"]
    return [
        "Cloud Run",
        f"  service name    {cloud_run['service_name']}   "
        f"{where(cloud_run['service_name_template_at'])}",
        f"  container name  {cloud_run['container_name']}",
        f"  timeoutSeconds  {cloud_run['timeout_seconds']}   "
        f"request_timeout {where(cloud_run['request_timeout_at'])}",
        f"  startup probe   initialDelaySeconds {probe['initial_delay_seconds']}, periodSeconds "
        f"{probe['period_seconds']}, failureThreshold {probe['failure_threshold']} "
        f"(window {probe['window_seconds']}s, last probe at {probe['last_probe_seconds']}s), "
        f"timeoutSeconds {probe['timeout_seconds']}; covers the startup budget "
        f"{format_signed_seconds(probe['covers_budget_ms'])}",
        *(f"    {line}" for line in probe["reasoning"]),
        f"  liveness probe  timeoutSeconds {_setting_text(liveness['timeout_seconds'])}",
        f"                  periodSeconds {_setting_text(liveness['period_seconds'])}",
        f"                  failureThreshold {_setting_text(liveness['failure_threshold'])}",
        f"  startup_cpu_boost  {_setting_text(cloud_run['startup_cpu_boost'])}",
        f"  cpu_throttling     {_setting_text(cloud_run['cpu_throttling'])}",
        f"  session_affinity   {_setting_text(cloud_run['session_affinity'])}",
        f"  concurrency        {_setting_text(cloud_run['concurrency'])}",
        f"  min instances   {'unset' if minimum is None else minimum}   "
        f"{where(cloud_run['min_instances_at'])}",
        f"  max instances   {'unset' if maximum is None else maximum}",
        "",
    ]
