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
from compiler.writer.emit import TEMP_SUFFIX
from tests.conftest import REPO, Result, Run, tree_bytes

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


def test_a_full_disk_is_a_clear_error(
    built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk_write(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    before = tree_bytes(built / "out")
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", full_disk_write)
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
    """The temporary name is predictable (pid); a link planted there fails the build and is
    named, never followed or removed."""
    target = tmp_path / "target"
    target.write_text("precious\n", encoding="utf-8")
    folder = built / "out" / "prod" / "svc-000"
    name = f".env.yaml.{os.getpid()}{TEMP_SUFFIX}"
    (folder / name).symlink_to(target)
    before = tree_bytes(built / "out")
    result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr == (
        f"out/prod/svc-000/{name}: error: is named like a timeoutc temporary file but is a "
        "symbolic link; timeoutc removes only its own temporary files: move it out of out/\n"
    )
    assert (folder / name).is_symlink()
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


def _temporaries(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "out").rglob("*") if p.name.endswith(TEMP_SUFFIX))


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)]
)
def test_an_interrupted_build_removes_its_temporaries_and_changes_nothing(
    signum: int, code: int, old_and_new: tuple[Path, dict[str, bytes]], run: Run
) -> None:
    """Ctrl-C or SIGTERM while files are staged: exit 128 + signal, out/ as it was."""
    root, _ = old_and_new
    old = outputs(root)
    set_multiplier(root, "2")
    process = subprocess.Popen(
        timeoutc("build", "--root", str(root)), cwd=REPO, stderr=subprocess.PIPE, text=True
    )
    _wait_for_temp_file(process, root / "out")
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=TIMEOUT)
    name = signal.Signals(signum).name
    assert process.returncode == code, stderr
    assert stderr == f"timeoutc: interrupted by {name}; nothing was changed\n"
    assert _temporaries(root) == []
    assert outputs(root) == old
    assert run("check", "--root", root).exit_code == 1  # stale, as before the build
    assert run("build", "--root", root).exit_code == 0
    assert run("check", "--root", root).exit_code == 0


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL])
def test_no_process_outlives_a_build_and_nothing_is_left_outside_the_repository(
    signum: int, old_and_new: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    root, _ = old_and_new
    set_multiplier(root, "2")
    temporary = tmp_path / "tmpdir"
    temporary.mkdir()
    process = subprocess.Popen(
        timeoutc("build", "--root", str(root)),
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(temporary)},
        stderr=subprocess.DEVNULL,
    )
    _wait_for_temp_file(process, root / "out")
    process.send_signal(signum)
    process.wait(TIMEOUT)
    assert list(temporary.iterdir()) == []
    assert _processes_naming(str(root)) == []


def _processes_naming(text: str) -> list[int]:
    """The processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if text in command:
                found.append(int(entry.name))
    return found


def test_a_folder_in_place_of_the_last_output_changes_nothing(built: Path, run: Run) -> None:
    """Every destination is checked before the first rename: the message names the file."""
    last = sorted(compile_repository(built).outputs)[-1]
    place = built / last
    place.unlink()
    place.mkdir()
    before = tree_bytes(built / "out")
    result = run("build", "--root", built)
    assert result.exit_code == 2
    assert result.stderr == f"{last}: error: cannot write: Is a directory; nothing was changed\n"
    assert tree_bytes(built / "out") == before
    assert _temporaries(built) == []
    place.rmdir()
    assert run("build", "--root", built).exit_code == 0
    assert run("check", "--root", built).exit_code == 0


def _build_failing_rename(
    root: Path, run: Run, monkeypatch: pytest.MonkeyPatch, failing: int
) -> tuple[Result, str]:
    """`build` with the `failing`-th rename refused by the kernel (EIO); (result, that
    rename's destination relative to root)."""
    real_replace = os.replace
    calls: list[str] = []

    def replace(source: Any, destination: Any) -> None:
        calls.append(os.fspath(destination))
        if len(calls) == failing:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_replace(source, destination)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace)
        result = run("build", "--root", root)
    return result, Path(calls[failing - 1]).relative_to(root).as_posix()


@pytest.mark.parametrize("failing", [1, 5, 12])
def test_a_rename_that_fails_puts_back_what_was_replaced(
    failing: int, built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = tree_bytes(built / "out")
    result, shown = _build_failing_rename(built, run, monkeypatch, failing)
    assert result.exit_code == 2
    assert result.stderr == (
        f"{shown}: error: cannot write: Input/output error; nothing was changed\n"
    )
    _assert_unchanged_and_recovers(built, before, run)


def test_a_rename_that_fails_removes_the_new_files_and_folders(
    built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new service's files are renamed last, and its last rename fails: no trace of it."""
    base = built / "profiles" / "base.yaml"
    base.write_text(
        base.read_text().replace(
            "\n  svc-000:\n", "\n  svc-aaa:\n" + _SERVICE_BODY + "  svc-000:\n"
        ),
        encoding="utf-8",
    )
    before = tree_bytes(built / "out")
    # the last file of the build: 4 services x 4 files
    result, _ = _build_failing_rename(built, run, monkeypatch, 16)
    assert result.exit_code == 2, result.stderr
    assert result.stderr == (
        "out/prod/svc-aaa/timeouts.py: error: cannot write: Input/output error; "
        "nothing was changed\n"
    )
    assert not (built / "out" / "prod" / "svc-aaa").exists()
    _assert_unchanged_and_recovers(built, before, run)


_SERVICE_BODY = """\
    image: us-docker.pkg.dev/netra/svc/svc-aaa:1.0.0
    port: 8080
    request_timeout: 300s
    health: {startup: /health, liveness: /health}
"""


def test_files_and_folders_are_durable_before_they_are_published(
    built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """syncfs(2) of out/'s file system before the first rename and after the last."""
    from compiler.writer import publish

    events: list[str] = []
    real_replace = os.replace

    def replace(source: Any, destination: Any) -> None:
        events.append("replace")
        real_replace(source, destination)

    def syncfs(fd: int) -> int:
        assert os.path.samefile(f"/proc/self/fd/{fd}", built / "out")
        events.append("sync")
        return 0

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace)
        patch.setattr(publish, "_SYNCFS", syncfs)
        assert run("build", "--root", built).exit_code == 0
    assert events[0] == "sync" and events[-1] == "sync"
    assert events[1:-1] == ["replace"] * (len(events) - 2) and len(events) > 2


def test_without_syncfs_every_file_and_folder_is_fsynced_before_the_rename(
    built: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compiler.writer import publish

    synced: set[str] = set()
    renamed_unsynced: list[str] = []
    real_replace, real_fsync = os.replace, os.fsync

    def fsync(fd: int) -> None:
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def replace(source: Any, destination: Any) -> None:
        if os.fspath(source) not in synced or os.path.dirname(destination) not in synced:
            renamed_unsynced.append(os.fspath(destination))
        real_replace(source, destination)

    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", replace)
        patch.setattr(os, "fsync", fsync)
        patch.setattr(publish, "_SYNCFS", None)
        assert run("build", "--root", built).exit_code == 0
    assert renamed_unsynced == []
    assert synced


def test_check_names_a_leftover_temporary_as_extra(built: Path, run: Run) -> None:
    assert run("build", "--root", built).exit_code == 0
    leftover = built / "out" / "prod" / "svc-000" / f".env.yaml.4242{TEMP_SUFFIX}"
    leftover.write_bytes(b"# Code generated by tim")  # a build killed mid-write
    result = run("check", "--root", built)
    assert result.exit_code == 1
    assert result.stderr == (
        f"out/prod/svc-000/{leftover.name}: error: extra: a temporary file left by an "
        "interrupted build; run timeoutc build\n"
        "timeoutc: 1 file in out/ is not current\n"
    )
    assert run("build", "--root", built).exit_code == 0
    assert not leftover.exists()
    assert run("check", "--root", built).exit_code == 0


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        (f".x{TEMP_SUFFIX}", "folder"),
        (f".env.yaml.1{TEMP_SUFFIX}", "folder"),
        (f".x{TEMP_SUFFIX}", "file"),
        (f".env.yaml.1{TEMP_SUFFIX}", "fifo"),
    ],
)
def test_something_named_like_a_temporary_is_reported_and_kept(
    name: str, kind: str, built: Path, run: Run
) -> None:
    place = built / "out" / "prod" / name
    if kind == "folder":
        place.mkdir()
        (place / "inside").write_text("kept\n", encoding="utf-8")
        what = "a folder"
    elif kind == "fifo":
        os.mkfifo(place)
        what = "not a regular file"
    else:
        place.write_text("kept\n", encoding="utf-8")
        what = "a file timeoutc did not name"
    expected = (
        f"out/prod/{name}: error: is named like a timeoutc temporary file but is {what}; "
        "timeoutc removes only its own temporary files: move it out of out/\n"
    )
    before = tree_bytes(built / "out")
    for command in ("build", "check"):
        result = run(command, "--root", built)
        assert result.exit_code == 2, result.stderr
        assert result.stderr == expected
    assert tree_bytes(built / "out") == before
    assert os.path.lexists(place)


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_the_command_line_loads_is_one_line_not_a_traceback(
    signum: int, code: int
) -> None:
    """Ctrl-C in the first milliseconds, before any command runs: exit 128 + signal."""
    probe = (
        "import builtins, os, sys\n"
        "import compiler.cli\n"
        "real = builtins.__import__\n"
        "def loading(name, *args, **kwargs):\n"
        "    if name == 'compiler.cli.main':\n"
        f"        os.kill(os.getpid(), {int(signum)})\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = loading\n"
        "sys.argv = ['timeoutc', '--help']\n"
        "compiler.cli.main()\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT
    )
    assert result.returncode == code
    assert result.stderr == f"timeoutc: interrupted by {signal.Signals(signum).name}\n"
    assert result.stdout == ""
