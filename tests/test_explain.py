"""`timeoutc explain`: the arithmetic of each value, every operand with its file:line:col."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Run, copy_repo, write_profile

# Line and column numbers below are counted in these texts.
BASE = """\
abstract: true
platform:
  cold_start_buffer: 2s
services:
  api:
    image: example/api:1
    port: 8080
    request_timeout: 30s
    health: {startup: /health, liveness: /health}
    dependencies:
      database:
        timeouts: {connect: 8s, query: 333ms}
      auth:
        timeouts: {request: 10s}
        retries: 2
        backoff: 200ms
    startup: [database.connect, auth.request]
    request_paths:
      read: [database.query]
"""

STAGING = """\
extends: base
environment:
  timeout_multiplier: 0.7
  safety_margin: 1.1
  max_timeout: 5s
  max_total_timeout: 18s
platform:
  min_instances: 1
services:
  api:
    dependencies:
      auth:
        timeouts: {request: {fixed: 4s}}
    allow:
      budget.request-path: "reads stream; the client retries"
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = copy_repo(tmp_path / "repo", with_out=False)
    for path in (root / "profiles").iterdir():
        path.unlink()
    write_profile(root, "base", BASE)
    write_profile(root, "staging", STAGING)
    return root


def block(text: str, first: str) -> list[str]:
    """The lines of the block of `text` that starts with the line `first`, up to a blank."""
    lines = text.splitlines()
    start = lines.index(first)
    end = lines.index("", start)
    return lines[start:end]


def test_a_capped_value_shows_every_step_and_operand(root: Path, run: Run) -> None:
    result = run("explain", "staging", "api", "database.connect", "--root", root)
    assert result.exit_code == 0, result.stderr
    steps = block(result.stdout, "  database.connect = 5.0s (capped), DATABASE_CONNECT_TIMEOUT_S")
    assert [line.split()[:3] for line in steps[1:4]] == [
        ["base", "8s", "profiles/base.yaml:12:29"],
        ["x", "timeout_multiplier", "0.7"],
        ["x", "safety_margin", "1.1"],
    ]
    assert "(set by base)" in steps[1]
    assert "profiles/staging.yaml:3:23 (set by staging)" in steps[2]
    assert "profiles/staging.yaml:4:18 (set by staging)" in steps[3]
    assert steps[4].split(None, 3)[3] == "8000 ms x 0.7 x 1.1 = 6160 ms exactly"
    assert steps[5].split() == ["ceil", "6160", "ms", "(already", "whole)"]
    assert steps[6].split()[:5] == ["cap", "at", "max_timeout", "5s", "profiles/staging.yaml:5:16"]
    assert steps[6].endswith("capped: 6.16s is above max_timeout")
    assert steps[7].split() == ["=", "5000", "ms", "5.0s"]
    assert steps[8] == "    used in: startup chain, phase 1 of 2"


def test_a_scaled_value_rounds_up_exactly(root: Path, run: Run) -> None:
    result = run("explain", "staging", "api", "database.query", "--root", root)
    steps = block(result.stdout, "  database.query = 0.257s (scaled), DATABASE_QUERY_TIMEOUT_S")
    assert "profiles/base.yaml:12:40 (set by base)" in steps[1]
    assert steps[4].endswith("333 ms x 0.7 x 1.1 = 256.41 ms exactly")
    assert steps[5].split() == ["ceil", "256.41", "ms", "->", "257", "ms"]
    assert steps[6].split() == ["=", "257", "ms", "0.257s"]
    assert steps[7] == "    used in: request path read"


def test_a_fixed_value_is_pinned(root: Path, run: Run) -> None:
    result = run("explain", "staging", "api", "auth.request", "--root", root)
    steps = block(result.stdout, "  auth.request = 4.0s (fixed), AUTH_REQUEST_TIMEOUT_S")
    assert steps[1].split()[:3] == ["fixed", "4s", "profiles/staging.yaml:13:37"]
    assert steps[1].endswith("(set by staging); pinned: not scaled")
    assert steps[2].split() == ["=", "4000", "ms", "4.0s"]


def test_the_whole_service_startup_cloud_run_and_budgets(root: Path, run: Run) -> None:
    result = run("explain", "staging", "api", "--root", root)
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("staging / api  (profiles/staging.yaml; extends base)\n")
    startup = block(out, "startup chain  profiles/base.yaml:17:14")
    assert startup[1].split() == ["1.", "database.connect", "5.0s", "from", "0.0s"]
    # auth.request is retried twice: the phase counts at its worst case, 3 x 4s + 2 x 0.2s
    assert startup[2].split() == [
        *("2.", "auth.request", "12.4s", "from", "5.0s"),
        *("3", "x", "4.0s", "+", "0.4s", "backoff"),
    ]
    assert startup[3].split() == ["startup", "total", "17.4s"]
    assert startup[4].split() == ["+", "cold_start_buffer", "2.0s", "profiles/base.yaml:3:22"]
    assert startup[5].split() == ["+", "boot_time", "10.0s", "(default)"]
    assert startup[6].split() == ["=", "startup", "budget", "29.4s"]
    assert startup[7].split() == [
        "max_total_timeout",
        "18.0s",
        "profiles/staging.yaml:6:22;",
        "margin",
        "0.6s",
    ]
    cloud_run = block(out, "Cloud Run")
    assert cloud_run[1].split()[:3] == ["service", "name", "api-staging"]
    assert cloud_run[2].split() == ["container", "name", "api"]
    assert cloud_run[3].split() == [
        "timeoutSeconds",
        "30",
        "request_timeout",
        "profiles/base.yaml:8:22",
    ]
    assert cloud_run[4] == (
        "  startup probe   initialDelaySeconds 0, periodSeconds 1, failureThreshold 31 "
        "(window 31s, last probe at 30s), timeoutSeconds 1; covers the startup budget 29.4s"
    )
    reasons = [line.strip() for line in cloud_run[5:11]]
    assert reasons[0].endswith(
        "so the last probe must run at or after the startup budget: 0 + (31 - 1) x 1 = 30s >= 29.4s"
    )
    assert reasons[1].startswith("periodSeconds 1: the shortest Cloud Run allows")
    assert reasons[2].startswith("failureThreshold 31: the fewest probes")
    assert reasons[3] == "window failureThreshold x periodSeconds = 31s <= 240s (Cloud Run's limit)"
    assert ["min", "instances", "1", "profiles/staging.yaml:8:18"] in [
        line.split() for line in cloud_run
    ]
    budgets = out[out.index("budget rules\n") :].splitlines()
    assert "  ok      budget.startup-total (startup chain): 17.4s of 18.0s, margin 0.6s" in budgets
    assert any(
        line.startswith("  allowed budget.request-path (request path read)") for line in budgets
    )
    assert '      allowed: "reads stream; the client retries"' in budgets
    assert budgets[-2:] == [
        "switched off with allow",
        '  budget.request-path: "reads stream; the client retries"  profiles/staging.yaml:15:28',
    ]


def test_a_broken_budget_is_explained_not_refused(root: Path, run: Run) -> None:
    write_profile(
        root, "staging", STAGING.replace("max_total_timeout: 18s", "max_total_timeout: 8s")
    )
    assert run("validate", "--root", root).exit_code == 2
    result = run("explain", "staging", "api", "--root", root)
    assert result.exit_code == 0, result.stderr
    assert "  broken  budget.startup-total (startup chain): 17.4s of 8.0s, margin -9.4s" in (
        result.stdout.splitlines()
    )


def _steps(document: dict[str, Any], ref: str) -> list[dict[str, Any]]:
    timeout = next(t for t in document["timeouts"] if t["timeout"] == ref)
    steps: list[dict[str, Any]] = timeout["steps"]
    return steps


def test_json_carries_every_operand_with_its_place(root: Path, run: Run) -> None:
    result = run("explain", "staging", "api", "--format", "json", "--root", root)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["extends"] == ["base"]
    operands = [
        (s["step"], s["text"], s["at"], s["set_by"])
        for s in _steps(document, "database.connect")
        if "at" in s
    ]
    assert operands == [
        ("base", "8s", "profiles/base.yaml:12:29", "base"),
        ("timeout_multiplier", "0.7", "profiles/staging.yaml:3:23", "staging"),
        ("safety_margin", "1.1", "profiles/staging.yaml:4:18", "staging"),
        ("max_timeout", "5s", "profiles/staging.yaml:5:16", "staging"),
    ]
    query = next(t for t in document["timeouts"] if t["timeout"] == "database.query")
    assert (query["ms"], query["kind"], query["seconds"]) == (257, "scaled", "0.257")
    assert _steps(document, "auth.request")[0]["at"] == "profiles/staging.yaml:13:37"
    assert document["cloud_run"]["startup_probe"]["window_seconds"] == 31
    assert document["cloud_run"]["startup_probe"]["last_probe_seconds"] == 30
    assert document["startup"]["budget_ms"] == 29400
    assert document["startup"]["boot_time_ms"] == 10000
    assert document["startup"]["phases"][1] == {
        "timeout": "auth.request",
        "ms": 4000,
        "attempts": 3,
        "backoff_ms": 400,
        "worst_ms": 12400,
        "starts_at_ms": 5000,
    }
    rules = {(r["rule"], r["subject"]): r for r in document["budgets"]["rules"]}
    assert rules[("budget.startup-total", "startup chain")]["margin_ms"] == 600
    assert rules[("budget.request-path", "request path read")]["reason"] == (
        "reads stream; the client retries"
    )


def test_defaults_say_so(root: Path, run: Run) -> None:
    write_profile(root, "plain", "extends: base\n")
    result = run("explain", "plain", "api", "database.connect", "--root", root)
    steps = block(result.stdout, "  database.connect = 8.0s (scaled), DATABASE_CONNECT_TIMEOUT_S")
    assert steps[2].split() == ["x", "timeout_multiplier", "1", "(default)"]
    assert steps[3].split() == ["x", "safety_margin", "1", "(default)"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("stagin", "api"),
            "profiles: error: unknown environment 'stagin'; did you mean 'staging'?",
        ),
        (
            ("base", "api"),
            "profiles/base.yaml: error: profile 'base' is abstract: it resolves to nothing; "
            "name an environment that extends it: staging",
        ),
        (
            ("staging", "apj"),
            "profiles/staging.yaml: error: no service 'apj' in environment 'staging'; "
            "did you mean 'api'?",
        ),
        (
            ("staging", "api", "database.conect"),
            "profiles/staging.yaml:10:3: error: no timeout 'database.conect' in service 'api'; "
            "did you mean 'database.connect'?",
        ),
        (
            ("staging", "api", "zzz"),
            "profiles/staging.yaml:10:3: error: no timeout 'zzz' in service 'api'; "
            "timeouts: database.connect, database.query, auth.request",
        ),
    ],
)
def test_unknown_names_exit_2_with_a_hint(
    root: Path, run: Run, args: tuple[str, ...], message: str
) -> None:
    result = run("explain", *args, "--root", root)
    assert result.exit_code == 2
    assert result.stderr == message + "\n"
    assert result.stdout == ""
