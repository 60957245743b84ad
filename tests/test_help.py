"""Help texts: whole summaries, the environment variables and exit codes, true defaults."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import click
import pytest
from conftest import REPO, Run

from compiler.cli import report, runner
from compiler.cli.main import main

# An environment variable the code reads: os.environ.get("X"), environ.get("X"), getenv("X").
ENV_READ = re.compile(r"""(?:environ\.get|environ\[|getenv)\(?\s*["']([A-Z][A-Z0-9_]*)["']""")


def variables_read_by_the_code() -> set[str]:
    """Every variable name that compiler/ reads from the environment, found in its source."""
    names: set[str] = set()
    for path in (REPO / "compiler").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names.update(ENV_READ.findall(text))
        names.update(re.findall(r"\b(TIMEOUTC_[A-Z0-9_]+)\b", text))
    return names


def help_text(run: Run, *args: str) -> str:
    result = run(*args, "--help")
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_top_level_summaries_are_not_cut_mid_sentence(run: Run) -> None:
    text = help_text(run)
    commands = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    assert "..." not in commands
    assert isinstance(main, click.Group)
    for name, command in main.commands.items():
        summary = command.get_short_help_str(limit=45)
        assert summary.endswith(".") and not summary.endswith("..."), (name, summary)
        assert summary in " ".join(commands.split()), name


@pytest.mark.parametrize("columns", ["50", "80", "200"])
def test_summaries_stay_whole_at_any_terminal_width(
    run: Run, monkeypatch: pytest.MonkeyPatch, columns: str
) -> None:
    monkeypatch.setenv("COLUMNS", columns)
    assert "..." not in help_text(run).split("Commands:\n", 1)[1].split("\n\n", 1)[0]


def test_help_ends_with_the_environment_variables_and_exit_codes(run: Run) -> None:
    text = help_text(run)
    epilog = text.split("Environment variables:", 1)
    assert len(epilog) == 2, text
    tail = epilog[1]
    assert "Commands:" not in tail  # the epilog comes last
    read = variables_read_by_the_code()
    assert {"NO_COLOR", "TIMEOUTC_DEBUG"} <= read
    for name in sorted(read):
        assert re.search(rf"^\s+{name}\s", tail, re.M), name
    codes = tail.split("Exit codes:", 1)[1]
    for code in (report.EXIT_OK, report.EXIT_STALE, report.EXIT_INVALID):
        assert re.search(rf"^\s+{code}\s", codes, re.M), code
    for code in (runner.EXIT_INTERNAL, runner.EXIT_BROKEN_PIPE):
        assert re.search(rf"^\s+{code}\s", codes, re.M), code
    for signum in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):  # 128 + the signal
        assert f"{128 + signum}" in codes and signal.Signals(signum).name in codes


def test_the_variable_finder_finds_what_it_should() -> None:
    sample = 'x = os.environ.get("NO_COLOR")\ny = os.getenv("TIMEOUTC_X")\nz = environ["A_B"]\n'
    assert set(ENV_READ.findall(sample)) == {"NO_COLOR", "TIMEOUTC_X", "A_B"}


def test_schema_help_describes_roots_default_truthfully(run: Run) -> None:
    text = " ".join(help_text(run, "schema").split())
    assert "nearest folder" not in text
    assert "Without --root, timeoutc's own schema is printed" in text


def test_schema_without_root_prints_the_built_in_schema_even_in_a_repository(
    run: Run, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (repo / "schemas" / "profile.schema.json").write_text('{"title": "local"}\n')
    monkeypatch.chdir(repo)
    builtin = (REPO / "compiler/data/schemas/profile.schema.json").read_text(encoding="utf-8")
    assert run("schema").stdout == builtin
