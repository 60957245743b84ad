"""Render and verify every output; on a large repository, in more than one process.

Rendering and reading back 16,000 files is most of a build, and each service is
independent of the others once the model is resolved. With two or more CPUs and at
least MIN_SERVICES_PER_PROCESS services per process, the services are split in
contiguous slices: forked processes take the later slices, this one the first, and
the results are put together in the original order. The first error is the one a
single process would meet first (the earliest slice that fails stops at its first
error); a worker that dies any other way has its slice redone here, so that what
happens is exactly what would happen in one process. TIMEOUTC_JOBS=1 forces one process.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.diagnostics import CompileError, Diagnostic
from compiler.model import Profile, Service
from compiler.verified import VerifiedOutputs

if TYPE_CHECKING:
    from compiler.render import Templates

MIN_SERVICES_PER_PROCESS = 150
MAX_PROCESSES = 4
Work = Sequence[tuple[Profile, Service]]


@dataclass
class Slice:
    """What one process made of its services: the outputs, or the error that stopped it."""

    outputs: list[tuple[str, bytes]] = field(default_factory=list)
    error: CompileError | None = None
    diagnostics: tuple[Diagnostic, ...] | None = None  # a worker's error, as it travels
    used: list[bytes] = field(default_factory=list)
    new: list[bytes] = field(default_factory=list)

    def raise_error(self) -> None:
        """Raise the error that stopped this slice, if any."""
        if self.error is not None:
            raise self.error
        if self.diagnostics is not None:
            raise CompileError(self.diagnostics)

    def portable(self) -> Slice:
        """This slice with its error as plain diagnostics (CompileError does not pickle)."""
        if self.error is None:
            return self
        return Slice(self.outputs, None, self.error.diagnostics, self.used, self.new)

    @property
    def failed(self) -> bool:
        """Whether an error stopped this slice."""
        return self.error is not None or self.diagnostics is not None


def process_count(services: int) -> int:
    """How many processes pay for `services` services on this machine."""
    configured = os.environ.get("TIMEOUTC_JOBS", "")
    if configured.isdigit() and int(configured) > 0:
        wanted = int(configured)
    else:
        try:
            wanted = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            wanted = os.cpu_count() or 1
        wanted = min(wanted, MAX_PROCESSES, services // MIN_SERVICES_PER_PROCESS)
    return max(1, min(wanted, services)) if hasattr(os, "fork") else 1


def render_slice(templates: Templates, work: Work, verified: VerifiedOutputs) -> Slice:
    """Render and verify `work` in order; stop at the first error."""
    from compiler.render import render_service

    done = Slice()
    try:
        for profile, service in work:
            for path, text in render_service(templates, profile, service):
                data = text.encode("utf-8")
                verified.verify(path, text, data, profile, service)
                done.outputs.append((path, data))
    except CompileError as exc:
        done.error = exc
    done.used = list(verified.memo.used)
    done.new = list(verified.memo.new)
    return done


def render_outputs(
    root: Path, profiles: tuple[Profile, ...], *, processes: int | None = None
) -> dict[str, bytes]:
    """Every output of every service, verified against the model, as bytes."""
    from compiler.render import load_templates

    templates = load_templates(root)
    work = [(profile, service) for profile in profiles for service in profile.services]
    verified = VerifiedOutputs()
    count = min(processes or process_count(len(work)), max(len(work), 1))
    if count > 1:
        size = -(-len(work) // count)
        parts = [work[i : i + size] for i in range(0, len(work), size)]
        slices = _fan_out(templates, parts, verified)
    else:
        slices = [render_slice(templates, work, verified)]
    outputs: dict[str, bytes] = {}
    try:
        for done in slices:
            outputs.update(done.outputs)
            verified.memo.merge(done.used, done.new)
            done.raise_error()
    finally:
        verified.memo.save()
    return outputs


def _fan_out(templates: Templates, parts: Sequence[Work], verified: VerifiedOutputs) -> list[Slice]:
    """The first part here, the others in forked processes; results in part order."""
    _flush_before_fork()
    children: list[tuple[int, int]] = []
    try:
        for part in parts[1:]:
            children.append(_spawn(templates, part, verified))
        slices = [render_slice(templates, parts[0], verified)]
        for (pid, fd), part in zip(children, parts[1:], strict=True):
            if slices[-1].failed:
                break
            done = _collect(pid, fd)
            if done is None:  # the worker died: do its part here, as one process would
                done = render_slice(templates, part, verified)
            slices.append(done)
        return slices
    finally:
        for pid, fd in children:
            _reap(pid, fd)


def _spawn(templates: Templates, part: Work, verified: VerifiedOutputs) -> tuple[int, int]:
    """Fork a worker for `part`; it sends back its pickled `Slice` through a pipe."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        code = 1
        try:
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            done = render_slice(templates, part, verified).portable()
            payload = pickle.dumps(done, protocol=5)
            with os.fdopen(write_end, "wb") as stream:
                stream.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, fd: int) -> Slice | None:
    """The worker's slice, or None when it died without sending one."""
    try:
        with os.fdopen(os.dup(fd), "rb") as stream:
            payload = stream.read()
        _, status = os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        return None
    if os.waitstatus_to_exitcode(status) != 0 or not payload:
        return None
    try:
        done = pickle.loads(payload)
    except Exception:
        return None
    return done if isinstance(done, Slice) else None


def _reap(pid: int, fd: int) -> None:
    """Close the pipe and make sure the worker is gone (killed if still running)."""
    with contextlib.suppress(OSError):
        os.close(fd)
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        pass


def _flush_before_fork() -> None:
    """Nothing buffered may be written twice: flush this process's streams first."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
