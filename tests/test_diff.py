"""`timeoutc diff`: real git commits in a throwaway repository, every format, exact %."""

from __future__ import annotations

import json
import subprocess
from fractions import Fraction
from pathlib import Path

import click
import pytest

from compiler.cli.review import wants_color
from compiler.pipeline import compile_repository
from compiler.review.diff import compare, percent
from compiler.review.diff_report import render_text
from tests.conftest import Run, copy_repo, tree_bytes, write_profile

GIT_IDENTITY = ("-c", "user.name=timeoutc tests", "-c", "user.email=tests@example.invalid")

BASE = """\
abstract: true
platform:
  region: us-central1
  cold_start_buffer: 2s
  boot_time: 2s
services:
  api:
    image: example/api:1
    port: 8080
    request_timeout: 300s
    health: {startup: /health, liveness: /health}
    dependencies:
      database:
        timeouts: {connect: 8s, query: 15s}
      cache:
        timeouts: {get: 1.5s}
    startup: [database.connect]
"""

STAGING = """\
extends: base
environment:
  timeout_multiplier: 0.7
  safety_margin: 1.1
platform:
  project: example-staging
  min_instances: 1
services:
  api:
    dependencies:
      database:
        timeouts: {connect: {fixed: 8s}}
"""


def git(root: Path, *args: str) -> str:
    """Run git in `root` with a fixed identity and no signing; its stdout."""
    done = subprocess.run(
        ["git", *GIT_IDENTITY, "-c", "commit.gpgsign=false", "-C", str(root), *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def commit_all(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A git repository holding a two-profile config repository, committed once."""
    root = copy_repo(tmp_path / "small", with_out=False)
    for path in (root / "profiles").iterdir():
        path.unlink()
    write_profile(root, "base", BASE)
    write_profile(root, "staging", STAGING)
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "profiles")
    return root


def edit(root: Path, name: str, old: str, new: str) -> None:
    path = root / "profiles" / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- exact percentages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "text", "exact"),
    [
        (Fraction(-5, 8), "-62.5%", True),
        (Fraction(1, 2), "+50%", True),
        (Fraction(1, 1155), "~+0.0866%", False),
        (Fraction(1, 3), "~+33.33%", False),
        (Fraction(-2, 3), "~-66.67%", False),
        (Fraction(1, 10000), "+0.01%", True),
        (Fraction(1, 1024), "+0.09765625%", True),
        (Fraction(1, 300000), "~+0.000333%", False),
    ],
)
def test_percent_is_exact_where_the_decimal_terminates(
    ratio: Fraction, text: str, exact: bool
) -> None:
    assert percent(ratio) == (text, exact)


# --- across commits -------------------------------------------------------------------


def test_no_change_says_so_in_every_format(small: Path, run: Run) -> None:
    text = run("diff", "--root", small)
    assert text.exit_code == 0
    assert "no changes to resolved values" in text.stdout
    markdown = run("diff", "--root", small, "--format", "markdown")
    assert "No changes to resolved values." in markdown.stdout
    assert "|" not in markdown.stdout
    document = json.loads(run("diff", "--root", small, "--format", "json").stdout)
    assert document["changed"] is False
    assert document["changes"] == []
    assert run("diff", "--root", small, "--exit-code").exit_code == 0


def test_diff_between_two_commits_shows_before_after_and_exact_percent(
    small: Path, run: Run
) -> None:
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")
    commit_all(small, "shorter connect")
    result = run("diff", "--root", small, "--base", "HEAD~1")
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "database.connect" in line)
    assert row.split() == ["staging", "api", "database.connect", "8.0s", "3.0s", "-62.5%"]
    assert "HEAD~1 (" in result.stdout
    # Derived values move with it: startup total, budget and the probe window.
    total = next(line for line in result.stdout.splitlines() if "startup total" in line)
    assert total.split()[-3:] == ["8.0s", "3.0s", "-62.5%"]
    assert "startup probe window" in result.stdout
    assert "database.query" not in result.stdout  # unchanged values are not listed


def test_exit_code_is_1_when_anything_changed(small: Path, run: Run) -> None:
    edit(small, "staging", "safety_margin: 1.1", "safety_margin: 1.2")
    assert run("diff", "--root", small, "--exit-code").exit_code == 1
    assert run("diff", "--root", small).exit_code == 0


def test_working_tree_change_against_head_touches_nothing(small: Path, run: Run) -> None:
    (small / "out").mkdir()
    run("build", "--root", small)
    commit_all(small, "outputs")
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")
    before_out = tree_bytes(small / "out")
    before_profiles = tree_bytes(small / "profiles")
    status = git(small, "status", "--porcelain")
    result = run("diff", "--root", small, "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["base"]["ref"] == "HEAD"
    connect = next(c for c in document["changes"] if c["item"] == "database.connect")
    assert connect == {
        "environment": "staging",
        "service": "api",
        "section": "timeout",
        "item": "database.connect",
        "unit": "ms",
        "status": "changed",
        "before": 8000,
        "after": 3000,
        "before_text": "8.0s",
        "after_text": "3.0s",
        "change_percent": "-62.5%",
        "change_exact": True,
        "change_ratio": "-5/8",
    }
    assert tree_bytes(small / "out") == before_out
    assert tree_bytes(small / "profiles") == before_profiles
    assert git(small, "status", "--porcelain") == status


def test_a_change_of_one_millisecond_is_rounded_and_says_so(small: Path, run: Run) -> None:
    edit(
        small,
        "staging",
        "{connect: {fixed: 8s}}",
        "{connect: {fixed: 8s}}\n      cache:\n        timeouts: {get: {fixed: 1156ms}}",
    )
    result = run("diff", "--root", small)
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if "cache.get" in line)
    assert row.split() == ["staging", "api", "cache.get", "1.155s", "1.156s", "~+0.0866%"]
    assert "~ rounded: the exact change is not a terminating decimal" in result.stdout


def test_markdown_is_a_table_with_a_gantt_chart_per_changed_startup(small: Path, run: Run) -> None:
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")
    result = run("diff", "--root", small, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "### timeoutc diff"
    assert "| environment | service | value | before | after | change |" in lines
    assert "| staging | api | `database.connect` | 8.0s | 3.0s | -62.5% |" in lines
    assert "#### staging / api: startup" in lines
    chart = result.stdout[result.stdout.index("```mermaid") :]
    assert chart.splitlines()[1:5] == [
        "gantt",
        "    title staging / api startup",
        "    dateFormat x",
        "    axisFormat %M:%S",
    ]
    for line in (
        "    section before",
        "    database.connect 8.0s :b0, 0, 8000",
        "    cold-start buffer 2.0s :active, b1, 8000, 10000",
        "    boot time 2.0s :active, b2, 10000, 12000",
        "    startup probe window 13.0s :crit, b3, 0, 13000",
        "    section after",
        "    database.connect 3.0s :a0, 0, 3000",
        "    cold-start buffer 2.0s :active, a1, 3000, 5000",
        "    boot time 2.0s :active, a2, 5000, 7000",
        "    startup probe window 8.0s :crit, a3, 0, 8000",
    ):
        assert line in chart.splitlines()


def test_text_draws_a_waterfall_of_the_changed_startup(small: Path, run: Run) -> None:
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")
    lines = run("diff", "--root", small).stdout.splitlines()
    start = lines.index("staging / api: startup")
    before = lines[start + 2 : start + 6]
    assert before[0].startswith("    database.connect      8.0s |" + "█" * 30 + " ")
    assert "░" in before[1] and before[1].startswith("    cold-start buffer")
    assert "░" in before[2] and before[2].startswith("    boot time")
    assert before[3].endswith("|" + "─" * 48 + "|")
    after = lines[start + 7 : start + 11]
    assert after[0].startswith("    database.connect      3.0s |" + "█" * 11 + " ")
    assert after[3].endswith("|" + "─" * 30 + " " * 18 + "|")


def test_unrelated_changes_draw_no_chart(small: Path, run: Run) -> None:
    edit(small, "base", "query: 15s", "query: 16s")
    result = run("diff", "--root", small, "--format", "markdown")
    assert "database.query" in result.stdout
    assert "mermaid" not in result.stdout


def test_cloud_run_settings_and_budget_margins_that_changed(small: Path, run: Run) -> None:
    edit(small, "staging", "min_instances: 1", "min_instances: 3")
    edit(small, "base", "request_timeout: 300s", "request_timeout: 240s")
    edit(small, "base", "cold_start_buffer: 2s", "cold_start_buffer: 4s")
    lines = run("diff", "--root", small).stdout.splitlines()

    def row(item: str) -> list[str]:
        return next(line for line in lines if f"  {item}  " in line).split()[-3:]

    assert row("min instances") == ["1", "3", "+200%"]
    assert row("timeoutSeconds") == ["300", "240", "-20%"]
    assert row("cold-start buffer") == ["2.0s", "4.0s", "+100%"]
    assert row("startup budget") == ["12.0s", "14.0s", "~+16.67%"]
    assert row("startup probe window") == ["13.0s", "15.0s", "~+15.38%"]
    assert row("startup probe failureThreshold") == ["13", "15", "~+15.38%"]
    margin = row("budget.startup-probe margin (startup budget)")
    assert margin == ["228.0s", "226.0s", "~-0.877%"]


def test_added_and_removed_environments_services_and_timeouts(small: Path, run: Run) -> None:
    write_profile(small, "qa", "extends: base\n")
    (small / "profiles" / "staging.yaml").unlink()
    edit(small, "base", "      cache:\n        timeouts: {get: 1.5s}\n", "")
    edit(small, "base", "{connect: 8s, query: 15s}", "{connect: 8s, query: 15s, pool: 1s}")
    edit(
        small,
        "base",
        "    startup: [database.connect]\n",
        "    startup: [database.connect]\n  worker:\n    image: example/worker:1\n    port: 8081\n"
        "    request_timeout: 60s\n    health: {startup: /h, liveness: /h}\n",
    )
    result = run("diff", "--root", small, "--format", "json")
    document = json.loads(result.stdout)
    assert document["changed"] is True
    assert document["environments"] == {"added": ["qa"], "removed": ["staging"]}
    statuses = {
        (c["environment"], c["service"], c["item"]): c["status"] for c in document["changes"]
    }
    assert statuses[("qa", "api", "database.pool")] == "added"
    assert statuses[("qa", "worker", "timeoutSeconds")] == "added"
    assert statuses[("staging", "api", "cache.get")] == "removed"
    text = run("diff", "--root", small).stdout
    assert "added environments: qa" in text
    assert "removed environments: staging" in text


def test_services_added_to_an_existing_environment_are_listed(small: Path, run: Run) -> None:
    edit(
        small,
        "base",
        "    startup: [database.connect]\n",
        "    startup: [database.connect]\n  worker:\n    image: example/worker:1\n    port: 8081\n"
        "    request_timeout: 60s\n    health: {startup: /h, liveness: /h}\n",
    )
    markdown = run("diff", "--root", small, "--format", "markdown").stdout
    assert "**Added services:** `staging / worker`" in markdown
    assert "| staging | worker | timeoutSeconds | — | 60 | added |" in markdown


def test_a_revision_without_profiles_means_everything_is_added(tmp_path: Path, run: Run) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    (root / "README").write_text("config\n", encoding="utf-8")
    commit_all(root, "empty")
    copy_repo(root, with_out=False)
    commit_all(root, "profiles")
    result = run("diff", "--root", root, "--base", "HEAD~1", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["environments"]["added"] == ["development", "production", "staging"]
    assert {c["status"] for c in document["changes"]} == {"added"}


def test_a_repository_without_commits_compares_with_nothing(tmp_path: Path, run: Run) -> None:
    root = copy_repo(tmp_path / "new", with_out=False)
    git(root, "init", "-q")
    result = run("diff", "--root", root, "--exit-code")
    assert result.exit_code == 1
    assert "HEAD (no commits yet)" in result.stdout
    assert "added environments: development, production, staging" in result.stdout


def test_default_base_is_the_merge_base_with_the_upstream_branch(small: Path, run: Run) -> None:
    git(small, "checkout", "-q", "-b", "feature")
    git(small, "branch", "-q", "--set-upstream-to=main")
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")
    commit_all(small, "feature work")
    result = run("diff", "--root", small)
    assert "merge-base with main" in result.stdout
    assert "database.connect" in result.stdout
    assert run("diff", "--root", small, "--base", "HEAD", "--exit-code").exit_code == 0


def test_profiles_in_a_subfolder_of_the_git_repository(tmp_path: Path, run: Run) -> None:
    top = tmp_path / "mono"
    config = copy_repo(top / "deploy" / "timeouts", with_out=False)
    git(top, "init", "-q")
    commit_all(top, "config")
    edit(config, "staging", "safety_margin: 1.1", "safety_margin: 1.2")
    result = run("diff", "--root", config, "--exit-code")
    assert result.exit_code == 1, result.stderr
    assert "safety_margin" in result.stdout


# --- errors ---------------------------------------------------------------------------


def test_unknown_revision_exits_2_with_a_clear_message(small: Path, run: Run) -> None:
    result = run("diff", "--root", small, "--base", "no-such-branch")
    assert result.exit_code == 2
    assert "--base: error: unknown git revision 'no-such-branch'" in result.stderr
    assert "Traceback" not in result.stderr
    assert run("diff", "--root", small, "--base", "--help=x").exit_code == 2


def test_outside_git_exits_2(tmp_path: Path, run: Run) -> None:
    root = copy_repo(tmp_path / "plain", with_out=False)
    result = run("diff", "--root", root, "--base", "HEAD")
    assert result.exit_code == 2
    assert "is not in a git repository" in result.stderr


def test_invalid_profiles_at_the_base_are_named_as_such(small: Path, run: Run) -> None:
    edit(small, "staging", "safety_margin: 1.1", "safety_margin: 0")
    commit_all(small, "broken")
    edit(small, "staging", "safety_margin: 0", "safety_margin: 1.1")
    result = run("diff", "--root", small, "--base", "HEAD")
    assert result.exit_code == 2
    assert result.stderr.startswith("HEAD:profiles/staging.yaml:4:18: error: ")


def test_invalid_profiles_in_the_working_tree_exit_2(small: Path, run: Run) -> None:
    edit(small, "staging", "safety_margin: 1.1", "safety_margin: 0")
    result = run("diff", "--root", small, "--format", "markdown")
    assert result.exit_code == 2
    assert result.stderr.startswith("profiles/staging.yaml:4:18: error: ")
    assert result.stdout == ""


# --- colour ---------------------------------------------------------------------------


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    assert wants_color(True, {}) is True
    assert wants_color(False, {}) is False
    assert wants_color(True, {"NO_COLOR": "1"}) is False
    assert wants_color(True, {"NO_COLOR": ""}) is True  # no-color.org: set and not empty


def test_text_colours_changes_when_asked_and_output_to_a_pipe_has_none(
    small: Path, run: Run
) -> None:
    before = compile_repository(small, render=False).profiles
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")
    after = compile_repository(small, render=False).profiles
    coloured = render_text(compare(before, after), "HEAD", style=click.style)
    assert "\x1b[36m-62.5%\x1b[0m" in coloured
    assert "\x1b[" not in render_text(compare(before, after), "HEAD")
    assert "\x1b[" not in run("diff", "--root", small).stdout


def test_a_rounded_percentage_keeps_its_decimals() -> None:
    assert percent(Fraction(2771 - 1885, 1885)) == ("~+47.00%", False)


def test_errors_on_both_sides_are_all_reported(small: Path, run: Run) -> None:
    edit(small, "staging", "safety_margin: 1.1", "safety_margin: 0")
    commit_all(small, "broken")
    edit(small, "staging", "safety_margin: 0", "safety_margin: 1.1")
    edit(small, "staging", "timeout_multiplier: 0.7", "timeout_multiplier: 0")
    result = run("diff", "--root", small, "--base", "HEAD")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert any(line.startswith("HEAD:profiles/staging.yaml:4:18: error: ") for line in lines)
    assert any(line.startswith("profiles/staging.yaml:3:23: error: ") for line in lines), lines


# --- what the text leads with, and what it leaves out ---------------------------------------


def table_rows(text: str) -> list[str]:
    """The lines of the table: from the header to the first blank line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("environment"))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start + 1 : end]


def test_diff_leads_with_the_changed_values(small: Path, run: Run) -> None:
    edit(small, "base", "query: 15s", "query: 16s")
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")
    items = [row.split()[2] for row in table_rows(run("diff", "--root", small, "--margins").stdout)]
    assert items[:2] == ["database.connect", "database.query"]  # the values, then the rest
    derived = items.index("startup")  # `startup total`, `startup budget`, ...
    margins = next(i for i, item in enumerate(items) if item.startswith("budget."))
    assert 2 <= derived < margins
    assert all(item.startswith("budget.") for item in items[margins:])


def test_diff_shows_a_margin_only_when_it_shrank(small: Path, run: Run) -> None:
    edit(small, "base", "query: 15s", "query: 16s")  # less room below request_timeout
    edit(small, "staging", "{fixed: 8s}", "{fixed: 3s}")  # more room in the probe window
    text = run("diff", "--root", small).stdout
    assert "budget.dependency margin (database.query)" in text
    assert "budget.startup-probe margin" not in text
    assert "1 budget margin did not shrink and is not shown; --margins shows all" in text
    everything = run("diff", "--root", small, "--margins").stdout
    assert "budget.startup-probe margin (startup budget)" in everything
    assert "did not shrink" not in everything
    markdown = run("diff", "--root", small, "--format", "markdown").stdout
    assert "budget.startup-probe margin" not in markdown
    assert "1 budget margin did not shrink and is not shown; `--margins` shows all" in markdown
    document = json.loads(run("diff", "--root", small, "--format", "json").stdout)
    items = {c["item"] for c in document["changes"]}
    assert "budget.startup-probe margin (startup budget)" in items  # json lists every change


LONG_DEPENDENCY = "a_dependency_with_a_rather_long_name"
LONG_TIMEOUT = "and_a_timeout_name_that_is_long_too"


def test_diff_text_table_fits_100_columns_wrapping_the_value(small: Path, run: Run) -> None:
    edit(
        small,
        "base",
        "      cache:\n",
        f"      {LONG_DEPENDENCY}:\n        timeouts: {{{LONG_TIMEOUT}: 2s}}\n      cache:\n",
    )
    commit_all(small, "a long name")
    edit(small, "base", f"{LONG_TIMEOUT}: 2s", f"{LONG_TIMEOUT}: 3s")
    text = run("diff", "--root", small, "--margins").stdout
    rows = table_rows(text)
    assert rows and max(len(row) for row in rows) <= 100
    assert max(len(line) for line in text.splitlines() if "|" not in line) <= 100
    ref = f"{LONG_DEPENDENCY}.{LONG_TIMEOUT}"
    assert len(ref) > 60 and ref not in text  # too long for its column: wrapped
    start = next(i for i, row in enumerate(rows) if row.split()[-3:] == ["1.54s", "2.31s", "+50%"])
    column = rows[start].index(rows[start].split()[2])
    assert rows[start].split()[:2] == ["staging", "api"]
    assert not rows[start + 1][:column].strip()  # a continuation line holds only the value
    assert rows[start][column:].split()[0] + rows[start + 1].strip() == ref
