"""Outputs are a function of the inputs only: same bytes twice, anywhere, from any folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Run, copy_repo, tree_bytes
from golden.cases import case_names, prepare

from compiler.pipeline import compile_repository


def test_the_shipped_out_is_current(run: Run) -> None:
    result = run("check", "--root", REPO)
    assert result.exit_code == 0, result.stderr


def test_compiling_twice_gives_the_same_bytes() -> None:
    first = compile_repository(REPO).outputs
    second = compile_repository(REPO).outputs
    assert first == second
    assert list(first) == list(second)  # the same order, too


@pytest.mark.parametrize("case", ["shipped", *case_names()])
def test_check_right_after_build_is_clean(run: Run, tmp_path: Path, case: str) -> None:
    root = (
        copy_repo(tmp_path / case, with_out=False)
        if case == "shipped"
        else prepare(case, tmp_path / case)
    )
    assert run("build", "--root", root).exit_code == 0
    before = tree_bytes(root / "out")
    result = run("check", "--root", root)
    assert result.exit_code == 0, result.stderr
    second = run("build", "--root", root)
    assert second.exit_code == 0
    assert " 0 written, 0 removed" in second.stderr
    assert tree_bytes(root / "out") == before


def test_outputs_do_not_depend_on_the_root_path_or_the_current_folder(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shallow = copy_repo(tmp_path / "a", with_out=False)
    deep = copy_repo(tmp_path / "b" / "much" / "deeper" / "checkout with space", with_out=False)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert run("build", "--root", shallow).exit_code == 0
    monkeypatch.chdir(deep / "profiles")
    assert run("build").exit_code == 0  # root found upward
    monkeypatch.chdir(deep.parent)
    assert run("check", "--root", deep.name).exit_code == 0  # a relative --root
    expected = tree_bytes(REPO / "out")
    assert tree_bytes(shallow / "out") == expected
    assert tree_bytes(deep / "out") == expected


def test_outputs_do_not_depend_on_hash_seed_locale_or_time_zone(tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "r", with_out=False)
    env = {
        **os.environ,
        "PYTHONHASHSEED": "4242",
        "TZ": "Pacific/Chatham",
        "LC_ALL": "C",
        "LANG": "C",
        "SOURCE_DATE_EPOCH": "0",
    }
    env.pop("TIMEOUTC_DEBUG", None)
    result = subprocess.run(
        [sys.executable, "-m", "compiler", "build", "--root", str(root)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert tree_bytes(root / "out") == tree_bytes(REPO / "out")


def test_profile_files_are_read_whatever_their_modification_order(run: Run, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "r", with_out=False)
    for index, path in enumerate(sorted((root / "profiles").iterdir(), reverse=True)):
        os.utime(path, (1_000_000 + index, 1_000_000 + index))
    assert run("build", "--root", root).exit_code == 0
    assert tree_bytes(root / "out") == tree_bytes(REPO / "out")


def test_outputs_use_lf_and_end_with_one_newline() -> None:
    for path, content in compile_repository(REPO).outputs.items():
        assert b"\r" not in content, path
        assert content.endswith(b"\n") and not content.endswith(b"\n\n"), path
