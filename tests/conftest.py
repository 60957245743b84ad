"""Shared fixtures: the shipped repository, throwaway copies of it, and a CLI runner."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from click.testing import CliRunner

from compiler.cli.main import main

REPO = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="Rewrite the expected files of golden tests instead of comparing.",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@dataclass(frozen=True)
class Result:
    """What a command printed and how it exited."""

    exit_code: int
    stdout: str
    stderr: str


Run = Callable[..., Result]


@pytest.fixture
def run() -> Run:
    """Run `timeoutc ARGS...` in-process; returns exit code, stdout and stderr."""

    def invoke(*args: str | Path, input: str | None = None) -> Result:
        runner = CliRunner()
        result = runner.invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)
        return Result(result.exit_code, result.stdout, result.stderr)

    return invoke


def copy_repo(destination: Path, *, with_out: bool = True) -> Path:
    """A copy of the shipped config repository (profiles, schemas, templates, out)."""
    for folder in ("profiles", "schemas", "templates") + (("out",) if with_out else ()):
        shutil.copytree(REPO / folder, destination / folder)
    return destination


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway copy of the shipped repository, out/ included and current."""
    return copy_repo(tmp_path / "repo")


def write_profile(root: Path, name: str, text: str) -> Path:
    """Write profiles/<name>.yaml in `root`."""
    path = root / "profiles" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def at(text: str, needle: str, file: str = "profiles/base.yaml") -> str:
    """`file:line:col` of the character after '|' in `needle`, found in `text`."""
    before, after = needle.split("|")
    offset = text.index(before + after) + len(before)
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"{file}:{line}:{column}"


def errors(stderr: str) -> list[str]:
    """The error lines of what a command printed on stderr."""
    return [line for line in stderr.splitlines() if ": error: " in line]


def tree_bytes(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` with its bytes, for before/after comparisons."""
    if not folder.exists():
        return {}
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def load_module(path: Path, name: str = "timeouts") -> ModuleType:
    """A generated module loaded from its path, without sys.modules, as a user would load it."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
