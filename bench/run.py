"""Time timeoutc against its floor and its libraries' import cost; print a markdown table.

    python -m bench.run [--services 1000] [--environments 4] [--runs 7] [--commit REF] [--peers]

Every command runs in its own process, round after round in a shuffled order
(interleaved, so that a noisy neighbour slows all of them alike); the table gives the
median wall time of each, its ratio to the baselines measured in the same rounds, its
median CPU time (user + system, from `wait4`: less sensitive to a busy machine) and
its peak resident memory (GNU time's %M of the command, else the child's `ru_maxrss`).
timeoutc runs from a snapshot of compiler/ taken at the start (or at --commit). Every
run is cold: no TIMEOUTC_* variable and an empty cache folder (XDG_CACHE_HOME). Two
repositories are timed: the shipped four templates, and the peers' job (templates/
service.yaml.j2 only, one Cloud Run file per service and environment) beside its own
floor; `--peers` adds Pkl doing the peers' job (bench/pkl.py). The repositories are
written to a tmpfs (/dev/shm) when there is one; a second set of rounds runs on disk,
and a third at fewer services shows how time grows.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.generate import PEERS_TEMPLATES, PROJECT, generate, toggle

FLOOR = "floor: build"
FLOOR_CHECK = "floor: check"
CLICK = "import click"
ALL_FIVE = "import the five libraries"
BUILD = "build (empty out/)"
CHECK = "check, nothing changed"
INCREMENTAL = "build, one value changed"
VALIDATE = "validate"
VALIDATE_SHIPPED = "validate, shipped profiles"
HELP = "timeoutc --help"
PEERS_FLOOR = "peers' job: floor"
PEERS_BUILD = "peers' job: build (empty out/)"
PEERS_CHECK = "peers' job: check"
PKL = "peers' job: Pkl"
BASELINES = (FLOOR, CLICK, ALL_FIVE)
PEERS_ROWS = (PEERS_FLOOR, PEERS_BUILD, PEERS_CHECK, PKL)
MEMORY_LIMIT_MB = 200  # timeoutc's target; the baselines and Pkl have none
NOT_TIMEOUTC = frozenset({FLOOR, FLOOR_CHECK, CLICK, ALL_FIVE, PEERS_FLOOR, PKL})
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
class Sample:
    """One timed run."""

    seconds: float
    peak_mb: float
    cpu_seconds: float = 0.0  # user + system time of the command (less sensitive to load)


@dataclass
class Results:
    """The samples of every case, by name."""

    samples: dict[str, list[Sample]] = field(default_factory=dict)

    def median(self, name: str) -> float:
        """Median wall time of `name`, in seconds."""
        return statistics.median(s.seconds for s in self.samples[name])

    def cpu_median(self, name: str) -> float:
        """Median CPU time (user + system) of `name`, in seconds."""
        return statistics.median(s.cpu_seconds for s in self.samples[name])

    def peak_mb(self, name: str) -> float:
        """The largest peak resident memory of `name` over its runs."""
        return max(s.peak_mb for s in self.samples[name])


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


def repository_cases(
    root: Path, floor_dir: Path, cache: Path, tool: Tool, *, full: bool
) -> list[Case]:
    """The timed commands on the generated repository of the four templates (a subset
    unless `full`); `cache` is an empty folder, so that every run is cold."""
    python = sys.executable
    at = ("--root", str(root))

    def timeoutc(name: str, *arguments: str, **options: Any) -> Case:
        argv, env = tool.run(*arguments, cache=cache)
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


def peers_cases(root: Path, floor_dir: Path, cache: Path, tool: Tool) -> list[Case]:
    """The peers' job: timeoutc and the floor on the repository with only service.yaml.j2."""
    at = ("--root", str(root))
    build, env = tool.run("build", *at, cache=cache)
    check, _ = tool.run("check", *at, cache=cache)
    floor = (sys.executable, "-m", "bench.floor", str(root), "--out", str(floor_dir))
    return [
        Case(PEERS_FLOOR, floor, _empty(floor_dir)),
        Case(PEERS_BUILD, build, _empty(root / "out"), env=env),
        Case(PEERS_CHECK, check, env=env),
    ]


def prepare(
    folder: Path, services: int, environments: int, tool: Tool, *, peers: bool = False
) -> tuple[Path, Path, Path]:
    """A generated repository (the peers' job if `peers`) with a current out/, a folder for
    the floor's output, and an empty cache folder.

    The floor's check against timeoutc's out/ must pass: both write the same bytes.
    """
    size = f"{services}x{environments}" + ("-peers" if peers else "")
    templates = PEERS_TEMPLATES if peers else None
    root = generate(folder / f"repo-{size}", services, environments, templates)
    floor_dir, cache = folder / f"floor-{size}", folder / f"cache-{size}"
    cache.mkdir()
    argv, env = tool.run("build", "--root", str(root), cache=cache)
    measure(Case("first build", argv, env=env))
    measure(
        Case(
            "floor and timeoutc write the same bytes",
            (sys.executable, "-m", "bench.floor", str(root), "--check"),
        )
    )
    if any(cache.iterdir()):
        raise SystemExit(f"bench: timeoutc wrote to its cache folder {cache}: runs are not cold")
    return root, floor_dir, cache


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


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def floor_of(name: str) -> str:
    """The floor a row is compared with: the peers' job has its own."""
    return PEERS_FLOOR if name in PEERS_ROWS else FLOOR


TARGETS: dict[str, tuple[str, str, float]] = {  # row: (what it is compared with, name, limit)
    BUILD: (FLOOR, "floor", 3),
    CHECK: (FLOOR, "floor", 3),
    VALIDATE: (FLOOR, "floor", 1.5),
    INCREMENTAL: (CHECK, "check", 1.2),
    VALIDATE_SHIPPED: (ALL_FIVE, "import the five", 1),
    HELP: (CLICK, "import click", 2),
    PEERS_BUILD: (PEERS_FLOOR, "floor", 2.5),
    PEERS_CHECK: (PEERS_FLOOR, "floor", 2.5),
}


def _target(name: str, results: Results) -> str:
    """The issue's target for `name` and whether it holds."""
    if name not in TARGETS or TARGETS[name][0] not in results.samples:
        return ""
    base, label, limit = TARGETS[name]
    ok = results.median(name) <= limit * results.median(base)
    return f"<= {limit:g}x {label}: {'met' if ok else 'MISSED'}"


def table(results: Results, *, full: bool) -> list[str]:
    """The markdown table of one set of rounds."""
    baselines = BASELINES if full else (FLOOR,)
    head = ["command", "median", "vs its floor", *(f"vs {b}" for b in baselines[1:])]
    head += ["CPU", "CPU vs its floor", "peak MB", "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in results.samples:
        median = results.median(name)
        bases = (floor_of(name), *baselines[1:])
        ratios = [_ratio(median, results.median(b)) if b in results.samples else "-" for b in bases]
        peak = results.peak_mb(name)
        target = _target(name, results)
        if peak >= MEMORY_LIMIT_MB and name not in NOT_TIMEOUTC:
            target = f"{target}; peak memory over {MEMORY_LIMIT_MB} MB".lstrip("; ")
        cpu = results.cpu_median(name)
        cpu_ratio = (
            _ratio(cpu, results.cpu_median(bases[0])) if bases[0] in results.samples else "-"
        )
        row = [name, f"{median:.3f} s", *ratios, f"{cpu:.2f} s", cpu_ratio, f"{peak:.0f}", target]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def scaling_table(small: Results, large: Results, sizes: tuple[int, int]) -> list[str]:
    """How the median time grows from the small to the large repository."""
    factor = sizes[1] / sizes[0]
    limit = factor * 1.1
    lines = [
        f"| command | S={sizes[0]} | S={sizes[1]} | growth (target <= {limit:.1f}x) |",
        "|---|---|---|---|",
    ]
    for name in (FLOOR, BUILD, CHECK, INCREMENTAL):
        low, high = small.median(name), large.median(name)
        verdict = "met" if high <= limit * low else "MISSED"
        lines.append(f"| {name} | {low:.3f} s | {high:.3f} s | {high / low:.1f}x: {verdict} |")
    return lines


def _ordered(results: Results, names: Sequence[str]) -> Results:
    return Results({name: results.samples[name] for name in names if name in results.samples})


ROW_ORDER = (
    FLOOR,
    FLOOR_CHECK,
    CLICK,
    ALL_FIVE,
    BUILD,
    CHECK,
    INCREMENTAL,
    VALIDATE,
    VALIDATE_SHIPPED,
    HELP,
    PEERS_FLOOR,
    PEERS_BUILD,
    PEERS_CHECK,
    PKL,
)


def report(
    args: argparse.Namespace,
    main: Results,
    small: Results | None,
    disk: Results | None,
    places: dict[str, Path],
) -> str:
    """The whole markdown report."""
    files = args.services * args.environments * len(list((PROJECT / "templates").glob("*.j2")))
    if args.live:
        code = "the installed timeoutc"
    elif args.commit:
        code = f"compiler/ at commit {args.commit}"
    else:
        code = f"compiler/ at {args.snapshot_of} (snapshot)"
    lines = [
        f"timeoutc: {code}. "
        f"S={args.services} services x E={args.environments} environments = {files} files; "
        f"median of {args.runs} interleaved runs; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs; repository on {filesystem(places['main'])} "
        f"({places['main']}).",
        "",
        "Every run is cold (no TIMEOUTC_* variable, an empty cache folder); a build of "
        "200 services or more (over its environments) renders half of them in one forked "
        "worker, and CPU counts "
        'both processes. "vs its floor": bench/floor.py on the same repository (the peers\' '
        "job, templates/service.yaml.j2 only, has its own). Load average at the start: "
        f"{args.load_before}; at the end: {args.load_after}.",
        "",
        *table(_ordered(main, ROW_ORDER), full=True),
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
            *table(_ordered(disk, ROW_ORDER), full=False),
        ]
    command = (
        f"python -m bench.run --services {args.services} --environments {args.environments} "
        f"--runs {args.runs}"
        + (f" --commit {args.commit}" if args.commit else "")
        + (" --peers" if args.peers else "")
    )
    lines += ["", f"Reproduce: `{command}`"]
    return "\n".join(lines) + "\n"


def _commit() -> str:
    """The checkout's commit, and whether files differ from it."""
    try:
        head = subprocess.run(
            ("git", "rev-parse", "--short", "HEAD"), cwd=PROJECT, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ("git", "status", "--porcelain", "compiler"), cwd=PROJECT, capture_output=True
        ).stdout
    except OSError:
        return "an unknown commit"
    return f"commit {head or '?'}" + (" with local edits" if dirty else "")


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
        "--commit", help="measure compiler/ as it was at this git commit (e.g. an older one)"
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="add Pkl doing the peers' job (npm package installed into a temporary folder)",
    )
    parser.add_argument("--output", type=Path, default=PROJECT / "bench" / "results" / "results.md")
    return parser.parse_args(argv)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, as `uptime` shows them."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


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
    args.pkl_note = ""
    try:
        args.snapshot_of = _commit()  # as the snapshot is taken, not when the report is
        tool = installed_tool() if args.live else snapshot_tool(fast, args.commit)
        size = (args.services, args.environments)
        root, floor_dir, cache = prepare(fast, *size, tool)
        cases = repository_cases(root, floor_dir, cache, tool, full=True)
        peers_root, peers_floor, peers_cache = prepare(fast, *size, tool, peers=True)
        cases += peers_cases(peers_root, peers_floor, peers_cache, tool)
        if args.peers:
            from bench import pkl

            found = pkl.prepare(fast / "pkl", peers_root)
            if isinstance(found, str):
                args.pkl_note = f"Pkl: not measured ({found})."
            else:
                cases.append(Case(PKL, found[0], _empty(found[1])))
                args.pkl_note = pkl.NOTE
        main_results = run_rounds(cases, args.runs, args.seed, Results())
        small = None
        if 0 < args.small_services < args.services:
            root, floor_dir, cache = prepare(fast, args.small_services, args.environments, tool)
            cases = repository_cases(root, floor_dir, cache, tool, full=False)
            small = run_rounds(cases, args.runs, args.seed, Results())
        disk = None
        if args.disk_runs > 0:
            where = places["disk"]
            root, floor_dir, cache = prepare(where, *size, tool)
            cases = repository_cases(root, floor_dir, cache, tool, full=False)
            disk = run_rounds(cases, args.disk_runs, args.seed, Results())
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
