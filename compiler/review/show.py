"""The merged, resolved profile of one environment, as `helmfile values` shows Helm values.

Keys follow the profile's own shape; every duration is a number of seconds, exact (the
same decimals as the env files: 1.155, 0.257). Order is the profile's declaration order,
so the output is byte-identical for the same inputs.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import yaml

from compiler.durations import format_factor, format_seconds
from compiler.model import Dependency, Profile, Service

Doc = dict[str, Any]


def seconds(ms: int) -> float:
    """Exact decimal seconds as a number: 1155 -> 1.155 (the shortest float repr prints it)."""
    return float(format_seconds(ms))


def _factor(value: Fraction) -> int | float | str:
    """A number when a float prints it exactly (0.7, 2), else the exact decimal text."""
    if value.denominator == 1:
        return value.numerator
    number = float(value)
    return number if Fraction(repr(number)) == value else format_factor(value)


def _without_none(mapping: Doc) -> Doc:
    return {key: value for key, value in mapping.items() if value is not None}


def _backoff(dependency: Dependency) -> float | Doc | None:
    """Seconds of a constant backoff; `{initial, max, multiplier}` of an exponential one."""
    if not dependency.backoff_ms:
        return None
    if "backoff.initial" not in dependency.marks:
        return seconds(dependency.backoff_ms)
    return _without_none(
        {
            "initial": seconds(dependency.backoff_ms),
            "max": seconds(dependency.backoff_max_ms) if dependency.backoff_max_ms else None,
            "multiplier": _factor(dependency.backoff_multiplier),
        }
    )


def service_doc(service: Service) -> Doc:
    """One service: its resolved values and derived settings."""
    probe, settings = service.startup_probe, service.settings
    liveness = settings.liveness_probe
    dependencies: Doc = {}
    for dependency in service.dependencies:
        dependencies[dependency.name] = _without_none(
            {
                "service": dependency.service,
                "retries": dependency.retries,
                "backoff": _backoff(dependency),
                "jitter": dependency.jitter if dependency.retries else None,
                "delays": [seconds(ms) for ms in dependency.delays_ms] or None,
                "timeouts": {t.name: seconds(t.ms) for t in dependency.timeouts},
            }
        )
    return {
        "cloud_run_name": service.cloud_run_name,
        "image": service.image,
        "port": service.port,
        "request_timeout": seconds(service.request_timeout_ms),
        "health": {"startup": service.health_startup, "liveness": service.health_liveness},
        "dependencies": dependencies,
        "startup": [t.ref for t in service.startup],
        "startup_total": seconds(service.startup_total_ms),
        "cold_start_buffer": seconds(service.cold_start_buffer_ms),
        "boot_time": seconds(service.boot_time_ms),
        "startup_budget": seconds(service.startup_budget_ms),
        "shutdown": [t.ref for t in service.shutdown],
        "shutdown_total": seconds(service.shutdown_total_ms),
        "startup_probe": {
            "initial_delay_seconds": probe.initial_delay_s,
            "timeout_seconds": probe.timeout_s,
            "period_seconds": probe.period_s,
            "failure_threshold": probe.failure_threshold,
            "window_seconds": probe.window_s,
        },
        "liveness_probe": {
            "timeout_seconds": liveness.timeout_s,
            "period_seconds": liveness.period_s,
            "failure_threshold": liveness.failure_threshold,
        },
        **_without_none(
            {
                "container_name": service.container_name,
                "startup_cpu_boost": settings.startup_cpu_boost,
                "cpu_throttling": settings.cpu_throttling,
                "session_affinity": settings.session_affinity,
                "concurrency": settings.concurrency,
            }
        ),
        "request_paths": {
            name: [t.ref for t in chain] for name, chain in service.request_paths.items()
        },
        "request_path_worst_cases": {
            name: seconds(ms) for name, ms in service.request_path_worst_ms.items()
        },
        "allow": dict(service.allow),
        "env": dict(service.env),
    }


def profile_doc(profile: Profile, services: tuple[Service, ...]) -> Doc:
    """The environment's factors and platform, then each of `services`."""
    env, platform = profile.environment, profile.platform
    return {
        "environment": profile.name,
        "profile": profile.path,
        "extends": list(profile.chain[1:]),
        "factors": _without_none(
            {
                "timeout_multiplier": _factor(env.multiplier_value),
                "safety_margin": _factor(env.margin_value),
                "max_timeout": seconds(env.max_timeout_ms) if env.max_timeout_ms else None,
                "max_total_timeout": (
                    seconds(env.max_total_timeout_ms) if env.max_total_timeout_ms else None
                ),
                "max_retry_amplification": env.max_retry_amplification_value,
            }
        ),
        "platform": _without_none(
            {
                "region": platform.region,
                "project": platform.project,
                "min_instances": platform.min_instances,
                "max_instances": platform.max_instances,
            }
        ),
        "services": {service.name: service_doc(service) for service in services},
    }


def as_yaml(doc: Doc) -> str:
    """Block-style YAML in declaration order, with a header saying what the numbers are."""
    header = (
        f"# timeoutc show {doc['environment']}: merged and resolved from {doc['profile']}; "
        "durations in seconds\n"
    )
    body = yaml.safe_dump(
        doc, sort_keys=False, default_flow_style=False, allow_unicode=True, width=100
    )
    return header + body


def as_json(doc: Doc) -> str:
    """Indented JSON in declaration order."""
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
