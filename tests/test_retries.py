"""Retries as real systems define them: capped exponential backoff, jitter, amplification.

The arithmetic against a brute-force sum, the worked example of issue and README
(4 x 1000 + (100 + 200 + 250) = 4550 ms) through every output, each validation error with
its message and place, and the rule budget.retry-amplification.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from typing import Final

import pytest
from conftest import REPO, Run, at, copy_repo, errors, load_module, write_profile
from dotenv import dotenv_values
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.diagnostics import Mark
from compiler.durations import format_factor
from compiler.model import Dependency, Timeout
from compiler.pipeline import compile_repository, resolve_one
from compiler.pipeline.load import load_bytes
from compiler.retries import backoff_delays_ms, worst_case_ms
from compiler.review.diff import compare, format_value

# Line and column numbers below are counted in these texts (see `at`).
AUTH = """\
abstract: true
services:
  api:
    image: example.com/api:1
    port: 8080
    request_timeout: 10s
    health: {startup: /healthz, liveness: /healthz}
    dependencies:
      auth:
        timeouts: {request: 1s}
        retries: 3
        backoff: {initial: 100ms, max: 250ms, multiplier: 2}
        jitter: full
      db:
        timeouts: {query: 2s}
    request_paths:
      login: [auth.request, db.query]
"""

CHAIN = """\
abstract: true
services:
  gateway:
    image: example.com/gateway:1
    port: 8080
    request_timeout: 60s
    health: {startup: /healthz, liveness: /healthz}
    dependencies:
      orders:
        service: orders-api
        timeouts: {request: 20s}
        retries: 2
  orders-api:
    image: example.com/orders:1
    port: 8080
    request_timeout: 20s
    health: {startup: /healthz, liveness: /healthz}
    dependencies:
      payments:
        service: payments
        timeouts: {request: 5s}
        retries: 3
  payments:
    image: example.com/payments:1
    port: 8080
    request_timeout: 5s
    health: {startup: /healthz, liveness: /healthz}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = copy_repo(tmp_path / "repo", with_out=False)
    for path in (root / "profiles").iterdir():
        path.unlink()
    return root


def use(root: Path, base: str, production: str = "extends: base\n") -> None:
    write_profile(root, "base", base)
    write_profile(root, "production", production)


# --- the arithmetic ----------------------------------------------------------------------


def brute_force_delays(
    initial_ms: int, multiplier: Fraction, max_ms: int | None, r: int
) -> list[int]:
    """Each delay on its own, straight from the formula, no running product, no shortcut."""
    delays = []
    for n in range(1, r + 1):
        delay = math.ceil(Fraction(initial_ms) * multiplier ** (n - 1))
        delays.append(delay if max_ms is None else min(delay, max_ms))
    return delays


MULTIPLIERS = st.builds(
    lambda whole, tenths, hundredths: (
        Fraction(whole) + Fraction(tenths, 10) + Fraction(hundredths, 100)
    ),
    st.integers(1, 9),
    st.integers(0, 9),
    st.integers(0, 9),
) | st.just(Fraction(10))


@given(
    initial_ms=st.integers(1, 3_600_000),
    multiplier=MULTIPLIERS,
    max_ms=st.none() | st.integers(1, 3_600_000),
    retries=st.integers(0, 100),
    timeout_ms=st.integers(1, 86_400_000),
)
def test_worst_case_equals_a_brute_force_sum_of_the_delays(
    initial_ms: int, multiplier: Fraction, max_ms: int | None, retries: int, timeout_ms: int
) -> None:
    if max_ms is not None and max_ms < initial_ms:
        max_ms, initial_ms = initial_ms, max_ms
    expected = brute_force_delays(initial_ms, multiplier, max_ms, retries)
    delays = backoff_delays_ms(initial_ms, multiplier, max_ms, retries)
    assert list(delays) == expected
    assert worst_case_ms(timeout_ms, delays) == (retries + 1) * timeout_ms + sum(expected)
    dependency = Dependency(
        "auth",
        (),
        retries,
        initial_ms,
        backoff_max_ms=max_ms,
        backoff_multiplier=multiplier,
    )
    assert list(dependency.delays_ms) == expected
    mark = Mark("profiles/base.yaml", 1, 1)
    exact = Fraction(timeout_ms)
    timeout = Timeout(
        "auth", "request", timeout_ms, timeout_ms, True, False, exact, (), mark, delays
    )
    assert timeout.attempts == retries + 1
    assert timeout.worst_ms == (retries + 1) * timeout_ms + sum(expected)


def test_the_worked_example() -> None:
    delays = backoff_delays_ms(100, Fraction(2), 250, 3)
    assert delays == (100, 200, 250)
    assert worst_case_ms(1000, delays) == 4 * 1000 + (100 + 200 + 250) == 4550


def test_a_multiplier_is_exact_and_each_delay_rounds_up() -> None:
    # 0.1 and 1.1 are not binary fractions: floats would give 0.12100000000000002 s
    assert backoff_delays_ms(100, Fraction(11, 10), None, 4) == (100, 110, 121, 134)
    assert backoff_delays_ms(3, Fraction(3, 2), None, 4) == (3, 5, 7, 11)  # 4.5, 6.75, 10.125
    assert backoff_delays_ms(200, Fraction(1), None, 3) == (200, 200, 200)  # a constant backoff


# --- through the pipeline: budgets -------------------------------------------------------


def test_request_path_sums_each_delay_as_a_term_with_its_place(root: Path, run: Run) -> None:
    base = AUTH.replace("request_timeout: 10s", "request_timeout: 6s")
    use(root, base)
    result = run("validate", "--root", root)
    assert result.exit_code == 2
    [line] = errors(result.stderr)
    assert line.startswith(
        f"{at(base, '|login:')}: error: budget.request-path: profile 'production', "
        "service 'api': request path 'login' may wait 6.55s in the worst case, 0.55s more than "
        f"request_timeout 6s ({at(base, 'request_timeout: |6s')}): "
        f"auth.request 4 x 1.0s ({at(base, 'request: |1s')}) + "
        f"auth backoff 1 0.1s ({at(base, 'initial: |100ms')}) + "
        f"auth backoff 2 0.2s ({at(base, 'initial: |100ms')}) + "
        f"auth backoff 3 0.25s ({at(base, 'max: |250ms')}) + "
        f"db.query 2.0s ({at(base, 'query: |2s')}); "
    )
    assert f"lower auth.retries to 2 ({at(base, 'retries: |3')})" in line


@pytest.mark.parametrize(
    ("request_timeout", "retries", "exit_code"),
    [
        ("7s", 3, 0),  # 4 x 1 + 0.1 + 0.2 + 0.25 + 2 = 6.55 s
        ("6s", 3, 2),
        ("6s", 2, 0),  # 3 x 1 + 0.1 + 0.2 + 2 = 5.3 s
    ],
)
def test_the_worst_case_is_exactly_what_fits(
    root: Path, run: Run, request_timeout: str, retries: int, exit_code: int
) -> None:
    base = AUTH.replace("request_timeout: 10s", f"request_timeout: {request_timeout}")
    use(root, base.replace("retries: 3", f"retries: {retries}"))
    assert run("validate", "--root", root).exit_code == exit_code


# --- through the pipeline: outputs -------------------------------------------------------


def test_retries_reach_every_output(root: Path, run: Run) -> None:
    use(root, AUTH)
    assert run("build", "--root", root).exit_code == 0
    folder = root / "out/production/api"
    env = dotenv_values(folder / "timeouts.env")
    expected = {
        "AUTH_RETRIES": "3",
        "AUTH_BACKOFF_INITIAL_S": "0.1",
        "AUTH_BACKOFF_MAX_S": "0.25",
        "AUTH_BACKOFF_MULTIPLIER": "2",
        "AUTH_BACKOFF_JITTER": "full",
    }
    assert {
        k: v for k, v in env.items() if k.startswith("AUTH_") and "TIMEOUT" not in k
    } == expected
    assert not any(name.startswith("DB_") and "TIMEOUT" not in name for name in env)
    env_yaml = (folder / "env.yaml").read_text()
    for name, value in expected.items():
        assert f'{name}: "{value}"\n' in env_yaml
    module = load_module(folder / "timeouts.py")
    assert module.AUTH_RETRIES == 3 and type(module.AUTH_RETRIES) is int
    assert module.AUTH_BACKOFF_MULTIPLIER == 2.0 and type(module.AUTH_BACKOFF_MULTIPLIER) is float
    assert module.AUTH_BACKOFF_JITTER == "full"
    assert module.__annotations__["AUTH_RETRIES"] == Final[int]
    assert module.__annotations__["AUTH_BACKOFF_JITTER"] == Final[str]
    auth = module.RETRIES.auth
    assert auth.attempts == 4
    assert (auth.backoff_initial_s, auth.backoff_max_s, auth.backoff_multiplier) == (0.1, 0.25, 2.0)
    assert auth.jitter == "full"
    assert auth.delays_s == (0.1, 0.2, 0.25)
    assert not hasattr(module.RETRIES, "db")
    login = module.REQUEST_PATHS["login"]
    assert login.steps == ("auth.request", "db.query")
    assert login.deadline_s == 6.55  # 4.55 + 2
    with pytest.raises(TypeError):
        module.REQUEST_PATHS["login"] = login
    with pytest.raises(AttributeError):
        auth.attempts = 5


def test_a_constant_backoff_is_multiplier_1_without_max(root: Path, run: Run) -> None:
    base = AUTH.replace("backoff: {initial: 100ms, max: 250ms, multiplier: 2}", "backoff: 200ms")
    use(root, base.replace("        jitter: full\n", "        jitter: none\n"))
    assert run("build", "--root", root).exit_code == 0
    env = dotenv_values(root / "out/production/api/timeouts.env")
    assert "AUTH_BACKOFF_MAX_S" not in env
    assert (env["AUTH_BACKOFF_INITIAL_S"], env["AUTH_BACKOFF_MULTIPLIER"]) == ("0.2", "1")
    assert env["AUTH_BACKOFF_JITTER"] == "none"
    module = load_module(root / "out/production/api/timeouts.py")
    assert module.RETRIES.auth.backoff_max_s is None
    assert module.RETRIES.auth.delays_s == (0.2, 0.2, 0.2)
    assert module.REQUEST_PATHS["login"].deadline_s == 6.6


def test_the_multiplier_keeps_its_decimal_text(root: Path, run: Run) -> None:
    use(root, AUTH.replace("multiplier: 2}", "multiplier: 1.50}").replace("max: 250ms, ", ""))
    assert run("build", "--root", root).exit_code == 0
    env = dotenv_values(root / "out/production/api/timeouts.env")
    assert env["AUTH_BACKOFF_MULTIPLIER"] == "1.5"
    module = load_module(root / "out/production/api/timeouts.py")
    assert module.RETRIES.auth.delays_s == (0.1, 0.15, 0.225)


def test_a_mapping_without_multiplier_doubles(root: Path, run: Run) -> None:
    use(root, AUTH.replace(", multiplier: 2}", "}"))
    compilation = compile_repository(root)
    [api] = compilation.profiles[0].services
    assert api.dependencies_by_name["auth"].delays_ms == (100, 200, 250)
    assert b"AUTH_BACKOFF_MULTIPLIER=2\n" in compilation.outputs["out/production/api/timeouts.env"]


def test_a_reserved_retry_variable_is_an_error_at_retries(root: Path, run: Run) -> None:
    base = AUTH.replace("      db:\n", "      x_google_cache:\n        retries: 1\n      db:\n")
    use(root, base)
    result = run("validate", "--root", root)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"{at(base, '|retries: 1')}: error: env var X_GOOGLE_CACHE_RETRIES of "
        "x_google_cache.retries: names starting with X_GOOGLE_ are reserved by Cloud Run; "
        "rename the dependency"
    ]


# --- validation: every bad policy at its place -------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            "multiplier: 2",
            "multiplier: 0.5",
            "multiplier: |0.5",
            "'services.api.dependencies.auth.backoff.multiplier' must be at least 1, not 0.5",
        ),
        (
            "multiplier: 2",
            "multiplier: 11",
            "multiplier: |11",
            "'services.api.dependencies.auth.backoff.multiplier' must be at most 10, not 11",
        ),
        (
            "multiplier: 2",
            "multiplier: 1.000000000001",
            "multiplier: |1.000000000001",
            "invalid factor '1.000000000001': more than 12 significant digits",
        ),
        (
            "max: 250ms",
            "max: 50ms",
            "max: |50ms",
            "backoff max 50ms is below initial 100ms (profiles/base.yaml:12:28); "
            "raise max to at least 100ms, or remove it for no cap",
        ),
        (
            "initial: 100ms",
            "initial: 0ms",
            "initial: |0ms",
            "invalid duration '0ms': must be greater than zero",
        ),
        ("max: 250ms", "max: 0s", "max: |0s", "invalid duration '0s': must be greater than zero"),
        ("max: 250ms", "max: 61m", "max: |61m", "backoff '61m' is more than 1h"),
        ("initial: 100ms", "initial: 2h", "initial: |2h", "backoff '2h' is more than 1h"),
        (
            "jitter: full",
            "jitter: half",
            "jitter: |half",
            "'services.api.dependencies.auth.jitter' must be one of full, none, not 'half'",
        ),
        (
            "retries: 3",
            "retries: 101",
            "retries: |101",
            "'services.api.dependencies.auth.retries' must be at most 100, not 101",
        ),
        (
            "{initial: 100ms, max: 250ms, multiplier: 2}",
            "{max: 250ms}",
            "backoff: |{max",
            "'services.api.dependencies.auth.backoff': 'initial' is a required property",
        ),
        (
            "{initial: 100ms, max: 250ms, multiplier: 2}",
            "{initial: 100ms, cap: 1s}",
            "|cap: 1s",
            "unknown key 'cap' in 'services.api.dependencies.auth.backoff'",
        ),
        (
            "backoff: {initial: 100ms, max: 250ms, multiplier: 2}",
            "backoff: 2",
            "backoff: |2",
            "'services.api.dependencies.auth.backoff' must be a duration such as 200ms, "
            "or {initial: 100ms, max: 1s}, not 2",
        ),
    ],
)
def test_each_bad_policy_is_a_located_error(
    root: Path, run: Run, old: str, new: str, needle: str, message: str
) -> None:
    base = AUTH.replace(old, new)
    use(root, base)
    result = run("validate", "--root", root)
    assert result.exit_code == 2, result.stderr
    assert errors(result.stderr) == [f"{at(base, needle)}: error: {message}"]


def test_a_jitter_typo_gets_a_suggestion(root: Path, run: Run) -> None:
    use(root, AUTH.replace("jitter: full", "jitter: ful"))
    [line] = errors(run("validate", "--root", root).stderr)
    assert line.endswith("not 'ful'; did you mean 'full'?")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "'environment.max_retry_amplification' must be at least 1, not 0"),
        ("2.5", "'environment.max_retry_amplification' must be an integer, not 2.5"),
        ("1000001", "'environment.max_retry_amplification' must be at most 1000000, not 1000001"),
    ],
)
def test_max_retry_amplification_is_a_positive_integer(
    root: Path, run: Run, value: str, message: str
) -> None:
    production = f"extends: base\nenvironment:\n  max_retry_amplification: {value}\n"
    use(root, CHAIN, production)
    result = run("validate", "--root", root)
    assert errors(result.stderr) == [f"profiles/production.yaml:3:28: error: {message}"]


# --- budget.retry-amplification -----------------------------------------------------------


def test_attempts_multiply_along_a_chain(root: Path, run: Run) -> None:
    use(root, CHAIN)
    result = run("validate", "--root", root)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"{at(CHAIN, 'service: |orders-api')}: error: budget.retry-amplification: "
        "profile 'production', service 'gateway': "
        f"gateway -> orders-api (3 attempts, {at(CHAIN, 'retries: |2')}) -> "
        f"payments (4 attempts, {at(CHAIN, 'retries: |3')}) = 12 > 10; "
        "retry at one layer only: "
        f"lower gateway's orders.retries to 1 ({at(CHAIN, 'retries: |2')}), "
        f"or lower orders-api's payments.retries to 2 ({at(CHAIN, 'retries: |3')}), "
        "or set environment.max_retry_amplification: 12 in profiles/production.yaml"
    ]


def test_the_readme_shows_this_error(root: Path, run: Run) -> None:
    use(root, CHAIN)
    [line] = errors(run("validate", "--root", root).stderr)
    assert line in (REPO / "README.md").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("old", "new", "production", "exit_code"),
    [
        ("retries: 2", "retries: 1", "", 0),  # 2 x 4 = 8
        ("retries: 3", "retries: 2", "", 0),  # 3 x 3 = 9
        ("", "", "environment: {max_retry_amplification: 12}\n", 0),
        ("", "", "environment: {max_retry_amplification: 11}\n", 2),
        ("retries: 3", "retries: 4", "environment: {max_retry_amplification: 12}\n", 2),
    ],
)
def test_each_suggested_fix_is_enough(
    root: Path, run: Run, old: str, new: str, production: str, exit_code: int
) -> None:
    use(root, CHAIN.replace(old, new) if old else CHAIN, "extends: base\n" + production)
    assert run("validate", "--root", root).exit_code == exit_code


def test_a_set_limit_is_named_with_its_place(root: Path, run: Run) -> None:
    use(root, CHAIN, "extends: base\nenvironment:\n  max_retry_amplification: 11\n")
    [line] = errors(run("validate", "--root", root).stderr)
    assert "= 12 > 11;" in line
    assert line.endswith("or raise max_retry_amplification to 12 (profiles/production.yaml:3:28)")


def test_allow_switches_it_off_for_one_service(root: Path, run: Run) -> None:
    allow = '    allow:\n      budget.retry-amplification: "payments are idempotent"\n'
    base = CHAIN.replace("  orders-api:\n", allow + "  orders-api:\n")
    use(root, base)
    assert run("validate", "--root", root).exit_code == 0
    explained = run("explain", "production", "gateway", "--root", root)
    assert explained.exit_code == 0
    assert (
        "  allowed budget.retry-amplification (chain via orders): 12 of 10 attempts, margin -2"
        in explained.stdout
    )


def test_a_service_without_links_has_no_chain_and_hops_without_retries_count_once(
    root: Path, run: Run
) -> None:
    base = CHAIN.replace("        retries: 3\n", "")
    use(root, base)
    assert run("validate", "--root", root).exit_code == 0
    explained = run("explain", "production", "gateway", "--root", root).stdout
    assert (
        f"  gateway -> orders-api (3 attempts, {at(base, 'retries: |2')}) -> "
        f"payments (1 attempt, {at(base, 'service: |payments')}) = 3 <= 10"
    ) in explained
    payments = run("explain", "production", "payments", "--root", root).stdout
    assert "retry amplification" not in payments


def test_the_chain_of_most_attempts_is_the_one_checked(root: Path, run: Run) -> None:
    base = CHAIN.replace(
        "        retries: 3\n  payments:\n",
        "        retries: 3\n      ledger:\n        service: ledger\n"
        "        timeouts: {request: 5s}\n        retries: 4\n  payments:\n",
    ) + (
        "  ledger:\n    image: example.com/ledger:1\n    port: 8080\n    request_timeout: 5s\n"
        "    health: {startup: /healthz, liveness: /healthz}\n"
    )
    use(root, base, "extends: base\nenvironment: {max_retry_amplification: 100}\n")
    assert run("validate", "--root", root).exit_code == 0
    doc = json.loads(
        run("explain", "production", "gateway", "--root", root, "--format", "json").stdout
    )
    [chain] = doc["amplification"]["chains"]
    assert chain["product"] == 15
    assert [hop["callee"] for hop in chain["hops"]] == ["orders-api", "ledger"]


def test_a_cycle_of_links_is_an_error_that_names_it(root: Path, run: Run) -> None:
    back = (
        "    dependencies:\n      gateway:\n        service: gateway\n"
        "        timeouts: {request: 1s}\n"
    )
    base = CHAIN + back
    use(root, base, "extends: base\nenvironment: {max_retry_amplification: 100}\n")
    result = run("validate", "--root", root)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"{at(base, 'service: |orders-api')}: error: budget.retry-amplification: "
        "profile 'production': service: links form a cycle: "
        f"gateway -> orders-api (3 attempts, {at(base, 'retries: |2')}) -> "
        f"payments (4 attempts, {at(base, 'retries: |3')}) -> "
        f"gateway (1 attempt, {at(base, 'service: |gateway')}); "
        "a request could go round it without end, its attempts multiplying each time; "
        "remove one of these links"
    ]


def test_a_long_chain_does_not_overflow_the_stack(root: Path, run: Run) -> None:
    services = ["abstract: true\nservices:\n"]
    for i in range(1500):
        services.append(
            f"  s{i}:\n    image: example.com/s:1\n    port: 8080\n    request_timeout: 60s\n"
            "    health: {startup: /healthz, liveness: /healthz}\n"
        )
        if i < 1499:
            services.append(
                f"    dependencies:\n      next:\n        service: s{i + 1}\n"
                "        timeouts: {request: 1s}\n"
            )
    use(root, "".join(services))
    assert run("validate", "--root", root).exit_code == 0


def test_the_readme_request_path_example_is_what_the_tool_prints(tmp_path: Path, run: Run) -> None:
    root = copy_repo(tmp_path / "shipped", with_out=False)
    base = root / "profiles" / "base.yaml"
    text = base.read_text(encoding="utf-8")
    base.write_text(text.replace("request_timeout: 300s ", "request_timeout: 90s "), "utf-8")
    lines = errors(run("validate", "--root", root).stderr)
    [production] = [line for line in lines if "profile 'production'" in line]
    assert " + auth backoff 1 0.2s (" in production
    assert production in (REPO / "README.md").read_text(encoding="utf-8").splitlines()


# --- review: explain and diff --------------------------------------------------------------


def test_explain_shows_each_delay_the_worst_case_and_the_chains(root: Path, run: Run) -> None:
    use(root, AUTH)
    result = run("explain", "production", "api", "auth.request", "--root", root)
    assert result.exit_code == 0, result.stderr
    lines = [line.rstrip() for line in result.stdout.splitlines()]
    start = lines.index("retries")
    assert lines[start + 1 : start + 9] == [
        f"  auth: 3 retries, 4 attempts   {at(AUTH, 'retries: |3')}",
        f"    backoff initial 100 ms {at(AUTH, 'initial: |100ms')}, "
        f"multiplier 2 {at(AUTH, 'multiplier: |2')}, max 250 ms {at(AUTH, 'max: |250ms')}",
        f"    jitter full {at(AUTH, 'jitter: |full')} (the worst case is the same)",
        f"    retry 1 waits 0.1s      100 ms x 2^0 = 100 ms   {at(AUTH, 'initial: |100ms')}",
        f"    retry 2 waits 0.2s      100 ms x 2^1 = 200 ms   {at(AUTH, 'initial: |100ms')}",
        "    retry 3 waits 0.25s     100 ms x 2^2 = 400 ms, capped at max 250 ms   "
        f"{at(AUTH, 'max: |250ms')}",
        "    worst case auth.request = 4 x 1000 ms + (100 + 200 + 250) ms = 4550 ms = 4.55s",
        "",
    ]
    doc = json.loads(run("explain", "production", "api", "--root", root, "--format", "json").stdout)
    [auth] = doc["retries"]
    assert [d["ms"] for d in auth["delays"]] == [100, 200, 250]
    assert auth["worst_cases"] == [
        {
            "timeout": "auth.request",
            "ms": 4550,
            "text": "4 x 1000 ms + (100 + 200 + 250) ms = 4550 ms",
        }
    ]
    assert doc["amplification"]["chains"] == []


def test_explain_rounds_each_delay_up_and_shows_it(root: Path, run: Run) -> None:
    use(
        root,
        AUTH.replace("initial: 100ms, max: 250ms, multiplier: 2", "initial: 3ms, multiplier: 1.5"),
    )
    text = run("explain", "production", "api", "auth.request", "--root", root).stdout
    assert "    retry 3 waits 0.007s    3 ms x 1.5^2 = 6.75 ms -> 7 ms" in text
    assert "no max" in text


def test_explain_lists_chains_and_their_products(root: Path, run: Run) -> None:
    use(root, CHAIN, "extends: base\nenvironment:\n  max_retry_amplification: 12\n")
    result = run("explain", "production", "gateway", "--root", root)
    assert result.exit_code == 0
    assert (
        "retry amplification (max_retry_amplification 12 profiles/production.yaml:3:28)\n"
        f"  gateway -> orders-api (3 attempts, {at(CHAIN, 'retries: |2')}) -> "
        f"payments (4 attempts, {at(CHAIN, 'retries: |3')}) = 12 <= 12\n"
    ) in result.stdout
    assert (
        "  ok      budget.retry-amplification (chain via orders): 12 of 12 attempts, margin 0"
        in result.stdout
    )
    doc = json.loads(
        run("explain", "production", "gateway", "--root", root, "--format", "json").stdout
    )
    [rule] = [r for r in doc["budgets"]["rules"] if r["rule"] == "budget.retry-amplification"]
    assert (rule["used"], rule["limit"], rule["margin"], rule["unit"]) == (12, 12, 0, "attempts")


def test_diff_reports_retries_backoff_and_amplification(tmp_path: Path) -> None:
    before_root = copy_repo(tmp_path / "before", with_out=False)
    after_root = copy_repo(tmp_path / "after", with_out=False)
    for folder in (before_root, after_root):
        for path in (folder / "profiles").iterdir():
            path.unlink()
    use(before_root, CHAIN, "extends: base\nenvironment: {max_retry_amplification: 20}\n")
    changed = CHAIN.replace(
        "        retries: 3\n",
        "        retries: 4\n        backoff: {initial: 50ms, max: 1s}\n        jitter: none\n",
    )
    use(after_root, changed, "extends: base\nenvironment: {max_retry_amplification: 20}\n")
    before = compile_repository(before_root, render=False).profiles
    after = compile_repository(after_root, render=False).profiles
    rows = {
        (c.service, c.item): (format_value(c.before, c.unit), format_value(c.after, c.unit))
        for c in compare(before, after).changes
    }
    assert rows[("orders-api", "payments retries")] == ("3", "4")
    assert rows[("orders-api", "payments backoff")] == ("0.0s", "0.05s")
    assert rows[("orders-api", "payments backoff max")] == ("unset", "1.0s")
    assert rows[("orders-api", "payments backoff multiplier")] == ("1", "2")
    assert rows[("orders-api", "payments jitter")] == ("full", "none")
    assert rows[("orders-api", "payments backoff delays total")] == ("0.0s", "0.75s")
    assert rows[("orders-api", "payments retry amplification")] == ("4", "5")
    assert rows[("gateway", "orders retry amplification")] == ("12", "15")
    assert rows[("gateway", "budget.retry-amplification margin (chain via orders)")] == ("8", "5")


def test_a_request_path_name_fits_a_line_of_timeouts_py(root: Path, run: Run) -> None:
    name = "p" * 65
    base = AUTH.replace("      login:", f"      {name}:")
    use(root, base)
    assert errors(run("validate", "--root", root).stderr) == [
        f"{at(base, '|' + name)}: error: request path name '{name}' is longer than 64 characters"
    ]
    use(root, AUTH.replace("      login:", f"      {name[:64]}:"))
    assert run("build", "--root", root).exit_code == 0
    module = (root / "out/production/api/timeouts.py").read_text(encoding="utf-8")
    assert max(len(line) for line in module.splitlines()) <= 100


def test_the_largest_policy_builds_and_its_module_passes_ruff(root: Path, run: Run) -> None:
    """100 retries from 1h, x10 each, uncapped: the last wait is 3.6e102 s, exactly."""
    base = AUTH.replace("retries: 3", "retries: 100").replace(
        "{initial: 100ms, max: 250ms, multiplier: 2}", "{initial: 1h, multiplier: 10}"
    )
    use(root, base.replace("      login: [auth.request, db.query]\n", "      login: [db.query]\n"))
    assert run("build", "--root", root).exit_code == 0
    path = root / "out/production/api/timeouts.py"
    ruff = Path(sys.executable).parent / "ruff"
    options = ["--isolated", "--no-cache", "--select", "E,F,W", "--line-length", "100"]
    result = subprocess.run(
        [ruff, "check", *options, path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    delays = load_module(path).RETRIES.auth.delays_s
    assert len(delays) == 100
    assert delays[0] == 3600.0 and delays[-1] == float(3600 * 10**99)


@pytest.mark.parametrize(
    ("old", "new", "what"),
    [
        ("attempts={{ dependency.attempts }}", "attempts={{ dependency.retries }}", "RETRIES"),
        ("            {{ delay }},\n", "            0.1,\n", "RETRIES"),
        (
            "deadline_s={{ service.request_path_deadlines_s[name] }}",
            "deadline_s=1.0",
            "REQUEST_PATHS",
        ),
    ],
)
def test_a_template_that_gets_retries_wrong_is_caught_before_writing(
    root: Path, run: Run, old: str, new: str, what: str
) -> None:
    use(root, AUTH)
    template = root / "templates" / "timeouts.py.j2"
    text = template.read_text(encoding="utf-8")
    assert old in text
    template.write_text(text.replace(old, new), encoding="utf-8")
    result = run("build", "--root", root)
    assert result.exit_code == 2
    [line] = errors(result.stderr)
    assert line.startswith(
        f"templates/timeouts.py.j2: error: out/production/api/timeouts.py has {what} "
    )
    assert not (root / "out").exists()


POLICY = """\
services:
  api:
    image: example.com/api:1
    port: 8080
    request_timeout: 3600s
    health: {{startup: /healthz, liveness: /healthz}}
    dependencies:
      auth:
        timeouts: {{request: {timeout}ms}}
        retries: {retries}
        backoff: {backoff}
    request_paths:
      login: [auth.request, auth.request]
"""


@settings(max_examples=60, deadline=None)
@given(
    timeout_ms=st.integers(1, 60_000),
    retries=st.integers(0, 100),
    initial_ms=st.integers(1, 3_600_000),
    multiplier=MULTIPLIERS,
    max_ms=st.none() | st.integers(1, 3_600_000),
    constant=st.booleans(),
)
def test_the_pipeline_worst_case_equals_a_brute_force_sum(
    timeout_ms: int,
    retries: int,
    initial_ms: int,
    multiplier: Fraction,
    max_ms: int | None,
    constant: bool,
) -> None:
    if max_ms is not None and max_ms < initial_ms:
        max_ms, initial_ms = initial_ms, max_ms
    if constant:
        backoff, delays = f"{initial_ms}ms", [initial_ms] * retries
    else:
        cap = "" if max_ms is None else f", max: {max_ms}ms"
        backoff = f"{{initial: {initial_ms}ms{cap}, multiplier: {format_factor(multiplier)}}}"
        delays = brute_force_delays(initial_ms, multiplier, max_ms, retries)
    text = POLICY.format(timeout=timeout_ms, retries=retries, backoff=backoff)
    document = load_bytes(text.encode(), "profiles/production.yaml")
    profile, _ = resolve_one("production", {"production": document})
    assert profile is not None
    [api] = profile.services
    once = (retries + 1) * timeout_ms + sum(delays)
    assert api.request_path_worst_ms == {"login": 2 * once}
    assert list(api.dependencies_by_name["auth"].delays_ms) == delays
    if retries and not constant:
        assert api.dependencies_by_name["auth"].backoff_multiplier == multiplier
