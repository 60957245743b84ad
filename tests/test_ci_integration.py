"""CI: GitHub Actions annotations and the pre-commit hooks (the Action: test_action.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, Run

ANNOTATION = re.compile(
    r"::error file=(?P<file>[^,]+)(?:,line=(?P<line>\d+))?(?:,col=(?P<col>\d+))?"
    r",title=(?P<title>[^:]+)::(?P<message>.*)"
)
GIT = (
    "git",
    "-c",
    "user.name=timeoutc tests",
    "-c",
    "user.email=tests@example.invalid",
    "-c",
    "commit.gpgsign=false",
)


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "profiles" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- annotations ----------------------------------------------------------------------


def test_validate_annotates_the_line_and_column_of_each_error(repo: Path, run: Run) -> None:
    edit(repo, "staging", "safety_margin: 1.1", "safety_margin: 0")
    edit(repo, "staging", "project: netra-staging", "project: netra-staging\n  colour%: red")
    result = run("validate", "--format", "github", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr == ""  # GitHub reads workflow commands from stdout
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    found = [ANNOTATION.fullmatch(line) for line in lines]
    assert all(found)
    margin_line = next(
        number
        for number, text in enumerate((repo / "profiles/staging.yaml").read_text().splitlines(), 1)
        if "safety_margin: 0" in text
    )
    first = found[0]
    assert first is not None
    assert first.group("file", "line", "col", "title") == (
        "profiles/staging.yaml",
        str(margin_line),
        "18",
        "timeoutc",
    )
    assert "safety_margin" in first["message"]
    second = found[1]
    assert second is not None
    assert "colour%25" in second["message"]  # '%' escaped as GitHub requires


def test_a_broken_budget_is_annotated_with_its_rule(repo: Path, run: Run) -> None:
    edit(repo, "staging", "max_total_timeout: 33s", "max_total_timeout: 10s")
    result = run("validate", "--format", "github", "--root", repo)
    assert result.exit_code == 2
    titles = [m["title"] for m in map(ANNOTATION.fullmatch, result.stdout.splitlines()) if m]
    assert "budget.startup-total" in titles


def test_check_annotates_stale_outputs_and_invalid_profiles(repo: Path, run: Run) -> None:
    target = repo / "out/staging/auth-service/timeouts.env"
    target.write_bytes(target.read_bytes() + b"EXTRA=1\n")
    stale = run("check", "--format", "github", "--root", repo)
    assert stale.exit_code == 1
    assert (
        "::error file=out/staging/auth-service/timeouts.env,title=timeoutc::hand-edited: "
        in stale.stdout
    )
    edit(repo, "staging", "safety_margin: 1.1", "safety_margin: 0")
    invalid = run("check", "--format", "github", "--root", repo)
    assert invalid.exit_code == 2
    assert invalid.stdout.startswith("::error file=profiles/staging.yaml,line=")


def test_valid_profiles_print_no_annotations(repo: Path, run: Run) -> None:
    result = run("validate", "--format", "github", "--root", repo)
    assert result.exit_code == 0
    assert "::" not in result.stdout + result.stderr


# --- pre-commit -----------------------------------------------------------------------


def hooks() -> dict[str, dict[str, Any]]:
    data = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    return {hook["id"]: hook for hook in data}


def test_pre_commit_offers_check_and_validate() -> None:
    found = hooks()
    assert set(found) == {"timeoutc-check", "timeoutc-validate"}
    for hook in found.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        assert hook["entry"].startswith("timeoutc ")
        assert {"id", "name", "entry", "language"} <= hook.keys()


@pytest.mark.parametrize(
    ("path", "runs"),
    [
        ("profiles/staging.yaml", True),
        ("schemas/profile.schema.json", True),
        ("templates/service.yaml.j2", True),
        ("compiler/cli/main.py", False),
        ("README.md", False),
        ("docs/profiles/x.yaml", False),
    ],
)
def test_hooks_run_when_their_inputs_change(path: str, runs: bool) -> None:
    for hook in hooks().values():
        assert bool(re.search(hook["files"], path)) is runs
    assert re.search(hooks()["timeoutc-check"]["files"], "out/staging/api/service.yaml")


def test_hook_entries_are_real_commands_that_pass_on_the_shipped_repository(
    repo: Path, run: Run
) -> None:
    for hook in hooks().values():
        args = hook["entry"].split()[1:]
        result = run(*args, "--root", repo)
        assert result.exit_code == 0, (hook["id"], result.stderr)
