"""Render every templates/*.j2 once per (profile, service) in Jinja2's sandbox."""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import stat
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from itertools import islice
from pathlib import Path
from types import FrameType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.headers import comment_style
from compiler.model import Profile, Service
from compiler.pipeline.context import (
    FILTERS,
    ModelUndefined,
    attributes,
    context_types,
    finalize,
)

TEMPLATES_DIR = "templates"
BUILTIN_TEMPLATES = Path(__file__).resolve().parent.parent / "data" / TEMPLATES_DIR
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.j2")
RENDER_SECONDS = 5.0  # CPU seconds for all templates of a build: a runaway loop is an error
TEMPLATE_SECONDS_ENV = "TIMEOUTC_TEMPLATE_SECONDS"  # sets that limit, for large repositories
MAX_TEMPLATE_SECONDS = 3600.0
MAX_OUTPUT_BYTES = 10_000_000  # one rendered file: 10 MB
FIRST_CHECK_PIECES = 4  # the output's size is checked after its first 4 pieces,
MAX_CHECK_PIECES = 1024  # then after twice as many each time, at most 1,024 apart
MAX_RESULT_ITEMS = 10_000_000  # characters or items a template's `*` may make
MAX_POWER_BITS = 100_000


class _TemplateLoader(jinja2.FileSystemLoader):
    """Templates from templates/ only: never through a link, never a FIFO or a device."""

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        pieces = split_template_path(template)  # refuses '..'
        base = os.path.realpath(self.searchpath[0])
        path = os.path.join(base, *pieces)
        try:
            regular = stat.S_ISREG(os.lstat(path).st_mode)
        except OSError:
            regular = False
        if not regular or os.path.realpath(path) != path:
            raise jinja2.TemplateNotFound(template)
        return super().get_source(environment, template)


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, with `*` and `**` bounded through its documented hook
    (`intercepted_binops`): `{{ 9 ** 9 ** 9 }}` would never end."""

    intercepted_binops = frozenset({"*", "**"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._documented = {kind: frozenset(attributes(kind)) for kind in context_types()}

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Jinja2's documented hook: the model's documented attributes (its fields and
        properties: data, never a method) are safe; anything else is Jinja2's verdict."""
        documented = self._documented.get(type(obj))
        if documented is not None and attr in documented:
            return True
        return super().is_safe_attribute(obj, attr, value)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > MAX_POWER_BITS
        ):
            raise SecurityError(f"{left} ** {right} is too large for a template")
        if operator == "*":
            sized, count = (left, right) if isinstance(right, int) else (right, left)
            if (
                isinstance(sized, str | list | tuple)
                and isinstance(count, int)
                and len(sized) * count > MAX_RESULT_ITEMS
            ):
                raise SecurityError(f"repeating a value {count} times is too much for a template")
        return super().call_binop(context, operator, left, right)


class _TimeUp(Exception):
    """The templates of a build took longer than their budget."""


class _TooLarge(Exception):
    """A template's output grew past MAX_OUTPUT_BYTES."""


class TemplateBudget:
    """The CPU time all templates of one build may take together, spent render by render."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.spent = 0.0

    def remaining(self) -> float:
        """Seconds left; at most 0 once spent."""
        return self.seconds - self.spent


def template_seconds() -> float:
    """The build's template budget: TIMEOUTC_TEMPLATE_SECONDS, else RENDER_SECONDS."""
    text = os.environ.get(TEMPLATE_SECONDS_ENV)
    if text is None or not text.strip():
        return RENDER_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TEMPLATE_SECONDS:  # also refuses nan
        message = (
            f"expected seconds above 0 and at most {MAX_TEMPLATE_SECONDS:g} for all "
            f"templates of a build, not {text[:40]!r}"
        )
        raise CompileError([Diagnostic(Mark(TEMPLATE_SECONDS_ENV), message)])
    return seconds


@contextlib.contextmanager
def _time_limit(seconds: float, budget: float | None = None) -> Iterator[None]:
    """Raise `_TimeUp` inside the block after `seconds` of this process's CPU time (main
    thread only, where signals go); `budget` is the whole limit, for the message.

    CPU time, not wall time: a loop that runs away spends it at once, while a large
    repository on a busy machine waits for a core without spending any of its budget.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    limit = seconds if budget is None else budget

    def expire(signum: int, frame: FrameType | None) -> None:
        raise _TimeUp(
            f"took longer than {limit:g}s; does a loop run away? (that is the limit for all "
            f"templates of a build together; {TEMPLATE_SECONDS_ENV} sets it)"
        )

    if seconds <= 0:
        expire(signal.SIGPROF, None)

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


@dataclass(frozen=True)
class Templates:
    """The compiled templates of a repository, by output file name, and the time they
    may still take in this build."""

    by_output: dict[str, jinja2.Template]
    budget: TemplateBudget

    @cached_property
    def headers(self) -> dict[str, str | None]:
        """Each output's header line, `{}` for the header's text; None without comments."""
        return {output: comment_style(output) for output in self.by_output}


def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    env = _Sandbox(
        loader=_TemplateLoader(folder, followlinks=False),
        undefined=ModelUndefined,
        finalize=finalize,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(FILTERS)
    return env


def load_templates(root: Path) -> Templates:
    """Compile every template once; a broken one is `templates/NAME.j2:LINE: error: ...`.

    A repository without a templates/ folder renders timeoutc's own four templates.
    """
    folder = root / TEMPLATES_DIR
    if not folder.exists() and not folder.is_symlink():
        folder = BUILTIN_TEMPLATES
    if not folder.is_dir():
        raise CompileError([Diagnostic(Mark(TEMPLATES_DIR), "no templates folder")])
    env = _environment(folder)
    compiled: dict[str, jinja2.Template] = {}
    errors: list[Diagnostic] = []
    for entry in sorted(folder.iterdir()):
        if entry.suffix != ".j2" or entry.is_symlink() or not entry.is_file():
            continue
        where = f"{TEMPLATES_DIR}/{entry.name}"
        if not TEMPLATE_NAME.fullmatch(entry.name):
            errors.append(
                Diagnostic(
                    Mark(where),
                    "template names are letters, digits, '.', '_' and '-', ending in .j2",
                )
            )
            continue
        try:
            compiled[entry.name[: -len(".j2")]] = env.get_template(entry.name)
        except jinja2.TemplateSyntaxError as exc:
            errors.append(Diagnostic(Mark(where, exc.lineno or 1), f"template: {exc.message}"))
        except (UnicodeDecodeError, OSError) as exc:
            errors.append(Diagnostic(Mark(where), f"cannot read template: {exc}"))
    if errors:
        raise CompileError(errors)
    if not compiled:
        raise CompileError([Diagnostic(Mark(TEMPLATES_DIR), "no templates (*.j2) to render")])
    return Templates(compiled, TemplateBudget(template_seconds()))


def output_path(profile: Profile, service: Service, output: str) -> str:
    """`out/<environment>/<service>/<file>`, relative to the root."""
    return f"out/{profile.name}/{service.name}/{output}"


def render_service(
    templates: Templates, profile: Profile, service: Service
) -> Iterator[tuple[str, str]]:
    """(relative path, text) of every output of one service; the header where it has comments.

    The service's templates render under one CPU timer, so the message names the
    template that was running when the build's budget ran out."""
    context = {"profile": profile, "service": service, "environment": profile.name}
    budget = templates.budget
    bodies: list[tuple[str, str]] = []
    output = ""
    start = time.process_time()
    try:
        with _time_limit(budget.remaining(), budget.seconds):
            for output, template in templates.by_output.items():
                bodies.append((output, _bounded_render(template, context)))
    except Exception as exc:  # a template error, a sandbox violation, a filter's refusal
        raise CompileError([_template_error(output, exc)]) from None
    finally:
        budget.spent += time.process_time() - start
    headers = templates.headers
    for output, body in bodies:
        if not body.endswith("\n"):
            body += "\n"
        header = headers[output]
        if header is not None:
            body = f"{header.format(profile.header)}\n{body}"
        yield output_path(profile, service, output), body


def _bounded_render(template: jinja2.Template, context: dict[str, Any]) -> str:
    """`template.render(context)`, stopped soon after the text passes MAX_OUTPUT_BYTES.

    The pieces of `Template.generate` are joined in chunks, the size checked after each:
    after 4 pieces, then after twice as many as the chunk before, up to 1,024 (a loop of
    large pieces stops within a few of them)."""
    pieces = template.generate(context)
    texts: list[str] = []
    size, count = 0, FIRST_CHECK_PIECES
    while size <= MAX_OUTPUT_BYTES:
        chunk = list(islice(pieces, count))
        text = "".join(chunk)
        size += len(text)  # characters: never more than the UTF-8 bytes
        texts.append(text)
        if len(chunk) < count:
            break
        count = min(2 * count, MAX_CHECK_PIECES)
    too_large = _TooLarge(f"its output is larger than {MAX_OUTPUT_BYTES // 1_000_000} MB")
    if size > MAX_OUTPUT_BYTES:
        raise too_large
    body = "".join(texts)
    if not body.isascii() and len(body.encode("utf-8")) > MAX_OUTPUT_BYTES:
        raise too_large
    return body


def _template_error(output: str, exc: Exception) -> Diagnostic:
    """The template and line where `exc` arose (an included template's, if it was there)."""
    name, line = f"{output}.j2", 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.lineno and frame.filename.endswith(".j2"):  # a template's own frame
            name, line = os.path.basename(frame.filename), frame.lineno
    message = getattr(exc, "message", None) or str(exc)
    if isinstance(exc, jinja2.TemplateNotFound):
        message = f"no template '{exc.name}' in {TEMPLATES_DIR}/ (links and special files aside)"
    return Diagnostic(Mark(f"{TEMPLATES_DIR}/{name}", line), f"template: {message}")
