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
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

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
MAX_PROCESSES = 4  # unless TIMEOUTC_JOBS asks for more (at most MAX_JOBS)
MAX_JOBS = 64
Message = tuple[str, "Resolved", "Slice | None"]  # one profile: its name, resolution, outputs


def process_count(services: int) -> int:
    """How many processes pay for `services` services here (TIMEOUTC_JOBS overrides)."""
    configured = os.environ.get("TIMEOUTC_JOBS", "")
    if configured.isdigit() and int(configured) > 0:
        wanted = min(int(configured), MAX_JOBS)
    else:
        try:
            wanted = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            wanted = os.cpu_count() or 1
        wanted = min(wanted, MAX_PROCESSES, services // MIN_SERVICES_PER_PROCESS)
    return max(1, min(wanted, services)) if hasattr(os, "fork") else 1


END = "end"  # the last message of a worker that finished


@dataclass
class Worker:
    """A forked worker: its process id, the folder it leaves its messages in, how it ended."""

    pid: int
    spool: str
    ended: bool | None = None  # None while running; then whether it exited with 0


def spawn(task: Callable[[], Iterable[object]]) -> Worker | None:
    """Fork a worker that leaves each item `task` yields (then END), pickled, as a file
    0, 1, 2... of its own temporary folder, as soon as it is made: it never waits for
    this process to read. None when no worker can be made (its work is then done here)."""
    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    try:
        spool = tempfile.mkdtemp(prefix="timeoutc-")
    except OSError:
        return None
    try:
        pid = os.fork()
    except OSError:
        shutil.rmtree(spool, ignore_errors=True)
        return None
    if pid == 0:  # the worker: never returns
        code = 1
        try:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            for number, item in enumerate(_then_end(task())):
                path = os.path.join(spool, str(number))
                with open(f"{path}.part", "wb") as stream:
                    pickle.dump(item, stream, protocol=5)
                os.rename(f"{path}.part", path)  # whole, or not there
            code = 0
        finally:
            os._exit(code)
    return Worker(pid, spool)


def _then_end(items: Iterable[object]) -> Iterator[object]:
    yield from items
    yield END


class Inbox:
    """The messages of a worker, taken in order as they appear."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.next = 0
        self.broken = False

    def ready(self) -> list[object]:
        """The messages complete by now, in order (none once one could not be read)."""
        messages = []
        while not self.broken:
            path = os.path.join(self.worker.spool, str(self.next))
            try:
                with open(path, "rb") as stream:
                    messages.append(pickle.load(stream))
            except FileNotFoundError:
                break
            except Exception:
                self.broken = True
                break
            os.unlink(path)
            self.next += 1
        return messages

    def rest(self) -> list[object] | None:
        """Every message still to come (waiting for the worker to finish), or None when the
        worker died before sending END."""
        finished = _end(self.worker, wait=True)
        messages = self.ready()
        reap(self.worker)
        if not finished or self.broken or not messages or messages[-1] != END:
            return None
        return messages[:-1]


def collect(worker: Worker | None) -> list[object] | None:
    """Everything the worker sends, once it has finished; None when it died (or was none)."""
    return Inbox(worker).rest() if worker is not None else None


def reap(worker: Worker) -> bool:
    """Make sure the worker is gone (killed if still running) and its folder removed;
    whether it had finished on its own, with exit status 0."""
    ended = _end(worker, wait=False)
    shutil.rmtree(worker.spool, ignore_errors=True)
    return ended


def _end(worker: Worker, *, wait: bool) -> bool:
    """Wait for the worker to end (or kill it, unless `wait`); whether it exited with 0."""
    if worker.ended is None:
        worker.ended = False
        try:
            done, status = os.waitpid(worker.pid, 0 if wait else os.WNOHANG)
            if done == 0:
                os.kill(worker.pid, signal.SIGKILL)
                os.waitpid(worker.pid, 0)
            else:
                worker.ended = os.waitstatus_to_exitcode(status) == 0
        except (OSError, ChildProcessError):
            pass
    return worker.ended


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

    def group(names: list[str]) -> Iterator[Message]:
        return _group(names, documents, templates, verified, resolve_one)

    results: dict[str, Resolved] = {}
    pieces: dict[str, Slice] = {}

    def record(messages: Iterable[Any]) -> None:
        for message in messages:
            name, resolved, piece = cast(Message, message)
            results[name] = resolved
            if piece is not None:
                pieces[name] = piece

    workers = [spawn(partial(group, names)) for names in planned[1:]]
    inboxes = [Inbox(worker) if worker is not None else None for worker in workers]
    try:
        for name in documents:
            if is_abstract(documents[name]):
                results[name] = resolve_one(name, documents)
        for message in group(planned[0]):
            record([message])
            for inbox in inboxes:  # take in the workers' profiles between ours
                record(inbox.ready() if inbox is not None else [])
        for inbox, names in zip(inboxes, planned[1:], strict=True):
            rest = inbox.rest() if inbox is not None else None
            record(group(names) if rest is None else rest)  # no worker: its group here
    finally:
        for worker in workers:
            if worker is not None:
                reap(worker)
    profiles = gather(results[name] for name in documents)
    if template_error is not None:
        raise template_error
    outputs: dict[str, bytes] = {}
    try:
        for name in documents:
            piece = pieces.get(name)
            if piece is None:
                continue
            outputs.update(piece.outputs)
            verified.memo.merge(piece.used, piece.new)
            piece.raise_error()
    finally:
        verified.memo.save()
    return profiles, outputs


def _group(
    names: list[str],
    documents: dict[str, Document],
    templates: Templates | None,
    verified: VerifiedOutputs,
    resolve_one: Callable[[str, Mapping[str, Document]], Resolved],
) -> Iterator[Message]:
    """Resolve `names` in order, one message each; render each while there are templates
    and nothing in the group has failed (one process renders nothing after an error)."""
    from compiler.outputs import render_slice

    failed = templates is None
    for name in names:
        resolved = resolve_one(name, documents)
        profile, found = resolved
        piece = None
        failed = failed or bool(found)
        if not failed and profile is not None and templates is not None:
            work = [(profile, service) for service in profile.services]
            piece = render_slice(templates, work, verified).portable()
            failed = piece.failed
        yield name, resolved, piece
