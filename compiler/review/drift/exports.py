"""Deployed services as `gcloud run services describe NAME --format export` writes them.

From a folder of `<cloud-run-name>.yaml` files (what a CI job saved), or from gcloud
itself. Exports are read with the profile loader (positions; no tags, anchors or aliases),
so a malformed one is reported at its `path:line:col`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from compiler.diagnostics import CompileError, Diagnostic, Mark
from compiler.files import read_limited
from compiler.pipeline.load import Document, load_bytes

EXPORT_KIND = "service export"
API_VERSION = "serving.knative.dev/v1"
GCLOUD = "gcloud"
GCLOUD_TIMEOUT_S = 120
GCLOUD_CALLS = 4  # gcloud processes at once: each is mostly waiting on the API
NOT_FOUND = "Cannot find service"
NOT_LOGGED_IN = ("gcloud auth login", "active account", "credentials")


@dataclass(frozen=True)
class Export:
    """One deployed service, as the export holds it; `document` None: not deployed."""

    name: str
    source: str
    document: Document | None


@dataclass(frozen=True)
class Deployed:
    """The exports of the declared services (in order), of other services named like ours,
    and what could not be looked at (said, not fatal)."""

    declared: list[Export]
    others: list[Export]
    warnings: tuple[str, ...] = ()


def parse_export(raw: bytes, source: str, name: str | None) -> Document:
    """An export's document; a located error when it is not a Cloud Run service (`name`)."""
    document = load_bytes(raw, source, kind=EXPORT_KIND)
    data = document.data
    problems = []
    if data.get("apiVersion") != API_VERSION or data.get("kind") != "Service":
        problems.append(
            Diagnostic(
                document.mark(("kind",) if "kind" in data else ()),
                f"not a Cloud Run service export: apiVersion {data.get('apiVersion')!r}, "
                f"kind {data.get('kind')!r}",
                f"expected apiVersion {API_VERSION} and kind Service, as "
                "`gcloud run services describe NAME --format export` writes",
            )
        )
    metadata = data.get("metadata")
    found = metadata.get("name") if isinstance(metadata, dict) else None
    if not isinstance(found, str):
        problems.append(Diagnostic(document.mark(("metadata",)), "export has no metadata.name"))
    elif name is not None and found != name:
        problems.append(
            Diagnostic(
                document.mark(("metadata", "name")),
                f"export of service '{found}' where '{name}' was expected",
                f"save each export as <name>.yaml ({name}.yaml)",
            )
        )
    if problems:
        raise CompileError(problems)
    return document


def service_name_pattern(template: str, environment: str) -> re.Pattern[str]:
    """The Cloud Run names this environment's `service_name` template can give; the group
    `service` (when the template has `{service}`) is the service's name."""
    body, named = "", False
    for part in re.split(r"(\{service\}|\{environment\})", template):
        if part == "{service}":
            body += "(?P=service)" if named else "(?P<service>[a-z][a-z0-9-]*)"
            named = True
        else:
            body += re.escape(environment) if part == "{environment}" else re.escape(part)
    return re.compile(body)


def from_folder(folder: Path, names: Sequence[str], ours: re.Pattern[str] | None) -> Deployed:
    """The exports of `names` in `folder`, and those of other services named like ours
    (when `ours` is given); every unreadable or malformed one is an error."""
    try:
        entries = sorted(entry.name for entry in folder.iterdir())
    except OSError as exc:
        raise CompileError(
            [Diagnostic(Mark(str(folder)), f"cannot read: {exc.strerror}")]
        ) from None
    extra = [
        entry.removesuffix(".yaml")
        for entry in entries
        if entry.endswith(".yaml")
        and ours is not None
        and ours.fullmatch(entry.removesuffix(".yaml"))
        and entry.removesuffix(".yaml") not in names
    ]
    errors: list[Diagnostic] = []

    def read(name: str) -> Export:
        source = str(folder / f"{name}.yaml")
        if f"{name}.yaml" not in entries:
            return Export(name, source, None)
        try:
            return Export(name, source, parse_export(read_limited(source, source), source, name))
        except CompileError as exc:
            errors.extend(exc.diagnostics)
            return Export(name, source, None)

    declared = [read(name) for name in names]
    others = [read(name) for name in extra]
    if errors:
        raise CompileError(errors)
    return Deployed(declared, others)


def _gcloud() -> str:
    found = shutil.which(GCLOUD)
    if found is None:
        raise CompileError(
            [
                Diagnostic(
                    Mark(GCLOUD),
                    "gcloud is not on PATH; --live runs `gcloud run services describe`",
                    "install the Google Cloud CLI and run `gcloud auth login`, or export the "
                    "services and pass --from DIR",
                )
            ]
        )
    return found


def _run(arguments: list[str]) -> subprocess.CompletedProcess[bytes]:
    command = " ".join([GCLOUD, *arguments])
    environ = {**os.environ, "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    try:
        return subprocess.run(
            [_gcloud(), *arguments],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=GCLOUD_TIMEOUT_S,
            env=environ,
            check=False,
        )
    except subprocess.TimeoutExpired:
        message = f"`{command}` did not finish within {GCLOUD_TIMEOUT_S}s"
    except OSError as exc:
        message = f"cannot run `{command}`: {exc.strerror}"
    raise CompileError([Diagnostic(Mark(GCLOUD), message)])


def _failure(arguments: list[str], stderr: str, code: int) -> CompileError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    first = next((line for line in lines if line.startswith("ERROR:")), lines[0] if lines else "")
    reason = first.split(") ", 1)[-1] if first.startswith("ERROR: (") else first
    command = " ".join([GCLOUD, *arguments])
    hint = ""
    if any(marker in stderr for marker in NOT_LOGGED_IN):  # the same for every service: once
        command = " ".join([GCLOUD, *arguments[:3]])
        hint = (
            "run `gcloud auth login` (in CI: authenticate the job first), or export the "
            "services and pass --from DIR"
        )
    message = f"`{command}` failed (exit {code}): {reason or 'no message'}"
    return CompileError([Diagnostic(Mark(GCLOUD), message, hint)])


def describe(name: str, project: str, region: str) -> Export:
    """`gcloud run services describe` of one service; not found: not deployed."""
    arguments = ["run", "services", "describe", name, "--region", region]
    arguments += ["--project", project, "--format", "export"]
    source = f"gcloud run services describe {name}"
    done = _run(arguments)
    stderr = done.stderr.decode("utf-8", "replace")
    if done.returncode != 0:
        if NOT_FOUND in stderr:
            return Export(name, source, None)
        raise _failure(arguments, stderr, done.returncode)
    return Export(name, source, parse_export(done.stdout, source, name))


def live_names(project: str, region: str) -> list[str]:
    """The names of every Cloud Run service in `project` and `region`."""
    arguments = ["run", "services", "list", "--region", region, "--project", project]
    arguments += ["--format", "value(metadata.name)"]
    done = _run(arguments)
    if done.returncode != 0:
        raise _failure(arguments, done.stderr.decode("utf-8", "replace"), done.returncode)
    text = done.stdout.decode("utf-8", "replace")
    return sorted({line.strip() for line in text.splitlines() if line.strip()})


def _describe_all(names: Sequence[str], project: str, region: str) -> list[Export]:
    """`describe` of each name, a few at a time (each call waits on the network); every
    failure is reported, not only the first."""
    if not names:
        return []

    def one(name: str) -> Export | CompileError:
        try:
            return describe(name, project, region)
        except CompileError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(GCLOUD_CALLS, len(names))) as pool:
        results = list(pool.map(one, names))
    errors = [d for r in results if isinstance(r, CompileError) for d in r.diagnostics]
    if errors:
        raise CompileError(errors)
    return [r for r in results if isinstance(r, Export)]


def from_gcloud(
    names: Sequence[str], project: str, region: str, ours: re.Pattern[str] | None
) -> Deployed:
    """`from_folder`, asking gcloud: each declared service, then others named like ours.

    When the services cannot be listed (a role that may describe but not list), the
    declared ones are still compared, and the report says what it could not look for.
    """
    declared = _describe_all(names, project, region)
    if ours is None:
        return Deployed(declared, [])
    try:
        listed = live_names(project, region)
    except CompileError as exc:
        reason = "; ".join(d.message for d in exc.diagnostics)
        warning = f"{reason}; services deployed under our names but not declared are not reported"
        return Deployed(declared, [], (warning,))
    extra = [name for name in listed if ours.fullmatch(name) and name not in names]
    return Deployed(declared, _describe_all(extra, project, region))
