"""Timeout budgets: the five rules, their boundaries, their fixes, `allow`, across environments.

Most tests write a small repository (profiles/base.yaml plus concrete environments), run
`timeoutc validate` and read what a user reads; some call `evaluate_service` directly to
check the results that `explain` and `diff` consume.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path

import pytest
from conftest import REPO, Run, at, errors, write_profile
from hypothesis import given
from hypothesis import strategies as st

from compiler.diagnostics import Mark
from compiler.durations import parse_duration_ms, scale_ms
from compiler.model import Environment, Operand, Profile, Timeout
from compiler.pipeline import compile_repository, load_profiles
from compiler.pipeline.budgets import (
    RULES,
    RuleResult,
    check_budgets,
    evaluate_service,
    lower_timeout,
    raise_timeout,
)
from compiler.pipeline.merge import extends_chain, merge_chain
from compiler.pipeline.resolve import resolve_profile

HEAD = """\
abstract: true
services:
  api:
    image: example.com/api:1
    port: 8080
    health: {startup: /healthz, liveness: /healthz}
"""

PRODUCTION = "extends: base\n"


def use_profiles(root: Path, base: str, **environments: str) -> None:
    """Replace the repository's profiles with `base` and the given environments."""
    for old in (root / "profiles").glob("*.yaml"):
        old.unlink()
    write_profile(root, "base", base)
    for name, text in (environments or {"production": PRODUCTION}).items():
        write_profile(root, name, text)


def resolved(root: Path, name: str = "production") -> Profile:
    """The resolved profile `name`, without the budget check (so broken rules can be read)."""
    documents = load_profiles(root)
    return resolve_profile(merge_chain(extends_chain(name, documents), documents))


def results(
    root: Path, rule: str, name: str = "production", service: str = "api"
) -> list[RuleResult]:
    profile = resolved(root, name)
    found = next(s for s in profile.services if s.name == service)
    return [r for r in evaluate_service(profile, found) if r.rule == rule]


# --- what ships ------------------------------------------------------------------------


def test_shipped_profiles_exercise_every_rule_and_pass_in_every_environment(
    run: Run, repo: Path
) -> None:
    assert run("validate", "--root", repo).exit_code == 0
    seen: dict[str, set[str]] = {}
    for profile in compile_repository(REPO, render=False).profiles:
        for service in profile.services:
            for result in evaluate_service(profile, service):
                assert result.status == "ok", result
                assert result.margin_ms >= (1 if result.strict else 0)
                seen.setdefault(profile.name, set()).add(result.rule)
    assert seen["production"] == seen["staging"] == set(RULES)
    # development sets no max_total_timeout, so only that rule has nothing to check
    assert seen["development"] == set(RULES) - {"budget.startup-total"}


# --- budget.dependency -----------------------------------------------------------------

DEPENDENCY = (
    HEAD
    + """\
    request_timeout: 10s
    dependencies:
      db:
        timeouts: {connect: 12s, query: 10s}
    startup: [db.connect]
"""
)


def test_dependency_equal_to_request_timeout_is_broken(run: Run, repo: Path) -> None:
    use_profiles(repo, DEPENDENCY)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    query = at(DEPENDENCY, "query: |10s")
    request = at(DEPENDENCY, "request_timeout: |10s")
    assert errors(result.stderr) == [
        f"{query}: error: budget.dependency: profile 'production', service 'api': "
        f"db.query 10.0s ({query}) is not below request_timeout 10s ({request}): "
        "Cloud Run ends the request before this timeout can fire; "
        f"lower db.query by 0.001s to 9.999s, or raise request_timeout to 11s ({request})"
    ]


def test_dependency_one_ms_below_request_timeout_passes(run: Run, repo: Path) -> None:
    use_profiles(repo, DEPENDENCY.replace("query: 10s", "query: 9.999s"))
    assert run("validate", "--root", repo).exit_code == 0
    [query] = results(repo, "budget.dependency")
    assert (query.subject, query.status, query.used_ms, query.limit_ms) == (
        "db.query",
        "ok",
        9999,
        10000,
    )
    assert query.strict and query.margin_ms == 1


def test_dependency_hint_request_timeout_rounds_up_to_whole_seconds(run: Run, repo: Path) -> None:
    use_profiles(repo, DEPENDENCY.replace("query: 10s", "query: 10.2s"))
    assert "or raise request_timeout to 11s" in run("validate", "--root", repo).stderr
    raised = DEPENDENCY.replace("request_timeout: 10s", "request_timeout: 11s")
    use_profiles(repo, raised.replace("query: 10s", "query: 10.2s"))
    assert run("validate", "--root", repo).exit_code == 0


def test_startup_chain_timeouts_are_not_bound_by_request_timeout(repo: Path) -> None:
    use_profiles(repo, DEPENDENCY)
    assert [r.subject for r in results(repo, "budget.dependency")] == ["db.query"]


# --- budget.request-path ---------------------------------------------------------------

PATH = (
    HEAD
    + """\
    request_timeout: 10s
    dependencies:
      db:
        timeouts: {connect: 1s, query: 1ms}
      auth:
        timeouts: {request: 3s}
        retries: 2
        backoff: 500ms
    startup: [db.connect]
    request_paths:
      read: [auth.request]
"""
)


def test_request_path_exactly_at_request_timeout_passes(run: Run, repo: Path) -> None:
    use_profiles(repo, PATH)
    assert run("validate", "--root", repo).exit_code == 0
    [read] = results(repo, "budget.request-path")
    assert (read.subject, read.status, read.used_ms, read.limit_ms, read.margin_ms) == (
        "request path read",
        "ok",
        10_000,
        10_000,
        0,
    )
    assert read.terms == (
        f"auth.request 3 x 3.0s ({at(PATH, 'request: |3s')})",
        f"auth backoff 1 0.5s ({at(PATH, 'backoff: |500ms')})",
        f"auth backoff 2 0.5s ({at(PATH, 'backoff: |500ms')})",
    )


def test_request_path_one_ms_over_names_every_term(run: Run, repo: Path) -> None:
    base = PATH.replace("read: [auth.request]", "read: [auth.request, db.query]")
    use_profiles(repo, base)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    [line] = errors(result.stderr)
    assert line.startswith(
        f"{at(base, '|read:')}: error: budget.request-path: profile 'production', "
        "service 'api': request path 'read' may wait 10.001s in the worst case, 0.001s more "
        f"than request_timeout 10s ({at(base, 'request_timeout: |10s')}): "
        f"auth.request 3 x 3.0s ({at(base, 'request: |3s')}) + "
        f"auth backoff 1 0.5s ({at(base, 'backoff: |500ms')}) + "
        f"auth backoff 2 0.5s ({at(base, 'backoff: |500ms')}) + "
        f"db.query 0.001s ({at(base, 'query: |1ms')}); "
    )


RETRIED = (
    HEAD
    + """\
    request_timeout: 30s
    dependencies:
      auth:
        timeouts: {request: 12s}
        retries: 2
        backoff: 200ms
    request_paths:
      chat: [auth.request]
"""
)


def test_request_path_hint_offers_exact_fixes(run: Run, repo: Path) -> None:
    use_profiles(repo, RETRIED)
    [line] = errors(run("validate", "--root", repo).stderr)
    assert "may wait 36.4s in the worst case, 6.4s more than request_timeout 30s" in line
    assert line.endswith(
        f"; lower auth.retries to 1 ({at(RETRIED, 'retries: |2')}), "
        "or lower auth.request by 2.134s to 9.866s, "
        f"or raise request_timeout to 37s ({at(RETRIED, 'request_timeout: |30s')})"
    )


@pytest.mark.parametrize(
    ("old", "new", "exit_code"),
    [
        ("retries: 2", "retries: 1", 0),
        ("request: 12s", "request: 9.866s", 0),
        ("request: 12s", "request: 9.867s", 2),
        ("request_timeout: 30s", "request_timeout: 37s", 0),
        ("request_timeout: 30s", "request_timeout: 36s", 2),
    ],
)
def test_each_suggested_fix_is_enough_and_no_more(
    run: Run, repo: Path, old: str, new: str, exit_code: int
) -> None:
    use_profiles(repo, RETRIED.replace(old, new))
    assert run("validate", "--root", repo).exit_code == exit_code


SCALED = (
    HEAD
    + """\
    request_timeout: 10s
    dependencies:
      work:
        timeouts: {run: 7s, save: 7s}
    request_paths:
      job: [work.run, work.save]
"""
)
STAGING = "extends: base\nenvironment: {timeout_multiplier: 0.7, safety_margin: 1.1}\n"


def test_scaled_hint_names_the_base_to_write(run: Run, repo: Path) -> None:
    use_profiles(repo, SCALED, staging=STAGING)
    [line] = errors(run("validate", "--root", repo).stderr)
    assert "profile 'staging'" in line and "may wait 10.78s" in line
    assert (
        "lower work.run by 0.78s to 4.61s "
        f"(a base of at most 5.987s at x0.77, {at(SCALED, 'run: |7s')})"
    ) in line
    use_profiles(repo, SCALED.replace("run: 7s", "run: 5.987s"), staging=STAGING)
    assert run("validate", "--root", repo).exit_code == 0
    use_profiles(repo, SCALED.replace("run: 7s", "run: 5.988s"), staging=STAGING)
    assert run("validate", "--root", repo).exit_code == 2


@pytest.mark.parametrize(("base", "exit_code"), [("1298ms", 0), ("1299ms", 2)])
def test_rounding_up_decides_the_boundary_exactly(
    run: Run, repo: Path, base: str, exit_code: int
) -> None:
    # 1298 x 0.77 = 999.46 -> 1000 ms; 1299 x 0.77 = 1000.23 -> 1001 ms (two of them vs 2 s)
    text = SCALED.replace("10s", "2s").replace("run: 7s, save: 7s", f"run: {base}, save: 1298ms")
    use_profiles(repo, text, staging=STAGING)
    assert run("validate", "--root", repo).exit_code == exit_code


# --- across environments ---------------------------------------------------------------

NINE = SCALED.replace("run: 7s, save: 7s", "run: 4.5s, save: 4.5s")


def test_margin_that_breaks_only_staging_names_staging(run: Run, repo: Path) -> None:
    use_profiles(
        repo,
        NINE,
        production=PRODUCTION,
        development="extends: base\nenvironment: {timeout_multiplier: 1.1}\n",
        staging="extends: base\nenvironment: {safety_margin: 1.2}\n",
    )
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    [line] = errors(result.stderr)
    assert "budget.request-path: profile 'staging', service 'api'" in line
    assert "may wait 10.8s in the worst case, 0.8s more than request_timeout 10s" in line
    assert "work.run 5.4s" in line and "work.save 5.4s" in line


def test_cap_keeps_one_environment_within_budget_while_another_breaks(run: Run, repo: Path) -> None:
    doubled = "environment: {timeout_multiplier: 2"
    use_profiles(
        repo,
        NINE,
        production=f"extends: base\n{doubled}}}\n",
        staging=f"extends: base\n{doubled}, max_timeout: 5s}}\n",
    )
    result = run("validate", "--root", repo)
    [line] = errors(result.stderr)
    assert "profile 'production'" in line and "may wait 18s in the worst case" in line
    assert [r.status for r in results(repo, "budget.request-path", "staging")] == ["ok"]
    assert results(repo, "budget.request-path", "staging")[0].used_ms == 10_000


@pytest.mark.parametrize(("pin", "exit_code"), [("5s", 0), ("5.001s", 2)])
def test_fixed_pins_are_not_scaled(run: Run, repo: Path, pin: str, exit_code: int) -> None:
    production = f"""\
extends: base
environment: {{timeout_multiplier: 3}}
services:
  api:
    dependencies:
      work:
        timeouts: {{run: {{fixed: {pin}}}, save: {{fixed: 5s}}}}
"""
    use_profiles(repo, NINE, production=production)
    result = run("validate", "--root", repo)
    assert result.exit_code == exit_code
    if exit_code:
        pinned = at(production, "run: {fixed: |", "profiles/production.yaml")
        assert f"lower work.run by 0.001s to 5s (pinned with fixed at {pinned})" in result.stderr


# --- budget.startup-total and budget.startup-probe ---------------------------------------

STARTUP = (
    HEAD.replace("abstract: true\n", "abstract: true\nplatform: {cold_start_buffer: 2s}\n")
    + """\
    request_timeout: 10s
    dependencies:
      db:
        timeouts: {connect: 6s}
      cache:
        timeouts: {connect: 4s}
    startup: [db.connect, cache.connect]
"""
)
CAPPED_TOTAL = "extends: base\nenvironment: {max_total_timeout: 10s}\n"


@pytest.mark.parametrize(("connect", "exit_code"), [("4s", 0), ("4.001s", 2)])
def test_startup_total_boundary(run: Run, repo: Path, connect: str, exit_code: int) -> None:
    base = STARTUP.replace("connect: 4s", f"connect: {connect}")
    use_profiles(repo, base, production=CAPPED_TOTAL)
    result = run("validate", "--root", repo)
    assert result.exit_code == exit_code
    if exit_code:
        cap = at(CAPPED_TOTAL, "max_total_timeout: |10s", "profiles/production.yaml")
        assert errors(result.stderr) == [
            f"{at(base, 'startup: |[')}: error: budget.startup-total: profile 'production', "
            f"service 'api': startup chain 10.001s exceeds max_total_timeout 10s ({cap}) by "
            f"0.001s: db.connect 6.0s ({at(base, 'connect: |6s')}) + "
            f"cache.connect 4.001s ({at(base, 'connect: |4.001s')}); shorten the chain by "
            "0.001s, or raise max_total_timeout to 10.001s"
        ]


@pytest.mark.parametrize(("connect", "exit_code"), [("28s", 0), ("28.001s", 2)])
def test_startup_probe_boundary(run: Run, repo: Path, connect: str, exit_code: int) -> None:
    base = STARTUP.replace("{connect: 6s}", "{connect: 200s}").replace(
        "connect: 4s", f"connect: {connect}"
    )
    use_profiles(repo, base)
    result = run("validate", "--root", repo)
    assert result.exit_code == exit_code
    if exit_code:
        [line] = errors(result.stderr)
        assert "budget.startup-probe: profile 'production', service 'api': startup budget " in line
        assert line.endswith(
            "240.001s exceeds Cloud Run's 240s startup-probe window by 0.001s: "
            f"db.connect 200.0s ({at(base, 'connect: |200s')}) + "
            f"cache.connect 28.001s ({at(base, 'connect: |28.001s')}) + "
            f"cold_start_buffer 2s ({at(base, 'cold_start_buffer: |2s')}) + "
            "boot_time 10s (default); "
            "shorten the startup chain by 0.001s"
        )


# --- budget.callee ---------------------------------------------------------------------

CALLEE = (
    HEAD
    + """\
    request_timeout: 10s
    dependencies:
      users:
        service: users
        timeouts: {get: 3s, list: 4s}
  users:
    image: example.com/users:1
    port: 8081
    health: {startup: /healthz, liveness: /healthz}
    request_timeout: 4s
    dependencies:
      db:
        timeouts: {query: 1s, scan: 3s}
    request_paths:
      lookup: [db.query]
      search: [db.scan]
"""
)


def test_callee_boundaries_pass_with_zero_margin(run: Run, repo: Path) -> None:
    use_profiles(repo, CALLEE)
    assert run("validate", "--root", repo).exit_code == 0
    found = {r.subject: (r.status, r.used_ms, r.limit_ms) for r in results(repo, "budget.callee")}
    assert found == {
        "users.get covers users": ("ok", 3000, 3000),
        "users.get within users request_timeout": ("ok", 3000, 4000),
        "users.list covers users": ("ok", 3000, 4000),
        "users.list within users request_timeout": ("ok", 4000, 4000),
    }


def test_caller_that_gives_up_before_the_callee_path_is_broken(run: Run, repo: Path) -> None:
    base = CALLEE.replace("scan: 3s", "scan: 3.001s")
    use_profiles(repo, base)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"{at(base, 'service: |users')}: error: budget.callee: profile 'production', "
        f"service 'api': users.get 3.0s ({at(base, 'get: |3s')}) gives up 0.001s before users' "
        "request path 'search' can finish (worst case 3.001s: "
        f"db.scan 3.001s ({at(base, 'scan: |3.001s')})); raise users.get by 0.001s to 3.001s, "
        "or shorten users' request path 'search' by 0.001s"
    ]


def test_caller_that_outlasts_the_callee_request_timeout_is_broken(run: Run, repo: Path) -> None:
    base = CALLEE.replace("list: 4s", "list: 4.001s")
    use_profiles(repo, base)
    [line] = errors(run("validate", "--root", repo).stderr)
    users_request = at(base, "request_timeout: |4s")
    assert line == (
        f"{at(base, 'service: |users')}: error: budget.callee: profile 'production', "
        f"service 'api': users.list 4.001s ({at(base, 'list: |4.001s')}) waits 0.001s longer "
        f"than users' request_timeout 4s ({users_request}): Cloud Run ends users' request "
        f"first; lower users.list by 0.001s to 4s, or raise users' request_timeout to 5s "
        f"({users_request})"
    )


def test_callee_hint_raises_max_timeout_when_the_cap_is_in_the_way(run: Run, repo: Path) -> None:
    base = CALLEE.replace("{get: 3s, list: 4s}", "{get: 4s}").replace(
        "search: [db.scan]", "search: [db.query, db.scan]"
    )
    staging = "extends: base\nenvironment: {max_timeout: 2s}\n"
    use_profiles(repo, base, production=PRODUCTION, staging=staging)
    [line] = errors(run("validate", "--root", repo).stderr)
    # production: 1s + 3s = 4s fits users.get 4s; staging caps both sides at 2s: 1s + 2s > 2s
    assert "profile 'staging'" in line and "users.get 2.0s" in line and "worst case 3s" in line
    cap = at(staging, "max_timeout: |2s", "profiles/staging.yaml")
    assert line.endswith(
        f"; raise max_timeout (it caps users.get) to 3s ({cap}), "
        "or shorten users' request path 'search' by 1s"
    )


def test_callee_without_request_paths_is_checked_against_its_request_timeout(
    repo: Path,
) -> None:
    use_profiles(repo, CALLEE.split("    request_paths:")[0])
    assert [r.subject for r in results(repo, "budget.callee")] == [
        "users.get within users request_timeout",
        "users.list within users request_timeout",
    ]


def test_no_service_link_means_no_callee_check(repo: Path) -> None:
    use_profiles(repo, CALLEE.replace("        service: users\n", ""))
    assert results(repo, "budget.callee") == []


# --- allow -----------------------------------------------------------------------------

ALLOWED = RETRIED + '    allow:\n      budget.request-path: "chat streams; the client reconnects"\n'


def test_allowed_rule_is_reported_with_its_reason_not_as_an_error(run: Run, repo: Path) -> None:
    use_profiles(repo, ALLOWED)
    result = run("validate", "--root", repo)
    assert result.exit_code == 0, result.stderr
    [chat] = results(repo, "budget.request-path")
    assert chat.status == "allowed"
    assert chat.reason == "chat streams; the client reconnects"
    assert "may wait 36.4s in the worst case" in chat.message
    assert chat.margin_ms == -6400
    assert check_budgets(resolved(repo)) == []


def test_allow_does_not_hide_other_rules(run: Run, repo: Path) -> None:
    use_profiles(repo, ALLOWED.replace("request: 12s", "request: 31s"))
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    [line] = errors(result.stderr)
    assert "budget.dependency: profile 'production', service 'api': auth.request 31.0s" in line


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('budget.request-path: ""', "'services.api.allow.budget.request-path' must not be empty"),
        ('budget.request-path: "  "', "'services.api.allow.budget.request-path' must not be blank"),
        (
            'budget.request-pth: "streams"',
            "unknown key 'budget.request-pth' in 'services.api.allow'; "
            "did you mean 'budget.request-path'?",
        ),
    ],
)
def test_allow_needs_a_known_rule_and_a_reason(
    run: Run, repo: Path, entry: str, message: str
) -> None:
    base = RETRIED + f"    allow:\n      {entry}\n"
    use_profiles(repo, base)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    [line] = errors(result.stderr)
    assert line.endswith(f": error: {message}")
    assert line.startswith(f"profiles/base.yaml:{base.count(chr(10), 0, base.index(entry)) + 1}:")


# --- names in paths and links ----------------------------------------------------------


def test_unknown_timeout_in_a_request_path_suggests_the_close_one(run: Run, repo: Path) -> None:
    base = RETRIED.replace("chat: [auth.request]", "chat: [auth.requst]")
    use_profiles(repo, base)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"{at(base, '[|auth.requst')}: error: unknown timeout 'auth.requst' "
        "in request path 'chat' of service 'api' in profile 'production'; "
        "did you mean 'auth.request'?"
    ]


def test_unknown_callee_service_suggests_the_close_one(run: Run, repo: Path) -> None:
    base = CALLEE.replace("service: users", "service: user")
    use_profiles(repo, base)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"{at(base, 'service: |user')}: error: unknown service 'user' in profile 'production', "
        "called by service 'api'; did you mean 'users'?"
    ]


def test_json_diagnostics_carry_the_rule_id(run: Run, repo: Path) -> None:
    use_profiles(repo, RETRIED)
    result = run("validate", "--root", repo, "--format", "json")
    assert result.exit_code == 2
    [diagnostic] = json.loads(result.stdout)["diagnostics"]
    assert diagnostic["rule"] == "budget.request-path"
    assert diagnostic["hint"].startswith("lower auth.retries to 1")


# --- the suggested values are exact ----------------------------------------------------


def _timeout(base_ms: int, env: Environment) -> Timeout:
    mark = Mark("profiles/base.yaml", 1, 1)
    ms = scale_ms(base_ms, env.multiplier_value, env.margin_value)
    capped = env.max_timeout_ms is not None and ms > env.max_timeout_ms
    exact = base_ms * env.multiplier_value * env.margin_value
    ms = min(ms, env.max_timeout_ms) if env.max_timeout_ms else ms
    operands = (Operand("base", f"{base_ms}ms", mark),)
    return Timeout("dep", "call", ms, base_ms, False, capped, exact, operands, mark)


def _environment(factor: Fraction) -> Environment:
    return Environment(
        Operand("timeout_multiplier", "1"),
        Operand("safety_margin", "1"),
        factor,
        Fraction(1),
        None,
        None,
        None,
        None,
    )


factors = st.sampled_from(["0.5", "0.7", "0.77", "1", "1.1", "1.2", "1.25", "2", "3"])


@given(st.integers(1, 600_000), factors, st.integers(1, 600_000))
def test_lowering_hint_gives_the_largest_base_that_fits(
    base_ms: int, factor: str, target_ms: int
) -> None:
    env = _environment(Fraction(factor))
    timeout = _timeout(base_ms, env)
    hint = lower_timeout(timeout, env, target_ms)
    if target_ms >= timeout.ms or target_ms / Fraction(factor) < 1:
        assert hint == ""
        return
    match = re.search(r"a base of at most ([0-9.]+s)", hint)
    written = parse_duration_ms(match[1] if match else hint.split(" to ")[1])
    assert scale_ms(written, env.multiplier_value) <= target_ms
    assert scale_ms(written + 1, env.multiplier_value) > target_ms


@given(st.integers(1, 600_000), factors, st.integers(1, 600_000))
def test_raising_hint_gives_the_smallest_base_that_reaches(
    base_ms: int, factor: str, target_ms: int
) -> None:
    env = _environment(Fraction(factor))
    timeout = _timeout(base_ms, env)
    target = max(target_ms, timeout.ms + 1)
    hint = raise_timeout(timeout, env, target)
    match = re.search(r"a base of at least ([0-9.]+s)", hint)
    written = parse_duration_ms(match[1] if match else hint.split(" to ")[1])
    assert scale_ms(written, env.multiplier_value) >= target
    assert written == 1 or scale_ms(written - 1, env.multiplier_value) < target


def test_callee_hint_never_suggests_outlasting_the_callee(run: Run, repo: Path) -> None:
    base = repo / "profiles" / "base.yaml"
    text = base.read_text(encoding="utf-8")
    text = text.replace("timeouts: {connect: 5s, query: 4s}", "timeouts: {connect: 5s, query: 39s}")
    text = text.replace(
        "      login: [redis.command, database.query]\n",
        "      login: [redis.command, database.query]\n"
        "    allow:\n"
        "      budget.request-path: the login form retries\n"
        "      budget.dependency: slow reports run in the background\n",
    )
    base.write_text(text, encoding="utf-8")
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    callee = [line for line in result.stderr.splitlines() if "budget.callee" in line]
    assert callee, result.stderr
    for line in callee:
        assert "gives up" in line
        assert "raise auth.request" not in line  # above auth-service's 30s request_timeout
        assert "shorten auth-service's request path 'login'" in line
