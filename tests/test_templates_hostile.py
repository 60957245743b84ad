"""Broken and hostile templates: `templates/NAME.j2:LINE: error: ...`, exit 2, nothing written.

Templates render in Jinja2's immutable sandbox with StrictUndefined; on top of that the
compiler bounds `*` and `**`, the time one render may take, and what `include` may read.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from compiler.pipeline import render
from tests.conftest import Run, tree_bytes, write_profile

BAD = "templates/bad.txt.j2"

CASES = [
    ("syntax-error", "a\n{% if %}\n", 2, "Expected an expression, got 'end of statement block'"),
    ("unclosed-block", "a\n{% for x in service.dependencies %}\n", 2, "Unexpected end of template"),
    ("undefined-name", "a\nb\n{{ nope }}\n", 3, "'nope' is undefined"),
    ("undefined-attribute", "{{ service.nope }}\n", 1, "has no attribute 'nope'"),
    ("unknown-filter", "a\n{{ service.name | nofilter }}\n", 2, "No filter named 'nofilter'."),
    (
        "unknown-test",
        "{% if service is nothing %}x{% endif %}\n",
        1,
        "No test named 'nothing' found.",
    ),
    ("filter-on-wrong-type", "a\n{{ service.port | yaml_str | int | first }}\n", 2, "int"),
    (
        "mro-escape",
        "a\n\n{{ ''.__class__.__mro__ }}\n",
        3,
        "access to attribute '__class__' of 'str' object is unsafe.",
    ),
    (
        "cycler-globals",
        "a\n{{ cycler.__init__.__globals__ }}\n",
        2,
        "access to attribute '__init__' of 'type' object is unsafe.",
    ),
    (
        "lipsum-globals",
        "{{ lipsum.__globals__['os'] }}\n",
        1,
        "access to attribute '__globals__' of 'function' object is unsafe.",
    ),
    (
        "subclasses",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}\n",
        1,
        "access to attribute '__class__' of 'str' object is unsafe.",
    ),
    (
        "model-class",
        "{{ service.__class__ }}\n{{ service.__class__.__init__.__globals__ }}\n",
        1,
        "access to attribute '__class__' of 'Service' object is unsafe.",
    ),
    (
        "format-string-escape",
        "{{ '{0.__class__.__init__.__globals__}'.format(service) }}\n",
        1,
        "access to attribute '__init__' of 'ModelUndefined' object is unsafe.",
    ),
    (
        "mutate-the-model",
        "{{ service.allow.clear() }}\n",
        1,
        "access to attribute 'clear' of 'dict' object is unsafe.",
    ),
    (
        "huge-range",
        "{{ range(10 ** 9) | list }}\n",
        1,
        "Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).",
    ),
    ("huge-power", "{{ 9 ** 999999999 }}\n", 1, "9 ** 999999999 is too large for a template"),
    (
        "huge-repeat",
        "x\n{{ 'x' * 10 ** 9 }}\n",
        2,
        "repeating a value 1000000000 times is too much for a template",
    ),
    (
        "include-outside",
        "{% include '../profiles/base.yaml' %}\n",
        1,
        "no template '../profiles/base.yaml' in templates/ (links and special files aside)",
    ),
    (
        "include-absolute",
        "{% include '/etc/passwd' %}\n",
        1,
        "no template '/etc/passwd' in templates/",
    ),
    ("endless-recursion", "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}\n", 1, "recursion"),
]


def _build_refused(repo: Path, run: Run, line: int, message: str) -> None:
    before = tree_bytes(repo / "out")
    result = run("build", "--root", repo)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"{BAD}:{line}: error: template: "
    assert lines[0].startswith(prefix) and message in lines[0], result.stderr
    assert tree_bytes(repo / "out") == before
    assert not list((repo / "out").rglob("bad.txt"))


@pytest.mark.parametrize(
    ("template", "line", "message"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_broken_template_is_reported_at_its_line(
    template: str, line: int, message: str, repo: Path, run: Run
) -> None:
    (repo / BAD).write_text(template, encoding="utf-8")
    _build_refused(repo, run, line, message)


def test_a_broken_template_stops_every_write(repo: Path, run: Run) -> None:
    """Profiles changed so that every output would change; one template breaks: none written."""
    staging = repo / "profiles" / "staging.yaml"
    staging.write_text(
        staging.read_text().replace("timeout_multiplier: 0.7", "timeout_multiplier: 0.6")
    )
    (repo / BAD).write_text("ok\n{{ service.name }}\n{{ service.nope }}\n", encoding="utf-8")
    _build_refused(repo, run, 3, "has no attribute 'nope'")


def test_a_runaway_loop_is_stopped(repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(render, "RENDER_SECONDS", 0.3)
    loop = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n"
    (repo / BAD).write_text(f"x\n{loop}", encoding="utf-8")
    _build_refused(repo, run, 2, "took longer than 0.3s; does a loop run away?")


@pytest.mark.parametrize("kind", ["link-outside", "fifo", "link-to-fifo"])
def test_include_never_reads_through_a_link_or_a_special_file(
    kind: str, repo: Path, run: Run, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET\n", encoding="utf-8")
    included = repo / "templates" / "part.txt"
    if kind == "link-outside":
        included.symlink_to(secret)
    elif kind == "fifo":
        os.mkfifo(included)
    else:
        os.mkfifo(tmp_path / "fifo")
        included.symlink_to(tmp_path / "fifo")
    (repo / BAD).write_text("{% include 'part.txt' %}\n", encoding="utf-8")
    _build_refused(repo, run, 1, "no template 'part.txt' in templates/")


def test_include_of_a_plain_template_file_still_works(repo: Path, run: Run) -> None:
    (repo / "templates" / "part.txt").write_text("included {{ service.name }}\n")
    (repo / BAD).write_text("{% include 'part.txt' %}\n", encoding="utf-8")
    result = run("build", "--root", repo)
    assert result.exit_code == 0, result.stderr
    text = (repo / "out" / "staging" / "netra-backend" / "bad.txt").read_text()
    assert text.endswith("included netra-backend\n")


def test_template_values_are_data_never_template_source(repo: Path, run: Run) -> None:
    """A value that looks like Jinja is written as it is, not evaluated."""
    write_profile(
        repo,
        "staging",
        (repo / "profiles" / "staging.yaml").read_text()
        + "  auth-service:\n    allow: {budget.dependency: '{{ 7 * 7 }} {% raw %}'}\n",
    )
    (repo / BAD).write_text("{{ service.allow | tojson }}\n", encoding="utf-8")
    result = run("build", "--root", repo)
    assert result.exit_code == 0, result.stderr
    text = (repo / "out" / "staging" / "auth-service" / "bad.txt").read_text()
    assert '"{{ 7 * 7 }} {% raw %}"' in text


def _renders(repo: Path) -> int:
    """How many times a template renders in a build of `repo`: once per service."""
    from compiler.pipeline import compile_repository

    return sum(len(p.services) for p in compile_repository(repo, render=False).profiles)


def test_one_time_limit_holds_for_all_templates_of_a_build(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each render alone takes a third of the limit; together they pass it, and fail."""
    import time

    import jinja2

    loop = "{% for i in range(N) %}{% for j in range(100) %}{% endfor %}{% endfor %}\n"
    template = jinja2.Environment().from_string(loop.replace("N", "2000"))
    start = time.process_time()  # the budget is CPU time: a busy machine does not count
    template.render()
    per_thousand = (time.process_time() - start) / 2
    budget = 0.6
    count = max(1, int(budget / 3 / per_thousand * 1000))
    assert _renders(repo) >= 6
    (repo / BAD).write_text(f"x\n{loop.replace('N', str(count))}", encoding="utf-8")
    monkeypatch.setenv("TIMEOUTC_TEMPLATE_SECONDS", str(budget))
    _build_refused(repo, run, 2, "took longer than 0.6s; does a loop run away? (that is the limit")


def test_a_runaway_template_fails_the_build_within_the_default_limit(repo: Path) -> None:
    """No setting: the build stops at 5 s, naming the template, well within 10 s."""
    import subprocess
    import sys

    loop = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}\n"
    (repo / BAD).write_text(f"x\n{loop}", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "TIMEOUTC_TEMPLATE_SECONDS"}
    result = subprocess.run(
        [sys.executable, "-m", "compiler", "build", "--root", str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"{BAD}:2: error: template: took longer than 5s; does a loop run away?"
    ), result.stderr
    assert "TIMEOUTC_TEMPLATE_SECONDS sets it" in result.stderr


@pytest.mark.parametrize(
    "body",
    [
        "{% for i in range(30) %}{{ 'x' * 1000000 }}{% endfor %}\n",  # 30 MB
        "{{ 'x' * 9999999 }}{{ 'é' * 9999 }}\n",  # under 10 M characters, over 10 MB
    ],
)
def test_an_output_larger_than_10_mb_is_an_error(body: str, repo: Path, run: Run) -> None:
    (repo / BAD).write_text(body, encoding="utf-8")
    before = tree_bytes(repo / "out")
    result = run("build", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr == f"{BAD}: error: template: its output is larger than 10 MB\n"
    assert tree_bytes(repo / "out") == before


@pytest.mark.parametrize("value", ["0", "-1", "x", "nan", "inf", "1e9"])
def test_a_bad_template_time_limit_is_an_error(
    value: str, repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMEOUTC_TEMPLATE_SECONDS", value)
    result = run("build", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("TIMEOUTC_TEMPLATE_SECONDS: error: expected seconds above 0")


def test_a_larger_template_time_limit_can_be_set(
    repo: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIMEOUTC_TEMPLATE_SECONDS", "60")
    assert run("build", "--root", repo).exit_code == 0
