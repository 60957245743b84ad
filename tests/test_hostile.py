"""Hostile and malformed profiles: exit 2, a located message, no traceback, out/ untouched.

The corpus lives in tests/hostile/: one file per input in cases/, and expected.txt naming
the line `timeoutc build` must print for each. Inputs too large to commit are generated
here and run in a subprocess with a timeout, so that a hang fails instead of blocking.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from compiler.diagnostics import CompileError
from compiler.writer.emit import Change, is_safe_output_path, write
from tests.conftest import Run, copy_repo, tree_bytes, write_profile

HOSTILE = Path(__file__).resolve().parent / "hostile"
CASES = HOSTILE / "cases"
MARKER = "hostile-marker"  # what the corpus' code-running tags would create
HOSTILE_FILE = "profiles/hostile.yaml"
LOOSE_SECONDS = 10.0  # "within a second", measured loosely so that busy machines do not flake
MIB = 1024 * 1024


def corpus() -> list[tuple[str, str]]:
    """(case name, expected stderr line) from expected.txt."""
    pairs = []
    for line in (HOSTILE / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, expected = line.partition(" | ")
            pairs.append((name, expected))
    return pairs


def assert_refused(stderr: str, expected: str, exit_code: int) -> None:
    """Exit 2 (never 70), the expected line, one diagnostic per line, each about the file."""
    assert exit_code == 2, stderr
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    lines = stderr.splitlines()
    assert expected in lines, stderr[:3000]
    assert all(line.startswith(f"{HOSTILE_FILE}") for line in lines), stderr[:3000]


def test_every_case_has_an_expected_message() -> None:
    names = [name for name, _ in corpus()]
    assert len(names) == len(set(names))
    assert sorted(names) == sorted(p.stem for p in CASES.glob("*.yaml"))
    assert all(expected.startswith(f"{HOSTILE_FILE}:") for _, expected in corpus())


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy of the shipped repository for the whole corpus: each case must leave it as
    it was, which each case asserts (out/ byte for byte)."""
    return copy_repo(tmp_path_factory.mktemp("hostile") / "repo")


@pytest.mark.parametrize(("name", "expected"), corpus(), ids=[n for n, _ in corpus()])
def test_hostile_profile_is_refused(
    name: str, expected: str, shared_repo: Path, run: Run, tmp_path: Path
) -> None:
    repo = shared_repo
    before = tree_bytes(repo / "out")
    (repo / HOSTILE_FILE).write_bytes((CASES / f"{name}.yaml").read_bytes())
    cwd = Path.cwd()
    os.chdir(tmp_path)  # where a relative `touch hostile-marker` would land
    try:
        start = time.monotonic()
        result = run("build", "--root", repo)
        elapsed = time.monotonic() - start
    finally:
        os.chdir(cwd)
        (repo / HOSTILE_FILE).unlink()
    assert_refused(result.stderr, expected, result.exit_code)
    assert result.stdout == ""
    assert tree_bytes(repo / "out") == before
    assert not (tmp_path / MARKER).exists() and not (repo / MARKER).exists()
    assert elapsed < LOOSE_SECONDS


def _services(count: int, body: str) -> str:
    lines = [f"  s{i}: {body}\n" for i in range(count)]
    return "extends: base\nplatform: {project: netra-hostile}\nservices:\n" + "".join(lines)


# Too large to commit: (generator, expected stderr line).
GENERATED: dict[str, tuple[Callable[[], str], str]] = {
    "file-over-8-mib": (
        lambda: "extends: base\n# " + "x" * (9 * MIB) + "\n",
        f"{HOSTILE_FILE}: error: file is larger than 8 MiB",
    ),
    "long-scalar-7-mib": (
        lambda: 'extends: base\nplatform: {project: "' + "a" * (7 * MIB) + '"}\n',
        f"{HOSTILE_FILE}:2:21: error: invalid gcp project 'aaaaaaaaaa",
    ),
    "long-key-7-mib": (
        lambda: "extends: base\n" + "k" * (7 * MIB) + ": 1\n",
        f"{HOSTILE_FILE}:2:7340033: error: invalid YAML: while scanning a simple key: "
        "could not find expected ':'",
    ),
    "duplicate-keys-7-mib": (
        lambda: "extends: base\n" + "abstract: true\n" * 500_000,
        f"{HOSTILE_FILE}:102:1: error: too many errors; stopped after 100",
    ),
    "list-of-300000-items": (
        lambda: "extends: base\nx: [" + "1, " * 300_000 + "1]\n",
        f"{HOSTILE_FILE}:2:599990: error: more than 200000 YAML nodes in one profile",
    ),
    "unknown-keys-50000": (
        lambda: "extends: base\n" + "".join(f"k{i}: 1\n" for i in range(50_000)),
        f"{HOSTILE_FILE}:2:1: error: unknown key 'k0' in the profile",
    ),
    "wrong-type-services-20000": (
        lambda: _services(20_000, "1"),
        f"{HOSTILE_FILE}: error: too many errors; stopped after 100",
    ),
    "incomplete-services-20000": (
        lambda: _services(20_000, "{}"),
        f"{HOSTILE_FILE}:4:3: error: service 's0' has no image in concrete profile 'hostile'; "
        f"set services.s0.image in {HOSTILE_FILE} or in a profile it extends",
    ),
    "duration-million-fraction-digits": (
        lambda: "extends: base\nenvironment: {max_timeout: 1." + "0" * 1_000_000 + "1s}\n",
        f"{HOSTILE_FILE}:2:28: error: invalid duration '1.000000000000000000...00000000001s "
        "(1000004 characters)': finer than 1 ms",
    ),
    "duration-million-whole-digits": (
        lambda: "extends: base\nenvironment: {max_timeout: " + "9" * 1_000_000 + "ms}\n",
        f"{HOSTILE_FILE}:2:28: error: invalid duration '99999999999999999999...9999999999ms "
        "(1000002 characters)': more than 24h",
    ),
    "factor-400000-digits": (
        lambda: "extends: base\nenvironment: {safety_margin: 1." + "1" * 400_000 + "}\n",
        f"{HOSTILE_FILE}:2:30: error: invalid factor '1.111111111111111111...111111111111 "
        "(400002 characters)': more than 12 significant digits",
    ),
    "flow-nesting-5000-deep": (
        lambda: "extends: base\nx: " + "[" * 5000 + "]" * 5000 + "\n",
        f"{HOSTILE_FILE}:2:1003: error: invalid YAML: while increasing flow level: "
        "exceeded maximum nesting depth",
    ),
    "block-nesting-3000-deep": (
        lambda: "extends: base\nx:\n" + "".join(" " * i + "a:\n" for i in range(1, 3000)),
        f"{HOSTILE_FILE}:66:65: error: nesting deeper than 64 levels",
    ),
}


def cli(root: Path, *args: str, timeout: float = LOOSE_SECONDS) -> subprocess.CompletedProcess[str]:
    """`timeoutc ARGS --root ROOT` in its own process, killed after `timeout` seconds."""
    return subprocess.run(
        [sys.executable, "-m", "compiler", *args, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_large_hostile_profile_is_refused_quickly(name: str, repo: Path) -> None:
    make, expected = GENERATED[name]
    (repo / HOSTILE_FILE).write_text(make(), encoding="utf-8")
    before = tree_bytes(repo / "out")
    result = cli(repo, "build")  # raises TimeoutExpired on a hang
    lines = result.stderr.splitlines()
    assert result.returncode == 2, result.stderr[:3000]
    assert "Traceback" not in result.stderr
    assert any(line.startswith(expected) for line in lines), result.stderr[:3000]
    assert len(lines) <= 101  # errors stop after 100 per file
    assert all(len(line) < 2100 for line in lines)  # a 7 MiB value is cut in messages
    assert tree_bytes(repo / "out") == before


@pytest.mark.parametrize(
    "file_name",
    [
        "Prod.yaml",
        "prod env.yaml",
        "prod\nx.yaml",
        "-prod.yaml",
        "prod.yml",
        "p" * 31 + ".yaml",
        "prod2.YAML",
        "prod2.Yaml",
        "prod2.YML",
        "prod2.yMl",
        ".prod.yaml",
    ],
)
def test_badly_named_profile_file_is_refused(file_name: str, repo: Path, run: Run) -> None:
    (repo / "profiles" / file_name).write_text("extends: base\n", encoding="utf-8")
    before = tree_bytes(repo / "out")
    result = run("build", "--root", repo)
    assert result.exit_code == 2
    shown = file_name.replace("\n", "\\n")
    assert result.stderr.startswith(f"profiles/{shown}: error: "), result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert tree_bytes(repo / "out") == before


LOOK_ALIKES = """\
extends: base
platform:
  project: netra-lookalike
  service_name: "{service}"
services:
  no:
    image: "0777"
    port: 8080
    request_timeout: 30s
    health: {startup: "/1:30", liveness: "/a'$(id);x=1&y=%20*+,@:!~()"}
    dependencies:
      yes: {timeouts: {on: 1s}}
  "yes":
    image: "1:30"
    port: 8081
    request_timeout: 30s
    health: {startup: /yes, liveness: /no}
"""


def test_look_alikes_where_strings_belong_stay_strings(repo: Path, run: Run) -> None:
    """`no`, `yes`, `0777`, `1:30` are strings where strings are expected, in every output,
    even for YAML 1.1 readers; a path full of quotes and `$` reads back exactly."""
    write_profile(repo, "lookalike", LOOK_ALIKES)
    result = run("build", "--root", repo)
    assert result.exit_code == 0, result.stderr
    out = repo / "out" / "lookalike"
    service = yaml.load((out / "no" / "service.yaml").read_text(), Loader=yaml.SafeLoader)
    container = service["spec"]["template"]["spec"]["containers"][0]
    assert service["metadata"]["name"] == "no"
    assert container["image"] == "0777"
    assert container["startupProbe"]["httpGet"]["path"] == "/1:30"
    assert container["livenessProbe"]["httpGet"]["path"] == "/a'$(id);x=1&y=%20*+,@:!~()"
    other = yaml.load((out / "yes" / "service.yaml").read_text(), Loader=yaml.SafeLoader)
    assert other["metadata"]["name"] == "yes"
    assert other["spec"]["template"]["spec"]["containers"][0]["image"] == "1:30"
    env = yaml.load((out / "no" / "env.yaml").read_text(), Loader=yaml.SafeLoader)
    assert env["YES_ON_TIMEOUT_S"] == "1.0"
    assert "YES_ON_TIMEOUT_S=1.0\n" in (out / "no" / "timeouts.env").read_text()
    namespace: dict[str, object] = {}
    exec(compile((out / "no" / "timeouts.py").read_text(), "timeouts.py", "exec"), namespace)
    assert namespace["CLOUD_RUN_SERVICE"] == "no"
    assert run("check", "--root", repo).exit_code == 0


def _loosen_schema(root: Path) -> None:
    """A repository whose schema forgot every name rule: the compiler's own rules still hold."""
    path = root / "schemas" / "profile.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))

    def strip(node: object) -> None:
        if isinstance(node, dict):
            for key in ("propertyNames", "pattern"):
                node.pop(key, None)
            for value in node.values():
                strip(value)
        elif isinstance(node, list):
            for value in node:
                strip(value)

    strip(schema)
    path.write_text(json.dumps(schema), encoding="utf-8")


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        (
            '"../../../escaped": {image: a, port: 80, request_timeout: 10s, '
            "health: {startup: /a, liveness: /b}}",
            "profiles/loose.yaml:5:3: error: invalid service name '../../../escaped'",
        ),
        (
            'netra-backend: {dependencies: {\'x"""\\nimport os\\n\': {timeouts: {t: 1s}}}}',
            # YAML's single quotes keep the backslashes; the message shows them escaped
            'profiles/loose.yaml:5:34: error: invalid dependency name \'x"""\\\\nimport os\\\\n\'',
        ),
        (
            "netra-backend: {dependencies: {database: {timeouts: {'t: int = 0  #': 1s}}}}",
            "profiles/loose.yaml:5:56: error: invalid timeout name 't: int = 0  #'",
        ),
    ],
)
def test_a_loose_schema_does_not_open_out_or_the_outputs(
    services: str, expected: str, tmp_path: Path, run: Run
) -> None:
    root = copy_repo(tmp_path / "repo")
    _loosen_schema(root)
    text = 'extends: base\nplatform:\n  service_name: "fixed-{environment}-{service}"\nservices:\n'
    write_profile(root, "loose", f"{text}  {services}\n")
    before = tree_bytes(tmp_path)
    result = run("build", "--root", root)
    assert result.exit_code == 2, result.stderr
    assert any(line.startswith(expected) for line in result.stderr.splitlines()), result.stderr
    assert tree_bytes(tmp_path) == before


@pytest.mark.parametrize(
    ("path", "safe"),
    [
        ("out/staging/netra-backend/service.yaml", True),
        ("out/a/b", True),
        ("out/../x", False),
        ("out/staging/../../x", False),
        ("out/staging/.hidden", False),
        ("out/staging/a\nb", False),
        ("profiles/x.yaml", False),
        ("/etc/passwd", False),
        ("out", False),
        ("out//x", False),
    ],
)
def test_only_plain_paths_below_out_are_written(path: str, safe: bool) -> None:
    assert is_safe_output_path(path) is safe


def test_write_refuses_a_path_outside_out_before_writing_anything(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    changes = [
        Change("out/fine/file", "missing", None, b"# Code generated by timeoutc from x\n"),
        Change("out/../escaped", "missing", None, b"# Code generated by timeoutc from x\n"),
    ]
    with pytest.raises(CompileError, match=r"refusing to write 'out/\.\./escaped'"):
        write(tmp_path, changes)
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["out"]


# Time: linear in the input. Each case is measured at two sizes in one run; 10x the input
# may take about 10x the time, and the test fails only above 30x (a shared, noisy machine),
# where the quadratic and cubic paths this replaced took 100x and 1000x.
RATIO_LIMIT = 30


def _best_seconds(action: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of `repeat` runs of `action` (which must refuse its input)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with pytest.raises(CompileError):
            action()
        best = min(best, time.perf_counter() - start)
    return best


def _chain(count: int, cycle: bool) -> dict[str, str]:
    """`count` profiles p0 <- p1 <- ... each extending the one before; p0 extends the last
    (a cycle) or base, whose services are made incomplete so that the leaf is refused."""
    files = {f"p{i}": f"abstract: true\nextends: p{i - 1}\n" for i in range(1, count)}
    files["p0"] = f"abstract: true\nextends: {f'p{count - 1}' if cycle else 'base'}\n"
    if not cycle:
        files[f"p{count}"] = f"extends: p{count - 1}\nservices: {{new: {{port: 80}}}}\n"
    return files


def _ratio(make: Callable[[int], dict[str, str]], small: int, tmp_path: Path) -> float:
    from compiler.pipeline import compile_repository

    seconds = []
    for size in (small, small * 10):
        root = copy_repo(tmp_path / str(size), with_out=False)
        for name, text in make(size).items():
            write_profile(root, name, text)
        seconds.append(_best_seconds(functools.partial(compile_repository, root, render=False)))
    return seconds[1] / seconds[0]


def _one_profile(text: Callable[[int], str]) -> Callable[[int], dict[str, str]]:
    return lambda size: {"hostile": text(size)}


LINEAR_CASES: dict[str, tuple[Callable[[int], dict[str, str]], int]] = {
    "duration-fraction-digits": (
        _one_profile(lambda n: "extends: base\nenvironment: {max_timeout: 1." + "0" * n + "1s}\n"),
        100_000,
    ),
    "duration-whole-digits": (
        _one_profile(lambda n: "extends: base\nenvironment: {max_timeout: " + "9" * n + "ms}\n"),
        100_000,
    ),
    "factor-digits": (
        _one_profile(lambda n: "extends: base\nenvironment: {safety_margin: 1." + "1" * n + "}\n"),
        40_000,
    ),
    "hidden-characters": (
        _one_profile(lambda n: "extends: base\nx: '" + "a" * n + "\u2028'\n# \u2028" * 20),
        100_000,
    ),
    "extends-chain": (lambda n: _chain(n, cycle=False), 150),
    "extends-cycle": (lambda n: _chain(n, cycle=True), 150),
}


@pytest.mark.parametrize("name", sorted(LINEAR_CASES))
def test_refusing_input_takes_time_linear_in_its_size(name: str, tmp_path: Path) -> None:
    make, small = LINEAR_CASES[name]
    ratio = _ratio(make, small, tmp_path)
    print(f"{name}: 10x the input took {ratio:.1f}x the time")
    assert ratio < RATIO_LIMIT, f"10x the input took {ratio:.1f}x the time"


def test_a_long_extends_cycle_is_one_short_error_per_profile(repo: Path, run: Run) -> None:
    for name, text in _chain(10_000, cycle=True).items():
        write_profile(repo, name, text)
    result = cli(repo, "validate", timeout=120)
    lines = result.stderr.splitlines()
    assert result.returncode == 2
    assert len(lines) == 10_000
    assert "profiles/p0.yaml:2:10: error: extends cycle: p9999 -> p9998 -> p9997 -> p9996 -> " in (
        result.stderr
    )
    assert all(len(line) < 200 and "(10000 profiles)" in line for line in lines)


def test_a_long_extends_chain_resolves(repo: Path) -> None:
    files = _chain(2_000, cycle=False)
    files["p2000"] = "extends: p1999\nplatform: {project: netra-chain}\n"
    for name, text in files.items():
        write_profile(repo, name, text)
    result = cli(repo, "validate", timeout=120)
    assert result.returncode == 0, result.stderr[:3000]


# Meaning: what a reviewer reads is what the compiler reads.


def test_hidden_characters_in_comments_change_nothing(repo: Path, run: Run) -> None:
    plain = "extends: base\nplatform:  # qa\n  project: netra-qa  # the project\n"
    hidden = plain.replace("# qa", "# q\u2028region: x\u202ea").replace("project\n", "pro\u0085j\n")
    write_profile(repo, "qa", plain)
    assert run("build", "--root", repo).exit_code == 0
    before = tree_bytes(repo / "out")
    write_profile(repo, "qa", hidden)
    result = run("build", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert tree_bytes(repo / "out") == before  # no hidden `region: x`


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_profile_linking_outside_the_repository_is_refused(
    where: str, repo: Path, run: Run, tmp_path: Path
) -> None:
    text = "extends: base\nplatform: {project: netra-linked}\n"
    target = tmp_path / "elsewhere.yaml" if where == "outside" else repo / "shared" / "qa.yaml"
    target.parent.mkdir(exist_ok=True)
    target.write_text(text, encoding="utf-8")
    (repo / "profiles" / "linked.yaml").symlink_to(target)
    before = tree_bytes(repo / "out")
    result = run("build", "--root", repo)
    if where == "inside":
        assert result.exit_code == 0, result.stderr
        assert (repo / "out" / "linked").is_dir()
        return
    assert result.exit_code == 2
    assert result.stderr == (
        "profiles/linked.yaml: error: is a symbolic link to a file outside the repository; "
        "timeoutc reads nothing outside it; copy the file into profiles/, or link to a file "
        "inside the repository\n"
    )
    assert tree_bytes(repo / "out") == before


def test_two_profiles_deploying_one_cloud_run_name_is_an_error(repo: Path, run: Run) -> None:
    shared = 'extends: base\nplatform:\n  project: acme-qa\n  service_name: "{service}"\n'
    write_profile(repo, "qa", shared)
    write_profile(repo, "sandbox", shared)
    before = tree_bytes(repo / "out")
    result = run("build", "--root", repo)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert (
        "profiles/sandbox.yaml: error: profiles 'qa' and 'sandbox' both deploy Cloud Run "
        "service 'netra-backend' into project 'acme-qa', region 'us-central1': each deploy "
        "would replace the other; give one of them another platform.service_name, project "
        "or region"
    ) in lines, result.stderr
    assert all("profiles 'qa' and 'sandbox' both deploy" in line for line in lines)
    assert tree_bytes(repo / "out") == before
    renamed = shared.replace('"{service}"', '"{service}-api"')
    write_profile(repo, "qa", renamed)
    write_profile(repo, "sandbox", renamed)
    result = run("build", "--root", repo)
    assert result.exit_code == 2
    assert "Cloud Run service 'netra-backend-api' (service 'netra-backend') into" in result.stderr
    write_profile(repo, "sandbox", shared.replace("acme-qa", "acme-sandbox"))
    assert run("build", "--root", repo).exit_code == 0
