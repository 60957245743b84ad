"""Resolve and render a large repository in several processes, with the result of one.

Each concrete profile is resolved, budget-checked and rendered independently of the
others (`pipeline.resolve_one`), so with two or more CPUs the concrete profiles are
split into contiguous groups of about equal size: forked workers take the later
groups, this process the first, and the results are put together in profile order by
the very functions one process uses (`pipeline.gather`, then the first render error in
order). A worker that dies has its group redone here. With one concrete profile, the
services of that profile are split instead (`outputs.render_outputs`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compiler.diagnostics import CompileError
from compiler.loader import Document
from compiler.merge import is_abstract
from compiler.model import Profile

if TYPE_CHECKING:
    from compiler.outputs import Slice
    from compiler.pipeline import Resolved
    from compiler.render import Templates
    from compiler.verified import VerifiedOutputs

MIN_SERVICES_PER_PROCESS = 150
MAX_PROCESSES = 4
Worker = tuple[int, int]


def process_count(services: int) -> int:
    """How many processes pay for `services` services here (TIMEOUTC_JOBS overrides)."""
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


def spawn(task: Callable[[], object]) -> Worker:
    """Fork a worker that runs `task` and sends back its pickled result through a pipe."""
    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the worker: never returns
        code = 1
        try:
            os.close(read_end)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            payload = pickle.dumps(task(), protocol=5)
            with os.fdopen(write_end, "wb") as stream:
                stream.write(payload)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def collect(worker: Worker) -> Any:
    """The worker's result, or None when it died without sending one."""
    pid, fd = worker
    try:
        with os.fdopen(os.dup(fd), "rb") as stream:
            payload = stream.read()
        _, status = os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        return None
    if os.waitstatus_to_exitcode(status) != 0 or not payload:
        return None
    try:
        return pickle.loads(payload)
    except Exception:
        return None


def reap(worker: Worker) -> None:
    """Close the pipe and make sure the worker is gone (killed if still running)."""
    pid, fd = worker
    with contextlib.suppress(OSError):
        os.close(fd)
    try:
        finished, _ = os.waitpid(pid, os.WNOHANG)
        if finished == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    except (OSError, ChildProcessError):
        pass


def _services(name: str, documents: Mapping[str, Document]) -> int:
    """About how many services profile `name` has: those named along its extends chain."""
    names: set[str] = set()
    seen: set[str] = set()
    current: Any = name
    while isinstance(current, str) and current in documents and current not in seen:
        seen.add(current)
        services = documents[current].data.get("services")
        if isinstance(services, dict):
            names.update(services)
        current = documents[current].data.get("extends")
    return len(names)


def groups(names: Sequence[str], sizes: Sequence[int], count: int) -> list[list[str]]:
    """`names` in at most `count` contiguous groups of about equal total size."""
    total = sum(sizes)
    found: list[list[str]] = [[]]
    done = 0
    for name, size in zip(names, sizes, strict=True):
        if found[-1] and len(found) < count and done >= total * len(found) / count:
            found.append([])
        found[-1].append(name)
        done += size
    return found


def compile_documents(
    root: Path, documents: dict[str, Document], *, render: bool
) -> tuple[tuple[Profile, ...], dict[str, bytes]]:
    """The resolved profiles and (when `render`) their outputs, as one process makes them."""
    from compiler.outputs import render_outputs
    from compiler.pipeline import gather, resolve_all

    concrete = [name for name, document in documents.items() if not is_abstract(document)]
    sizes = [_services(name, documents) for name in concrete]
    planned = groups(concrete, sizes, min(process_count(sum(sizes)), len(concrete)))
    if len(planned) < 2:
        profiles = resolve_all(documents)
        return profiles, render_outputs(root, profiles, documents=documents) if render else {}
    return _in_processes(root, documents, planned, render=render, gather=gather)


def _in_processes(
    root: Path,
    documents: dict[str, Document],
    planned: list[list[str]],
    *,
    render: bool,
    gather: Callable[[Any], tuple[Profile, ...]],
) -> tuple[tuple[Profile, ...], dict[str, bytes]]:
    from compiler.pipeline import resolve_one
    from compiler.verified import VerifiedOutputs

    templates: Templates | None = None
    template_error: CompileError | None = None
    if render:
        from compiler.render import load_templates

        try:
            templates = load_templates(root)
        except CompileError as exc:  # reported after the profiles' errors, as in one process
            template_error = exc
    verified = VerifiedOutputs(documents=documents)

    def work(names: list[str]) -> tuple[dict[str, Resolved], Slice | None]:
        return _work(names, documents, templates, verified, resolve_one)

    results: dict[str, Resolved] = {}
    slices: list[Slice | None] = []
    workers = [spawn(partial(work, group)) for group in planned[1:]]
    try:
        for name in documents:
            if name not in planned[0] and is_abstract(documents[name]):
                results[name] = resolve_one(name, documents)
        done = work(planned[0])
        results.update(done[0])
        slices.append(done[1])
        for worker, group in zip(workers, planned[1:], strict=True):
            received = collect(worker)
            if not isinstance(received, tuple):  # the worker died: do its group here
                received = work(group)
            results.update(received[0])
            slices.append(received[1])
    finally:
        for worker in workers:
            reap(worker)
    profiles = gather(results[name] for name in documents if name in results)
    if template_error is not None:
        raise template_error
    outputs: dict[str, bytes] = {}
    try:
        for piece in slices:
            if piece is None:
                continue
            outputs.update(piece.outputs)
            verified.memo.merge(piece.used, piece.new)
            piece.raise_error()
    finally:
        verified.memo.save()
    return profiles, outputs


def _work(
    names: list[str],
    documents: dict[str, Document],
    templates: Templates | None,
    verified: VerifiedOutputs,
    resolve_one: Callable[[str, Mapping[str, Document]], Resolved],
) -> tuple[dict[str, Resolved], Slice | None]:
    """Resolve `names`; render them when there are templates and nothing failed."""
    from compiler.outputs import render_slice

    results = {name: resolve_one(name, documents) for name in names}
    if templates is None or any(found for _, found in results.values()):
        return results, None
    work = [(p, s) for p, _ in results.values() if p is not None for s in p.services]
    return results, render_slice(templates, work, verified).portable()
