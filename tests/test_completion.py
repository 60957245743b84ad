"""Shell completion through click: commands, profiles, key paths, environments, services."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import click
import pytest
from click.shell_completion import ShellComplete
from click.testing import CliRunner
from conftest import REPO

from compiler.authoring.keypaths import merged_view
from compiler.cli.completion import (
    complete_environment,
    complete_service,
    complete_timeout,
    key_path_candidates,
)
from compiler.cli.main import main


def complete(line: str) -> list[str]:
    """What `timeoutc <TAB>` offers in bash for `line` (the cursor at its end)."""
    words = shlex.split(line) + ([""] if not line or line.endswith(" ") else [])
    result = CliRunner().invoke(
        main,
        [],
        prog_name="timeoutc",
        env={
            "_TIMEOUTC_COMPLETE": "bash_complete",
            "COMP_WORDS": " ".join(["timeoutc", *words]),
            "COMP_CWORD": str(len(words)),
        },
    )
    assert result.exit_code == 0, result.output
    return [item.split(",", 1)[1] for item in result.stdout.splitlines() if item]


def test_commands() -> None:
    assert {"set", "init", "schema", "build", "check"} <= set(complete(""))
    assert complete("in") == ["init"]


def test_bash_script_is_printed() -> None:
    result = CliRunner().invoke(
        main, [], prog_name="timeoutc", env={"_TIMEOUTC_COMPLETE": "bash_source"}
    )
    assert "_timeoutc_completion()" in result.stdout
    assert "complete -o nosort -F _timeoutc_completion timeoutc" in result.stdout


def test_set_profiles_include_bases() -> None:
    assert complete(f"set --root {REPO} ") == ["base", "development", "production", "staging"]
    assert complete(f"set --root {REPO} st") == ["staging"]


def test_profiles_found_from_the_current_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "profiles")
    assert complete("set d") == ["development"]


def test_set_key_path_top_level() -> None:
    assert complete(f"set --root {REPO} staging ") == [
        "abstract",
        "environment.",
        "extends",
        "platform.",
        "services.",
    ]


def test_set_key_path_a_sole_mapping_is_expanded() -> None:
    assert complete(f"set --root {REPO} staging services.netra-backend.dependencies.d") == [
        "services.netra-backend.dependencies.database.backoff",
        "services.netra-backend.dependencies.database.jitter",
        "services.netra-backend.dependencies.database.retries",
        "services.netra-backend.dependencies.database.service",
        "services.netra-backend.dependencies.database.timeouts.",
    ]


def test_set_key_path_names_come_from_the_bases() -> None:
    """staging names no redis timeouts itself; base does."""
    line = f"set --root {REPO} staging services.netra-backend.dependencies.redis.timeouts."
    assert complete(line) == [
        "services.netra-backend.dependencies.redis.timeouts.command",
        "services.netra-backend.dependencies.redis.timeouts.connect",
    ]


def test_set_key_path_rule_ids_with_dots() -> None:
    line = f"set --root {REPO} base services.auth-service.allow.budget.s"
    assert complete(line) == [
        "services.auth-service.allow.budget.shutdown",
        "services.auth-service.allow.budget.startup-probe",
        "services.auth-service.allow.budget.startup-total",
    ]


def test_set_key_path_unknown_prefix_offers_nothing() -> None:
    assert complete(f"set --root {REPO} staging nothing.here") == []
    assert complete(f"set --root {REPO} nosuchprofile serv") == ["services."]


def test_broken_profile_completes_only_what_the_schema_knows(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "base.yaml").write_text("services: [\n")
    offered = complete(f"set --root {tmp_path} base ")  # timeoutc's own schema: no schemas/
    assert "services." in offered and "extends" in offered
    assert not any(name.startswith("services.") and name != "services." for name in offered)
    assert complete(f"set --root {tmp_path} ") == ["base"]


def test_key_path_candidates_on_a_view() -> None:
    schema = __import__("json").loads((REPO / "schemas" / "profile.schema.json").read_text())
    view = merged_view(REPO, "production")
    assert key_path_candidates(schema, view, "environment.s") == ["environment.safety_margin"]
    assert key_path_candidates(schema, view, "services.auth-service.health.") == [
        "services.auth-service.health.liveness",
        "services.auth-service.health.startup",
    ]


# The callbacks for `explain ENV SERVICE [DEP.TIMEOUT]`, on a command shaped like it.


@click.command()
@click.option("--root", default=None)
@click.argument("environment", shell_complete=complete_environment)
@click.argument("service", shell_complete=complete_service)
@click.argument("timeout", required=False, shell_complete=complete_timeout)
def explain_like(root: str | None, environment: str, service: str, timeout: str | None) -> None:
    """Stands for `timeoutc explain`."""


def offered(args: list[str], incomplete: str) -> list[str]:
    completer = ShellComplete(explain_like, {}, "explain", "_EXPLAIN_COMPLETE")
    return [item.value for item in completer.get_completions(args, incomplete)]


def test_explain_environments_are_concrete_profiles() -> None:
    assert offered(["--root", str(REPO)], "") == ["development", "production", "staging"]


def test_explain_services_of_the_environment() -> None:
    assert offered(["--root", str(REPO), "staging"], "") == ["auth-service", "netra-backend"]
    assert offered(["--root", str(REPO), "staging"], "a") == ["auth-service"]


def test_explain_timeouts_of_the_service() -> None:
    assert offered(["--root", str(REPO), "staging", "auth-service"], "") == [
        "database.connect",
        "database.query",
        "redis.command",
        "redis.connect",
    ]
    assert offered(["--root", str(REPO), "staging", "netra-backend"], "web") == [
        "websocket_bridge.close",
        "websocket_bridge.handshake",
        "websocket_bridge.send",
    ]
    assert offered(["--root", str(REPO), "staging", "nosuch"], "") == []


def test_the_real_explain_and_show_complete_names() -> None:
    root = f"--root {REPO}"
    assert complete(f"explain {root} ") == ["development", "production", "staging"]
    assert complete(f"explain {root} staging a") == ["auth-service"]
    assert complete(f"explain {root} staging auth-service redis.c") == [
        "redis.command",
        "redis.connect",
    ]
    assert complete(f"show {root} production n") == ["netra-backend"]


def test_a_fifo_among_the_profiles_never_blocks_completion(tmp_path: Path) -> None:
    """A named pipe (or a device) in profiles/ is skipped, never read until it is written."""
    from compiler.cli.completion import profile_names

    for folder in ("profiles", "schemas"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    os.mkfifo(tmp_path / "profiles" / "pipe.yaml")
    (tmp_path / "profiles" / "staging.yaml").unlink()
    os.mkfifo(tmp_path / "profiles" / "staging.yaml")
    assert "pipe" not in profile_names(tmp_path, concrete=True)
    assert merged_view(tmp_path, "pipe") == {}
    assert merged_view(tmp_path, "staging") == {}
