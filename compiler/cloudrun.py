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
PROBE_WINDOW_S = 240
PROBE_PERIOD_S = 5
PROBE_TIMEOUT_S = 3
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
    """A probe whose window covers `budget_ms` in the fewest whole periods.

    Raises `CloudRunError` when the budget does not fit Cloud Run's 240 s window.
    """
    budget_s = -(-budget_ms // 1000)
    if budget_s > PROBE_WINDOW_S:
        raise CloudRunError(f"startup budget {budget_s}s exceeds the {PROBE_WINDOW_S}s window")
    threshold = max(1, -(-budget_s // PROBE_PERIOD_S))
    return StartupProbe(PROBE_TIMEOUT_S, PROBE_PERIOD_S, threshold)
