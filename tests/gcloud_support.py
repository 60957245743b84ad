"""Offline check that files parse the way ``gcloud run services replace FILE`` parses them.

The check runs gcloud's own code, not a re-implementation of it: one subprocess, started
with the interpreter the ``gcloud`` launcher script would pick and the SDK's ``lib``
directory on ``sys.path``, builds gcloud's real CLI once and then executes
``gcloud run services replace FILE --project=... --quiet`` for every file. Only the calls
that would reach the network are replaced:

* ``serverless_operations.Connect``, the first call that talks to the Cloud Run API (it
  comes after the YAML load, the dict -> ``run.v1.Service`` conversion, the namespace and
  region handling), now stops the command and marks the file as accepted;
* ``projects_util.GetProjectNumber``, which gcloud calls when ``metadata.namespace`` is set,
  now returns a fake number instead of asking Cloud Resource Manager (or, when no project
  is given, a value that makes the file's own namespace pass).

``YAMLFileContents.__call__`` (the argparse type of FILE) is wrapped, not replaced, to keep
the document gcloud loaded for the ``apiVersion``/``kind`` check below.

So everything gcloud does before its first API call runs for real, in the same order:

1. argparse's ``YAMLFileContents`` loads the file with ``googlecloudsdk.core.yaml``
   (ruamel, YAML 1.1, so ``yes`` is a bool, ``0777`` is 511, ``12:30`` is 750); several
   documents, no document or a top-level scalar are argument errors;
2. ``status`` is dropped and a non-string ``metadata.namespace`` is turned into a string;
3. ``messages_util.DictToMessageWithErrorCheck(dict, run_messages.Service)`` rejects unknown
   fields and values of the wrong type, then ``service.Service(...)`` wraps the message;
4. managed platform: ``metadata.namespace`` must be the project ID or its number;
5. ``metadata.name`` must be present (it becomes the resource name);
6. the region is ``--region``, else the ``cloud.googleapis.com/location`` label; with
   neither, gcloud fails ("You must specify a region") since prompts are disabled.

gcloud itself does not look at ``apiVersion`` or ``kind``. With ``require_knative_service``
(the default) this module adds that one check on top, and says so in its message.

The subprocess is hermetic: an empty temporary ``CLOUDSDK_CONFIG`` and ``HOME``, none of
the caller's ``CLOUDSDK_*``/proxy variables, prompts, usage reporting, update checks,
surveys and file logging turned off, and sockets disabled inside the process.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

__all__ = [
    "GCLOUD_PYTHON_AVAILABLE",
    "GCLOUD_SKIP_REASON",
    "GcloudCheckError",
    "GcloudRuntime",
    "find_gcloud_python",
    "find_gcloud_sdk",
    "gcloud_parse_errors",
    "gcloud_runtime",
]

# The range the launcher script (bin/gcloud) accepts for a non-bundled interpreter.
_MIN_PYTHON: Final = (3, 8)
_MAX_PYTHON: Final = (3, 13)
_FALLBACK_PYTHONS: Final = (
    "python3",
    "python3.12",
    "python3.13",
    "python3.11",
    "python3.10",
    "python3.9",
    "python3.8",
    "python",
)
_COMMON_SDK_ROOTS: Final = (
    "/usr/lib/google-cloud-sdk",
    "/usr/lib64/google-cloud-sdk",
    "/usr/share/google-cloud-sdk",
    "/opt/google-cloud-sdk",
    "/snap/google-cloud-cli/current",
    "/snap/google-cloud-sdk/current",
)

KNATIVE_API_VERSION: Final = "serving.knative.dev/v1"
KNATIVE_KIND: Final = "Service"


class GcloudCheckError(RuntimeError):
    """The check itself could not run (no SDK, interpreter failure, changed gcloud code)."""


@dataclass(frozen=True)
class GcloudRuntime:
    """Where the SDK is and how the ``gcloud`` launcher would start its Python."""

    sdk_root: Path
    python: str
    python_args: tuple[str, ...]
    site_packages: bool

    @property
    def lib_dir(self) -> Path:
        return self.sdk_root / "lib"


def _is_sdk_root(root: Path) -> bool:
    lib = root / "lib"
    return (
        (lib / "gcloud.py").is_file()
        and (lib / "googlecloudsdk" / "gcloud_main.py").is_file()
        and (lib / "surface" / "run" / "services" / "replace.py").is_file()
    )


@functools.cache
def find_gcloud_sdk() -> Path | None:
    """Return the Google Cloud SDK root holding ``run services replace``, or None."""
    candidates: list[Path] = []
    gcloud = shutil.which("gcloud")
    if gcloud is not None:
        # bin/gcloud is usually a symlink (/usr/bin/gcloud -> <root>/bin/gcloud).
        candidates.append(Path(gcloud).resolve().parent.parent)
    candidates.extend(Path(root) for root in _COMMON_SDK_ROOTS)
    for root in candidates:
        if _is_sdk_root(root):
            return root
    return None


def _python_in_range(python: str) -> bool:
    lo, hi = _MIN_PYTHON, _MAX_PYTHON
    check = f"import sys; sys.exit(0 if {lo} <= sys.version_info[:2] <= {hi} else 1)"
    try:
        proc = subprocess.run(
            [python, "-c", check],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0


def find_gcloud_python(sdk_root: Path) -> tuple[str, tuple[str, ...], bool] | None:
    """Pick the interpreter as bin/gcloud does: ``(python, args, site_packages)`` or None.

    Order: ``$CLOUDSDK_PYTHON``; the bundled ``platform/bundledpythonunix/bin/python3`` on
    x86_64 (with site packages); the first of python3, python3.12, ... that is 3.8-3.13
    (started with ``-S``, as the launcher does without site packages).
    """
    configured = os.environ.get("CLOUDSDK_PYTHON")
    if configured:
        python = shutil.which(configured) or configured
        site = bool(os.environ.get("CLOUDSDK_PYTHON_SITEPACKAGES"))
        return (python, () if site else ("-S",), site) if _python_in_range(python) else None
    bundled = sdk_root / "platform" / "bundledpythonunix" / "bin" / "python3"
    if (
        platform.machine() == "x86_64"
        and os.access(bundled, os.X_OK)
        and _python_in_range(str(bundled))
    ):
        return str(bundled), (), True
    for name in _FALLBACK_PYTHONS:
        candidate = shutil.which(name)
        if candidate is not None and _python_in_range(candidate):
            return candidate, ("-S",), False
    return None


@functools.cache
def gcloud_runtime() -> GcloudRuntime | None:
    """The SDK and interpreter to run gcloud's code with, or None when either is missing."""
    sdk = find_gcloud_sdk()
    if sdk is None:
        return None
    found = find_gcloud_python(sdk)
    if found is None:
        return None
    python, args, site = found
    return GcloudRuntime(sdk_root=sdk, python=python, python_args=args, site_packages=site)


GCLOUD_PYTHON_AVAILABLE: Final[bool] = gcloud_runtime() is not None
GCLOUD_SKIP_REASON: Final = (
    "Google Cloud SDK (gcloud with lib/surface/run/services/replace.py) "
    "or a Python 3.8-3.13 interpreter for it not found"
)


# Runs inside the SDK's interpreter, which may be as old as Python 3.8: keep it plain.
_CHECKER_SOURCE: Final = r'''
import json
import logging
import socket
import sys
import warnings


class ReachedApi(BaseException):
    """Raised where gcloud would open its first Cloud Run API connection."""


def _no_network(*args, **kwargs):
    raise OSError("network disabled by timeoutc's offline gcloud check")


def _block_network():
    socket.socket.connect = _no_network
    socket.socket.connect_ex = _no_network
    socket.create_connection = _no_network
    socket.getaddrinfo = _no_network


class _Capture(logging.Handler):
    def __init__(self):
        logging.Handler.__init__(self, logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def _text(value):
    return value if isinstance(value, str) else str(value)


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        job = json.load(handle)
    lib = job["lib"]
    if lib not in sys.path:
        sys.path.insert(0, lib)
    # lib/gcloud.py is the launcher's entry module: importing it puts lib/third_party
    # on sys.path exactly as `gcloud` does; then apply its other two path fix-ups.
    import gcloud

    sys.path = gcloud.reorder_sys_path(sys.path)
    gcloud._fix_google_module()
    _block_network()

    from googlecloudsdk import gcloud_main
    from googlecloudsdk.calliope import arg_parsers
    from googlecloudsdk.command_lib.projects import util as projects_util
    from googlecloudsdk.command_lib.run import serverless_operations

    for owner, name in (
        (serverless_operations, "Connect"),
        (projects_util, "GetProjectNumber"),
        (arg_parsers.YAMLFileContents, "__call__"),
    ):
        if not callable(getattr(owner, name, None)):
            sys.stderr.write("gcloud changed: %s.%s is gone\n" % (owner.__name__, name))
            sys.exit(3)

    loaded = []
    load_file = arg_parsers.YAMLFileContents.__call__

    def recording_load_file(self, name):
        # gcloud's own argparse type for FILE; keep what it produced.
        data = load_file(self, name)
        loaded.append(data)
        return data

    def fake_connect(conn_context):
        raise ReachedApi(getattr(conn_context, "region", None))

    def file_namespace():
        document = loaded[-1] if loaded else None
        metadata = document.get("metadata") if isinstance(document, dict) else None
        return metadata.get("namespace") if isinstance(metadata, dict) else None

    def fake_project_number(project_id):
        # Called only when the file sets metadata.namespace, which gcloud then requires
        # to equal the project ID or str(project number). Without a given project, any
        # namespace passes, as if --project were the file's own namespace.
        if job["project"] is None and file_namespace() is not None:
            return file_namespace()
        return job["fake_project_number"]

    arg_parsers.YAMLFileContents.__call__ = recording_load_file
    serverless_operations.Connect = fake_connect
    projects_util.GetProjectNumber = fake_project_number

    cli = gcloud_main.CreateCLI([])
    capture = _Capture()
    logging.getLogger().addHandler(capture)
    project = job["project"] if job["project"] is not None else job["default_project"]

    def kind_error():
        document = loaded[-1] if loaded else None
        api_version = document.get("apiVersion") if isinstance(document, dict) else None
        kind = document.get("kind") if isinstance(document, dict) else None
        if api_version == job["api_version"] and kind == job["kind"]:
            return None
        return (
            "apiVersion/kind must be %s %s, found %r %r (gcloud does not check "
            "this itself; the Cloud Run API needs a Knative Service)"
            % (job["api_version"], job["kind"], api_version, kind)
        )

    def logged_error():
        return any(record.levelno >= logging.ERROR for record in capture.records)

    results = []
    for path in job["paths"]:
        argv = ["run", "services", "replace", path, "--project=" + project]
        if job["region"] is not None:
            argv.append("--region=" + job["region"])
        argv.append("--quiet")
        del capture.records[:]
        del loaded[:]
        errors = []
        warned = []
        reached = False
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                cli.Execute(argv, call_arg_complete=False)
                errors.append("gcloud finished without reaching the API call (unexpected)")
            except ReachedApi:
                reached = True
            except SystemExit as exc:
                if not logged_error():
                    errors.append("gcloud exited with status %r" % (exc.code,))
            except BaseException as exc:
                # Known errors were logged as "ERROR: (gcloud....) message" (used below);
                # anything else is what gcloud would report as a crash.
                if not logged_error():
                    errors.append("%s: %s" % (type(exc).__name__, _text(exc)))
        for record in capture.records:
            message = "%s: %s" % (record.levelname, record.getMessage())
            (errors if record.levelno >= logging.ERROR else warned).append(message)
        for warning in caught:
            warned.append("%s: %s" % (warning.category.__name__, warning.message))
        if reached and job["require_knative_service"]:
            problem = kind_error()
            if problem is not None:
                errors.append(problem)
        results.append({"ok": reached and not errors, "errors": errors, "warnings": warned})

    with open(sys.argv[2], "w", encoding="utf-8") as handle:
        json.dump(results, handle)


main()
'''

# gcloud compares a numeric namespace with the project's number; no real project has this.
_FAKE_PROJECT_NUMBER: Final = 999999999999
_DEFAULT_PROJECT: Final = "timeoutc-offline-check"


def _hermetic_env(runtime: GcloudRuntime, tmp: Path) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp / "home"),
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONIOENCODING": "UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "CLOUDSDK_ROOT_DIR": str(runtime.sdk_root),
        "CLOUDSDK_ENCODING": "UTF-8",
        "CLOUDSDK_CONFIG": str(tmp / "gcloud-config"),
        "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
        "CLOUDSDK_CORE_DISABLE_USAGE_REPORTING": "true",
        "CLOUDSDK_CORE_DISABLE_FILE_LOGGING": "true",
        "CLOUDSDK_CORE_PRINT_HANDLED_TRACEBACKS": "true",
        "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "true",
        "CLOUDSDK_SURVEY_DISABLE_PROMPTS": "true",
        "CLOUDSDK_RUN_PLATFORM": "managed",
    }
    if runtime.site_packages:
        env["CLOUDSDK_PYTHON_SITEPACKAGES"] = "1"
    return env


def gcloud_parse_errors(
    paths: Sequence[Path],
    *,
    project: str | None = None,
    region: str | None = None,
    require_knative_service: bool = True,
    warnings_as_errors: bool = True,
    timeout: float | None = None,
) -> dict[str, str]:
    """Return ``{str(path): message}`` for every file gcloud would reject; ``{}`` if none.

    All files go through one subprocess (about half a second to start, then a few
    milliseconds per file).

    Args:
        paths: the YAML files to check.
        project: the ``--project`` gcloud runs with; ``metadata.namespace`` must then be
            that ID (a numeric namespace never matches the fake project number). None
            (default): any ``metadata.namespace`` passes, as if ``--project`` were it.
        region: passed as ``--region``, which overrides the
            ``cloud.googleapis.com/location`` label; None (default): the file must carry
            that label, otherwise gcloud fails with "You must specify a region".
        require_knative_service: also require ``apiVersion: serving.knative.dev/v1`` and
            ``kind: Service``, which gcloud itself does not check.
        warnings_as_errors: count warnings (such as ruamel's duplicate mapping key
            warning, which gcloud prints but does not fail on) as errors.
        timeout: seconds for the subprocess; default 60 plus half a second per file.

    Raises:
        GcloudCheckError: no SDK or interpreter, or the checker itself failed.
    """
    path_list = list(paths)
    if not path_list:
        return {}
    runtime = gcloud_runtime()
    if runtime is None:
        raise GcloudCheckError(GCLOUD_SKIP_REASON)
    job = {
        "lib": str(runtime.lib_dir),
        "paths": [os.path.abspath(path) for path in path_list],
        "project": project,
        "region": region,
        "default_project": _DEFAULT_PROJECT,
        "fake_project_number": _FAKE_PROJECT_NUMBER,
        "require_knative_service": require_knative_service,
        "api_version": KNATIVE_API_VERSION,
        "kind": KNATIVE_KIND,
    }
    with tempfile.TemporaryDirectory(prefix="timeoutc-gcloud-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "home").mkdir()
        (tmp / "gcloud-config").mkdir()
        script = tmp / "gcloud_replace_check.py"
        script.write_text(_CHECKER_SOURCE, encoding="utf-8")
        job_file = tmp / "job.json"
        job_file.write_text(json.dumps(job), encoding="utf-8")
        out_file = tmp / "results.json"
        command = [
            runtime.python,
            *runtime.python_args,
            str(script),
            str(job_file),
            str(out_file),
        ]
        try:
            proc = subprocess.run(
                command,
                cwd=tmp,
                env=_hermetic_env(runtime, tmp),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                encoding="utf-8",
                errors="replace",
                timeout=timeout if timeout is not None else 60 + 0.5 * len(path_list),
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise GcloudCheckError(f"could not run {command[0]}: {exc}") from exc
        if proc.returncode != 0 or not out_file.is_file():
            raise GcloudCheckError(
                f"gcloud checker failed (exit {proc.returncode}) with {runtime.python}:\n"
                f"{proc.stderr[-4000:]}"
            )
        results = json.loads(out_file.read_text(encoding="utf-8"))
    if not isinstance(results, list) or len(results) != len(path_list):
        raise GcloudCheckError(f"gcloud checker returned malformed results: {results!r}")

    failures: dict[str, str] = {}
    for path, result in zip(path_list, results, strict=True):
        problems: list[str] = list(result["errors"])
        if warnings_as_errors:
            problems.extend(result["warnings"])
        if problems or not result["ok"]:
            failures[str(path)] = "\n".join(problems) or "rejected by gcloud"
    return failures
