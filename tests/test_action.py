"""The GitHub Action (action.yml) and the workflow that uses it (docs/github-actions.yml).

Both are validated with check-jsonschema's vendored GitHub schemas; the Action's steps are
run as GitHub runs them (bash -eo pipefail, inputs and contexts passed through env) on a
repository made by `timeoutc init`. Installing with the Action's own step is in
test_packaging.py, with the other tests that build and install timeoutc.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO

from compiler import __version__

ACTION = REPO / "action.yml"
WORKFLOW = REPO / "docs" / "github-actions.yml"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
GIT = ("git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=0")
BIN = Path(sys.executable).parent


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def readme_workflow() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("**GitHub Actions.**", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def check_jsonschema(schema: str, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", schema, *map(str, paths)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_action_is_valid_for_github() -> None:
    done = check_jsonschema("vendor.github-actions", ACTION)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_workflows_are_valid_for_github(tmp_path: Path) -> None:
    readme = tmp_path / "readme-workflow.yml"
    readme.write_text(readme_workflow(), encoding="utf-8")
    done = check_jsonschema("vendor.github-workflows", WORKFLOW, readme)
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_wrong_action_is_refused_by_the_same_check(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    broken.write_text("name: x\nruns:\n  using: composite\n  steps: [{run: ls}]\n")
    assert check_jsonschema("vendor.github-actions", broken).returncode == 1


def test_the_workflow_is_checkout_then_the_action_at_this_version() -> None:
    steps = load(WORKFLOW)["jobs"]["timeoutc"]["steps"]
    assert steps == [
        {"uses": "actions/checkout@v4", "with": {"fetch-depth": 0}},
        {"uses": f"timeoutc/timeoutc@v{__version__}"},
    ]
    assert yaml.safe_load(readme_workflow()) == load(WORKFLOW)  # the README's, as is


def test_the_readme_of_an_init_repository_shows_the_same_workflow() -> None:
    text = (REPO / "compiler" / "data" / "scaffold" / "README.md").read_text(encoding="utf-8")
    block = text.split("## CI\n", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    assert yaml.safe_load(block) == load(WORKFLOW)


def test_the_action_has_its_inputs_and_keeps_contexts_out_of_scripts() -> None:
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"version", "root", "diff-base", "python-version"}
    assert action["inputs"]["version"]["default"] == ""  # the action's own ref
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")  # contexts go through env
    runs = "\n".join(step.get("run", "") for step in action["runs"]["steps"])
    assert 'timeoutc validate --root "$ROOT" --format github' in runs
    assert 'timeoutc check --root "$ROOT" --format github' in runs
    assert '--format markdown >> "$GITHUB_STEP_SUMMARY"' in runs


def evaluate(value: str, inputs: dict[str, str], github: dict[str, str]) -> str:
    """The `${{ inputs.x }}` and `${{ github.x }}` expressions of an env value, as GitHub does."""

    def one(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).partition(".")
        table = {"inputs": inputs, "github": github}[scope]
        return table[name]

    return EXPRESSION.sub(one, value)


def run_steps(
    root: Path, workspace: Path, given: dict[str, str], summary: Path
) -> list[tuple[str, subprocess.CompletedProcess[str]]]:
    """Run the Action's `run` steps after the install (timeoutc is on PATH already), in order,
    as GitHub does: a step runs after a failed one only when its `if` says so."""
    action = load(ACTION)
    inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
    inputs.update(given)
    github = {"action_path": str(REPO), "base_ref": ""}
    environ = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_ACTION_PATH": str(REPO),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(workspace),
    }
    environ.pop("GITHUB_BASE_REF", None)
    results: list[tuple[str, subprocess.CompletedProcess[str]]] = []
    failed = False
    for step in action["runs"]["steps"]:
        if "run" not in step or step["name"] == "Install timeoutc":
            continue
        if failed and step.get("if") != "${{ !cancelled() }}":
            continue
        env = {k: evaluate(str(v), inputs, github) for k, v in step.get("env", {}).items()}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace, env={**environ, **env}, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        results.append((step["name"], done))
        failed = failed or done.returncode != 0
    return results


@pytest.fixture
def init_repository(tmp_path: Path) -> Path:
    """A git repository made by `timeoutc init` in a folder `config/`, committed on main."""
    if shutil.which("bash") is None or shutil.which("git") is None:
        pytest.skip("needs bash and git")
    if not (BIN / "timeoutc").exists():
        pytest.skip("timeoutc is not installed next to this Python")
    workspace = tmp_path / "workspace"
    subprocess.run([*GIT, "init", "-q", "-b", "main", str(workspace)], check=True)
    done = subprocess.run([BIN / "timeoutc", "init", "config"], cwd=workspace, capture_output=True)
    assert done.returncode == 0, done.stderr
    subprocess.run([*GIT, "-C", str(workspace), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(workspace), "commit", "-q", "-m", "init"], check=True)
    return workspace


def test_the_action_passes_on_an_init_repository_and_summarises_a_change(
    init_repository: Path, tmp_path: Path
) -> None:
    workspace = init_repository
    config = workspace / "config"
    subprocess.run([*GIT, "-C", str(workspace), "checkout", "-q", "-b", "pr"], check=True)
    changed = subprocess.run(
        [BIN / "timeoutc", "set", "staging", "environment.safety_margin", "1.25", "--build"],
        cwd=config, capture_output=True, text=True,
    )  # fmt: skip
    assert changed.returncode == 0, changed.stderr
    subprocess.run([*GIT, "-C", str(workspace), "commit", "-q", "-am", "margin"], check=True)
    summary = tmp_path / "summary.md"
    results = run_steps(config, workspace, {"root": "config", "diff-base": "main"}, summary)
    assert [name for name, _ in results] == [
        "Profiles are valid",
        "out/ is current",
        "What changed, for the reviewer",
    ]
    for name, done in results:
        assert done.returncode == 0, (name, done.stdout, done.stderr)
        assert "::error" not in done.stdout
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("### timeoutc diff\n")
    assert "| staging | (all) | safety_margin |" in text


def test_the_action_annotates_a_stale_out_on_the_workspace_path(
    init_repository: Path, tmp_path: Path
) -> None:
    workspace = init_repository
    staging = workspace / "config" / "profiles" / "staging.yaml"
    text = staging.read_text(encoding="utf-8")
    assert "safety_margin: 1.1" in text
    staging.write_text(text.replace("safety_margin: 1.1", "safety_margin: 1.3"), encoding="utf-8")
    summary = tmp_path / "summary.md"
    given = {"root": "config", "diff-base": "HEAD"}  # the working tree against HEAD
    results = dict(run_steps(workspace / "config", workspace, given, summary))
    assert results["Profiles are valid"].returncode == 0
    check = results["out/ is current"]
    assert check.returncode == 1
    assert check.stdout.startswith("::error file=config/out/staging/"), check.stdout
    # the summary still runs after the failed check
    assert results["What changed, for the reviewer"].returncode == 0
    assert "safety_margin" in summary.read_text(encoding="utf-8")
