"""Resolve a merged concrete profile: exact arithmetic, caps, pins, names, provenance."""

from __future__ import annotations

import keyword
import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any

from compiler import cloudrun
from compiler.diagnostics import MAX_ERRORS, CompileError, Diagnostic, did_you_mean
from compiler.durations import (
    DurationError,
    format_duration,
    parse_duration_ms,
    parse_factor,
    scale_ms,
)
from compiler.model import (
    SHUTDOWN_TOTAL_ENV,
    STARTUP_TOTAL_ENV,
    Dependency,
    Environment,
    Operand,
    Platform,
    Profile,
    Service,
    Timeout,
)
from compiler.pipeline.load import Path
from compiler.pipeline.merge import MergedProfile
from compiler.pipeline.settings import resolve_settings
from compiler.retries import (
    CONSTANT_MULTIPLIER,
    DEFAULT_JITTER,
    DEFAULT_MAX_RETRY_AMPLIFICATION,
    DEFAULT_MULTIPLIER,
    backoff_delays_ms,
)

# The spec's name rules, checked here too: a repository's schema may be looser, and these
# names become folders in out/ and identifiers in the outputs, written there unquoted.
SERVICE_NAME = re.compile(r"[a-z][a-z0-9-]*")
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")
CHAINS = {"startup": "the startup chain", "shutdown": "the shutdown steps"}
REQUIRED = (
    ("image",),
    ("port",),
    ("request_timeout",),
    ("health", "startup"),
    ("health", "liveness"),
)


def resolve_profile(merged: MergedProfile) -> Profile:
    """The resolved `Profile` of `merged`; raises `CompileError` with every problem found."""
    return _Resolver(merged).resolve()


@lru_cache(maxsize=4096)  # pure; a platform repeats the same few dependency names
def class_name(dependency: str) -> str:
    """The dataclass of a dependency in timeouts.py: `agent_supervisor` -> `AgentSupervisor...`."""
    return "".join(part.capitalize() for part in dependency.split("_")) + "Timeouts"


class _Resolver:
    def __init__(self, merged: MergedProfile) -> None:
        self.merged = merged
        self.errors: list[Diagnostic] = []
        self._scaled: dict[str, tuple[int, Fraction, int, bool]] = {}
        self._buffer_ms: int | None = None
        self._clean_names: set[tuple[tuple[str, tuple[str, ...], bool, bool], ...]] = set()

    def fail(self, path: Path, message: str, hint: str = "", *, key: bool = False) -> None:
        mark = self.merged.key_mark(path) if key else self.merged.mark(path)
        self.errors.append(Diagnostic(mark, message, hint))

    def operand(self, path: Path, role: str) -> Operand:
        return Operand(role, _text(_get(self.merged.data, path)), self.merged.mark(path))

    def resolve(self) -> Profile:
        environment = self.environment()
        platform = self.platform()
        services_data: dict[str, Any] = self.merged.data.get("services") or {}
        if not services_data:
            self.fail(
                (),
                f"concrete profile '{self.merged.name}' has no services",
                "add services, or mark the profile 'abstract: true'",
            )
        services = []
        for name in services_data:
            if len(self.errors) >= MAX_ERRORS:
                self.fail(("services",), f"too many errors; stopped after {MAX_ERRORS}")
                break
            service = self.service(name, environment, services_data)
            if service is not None:
                services.append(service)
        self.check_unique_cloud_run_names(services)
        if self.errors:
            raise CompileError(self.errors)
        return Profile(
            self.merged.name,
            self.merged.path,
            self.merged.chain,
            environment,
            platform,
            tuple(services),
        )

    def check_unique_cloud_run_names(self, services: list[Service]) -> None:
        """Two services deployed under one Cloud Run name would replace each other."""
        owners: dict[str, str] = {}
        for service in services:
            other = owners.setdefault(service.cloud_run_name, service.name)
            if other != service.name:
                self.fail(
                    ("services", service.name),
                    f"services '{other}' and '{service.name}' both become Cloud Run service "
                    f"'{service.cloud_run_name}' in profile '{self.merged.name}'",
                    "put {service} in platform.service_name",
                    key=True,
                )

    def environment(self) -> Environment:
        data = self.merged.data.get("environment") or {}
        factors = []
        for key in ("timeout_multiplier", "safety_margin"):
            if key in data:
                factors.append(self.operand(("environment", key), key))
            else:
                factors.append(Operand(key, "1"))
        caps: list[Operand | None] = [
            self.operand(("environment", key), key) if key in data else None
            for key in ("max_timeout", "max_total_timeout")
        ]
        max_ms = [parse_duration_ms(cap.text) if cap else None for cap in caps]
        amplification = Operand("max_retry_amplification", str(DEFAULT_MAX_RETRY_AMPLIFICATION))
        if "max_retry_amplification" in data:
            amplification = self.operand(
                ("environment", "max_retry_amplification"), "max_retry_amplification"
            )
        return Environment(
            factors[0],
            factors[1],
            self.factor(factors[0]),
            self.factor(factors[1]),
            max_ms[0],
            max_ms[1],
            caps[0],
            caps[1],
            amplification,
        )

    def factor(self, operand: Operand) -> Fraction:
        """The exact value of an environment factor; a located error when out of bounds."""
        try:
            return parse_factor(operand.text)
        except DurationError as exc:
            self.fail(("environment", operand.role), str(exc))
            return Fraction(1)

    def platform(self) -> Platform:
        data = self.merged.data.get("platform") or {}
        low, high = data.get("min_instances"), data.get("max_instances")
        if low is not None and high is not None and low > high:
            self.fail(
                ("platform", "min_instances"),
                f"min_instances {low} is above max_instances {high} "
                f"({self.merged.mark(('platform', 'max_instances'))}); Cloud Run refuses it",
            )
        return Platform(
            data.get("region"),
            data.get("project"),
            data.get("min_instances"),
            data.get("max_instances"),
        )

    def service(self, name: str, env: Environment, all_services: dict[str, Any]) -> Service | None:
        root: Path = ("services", name)
        data: dict[str, Any] = all_services[name] or {}
        before = len(self.errors)
        if not SERVICE_NAME.fullmatch(name):
            hint = "lowercase letters, digits and '-', starting with a letter"
            self.fail(root, f"invalid service name '{name}'", hint, key=True)
            return None
        for required in REQUIRED:
            if _get(data, required) is None:
                self.fail(
                    root,
                    f"service '{name}' has no {'.'.join(required)} in concrete "
                    f"profile '{self.merged.name}'",
                    f"set services.{name}.{'.'.join(required)} in {self.merged.path} "
                    "or in a profile it extends",
                    key=True,
                )
        cloud_run_name = self.cloud_run_name(name)
        dependencies = self.dependencies(root, data, env, all_services)
        by_ref = {t.ref: t for d in dependencies for t in d.timeouts}
        startup = self.chain((*root, "startup"), data.get("startup") or [], by_ref)
        shutdown = self.chain((*root, "shutdown"), data.get("shutdown") or [], by_ref)
        settings = resolve_settings(self.merged, name, data, self.fail)
        paths = {
            path_name: self.chain((*root, "request_paths", path_name), refs or [], by_ref)
            for path_name, refs in (data.get("request_paths") or {}).items()
        }
        self.check_env_names(root, dependencies)
        buffer_ms = self.cold_start_buffer()
        total = sum(t.worst_ms for t in startup)  # the chain at its worst: the probe's budget
        allow = dict(data.get("allow") or {})
        probe = cloudrun.startup_probe(total + buffer_ms + settings.boot_time_ms)
        if len(self.errors) > before:
            return None
        mark = self.merged.mark
        marks = {key: mark((*root, key)) for key in data}
        marks["service"] = self.merged.key_mark(root)
        for path_name in paths:
            marks[f"request_paths.{path_name}"] = self.merged.key_mark(
                (*root, "request_paths", path_name)
            )
        if buffer_ms:
            marks["cold_start_buffer"] = self.merged.mark(("platform", "cold_start_buffer"))
        if "boot_time" in settings.settings.marks:
            marks["boot_time"] = settings.settings.marks["boot_time"]
        return Service(
            name=name,
            cloud_run_name=cloud_run_name,
            image=data["image"],
            port=data["port"],
            request_timeout_ms=parse_duration_ms(data["request_timeout"]),
            health_startup=data["health"]["startup"],
            health_liveness=data["health"]["liveness"],
            dependencies=dependencies,
            startup=startup,
            cold_start_buffer_ms=buffer_ms,
            startup_probe=probe,
            request_paths=paths,
            allow=allow,
            marks=marks,
            boot_time_ms=settings.boot_time_ms,
            shutdown=shutdown,
            settings=settings.settings,
            container_name=cloudrun.container_name(name),
        )

    def cloud_run_name(self, service: str) -> str:
        path: Path = ("platform", "service_name")
        template = _get(self.merged.data, path) or cloudrun.DEFAULT_SERVICE_NAME
        try:
            return cloudrun.render_service_name(template, service, self.merged.name)
        except cloudrun.CloudRunError as exc:
            where = path if _get(self.merged.data, path) else ("services", service)
            self.fail(
                where,
                f"{exc} (service '{service}', profile '{self.merged.name}')",
                key=where[0] == "services",
            )
            return ""

    def cold_start_buffer(self) -> int:
        if self._buffer_ms is None:  # one platform setting: read once per profile
            text = _get(self.merged.data, ("platform", "cold_start_buffer"))
            self._buffer_ms = parse_duration_ms(text) if text else 0
        return self._buffer_ms

    def dependencies(
        self, root: Path, data: dict[str, Any], env: Environment, all_services: dict[str, Any]
    ) -> tuple[Dependency, ...]:
        result = []
        for dep_name, dep in (data.get("dependencies") or {}).items():
            dep = dep or {}
            path: Path = (*root, "dependencies", dep_name)
            self.check_identifier(path, dep_name, "dependency")
            retries = dep.get("retries") or 0
            initial_ms, max_ms, multiplier = self.backoff((*path, "backoff"), dep.get("backoff"))
            delays = backoff_delays_ms(initial_ms, multiplier, max_ms, retries)
            found = dep.get("timeouts") or {}
            at = (*path, "timeouts")
            timeouts = tuple(
                self.timeout(dep_name, name, (*at, name), env, raw, delays)
                for name, raw in (
                    found.items()
                    if isinstance(found, dict)
                    else ((name, _get(self.merged.data, (*at, name))) for name in found)
                )
            )
            callee = dep.get("service")
            if callee is not None and callee not in all_services:
                self.fail(
                    (*path, "service"),
                    f"unknown service '{callee}' in profile '{self.merged.name}', "
                    f"called by service '{root[-1]}'",
                    did_you_mean(callee, all_services),
                )
            elif callee == root[-1]:
                self.fail(
                    (*path, "service"),
                    f"service '{callee}' cannot call itself (profile '{self.merged.name}')",
                )
            mark = self.merged.mark
            marks = {key: mark((*path, key)) for key in dep}
            if isinstance(dep.get("backoff"), dict):
                marks.update(
                    (f"backoff.{key}", mark((*path, "backoff", key))) for key in dep["backoff"]
                )
            result.append(
                Dependency(
                    dep_name,
                    timeouts,
                    retries,
                    initial_ms,
                    callee,
                    marks,
                    backoff_max_ms=max_ms,
                    backoff_multiplier=multiplier,
                    jitter=dep.get("jitter") or DEFAULT_JITTER,
                )
            )
        return tuple(result)

    def backoff(self, path: Path, raw: Any) -> tuple[int, int | None, Fraction]:
        """(initial ms, max ms or None, multiplier) of a constant or exponential backoff."""
        if not raw:
            return 0, None, CONSTANT_MULTIPLIER
        if not isinstance(raw, dict):
            return parse_duration_ms(raw), None, CONSTANT_MULTIPLIER
        initial_ms = parse_duration_ms(raw["initial"])
        max_ms = parse_duration_ms(raw["max"]) if "max" in raw else None
        multiplier = DEFAULT_MULTIPLIER
        if "multiplier" in raw:  # read like the factors: judged on its text, then exact
            try:
                multiplier = parse_factor(_text(raw["multiplier"]))
            except DurationError as exc:
                self.fail((*path, "multiplier"), str(exc))
        if max_ms is not None and max_ms < initial_ms:
            self.fail(
                (*path, "max"),
                f"backoff max {raw['max']} is below initial {raw['initial']} "
                f"({self.merged.mark((*path, 'initial'))})",
                f"raise max to at least {raw['initial']}, or remove it for no cap",
            )
        return initial_ms, max_ms, multiplier

    def timeout(
        self,
        dependency: str,
        name: str,
        path: Path,
        env: Environment,
        raw: Any,
        delays: tuple[int, ...],
    ) -> Timeout:
        """The timeout `raw` at `path`: scaled, margined and capped, or pinned; `delays`
        are its dependency's waits before each retry."""
        self.check_identifier(path, name, "timeout")
        mark = self.merged.mark(path)
        if isinstance(raw, dict):
            pin = self.operand((*path, "fixed"), "fixed")
            ms = parse_duration_ms(pin.text)
            if env.max_timeout_ms is not None and ms > env.max_timeout_ms:
                assert env.max_timeout is not None
                self.fail(
                    (*path, "fixed"),
                    f"fixed timeout {dependency}.{name} {format_duration(ms)} is above "
                    f"max_timeout {env.max_timeout.text} ({env.max_timeout.mark}) of "
                    f"profile '{self.merged.name}'",
                    "lower the pin or raise max_timeout",
                )
            return Timeout(
                dependency, name, ms, ms, True, False, Fraction(ms), (pin,), mark, delays
            )
        text = raw if type(raw) is str else _text(raw)
        known = self._scaled.get(text)
        if known is None:
            known = self._scaled[text] = self.scaled(text, env)
        base_ms, exact, ms, capped = known
        base = Operand("base", text, mark)  # = self.operand(path, "base"), looked up once
        operands: tuple[Operand, ...] = (base, env.multiplier, env.margin)
        if capped:
            assert env.max_timeout is not None
            operands = (*operands, env.max_timeout)
        return Timeout(dependency, name, ms, base_ms, False, capped, exact, operands, mark, delays)

    def scaled(self, text: str, env: Environment) -> tuple[int, Fraction, int, bool]:
        """(base ms, exact product, ms, capped) of the duration `text` in this profile:
        scaled by its factors exactly, rounded up, capped; once per distinct text."""
        base_ms = parse_duration_ms(text)
        exact = base_ms * (env.multiplier_value * env.margin_value)
        ms = scale_ms(base_ms, env.multiplier_value, env.margin_value)
        cap = env.max_timeout_ms
        if cap is not None and ms > cap:
            return base_ms, exact, cap, True
        return base_ms, exact, ms, False

    def chain(self, path: Path, refs: list[str], by_ref: dict[str, Timeout]) -> tuple[Timeout, ...]:
        resolved = []
        seen: set[str] = set()
        for index, ref in enumerate(refs):
            if ref not in by_ref:
                self.fail(
                    (*path, index),
                    f"unknown timeout '{ref}' in {self.chain_name(path)}",
                    did_you_mean(ref, by_ref) or "name a dependency.timeout pair that exists",
                )
            elif ref in seen and path[-1] in CHAINS:  # a request may call a dependency twice
                self.fail((*path, index), f"'{ref}' appears twice in {self.chain_name(path)}")
            else:
                seen.add(ref)
                resolved.append(by_ref[ref])
        return tuple(resolved)

    def chain_name(self, path: Path) -> str:
        """`the startup chain of service 'api' in profile 'staging'`, for a message."""
        where = CHAINS.get(str(path[-1]), f"request path '{path[-1]}'")
        return f"{where} of service '{path[1]}' in profile '{self.merged.name}'"

    def check_identifier(self, path: Path, name: str, kind: str) -> None:
        problem = identifier_problem(name, kind)
        if problem is not None:
            self.fail(path, *problem, key=True)

    def check_env_names(self, root: Path, dependencies: tuple[Dependency, ...]) -> None:
        """No two names of a service's timeouts.py or env clash; none is Cloud Run's.

        What decides it is the names alone (and which retry variables a dependency has):
        services of one profile that share them are checked once.
        """
        names = tuple(
            (d.name, tuple(t.name for t in d.timeouts), bool(d.retries), d.backoff_max_ms is None)
            for d in dependencies
        )
        if names in self._clean_names:
            return
        before = len(self.errors)
        self._check_env_names(root, dependencies)
        if len(self.errors) == before:
            self._clean_names.add(names)

    def _check_env_names(self, root: Path, dependencies: tuple[Dependency, ...]) -> None:
        owners: dict[str, str] = {
            STARTUP_TOTAL_ENV: "the startup total",
            SHUTDOWN_TOTAL_ENV: "the shutdown total",
        }
        classes: dict[str, str] = {}
        for dep in dependencies:
            path: Path = (*root, "dependencies", dep.name)
            other = classes.setdefault(class_name(dep.name), dep.name)
            if other != dep.name:
                self.fail(
                    path,
                    f"dependency '{dep.name}' and '{other}' both become "
                    f"{class_name(dep.name)} in timeouts.py",
                    key=True,
                )
            named: list[tuple[str, str, str | None]] = [
                (t.env_name, t.ref, t.name) for t in dep.timeouts
            ]
            named += [(var.name, f"{dep.name}.retries", None) for var in dep.retry_env]
            reserved: set[str | None] = set()
            for env_name, what, timeout in named:
                reason = cloudrun.reserved_env_reason(env_name)
                owner = owners.setdefault(env_name, what)
                if not reason and owner == what:
                    continue
                where = (*path, "retries") if timeout is None else (*path, "timeouts", timeout)
                if reason and timeout not in reserved:
                    reserved.add(timeout)  # one error per line, not one per retry variable
                    message = f"env var {env_name} of {what}: {reason}"
                    self.fail(where, message, "rename the dependency", key=True)
                if owner != what:
                    self.fail(
                        where,
                        f"{what} and {owner} both become env var {env_name}",
                        "rename one of them",
                        key=True,
                    )


@lru_cache(maxsize=4096)  # pure; a platform repeats the same few names thousands of times
def identifier_problem(name: str, kind: str) -> tuple[str, str] | None:
    """Why `name` cannot be a dependency or timeout name (message, hint), or None."""
    if not IDENTIFIER.fullmatch(name):
        return (
            f"invalid {kind} name '{name}'",
            "lowercase letters, digits and '_', starting with a letter",
        )
    if keyword.iskeyword(name):
        return (
            f"{kind} name '{name}' is a Python keyword",
            "it becomes an attribute in timeouts.py; choose another name",
        )
    if kind == "timeout" and name == "float":  # `float: float` breaks the next field's type
        return (
            "timeout name 'float' would hide the type float in timeouts.py",
            "choose another name",
        )
    return None


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        if not isinstance(data, (dict, list)):  # a tuple: faster than dict | list
            return None
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _text(value: Any) -> str:
    if isinstance(value, Decimal):  # str() would give '1E-7' for 0.0000001, '1E+1' for 1e1
        return format(value, "f")
    return value if isinstance(value, str) else str(value)
