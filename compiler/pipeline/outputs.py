"""Render every service's outputs and verify each against the model before it is kept.

Rendering and verifying is most of a build, and one service's outputs do not depend on
another's. When a build renders 200 services or more (counted over its environments) and
may run on a second CPU, a worker forked from this process (the standard library's
`multiprocessing`, so it starts with the model and the compiled templates already in
memory) takes the second half of the services while this process does the first half.
The result is always what one process gives: the same bytes in the same order, and the
first error in service order. The template budget (CPU seconds for all templates of a
build together) holds for both halves together: when the worker's CPU time and this
process's pass it, or the worker cannot say what it made (it died, or failed other than
with a `CompileError`), this process renders the second half itself, with what is left
of the budget. The worker ignores the terminal's signals (this process handles them)
and is stopped with the build, whatever ends it; a fork that fails leaves the whole
build to this process.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Sequence
from multiprocessing.connection import Connection
from pathlib import Path

from compiler.diagnostics import CompileError
from compiler.model import Profile, Service
from compiler.pipeline.render import Templates, load_templates, render_service
from compiler.pipeline.verify import verify_output
from compiler.stopping import STOP_SIGNALS

MIN_SERVICES_TO_SHARE = 200  # services x environments; fewer: a worker costs more than it saves
BATCH_OUTPUTS = 256  # outputs per message from the worker: about 1 MB
Work = Sequence[tuple[Profile, Service]]
Rendered = list[tuple[str, bytes]]

_shared: tuple[Templates, Work] | None = None  # what a forked worker renders from


def render_outputs(root: Path, profiles: tuple[Profile, ...]) -> dict[str, bytes]:
    """Every output of every service, verified against the model, as bytes."""
    templates = load_templates(root)
    work = [(profile, service) for profile in profiles for service in profile.services]
    if len(work) < MIN_SERVICES_TO_SHARE or not _can_share():
        return dict(_render(templates, work))
    return dict(_render_shared(templates, work))


def _render(templates: Templates, work: Work) -> Rendered:
    rendered: Rendered = []
    for profile, service in work:
        for path, text in render_service(templates, profile, service):
            verify_output(path, text, profile, service)
            rendered.append((path, text.encode("utf-8")))
    return rendered


def _can_share() -> bool:
    """Whether this process may run on a second CPU and a worker can start as a copy of it."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) > 1 and sys.platform == "linux"


def _render_shared(templates: Templates, work: Work) -> Rendered:
    """The first half here, the second half in a forked worker, in service order."""
    global _shared
    half = (len(work) + 1) // 2
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    _shared = (templates, work)
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # until the worker has its own
    try:
        worker = context.Process(target=_second_half, args=(half, writer, os.getpid()), daemon=True)
        worker.start()
    except OSError:  # no process to be had (a limit on processes, no memory): one process
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        reader.close()
        return _render(templates, work)
    finally:
        _shared = None
        writer.close()
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
        first = _render(templates, work[:half])
        outcome, worker_seconds = _receive(reader)
    finally:
        reader.close()
        worker.kill()  # done already, unless this process stopped first
        worker.join()
    budget = templates.budget
    if outcome is None or worker_seconds > budget.remaining():
        outcome = _render(templates, work[half:])  # exactly what one process does
    else:
        budget.spent += worker_seconds
    if isinstance(outcome, CompileError):
        raise outcome
    return first + outcome


def _receive(reader: Connection) -> tuple[Rendered | CompileError | None, float]:
    """What the worker made (its outputs in batches, or its error) and the template CPU
    seconds it took; None when it cannot say (it died, or failed otherwise)."""
    received: Rendered = []
    try:
        while isinstance(message := reader.recv(), list):
            received += message
    except (EOFError, OSError):
        return None, 0.0
    outcome, seconds = message
    return (received if outcome is True else outcome), seconds


def _die_with_parent(parent: int) -> None:
    """Be killed when the build's process ends, even by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    import ctypes  # only in the worker

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before that took effect
        os._exit(0)


def _second_half(half: int, writer: Connection, parent: int) -> None:
    """In the worker: send the outputs of the services from `half` on (or the first
    error, or None for anything else) and the template time they took. The terminal's
    signals are for the build to handle; they stay blocked until they are ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    _die_with_parent(parent)
    assert _shared is not None
    templates, work = _shared
    spent_before = templates.budget.spent
    rendered: Rendered = []
    outcome: bool | CompileError | None = True
    try:
        rendered = _render(templates, work[half:])
    except CompileError as exc:
        outcome = exc
    except BaseException:
        outcome = None
    seconds = templates.budget.spent - spent_before
    with contextlib.suppress(OSError):  # the build has stopped: nobody is reading
        for start in range(0, len(rendered), BATCH_OUTPUTS):  # the build never holds two copies
            writer.send(rendered[start : start + BATCH_OUTPUTS])
        writer.send((outcome, seconds))
