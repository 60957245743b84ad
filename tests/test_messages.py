"""Messages a new user meets first: each says what is wrong, where, and what to do."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Run, write_profile
from golden.cases import prepare

from compiler.diagnostics import plural, possessive

PRODLIKE = "abstract: true\nextends: base\nplatform: {min_instances: 1}\n"


def test_explain_on_an_abstract_profile_suggests_only_profiles_that_extend_it(
    run: Run, repo: Path
) -> None:
    write_profile(repo, "prodlike", PRODLIKE)
    production = repo / "profiles" / "production.yaml"
    production.write_text(production.read_text().replace("extends: base", "extends: prodlike"))
    result = run("explain", "prodlike", "netra-backend", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr == (
        "profiles/prodlike.yaml: error: profile 'prodlike' is abstract: it resolves to "
        "nothing; name an environment that extends it: production\n"
    )
    base = run("explain", "base", "netra-backend", "--root", repo)
    assert "extends it: development, production, staging" in base.stderr


def test_explain_on_an_abstract_profile_nothing_extends(run: Run, repo: Path) -> None:
    write_profile(repo, "prodlike", PRODLIKE)
    result = run("explain", "prodlike", "netra-backend", "--root", repo)
    assert result.exit_code == 2
    assert "is abstract: it resolves to nothing; no environment extends it" in result.stderr
    assert "development" not in result.stderr


def test_root_that_does_not_exist_says_so(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    result = run("validate", "--root", missing)
    assert result.exit_code == 2
    assert f"--root {missing} does not exist" in result.stderr
    assert "has no profiles/" not in result.stderr


def test_root_without_profiles_mentions_timeoutc_init(run: Run, tmp_path: Path) -> None:
    result = run("validate", "--root", tmp_path)
    assert result.exit_code == 2
    assert f"{tmp_path} has no profiles/ folder" in result.stderr
    assert f"run timeoutc init {tmp_path}" in result.stderr


def test_outside_a_repository_mentions_timeoutc_init(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for command in ("build", "check", "validate", "diff"):
        result = run(command)
        assert result.exit_code == 2
        assert "not a config repository; run timeoutc init" in result.stderr, command


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("extends: base\nenvironment:\n\ttimeout_multiplier: 0.7\n", "3:1"),
        ("extends: base\nenvironment:\n  timeout_multiplier: 0.7\n  \tsafety_margin: 1\n", "4:3"),
    ],
)
def test_tab_indentation_hints_indent_with_spaces(
    run: Run, repo: Path, text: str, place: str
) -> None:
    write_profile(repo, "qa", text)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    [line] = result.stderr.splitlines()
    assert line.startswith(f"profiles/qa.yaml:{place}: error: invalid YAML")
    assert line.endswith("; indent with spaces; YAML does not allow tabs")


def test_unrelated_yaml_errors_get_no_tab_hint(run: Run, repo: Path) -> None:
    write_profile(repo, "qa", "extends: base\nplatform: [\n")
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert "tabs" not in result.stderr


@pytest.mark.parametrize("quote", ['"', "'"])
def test_unterminated_quote_is_reported_at_the_opening_quote(
    run: Run, repo: Path, quote: str
) -> None:
    text = f"extends: base\nplatform:\n  project: {quote}netra-qa\n  min_instances: 1\n"
    write_profile(repo, "qa", text)
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr == (
        "profiles/qa.yaml:3:12: error: invalid YAML: unterminated quoted string: this quote "
        "is never closed; close it with the same quote character\n"
    )


def test_decimal_comma_hints_use_a_dot(run: Run, repo: Path) -> None:
    write_profile(repo, "qa", "extends: base\nenvironment:\n  timeout_multiplier: 0,8\n")
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr == (
        "profiles/qa.yaml:3:23: error: 'environment.timeout_multiplier' must be a number, "
        "not '0,8'; use a dot as the decimal separator: 0.8\n"
    )


def test_counts_of_one_are_singular(run: Run, tmp_path: Path) -> None:
    root = prepare("minimal", tmp_path / "repo")
    built = run("build", "--root", root)
    assert built.exit_code == 0, built.stderr
    assert "timeoutc: 4 files from 1 profile: " in built.stderr
    validated = run("validate", "--root", root)
    assert validated.stderr == "timeoutc: 1 profile, 1 service: valid\n"
    assert plural(1, "file") == "1 file" and plural(2, "file") == "2 files"


def test_possessive_of_a_name_ending_in_s() -> None:
    assert possessive("orders") == "orders'"
    assert possessive("auth-service") == "auth-service's"


def test_example_project_id_does_not_leak_into_errors(run: Run, repo: Path) -> None:
    write_profile(repo, "qa", "extends: base\nplatform: {project: My_Project}\n")
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert "invalid gcp project 'My_Project' for 'platform.project'" in result.stderr
    assert "netra" not in result.stderr
