"""Every error class of SPEC.md's Profiles section, as `path:line:col: error: message`.

Each case writes profiles/prod.yaml next to an abstract base and runs `timeoutc validate`;
the expected lines are what a user sees on stderr, at the offending key or value.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import REPO, Run, tree_bytes, write_profile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.diagnostics import CompileError
from compiler.pipeline import compile_repository

BASE = """\
abstract: true
platform:
  region: us-central1
services:
  api:
    image: example/api:1
    port: 8080
    request_timeout: 60s
    health: {startup: /ready, liveness: /live}
    dependencies:
      db:
        timeouts: {connect: 2s, query: 5s}
    startup: [db.connect]
"""

Validate = Callable[..., list[str]]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A config repository with the shipped schema and templates and an abstract base."""
    root = tmp_path / "config"
    for folder in ("schemas", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "profiles").mkdir()
    write_profile(root, "base", BASE)
    return root


@pytest.fixture
def validate(run: Run, root: Path) -> Validate:
    """Write profiles (name=text), run validate, return stderr lines; asserts exit 2."""

    def invoke(**profiles: str) -> list[str]:
        for name, text in profiles.items():
            write_profile(root, name, text)
        result = run("validate", "--root", root)
        assert result.exit_code == 2, result.stderr
        assert "Traceback" not in result.stderr
        return result.stderr.splitlines()

    return invoke


P = "profiles/prod.yaml"


def test_the_base_alone_is_valid(run: Run, root: Path) -> None:
    write_profile(root, "prod", "extends: base\n")
    result = run("validate", "--root", root)
    assert result.exit_code == 0, result.stderr


# extends


def test_unknown_parent_with_did_you_mean(validate: Validate) -> None:
    assert validate(prod="extends: bsae\n") == [
        f"{P}:1:10: error: unknown profile 'bsae' in extends; did you mean 'base'?"
    ]


def test_extends_cycle(validate: Validate) -> None:
    lines = validate(
        prod="extends: stage\n",
        stage="extends: qa\n",
        qa="extends: prod\n",
    )
    # Each profile of the cycle reports it, at the extends that closes the loop.
    assert lines == [
        f"{P}:1:10: error: extends cycle: stage -> qa -> prod -> stage",
        "profiles/qa.yaml:1:10: error: extends cycle: prod -> stage -> qa -> prod",
        "profiles/stage.yaml:1:10: error: extends cycle: qa -> prod -> stage -> qa",
    ]


def test_extends_itself(validate: Validate) -> None:
    assert validate(prod="extends: prod\n") == [f"{P}:1:10: error: extends cycle: prod -> prod"]


# completeness of a concrete profile


def test_concrete_profile_must_be_complete(validate: Validate) -> None:
    lines = validate(prod="services:\n  api:\n    port: 8080\n")
    assert lines == [
        f"{P}:2:3: error: service 'api' has no {key} in concrete profile 'prod'; "
        f"set services.api.{key} in {P} or in a profile it extends"
        for key in ("health.liveness", "health.startup", "image", "request_timeout")
    ]


def test_concrete_profile_without_services(validate: Validate) -> None:
    assert validate(prod="platform:\n  region: us-central1\n") == [
        f"{P}:1:1: error: concrete profile 'prod' has no services; "
        "add services, or mark the profile 'abstract: true'"
    ]


def test_two_services_may_not_share_a_cloud_run_name(validate: Validate) -> None:
    second = BASE.split("services:\n", 1)[1].replace("  api:", "  worker:")
    lines = validate(
        prod="extends: base\nplatform:\n  service_name: shop-{environment}\nservices:\n" + second
    )
    assert lines == [
        f"{P}:5:3: error: services 'api' and 'worker' both become Cloud Run service "
        "'shop-prod' in profile 'prod'; put {service} in platform.service_name"
    ]


def test_bases_may_be_incomplete(run: Run, root: Path) -> None:
    write_profile(root, "partial", "abstract: true\nservices:\n  api:\n    port: 1\n")
    result = run("validate", "--root", root)
    assert result.exit_code == 0, result.stderr


# request_timeout


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5s", "request_timeout '1.5s' must be whole seconds"),
        ("1500ms", "request_timeout '1500ms' must be whole seconds"),
        ("3601s", "request_timeout '3601s' is above Cloud Run's limit of 3600s"),
        ("61m", "request_timeout '61m' is above Cloud Run's limit of 3600s"),
        ("2h", "request_timeout '2h' is above Cloud Run's limit of 3600s"),
        ("0s", "invalid duration '0s': must be greater than zero"),
        ("60", "'services.api.request_timeout' must be a string, not 60; add a unit, e.g. 3s"),
    ],
)
def test_request_timeout_is_whole_seconds_in_cloud_runs_range(
    validate: Validate, value: str, message: str
) -> None:
    text = f"extends: base\nservices:\n  api:\n    request_timeout: {value}\n"
    assert validate(prod=text) == [f"{P}:4:22: error: {message}"]


@pytest.mark.parametrize("value", ["1s", "3600s", "60m", "1h"])
def test_request_timeout_limits_are_inclusive(run: Run, root: Path, value: str) -> None:
    text = (
        f"extends: base\nservices:\n  api:\n    request_timeout: {value}\n"
        "    dependencies:\n      db:\n        timeouts: {connect: 100ms, query: 900ms}\n"
    )
    write_profile(root, "prod", text)
    result = run("validate", "--root", root)
    assert result.exit_code == 0, result.stderr


# durations


def timeout_profile(value: str) -> str:
    return (
        "extends: base\nservices:\n  api:\n    dependencies:\n      db:\n"
        f"        timeouts:\n          query: {value}\n"
    )


DURATION_HINT = "expected a number and a unit (ms, s, m or h), e.g. 250ms, 1.5s, 2m"
QUERY = "'services.api.dependencies.db.timeouts.query'"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("3", f"{QUERY} must be a duration such as 3s, or {{fixed: 3s}}, not 3"),
        ("1.5", f"{QUERY} must be a duration such as 3s, or {{fixed: 3s}}, not 1.5"),
        ('"3"', f"invalid duration '3' for {QUERY}; {DURATION_HINT}"),
        ("3x", f"invalid duration '3x' for {QUERY}; {DURATION_HINT}"),
        ("-1s", f"invalid duration '-1s' for {QUERY}; {DURATION_HINT}"),
        ("0s", "invalid duration '0s': must be greater than zero"),
        ("0.0ms", "invalid duration '0.0ms': must be greater than zero"),
        ("0.5ms", "invalid duration '0.5ms': finer than 1 ms"),
        ("1.0001s", "invalid duration '1.0001s': finer than 1 ms"),
        ("25h", "invalid duration '25h': more than 24h"),
        ("86400001ms", "invalid duration '86400001ms': more than 24h"),
        ('""', f"{QUERY} must not be empty"),
        ("{fixed: 0s}", "invalid duration '0s': must be greater than zero"),
        ("[1s]", f"{QUERY} must be a duration such as 3s, or {{fixed: 3s}}, not a list"),
        (
            "",
            f"{QUERY} must be a duration such as 3s, or {{fixed: 3s}}, not null (an empty value)",
        ),
    ],
)
def test_invalid_durations(validate: Validate, value: str, message: str) -> None:
    column = {"{fixed: 0s}": 26, "": 17}.get(value, 18)
    assert validate(prod=timeout_profile(value)) == [f"{P}:7:{column}: error: {message}"]


def test_misspelt_fixed_key(validate: Validate) -> None:
    lines = validate(prod=timeout_profile("{fixd: 1s}"))
    assert f"{P}:7:19: error: unknown key 'fixd' in {QUERY}; did you mean 'fixed'?" in lines


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "max_timeout",
            "5",
            "'environment.max_timeout' must be a string, not 5; add a unit, e.g. 3s",
        ),
        ("max_total_timeout", "0s", "invalid duration '0s': must be greater than zero"),
        (
            "max_timeout",
            "2d",
            f"invalid duration '2d' for 'environment.max_timeout'; {DURATION_HINT}",
        ),
    ],
)
def test_invalid_caps(validate: Validate, key: str, value: str, message: str) -> None:
    lines = validate(prod=f"extends: base\nenvironment:\n  {key}: {value}\n")
    assert lines == [f"{P}:3:{len(key) + 5}: error: {message}"]


def test_invalid_backoff_and_cold_start_buffer(validate: Validate) -> None:
    text = (
        "extends: base\nplatform:\n  cold_start_buffer: 2\n"
        "services:\n  api:\n    dependencies:\n      db:\n        backoff: 0.1ms\n"
    )
    assert validate(prod=text) == [
        f"{P}:3:22: error: 'platform.cold_start_buffer' must be a string, not 2; "
        "add a unit, e.g. 3s",
        f"{P}:8:18: error: invalid duration '0.1ms': finer than 1 ms",
    ]


# factors


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "'environment.timeout_multiplier' must be greater than 0, not 0"),
        ("-1", "'environment.timeout_multiplier' must be greater than 0, not -1"),
        ("0.0", "'environment.timeout_multiplier' must be greater than 0, not 0.0"),
        ("101", "'environment.timeout_multiplier' must be at most 100, not 101"),
        ("100.5", "'environment.timeout_multiplier' must be at most 100, not 100.5"),
        (
            '"0.7"',
            "'environment.timeout_multiplier' must be a number, not '0.7'; "
            "write a plain number without quotes or leading zeros",
        ),
        (
            "0.7x",
            "'environment.timeout_multiplier' must be a number, not '0.7x'; "
            "write a plain number without quotes or leading zeros",
        ),
        (
            ".nan",
            "'environment.timeout_multiplier' must be a number, not '.nan'; "
            "write a plain number without quotes or leading zeros",
        ),
        ("true", "'environment.timeout_multiplier' must be a number, not true"),
    ],
)
def test_invalid_factors(validate: Validate, value: str, message: str) -> None:
    lines = validate(prod=f"extends: base\nenvironment:\n  timeout_multiplier: {value}\n")
    assert lines == [f"{P}:3:23: error: {message}"]


@pytest.mark.parametrize("value", ["100", "0.001", "1e2", "0.000001", "1e-6", "1.23456789012"])
def test_factor_limits_are_inclusive(run: Run, root: Path, value: str) -> None:
    text = (
        f"extends: base\nenvironment:\n  safety_margin: {value}\n"
        "services:\n  api:\n    request_timeout: 3600s\n"
    )
    write_profile(root, "prod", text)
    result = run("validate", "--root", root)
    assert result.exit_code == 0, result.stderr


# names


def test_invalid_service_name(validate: Validate) -> None:
    text = "extends: base\nservices:\n  Api_2:\n    image: x\n"
    assert validate(prod=text) == [
        f"{P}:3:3: error: invalid service name 'Api_2'; expected ^[a-z][a-z0-9-]*$, "
        "e.g. netra-backend"
    ]


def test_rendered_cloud_run_name_must_pass_cloud_runs_rule(validate: Validate) -> None:
    name = "a" * 45  # a valid service name; with "-prod" it is 50 characters
    text = (
        f"extends: base\nservices:\n  {name}:\n    image: x/y:1\n    port: 1\n"
        "    request_timeout: 1s\n    health: {startup: /a, liveness: /b}\n"
    )
    assert validate(prod=text) == [
        f"{P}:3:3: error: Cloud Run service name '{name}-prod' is invalid: at most 49 lowercase "
        "letters, digits and hyphens, starting with a letter and not ending with a hyphen "
        f"(service '{name}', profile 'prod')"
    ]


def test_service_name_template_with_an_unknown_placeholder(validate: Validate) -> None:
    text = "extends: base\nplatform:\n  service_name: '{service}-{env}'\n"
    assert validate(prod=text) == [
        f"{P}:3:17: error: unknown placeholder '{{env}}' in service_name; use {{service}} or "
        "{environment} (service 'api', profile 'prod')"
    ]


@pytest.mark.parametrize(
    ("dependency", "timeout", "line", "column", "message"),
    [
        ("Db-x", "connect", 5, 7, "invalid dependency name 'Db-x'; expected ^[a-z][a-z0-9_]*$"),
        ("db", "Connect", 6, 20, "invalid timeout name 'Connect'; expected ^[a-z][a-z0-9_]*$"),
        ("db", "con-nect", 6, 20, "invalid timeout name 'con-nect'; expected ^[a-z][a-z0-9_]*$"),
        ("2db", "connect", 5, 7, "invalid dependency name '2db'; expected ^[a-z][a-z0-9_]*$"),
    ],
)
def test_invalid_dependency_and_timeout_names(
    validate: Validate, dependency: str, timeout: str, line: int, column: int, message: str
) -> None:
    text = (
        "extends: base\nservices:\n  api:\n    dependencies:\n"
        f"      {dependency}:\n        timeouts: {{{timeout}: 1s}}\n"
    )
    (found,) = validate(prod=text)
    assert found.startswith(f"{P}:{line}:{column}: error: {message}")


def test_names_that_break_the_generated_files(validate: Validate) -> None:
    text = (
        "extends: base\nservices:\n  api:\n    dependencies:\n"
        "      db:\n        timeouts: {class: 2s}\n"
        "      x_google_api:\n        timeouts: {call: 1s}\n"
        "      import:\n        timeouts: {a: 1s}\n"
        "      db__x:\n        timeouts: {a: 1s}\n"
        "      db_x:\n        timeouts: {b: 1s}\n"
    )
    assert validate(prod=text) == [
        f"{P}:6:20: error: timeout name 'class' is a Python keyword; "
        "it becomes an attribute in timeouts.py; choose another name",
        f"{P}:8:20: error: env var X_GOOGLE_API_CALL_TIMEOUT_S of x_google_api.call: names "
        "starting with X_GOOGLE_ are reserved by Cloud Run; rename the dependency",
        f"{P}:9:7: error: dependency name 'import' is a Python keyword; "
        "it becomes an attribute in timeouts.py; choose another name",
        f"{P}:13:7: error: dependency 'db_x' and 'db__x' both become DbXTimeouts in timeouts.py",
    ]


def test_timeout_named_float_would_break_mypy_on_timeouts_py(validate: Validate) -> None:
    # `float: float` followed by `str: float` in a dataclass: mypy --strict rejects the module.
    text = (
        "extends: base\nservices:\n  api:\n    dependencies:\n"
        "      db:\n        timeouts: {float: 2s, str: 1s}\n"
    )
    assert validate(prod=text) == [
        f"{P}:6:20: error: timeout name 'float' would hide the type float in timeouts.py; "
        "choose another name"
    ]


def test_env_var_collisions(validate: Validate) -> None:
    text = (
        "extends: base\nservices:\n  api:\n    dependencies:\n"
        "      db:\n        timeouts: {a_b: 1s}\n"
        "      db_a:\n        timeouts: {b: 1s}\n"
        "      startup:\n        timeouts: {total: 1s}\n"
    )
    assert validate(prod=text) == [
        f"{P}:8:20: error: db_a.b and db.a_b both become env var DB_A_B_TIMEOUT_S; "
        "rename one of them",
        f"{P}:10:20: error: startup.total and the startup total both become env var "
        "STARTUP_TOTAL_TIMEOUT_S; rename one of them",
    ]


def test_startup_chain_and_request_paths_name_pairs_that_exist(validate: Validate) -> None:
    text = (
        "extends: base\nservices:\n  api:\n"
        "    startup: [db.conect, db.query, db.query, cache.get]\n"
        "    request_paths:\n      main: [db.qery]\n"
    )
    assert validate(prod=text) == [
        f"{P}:4:15: error: unknown timeout 'db.conect' in the startup chain; "
        "did you mean 'db.connect'?",
        f"{P}:4:36: error: 'db.query' appears twice in the startup chain",
        f"{P}:4:46: error: unknown timeout 'cache.get' in the startup chain; "
        "name a dependency.timeout pair that exists",
        f"{P}:6:14: error: unknown timeout 'db.qery' in request path 'main'; "
        "did you mean 'db.query'?",
    ]


def test_a_request_may_wait_on_the_same_timeout_twice(run: Run, root: Path) -> None:
    text = (
        "extends: base\nservices:\n  api:\n    request_paths:\n      retry: [db.query, db.query]\n"
    )
    write_profile(root, "prod", text)
    result = run("validate", "--root", root)
    assert result.exit_code == 0, result.stderr


def test_callee_service_must_exist(validate: Validate) -> None:
    text = "extends: base\nservices:\n  api:\n    dependencies:\n      db:\n        service: ap\n"
    assert validate(prod=text) == [
        f"{P}:6:18: error: unknown service 'ap' in profile 'prod'; did you mean 'api'?"
    ]
    assert validate(prod=text.replace("service: ap", "service: api")) == [
        f"{P}:6:18: error: service 'api' cannot call itself"
    ]


# documents, keys, types


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "1:1: error: empty profile; a profile is a YAML mapping"),
        ("# nothing\n", "1:1: error: empty profile; a profile is a YAML mapping"),
        ("- extends\n", "1:1: error: a profile must be a YAML mapping at the top"),
        (
            "extends: base\n---\nabstract: true\n",
            "2:1: error: more than one YAML document in a profile; remove the '---' line",
        ),
        ("extends: base\nextends: base\n", "2:1: error: duplicate key 'extends' (first at line 1)"),
        (
            "extends: !!str base\n",
            "1:10: error: YAML tag 'tag:yaml.org,2002:str' is not allowed in profiles; "
            "write the value without a tag",
        ),
        (
            "extends: base\nenviroment: {}\n",
            "2:1: error: unknown key 'enviroment' in the profile; did you mean 'environment'?",
        ),
        (
            "extends: base\nservices:\n  api:\n    dependancies: {}\n",
            "4:5: error: unknown key 'dependancies' in 'services.api'; "
            "did you mean 'dependencies'?",
        ),
        (
            "extends: base\nplatform:\n  regon: us-central1\n",
            "3:3: error: unknown key 'regon' in 'platform'; did you mean 'region'?",
        ),
        (
            "extends: base\nservices:\n  api:\n    allow: {budget.startup-totl: later}\n",
            "4:13: error: unknown key 'budget.startup-totl' in 'services.api.allow'; "
            "did you mean 'budget.startup-total'?",
        ),
        (
            "extends: base\nabstract: []\n",
            "2:11: error: 'abstract' must be a boolean, not a list",
        ),
        (
            "extends: base\nabstract: no\n",
            "2:11: error: 'abstract' must be a boolean, not 'no'; "
            "YAML 1.2 reads this as a string; write true or false",
        ),
        (
            "extends: base\nservices:\n  api:\n    port: '8080'\n",
            "4:11: error: 'services.api.port' must be an integer, not '8080'; "
            "write a plain number without quotes or leading zeros",
        ),
        (
            "extends: base\nservices:\n  api:\n    port: 0777\n",
            "4:11: error: 'services.api.port' must be an integer, not '0777'; "
            "write a plain number without quotes or leading zeros",
        ),
        (
            "extends: base\nservices:\n  api:\n    port: 70000\n",
            "4:11: error: 'services.api.port' must be at most 65535, not 70000",
        ),
        (
            "extends: base\nplatform:\n  min_instances: -1\n",
            "3:18: error: 'platform.min_instances' must be at least 0, not -1",
        ),
        (
            "extends: base\nservices:\n  api:\n    startup: db.connect\n",
            "4:14: error: 'services.api.startup' must be an array, not 'db.connect'",
        ),
        (
            "extends: base\nservices:\n  api:\n    image: ''\n",
            "4:12: error: 'services.api.image' must not be empty",
        ),
        (
            "extends: base\nservices:\n  api:\n    health: {startup: ''}\n",
            "4:23: error: 'services.api.health.startup' must not be empty",
        ),
        (
            "extends: base\nplatform:\n  cold_start_buffer: ''\n",
            "3:22: error: 'platform.cold_start_buffer' must not be empty",
        ),
        (
            "extends: base\nservices:\n  api:\n    allow: {budget.startup-total: ' '}\n",
            "4:35: error: 'services.api.allow.budget.startup-total' must not be blank",
        ),
    ],
)
def test_document_key_and_type_errors(validate: Validate, text: str, message: str) -> None:
    assert validate(prod=text) == [f"{P}:{message}"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "Prod.yaml",
            "profiles/Prod.yaml: error: invalid environment name 'Prod'; lowercase letters, "
            "digits and '-', starting with a letter, at most 30 characters",
        ),
        ("prod.yml", "profiles/prod.yml: error: profiles end in .yaml; rename it prod.yaml"),
        (
            "a" * 31 + ".yaml",
            f"profiles/{'a' * 31}.yaml: error: invalid environment name '{'a' * 31}'; lowercase "
            "letters, digits and '-', starting with a letter, at most 30 characters",
        ),
    ],
)
def test_profile_file_names(run: Run, root: Path, name: str, message: str) -> None:
    (root / "profiles" / name).write_text("extends: base\n")
    result = run("validate", "--root", root)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message]


# arithmetic limits


def test_fixed_value_above_max_timeout(validate: Validate) -> None:
    text = (
        "extends: base\nenvironment:\n  max_timeout: 5s\nservices:\n  api:\n"
        "    dependencies:\n      db:\n        timeouts: {connect: {fixed: 10s}, query: 1m}\n"
    )
    assert validate(prod=text) == [
        f"{P}:8:37: error: fixed timeout db.connect 10s is above max_timeout 5s ({P}:3:16) "
        "of profile 'prod'; lower the pin or raise max_timeout"
    ]


def test_startup_total_above_max_total_timeout_names_each_phase(validate: Validate) -> None:
    text = (
        "extends: base\nenvironment:\n  timeout_multiplier: 1.5\n  max_total_timeout: 3s\n"
        "services:\n  api:\n    startup: [db.connect, db.query]\n"
    )
    assert validate(prod=text) == [
        f"{P}:7:14: error: budget.startup-total: profile 'prod', service 'api': startup chain "
        f"10.5s exceeds max_total_timeout 3s ({P}:4:22) by 7.5s: "
        "db.connect 3.0s (profiles/base.yaml:12:29) + db.query 7.5s (profiles/base.yaml:12:40); "
        "shorten the chain by 7.5s, or raise max_total_timeout to 10.5s"
    ]


# all errors of all profiles in one run


def test_all_errors_of_all_profiles_in_one_run(validate: Validate, root: Path) -> None:
    lines = validate(
        prod="extends: base\nplatform:\n  regon: x\nenvironment:\n  safety_margn: 2\n",
        stage="extends: base\nservices:\n  api:\n    startup: [db.conect]\n",
        qa="extends: bsae\n",
        dev="extends: base\nenvironment:\n  max_total_timeout: 1s\n",
    )
    assert lines == [
        "profiles/base.yaml:13:14: error: budget.startup-total: profile 'dev', service 'api': "
        "startup chain 2s exceeds max_total_timeout 1s (profiles/dev.yaml:3:22) by 1s: "
        "db.connect 2.0s (profiles/base.yaml:12:29); shorten the chain by 1s, "
        "or raise max_total_timeout to 2s",
        f"{P}:3:3: error: unknown key 'regon' in 'platform'; did you mean 'region'?",
        f"{P}:5:3: error: unknown key 'safety_margn' in 'environment'; "
        "did you mean 'safety_margin'?",
        "profiles/qa.yaml:1:10: error: unknown profile 'bsae' in extends; did you mean 'base'?",
        "profiles/stage.yaml:4:15: error: unknown timeout 'db.conect' in the startup chain; "
        "did you mean 'db.connect'?",
    ]


def test_a_broken_base_hides_only_its_children(validate: Validate, root: Path) -> None:
    lines = validate(
        base=BASE + "typo: 1\n",
        prod="extends: base\n",
        solo="services:\n  api:\n    image: x/y:1\n",
    )
    assert lines[0] == "profiles/base.yaml:14:1: error: unknown key 'typo' in the profile"
    assert [line.split(":")[0] for line in lines[1:]] == ["profiles/solo.yaml"] * 4


def test_errors_touch_nothing(run: Run, root: Path) -> None:
    write_profile(root, "prod", "extends: base\n")
    assert run("build", "--root", root).exit_code == 0
    before = tree_bytes(root / "out")
    write_profile(root, "prod", "extends: base\nenvironment: {max_timeout: 1}\n")
    assert run("build", "--root", root).exit_code == 2
    assert tree_bytes(root / "out") == before


# no input crashes


VALUES = [
    "",
    '""',
    "0",
    "-1",
    "1.5",
    "1e9",
    "1e-9",
    "null",
    "yes",
    "0777",
    "1:30",
    "-1s",
    "0s",
    "25h",
    "1.0001s",
    "{fixed: 2s}",
    "{fixed: 24h}",
    "{}",
    "[]",
    "[[]]",
    "{a: {b: c}}",
    "true",
    "x",
    "'{service}'",
    "'{x}'",
    "'{'",
    "/",
    "3601s",
    "1h",
    "999ms",
    "241s",
    "db.connect",
    "[db.connect, db.connect]",
    "{chat: [db.query]}",
    "{budget.startup-probe: ok}",
    "api",
    "65536",
    "1001",
    "!!str 1",
    "&a 1",
    "'\\u0000'",
    '"\\t"',
    "9999999999999999999999",
]
SLOTS = [
    "abstract",
    "extends",
    "environment",
    "environment.timeout_multiplier",
    "environment.safety_margin",
    "environment.max_timeout",
    "environment.max_total_timeout",
    "platform",
    "platform.service_name",
    "platform.cold_start_buffer",
    "platform.min_instances",
    "services",
    "services.api",
    "services.api.port",
    "services.api.image",
    "services.api.request_timeout",
    "services.api.health",
    "services.api.health.startup",
    "services.api.startup",
    "services.api.request_paths",
    "services.api.allow",
    "services.api.dependencies",
    "services.api.dependencies.db",
    "services.api.dependencies.db.timeouts",
    "services.api.dependencies.db.timeouts.query",
    "services.api.dependencies.db.retries",
    "services.api.dependencies.db.backoff",
    "services.api.dependencies.db.service",
]


def nested(slot: str, value: str) -> str:
    keys = slot.split(".")
    lines = [f"{'  ' * i}{key}:" for i, key in enumerate(keys)]
    lines[-1] += f" {value}"
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    for folder in ("schemas", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "profiles").mkdir()
    write_profile(root, "base", BASE)
    return root


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(SLOTS), st.sampled_from(VALUES)), max_size=3))
def test_no_value_in_any_place_crashes(fuzz_root: Path, edits: list[tuple[str, str]]) -> None:
    # Into a child of the base, into a profile of its own, and into the base itself.
    prefixes = {"prod": "extends: base\n", "other": "abstract: true\n", "base": BASE}
    for name, prefix in prefixes.items():
        write_profile(fuzz_root, name, prefix)
    for (name, prefix), (slot, value) in zip(prefixes.items(), edits, strict=False):
        write_profile(fuzz_root, name, prefix + nested(slot, value))
    try:
        compile_repository(fuzz_root)
    except CompileError as exc:
        assert exc.diagnostics
        for diagnostic in exc.diagnostics:
            assert diagnostic.mark.path.startswith(("profiles/", "templates/")), diagnostic


def test_a_looser_repository_schema_cannot_let_a_wrong_type_through(run: Run, root: Path) -> None:
    (root / "schemas" / "profile.schema.json").write_text("{}\n", encoding="utf-8")
    write_profile(root, "prod", "extends: base\nplatform:\n  cold_start_buffer: 5\n")
    result = run("validate", "--root", root)
    assert (result.exit_code, result.stderr) == (
        2,
        f"{P}:3:22: error: 'platform.cold_start_buffer' must be a string, not 5; "
        "add a unit, e.g. 3s\n",
    )


def test_a_stricter_repository_schema_adds_its_rules(run: Run, root: Path) -> None:
    path = root / "schemas" / "profile.schema.json"
    schema = path.read_text(encoding="utf-8")
    region = '"pattern": "^[a-z]+-[a-z]+[0-9]+$"'
    assert region in schema
    path.write_text(schema.replace(region, '"pattern": "^europe-[a-z]+[0-9]+$"'), "utf-8")
    write_profile(root, "prod", "extends: base\n")
    result = run("validate", "--root", root)
    assert result.exit_code == 2
    assert "profiles/base.yaml:3:11: error: invalid region 'us-central1'" in result.stderr


def test_a_schema_with_an_unresolvable_ref_is_the_schemas_error(run: Run, root: Path) -> None:
    path = root / "schemas" / "profile.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["platform"] = {"$ref": "https://example.com/nowhere.json"}
    path.write_text(json.dumps(schema), encoding="utf-8")
    write_profile(root, "prod", "extends: base\n")
    result = run("validate", "--root", root)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "schemas/profile.schema.json: error: cannot validate profiles/base.yaml with this "
        "schema: Unresolvable: https://example.com/nowhere.json"
    )


def test_min_instances_may_not_exceed_max_instances(validate: Validate) -> None:
    text = "extends: base\nplatform:\n  min_instances: 3\n  max_instances: 2\n"
    assert validate(prod=text) == [
        f"{P}:3:18: error: min_instances 3 is above max_instances 2 ({P}:4:18); "
        "Cloud Run refuses it"
    ]
