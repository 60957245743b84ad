"""Render every service's outputs and verify each against the model before it is kept.

Rendering and verifying is most of a build, and one service's outputs do not depend on
another's. On a large repository with a second CPU free, a worker forked from this
process (the standard library's `multiprocessing`, so it starts with the model and
the compiled templates already in memory) takes the second half of the services while
this process does the first half; the outputs are then put together in service order,
so they are the same bytes in the same order as one process makes them, and the first
error (in service order) is the one raised. The build's template budget (CPU seconds for
all templates together) is split between the two halves. The worker ignores the terminal's signals
(this process handles them) and is stopped with the build, whatever ends it.
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

MIN_SERVICES_TO_SHARE = 200  # below this, starting a worker costs more than it saves
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
    """Whether a second CPU is ours to use and a worker can start as a copy of this process."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (cpus or 1) > 1 and sys.platform == "linux"


def _render_shared(templates: Templates, work: Work) -> Rendered:
    """The first half here, the second half in a forked worker, in service order.

    If the worker cannot say what it made (it was killed, or failed other than with a
    `CompileError`), this process renders the second half itself: the result, or the
    failure, is then exactly one process's.
    """
    global _shared
    half = (len(work) + 1) // 2
    context = multiprocessing.get_context("fork")
    reader, writer = context.Pipe(duplex=False)
    templates.budget.spent += templates.budget.remaining() / 2  # each half may take half
    _shared = (templates, work)
    try:
        worker = context.Process(target=_second_half, args=(half, writer, os.getpid()), daemon=True)
        worker.start()
    finally:
        _shared = None
        writer.close()
    try:
        first = _render(templates, work[:half])
        outcome = _receive(reader)
    finally:
        reader.close()
        worker.kill()  # done already, unless this process stopped first
        worker.join()
    if outcome is None:
        outcome = _render(templates, work[half:])
    if isinstance(outcome, CompileError):
        raise outcome
    return first + outcome


def _receive(reader: Connection) -> Rendered | CompileError | None:
    """What the worker sends: its outputs in batches and then True, or its error; None
    when it cannot say (it died, or failed other than with a `CompileError`)."""
    received: Rendered = []
    try:
        while (message := reader.recv()) is not True:
            if not isinstance(message, list):
                return message  # type: ignore[no-any-return]
            received += message
    except (EOFError, OSError):
        return None
    return received


def _die_with_parent(parent: int) -> None:
    """Be killed when the build's process ends, even by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    import ctypes  # only in the worker

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before that took effect
        os._exit(0)


def _second_half(half: int, writer: Connection, parent: int) -> None:
    """In the worker: send the outputs of the services from `half` on, the first error,
    or None for anything else; the terminal's signals are for the build to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    assert _shared is not None
    templates, work = _shared
    outcome: Rendered | CompileError | None
    try:
        outcome = _render(templates, work[half:])
    except CompileError as exc:
        outcome = exc
    except BaseException:
        outcome = None
    with contextlib.suppress(OSError):  # the build has stopped: nobody is reading
        if isinstance(outcome, list):  # in batches: the build never holds two copies
            for start in range(0, len(outcome), BATCH_OUTPUTS):
                writer.send(outcome[start : start + BATCH_OUTPUTS])
            writer.send(True)
        else:
            writer.send(outcome)
