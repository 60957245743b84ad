"""One worst case everywhere: a retried phase of the startup chain or of the shutdown steps
counts every attempt and every wait, in the totals, the rules, the probe and the outputs.

Each rule below breaks only because of retries: the same profile without them passes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO, Run, at, errors, load_module, write_profile

from tests.test_diff import commit_all, git

BASE = """\
abstract: true
platform: {cold_start_buffer: 2s}
services:
  api:
    image: example.com/api:1
    port: 8080
    request_timeout: 60s
    health: {startup: /healthz, liveness: /healthz}
    dependencies:
      db:
        timeouts: {connect: 3s, close: 2s}
        retries: 1
        backoff: 100ms
      cache:
        timeouts: {connect: 2s, close: 1s}
    startup: [db.connect, cache.connect]
    shutdown: [cache.close, db.close]
"""
CAPPED = "extends: base\nenvironment: {max_total_timeout: 6s}\n"


def use(root: Path, base: str, production: str = "extends: base\n") -> None:
    for old in (root / "profiles").glob("*.yaml"):
        old.unlink()
    write_profile(root, "base", base)
    write_profile(root, "production", production)


def without_retries(base: str) -> str:
    return base.replace("        retries: 1\n        backoff: 100ms\n", "")


def test_startup_total_counts_the_retried_phase_at_its_worst_case(run: Run, repo: Path) -> None:
    use(repo, without_retries(BASE), CAPPED)
    assert run("validate", "--root", repo).exit_code == 0  # 3s + 2s: fits 6s
    use(repo, BASE, CAPPED)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    cap = at(CAPPED, "max_total_timeout: |6s", "profiles/production.yaml")
    [line] = [e for e in errors(result.stderr) if "budget.startup-total" in e]
    assert line == (
        f"{at(BASE, 'startup: |[')}: error: budget.startup-total: profile 'production', "
        f"service 'api': startup chain 8.1s exceeds max_total_timeout 6s ({cap}) by 2.1s: "
        f"db.connect 2 x 3.0s + 0.1s = 6.1s ({at(BASE, 'connect: |3s')}; "
        f"retries {at(BASE, 'retries: |1')}) + cache.connect 2.0s ({at(BASE, 'connect: |2s')}); "
        f"lower db.retries to 0 ({at(BASE, 'retries: |1')}), or shorten the chain by 2.1s, "
        "or raise max_total_timeout to 8.1s"
    )


def test_startup_probe_is_sized_from_the_worst_case_and_names_the_costliest_phase(
    run: Run, repo: Path
) -> None:
    base = BASE.replace("connect: 3s, close: 2s", "connect: 60s, close: 2s")
    use(repo, without_retries(base))
    assert run("build", "--root", repo).exit_code == 0  # 60 + 2 + 2 + 10 = 74s: fits 240s
    probe = (repo / "out/production/api/service.yaml").read_text()
    assert "failureThreshold: 75\n" in probe
    base = base.replace("retries: 1", "retries: 3")
    use(repo, base)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    [line] = [e for e in errors(result.stderr) if "budget.startup-probe" in e]
    retries = at(base, "retries: |3")
    assert line == (
        f"{at(base, 'startup: |[')}: error: budget.startup-probe: profile 'production', "
        "service 'api': startup budget 254.3s exceeds Cloud Run's 240s startup-probe window "
        "by 14.3s: the startup chain at its worst case (every attempt of every phase) is "
        "242.3s, and db.connect costs the most (240.3s): "
        f"db.connect 4 x 60.0s + 0.3s = 240.3s ({at(base, 'connect: |60s')}; retries {retries})"
        f" + cache.connect 2.0s ({at(base, 'connect: |2s')}) + "
        f"cold_start_buffer 2s ({at(base, 'cold_start_buffer: |2s')}) + boot_time 10s (default); "
        f"lower db.retries to 2 ({retries}), or shorten the startup chain by 14.3s"
    )


def test_a_chain_that_cannot_fit_even_without_retries_still_names_its_retries(
    run: Run, repo: Path
) -> None:
    base = BASE.replace("connect: 3s, close: 2s", "connect: 240s, close: 2s")
    use(repo, base)
    [line] = [
        e for e in errors(run("validate", "--root", repo).stderr) if "budget.startup-probe" in e
    ]
    assert "db.connect costs the most (480.1s)" in line
    assert line.endswith(
        f"lower db.retries ({at(base, 'retries: |1')}), or shorten the startup chain by 254.1s"
    )


def test_shutdown_counts_each_step_at_its_worst_case(run: Run, repo: Path) -> None:
    base = BASE.replace("connect: 3s, close: 2s", "connect: 3s, close: 4s")
    use(repo, without_retries(base))
    assert run("validate", "--root", repo).exit_code == 0  # 1 + 4 = 5s of 10s
    use(repo, base.replace("retries: 1", "retries: 2"))
    base = base.replace("retries: 1", "retries: 2")
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    [line] = [e for e in errors(result.stderr) if "budget.shutdown" in e]
    retries = at(base, "retries: |2")
    assert line == (
        f"{at(base, 'shutdown: |[')}: error: budget.shutdown: profile 'production', "
        "service 'api': shutdown steps take 13.2s at their worst case, 3.2s more than the 10s "
        "Cloud Run leaves between SIGTERM and SIGKILL: "
        f"step 1 of 2 cache.close 1.0s ({at(base, 'close: |1s')}) + "
        f"step 2 of 2 db.close 3 x 4.0s + 0.2s = 12.2s ({at(base, 'close: |4s')}; "
        f"retries {retries}); lower db.retries to 1 ({retries}), or shorten the shutdown "
        "steps by 3.2s"
    )


def test_every_output_says_the_worst_case_the_probe_was_sized_from(
    run: Run, repo: Path, tmp_path: Path
) -> None:
    use(repo, BASE)
    assert run("build", "--root", repo).exit_code == 0
    out = repo / "out/production/api"
    env = (out / "timeouts.env").read_text().splitlines()
    assert "STARTUP_TOTAL_TIMEOUT_S=8.1" in env  # 2 x 3s + 0.1s + 2s
    assert "SHUTDOWN_TOTAL_TIMEOUT_S=5.1" in env  # 1s + 2 x 2s + 0.1s
    assert 'STARTUP_TOTAL_TIMEOUT_S: "8.1"' in (out / "env.yaml").read_text()
    service = (out / "service.yaml").read_text()
    assert "failureThreshold: 22\n" in service  # budget 8.1 + 2 + 10 = 20.1s: last probe at 21s
    module = load_module(out / "timeouts.py", "worst_case_api")
    assert module.STARTUP_TOTAL_TIMEOUT_S == 8.1
    assert [
        (p.dependency, p.timeout, p.seconds, p.attempts, p.worst_s) for p in module.STARTUP
    ] == [
        ("db", "connect", 3.0, 2, 6.1),
        ("cache", "connect", 2.0, 1, 2.0),
    ]
    assert [(p.timeout, p.attempts, p.worst_s) for p in module.SHUTDOWN] == [
        ("close", 1, 1.0),
        ("close", 2, 4.1),
    ]
    assert sum(p.worst_s for p in module.STARTUP) == module.STARTUP_TOTAL_TIMEOUT_S


def test_explain_shows_each_phase_with_its_attempts_and_worst_case(run: Run, repo: Path) -> None:
    use(repo, BASE)
    result = run("explain", "production", "api", "--root", repo)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    startup = lines[lines.index(f"startup chain  {at(BASE, 'startup: |[')}") + 1 :]
    assert startup[0].split() == [
        *("1.", "db.connect", "6.1s", "from", "0.0s"),
        *("2", "x", "3.0s", "+", "0.1s", "backoff"),
    ]
    assert startup[1].split() == ["2.", "cache.connect", "2.0s", "from", "6.1s"]
    assert startup[2].split() == ["startup", "total", "8.1s"]
    shutdown = lines[lines.index(f"shutdown steps  {at(BASE, 'shutdown: |[')}") + 1 :]
    assert shutdown[1].split() == [
        *("2.", "db.close", "4.1s", "from", "1.0s"),
        *("2", "x", "2.0s", "+", "0.1s", "backoff"),
    ]
    document = json.loads(
        run("explain", "production", "api", "--format", "json", "--root", repo).stdout
    )
    assert document["shutdown"]["steps"][1] == {
        "timeout": "db.close",
        "ms": 2000,
        "attempts": 2,
        "backoff_ms": 100,
        "worst_ms": 4100,
        "starts_at_ms": 1000,
    }


def test_diff_shows_a_total_moved_by_retries_alone(run: Run, repo: Path) -> None:
    use(repo, BASE)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "profiles")
    use(repo, BASE.replace("retries: 1", "retries: 3"))  # nothing else changes
    result = run("diff", "--root", repo)
    assert result.exit_code == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    # 2 x 3s + 0.1s + 2s = 8.1s -> 4 x 3s + 0.3s + 2s = 14.3s
    assert [
        "production", "api", "startup", "total", "(STARTUP_TOTAL_TIMEOUT_S)", "8.1s", "14.3s",
        "~+76.54%",
    ] in rows  # fmt: skip
    # 1s + 2 x 2s + 0.1s = 5.1s -> 1s + 4 x 2s + 0.3s = 9.3s
    assert [
        "production", "api", "shutdown", "total", "(SHUTDOWN_TOTAL_TIMEOUT_S)", "5.1s", "9.3s",
        "~+82.35%",
    ] in rows  # fmt: skip


def test_diff_compares_a_base_that_breaks_a_rule_it_did_not_know(run: Run, repo: Path) -> None:
    """A newer timeoutc may refuse a revision an older one built: the diff still shows it."""
    use(repo, BASE.replace("retries: 1", "retries: 5"), CAPPED)
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "profiles")
    use(repo, without_retries(BASE), CAPPED)
    result = run("diff", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert "budget.startup-total status (startup chain)" in result.stdout
    broken = run("diff", "--base", "HEAD", "--root", repo)
    assert broken.exit_code == 0


def test_the_spec_example_as_written_breaks_its_startup_total(run: Run, repo: Path) -> None:
    """SPEC.md's Profiles example retries database.connect once; at 2 x 3s its chain is
    19.85s, above its own max_total_timeout of 18s."""
    golden = REPO / "tests/golden/spec-example/profiles"
    base = (golden / "base.yaml").read_text()
    staging = (golden / "staging.yaml").read_text()
    staging = staging.replace(staging.splitlines()[5], "  max_total_timeout: 18s")
    for old in (repo / "profiles").glob("*.yaml"):
        old.unlink()
    write_profile(repo, "base", base)
    write_profile(repo, "staging", staging)
    [line] = errors(run("validate", "--root", repo).stderr)
    assert "startup chain 19.85s exceeds max_total_timeout 18s" in line
    assert "database.connect 2 x 3.0s = 6.0s (profiles/staging.yaml:14:29; retries " in line


@pytest.mark.parametrize("environment", ["production", "staging", "development"])
def test_the_shipped_chains_fit_at_their_worst_case(environment: str) -> None:
    module = load_module(
        REPO / f"out/{environment}/netra-backend/timeouts.py", f"shipped_{environment}"
    )
    worst = round(sum(p.worst_s for p in module.STARTUP), 3)
    assert worst == module.STARTUP_TOTAL_TIMEOUT_S
    assert any(p.attempts > 1 for p in module.STARTUP)
    assert round(sum(p.worst_s for p in module.SHUTDOWN), 3) == module.SHUTDOWN_TOTAL_TIMEOUT_S
    assert module.SHUTDOWN_TOTAL_TIMEOUT_S <= 10
