"""Render every templates/*.j2 once per (profile, service) in Jinja2's sandbox."""

from __future__ import annotations

import json
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.model import Profile, Service
from compiler.resolve import class_name

TEMPLATES_DIR = "templates"
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.j2")


def quoted(value: object) -> str:
    """A double-quoted string that YAML and Python both read back as exactly `value`."""
    return json.dumps(str(value), ensure_ascii=True)


@dataclass(frozen=True)
class Templates:
    """The compiled templates of a repository, by output file name."""

    by_output: dict[str, jinja2.Template]


def _environment(folder: Path) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(folder, followlinks=False),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["yaml_str"] = quoted
    env.filters["py_str"] = quoted
    env.filters["class_name"] = class_name
    return env


def load_templates(root: Path) -> Templates:
    """Compile every template once; a broken one is `templates/NAME.j2:LINE: error: ...`."""
    folder = root / TEMPLATES_DIR
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
    return Templates(compiled)


def output_path(profile: Profile, service: Service, output: str) -> str:
    """`out/<environment>/<service>/<file>`, relative to the root."""
    return f"out/{profile.name}/{service.name}/{output}"


def render_service(
    templates: Templates, profile: Profile, service: Service
) -> Iterator[tuple[str, str]]:
    """(relative path, text) of every output of one service, each starting with the header."""
    context = {"profile": profile, "service": service, "environment": profile.name}
    for output, template in templates.by_output.items():
        try:
            body = template.render(context)
        except jinja2.TemplateError as exc:
            raise CompileError([_template_error(output, exc)]) from None
        except Exception as exc:  # a sandbox violation or a filter raising on odd input
            raise CompileError([_template_error(output, exc)]) from None
        if not body.endswith("\n"):
            body += "\n"
        yield output_path(profile, service, output), f"{profile.header}\n{body}"


def _template_error(output: str, exc: Exception) -> Diagnostic:
    name = f"{output}.j2"
    line = 0
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(name) and frame.lineno:
            line = frame.lineno
    message = getattr(exc, "message", None) or str(exc)
    return Diagnostic(Mark(f"{TEMPLATES_DIR}/{name}", line), f"template: {message}")
