"""Render every service's outputs and verify each against the model before it is kept.

One process by default. With `jobs` above 1 (`--jobs N`, `TIMEOUTC_JOBS`), each profile
is rendered in a `concurrent.futures.ProcessPoolExecutor` worker (started by a fork
server, so a caller's threads are never forked). The result is always what one process
gives: the same bytes in the same order, and the first error in service order. The
template budget (CPU seconds for all templates of a build) holds for all workers
together: when their CPU time passes it, this process renders the profiles again, one
after another, and so fails as one process would.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.model import Profile, Service
from compiler.pipeline.render import TemplateBudget, Templates, load_templates, render_service
from compiler.pipeline.verify import verify_output

JOBS_ENV = "TIMEOUTC_JOBS"
DEFAULT_JOBS = 1  # measured: see docs/performance.md
MAX_JOBS = 64
Work = Sequence[tuple[Profile, Service]]
Rendered = list[tuple[str, bytes]]
Outcome = tuple[Rendered | CompileError, float]  # what a worker made, its template seconds


def jobs_from_environment() -> int:
    """TIMEOUTC_JOBS as a number of processes, else DEFAULT_JOBS."""
    text = os.environ.get(JOBS_ENV, "").strip()
    if not text:
        return DEFAULT_JOBS
    if not text.isdecimal() or not 1 <= int(text) <= MAX_JOBS:
        message = f"expected a number of processes from 1 to {MAX_JOBS}, not {text[:40]!r}"
        raise CompileError([Diagnostic(Mark(JOBS_ENV), message)])
    return int(text)


def render_outputs(root: Path, profiles: tuple[Profile, ...], jobs: int = 1) -> dict[str, bytes]:
    """Every output of every service, verified against the model, as bytes."""
    templates = load_templates(root)
    if jobs > 1 and len(profiles) > 1:
        shared = _render_in_workers(root, templates, profiles, jobs)
        if shared is not None:
            return dict(shared)
    return dict(_render(templates, [(p, s) for p in profiles for s in p.services]))


def _render(templates: Templates, work: Work) -> Rendered:
    rendered: Rendered = []
    for profile, service in work:
        for path, text in render_service(templates, profile, service):
            verify_output(path, text, profile, service)
            rendered.append((path, text.encode("utf-8")))
    return rendered


def _render_in_workers(
    root: Path, templates: Templates, profiles: tuple[Profile, ...], jobs: int
) -> Rendered | None:
    """Each profile in a worker, in profile order; None when the workers together passed
    the template budget (this process then renders as one process does)."""
    budget = templates.budget
    context = multiprocessing.get_context("forkserver")
    executor = ProcessPoolExecutor(min(jobs, len(profiles)), context, initializer=_ignore_stops)
    try:
        futures: list[Future[Outcome]] = [
            executor.submit(_render_profile, str(root), profile, budget.remaining())
            for profile in profiles
        ]
        rendered = _collect(futures, budget)
    except BaseException:  # an error, or a stop signal: do not wait for the rest
        executor.shutdown(wait=False, cancel_futures=True)
        raise
    executor.shutdown()  # every task is done: the workers end at once
    return rendered


def _collect(futures: list[Future[Outcome]], budget: TemplateBudget) -> Rendered | None:
    """The workers' outputs in order, or the first error; None past the budget."""
    rendered: Rendered = []
    spent = 0.0
    for future in futures:
        outcome, seconds = future.result()
        spent += seconds
        if spent > budget.remaining():
            return None
        if isinstance(outcome, CompileError):
            budget.spent += spent
            raise outcome
        rendered += outcome
    budget.spent += spent
    return rendered


def _ignore_stops() -> None:
    """In a worker: the terminal's signals are the build's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


@functools.cache
def _templates(root: str) -> Templates:
    return load_templates(Path(root))


def _render_profile(root: str, profile: Profile, seconds: float) -> Outcome:
    """In a worker: one profile's outputs (or its first error) and the template seconds
    they took, with a budget of `seconds`."""
    templates = replace(_templates(root), budget=TemplateBudget(seconds))
    work = [(profile, service) for service in profile.services]
    try:
        return _render(templates, work), templates.budget.spent
    except CompileError as exc:
        return exc, templates.budget.spent
