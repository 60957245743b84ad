"""A config repository written from SPEC.md alone compiles to exactly SPEC.md's arithmetic.

The profiles below use other services, other environments, a Cloud Run name template of
their own, extends chains three and four levels deep, fixed pins, caps and several
multiplier/margin pairs. The expected values are computed here independently of the
compiler: the YAML is read with PyYAML's BaseLoader (every scalar a string), merged by
SPEC.md's rule and resolved with Fractions; then compared with the env files of `build`.
"""

from __future__ import annotations

import math
import re
import shutil
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Run

PROFILES = {
    # An abstract root: the platform every environment shares.
    "platform": """\
abstract: true
platform:
  region: us-east1
  service_name: "{environment}-{service}"
  cold_start_buffer: 1.5s
services:
  checkout:
    image: registry.example.com/shop/checkout:7.1.0
    port: 8000
    request_timeout: 120s
    health: {startup: /startup, liveness: /healthz}
    dependencies:
      payments:
        timeouts: {authorize: 2.5s, capture: 4s}
        retries: 2
        backoff: 250ms
      inventory:
        timeouts: {reserve: 750ms, lookup: 333ms}
      postgres:
        timeouts: {connect: 1.5s, statement: 12s}
    startup: [postgres.connect, inventory.lookup]
  search:
    image: registry.example.com/shop/search:3.0.2
    port: 8081
    request_timeout: 45s
    health: {startup: /ready, liveness: /live}
    dependencies:
      elastic:
        timeouts: {query: 7s, bulk: 20s}
      cache:
        timeouts: {get: 5ms, set: 15ms}
    startup: [elastic.query, cache.get]
""",
    # A second, abstract level: scaling for one region; a list replaced whole.
    "regional": """\
abstract: true
extends: platform
environment:
  timeout_multiplier: 1.3
platform:
  region: europe-west1
services:
  checkout:
    startup: [postgres.connect, payments.authorize, inventory.lookup]
    dependencies:
      payments:                   # a mapping replaces the base's plain backoff whole
        backoff: {initial: 100ms, max: 1s, multiplier: 1.5}
        jitter: none
  search:
    dependencies:
      elastic:
        timeouts: {bulk: 25s}
""",
    # Concrete, three levels: margin, caps and a pin.
    "eu-prod": """\
extends: regional
environment:
  safety_margin: 1.15
  max_timeout: 20s
  max_total_timeout: 30s
platform:
  project: shop-eu-prod
  min_instances: 3
services:
  checkout:
    dependencies:
      postgres:
        timeouts: {connect: {fixed: 2s}}
""",
    # Concrete, four levels: the multiplier overridden, a tighter cap, another pin.
    "eu-canary": """\
extends: eu-prod
environment:
  timeout_multiplier: 0.45
  safety_margin: 1.07
  max_timeout: 3s
platform:
  project: shop-eu-canary
  min_instances: 1
services:
  search:
    dependencies:
      cache:
        timeouts: {get: {fixed: 1ms}}
""",
    # Concrete, two levels: a margin below one and a cap in minutes.
    "us-dev": """\
extends: platform
environment:
  timeout_multiplier: 3
  safety_margin: 0.9
  max_timeout: 0.5m
platform:
  project: shop-us-dev
""",
    # Concrete, standalone: no extends, no caps, no buffer.
    "perf": """\
environment:
  timeout_multiplier: 2.5
  safety_margin: 1.333
services:
  loadgen:
    image: registry.example.com/shop/loadgen:1
    port: 9090
    request_timeout: 1h
    health: {startup: /up, liveness: /up}
    dependencies:
      target:
        timeouts: {connect: 1ms, request: 999ms, drain: 1.001s, soak: 10m}
    startup: [target.connect, target.request]
""",
}
CONCRETE = ("eu-canary", "eu-prod", "perf", "us-dev")
UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}


# The reference: SPEC.md's rules, written independently of compiler/.


def duration_ms(text: str) -> Fraction:
    number, unit = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text).groups()  # type: ignore[union-attr]
    return Fraction(number) * UNITS[unit]


def merged(name: str) -> dict[str, Any]:
    """Mappings merge key by key, the child winning; scalars and lists are replaced whole."""
    data = yaml.load(PROFILES[name], Loader=yaml.BaseLoader)
    parent = data.pop("extends", None)
    data.pop("abstract", None)
    return merge(merged(parent), data) if parent else data


def merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in child.items():
        if isinstance(result.get(key), dict) and isinstance(value, dict):
            result[key] = merge(result[key], value)
        else:
            result[key] = value
    return result


def seconds_text(ms: int) -> str:
    """Exact decimal seconds, at least one fractional digit."""
    text = f"{ms // 1000}.{ms % 1000:03d}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def expected_env(profile: dict[str, Any], service: str) -> dict[str, str]:
    environment = profile.get("environment", {})
    multiplier = Fraction(environment.get("timeout_multiplier", "1"))
    margin = Fraction(environment.get("safety_margin", "1"))
    cap = environment.get("max_timeout")
    data = profile["services"][service]
    resolved: dict[str, int] = {}
    for dependency, spec in data.get("dependencies", {}).items():
        for name, value in spec.get("timeouts", {}).items():
            if isinstance(value, dict):
                ms = int(duration_ms(value["fixed"]))
            else:
                ms = math.ceil(duration_ms(value) * multiplier * margin)
                if cap is not None:
                    ms = min(ms, int(duration_ms(cap)))
            resolved[f"{dependency}.{name}"] = ms
    env = {
        f"{ref.replace('.', '_').upper()}_TIMEOUT_S": seconds_text(ms)
        for ref, ms in resolved.items()
    }
    worst = {
        ref: worst_ms(data["dependencies"][ref.split(".")[0]], ms) for ref, ms in resolved.items()
    }
    total = sum(worst[ref] for ref in data.get("startup", []))
    env["STARTUP_TOTAL_TIMEOUT_S"] = seconds_text(total)  # each phase at its worst case
    for dependency, spec in data.get("dependencies", {}).items():
        retries = int(spec.get("retries", "0"))
        if not retries:
            continue
        prefix = dependency.upper()
        backoff = spec.get("backoff", "0ms")
        if isinstance(backoff, dict):
            initial, multiplier = backoff["initial"], backoff.get("multiplier", "2")
            if "max" in backoff:
                env[f"{prefix}_BACKOFF_MAX_S"] = seconds_text(int(duration_ms(backoff["max"])))
        else:
            initial, multiplier = backoff, "1"
        env[f"{prefix}_RETRIES"] = str(retries)
        env[f"{prefix}_BACKOFF_INITIAL_S"] = seconds_text(int(duration_ms(initial)))
        env[f"{prefix}_BACKOFF_MULTIPLIER"] = multiplier
        env[f"{prefix}_BACKOFF_JITTER"] = spec.get("jitter", "full")
    return env


def worst_ms(spec: dict[str, Any], ms: int) -> int:
    """`(r + 1) x t + d1 + ... + dr`, dn = min(ceil(initial x multiplier^(n-1)), max)."""
    retries = int(spec.get("retries", "0"))
    backoff = spec.get("backoff", "0ms")
    if not isinstance(backoff, dict):
        backoff = {"initial": backoff, "multiplier": "1"}
    initial = duration_ms(backoff["initial"])
    multiplier = Fraction(backoff.get("multiplier", "2"))
    cap = duration_ms(backoff["max"]) if "max" in backoff else None
    delays = [math.ceil(initial * multiplier ** (n - 1)) for n in range(1, retries + 1)]
    delays = [min(d, int(cap)) if cap is not None else d for d in delays]
    return (retries + 1) * ms + sum(delays)


def startup_budget_ms(profile: dict[str, Any], service: str) -> int:
    total = Fraction(expected_env(profile, service)["STARTUP_TOTAL_TIMEOUT_S"]) * 1000
    buffer = profile.get("platform", {}).get("cold_start_buffer")
    return int(total + (duration_ms(buffer) if buffer else 0))


# The compiler's output.


def read_env(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# Code generated by timeoutc from profiles/")
    return dict(line.split("=", 1) for line in lines[1:])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The repository above, with the shipped schema and templates, built once."""
    from click.testing import CliRunner

    from compiler.cli.main import main

    root = tmp_path_factory.mktemp("spec-repo")
    for folder in ("schemas", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "profiles").mkdir()
    for name, text in PROFILES.items():
        (root / "profiles" / f"{name}.yaml").write_text(text)
    result = CliRunner().invoke(main, ["build", "--root", str(root)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    return root


def services_of(environment: str) -> list[str]:
    return sorted(merged(environment)["services"])


def test_only_concrete_profiles_are_built(built: Path) -> None:
    folders = [p.name for p in (built / "out").iterdir() if not p.name.startswith(".")]
    assert sorted(folders) == sorted(CONCRETE)
    for environment in CONCRETE:
        folders = sorted(p.name for p in (built / "out" / environment).iterdir())
        assert folders == services_of(environment)


@pytest.mark.parametrize("environment", CONCRETE)
def test_env_files_hold_the_spec_arithmetic(built: Path, environment: str) -> None:
    profile = merged(environment)
    for service in services_of(environment):
        got = read_env(built / "out" / environment / service / "timeouts.env")
        assert got == expected_env(profile, service), f"{environment}/{service}"


def test_hand_computed_values() -> None:
    """A few values worked out on paper, to check the reference itself."""
    prod = expected_env(merged("eu-prod"), "checkout")
    assert prod["POSTGRES_CONNECT_TIMEOUT_S"] == "2.0"  # pinned
    assert prod["PAYMENTS_AUTHORIZE_TIMEOUT_S"] == "3.738"  # 2500 x 1.3 x 1.15 = 3737.5
    assert prod["INVENTORY_LOOKUP_TIMEOUT_S"] == "0.498"  # 333 x 1.495 = 497.835
    assert prod["POSTGRES_STATEMENT_TIMEOUT_S"] == "17.94"  # 12000 x 1.495
    # 2000 (pinned) + 3 x 3738 + 100 + 150 (payments.authorize, retried twice) + 498
    assert prod["STARTUP_TOTAL_TIMEOUT_S"] == "13.962"
    search = expected_env(merged("eu-prod"), "search")
    assert search["ELASTIC_BULK_TIMEOUT_S"] == "20.0"  # 25000 x 1.495 = 37375, capped
    canary = expected_env(merged("eu-canary"), "search")
    assert canary["CACHE_GET_TIMEOUT_S"] == "0.001"  # pinned
    assert canary["CACHE_SET_TIMEOUT_S"] == "0.008"  # 15 x 0.45 x 1.07 = 7.2225
    assert canary["ELASTIC_QUERY_TIMEOUT_S"] == "3.0"  # 7000 x 0.4815 = 3370.5, capped
    dev = expected_env(merged("us-dev"), "search")
    assert dev["ELASTIC_BULK_TIMEOUT_S"] == "30.0"  # 20000 x 2.7 = 54000, capped at 0.5m
    assert dev["CACHE_GET_TIMEOUT_S"] == "0.014"  # 5 x 2.7 = 13.5
    assert prod["PAYMENTS_BACKOFF_MULTIPLIER"] == "1.5"  # the regional mapping, whole
    assert prod["PAYMENTS_BACKOFF_MAX_S"] == "1.0"
    assert prod["PAYMENTS_BACKOFF_JITTER"] == "none"
    dev_checkout = expected_env(merged("us-dev"), "checkout")
    assert dev_checkout["PAYMENTS_BACKOFF_INITIAL_S"] == "0.25"  # the base's constant
    assert dev_checkout["PAYMENTS_BACKOFF_MULTIPLIER"] == "1"
    assert "PAYMENTS_BACKOFF_MAX_S" not in dev_checkout
    perf = expected_env(merged("perf"), "loadgen")
    assert perf["TARGET_CONNECT_TIMEOUT_S"] == "0.004"  # 1 x 3.3325
    assert perf["TARGET_REQUEST_TIMEOUT_S"] == "3.33"  # 999 x 3.3325 = 3329.1675
    assert perf["TARGET_SOAK_TIMEOUT_S"] == "1999.5"  # 600000 x 3.3325


@pytest.mark.parametrize("environment", CONCRETE)
def test_env_yaml_and_module_hold_the_same_values(built: Path, environment: str) -> None:
    profile = merged(environment)
    for service in services_of(environment):
        folder = built / "out" / environment / service
        expected = expected_env(profile, service)
        assert yaml.safe_load((folder / "env.yaml").read_text()) == expected
        module = (folder / "timeouts.py").read_text()
        for name, value in expected.items():
            if name.endswith("_RETRIES"):
                assert f"\n{name}: Final[int] = {value}\n" in module
            elif name.endswith("_JITTER"):
                assert f'\n{name}: Final[str] = "{value}"\n' in module
            else:
                literal = value if "." in value else f"{value}.0"
                assert f"\n{name}: Final[float] = {literal}\n" in module


@pytest.mark.parametrize("environment", CONCRETE)
def test_service_yaml_follows_the_profile(built: Path, environment: str) -> None:
    profile = merged(environment)
    for service in services_of(environment):
        doc = yaml.safe_load((built / "out" / environment / service / "service.yaml").read_text())
        data = profile["services"][service]
        template = profile.get("platform", {}).get("service_name", "{service}-{environment}")
        assert doc["metadata"]["name"] == template.format(service=service, environment=environment)
        assert doc["metadata"].get("namespace") == profile.get("platform", {}).get("project")
        spec = doc["spec"]["template"]["spec"]
        assert spec["timeoutSeconds"] * 1000 == duration_ms(data["request_timeout"])
        container = spec["containers"][0]
        assert container["image"] == data["image"]
        assert container["ports"][0]["containerPort"] == int(data["port"])
        probe = container["startupProbe"]
        window_ms = probe["failureThreshold"] * probe["periodSeconds"] * 1000
        assert startup_budget_ms(profile, service) <= window_ms <= 240_000
        assert probe["httpGet"]["path"] == data["health"]["startup"]
        assert container["livenessProbe"]["httpGet"]["path"] == data["health"]["liveness"]


def test_check_is_clean_after_build(built: Path, run: Run) -> None:
    assert run("check", "--root", built).exit_code == 0
