"""Every generated timeouts.py loads every standard way, on every Python 3.11+ installed.

A stdlib-only constants module is often loaded without packaging it: by a normal import
from its folder, by path through importlib (without registering it in sys.modules), or
with runpy. Each way is tried in a fresh interpreter of each supported version found.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_repo
from golden.cases import case_names, prepare

from compiler.pipeline import compile_repository

SUPPORTED_MINORS = range(11, 15)

# Runs in the interpreter under test: loads each module three ways, prints what each saw.
PROBE = r"""
import importlib, importlib.util, json, pathlib, runpy, sys
folder = pathlib.Path(sys.argv[1])
sys.path.insert(0, str(folder))
seen = {}
for path in sorted(folder.glob("*.py")):
    spec = importlib.util.spec_from_file_location(f"by_path_{path.stem}", path)
    by_path = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(by_path)  # deliberately not put in sys.modules first
    assert spec.name not in sys.modules
    ways = {
        "import": vars(importlib.import_module(path.stem)),
        "path": vars(by_path),
        "runpy": runpy.run_path(str(path)),
    }
    for way, names in ways.items():
        names["verify_environment"]({})
        seen[f"{path.stem} {way}"] = [names["CLOUD_RUN_SERVICE"], repr(names["TIMEOUTS"])]
print(json.dumps(seen))
"""


def interpreters() -> list[object]:
    """One working interpreter per supported minor version that this machine has."""
    found = {sys.version_info[:2]: sys.executable}
    for minor in SUPPORTED_MINORS:
        candidates = [shutil.which(f"python3.{minor}") or ""]
        candidates += sorted(
            str(p) for p in Path.home().glob(f".pyenv/versions/3.{minor}.*/bin/python3.{minor}")
        )
        for candidate in candidates:
            if (3, minor) in found or not candidate:
                continue
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[1])"],
                capture_output=True,
                text=True,
                check=False,
            )
            if probe.returncode == 0 and probe.stdout.strip() == str(minor):
                found[(3, minor)] = candidate
    return [pytest.param(found[v], id=f"python{v[0]}.{v[1]}") for v in sorted(found)]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Every timeouts.py of the shipped repository and the golden cases, freshly compiled.

    Returns their folder and, by module name, the Cloud Run service each was built for.
    """
    base = tmp_path_factory.mktemp("repos")
    roots = {"shipped": copy_repo(base / "shipped", with_out=False)}
    roots.update({case: prepare(case, base / case) for case in case_names()})
    folder = tmp_path_factory.mktemp("modules")
    services: dict[str, str] = {}
    for case, root in roots.items():
        compilation = compile_repository(root)
        for profile in compilation.profiles:
            for service in profile.services:
                content = compilation.outputs.get(f"out/{profile.name}/{service.name}/timeouts.py")
                if content is None:
                    continue
                name = re.sub(r"\W", "_", f"m_{case}__{profile.name}__{service.name}")
                (folder / f"{name}.py").write_bytes(content)
                services[name] = service.cloud_run_name
    return folder, services


@pytest.mark.parametrize("python", interpreters())
def test_timeouts_py_loads_by_path_without_sys_modules(
    generated: tuple[Path, dict[str, str]], python: str
) -> None:
    """Normal import, importlib by path without sys.modules, and runpy.run_path all work."""
    folder, services = generated
    result = subprocess.run(
        [python, "-I", "-c", PROBE, str(folder)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert len(seen) == 3 * len(services) > 0
    for name, cloud_run_name in services.items():
        ways = [seen[f"{name} {way}"] for way in ("import", "path", "runpy")]
        assert ways[0][0] == cloud_run_name, name
        assert ways[0] == ways[1] == ways[2], name
