"""Render and verify every output; on a large repository, in more than one process.

Rendering and reading back 16,000 files is most of a build, and each service is
independent of the others once the model is resolved. With two or more CPUs and at
least `fanout.MIN_SERVICES_PER_PROCESS` services per process, the services are split in
contiguous slices: forked processes take the later slices, this one the first, and
the results are put together in the original order. The first error is the one a
single process would meet first (the earliest slice that fails stops at its first
error); a worker that dies any other way has its slice redone here, so that what
happens is exactly what would happen in one process. TIMEOUTC_JOBS=1 forces one process.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.diagnostics import CompileError, Diagnostic
from compiler.fanout import collect, process_count, reap, spawn
from compiler.loader import Document
from compiler.model import Profile, Service
from compiler.verified import VerifiedOutputs

if TYPE_CHECKING:
    from compiler.render import Templates

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
    root: Path,
    profiles: tuple[Profile, ...],
    *,
    processes: int | None = None,
    documents: Mapping[str, Document] | None = None,
) -> dict[str, bytes]:
    """Every output of every service, verified against the model, as bytes.

    `documents`, the files `profiles` were resolved from (those very objects), lets the
    read-back memo know each model by the digest of its files rather than by its pickle.
    """
    from compiler.render import load_templates

    templates = load_templates(root)
    work = [(profile, service) for profile in profiles for service in profile.services]
    verified = VerifiedOutputs(documents=documents)
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


def _portable(templates: Templates, work: Work, verified: VerifiedOutputs) -> list[Slice]:
    return [render_slice(templates, work, verified).portable()]


def _fan_out(templates: Templates, parts: Sequence[Work], verified: VerifiedOutputs) -> list[Slice]:
    """The first part here, the others in forked processes; results in part order."""
    workers = [spawn(partial(_portable, templates, part, verified)) for part in parts[1:]]
    try:
        slices = [render_slice(templates, parts[0], verified)]
        for worker, part in zip(workers, parts[1:], strict=True):
            if slices[-1].failed:
                break
            sent = collect(worker)
            if sent is not None and len(sent) == 1 and isinstance(sent[0], Slice):
                slices.append(sent[0])
            else:  # the worker died: do its part here
                slices.append(render_slice(templates, part, verified))
        return slices
    finally:
        for worker in workers:
            if worker is not None:
                reap(worker)
