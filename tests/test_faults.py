"""Faults: killed builds, read-only and full disks, two builds at once, links in out/ and profiles/.

Every fault must leave each file of out/ whole (its old or its new bytes), say what went
wrong in one located line with exit 2, and never write outside out/.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compiler.pipeline import compile_repository
from compiler.pipeline.emit import TEMP_SUFFIX
from tests.conftest import REPO, Run, tree_bytes

SERVICES = 200
TIMEOUT = 60.0  # a subprocess that outlives this has hung


def many_services_repo(root: Path, services: int = SERVICES) -> Path:
    """The shipped schema and templates, and a `prod` profile with `services` services."""
    for folder in ("schemas", "templates"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "profiles").mkdir()
    lines = ["abstract: true", "platform: {region: us-central1}", "services:"]
    for i in range(services):
        lines += [
            f"  svc-{i:03d}:",
            f"    image: us-docker.pkg.dev/netra/svc/svc-{i:03d}:1.0.{i}",
            "    port: 8080",
            "    request_timeout: 300s",
            "    health: {startup: /health, liveness: /health}",
            "    dependencies:",
            f"      database: {{timeouts: {{connect: {1 + i % 5}s, query: 10s}}}}",
            "    startup: [database.connect]",
        ]
    (root / "profiles" / "base.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    set_multiplier(root, "1")
    return root


def set_multiplier(root: Path, multiplier: str) -> None:
    text = f"extends: base\nenvironment: {{timeout_multiplier: {multiplier}}}\n"
    text += "platform: {project: netra-prod}\n"
    (root / "profiles" / "prod.yaml").write_text(text, encoding="utf-8")


def timeoutc(*args: str) -> list[str]:
    return [sys.executable, "-m", "compiler", *args]


def cli(root: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`timeoutc ARGS --root ROOT` in its own process."""
    return subprocess.run(
        timeoutc(*args, "--root", str(root)),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=REPO,
        **kwargs,
    )


def outputs(root: Path) -> dict[str, bytes]:
    """The files of out/, temporary files of a killed build and the manifest aside."""
    files = tree_bytes(root / "out").items()
    return {k: v for k, v in files if not k.endswith(TEMP_SUFFIX) and not k.startswith(".")}


@pytest.fixture
def old_and_new(tmp_path: Path, run: Run) -> tuple[Path, dict[str, bytes]]:
    """A built repository of 200 services (the old out/) and what a changed profile gives."""
    root = many_services_repo(tmp_path / "repo")
    assert run("build", "--root", root).exit_code == 0
    set_multiplier(root, "2")
    new = {path: content for path, content in compile_repository(root).outputs.items()}
    set_multiplier(root, "1")
    return root, {path.removeprefix("out/"): content for path, content in new.items()}


def _wait_for_temp_file(process: subprocess.Popen[bytes], out: Path) -> None:
    """Return as soon as the build stages its first file (or ends)."""
    while process.poll() is None:
        for _, _, files in os.walk(out):
            if any(name.endswith(TEMP_SUFFIX) for name in files):
                return


def test_a_build_killed_at_any_moment_leaves_every_file_whole(
    old_and_new: tuple[Path, dict[str, bytes]], run: Run
) -> None:
    root, new = old_and_new
    old = outputs(root)
    assert set(old) == set(new) and len(old) == SERVICES * 4
    assert all(old[path] != new[path] for path in old)
    set_multiplier(root, "2")
    rng = random.Random(5)
    moments: list[float | None] = [None, None, rng.uniform(0.05, 0.6), rng.uniform(0.3, 1.5)]
    seen = set()
    for moment in moments:
        process = subprocess.Popen(timeoutc("build", "--root", str(root)), cwd=REPO)
        if moment is None:
            _wait_for_temp_file(process, root / "out")  # killed while writing, for certain
        else:
            time.sleep(moment)
        process.send_signal(signal.SIGKILL)
        process.wait(TIMEOUT)
        now = outputs(root)
        assert set(now) == set(old)
        for path, content in now.items():
            assert content in (old[path], new[path]), f"{path} is neither old nor new"
            seen.add("new" if content == new[path] else "old")
    assert "old" in seen  # at least one kill landed before the last replace
    result = run("build", "--root", root)
    assert result.exit_code == 0, result.stderr
    assert outputs(root) == new
    assert not [p for p in (root / "out").rglob("*") if p.name.endswith(TEMP_SUFFIX)]
    assert run("check", "--root", root).exit_code == 0


@pytest.fixture
def built(tmp_path: Path, run: Run) -> Path:
    """A small built repository whose profiles have since changed: the next build writes."""
    root = many_services_repo(tmp_path / "repo", services=3)
    assert run("build", "--root", root).exit_code == 0
    set_multiplier(root, "2")
    return root


def _assert_unchanged_and_recovers(root: Path, before: dict[str, bytes], run: Run) -> None:
    assert tree_bytes(root / "out") == before  # temporary files included: none left behind
    result = run("build", "--root", root)
    assert result.exit_code == 0, result.stderr
    assert run("check", "--root", root).exit_code == 0


def test_a_read_only_out_is_a_clear_error(
    built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a read-only mount behaves, for root too (chmod does not stop root)."""
    real_open = os.open

    def read_only_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and str(path).startswith(str(built / "out")):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    before = tree_bytes(built / "out")
    with monkeypatch.context() as patch:
        patch.setattr(os, "open", read_only_open)
        result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr == (
        "out/prod/svc-000/env.yaml: error: cannot write: Read-only file system; "
        "nothing was changed\n"
    )
    _assert_unchanged_and_recovers(built, before, run)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through chmod; see the test above")
def test_a_chmod_read_only_out_is_a_clear_error(built: Path, run: Run) -> None:
    before = tree_bytes(built / "out")
    folders = [p for p in (built / "out").rglob("*") if p.is_dir()]
    for folder in folders:
        folder.chmod(0o555)
    try:
        result = run("build", "--root", built)
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert result.exit_code == 2
    assert "cannot write: Permission denied; nothing was changed" in result.stderr
    _assert_unchanged_and_recovers(built, before, run)


class _FullDisk:
    """A file object whose writes fail as on a full disk."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self.fd)

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_is_a_clear_error(
    built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fdopen = os.fdopen

    def full_disk_fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        return _FullDisk(fd) if "w" in mode else real_fdopen(fd, mode, *args, **kwargs)

    before = tree_bytes(built / "out")
    with monkeypatch.context() as patch:
        patch.setattr(os, "fdopen", full_disk_fdopen)
        result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr == (
        "out/prod/svc-000/env.yaml: error: cannot write: No space left on device; "
        "nothing was changed\n"
    )
    _assert_unchanged_and_recovers(built, before, run)


def _limit_file_size() -> None:
    """In the child: no file may grow past 1 KiB, and the kernel says so with EFBIG."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))


def test_a_real_write_failure_midway_leaves_out_unchanged(built: Path, run: Run) -> None:
    """The kernel refuses the write (RLIMIT_FSIZE, as a full disk would): no partial out/."""
    before = tree_bytes(built / "out")
    result = cli(built, "build", preexec_fn=_limit_file_size)
    assert result.returncode == 2, result.stderr
    assert result.stderr.endswith("error: cannot write: File too large; nothing was changed\n")
    assert "Traceback" not in result.stderr
    _assert_unchanged_and_recovers(built, before, run)


@pytest.fixture
def out_lock(built: Path) -> Iterator[None]:
    """Hold the lock a running build holds."""
    fd = os.open(built / "out", os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def test_a_second_build_is_refused_while_the_first_holds_the_lock(
    built: Path, run: Run, out_lock: None
) -> None:
    before = tree_bytes(built / "out")
    result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr == (
        "out: error: another timeoutc build is writing out/; try again when it has finished\n"
    )
    assert tree_bytes(built / "out") == before


def test_two_builds_at_once_never_interleave(built: Path) -> None:
    processes = [
        subprocess.Popen(
            timeoutc("build", "--root", str(built)),
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    results = [(p.wait(TIMEOUT), p.communicate()[1]) for p in processes]
    assert sorted(code for code, _ in results) in ([0, 0], [0, 2])
    for code, stderr in results:
        if code == 2:
            assert "another timeoutc build is writing out/" in stderr
    assert cli(built, "check").returncode == 0


@pytest.mark.parametrize("link", ["file", "folder", "out", "dangling"])
def test_a_link_in_out_is_never_written_through(
    link: str, built: Path, run: Run, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "env.yaml").write_text("precious\n", encoding="utf-8")
    target_before = tree_bytes(outside)
    if link == "file":
        place = built / "out" / "prod" / "svc-000" / "env.yaml"
        place.unlink()
        place.symlink_to(outside / "env.yaml")
    elif link == "folder":
        place = built / "out" / "prod" / "svc-000"
        shutil.rmtree(place)
        place.symlink_to(outside, target_is_directory=True)
    elif link == "out":
        place = built / "out"
        shutil.rmtree(place)
        place.symlink_to(outside, target_is_directory=True)
    else:
        place = built / "out" / "prod" / "svc-000" / "env.yaml"
        place.unlink()
        place.symlink_to(outside / "missing.yaml")
    shown = place.relative_to(built).as_posix()
    result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{shown}: error: "), result.stderr
    assert "symbolic link" in result.stderr or "not a regular file" in result.stderr
    assert tree_bytes(outside) == target_before
    assert place.is_symlink()


def test_a_planted_temporary_link_is_never_written_through(
    built: Path, run: Run, tmp_path: Path
) -> None:
    """The temporary name is predictable (pid); a link planted there fails the build."""
    target = tmp_path / "target"
    target.write_text("precious\n", encoding="utf-8")
    folder = built / "out" / "prod" / "svc-000"
    (folder / f".env.yaml.{os.getpid()}{TEMP_SUFFIX}").symlink_to(target)
    before = tree_bytes(built / "out")
    result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr.startswith("out/prod/svc-000/env.yaml: error: cannot write: ")
    assert target.read_text() == "precious\n"
    assert tree_bytes(built / "out") == before


@pytest.mark.parametrize("how", ["--root", "cwd"])
def test_a_profiles_folder_that_is_a_link_loop_is_an_error(
    how: str, built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.rmtree(built / "profiles")
    (built / "profiles").symlink_to("profiles")
    before = tree_bytes(built / "out")
    if how == "cwd":
        monkeypatch.chdir(built / "out")
        result = run("build")
    else:
        result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr == "profiles: error: cannot read: Too many levels of symbolic links\n"
    assert tree_bytes(built / "out") == before


@pytest.mark.parametrize("kind", ["loop", "fifo", "dev-zero"])
def test_a_profile_that_is_no_regular_file_is_an_error(kind: str, built: Path, run: Run) -> None:
    place = built / "profiles" / "odd.yaml"
    if kind == "loop":
        place.symlink_to("odd.yaml")
        expected = "profiles/odd.yaml: error: cannot read: Too many levels of symbolic links\n"
    elif kind == "fifo":
        os.mkfifo(place)
        expected = "profiles/odd.yaml: error: is not a regular file\n"
    else:
        place.symlink_to("/dev/zero")
        expected = "profiles/odd.yaml: error: is not a regular file\n"
    before = tree_bytes(built / "out")
    result = cli(built, "build")  # in a subprocess: a blocking read would hang pytest
    assert result.returncode == 2
    assert result.stderr == expected
    assert tree_bytes(built / "out") == before
    assert run("validate", "--root", built).exit_code == 2


def test_a_schema_that_is_a_fifo_is_an_error(built: Path) -> None:
    schema = built / "schemas" / "profile.schema.json"
    schema.unlink()
    os.mkfifo(schema)
    result = cli(built, "build")
    assert result.returncode == 2
    assert result.stderr == "schemas/profile.schema.json: error: is not a regular file\n"
