"""Parse every rendered output back and compare it with the model before anything is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.model import Profile, Service, Timeout
from compiler.pipeline.formats import env_pairs, format_check
from compiler.pipeline.python_readback import NOT_CONSTANT, PHASES, Name, assignments
from compiler.pipeline.readback import load_yaml

Check = Callable[[str, Profile, Service], list[str]]


def verify_output(path: str, text: str, profile: Profile, service: Service) -> None:
    """Raise `CompileError` when `text` does not read back as what the model says."""
    name = path.rsplit("/", 1)[-1]
    shipped = CHECKS.get(name)  # the four shipped outputs, by name, are held to the model
    try:
        if shipped is not None:
            problems = shipped(text, profile, service)
        elif (by_format := format_check(name)) is not None:
            problems = by_format(text)
        else:
            return
    except (yaml.YAMLError, SyntaxError, ValueError, LookupError, TypeError) as exc:
        problems = [f"does not parse: {exc}"]
    if problems:
        template = f"templates/{name}.j2"
        raise CompileError(
            [Diagnostic(Mark(template), f"{path} {problem}") for problem in problems]
        )


def _env_pairs(service: Service) -> dict[str, str]:
    return dict(service.env)


def _differs(what: str, got: Any, want: Any) -> list[str]:
    return [] if got == want else [f"has {what} {got!r}, expected {want!r}"]


def check_service_yaml(text: str, profile: Profile, service: Service) -> list[str]:
    """The Cloud Run service reads back with every value of the model, strings as strings."""
    doc = load_yaml(text)
    spec = doc["spec"]["template"]["spec"]
    container = spec["containers"][0]
    probe = container["startupProbe"]
    env = {item["name"]: item["value"] for item in container.get("env", [])}
    annotations = (doc["spec"]["template"].get("metadata") or {}).get("annotations") or {}
    min_scale = profile.platform.min_instances
    return [
        *check_cloud_run_settings(spec, container, annotations, service),
        *_differs("apiVersion", doc["apiVersion"], "serving.knative.dev/v1"),
        *_differs("kind", doc["kind"], "Service"),
        *_differs("name", doc["metadata"]["name"], service.cloud_run_name),
        *_differs("timeoutSeconds", spec["timeoutSeconds"], service.request_timeout_s),
        *_differs("image", container["image"], service.image),
        *_differs("containerPort", container["ports"][0]["containerPort"], service.port),
        *_differs("env", env, _env_pairs(service)),
        *_differs("startup probe path", probe["httpGet"]["path"], service.health_startup),
        *_differs(
            "startupProbe.periodSeconds", probe["periodSeconds"], service.startup_probe.period_s
        ),
        *_differs(
            "startupProbe.failureThreshold",
            probe["failureThreshold"],
            service.startup_probe.failure_threshold,
        ),
        *_differs(
            "liveness probe path",
            container["livenessProbe"]["httpGet"]["path"],
            service.health_liveness,
        ),
        *_differs(
            "minScale",
            annotations.get("autoscaling.knative.dev/minScale"),
            None if min_scale is None else str(min_scale),
        ),
    ]


def check_cloud_run_settings(
    spec: dict[str, Any], container: dict[str, Any], annotations: dict[str, Any], service: Service
) -> list[str]:
    """The container name, the probes' timings and the settings read back as the model says."""
    probe, liveness = container["startupProbe"], container["livenessProbe"]
    want_probe, want_liveness = service.startup_probe, service.settings.liveness_probe
    got_annotations = {k: v for k, v in annotations.items() if k.startswith("run.googleapis.com/")}
    return [
        *_differs("container name", container.get("name"), service.container_name),
        *_differs(
            "startupProbe.initialDelaySeconds",
            probe.get("initialDelaySeconds", 0),
            want_probe.initial_delay_s,
        ),
        *_differs("startupProbe.timeoutSeconds", probe["timeoutSeconds"], want_probe.timeout_s),
        *_differs(
            "livenessProbe timings",
            (liveness["timeoutSeconds"], liveness["periodSeconds"], liveness["failureThreshold"]),
            (want_liveness.timeout_s, want_liveness.period_s, want_liveness.failure_threshold),
        ),
        *_differs(
            "containerConcurrency", spec.get("containerConcurrency"), service.settings.concurrency
        ),
        *_differs("annotations", got_annotations, dict(service.settings.annotations)),
    ]


def check_env_file(text: str, profile: Profile, service: Service) -> list[str]:
    """`NAME=value` lines, nothing a shell, Docker or systemd would read differently."""
    pairs, problems = env_pairs(text)
    return problems or _differs("variables", pairs, _env_pairs(service))


def check_env_yaml(text: str, profile: Profile, service: Service) -> list[str]:
    """A YAML map of strings, exactly the env vars."""
    return _differs("variables", load_yaml(text), _env_pairs(service))


def check_python(text: str, profile: Profile, service: Service) -> list[str]:
    """Valid Python whose `Final` constants hold the model's values."""
    constants: dict[str, Any] = {}
    meanings: dict[str, Any] = {"RETRIES": {}, "REQUEST_PATHS": {}}
    phases: dict[str, Any] = {}
    for assignment in assignments(text):  # the last assignment of a name is what it holds
        name = assignment.name
        if assignment.constant is not NOT_CONSTANT:
            constants[name] = assignment.constant
        if assignment.has_value and name in meanings:
            meanings[name] = assignment.meaning
        elif name in PHASES and assignment.meaning is not None:
            phases[name] = assignment.meaning
    want: dict[str, Any] = {
        "ENVIRONMENT": profile.name,
        "SERVICE": service.name,
        "CLOUD_RUN_SERVICE": service.cloud_run_name,
        **{var.name: var.value for var in service.env_vars},
    }
    got = {name: constants.get(name) for name in want}
    chains = {
        "STARTUP": [_phase(t) for t in service.startup],
        "SHUTDOWN": [_phase(t) for t in service.shutdown],
    }
    retries = {
        d.name: (d.attempts, tuple(float(s) for s in d.delays_seconds), d.backoff_max_ms is None)
        for d in service.retried
    }
    paths = {
        name: (tuple(t.ref for t in timeouts), float(service.request_path_deadlines_s[name]))
        for name, timeouts in service.request_paths.items()
    }
    return [
        *_differs("constants", got, want),
        *_differs("RETRIES", meanings["RETRIES"], retries),
        *_differs("REQUEST_PATHS", meanings["REQUEST_PATHS"], paths),
        *_differs("phases", phases, chains),
    ]


def _phase(timeout: Timeout) -> tuple[Any, ...]:
    """A `Phase(...)` of timeouts.py as it reads back: its constant, attempts, worst case."""
    return (
        timeout.dependency,
        timeout.name,
        Name(timeout.env_name),
        timeout.attempts,
        float(timeout.worst_seconds),
    )


CHECKS: dict[str, Check] = {
    "service.yaml": check_service_yaml,
    "timeouts.env": check_env_file,
    "env.yaml": check_env_yaml,
    "timeouts.py": check_python,
}
