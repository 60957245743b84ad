"""The package as users get it: `python -m build` makes an sdist and a wheel that twine
accepts, and the wheel, installed into a fresh virtualenv outside the source tree, carries
its templates, schema and scaffold and works. Slow (builds and installs); `make test`
runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO

from compiler import __version__

pytestmark = pytest.mark.slow
INSTALL_TIMEOUT_S = 900


def source_tree(destination: Path) -> Path:
    """The repository's files (tracked, and new ones git does not ignore), copied."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for relative in filter(None, listed.split("\0")):
        source = REPO / relative
        if source.is_file() and not source.is_symlink():
            target = destination / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return destination


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=INSTALL_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def clean_env(bin_dir: Path | None = None) -> dict[str, str]:
    """The environment without this test run's Python settings (nothing points at the tree)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    if bin_dir is not None:
        env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return env


def fresh_venv(folder: Path) -> Path:
    """A new virtualenv with pip; its bin/ folder."""
    venv.create(folder, with_pip=True, clear=True)
    return folder / "bin"


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    if shutil.which("git") is None:
        pytest.skip("needs git to list the source files")
    work = tmp_path_factory.mktemp("package")
    source = source_tree(work / "source")
    out = work / "dist"
    run(sys.executable, "-m", "build", "--outdir", out, source, cwd=work, env=clean_env())
    yield out


def test_build_makes_an_sdist_and_a_wheel_that_twine_accepts(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"timeoutc-{__version__}-py3-none-any.whl", f"timeoutc-{__version__}.tar.gz"]
    output = run(sys.executable, "-m", "twine", "check", "--strict", *dist.iterdir(), cwd=dist)
    assert output.count("PASSED") == 2


def test_the_wheel_carries_every_data_file(dist: Path) -> None:
    wheel = next(dist.glob("*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"timeoutc-{__version__}.dist-info/METADATA").decode()
    data = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "compiler" / "data").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert data <= names, sorted(data - names)
    assert "compiler/py.typed" in names
    assert f"\nVersion: {__version__}\n" in metadata


def test_the_version_is_written_in_one_place() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "compiler.__version__"}


def test_the_installed_wheel_works_outside_the_source_tree(dist: Path, tmp_path: Path) -> None:
    bin_dir = fresh_venv(tmp_path / "venv")
    env = clean_env(bin_dir)
    run(bin_dir / "python", "-m", "pip", "install", "--quiet", next(dist.glob("*.whl")),
        cwd=tmp_path, env=env)  # fmt: skip
    timeoutc = bin_dir / "timeoutc"
    where = run(bin_dir / "python", "-c", "import compiler; print(compiler.__file__)",
                cwd=tmp_path, env=env)  # fmt: skip
    assert Path(where.strip()).is_relative_to(tmp_path / "venv")
    assert run(timeoutc, "--version", cwd=tmp_path, env=env).strip() == (
        f"timeoutc, version {__version__}"
    )
    created = run(timeoutc, "init", "config", cwd=tmp_path, env=env)
    assert "created config/templates/service.yaml.j2" in created
    assert "created config/schemas/profile.schema.json" in created
    config = tmp_path / "config"
    assert "0 written" in run(timeoutc, "build", "--root", config, cwd=tmp_path, env=env)
    assert "out/ is current" in run(timeoutc, "check", cwd=config, env=env)
    explained = run(timeoutc, "explain", "staging", "api", "database.connect", cwd=config, env=env)
    assert "database.connect" in explained
    schema = run(timeoutc, "schema", cwd=tmp_path, env=env)
    assert schema == (REPO / "schemas" / "profile.schema.json").read_text(encoding="utf-8")


def test_the_action_install_step_installs_the_action_checkout(tmp_path: Path) -> None:
    """The Action's install step, as GitHub runs it, with the action's folder as checked out."""
    import yaml

    if shutil.which("bash") is None or shutil.which("git") is None:
        pytest.skip("needs bash and git")
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    step = next(s for s in action["runs"]["steps"] if s.get("name") == "Install timeoutc")
    checkout = source_tree(tmp_path / "action")
    bin_dir = fresh_venv(tmp_path / "venv")
    env = {**clean_env(bin_dir), "TIMEOUTC_VERSION": "", "ACTION_PATH": str(checkout)}
    assert set(step["env"]) == {"TIMEOUTC_VERSION", "ACTION_PATH"}
    output = run("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"],
                 cwd=tmp_path, env=env)  # fmt: skip
    assert f"timeoutc, version {__version__}" in output
    assert (bin_dir / "timeoutc").exists()
