"""The benchmark's rows, its samples, and the markdown tables made of them.

A row is one timed command. With a reference commit, every timeoutc row has a twin (the
same command run by compiler/ at that commit, in the same rounds), shown in the row's
own columns: its median, the ratio now / reference, and the same for CPU and memory.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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
PLAIN_FLOOR = "plain repository: floor"
PLAIN_BUILD = "plain repository: build (empty out/)"
PLAIN_CHECK = "plain repository: check"
PLAIN_PKL = "plain repository: Pkl"
BASELINES = (FLOOR, CLICK, ALL_FIVE)
PEERS_ROWS = (PEERS_FLOOR, PEERS_BUILD, PEERS_CHECK, PKL)
PLAIN_ROWS = (PLAIN_FLOOR, PLAIN_BUILD, PLAIN_CHECK, PLAIN_PKL)
MEMORY_LIMIT_MB = 200  # timeoutc's target; the baselines and Pkl have none
NOT_TIMEOUTC = frozenset({FLOOR, FLOOR_CHECK, CLICK, ALL_FIVE, PEERS_FLOOR, PKL})
NOT_TIMEOUTC |= {PLAIN_FLOOR, PLAIN_PKL}
TWIN = " (reference)"  # the suffix of a twin's name: the command run at the reference commit
SLOWER_THAN_REFERENCE = 1.1  # issue 22: no row more than 10% slower than before
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
    *PEERS_ROWS,
    *PLAIN_ROWS,
)
TARGETS: dict[str, tuple[str, str, float]] = {  # row: (what it is compared with, name, limit)
    BUILD: (FLOOR, "floor", 3),
    CHECK: (FLOOR, "floor", 3),
    VALIDATE: (FLOOR, "floor", 1.5),
    INCREMENTAL: (CHECK, "check", 1.2),
    VALIDATE_SHIPPED: (ALL_FIVE, "import the five", 1),
    HELP: (CLICK, "import click", 2),
    PEERS_BUILD: (PEERS_FLOOR, "floor", 2.5),
    PEERS_CHECK: (PEERS_FLOOR, "floor", 2.5),
    PLAIN_BUILD: (PLAIN_PKL, "Pkl", 1),  # issue 22: ahead of Pkl on the plain repository
    PLAIN_CHECK: (PLAIN_PKL, "Pkl", 1),
}


def twin(name: str) -> str:
    """The name of `name`'s twin, the same command at the reference commit."""
    return name + TWIN


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

    def ordered(self, names: Sequence[str] = ROW_ORDER) -> Results:
        """The rows named in `names`, in that order, each followed by its twin."""
        kept = [key for name in names for key in (name, twin(name)) if key in self.samples]
        return Results({key: self.samples[key] for key in kept})


def _ratio(value: float, base: float) -> str:
    return f"{value / base:.2f}x" if base else "-"


def floor_of(name: str) -> str:
    """The floor a row is compared with: the peers' job and the plain repository have
    their own."""
    if name in PEERS_ROWS:
        return PEERS_FLOOR
    return PLAIN_FLOOR if name in PLAIN_ROWS else FLOOR


def target(name: str, results: Results) -> str:
    """The issue's targets for `name` and whether they hold: against its baseline, and
    against its twin when there is one."""
    verdicts = []
    if name in TARGETS and TARGETS[name][0] in results.samples:
        base, label, limit = TARGETS[name]
        ok = results.median(name) <= limit * results.median(base)
        verdicts.append(f"<= {limit:g}x {label}: {'met' if ok else 'MISSED'}")
    if twin(name) in results.samples:
        ok = results.median(name) <= SLOWER_THAN_REFERENCE * results.median(twin(name))
        verdicts.append(f"<= {SLOWER_THAN_REFERENCE:g}x reference: {'met' if ok else 'MISSED'}")
    measured = name in results.samples and name not in NOT_TIMEOUTC
    if measured and results.peak_mb(name) >= MEMORY_LIMIT_MB:
        verdicts.append(f"peak memory over {MEMORY_LIMIT_MB} MB")
    return "; ".join(verdicts)


def table(results: Results, *, full: bool, reference: str | None = None) -> list[str]:
    """The markdown table of one set of rounds; `reference` names the commit of the twins
    (their columns appear only with it)."""
    baselines = BASELINES if full else (FLOOR,)
    twins = [f"at {reference}", f"now / {reference}"] if reference else []
    head = ["command", "median", *twins, "vs its floor", *(f"vs {b}" for b in baselines[1:])]
    head += ["CPU", *(f"CPU {h}" for h in twins), "CPU vs its floor", "peak MB"]
    head += [*([f"peak MB at {reference}"] if reference else []), "target"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name in results.samples:
        if name.endswith(TWIN):
            continue
        known = [b if b in results.samples else None for b in (floor_of(name), *baselines[1:])]
        row = [name, f"{results.median(name):.3f} s"]
        row += _twin_columns(results.median, name, results, "{:.3f} s") if reference else []
        row += [_compare(results.median, name, base) for base in known]
        row.append(f"{results.cpu_median(name):.2f} s")
        row += _twin_columns(results.cpu_median, name, results, "{:.2f} s") if reference else []
        row += [_compare(results.cpu_median, name, known[0]), f"{results.peak_mb(name):.0f}"]
        if reference:
            row.append(_twin_columns(results.peak_mb, name, results, "{:.0f}")[0])
        lines.append("| " + " | ".join([*row, target(name, results)]) + " |")
    return lines


def _compare(measure: Callable[[str], float], name: str, base: str | None) -> str:
    return _ratio(measure(name), measure(base)) if base is not None else "-"


def _twin_columns(
    measure: Callable[[str], float], name: str, results: Results, shown: str
) -> list[str]:
    """The twin's value and the ratio now / twin; dashes for a row that has no twin."""
    if twin(name) not in results.samples:
        return ["-", "-"]
    return [shown.format(measure(twin(name))), _ratio(measure(name), measure(twin(name)))]


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
