"""Golden tests: each case in tests/golden/ compiles to exactly its committed out/ tree.

On a difference the failure shows a unified diff per file. `pytest --update-goldens`
rewrites the expected trees instead of comparing; nothing else ever writes them.
"""

from __future__ import annotations

import difflib
import shutil
from pathlib import Path

import pytest
from conftest import Run, tree_bytes
from golden.cases import GOLDEN, case_names, prepare


def tree_differences(expected: dict[str, bytes], got: dict[str, bytes]) -> list[str]:
    """A unified diff for every differing file; a line for every missing or extra one."""
    problems: list[str] = []
    for path in sorted(expected.keys() | got.keys()):
        old, new = expected.get(path), got.get(path)
        if old == new:
            continue
        if new is None:
            problems.append(f"expected out/{path} was not generated")
        elif old is None:
            problems.append(f"out/{path} was generated but is not expected")
        else:
            problems.append(
                "".join(
                    difflib.unified_diff(
                        old.decode().splitlines(keepends=True),
                        new.decode().splitlines(keepends=True),
                        f"expected/out/{path}",
                        f"generated/out/{path}",
                    )
                )
            )
    return problems


def write_expected(folder: Path, outputs: dict[str, bytes]) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    for path, content in outputs.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)


def test_there_are_golden_cases() -> None:
    assert len(case_names()) >= 4


@pytest.mark.parametrize("case", case_names())
def test_golden(case: str, run: Run, tmp_path: Path, update_goldens: bool) -> None:
    root = prepare(case, tmp_path / case)
    result = run("build", "--root", root)
    assert result.exit_code == 0, result.stderr
    got = tree_bytes(root / "out")
    expected_folder = GOLDEN / case / "out"
    if update_goldens:
        write_expected(expected_folder, got)
        return
    assert expected_folder.is_dir(), f"no expected out/ for {case}: run pytest --update-goldens"
    problems = tree_differences(tree_bytes(expected_folder), got)
    assert not problems, f"{case}: outputs differ from tests/golden/{case}/out\n" + "\n".join(
        problems
    )


def test_a_difference_is_shown_as_a_unified_diff() -> None:
    expected = {"a/x.env": b"A=1.0\nB=2.0\n", "gone.txt": b"x\n"}
    got = {"a/x.env": b"A=1.0\nB=2.5\n", "new.txt": b"y\n"}
    assert tree_differences(expected, got) == [
        "--- expected/out/a/x.env\n+++ generated/out/a/x.env\n@@ -1,2 +1,2 @@\n"
        " A=1.0\n-B=2.0\n+B=2.5\n",
        "expected out/gone.txt was not generated",
        "out/new.txt was generated but is not expected",
    ]


def test_custom_templates_are_exactly_the_outputs() -> None:
    names = {p.name for p in (GOLDEN / "custom-templates" / "out").rglob("*") if p.is_file()}
    assert names == {".timeoutc-manifest.json", "README.txt", "configmap.yaml", "timeouts.env"}
