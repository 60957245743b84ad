"""Rendering shared with a forked worker gives exactly what one process gives."""

from __future__ import annotations

import multiprocessing
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from conftest import REPO

from bench.generate import generate
from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.pipeline import load_profiles, outputs, resolve_all
from compiler.pipeline.outputs import MIN_SERVICES_TO_SHARE, render_outputs

SERVICES = MIN_SERVICES_TO_SHARE // 2 + 1  # x 2 environments: just enough to share


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("large") / "repo", SERVICES, 2)


def _one_process(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    with monkeypatch.context() as patch:
        patch.setattr(outputs, "_can_share", lambda: False)
        return render_outputs(root, resolve_all(load_profiles(root)))


def _shared(root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, bytes]:
    started: list[object] = []
    real_start = multiprocessing.process.BaseProcess.start
    with monkeypatch.context() as patch:
        patch.setattr(outputs, "_can_share", lambda: True)
        patch.setattr(
            multiprocessing.context.ForkProcess,
            "start",
            lambda self: started.append(self) or real_start(self),
        )
        rendered = render_outputs(root, resolve_all(load_profiles(root)))
    assert len(started) == 1, "the work was not shared"
    return rendered


def test_shared_rendering_gives_the_same_bytes_in_the_same_order(
    large: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = _one_process(large, monkeypatch)
    shared = _shared(large, monkeypatch)
    assert list(shared) == list(alone)
    assert shared == alone
    assert multiprocessing.active_children() == []


def _break_template_for(root: Path, environment: str, service: str) -> None:
    template = root / "templates" / "env.yaml.j2"
    text = template.read_text(encoding="utf-8")
    when = f"profile.name == '{environment}' and service.name == '{service}'"
    broken = "{% if " + when + " %}{{ service.no_such }}{% endif %}\n"
    template.write_text(broken + text, encoding="utf-8")


@pytest.mark.parametrize("which", ["first", "last"])
def test_the_error_is_the_one_a_single_process_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    root = generate(tmp_path / "repo", SERVICES, 2)
    profiles = resolve_all(load_profiles(root))
    profile = profiles[0] if which == "first" else profiles[-1]  # the worker's half: last
    service = profile.services[0 if which == "first" else -1]
    _break_template_for(root, profile.name, service.name)
    errors = []
    for render in (_one_process, _shared):
        with pytest.raises(CompileError) as caught:
            render(root, monkeypatch)
        errors.append(caught.value.diagnostics)
    assert errors[0] == errors[1]
    assert "has no attribute 'no_such'" in str(errors[0][0])
    assert multiprocessing.active_children() == []


def test_a_worker_that_dies_leaves_its_half_to_the_build(
    large: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = _one_process(large, monkeypatch)
    monkeypatch.setattr(outputs, "_second_half", lambda half, writer, parent: os._exit(9))
    assert _shared(large, monkeypatch) == alone


def test_one_cpu_or_a_small_repository_renders_in_one_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert not outputs._can_share()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert outputs._can_share()

    def no_worker(self: object) -> None:
        raise AssertionError("a worker was started for a small repository")

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", no_worker)
    assert render_outputs(REPO, resolve_all(load_profiles(REPO)))


def test_a_compile_error_crosses_a_process_whole() -> None:
    error = CompileError([Diagnostic(Mark("templates/x.j2", 3), "template: boom", "a hint")])
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is CompileError and again.diagnostics == error.diagnostics


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    ("signum", "to_group", "code"),
    [(signal.SIGINT, True, 130), (signal.SIGTERM, False, 143), (signal.SIGKILL, False, -9)],
)
def test_a_build_stopped_while_it_shares_leaves_no_worker(
    large: Path, tmp_path: Path, signum: int, to_group: bool, code: int
) -> None:
    """Ctrl-C reaches the whole process group, `kill` only the build: the worker ends
    with the build either way, and the build says what it always says."""
    root = tmp_path / "repo"
    shutil.copytree(large, root)
    process = subprocess.Popen(
        [sys.executable, "-m", "compiler", "build", "--root", str(root)],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while not (workers := _children(process.pid)) and process.poll() is None:
        assert time.monotonic() < deadline, "no worker started"
        time.sleep(0.005)
    if to_group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code, stderr
    if signum != signal.SIGKILL:
        name = signal.Signals(signum).name
        assert stderr == f"timeoutc: interrupted by {name}; nothing was changed\n"
    while any(map(_alive, workers)):
        assert time.monotonic() < deadline, "the worker outlived the build"
        time.sleep(0.01)
    assert not (root / "out").exists() or not any((root / "out").rglob("*.yaml"))


def test_the_template_budget_is_for_both_halves_together(
    large: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the two halves together take more than the budget, the second half is
    rendered again here with what is left: the build passes or fails as one process."""
    calls: list[float] = []
    real_render, real_receive = outputs._render, outputs._receive

    def render(templates: outputs.Templates, work: outputs.Work) -> outputs.Rendered:
        calls.append(templates.budget.remaining())
        return real_render(templates, work)

    def receive(reader: Connection) -> tuple[object, float]:
        outcome, _ = real_receive(reader)
        return outcome, 1e9  # as if the worker had spent more than the whole budget

    alone = _one_process(large, monkeypatch)
    monkeypatch.setattr(outputs, "_render", render)
    monkeypatch.setattr(outputs, "_receive", receive)
    monkeypatch.setenv("TIMEOUTC_TEMPLATE_SECONDS", "100")
    assert _shared(large, monkeypatch) == alone
    assert len(calls) == 2 and calls[0] == 100.0 and calls[1] < 100.0


def test_a_fork_that_fails_leaves_the_whole_build_to_one_process(
    large: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = _one_process(large, monkeypatch)

    def no_process(self: object) -> None:
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(outputs, "_can_share", lambda: True)
    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", no_process)
    assert render_outputs(large, resolve_all(load_profiles(large))) == alone
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == set()  # nothing left blocked
