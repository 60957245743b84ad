"""The README's tour, run for real: every output it quotes is what the tool prints."""

from __future__ import annotations

from pathlib import Path

from conftest import REPO, Run, tree_bytes

README = (REPO / "README.md").read_text(encoding="utf-8")


def quoted(text: str) -> None:
    """`text` stands in the README, line for line (indentation aside)."""
    readme_lines = {line.strip() for line in README.splitlines()}
    for line in text.strip().splitlines():
        assert line.strip() in readme_lines, f"README does not show: {line!r}"


def edit(root: Path, old: str, new: str) -> None:
    path = root / "profiles" / "staging.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_five_minute_tour(run: Run, repo: Path) -> None:
    before = tree_bytes(repo / "out")
    edit(repo, "max_timeout: 5s", "max_timeout: 6s")
    step2 = run("build", "--root", repo)
    assert step2.exit_code == 2
    quoted(step2.stderr)
    assert tree_bytes(repo / "out") == before

    edit(repo, "max_total_timeout: 33s", "max_total_timeout: 35s")
    step3 = run("build", "--root", repo)
    assert step3.exit_code == 0, step3.stderr
    quoted(step3.stderr)

    step4 = run("check", "--root", repo)
    assert step4.exit_code == 0
    quoted(step4.stderr)
    env = (repo / "out/staging/netra-backend/timeouts.env").read_text(encoding="utf-8")
    assert "AUTH_REQUEST_TIMEOUT_S=6.0\n" in env

    step5 = run("explain", "staging", "netra-backend", "auth.request", "--root", repo)
    assert step5.exit_code == 0
    shown = README.split("$ .venv/bin/timeoutc explain staging netra-backend auth.request\n")[1]
    shown = shown.split("```", 1)[0].replace("   ...\n", "")
    quoted_lines = [line.strip() for line in shown.strip().splitlines()]
    printed = [line.strip() for line in step5.stdout.splitlines()]
    start = printed.index(quoted_lines[0])
    assert printed[start : start + len(quoted_lines)] == quoted_lines

    after = tree_bytes(repo / "out")
    edit(repo, "max_timeout: 6s", "max_timeout: 6")
    step6 = run("build", "--root", repo)
    assert step6.exit_code == 2
    quoted(step6.stderr)
    assert tree_bytes(repo / "out") == after


def test_the_two_commands_are_the_makefile_targets() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert "make build" in README and "make test" in README
    assert "\nbuild:" in makefile and "\ntest:" in makefile
