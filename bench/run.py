"""Time timeoutc against its floor, its libraries' import cost, Pkl and an older commit.

    python -m bench.run [--services 1000] [--environments 4] [--runs 7] [--commit REF] [--peers]

Every command runs in its own process, round after round in a shuffled order
(interleaved, so that a noisy neighbour slows all of them alike); the table gives the
median wall time of each, its ratio to the baselines measured in the same rounds, its
median CPU time (user + system, from `wait4`: less sensitive to a busy machine) and
its peak resident memory (GNU time's %M of the command, else the child's `ru_maxrss`).
timeoutc runs from a snapshot of compiler/ taken at the start; with `--commit REF`,
every timeoutc command also has a twin running compiler/ at REF (on its own copy of the
repository), in the same rounds, and the table sets the two side by side. Every run is
cold: no TIMEOUTC_* variable and an empty cache folder (XDG_CACHE_HOME). Three
repositories are timed, each beside its own floor: the shipped four templates; the
peers' job (templates/service.yaml.j2 only, one Cloud Run file per service and
environment); the plain repository (service.yaml.j2 only, no links, request paths or
retries, every environment extending one base). `--peers` adds Pkl doing the peers' job
and the plain repository's (bench/pkl.py). The repositories are written to a tmpfs
(/dev/shm) when there is one; a second set of rounds runs on disk, and a third at fewer
services shows how time grows.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench.generate import PEERS_TEMPLATES, PLAIN_TEMPLATES, PROJECT, generate, toggle
from bench.report import (
    ALL_FIVE,
    BUILD,
    CHECK,
    CLICK,
    FLOOR,
    FLOOR_CHECK,
    HELP,
    INCREMENTAL,
    NOT_TIMEOUTC,
    PEERS_BUILD,
    PEERS_CHECK,
    PEERS_FLOOR,
    PKL,
    PLAIN_BUILD,
    PLAIN_CHECK,
    PLAIN_FLOOR,
    PLAIN_PKL,
    VALIDATE,
    VALIDATE_SHIPPED,
    Results,
    Sample,
    scaling_table,
    table,
    twin,
)

IMPORT_ALL = "import yaml, jinja2, jsonschema, click, ruamel.yaml"
Env = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Case:
    """One command to time, what it must exit with, and what to do (untimed) before it."""

    name: str
    argv: tuple[str, ...]
    setup: Callable[[], None] | None = None
    exit_code: int = 0
    env: Env = ()


@dataclass(frozen=True)
class Tool:
    """How to run timeoutc: the command, and the environment it needs."""

    argv: tuple[str, ...]
    env: Env = ()

    def run(self, *arguments: str, cache: Path) -> tuple[tuple[str, ...], Env]:
        """The argv and environment of `timeoutc ARGUMENTS`, its cache folder `cache`."""
        return (*self.argv, *arguments), (*self.env, ("XDG_CACHE_HOME", str(cache)))


def installed_tool() -> Tool:
    """The console script beside this interpreter, else `python -m compiler`."""
    script = Path(sys.executable).parent / "timeoutc"
    return Tool((str(script),) if script.exists() else (sys.executable, "-m", "compiler"))


def snapshot_tool(folder: Path, commit: str | None = None) -> Tool:
    """A copy of compiler/ as it is now (or at `commit`), run as `python -m compiler`:
    edits made to the checkout while the benchmark runs change neither the code measured
    nor its import caches."""
    code = folder / "code"
    if commit is None:
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(PROJECT / "compiler", code / "compiler", ignore=skip)
    else:
        code.mkdir(parents=True)
        archive = subprocess.run(
            ("git", "archive", commit, "compiler"), cwd=PROJECT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(code, filter="data")
    # -P: the current folder (the checkout) must not come before the snapshot on sys.path
    return Tool((sys.executable, "-P", "-m", "compiler"), (("PYTHONPATH", str(code)),))


GNU_TIME = Path("/usr/bin/time")


def measure(case: Case) -> Sample:
    """Run `case` once in a child process: wall time and the command's own peak memory.

    A child forked from this process starts with its memory counted in `ru_maxrss`, so
    the command runs under GNU time (a small process) when there is one: its `%M` is the
    command's own peak. Otherwise the child's `os.wait4` usage, an upper bound.
    """
    if case.setup is not None:
        case.setup()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:
        wrapper = (str(GNU_TIME), "-f", "%M", "-o", rss.name) if GNU_TIME.exists() else ()
        start = time.perf_counter()
        child = subprocess.Popen(
            (*wrapper, *case.argv),
            cwd=PROJECT,
            env=environment(case),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        peak_kb = int(rss.read().split()[-1]) if wrapper else usage.ru_maxrss
    if child.returncode != case.exit_code:
        shown = subprocess.run(
            case.argv, cwd=PROJECT, env=environment(case), capture_output=True, text=True
        )
        raise SystemExit(
            f"bench: {case.name}: exit {child.returncode}, expected {case.exit_code}: "
            f"{' '.join(case.argv)}\n{shown.stderr[-2000:]}"
        )
    return Sample(elapsed, peak_kb / 1024, usage.ru_utime + usage.ru_stime)


def environment(case: Case) -> dict[str, str]:
    """This process's environment without any TIMEOUTC_* variable, plus the case's own."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith("TIMEOUTC_")}
    return {**kept, **dict(case.env)}


def run_rounds(cases: Sequence[Case], runs: int, seed: int, results: Results) -> Results:
    """`runs` rounds of every case, each round in a fresh random order."""
    shuffler = random.Random(seed)
    for _ in range(runs):
        order = list(cases)
        shuffler.shuffle(order)
        for case in order:
            results.samples.setdefault(case.name, []).append(measure(case))
    return results


def _empty(folder: Path) -> Callable[[], None]:
    def setup() -> None:
        shutil.rmtree(folder, ignore_errors=True)

    return setup


def _toggler(root: Path) -> Callable[[], None]:
    return lambda: toggle(root)


@dataclass(frozen=True)
class Repository:
    """A generated repository with a current out/, where its floor writes, and an empty
    cache folder for timeoutc."""

    root: Path
    floor_dir: Path
    cache: Path


FOUR, PEERS, PLAIN = "four templates", "peers' job", "plain repository"
JOB_ROWS = {
    PEERS: (PEERS_FLOOR, PEERS_BUILD, PEERS_CHECK),
    PLAIN: (PLAIN_FLOOR, PLAIN_BUILD, PLAIN_CHECK),
}


def repository_cases(repository: Repository, tool: Tool, *, full: bool) -> list[Case]:
    """The timed commands on the generated repository of the four templates (a subset
    unless `full`); its cache is an empty folder, so that every run is cold."""
    python = sys.executable
    root, floor_dir = repository.root, repository.floor_dir
    at = ("--root", str(root))

    def timeoutc(name: str, *arguments: str, **options: Any) -> Case:
        argv, env = tool.run(*arguments, cache=repository.cache)
        return Case(name, argv, env=env, **options)

    cases = [
        Case(
            FLOOR,
            (python, "-m", "bench.floor", str(root), "--out", str(floor_dir)),
            _empty(floor_dir),
        ),
        timeoutc(BUILD, "build", *at, setup=_empty(root / "out")),
        timeoutc(CHECK, "check", *at),
        timeoutc(INCREMENTAL, "build", *at, setup=_toggler(root)),
    ]
    if full:
        shipped = ("--root", str(PROJECT))
        cases += [
            Case(FLOOR_CHECK, (python, "-m", "bench.floor", str(root), "--check")),
            timeoutc(VALIDATE, "validate", *at),
            timeoutc(VALIDATE_SHIPPED, "validate", *shipped),
            timeoutc(HELP, "--help"),
            Case(CLICK, (python, "-c", "import click")),
            Case(ALL_FIVE, (python, "-c", IMPORT_ALL)),
        ]
    return cases


def job_cases(kind: str, repository: Repository, tool: Tool) -> list[Case]:
    """The floor, timeoutc's build (empty out/) and its check on the peers' job or the
    plain repository (`kind`), each a one-template job."""
    floor_name, build_name, check_name = JOB_ROWS[kind]
    at = ("--root", str(repository.root))
    build, env = tool.run("build", *at, cache=repository.cache)
    check, _ = tool.run("check", *at, cache=repository.cache)
    floor = (sys.executable, "-m", "bench.floor", str(repository.root))
    return [
        Case(
            floor_name, (*floor, "--out", str(repository.floor_dir)), _empty(repository.floor_dir)
        ),
        Case(build_name, build, _empty(repository.root / "out"), env=env),
        Case(check_name, check, env=env),
    ]


def all_cases(repositories: dict[str, Repository], tool: Tool, *, full: bool) -> list[Case]:
    """The timed commands on every repository in `repositories`."""
    cases = repository_cases(repositories[FOUR], tool, full=full)
    for kind in (PEERS, PLAIN):
        if kind in repositories:
            cases += job_cases(kind, repositories[kind], tool)
    return cases


def twins(cases: Sequence[Case]) -> list[Case]:
    """The timeoutc commands of `cases` (made with the reference tool), renamed as twins."""
    return [replace(case, name=twin(case.name)) for case in cases if case.name not in NOT_TIMEOUTC]


TEMPLATES = {FOUR: None, PEERS: PEERS_TEMPLATES, PLAIN: PLAIN_TEMPLATES}


def prepare(
    folder: Path, services: int, environments: int, tool: Tool, kind: str = FOUR
) -> Repository:
    """A generated repository of `kind` with a current out/, a folder for the floor's
    output, and an empty cache folder.

    The floor's check against timeoutc's out/ must pass: both write the same bytes.
    """
    size = f"{services}x{environments}-{kind.replace(chr(39), '').replace(' ', '-')}"
    root = generate(
        folder / f"repo-{size}", services, environments, TEMPLATES[kind], plain=kind == PLAIN
    )
    repository = Repository(root, folder / f"floor-{size}", folder / f"cache-{size}")
    _first_build(repository, tool)
    measure(
        Case(
            "floor and timeoutc write the same bytes",
            (sys.executable, "-m", "bench.floor", str(root), "--check"),
        )
    )
    return repository


def _first_build(repository: Repository, tool: Tool) -> None:
    """Build out/ (untimed), and make sure that the build left its cache folder empty."""
    repository.cache.mkdir()
    argv, env = tool.run("build", "--root", str(repository.root), cache=repository.cache)
    measure(Case("first build", argv, env=env))
    if any(repository.cache.iterdir()):
        raise SystemExit(
            f"bench: timeoutc wrote to its cache folder {repository.cache}: runs are not cold"
        )


def prepare_twin(repository: Repository, tool: Tool) -> tuple[Repository, bool]:
    """A copy of `repository` for the reference tool, its out/ built by that tool; and
    whether that out/ holds the same bytes as the original's."""
    root = repository.root.with_name(repository.root.name + "-reference")
    shutil.copytree(repository.root, root)
    copy = Repository(
        root, repository.floor_dir, repository.cache.with_name(repository.cache.name + "-reference")
    )
    _first_build(copy, tool)
    return copy, tree(root / "out") == tree(repository.root / "out")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file below `folder`, by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def filesystem(path: Path) -> str:
    """The type of the file system holding `path` (`tmpfs`, `ext4`...), from /proc/mounts."""
    best, kind = "", "unknown"
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    resolved = str(path.resolve())
    for line in mounts:
        fields = line.split()
        inside = len(fields) > 2 and (resolved + "/").startswith(fields[1].rstrip("/") + "/")
        if inside and len(fields[1]) >= len(best):
            best, kind = fields[1], fields[2]
    return kind


def report(
    args: argparse.Namespace,
    main: Results,
    small: Results | None,
    disk: Results | None,
    places: dict[str, Path],
) -> str:
    """The whole markdown report."""
    files = args.services * args.environments * len(list((PROJECT / "templates").glob("*.j2")))
    code = "the installed timeoutc" if args.live else f"compiler/ at {args.snapshot_of} (snapshot)"
    reference = args.reference
    lines = [
        f"timeoutc: {code}. "
        f"S={args.services} services x E={args.environments} environments = {files} files "
        f"(four templates); median of {args.runs} interleaved runs; Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs; repositories on "
        f"{filesystem(places['main'])} ({places['main']}).",
        "",
    ]
    if reference:
        lines += [
            f"Every timeoutc command also ran at the reference, compiler/ at commit {reference}"
            f" (`--commit {args.commit}`), in the same rounds on its own copy of each "
            f'repository: the columns "at {reference}" and "now / {reference}". ' + args.same_bytes,
            "",
        ]
    lines += [
        "Every run is cold (no TIMEOUTC_* variable, an empty cache folder); CPU is user + "
        'system time of the command and of every process it waited for. "vs its floor": '
        "bench/floor.py on the same repository (the peers' job, templates/service.yaml.j2 "
        "only, and the plain repository, service.yaml.j2 with no links, request paths or "
        "retries, have their own).",
        "",
        f"Load average (1, 5, 15 min) at the start: {args.load_before}; at the end: "
        f"{args.load_after}.",
        "",
        *table(main.ordered(), full=True, reference=reference),
    ]
    if args.pkl_note:
        lines += ["", args.pkl_note]
    if small is not None:
        lines += ["", f"Growth with S (E={args.environments}, same file system):", ""]
        lines += scaling_table(small, main, (args.small_services, args.services))
    if disk is not None:
        lines += [
            "",
            f"On disk ({filesystem(places['disk'])}, {places['disk']}), "
            f"median of {args.disk_runs} runs:",
            "",
            *table(disk.ordered(), full=False, reference=reference),
        ]
    lines += ["", f"Reproduce: `{reproduce(args)}`"]
    return "\n".join(lines) + "\n"


def reproduce(args: argparse.Namespace) -> str:
    """The command that measures the same thing again, every option spelled out."""
    words = ["python", "-m", "bench.run", "--services", str(args.services)]
    words += ["--environments", str(args.environments), "--runs", str(args.runs)]
    words += ["--small-services", str(args.small_services), "--disk-runs", str(args.disk_runs)]
    words += ["--seed", str(args.seed)]
    words += ["--commit", args.reference] if args.reference else []
    words += ["--peers"] if args.peers else []
    words += ["--live"] if args.live else []
    return " ".join(words)


def _git(*arguments: str) -> str:
    """The output of `git ARGUMENTS` in the checkout, stripped; '' when git fails."""
    try:
        done = subprocess.run(("git", *arguments), cwd=PROJECT, capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def _commit() -> str:
    """The checkout's commit, and whether files differ from it."""
    head = _git("rev-parse", "--short", "HEAD")
    if not head:
        return "an unknown commit"
    dirty = _git("status", "--porcelain", "compiler")
    return f"commit {head}" + (" with local edits" if dirty else "")


def resolve_commit(ref: str) -> str:
    """The short hash of the commit `ref` names; stops the benchmark when it names none."""
    found = _git("rev-parse", "--verify", "--quiet", "--short", f"{ref}^{{commit}}")
    if not found:
        raise SystemExit(f"bench: --commit {ref}: not a commit of {PROJECT}")
    return found


def default_fast_dir() -> Path:
    """tmpfs when the machine has one (as the peer tools were measured), else the temp dir."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--environments", type=int, default=4)
    parser.add_argument("--runs", type=int, default=7, help="rounds on the tmpfs repository")
    parser.add_argument("--small-services", type=int, default=100, help="0: skip the growth")
    parser.add_argument("--disk-runs", type=int, default=3, help="0: skip the disk rounds")
    parser.add_argument("--dir", type=Path, default=None, help="where the main repository goes")
    parser.add_argument("--disk-dir", type=Path, default=Path("/var/tmp"))
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--live",
        action="store_true",
        help="run the installed timeoutc, not a snapshot of compiler/ taken at the start",
    )
    parser.add_argument(
        "--commit",
        help="also run every timeoutc command with compiler/ at this git commit, as a twin",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="add Pkl doing the peers' job and the plain repository's (npm, a temporary folder)",
    )
    parser.add_argument("--output", type=Path, default=PROJECT / "bench" / "results" / "results.md")
    return parser.parse_args(argv)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _twin_cases(
    repositories: dict[str, Repository], reference: Tool, differ: list[str], *, full: bool
) -> list[Case]:
    """The twins of every timeoutc command on `repositories`, each on a copy built by the
    reference tool; the repositories where its bytes differ are added to `differ`."""
    copies = {}
    for kind, repository in repositories.items():
        copies[kind], same = prepare_twin(repository, reference)
        if not same:
            differ.append(repository.root.name)
    return twins(all_cases(copies, reference, full=full))


def _pkl_cases(
    folder: Path, repositories: dict[str, Repository], args: argparse.Namespace
) -> list[Case]:
    """Pkl doing the peers' job and the plain repository's, when it can be installed."""
    from bench import pkl

    binary = pkl.install(folder / "npm")
    if isinstance(binary, str):
        args.pkl_note = f"Pkl: not measured ({binary})."
        return []
    args.pkl_note = pkl.NOTE
    cases = []
    for name, kind in ((PKL, PEERS), (PLAIN_PKL, PLAIN)):
        argv, out = pkl.prepare(
            folder / kind.replace("'", "").replace(" ", "-"), repositories[kind].root, binary
        )
        cases.append(Case(name, argv, _empty(out)))
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    """Generate, time, print the table and write it to --output."""
    args = parse_args(argv)
    args.load_before = load_average()
    fast = Path(tempfile.mkdtemp(prefix="timeoutc-bench-", dir=args.dir or default_fast_dir()))
    disk_parent = args.disk_dir if args.disk_dir.is_dir() else Path(tempfile.gettempdir())
    places = {
        "main": fast,
        "disk": Path(tempfile.mkdtemp(prefix="timeoutc-bench-", dir=disk_parent)),
    }
    args.pkl_note, args.same_bytes = "", ""
    args.reference = resolve_commit(args.commit) if args.commit else None
    try:
        args.snapshot_of = _commit()  # as the snapshot is taken, not when the report is
        tool = installed_tool() if args.live else snapshot_tool(fast / "now")
        reference = snapshot_tool(fast / "reference", args.reference) if args.reference else None
        size = (args.services, args.environments)
        repositories = {kind: prepare(fast, *size, tool, kind) for kind in (FOUR, PEERS, PLAIN)}
        cases = all_cases(repositories, tool, full=True)
        differ: list[str] = []
        if reference is not None:
            cases += _twin_cases(repositories, reference, differ, full=True)
        if args.peers:
            cases += _pkl_cases(fast / "pkl", repositories, args)
        main_results = run_rounds(cases, args.runs, args.seed, Results())
        small = None
        if 0 < args.small_services < args.services:
            smaller = {FOUR: prepare(fast, args.small_services, args.environments, tool)}
            cases = all_cases(smaller, tool, full=False)
            if reference is not None:
                cases += _twin_cases(smaller, reference, differ, full=False)
            small = run_rounds(cases, args.runs, args.seed, Results())
        disk = None
        if args.disk_runs > 0:
            on_disk = {FOUR: prepare(places["disk"], *size, tool)}
            cases = all_cases(on_disk, tool, full=False)
            if reference is not None:
                cases += _twin_cases(on_disk, reference, differ, full=False)
            disk = run_rounds(cases, args.disk_runs, args.seed, Results())
        if reference is not None:
            args.same_bytes = (
                f"The reference writes different bytes on: {', '.join(differ)}."
                if differ
                else "The reference writes the same bytes on every repository."
            )
    finally:
        for folder in places.values():
            shutil.rmtree(folder, ignore_errors=True)
    args.load_after = load_average()
    text = report(args, main_results, small, disk, places)
    print(text, end="")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
