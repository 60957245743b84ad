"""Cloud Run's rules that gcloud does not check: names, env vars, probes, limits."""

from __future__ import annotations

import re

from compiler.model import StartupProbe

SERVICE_NAME = re.compile(r"[a-z](?:[a-z0-9-]{0,47}[a-z0-9])?")
DEFAULT_SERVICE_NAME = "{service}-{environment}"
PLACEHOLDERS = ("service", "environment")
RESERVED_ENV = frozenset({"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"})
RESERVED_ENV_PREFIX = "X_GOOGLE_"
MAX_REQUEST_TIMEOUT_S = 3600  # Cloud Run's longest request timeout
PROBE_WINDOW_S = 240  # failureThreshold x periodSeconds, and the longest initialDelaySeconds
PROBE_PERIOD_S = 1  # the shortest period Cloud Run allows: readiness is noticed within it
PROBE_TIMEOUT_S = 3  # a probe's own timeout; never above its period
LIVENESS_MAX_S = 3600  # the longest liveness timeoutSeconds and periodSeconds
MAX_CONCURRENCY = 1000  # containerConcurrency
SHUTDOWN_GRACE_MS = 10_000  # from SIGTERM to SIGKILL
DEFAULT_BOOT_TIME_MS = 10_000
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class CloudRunError(ValueError):
    """A value Cloud Run would reject; the message says which rule."""


def render_service_name(template: str, service: str, environment: str) -> str:
    """Fill `{service}` and `{environment}`; any other placeholder is an error."""
    values = {"service": service, "environment": environment}

    def fill(match: re.Match[str]) -> str:
        key = match[1]
        if key not in values:
            raise CloudRunError(
                f"unknown placeholder '{{{key}}}' in service_name; "
                "use {service} or {environment}"
            )
        return values[key]

    name = _PLACEHOLDER.sub(fill, template)
    if "{" in name or "}" in name:
        raise CloudRunError(f"unbalanced brace in service_name '{template}'")
    if not SERVICE_NAME.fullmatch(name):
        raise CloudRunError(
            f"Cloud Run service name '{name}' is invalid: at most 49 lowercase letters, digits "
            "and hyphens, starting with a letter and not ending with a hyphen"
        )
    return name


def reserved_env_reason(name: str) -> str:
    """Why Cloud Run reserves `name`, or an empty string."""
    if name in RESERVED_ENV:
        return f"{name} is set by Cloud Run"
    if name.startswith(RESERVED_ENV_PREFIX):
        return f"names starting with {RESERVED_ENV_PREFIX} are reserved by Cloud Run"
    return ""


def startup_probe(budget_ms: int) -> StartupProbe:
    """The probe that never ends a start ready within `budget_ms`, and notices it soonest.

    Cloud Run probes at `initialDelaySeconds + k x periodSeconds`, k = 0 .. failureThreshold
    - 1, and ends the container after the last failure. So the last probe must run at or
    after the budget: `delay + (threshold - 1) x period >= ceil(budget)`. The period is
    1 s (readiness is noticed within a second); the threshold is the fewest probes that
    reach the budget within the 240 s window (`threshold x period <= 240`); the initial
    delay is 0 unless the window alone cannot reach the budget, and then the least that
    does. Budgets past `240 + 239` s get the longest probe Cloud Run accepts; rule
    budget.startup-probe reports any budget above 240 s.
    """
    budget_s = max(0, -(-budget_ms // 1000))
    period = PROBE_PERIOD_S
    threshold = min(budget_s // period + 1, PROBE_WINDOW_S // period)
    delay = min(max(0, budget_s - (threshold - 1) * period), PROBE_WINDOW_S)
    return StartupProbe(min(PROBE_TIMEOUT_S, period), period, threshold, delay)


def container_name(service: str) -> str:
    """The container's `name:`, a DNS label: the service name without a trailing hyphen."""
    return service[:63].rstrip("-")
