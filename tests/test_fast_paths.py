"""The performance shortcuts give exactly what the slow paths give."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from conftest import REPO, Run, tree_bytes
from hypothesis import given, settings
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from compiler import cache, fanout, outputs, schema, verified
from compiler.collector import ALLOCATIONS_PER_COLLECTION, rare_collections
from compiler.diagnostics import CompileError
from compiler.durations import scale_ms
from compiler.emit import read_out
from compiler.fanout import groups
from compiler.outputs import render_outputs
from compiler.pipeline import compile_repository, load_profiles, resolve_all
from compiler.readback import load_yaml
from compiler.sandbox import MemoizedSandbox
from compiler.verify import verify_output


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


class Thing:
    """A plain object with a public and a private attribute."""

    def __init__(self) -> None:
        self.name = "thing"
        self._secret = "hidden"


@pytest.mark.parametrize(
    ("obj", "attribute"),
    [
        (Thing(), "name"),
        (Thing(), "_secret"),
        ([1, 2], "append"),
        ({"a": 1}, "update"),
        ({"a": 1}, "items"),
        ("text", "upper"),
        ((lambda: 1), "__globals__"),
        (Thing(), "__class__"),
        ({"name": "key"}, "name"),
        (Thing(), "missing"),
    ],
)
def test_memoized_sandbox_gives_the_sandbox_verdicts(obj: Any, attribute: str) -> None:
    plain = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    memo = MemoizedSandbox(undefined=jinja2.StrictUndefined)
    for _ in range(2):  # the second time, from the memo
        expected, got = plain.getattr(obj, attribute), memo.getattr(obj, attribute)
        assert type(got) is type(expected)
        if not isinstance(expected, jinja2.Undefined):
            assert got == expected


def test_memoized_sandbox_still_refuses_unsafe_templates() -> None:
    env = MemoizedSandbox(undefined=jinja2.StrictUndefined)
    template = env.from_string("{{ items.append(3) }}")
    for _ in range(2):
        with pytest.raises(SecurityError):
            template.render(items=[1, 2])
    assert env.from_string("{{ t.name }}{{ t.name }}").render(t=Thing()) == "thingthing"
    with pytest.raises(SecurityError):
        env.from_string("{{ t._secret }}").render(t=Thing())


def test_a_subclass_with_its_own_verdict_is_not_memoized() -> None:
    class ValueDependent(MemoizedSandbox):
        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            return value != "hidden-by-value" and super().is_safe_attribute(obj, attr, value)

    env = ValueDependent(undefined=jinja2.StrictUndefined)
    thing = Thing()
    assert env.getattr(thing, "name") == "thing"
    thing.name = "hidden-by-value"
    assert isinstance(env.getattr(thing, "name"), jinja2.Undefined)


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


# --- the memo -----------------------------------------------------------------------------


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("TIMEOUTC_CACHE_DIR", str(folder))
    monkeypatch.delenv("TIMEOUTC_NO_CACHE", raising=False)
    return folder


def test_memo_remembers_across_instances(cache_dir: Path) -> None:
    digest = cache.key(b"check", b"bytes")
    memo = cache.Memo("test")
    assert digest not in memo
    memo.add(digest)
    memo.save()
    assert digest in cache.Memo("test")
    assert digest not in cache.Memo("other")


def test_memo_keys_cannot_be_shifted_between_parts() -> None:
    assert cache.key(b"ab", b"c") != cache.key(b"a", b"bc")
    assert cache.key(b"a") == cache.key(b"a")


def test_memo_off_writes_nothing(cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEOUTC_NO_CACHE", "1")
    memo = cache.Memo("test")
    memo.add(cache.key(b"x"))
    memo.save()
    assert memo.path is None
    assert not cache_dir.exists()


def test_memo_ignores_a_torn_file(cache_dir: Path) -> None:
    memo = cache.Memo("test")
    assert memo.path is not None
    cache_dir.mkdir()
    memo.path.write_bytes(b"x" * 17)
    assert len(cache.Memo("test").known) == 0


def test_memo_keeps_what_was_used_and_the_newest_others(
    cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "KEEP_ENTRIES", 3)
    old = [cache.key(bytes([i])) for i in range(5)]
    memo = cache.Memo("test")
    for digest in old:
        memo.add(digest)
    memo.save()
    fresh = cache.Memo("test")
    assert list(fresh.known) == old  # all were used by the run that saved them
    new = cache.key(b"new")
    fresh.add(new)
    fresh.save()
    assert list(cache.Memo("test").known) == [*old[-2:], new]


# --- schema validation memo -----------------------------------------------------------------


def test_schema_memo_skips_what_passed_and_still_reports_errors(
    cache_dir: Path, repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("validate", "--root", repo).exit_code == 0

    def refuse(*args: object) -> None:
        raise AssertionError("validated again")

    monkeypatch.setattr(schema, "raise_for_schema", refuse)
    assert run("validate", "--root", repo).exit_code == 0  # every profile from the memo
    monkeypatch.undo()
    monkeypatch.setenv("TIMEOUTC_CACHE_DIR", str(cache_dir))
    staging = repo / "profiles" / "staging.yaml"
    staging.write_text(staging.read_text() + "\nunknown_key: 1\n")
    for _ in range(2):  # a failure is never remembered
        result = run("validate", "--root", repo)
        assert result.exit_code == 2
        assert "unknown key 'unknown_key'" in result.stderr


def test_validate_with_a_warm_memo_does_not_import_jsonschema(cache_dir: Path, repo: Path) -> None:
    command = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "compiler",
        "validate",
        "--root",
        str(repo),
    ]
    environment = {**os.environ, "TIMEOUTC_CACHE_DIR": str(cache_dir)}
    first = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    second = subprocess.run(command, capture_output=True, text=True, env=environment, check=False)
    assert first.returncode == second.returncode == 0
    assert "jsonschema" in first.stderr
    assert "jsonschema" not in second.stderr
    assert "jinja2" not in second.stderr


def test_a_changed_schema_is_checked_again(cache_dir: Path, repo: Path, run: Run) -> None:
    assert run("validate", "--root", repo).exit_code == 0
    (repo / "schemas" / "profile.schema.json").write_text("{not json")
    result = run("validate", "--root", repo)
    assert result.exit_code == 2
    assert "schemas/profile.schema.json: error: cannot read" in result.stderr


# --- verification memo ----------------------------------------------------------------------


def test_verified_outputs_are_not_read_back_twice(
    cache_dir: Path, repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = verify_output

    def counting(path: str, *args: Any) -> None:
        calls.append(path)
        real(path, *args)

    monkeypatch.setattr(verified, "verify_output", counting)
    assert run("check", "--root", repo).exit_code == 0
    assert len(calls) == len(tree_bytes(repo / "out"))
    calls.clear()
    assert run("check", "--root", repo).exit_code == 0
    assert calls == []
    production = repo / "profiles" / "production.yaml"
    production.write_text(production.read_text().replace("1.2", "1.3"))
    assert run("build", "--root", repo).exit_code == 0
    assert calls and all(path.startswith("out/production/") for path in calls)


def test_a_failing_check_is_never_remembered(cache_dir: Path, repo: Path, run: Run) -> None:
    template = repo / "templates" / "env.yaml.j2"
    template.write_text(template.read_text().replace("| yaml_str", ""))
    for _ in range(2):
        result = run("build", "--root", repo)
        assert result.exit_code == 2
        assert "env.yaml has variables" in result.stderr


# --- rendering in more than one process -----------------------------------------------------


@pytest.fixture(scope="module")
def twelve(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from bench.generate import generate

    return generate(tmp_path_factory.mktemp("fanout") / "repo", 12, 4)


def test_processes_give_the_outputs_of_one(twelve: Path, cache_dir: Path) -> None:
    profiles = resolve_all(load_profiles(twelve))
    alone = render_outputs(twelve, profiles, processes=1)
    for count in (2, 3):
        together = render_outputs(twelve, profiles, processes=count)
        assert list(together.items()) == list(alone.items())


def test_processes_stop_at_the_error_one_would_meet_first(
    twelve: Path, tmp_path: Path, cache_dir: Path
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(twelve, repo)
    template = repo / "templates" / "timeouts.env.j2"
    late = {"api-0008", "billing-0009", "search-0002"}
    template.write_text(
        "{% if service.name in "
        + repr(sorted(late))
        + " %}{{ service.nope }}{% endif %}\n"
        + template.read_text()
    )
    profiles = resolve_all(load_profiles(repo))
    errors = []
    for count in (1, 2, 4):
        with pytest.raises(CompileError) as caught:
            render_outputs(repo, profiles, processes=count)
        errors.append([str(d) for d in caught.value.diagnostics])
    assert errors[0] == errors[1] == errors[2]
    assert "'nope'" in errors[0][0]


def test_a_dead_worker_has_its_part_redone(
    twelve: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = resolve_all(load_profiles(twelve))
    alone = render_outputs(twelve, profiles, processes=1)
    parent = os.getpid()
    real = outputs.render_slice

    def dying(*args: Any) -> outputs.Slice:
        if os.getpid() != parent:
            os._exit(3)
        return real(*args)

    monkeypatch.setattr(outputs, "render_slice", dying)
    assert render_outputs(twelve, profiles, processes=2) == alone


def test_process_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIMEOUTC_JOBS", "1")
    assert fanout.process_count(4000) == 1
    monkeypatch.setenv("TIMEOUTC_JOBS", "3")
    assert fanout.process_count(4000) == 3
    assert fanout.process_count(2) == 2
    monkeypatch.setenv("TIMEOUTC_JOBS", "100000")
    assert fanout.process_count(1_000_000) == fanout.MAX_JOBS
    monkeypatch.delenv("TIMEOUTC_JOBS")
    assert fanout.process_count(10) == 1  # too small to pay for a fork


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


# --- resolving and rendering profiles in more than one process ------------------------------


def test_groups_are_contiguous_and_balanced() -> None:
    names = ["a", "b", "c", "d"]
    assert groups(names, [1, 1, 1, 1], 2) == [["a", "b"], ["c", "d"]]
    assert groups(names, [5, 1, 1, 1], 2) == [["a"], ["b", "c", "d"]]
    assert groups(names, [1, 1, 1, 1], 8) == [["a"], ["b"], ["c"], ["d"]]
    assert groups(names, [1, 1, 1, 1], 1) == [names]
    assert groups([], [], 2) == [[]]


def compiled(root: Path, jobs: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Any]:
    """What compile_repository gives with TIMEOUTC_JOBS=jobs: its result, or its error."""
    monkeypatch.setenv("TIMEOUTC_JOBS", jobs)
    try:
        compilation = compile_repository(root)
    except CompileError as exc:
        return "error", [str(d) for d in exc.diagnostics]
    return "done", (compilation.profiles, list(compilation.outputs.items()))


def test_profiles_in_processes_give_what_one_process_gives(
    twelve: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = compiled(twelve, "1", monkeypatch)
    assert alone[0] == "done"
    assert compiled(twelve, "2", monkeypatch) == alone
    assert compiled(twelve, "3", monkeypatch) == alone


@pytest.mark.parametrize(
    ("profile", "old", "new"),
    [
        ("qa", "timeout_multiplier: 0.8", "timeout_multiplier: 80"),  # budgets break
        ("development", "extends: shared", "extends: sharde"),  # unknown parent, with a hint
        ("staging", "{fixed: 1s}", "{fixed: 20s}"),  # above max_timeout
    ],
)
def test_profile_errors_in_processes_are_the_errors_of_one(
    twelve: Path,
    tmp_path: Path,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    profile: str,
    old: str,
    new: str,
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(twelve, repo)
    path = repo / "profiles" / f"{profile}.yaml"
    path.write_text(path.read_text().replace(old, new))
    alone = compiled(repo, "1", monkeypatch)
    assert alone[0] == "error"
    assert compiled(repo, "2", monkeypatch) == alone
    assert compiled(repo, "4", monkeypatch) == alone


def test_template_errors_come_after_profile_errors_in_processes(
    twelve: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(twelve, repo)
    (repo / "templates" / "broken.txt.j2").write_text("{% if %}\n")
    broken_template = compiled(repo, "1", monkeypatch)
    assert broken_template[0] == "error"
    assert "templates/broken.txt.j2" in broken_template[1][0]
    assert compiled(repo, "2", monkeypatch) == broken_template
    qa = repo / "profiles" / "qa.yaml"
    qa.write_text(qa.read_text().replace("timeout_multiplier: 0.8", "timeout_multiplier: 80"))
    both = compiled(repo, "1", monkeypatch)
    assert not any("broken.txt.j2" in line for line in both[1])
    assert compiled(repo, "2", monkeypatch) == both


def test_a_render_error_in_a_later_group_is_the_one_of_one_process(
    twelve: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(twelve, repo)
    template = repo / "templates" / "env.yaml.j2"
    template.write_text(
        "{% if environment in ['qa', 'development'] %}{{ service.nope }}{% endif %}\n"
        + template.read_text()
    )
    alone = compiled(repo, "1", monkeypatch)
    assert alone[0] == "error"
    assert compiled(repo, "2", monkeypatch) == alone


def test_a_dead_profile_worker_has_its_group_redone(
    twelve: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = compiled(twelve, "1", monkeypatch)
    parent = os.getpid()
    real = fanout._group

    def dying(*args: Any) -> Any:
        if os.getpid() != parent:
            os._exit(3)
        return real(*args)

    monkeypatch.setattr(fanout, "_group", dying)
    assert compiled(twelve, "2", monkeypatch) == alone


def test_a_model_is_known_by_the_files_it_came_from(cache_dir: Path, repo: Path) -> None:
    documents = load_profiles(repo)
    profile = resolve_all(documents)[0]
    known = verified.VerifiedOutputs(documents=documents)._own_profile(profile)[1]
    assert len(known) == cache.DIGEST_BYTES
    reloaded = load_profiles(repo)  # same bytes, new objects: the same digest
    assert verified.VerifiedOutputs(documents=reloaded)._own_profile(profile)[1] == known
    assert verified.VerifiedOutputs()._own_profile(profile)[1] == b""  # files not known
    base = repo / "profiles" / "base.yaml"
    base.write_text(base.read_text() + "\n# a comment changes the bytes\n")
    changed = load_profiles(repo)
    assert verified.VerifiedOutputs(documents=changed)._own_profile(profile)[1] != known


def test_an_edit_to_one_service_reads_back_only_that_service(
    cache_dir: Path, repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []

    def counting(path: str, *args: Any) -> None:
        calls.append(path)
        verify_output(path, *args)

    monkeypatch.setattr(verified, "verify_output", counting)
    assert run("check", "--root", repo).exit_code == 0
    calls.clear()
    base = repo / "profiles" / "base.yaml"
    base.write_text(base.read_text().replace("request_timeout: 30s", "request_timeout: 31s"))
    assert run("build", "--root", repo).exit_code == 0
    assert calls
    assert all("/auth-service/" in path for path in calls), calls


def test_a_source_key_belongs_to_its_own_document() -> None:
    class Loaded:
        pass

    first, second = Loaded(), Loaded()
    cache.remember_source(first, "profiles/a.yaml", b"a: 1\n")
    assert cache.source_key(first) == cache.source_key(first)
    assert cache.source_key(second) is None
    key = cache.source_key(first)
    del first
    gc.collect()
    assert key is not None and key not in {v[1] for v in cache._sources.values()}


def test_no_fork_means_one_process(
    twelve: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = compiled(twelve, "1", monkeypatch)

    def refuse() -> int:
        raise OSError("no more processes")

    monkeypatch.setattr(os, "fork", refuse)
    assert compiled(twelve, "2", monkeypatch) == alone
    profiles = resolve_all(load_profiles(twelve))
    assert list(render_outputs(twelve, profiles, processes=2).items()) == alone[1][1]


def test_no_temporary_folder_means_one_process(
    twelve: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = compiled(twelve, "1", monkeypatch)

    def refuse(**options: Any) -> str:
        raise PermissionError("read-only")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    assert compiled(twelve, "2", monkeypatch) == alone


def test_a_fifo_in_place_of_the_memo_is_no_memo(cache_dir: Path) -> None:
    memo = cache.Memo("test")
    assert memo.path is not None
    cache_dir.mkdir()
    os.mkfifo(memo.path)
    assert cache.Memo("test").known == {}
