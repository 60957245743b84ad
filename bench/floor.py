"""The floor: the least any Python implementation of `timeoutc build` must do.

Reads the profiles with PyYAML's C loader, merges `extends` chains, does the timeout
arithmetic in integers and writes byte-identical outputs of the shipped templates that
the repository has (all four, or only service.yaml for the peers' job) with string
formatting. No schema, no budget rules, no templates engine, no read-back,
no atomic writes: a baseline, not a compiler. It handles the profile features the
benchmark's generator and the shipped repository use.

    python -m bench.floor ROOT [--out DIR] [--check]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import yaml

UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
STARTUP_TOTAL = "STARTUP_TOTAL_TIMEOUT_S"
SHUTDOWN_TOTAL = "SHUTDOWN_TOTAL_TIMEOUT_S"
SWITCHES = (
    ("startup_cpu_boost", "run.googleapis.com/startup-cpu-boost"),
    ("cpu_throttling", "run.googleapis.com/cpu-throttling"),
    ("session_affinity", "run.googleapis.com/sessionAffinity"),
)
MANIFEST = "out/.timeoutc-manifest.json"
Ratio = tuple[int, int]


def q(value: object) -> str:
    """The compiler's `yaml_str` / `py_str` filter."""
    return json.dumps(str(value), ensure_ascii=True)


def duration_ms(text: str) -> int:
    """`'1.5s'` -> 1500, in integers."""
    unit = "ms" if text.endswith("ms") else text[-1]
    number = text[: -len(unit)]
    whole, _, fraction = number.partition(".")
    return int(whole + fraction) * UNIT_MS[unit] // int(10 ** len(fraction))


def factor(value: object) -> Ratio:
    """A factor as numerator and denominator, from its decimal text."""
    text = str(value)
    whole, _, fraction = text.partition(".")
    return int(whole + fraction), int(10 ** len(fraction))


def seconds(ms: int) -> str:
    """3000 -> '3.0', 1155 -> '1.155'."""
    whole, fraction = divmod(ms, 1000)
    return f"{whole}.{f'{fraction:03d}'.rstrip('0') or '0'}"


def merge(target: dict[str, Any], layer: dict[str, Any]) -> None:
    """Mappings key by key, the layer winning; everything else replaced whole."""
    for key, value in layer.items():
        old = target.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            merge(old, value)
        else:
            target[key] = _copy(value)


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return list(value)
    return value


def load(root: Path) -> dict[str, dict[str, Any]]:
    """Every profile by name, read with the C loader."""
    documents = {}
    for path in sorted((root / "profiles").glob("*.yaml")):
        with path.open("rb") as stream:
            documents[path.stem] = yaml.load(stream, Loader=yaml.CSafeLoader)
    return documents


def merged(name: str, documents: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The profile `name` after merging its `extends` chain."""
    chain = [name]
    while "extends" in documents[chain[-1]]:
        chain.append(documents[chain[-1]]["extends"])
    data: dict[str, Any] = {}
    for link in reversed(chain):
        merge(data, {k: v for k, v in documents[link].items() if k not in ("abstract", "extends")})
    return data


def resolve_timeouts(
    service: dict[str, Any], env: dict[str, Any]
) -> tuple[dict[str, int], list[tuple[str, list[str]]]]:
    """ms by `dep.timeout`, and each dependency with its timeout names."""
    mult = factor(env.get("timeout_multiplier", 1))
    margin = factor(env.get("safety_margin", 1))
    numerator, denominator = mult[0] * margin[0], mult[1] * margin[1]
    cap = env.get("max_timeout")
    cap_ms = duration_ms(cap) if cap else None
    resolved: dict[str, int] = {}
    dependencies = []
    for dep_name, dep in service.get("dependencies", {}).items():
        names = []
        for name, value in dep.get("timeouts", {}).items():
            if isinstance(value, dict):
                ms = duration_ms(value["fixed"])
            else:
                ms = -(-duration_ms(value) * numerator // denominator)
                if cap_ms is not None and ms > cap_ms:
                    ms = cap_ms
            resolved[f"{dep_name}.{name}"] = ms
            names.append(name)
        dependencies.append((dep_name, names))
    return resolved, dependencies


def retry_policy(name: str, dep: dict[str, Any]) -> dict[str, Any] | None:
    """A retried dependency's env vars (name, text, Python type) and delays; None if none."""
    retries = dep.get("retries") or 0
    if not retries:
        return None
    backoff = dep.get("backoff")
    cap_ms = None
    mult: Ratio = (1, 1)
    if isinstance(backoff, dict):
        initial_ms = duration_ms(backoff["initial"])
        cap_ms = duration_ms(backoff["max"]) if "max" in backoff else None
        mult = factor(backoff.get("multiplier", 2))
    else:
        initial_ms = duration_ms(backoff) if backoff else 0
    delays, numerator, denominator = [], initial_ms, 1
    for _ in range(retries):
        delay = -(-numerator // denominator)
        delays.append(delay if cap_ms is None else min(delay, cap_ms))
        numerator, denominator = numerator * mult[0], denominator * mult[1]
    whole, fraction = divmod(mult[0] * 10 // mult[1], 10)  # the generator's: one decimal
    mult_text = f"{whole}.{fraction}" if fraction else str(whole)
    prefix = name.upper()
    env = [
        (f"{prefix}_RETRIES", str(retries), "int"),
        (f"{prefix}_BACKOFF_INITIAL_S", seconds(initial_ms), "float"),
        (f"{prefix}_BACKOFF_MULTIPLIER", mult_text, "float"),
        (f"{prefix}_BACKOFF_JITTER", dep.get("jitter", "full"), "str"),
    ]
    if cap_ms is not None:
        env.append((f"{prefix}_BACKOFF_MAX_S", seconds(cap_ms), "float"))
    return {"retries": retries, "delays": delays, "capped": cap_ms is not None, "env": env}


def class_name(dependency: str) -> str:
    """`agent_supervisor` -> `AgentSupervisorTimeouts`."""
    return "".join(part.capitalize() for part in dependency.split("_")) + "Timeouts"


def setting(spec: dict[str, Any], platform: dict[str, Any], key: str, default: Any = None) -> Any:
    """A Cloud Run setting: the service's own, else the platform's, else `default`."""
    return spec.get(key, platform.get(key, default))


def service_yaml(ctx: dict[str, Any]) -> str:
    """out/<env>/<service>/service.yaml."""
    platform = ctx["platform"]
    parts = [
        f"apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n"
        f"  name: {q(ctx['cloud_run_name'])}\n"
    ]
    if platform.get("project"):
        parts.append(f"  namespace: {q(platform['project'])}\n")
    if platform.get("region"):
        parts.append(f"  labels:\n    cloud.googleapis.com/location: {q(platform['region'])}\n")
    parts.append("spec:\n  template:\n")
    low, high = platform.get("min_instances"), platform.get("max_instances")
    switches = [(name, str(ctx[key]).lower()) for key, name in SWITCHES if ctx[key] is not None]
    if low is not None or high is not None or switches:
        parts.append("    metadata:\n      annotations:\n")
        if low is not None:
            parts.append(f"        autoscaling.knative.dev/minScale: {q(low)}\n")
        if high is not None:
            parts.append(f"        autoscaling.knative.dev/maxScale: {q(high)}\n")
        parts += [f"        {name}: {q(value)}\n" for name, value in switches]
    port = ctx["port"]
    parts.append("    spec:\n")
    if ctx["concurrency"] is not None:
        parts.append(f"      containerConcurrency: {ctx['concurrency']}\n")
    parts.append(
        f"      timeoutSeconds: {ctx['request_timeout_s']}\n      containers:\n"
        f"        - name: {q(ctx['service'].rstrip('-'))}\n"
        f"          image: {q(ctx['image'])}\n          ports:\n"
        f"            - containerPort: {port}\n          env:\n"
    )
    for name, value, _ in ctx["env"]:
        parts.append(f"            - name: {q(name)}\n              value: {q(value)}\n")
    delay, threshold = ctx["probe"]
    liveness = ctx["liveness"]
    parts.append(
        f"          startupProbe:\n            httpGet:\n"
        f"              path: {q(ctx['health']['startup'])}\n              port: {port}\n"
        f"            initialDelaySeconds: {delay}\n"
        f"            timeoutSeconds: 1\n            periodSeconds: 1\n"
        f"            failureThreshold: {threshold}\n"
        f"          livenessProbe:\n            httpGet:\n"
        f"              path: {q(ctx['health']['liveness'])}\n              port: {port}\n"
        f"            timeoutSeconds: {liveness['timeout']}\n"
        f"            periodSeconds: {liveness['period']}\n"
        f"            failureThreshold: {liveness['failure_threshold']}\n"
    )
    return "".join(parts)


def env_yaml(ctx: dict[str, Any]) -> str:
    """out/<env>/<service>/env.yaml."""
    return "".join(f"{name}: {q(value)}\n" for name, value, _ in ctx["env"])


def env_file(ctx: dict[str, Any]) -> str:
    """out/<env>/<service>/timeouts.env."""
    return "".join(f"{name}={value}\n" for name, value, _ in ctx["env"])


PY_HEAD = '''"""Timeouts of {service} in {environment}, in seconds, fixed at build time."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

ENVIRONMENT: Final[str] = {q_environment}
SERVICE: Final[str] = {q_service}
CLOUD_RUN_SERVICE: Final[str] = {q_cloud_run}

'''
PY_TAIL = '''

def verify_environment(environ: Mapping[str, str] | None = None) -> None:
    """Raise RuntimeError when Cloud Run runs this module as another service."""
    env = os.environ if environ is None else environ
    actual = env.get("K_SERVICE")
    if actual is not None and actual != CLOUD_RUN_SERVICE:
        raise RuntimeError(
            f"timeouts.py was built for Cloud Run service {CLOUD_RUN_SERVICE!r} "
            f"({ENVIRONMENT}), but K_SERVICE is {actual!r}"
        )
'''
DATACLASS = "\n\n@dataclass(frozen=True, slots=True)\nclass "
PY_RETRY_POLICY = f'''{DATACLASS}RetryPolicy:
    """How one dependency is retried; delays_s are the worst-case waits before each retry."""

    attempts: int
    backoff_initial_s: float
    backoff_max_s: float | None
    backoff_multiplier: float
    jitter: str
    delays_s: tuple[float, ...]
{DATACLASS}Retries:
    """The retry policy of every dependency that is retried."""
'''
PY_REQUEST_PATH = f''')
{DATACLASS}RequestPath:
    """What one request may wait on, in order, and its worst case: the deadline to pass on."""

    steps: tuple[str, ...]
    deadline_s: float


REQUEST_PATHS: Final[Mapping[str, RequestPath]] = MappingProxyType(
    {{
'''
PY_PHASE = f"""{DATACLASS}Phase:
    \"\"\"One step of the startup chain or of the shutdown steps, in seconds: one attempt,
    and at its worst case (every attempt and every wait before a retry).\"\"\"

    dependency: str
    timeout: str
    seconds: float
    attempts: int
    worst_s: float


"""


def timeouts_py(ctx: dict[str, Any]) -> str:
    """out/<env>/<service>/timeouts.py."""
    parts = [
        PY_HEAD.format(
            service=ctx["service"],
            environment=ctx["environment"],
            q_environment=q(ctx["environment"]),
            q_service=q(ctx["service"]),
            q_cloud_run=q(ctx["cloud_run_name"]),
        )
    ]
    for name, value, kind in ctx["env"]:
        literal = q(value) if kind == "str" else value
        if kind == "float" and "." not in value:
            literal += ".0"
        parts.append(f"{name}: Final[{kind}] = {literal}\n")
    dependencies = ctx["dependencies"]
    for dep, names in dependencies:
        doc = f'    """Timeouts of the {dep} dependency, in seconds."""\n'
        parts.append(f"{DATACLASS}{class_name(dep)}:\n{doc}")
        if names:
            parts.append("\n" + "".join(f"    {name}: float\n" for name in names))
    parts.append(f'{DATACLASS}Timeouts:\n    """Every dependency\'s timeouts, in seconds."""\n')
    if dependencies:
        parts.append("\n" + "".join(f"    {d}: {class_name(d)}\n" for d, _ in dependencies))
    parts.append("\n\nTIMEOUTS: Final[Timeouts] = Timeouts(\n")
    for dep, names in dependencies:
        parts.append(f"    {dep}={class_name(dep)}(\n")
        for name in names:
            parts.append(f"        {name}={f'{dep}_{name}_TIMEOUT_S'.upper()},\n")
        parts.append("    ),\n")
    parts.append(")\n")
    parts.append(PY_RETRY_POLICY)
    retried = ctx["retried"]
    if retried:
        parts.append("\n" + "".join(f"    {dep}: RetryPolicy\n" for dep in retried))
    parts.append("\n\nRETRIES: Final[Retries] = Retries(\n")
    for dep, policy in retried.items():
        prefix = dep.upper()
        delays = "".join(f"            {seconds(ms)},\n" for ms in policy["delays"])
        cap = f"{prefix}_BACKOFF_MAX_S" if policy["capped"] else "None"
        parts.append(
            f"    {dep}=RetryPolicy(\n"
            f"        attempts={policy['retries'] + 1},\n"
            f"        backoff_initial_s={prefix}_BACKOFF_INITIAL_S,\n"
            f"        backoff_max_s={cap},\n"
            f"        backoff_multiplier={prefix}_BACKOFF_MULTIPLIER,\n"
            f"        jitter={prefix}_BACKOFF_JITTER,\n"
            f"        delays_s=(\n{delays}        ),\n"
            "    ),\n"
        )
    parts.append(PY_REQUEST_PATH)
    for path, (steps, worst_ms) in ctx["request_paths"].items():
        parts.append(f"        {q(path)}: RequestPath(\n            steps=(\n")
        parts += [f"                {q(step)},\n" for step in steps]
        parts.append(f"            ),\n            deadline_s={seconds(worst_ms)},\n        ),\n")
    parts.append("    }\n)\n")
    parts.append(PY_PHASE)
    for name, key in (("STARTUP", "startup"), ("SHUTDOWN", "shutdown")):
        steps = ctx[key]
        if not steps:
            parts.append(f"{name}: Final[tuple[Phase, ...]] = ()\n")
            continue
        parts.append(f"{name}: Final[tuple[Phase, ...]] = (\n")
        for ref in steps:
            dep, timeout = ref.split(".")
            env_name = f"{dep}_{timeout}_TIMEOUT_S".upper()
            attempts, worst_ms = ctx["worst"][ref]
            parts.append(
                f"    Phase(\n        {q(dep)},\n        {q(timeout)},\n        {env_name},\n"
                f"        attempts={attempts},\n        worst_s={seconds(worst_ms)},\n    ),\n"
            )
        parts.append(")\n")
    parts.append(PY_TAIL)
    return "".join(parts)


OUTPUTS = {
    "env.yaml": env_yaml,
    "service.yaml": service_yaml,
    "timeouts.env": env_file,
    "timeouts.py": timeouts_py,
}


def rendered(root: Path) -> dict[str, Any]:
    """The outputs the repository has templates for (all four when it has no templates/)."""
    folder = root / "templates"
    if not folder.is_dir():
        return OUTPUTS
    return {name: render for name, render in OUTPUTS.items() if (folder / f"{name}.j2").exists()}


def outputs(root: Path) -> dict[str, bytes]:
    """Every output file by relative path."""
    renders = rendered(root)
    documents = load(root)
    files: dict[str, bytes] = {}
    for environment, document in documents.items():
        if document.get("abstract") is True:
            continue
        data = merged(environment, documents)
        env = data.get("environment", {})
        platform = data.get("platform", {})
        template = platform.get("service_name", "{service}-{environment}")
        buffer = platform.get("cold_start_buffer")
        buffer_ms = duration_ms(buffer) if buffer else 0
        header = f"# Code generated by timeoutc from profiles/{environment}.yaml. DO NOT EDIT.\n"
        for service, spec in data["services"].items():
            resolved, dependencies = resolve_timeouts(spec, env)
            pairs = [
                (f"{ref.replace('.', '_')}_TIMEOUT_S".upper(), seconds(ms), "float")
                for ref, ms in resolved.items()
            ]
            retried = {}
            for dep_name, dep in spec.get("dependencies", {}).items():
                policy = retry_policy(dep_name, dep)
                if policy is not None:
                    retried[dep_name] = policy
                    pairs += policy["env"]

            worst = {}
            for ref, ms in resolved.items():
                policy = retried.get(ref.split(".")[0])
                attempts = policy["retries"] + 1 if policy else 1
                worst[ref] = (attempts, attempts * ms + (sum(policy["delays"]) if policy else 0))
            paths = {
                path: (steps, sum(worst[step][1] for step in steps))
                for path, steps in spec.get("request_paths", {}).items()
            }
            total = sum(worst[ref][1] for ref in spec.get("startup", ()))
            pairs.append((STARTUP_TOTAL, seconds(total), "float"))
            shutdown = spec.get("shutdown", [])
            if shutdown:
                pairs.append(
                    (SHUTDOWN_TOTAL, seconds(sum(worst[ref][1] for ref in shutdown)), "float")
                )

            liveness = {"timeout": 3, "period": 10, "failure_threshold": 3}
            for layer in (platform.get("liveness_probe", {}), spec.get("liveness_probe", {})):
                for key, value in layer.items():
                    liveness[key] = (
                        value if key == "failure_threshold" else duration_ms(value) // 1000
                    )
            boot_ms = duration_ms(setting(spec, platform, "boot_time", "10s"))
            budget_s = -(-(total + buffer_ms + boot_ms) // 1000)
            threshold = min(budget_s + 1, 240)
            ctx = {
                "environment": environment,
                "service": service,
                "cloud_run_name": template.replace("{service}", service).replace(
                    "{environment}", environment
                ),
                "platform": platform,
                "image": spec["image"],
                "port": spec["port"],
                "health": spec["health"],
                "request_timeout_s": duration_ms(spec["request_timeout"]) // 1000,
                "env": sorted(pairs),
                "dependencies": dependencies,
                "retried": retried,
                "request_paths": paths,
                "probe": (min(max(0, budget_s - threshold + 1), 240), threshold),
                "liveness": liveness,
                "concurrency": setting(spec, platform, "concurrency"),
                **{key: setting(spec, platform, key) for key, _ in SWITCHES},
                "startup": spec.get("startup", []),
                "shutdown": shutdown,
                "worst": worst,
            }
            for output, render in renders.items():
                text = header + render(ctx)
                files[f"out/{environment}/{service}/{output}"] = text.encode("utf-8")
    files[MANIFEST] = manifest(files)
    return files


def manifest(files: dict[str, bytes]) -> bytes:
    """out/.timeoutc-manifest.json: every file with its sha256."""
    digests = {path: f"sha256:{hashlib.sha256(files[path]).hexdigest()}" for path in sorted(files)}
    document = {"generator": "timeoutc", "format": 1, "files": digests}
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def write(folder: Path, files: dict[str, bytes]) -> None:
    """Write every file below `folder` (which holds out/ after)."""
    made: set[str] = set()
    for relative, content in files.items():
        path = os.path.join(folder, relative)
        parent = os.path.dirname(path)
        if parent not in made:
            os.makedirs(parent, exist_ok=True)
            made.add(parent)
        with open(path, "wb") as stream:
            stream.write(content)


def stale(folder: Path, files: dict[str, bytes]) -> list[str]:
    """The files below `folder` that differ from `files` (missing ones included)."""
    found = []
    for relative, content in files.items():
        try:
            with open(os.path.join(folder, relative), "rb") as stream:
                if stream.read() != content:
                    found.append(relative)
        except FileNotFoundError:
            found.append(relative)
    return found


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.floor ROOT [--out DIR] [--check]`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--out", type=Path, help="write out/ below DIR (default: ROOT)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    files = outputs(args.root)
    folder = args.out or args.root
    if args.check:
        return 1 if stale(folder, files) else 0
    write(folder, files)
    return 0


if __name__ == "__main__":
    sys.exit(main())
