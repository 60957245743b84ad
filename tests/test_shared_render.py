"""Rendering in several processes (--jobs, TIMEOUTC_JOBS) gives exactly what one gives."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from conftest import Run, errors

from bench.generate import generate
from compiler.diagnostics import CompileError
from compiler.pipeline import load_profiles, resolve_all
from compiler.pipeline.outputs import JOBS_ENV, jobs_from_environment, render_outputs


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("large") / "repo", 30, 3)


def _render(root: Path, jobs: int) -> dict[str, bytes]:
    return render_outputs(root, resolve_all(load_profiles(root)), jobs)


def test_several_processes_give_the_same_bytes_in_the_same_order(large: Path) -> None:
    alone = _render(large, 1)
    shared = _render(large, 2)
    assert list(shared) == list(alone)
    assert shared == alone


def _break_template_for(root: Path, environment: str, service: str) -> None:
    template = root / "templates" / "env.yaml.j2"
    text = template.read_text(encoding="utf-8")
    when = f"profile.name == '{environment}' and service.name == '{service}'"
    broken = "{% if " + when + " %}{{ service.no_such }}{% endif %}\n"
    template.write_text(broken + text, encoding="utf-8")


@pytest.mark.parametrize("which", ["first", "last"])
def test_the_error_is_the_one_a_single_process_raises(tmp_path: Path, which: str) -> None:
    root = generate(tmp_path / "repo", 10, 3)
    profiles = resolve_all(load_profiles(root))
    profile = profiles[0] if which == "first" else profiles[-1]
    _break_template_for(root, profile.name, profile.services[-1].name)
    found = []
    for jobs in (1, 3):
        with pytest.raises(CompileError) as caught:
            _render(root, jobs)
        found.append(caught.value.diagnostics)
    assert found[0] == found[1]
    assert "has no attribute 'no_such'" in str(found[0][0])


def test_the_template_budget_is_for_all_processes_together(
    large: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMEOUTC_TEMPLATE_SECONDS", "0.000001")
    for jobs in (1, 2):
        with pytest.raises(CompileError, match="took longer than 1e-06s"):
            _render(large, jobs)


def test_jobs_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(JOBS_ENV, raising=False)
    assert jobs_from_environment() == 1
    monkeypatch.setenv(JOBS_ENV, "3")
    assert jobs_from_environment() == 3
    for bad in ("0", "-1", "two", "65", "1e3"):
        monkeypatch.setenv(JOBS_ENV, bad)
        with pytest.raises(CompileError, match="expected a number of processes from 1 to 64"):
            jobs_from_environment()


def test_build_and_check_take_jobs(run: Run, repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("build", "--jobs", "2", "--root", repo).exit_code == 0
    assert run("check", "-j", "2", "--root", repo).exit_code == 0
    assert (repo / "out").is_dir()
    monkeypatch.setenv(JOBS_ENV, "many")
    result = run("check", "--root", repo)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        f"{JOBS_ENV}: error: expected a number of processes from 1 to 64, not 'many'"
    ]
    assert multiprocessing.active_children() == []
