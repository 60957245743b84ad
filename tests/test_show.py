"""`timeoutc show`: the merged, resolved profile in exact seconds, as YAML or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tests.conftest import Run, write_profile


def test_yaml_is_the_merged_resolved_profile(repo: Path, run: Run) -> None:
    result = run("show", "staging", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        "# timeoutc show staging: merged and resolved from profiles/staging.yaml; "
        "durations in seconds\n"
    )
    document = yaml.safe_load(result.stdout)
    assert document["environment"] == "staging"
    assert document["extends"] == ["base"]
    assert document["factors"] == {
        "timeout_multiplier": 0.7,
        "safety_margin": 1.1,
        "max_timeout": 5.0,
        "max_total_timeout": 33.0,
        "max_retry_amplification": 10,
    }
    assert document["platform"]["min_instances"] == 1
    backend = document["services"]["netra-backend"]
    database = backend["dependencies"]["database"]
    assert database["timeouts"] == {"connect": 3.0, "query": 5.0, "close": 0.385}
    assert database["backoff"] == {"initial": 0.1, "max": 0.25, "multiplier": 2}
    assert (database["retries"], database["jitter"]) == (3, "full")
    assert database["delays"] == [0.1, 0.2, 0.25]
    assert backend["dependencies"]["auth"]["backoff"] == 0.2
    assert backend["request_path_worst_cases"] == {"chat": 20.2}
    assert backend["cloud_run_name"] == "netra-backend-staging"
    assert backend["request_timeout"] == 300.0
    assert backend["startup_total"] == 31.6  # each phase at its worst case
    assert backend["startup_budget"] == 43.6  # 31.6 + 2 + 10, exact
    assert backend["boot_time"] == 10.0
    assert backend["shutdown"] == ["websocket_bridge.close", "database.close"]
    assert backend["shutdown_total"] == 2.475  # 0.385 + 4 x 0.385 + 0.55
    assert backend["session_affinity"] is True
    assert backend["startup_probe"]["failure_threshold"] == 45
    assert backend["env"]["DATABASE_CONNECT_TIMEOUT_S"] == "3.0"
    assert list(document["services"]) == ["netra-backend", "auth-service"]


def test_json_holds_the_same_document(repo: Path, run: Run) -> None:
    as_yaml = yaml.safe_load(run("show", "production", "--root", repo).stdout)
    as_json = json.loads(run("show", "production", "--root", repo, "--format", "json").stdout)
    assert as_json == as_yaml


def test_output_is_deterministic(repo: Path, run: Run) -> None:
    first = run("show", "development", "--root", repo, "--format", "json").stdout
    assert run("show", "development", "--root", repo, "--format", "json").stdout == first
    assert first.endswith("}\n")


def test_one_service_and_exact_decimal_seconds(repo: Path, run: Run) -> None:
    write_profile(
        repo,
        "qa",
        "extends: base\n"
        "environment: {timeout_multiplier: 0.7, safety_margin: 1.1}\n"
        "services:\n"
        "  auth-service:\n"
        "    dependencies:\n"
        "      redis: {timeouts: {connect: 1.5s, command: 333ms}}\n",
    )
    result = run("show", "qa", "auth-service", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert "          connect: 1.155\n" in result.stdout
    assert "          command: 0.257\n" in result.stdout
    document = yaml.safe_load(result.stdout)
    assert list(document["services"]) == ["auth-service"]


def test_unknown_environment_or_service_exits_2_with_a_hint(repo: Path, run: Run) -> None:
    result = run("show", "producton", "--root", repo)
    assert result.exit_code == 2
    assert (
        result.stderr
        == "profiles: error: unknown environment 'producton'; did you mean 'production'?\n"
    )
    result = run("show", "staging", "auth", "--root", repo)
    assert result.exit_code == 2
    assert "no service 'auth' in environment 'staging'" in result.stderr
    assert run("show", "base", "--root", repo).exit_code == 2
