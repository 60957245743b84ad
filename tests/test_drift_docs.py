"""The README's drift example and docs/drift-workflow.yml, run for real (gcloud and gh are
stand-ins on PATH that serve exports built as in test_drift)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Run
from test_drift import env_var, server_export, stand_in, write_export

README = (REPO / "README.md").read_text(encoding="utf-8")
WORKFLOW = REPO / "docs" / "drift-workflow.yml"


def hot_fixed(repo: Path, folder: Path) -> None:
    """Staging's exports after `--update-env-vars AUTH_REQUEST_TIMEOUT_S=7.5 --timeout 900`."""
    for service in ("netra-backend", "auth-service"):
        doc = server_export(repo, "staging", service)
        if service == "netra-backend":
            env_var(doc, "AUTH_REQUEST_TIMEOUT_S")["value"] = "7.5"
            doc["spec"]["template"]["spec"]["timeoutSeconds"] = 900
        write_export(folder, doc)


def test_the_readme_example(run: Run, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = README.split("### `timeoutc drift`", 1)[1].split("```console\n", 1)[1]
    block = block.split("```", 1)[0]
    lines = block.splitlines()
    for line, name in zip(lines, ("netra-backend-staging", "auth-service-staging"), strict=False):
        assert line == (
            f"$ gcloud run services describe {name} --region us-central1 --project "
            f"netra-staging --format export > exports/{name}.yaml"
        )
    command = lines[2].removeprefix("$ .venv/bin/timeoutc ").split()
    hot_fixed(repo, repo / "exports")
    monkeypatch.chdir(repo)
    result = run(*command)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == lines[3:]


def workflow_steps() -> list[dict[str, Any]]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert data[True]["schedule"]  # PyYAML reads the key `on` as YAML 1.1 true
    steps: list[dict[str, Any]] = data["jobs"]["drift"]["steps"]
    return steps


def step(name: str) -> str:
    found: str = next(s["run"] for s in workflow_steps() if s.get("name") == name)
    return found


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_workflow_exports_compares_and_opens_an_issue(repo: Path, tmp_path: Path) -> None:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "timeoutc").exists():
        pytest.skip("timeoutc is not installed next to this Python")
    served = tmp_path / "served"
    hot_fixed(repo, served)
    stranger = server_export(repo, "staging", "auth-service")
    stranger["metadata"]["name"] = "billing-staging"
    write_export(served, stranger)
    stand_ins = tmp_path / "bin"
    stand_in(
        stand_ins,
        'case "$3" in\n'
        f'  describe) cat "{served}/$4.yaml" ;;\n'
        f'  list) ls "{served}" | sed "s/.yaml$//" ;;\n'
        "esac\n",
    )
    issue = tmp_path / "issue.log"
    stand_in(stand_ins, f'echo "$*" >> "{issue}"\n', "gh")
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    environ = {
        **os.environ,
        "PATH": f"{stand_ins}{os.pathsep}{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "ENVIRONMENT": "staging",
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }

    def bash(script: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-e", "-c", script], cwd=repo, env=environ, capture_output=True, text=True
        )

    exported = bash(step("Export each deployed service"))
    assert exported.returncode == 0, exported.stderr
    assert sorted(p.name for p in (repo / "exports/staging").iterdir()) == [
        "auth-service-staging.yaml",
        "billing-staging.yaml",
        "netra-backend-staging.yaml",
    ]
    compared = bash(step("Compare with out/"))
    assert compared.returncode == 0, compared.stderr
    assert output.read_text(encoding="utf-8") == "code=1\n"
    report = summary.read_text(encoding="utf-8")
    assert report.startswith("### timeoutc drift: staging\n")
    assert "`spec.template.spec.timeoutSeconds` | `300.0s` | `900.0s`" in report
    assert "| staging | billing | `(service)` |" not in report  # cells in parentheses stay plain
    assert "| staging | billing | (service) | (not declared) | `billing-staging` | - |" in report
    opened = bash(step("Open an issue, and fail the job"))
    assert opened.returncode == 1
    calls = issue.read_text(encoding="utf-8").splitlines()
    assert calls[0].startswith("issue list --state open")
    title = "Drift in staging: deployed Cloud Run services differ from out/"
    assert calls[1] == f"issue create --title {title} --body-file drift.md"
