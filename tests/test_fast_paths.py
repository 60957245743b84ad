"""The performance shortcuts give exactly what the slow paths give."""

from __future__ import annotations

import gc
import os
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.diagnostics import CompileError
from compiler.durations import scale_ms
from compiler.pipeline.collector import ALLOCATIONS_PER_COLLECTION, rare_collections
from compiler.pipeline.readback import load_yaml
from compiler.writer.emit import read_out


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types all the way down (`True == 1`, but not here)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)  # NaN


def outcome(load: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", load(text)
    except Exception as exc:
        return "error", (type(exc), str(exc))


def assert_reads_like_pyyaml(text: str) -> None:
    fast = outcome(load_yaml, text)
    slow = outcome(lambda t: yaml.load(t, Loader=yaml.CSafeLoader), text)
    assert fast[0] == slow[0], text
    assert same(fast[1], slow[1]), text


def test_readback_of_every_shipped_output() -> None:
    files = sorted((REPO / "out").rglob("*.yaml"))
    assert files
    for path in files:
        assert_reads_like_pyyaml(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "---",
        "a: 1\n---\nb: 2\n",
        "a: &x 1\nb: *x\n",
        "<<: {a: 1}\nb: 2\n",
        "a: <<\n",
        "!!str 5",
        "a: !!int '7'\n",
        "a: yes\nb: 0777\nc: 12:30\nd: 1e3\ne: .inf\nf: ~\ng: 2001-12-14\nh: .nan\ni: 0x1F\n",
        "[1, {a: b}, [c]]",
        "? [a]\n: b\n",
        "a: [",
        "a: =\n",
        "a: '5.0'\nb: \"x\\ty\"\nc: |\n  block\n",
        "- - 1\n  - 2\n- {}\n- []\n",
        "a: 1\na: 2\nb: 3\n",
        "key: !foo bar\n",
        "'a': b\n\"c\": d\n",
        "a: ! 5\n",
        "{1: a, true: b, null: c, 1.5: d}",
        "a:\n  - b: {c: [1, 2, {d: e}]}\n",
    ],
)
def test_readback_of_odd_documents(text: str) -> None:
    assert_reads_like_pyyaml(text)


YAML_PIECES = st.sampled_from(
    [
        "a",
        "b",
        ": ",
        ":",
        "- ",
        "\n",
        "  ",
        "'",
        '"',
        "#",
        "&x ",
        "*x",
        "!",
        "!!str ",
        "<<",
        "{",
        "}",
        "[",
        "]",
        ",",
        "yes",
        "0777",
        "1.5",
        "~",
        "null",
        "---",
        "? ",
        "|",
        ">",
        "12:30",
        "=",
        "\t",
        "\\",
        "é",
        "0x1F",
        ".inf",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(YAML_PIECES, max_size=30).map("".join))
def test_readback_of_arbitrary_text(text: str) -> None:
    assert_reads_like_pyyaml(text)


def test_rare_collections_restores_the_threshold() -> None:
    before = gc.get_threshold()
    with rare_collections():
        assert gc.get_threshold()[0] == max(before[0], ALLOCATIONS_PER_COLLECTION)
    assert gc.get_threshold() == before


def test_rare_collections_keeps_automatic_collection_off() -> None:
    before = gc.get_threshold()
    gc.set_threshold(0)
    try:
        with rare_collections():
            assert gc.get_threshold()[0] == 0
    finally:
        gc.set_threshold(*before)


FACTORS = st.fractions(min_value=Fraction(1, 10**6), max_value=100)


@given(st.integers(min_value=1, max_value=86_400_000), st.lists(FACTORS, max_size=3))
def test_scale_ms_is_the_exact_ceiling(base_ms: int, factors: list[Fraction]) -> None:
    product = Fraction(base_ms)
    for factor in factors:
        product *= factor
    assert scale_ms(base_ms, *factors) == -(-product.numerator // product.denominator)


def test_generated_outputs_read_back_like_pyyaml(tmp_path: Path) -> None:
    from bench.floor import outputs
    from bench.generate import generate

    root = generate(tmp_path / "repo", 4, 4)
    texts = [v.decode() for k, v in outputs(root).items() if k.endswith(".yaml")]
    assert len(texts) == 32
    for text in texts:
        assert_reads_like_pyyaml(text)


# --- reading out/ ---------------------------------------------------------------------------


def walk_out(root: Path) -> tuple[dict[str, bytes], list[str]]:
    """The os.walk reading of out/ that read_out replaced, as the reference."""
    found: dict[str, bytes] = {}
    errors: list[str] = []
    for folder, dirs, files in os.walk(root / "out"):
        relative_folder = Path(folder).relative_to(root).as_posix()
        for name in list(dirs):
            if name.startswith("."):
                dirs.remove(name)
            elif (Path(folder) / name).is_symlink():
                errors.append(f"{relative_folder}/{name}: link")
                dirs.remove(name)
        dirs.sort()
        for name in sorted(files):
            full = Path(folder) / name
            if name.startswith("."):
                continue
            if full.is_symlink() or not full.is_file():
                errors.append(f"{relative_folder}/{name}: not regular")
                continue
            found[f"{relative_folder}/{name}"] = full.read_bytes()
    return found, errors


def test_read_out_reads_what_os_walk_reads(tmp_path: Path) -> None:
    out = tmp_path / "out"
    for folder in ("b/x", "a", ".hidden", "a/.cache"):
        (out / folder).mkdir(parents=True)
    for name in ("b/x/2", "b/x/1", "a/f", ".hidden/f", "a/.cache/f", "a/.dot", "top"):
        (out / name).write_bytes(name.encode())
    assert list(read_out(tmp_path)) == list(walk_out(tmp_path)[0])
    assert read_out(tmp_path) == walk_out(tmp_path)[0]
    expected = {"out/a/f": b"a/f", "out/top": b"changed", "out/gone": b"x"}
    shared = read_out(tmp_path, expected)
    assert shared == walk_out(tmp_path)[0]
    assert shared["out/a/f"] is expected["out/a/f"]  # held once: the output's own bytes
    assert shared["out/top"] == b"top"
    (out / "a" / "link").symlink_to(out / "top")
    (out / "dirlink").symlink_to(out / "b")
    (out / "broken").symlink_to(out / "nowhere")
    os.mkfifo(out / "a" / "fifo")
    assert len(walk_out(tmp_path)[1]) == 4
    with pytest.raises(CompileError) as caught:
        read_out(tmp_path)
    assert [str(d.mark) for d in caught.value.diagnostics] == [
        "out/a/fifo",
        "out/a/link",
        "out/broken",
        "out/dirlink",
    ]
