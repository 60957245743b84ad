"""`timeoutc set`: one value changed in place, everything else byte for byte, all or nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, Run, copy_repo, tree_bytes, write_profile
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.authoring.editing import carry_over, edit_profile, guess_indent, new_value
from compiler.authoring.keypaths import KeyPathError, format_key_path, parse_key_path
from compiler.authoring.set import SetRequest, plan_edits, write_edit
from compiler.diagnostics import CompileError
from compiler.pipeline.load import load_bytes

CONNECT = "services.netra-backend.dependencies.database.timeouts.connect"


def lines_of(repo: Path, profile: str) -> list[str]:
    return (repo / "profiles" / f"{profile}.yaml").read_text(encoding="utf-8").splitlines()


def changed_lines(before: list[str], after: list[str]) -> list[tuple[str, str]]:
    """Pairs of differing lines; the files must have the same number of lines."""
    assert len(before) == len(after)
    return [(old, new) for old, new in zip(before, after, strict=True) if old != new]


def data_of(repo: Path, profile: str) -> dict[str, object]:
    path = repo / "profiles" / f"{profile}.yaml"
    return load_bytes(path.read_bytes(), path.name).data


# Comments, order, quoting and flow style survive: only the changed line differs.


def test_existing_flow_value_changes_only_its_line(run: Run, repo: Path) -> None:
    before = lines_of(repo, "staging")
    result = run("set", "staging", f"{CONNECT}", "2500ms", "--fixed", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert changed_lines(before, lines_of(repo, "staging")) == [
        (
            "        timeouts: {connect: {fixed: 3s}}   # pinned: not scaled",
            "        timeouts: {connect: {fixed: 2500ms}} # pinned: not scaled",
        )
    ]
    assert f"profiles/staging.yaml: {CONNECT}: {{fixed: 3s}} -> {{fixed: 2500ms}}" in result.stderr


def test_end_of_line_comment_keeps_its_column(run: Run, repo: Path) -> None:
    before = lines_of(repo, "base")
    result = run("set", "base", "services.netra-backend.request_timeout", "1200s", "--root", repo)
    assert result.exit_code == 0, result.stderr
    comment = "# Cloud Run timeoutSeconds; a WebSocket lives at most this long"
    old = f"    request_timeout: 300s         {comment}"
    new = f"    request_timeout: 1200s        {comment}"
    assert changed_lines(before, lines_of(repo, "base")) == [(old, new)]


def test_double_quotes_are_kept(run: Run, repo: Path) -> None:
    before = lines_of(repo, "base")
    result = run("set", "base", "platform.service_name", "{environment}-{service}", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert changed_lines(before, lines_of(repo, "base")) == [
        (
            '  service_name: "{service}-{environment}"   # Cloud Run service name',
            '  service_name: "{environment}-{service}"   # Cloud Run service name',
        )
    ]


def test_factor_is_written_exactly_as_typed(run: Run, repo: Path) -> None:
    before = lines_of(repo, "staging")
    result = run("set", "staging", "environment.timeout_multiplier", "0.70", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert changed_lines(before, lines_of(repo, "staging")) == [
        ("  timeout_multiplier: 0.7", "  timeout_multiplier: 0.70")
    ]


def test_integer_and_boolean_are_typed(run: Run, repo: Path) -> None:
    assert run("set", "production", "platform.min_instances", "3", "--root", repo).exit_code == 0
    assert data_of(repo, "production")["platform"] == {
        "project": "netra-production",
        "min_instances": 3,
    }
    assert run("set", "base", "abstract", "true", "--root", repo).exit_code == 0
    assert data_of(repo, "base")["abstract"] is True


def test_a_value_that_reads_as_a_number_is_quoted_for_a_string_key(run: Run, repo: Path) -> None:
    result = run("set", "base", "services.auth-service.image", "12345", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert '    image: "12345"' in lines_of(repo, "base")
    assert data_of(repo, "base")["services"]["auth-service"]["image"] == "12345"  # type: ignore[index]


def test_lines_ruamel_would_respace_are_left_alone(run: Run, repo: Path) -> None:
    text = (
        "extends:   base     # odd spacing\n"
        "environment:\n"
        "    timeout_multiplier:    0.5\n"
        "    safety_margin: 1.0\n"
        "platform: { project: netra-qa, min_instances: 0 }\n"
        "services:\n"
        "    netra-backend:\n"
        "        dependencies:\n"
        "            redis:\n"
        "                timeouts: { connect: 2s , command: 4s }   # spaces in braces\n"
        "        startup:\n"
        "        - database.connect\n"
        "        - redis.connect\n"
    )
    write_profile(repo, "qa", text)
    result = run("set", "qa", "environment.safety_margin", "1.25", "--root", repo)
    assert result.exit_code == 0, result.stderr
    after = (repo / "profiles" / "qa.yaml").read_text()
    assert after == text.replace("safety_margin: 1.0", "safety_margin: 1.25")


def test_a_value_on_a_line_ruamel_would_respace_is_spliced_in(run: Run, repo: Path) -> None:
    text = (
        "extends: base\n"
        "platform: { project: netra-qa, min_instances: 0 }   # respaced by a dump\n"
        "services:\n"
        "    netra-backend:\n"
        "        dependencies:\n"
        "            redis:\n"
        "                timeouts: { connect: 2s , command: 4s }\n"
    )
    write_profile(repo, "qa", text)
    command = "services.netra-backend.dependencies.redis.timeouts.command"
    assert run("set", "qa", command, "5s", "--root", repo).exit_code == 0
    assert run("set", "qa", "platform.project", "netra-qa2", "--root", repo).exit_code == 0
    assert run("set", "qa", command, "6s", "--fixed", "--root", repo).exit_code == 0
    assert (repo / "profiles" / "qa.yaml").read_text() == (
        text.replace("command: 4s", "command: {fixed: 6s}").replace("netra-qa,", "netra-qa2,")
    )


def test_windows_line_endings_are_kept(run: Run, repo: Path) -> None:
    path = repo / "profiles" / "development.yaml"
    crlf = path.read_bytes().replace(b"\n", b"\r\n")
    path.write_bytes(crlf)
    result = run("set", "development", "environment.timeout_multiplier", "1.5", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert path.read_bytes() == crlf.replace(
        b"timeout_multiplier: 2\r\n", b"timeout_multiplier: 1.5\r\n"
    )


# Missing mappings are created; names new to the chain need --new.


def test_missing_mappings_are_created_below_the_existing_text(run: Run, repo: Path) -> None:
    before = lines_of(repo, "production")
    result = run("set", "production", CONNECT, "3s", "--root", repo)
    assert result.exit_code == 0, result.stderr
    after = lines_of(repo, "production")
    assert after[: len(before)] == before
    assert after[len(before) :] == [
        "",
        "services:",
        "  netra-backend:",
        "    dependencies:",
        "      database:",
        "        timeouts:",
        "          connect: 3s",
    ]
    assert "2s (inherited) -> 3s" in result.stderr


def test_key_inside_a_flow_mapping_is_added_in_flow_style(run: Run, repo: Path) -> None:
    before = lines_of(repo, "staging")
    key = "services.netra-backend.dependencies.database.timeouts.query"
    assert run("set", "staging", key, "12s", "--root", repo).exit_code == 0
    assert changed_lines(before, lines_of(repo, "staging")) == [
        (
            "        timeouts: {connect: {fixed: 3s}}   # pinned: not scaled",
            "        timeouts: {connect: {fixed: 3s}, query: 12s} # pinned: not scaled",
        )
    ]


def test_new_dependency_needs_new_flag(run: Run, repo: Path) -> None:
    key = "services.netra-backend.dependencies.search.timeouts.request"
    before = tree_bytes(repo)
    refused = run("set", "staging", key, "2s", "--root", repo)
    assert refused.exit_code == 2
    assert "no dependency 'search' in 'services.netra-backend.dependencies'" in refused.stderr
    assert "pass --new to add 'search'" in refused.stderr
    assert tree_bytes(repo) == before
    accepted = run("set", "staging", key, "2s", "--new", "--root", repo)
    assert accepted.exit_code == 0, accepted.stderr
    services = data_of(repo, "staging")["services"]
    assert services["netra-backend"]["dependencies"]["search"] == {"timeouts": {"request": "2s"}}  # type: ignore[index]


def test_set_on_a_pinned_value_keeps_the_pin(run: Run, repo: Path) -> None:
    before = lines_of(repo, "staging")
    result = run("set", "staging", CONNECT, "2s", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert changed_lines(before, lines_of(repo, "staging")) == [
        (
            "        timeouts: {connect: {fixed: 3s}}   # pinned: not scaled",
            "        timeouts: {connect: {fixed: 2s}}   # pinned: not scaled",
        )
    ]
    assert f"{CONNECT}: {{fixed: 3s}} -> {{fixed: 2s}}" in result.stderr
    assert "stays pinned" in result.stderr and "--scaled" in result.stderr


def test_set_keeps_a_pin_inherited_from_a_base(run: Run, repo: Path) -> None:
    key = "services.netra-backend.dependencies.redis.timeouts.command"
    assert run("set", "base", key, "4s", "--fixed", "--root", repo).exit_code == 0
    result = run("set", "development", key, "7s", "--root", repo)
    assert result.exit_code == 0, result.stderr
    redis = data_of(repo, "development")["services"]["netra-backend"]["dependencies"]["redis"]  # type: ignore[index]
    assert redis["timeouts"]["command"] == {"fixed": "7s"}


def test_set_scaled_turns_a_pin_into_a_scaled_value(run: Run, repo: Path) -> None:
    result = run("set", "staging", CONNECT, "4s", "--scaled", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert "was pinned ({fixed: 3s}); it is now scaled by the environment" in result.stderr
    assert "        timeouts: {connect: 4s}            # pinned: not scaled" in lines_of(
        repo, "staging"
    )
    assert f"{CONNECT}: {{fixed: 3s}} -> 4s" in result.stderr


def test_set_fixed_turns_a_scaled_value_into_a_pin(run: Run, repo: Path) -> None:
    key = "services.netra-backend.dependencies.redis.timeouts.command"
    result = run("set", "development", key, "1s", "--fixed", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert "          command: {fixed: 1s}" in lines_of(repo, "development")
    assert "was scaled (" in result.stderr and "it is now pinned ({fixed: 1s})" in result.stderr


def test_set_fixed_and_scaled_together_are_refused(run: Run, repo: Path) -> None:
    before = tree_bytes(repo)
    result = run("set", "staging", CONNECT, "4s", "--fixed", "--scaled", "--root", repo)
    assert result.exit_code == 2
    assert "--fixed and --scaled contradict each other" in result.stderr
    assert tree_bytes(repo) == before


BILLING = (
    "{image: us-docker.pkg.dev/netra/billing/billing:1.0.0, port: 8080, "
    "request_timeout: 60s, health: {startup: /health, liveness: /health}}"
)


def test_set_writes_a_whole_mapping_as_yaml_flow(run: Run, repo: Path) -> None:
    before = lines_of(repo, "base")
    result = run("set", "base", "services.billing", BILLING, "--new", "--build", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert lines_of(repo, "base") == [*before, f"  billing: {BILLING}"]
    billing = data_of(repo, "base")["services"]["billing"]  # type: ignore[index]
    assert billing == {
        "image": "us-docker.pkg.dev/netra/billing/billing:1.0.0",
        "port": 8080,
        "request_timeout": "60s",
        "health": {"startup": "/health", "liveness": "/health"},
    }
    assert (repo / "out/staging/billing/service.yaml").is_file()
    assert run("check", "--root", repo).exit_code == 0


def test_set_a_mapping_is_validated_and_atomic(run: Run, repo: Path) -> None:
    before = tree_bytes(repo)
    broken = BILLING.replace("port: 8080", "port: '8080'")
    result = run("set", "base", "services.billing", broken, "--new", "--root", repo)
    assert result.exit_code == 2
    assert "'services.billing.port' must be an integer" in result.stderr
    unterminated = run("set", "base", "services.billing", "{image: a", "--new", "--root", repo)
    assert unterminated.exit_code == 2
    assert "error: invalid YAML" in unterminated.stderr
    assert tree_bytes(repo) == before


def test_set_writes_several_key_value_pairs_together(run: Run, repo: Path) -> None:
    svc = "services.billing"
    pairs = [
        (f"{svc}.image", "us-docker.pkg.dev/netra/billing/billing:1.0.0"),
        (f"{svc}.port", "8080"),
        (f"{svc}.request_timeout", "60s"),
        (f"{svc}.health.startup", "/health"),
        (f"{svc}.health.liveness", "/health"),
    ]
    before = tree_bytes(repo)
    alone = run("set", "base", *pairs[0], "--new", "--root", repo)
    assert alone.exit_code == 2  # one key alone leaves the service incomplete
    assert "service 'billing' has no request_timeout" in alone.stderr
    assert "note: 'services.billing' is new: give it every required key in one command" in (
        alone.stderr
    )
    assert tree_bytes(repo) == before
    result = run("set", "base", *[word for pair in pairs for word in pair], "--new", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert data_of(repo, "base")["services"]["billing"]["port"] == 8080  # type: ignore[index]
    for key, value in pairs:
        assert f"profiles/base.yaml: {key}: not set -> {value}" in result.stderr


def test_set_pairs_are_checked_together_before_anything_is_written(run: Run, repo: Path) -> None:
    before = tree_bytes(repo)
    result = run(
        "set",
        "staging",
        "environment.max_timeout",
        "6s",
        "environment.max_totl_timeout",
        "20s",
        "environment.max_timeout",
        "7s",
        "--root",
        repo,
    )
    assert result.exit_code == 2
    assert "unknown key 'max_totl_timeout' in 'environment'" in result.stderr
    assert "'environment.max_timeout' is set twice in one command" in result.stderr
    odd = run("set", "staging", "environment.max_timeout", "6s", "platform.region", "--root", repo)
    assert odd.exit_code == 2 and "has no VALUE" in odd.stderr
    assert tree_bytes(repo) == before


@pytest.mark.parametrize(
    "key_path",
    ['services.netra-backend.allow."budget.callee"', "services.netra-backend.allow.budget.callee"],
)
def test_keys_with_a_dot(run: Run, repo: Path, key_path: str) -> None:
    result = run("set", "base", key_path, "the caller streams", "--root", repo)
    assert result.exit_code == 0, result.stderr
    allow = data_of(repo, "base")["services"]["netra-backend"]["allow"]  # type: ignore[index]
    assert allow == {"budget.callee": "the caller streams"}
    assert 'allow."budget.callee": not set -> the caller streams' in result.stderr


def test_list_value(run: Run, repo: Path) -> None:
    key = "services.auth-service.request_paths.login"
    result = run("set", "base", key, "[database.query, redis.command]", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert "      login: [database.query, redis.command]" in lines_of(repo, "base")


def test_same_value_leaves_the_file_alone(run: Run, repo: Path) -> None:
    before = tree_bytes(repo)
    result = run("set", "staging", "environment.max_timeout", "5s", "--root", repo)
    assert result.exit_code == 0
    assert "environment.max_timeout is already 5s; file unchanged" in result.stderr
    assert tree_bytes(repo) == before


def test_build_updates_out_and_check_is_clean(run: Run, repo: Path) -> None:
    env = repo / "out" / "production" / "netra-backend" / "timeouts.env"
    assert "DATABASE_CONNECT_TIMEOUT_S=2.4\n" in env.read_text()
    result = run("set", "production", CONNECT, "3s", "--build", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert "DATABASE_CONNECT_TIMEOUT_S=3.6\n" in env.read_text()
    assert run("check", "--root", repo).exit_code == 0


def test_without_build_out_is_stale_and_set_says_so(run: Run, repo: Path) -> None:
    result = run("set", "production", CONNECT, "3s", "--root", repo)
    assert result.exit_code == 0
    assert "timeoutc: 4 files in out/ are now stale; run timeoutc build" in result.stderr
    assert run("check", "--root", repo).exit_code == 1


def test_a_change_with_no_effect_on_outputs_says_nothing_of_out(run: Run, repo: Path) -> None:
    result = run("set", "base", "services.netra-backend.allow.budget.callee", "x", "--root", repo)
    assert result.exit_code == 0
    assert "stale" not in result.stderr


def test_no_temporary_file_is_left(run: Run, repo: Path) -> None:
    assert run("set", "staging", "platform.min_instances", "2", "--root", repo).exit_code == 0
    assert sorted(p.name for p in (repo / "profiles").iterdir()) == [
        "base.yaml",
        "development.yaml",
        "production.yaml",
        "staging.yaml",
    ]


# Every rejection: exit 2, a located message, and not one byte changed anywhere.

REJECTIONS = [
    pytest.param(
        ("staging", "environment.max_timeout", "5"),
        "profiles/staging.yaml:9:16: error: invalid duration '5' for 'environment.max_timeout'",
        id="duration-without-unit",
    ),
    pytest.param(
        ("staging", "environment.timeout_multiplier", "fast"),
        "profiles/staging.yaml:7:23: error: 'environment.timeout_multiplier' must be a number, "
        "not 'fast'",
        id="factor-not-a-number",
    ),
    pytest.param(
        ("staging", "environment.timeout_multiplier", "0"),
        "profiles/staging.yaml:7:23: error: "
        "'environment.timeout_multiplier' must be greater than 0",
        id="factor-zero",
    ),
    pytest.param(
        ("production", "platform.min_instances", "yes"),
        "profiles/production.yaml:13:18: error: 'platform.min_instances' must be an integer",
        id="integer-not-a-number",
    ),
    pytest.param(
        ("staging", "environment.timeout_multipler", "0.5"),
        "profiles/staging.yaml:6:1: error: unknown key 'timeout_multipler' in 'environment'; "
        "did you mean 'timeout_multiplier'?",
        id="unknown-key",
    ),
    pytest.param(
        ("production", "services.netra-backend.dependencies.databse.timeouts.connect", "3s"),
        "profiles/production.yaml: error: no dependency 'databse' in "
        "'services.netra-backend.dependencies' of this profile or its bases; "
        "did you mean 'database'?",
        id="misspelt-dependency",
    ),
    pytest.param(
        ("base", "services.netra-backend.alow.x", "3s"),
        "profiles/base.yaml:13:3: error: unknown key 'alow' in 'services.netra-backend'; "
        "did you mean 'allow'?",
        id="unknown-key-in-service",
    ),
    pytest.param(
        ("base", "services.netra-backend.port.number", "1"),
        "profiles/base.yaml:15:5: error: 'services.netra-backend.port' is a integer, "
        "it has no key 'number'",
        id="key-below-a-scalar",
    ),
    pytest.param(
        ("base", "services.netra-backend.allow.budget.calle", "x"),
        "profiles/base.yaml:13:3: error: unknown key 'budget.calle' in "
        "'services.netra-backend.allow'; did you mean 'budget.callee'?",
        id="unknown-rule-id",
    ),
    pytest.param(
        ("base", "services.netra-backend.request_timeout", "5s"),
        "profiles/base.yaml:20:40: error: budget.dependency: profile 'development', "
        "service 'netra-backend': database.query 30.0s",
        id="budget-broken",
    ),
    pytest.param(
        ("staging", CONNECT, "7s", "--fixed"),
        "profiles/staging.yaml:20:37: error: fixed timeout database.connect 7s is above "
        "max_timeout 5s (profiles/staging.yaml:9:16) of profile 'staging'",
        id="fixed-above-max-timeout",
    ),
    pytest.param(
        ("stagin", "environment.max_timeout", "5s"),
        "profiles: error: unknown profile 'stagin'; did you mean 'staging'?",
        id="unknown-profile",
    ),
    pytest.param(
        ("staging", "platform.region", "1s", "--fixed"),
        "profiles/staging.yaml:12:1: error: --fixed applies to a timeout; "
        "'platform.region' is not one",
        id="fixed-on-a-non-timeout",
    ),
    pytest.param(
        ("base", "services.netra-backend.health", "/x"),
        "profiles/base.yaml:17:5: error: 'services.netra-backend.health' is a mapping; "
        "set one of its keys, or give VALUE as a YAML mapping; "
        "e.g. services.netra-backend.health.startup, or the whole mapping as '{startup: ...}'",
        id="mapping-target",
    ),
    pytest.param(
        ("base", "services..port", "1"),
        "profiles/base.yaml: error: empty key in key path 'services..port'",
        id="empty-segment",
    ),
    pytest.param(
        ("base", "services.Netra.port", "1"),
        "profiles/base.yaml:12:1: error: invalid service name 'Netra'",
        id="bad-service-name",
    ),
]


@pytest.fixture(scope="module")
def untouched_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy for every rejection: each test checks that it stays byte for byte."""
    return copy_repo(tmp_path_factory.mktemp("rejections"))


@pytest.mark.parametrize(("arguments", "message"), REJECTIONS)
def test_rejections_change_nothing(
    run: Run, untouched_repo: Path, arguments: tuple[str, ...], message: str
) -> None:
    before = tree_bytes(untouched_repo)
    result = run("set", *arguments, "--build", "--root", untouched_repo)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert tree_bytes(untouched_repo) == before


def test_a_broken_repository_is_not_edited(run: Run, repo: Path) -> None:
    path = repo / "profiles" / "development.yaml"
    path.write_text(path.read_text().replace("min_instances: 0", "min_instances: -1"))
    before = tree_bytes(repo)
    result = run("set", "staging", "environment.max_timeout", "6s", "--root", repo)
    assert result.exit_code == 2
    assert (
        "profiles/development.yaml:11:18: error: 'platform.min_instances' must be at least 0"
        in result.stderr
    )
    assert tree_bytes(repo) == before


def test_an_invalid_profile_file_is_reported_where_it_is(run: Run, repo: Path) -> None:
    write_profile(repo, "qa", "extends: base\nplatform: [\n")
    before = tree_bytes(repo)
    result = run("set", "qa", "platform.project", "netra-qa", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("profiles/qa.yaml:3:1: error: invalid YAML")
    assert tree_bytes(repo) == before


# The pieces.


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ("a.b.c", ("a", "b", "c")),
        ('a."b.c".d', ("a", "b.c", "d")),
        ("a.'b.c'", ("a", "b.c")),
        ("one", ("one",)),
    ],
)
def test_parse_key_path(text: str, path: tuple[str, ...]) -> None:
    assert parse_key_path(text) == path
    assert parse_key_path(format_key_path(path)) == path


@pytest.mark.parametrize("text", ["", "a.", ".a", 'a."b', 'a."b"c', "a..b"])
def test_parse_key_path_rejects(text: str) -> None:
    with pytest.raises(KeyPathError):
        parse_key_path(text)


def test_guess_indent() -> None:
    assert guess_indent("a:\n  b: 1\n  c:\n    - x\n") == (2, 4, 2)
    assert guess_indent("a:\n    b:\n    - x\n") == (4, 2, 0)
    assert guess_indent("a: 1\n") == (2, 2, 0)


def test_carry_over_keeps_lines_the_dump_respaces() -> None:
    original = "a:  1\nb: 2\nc: { x: 1 }\n"
    baseline = "a: 1\nb: 2\nc: {x: 1}\n"
    edited = "a: 1\nb: 3\nc: {x: 1}\n"
    assert carry_over(original, baseline, edited) == "a:  1\nb: 3\nc: { x: 1 }\n"
    assert carry_over(original, baseline, edited + "d: 4\n") == "a:  1\nb: 3\nc: { x: 1 }\nd: 4\n"
    assert carry_over(baseline, baseline, edited) == edited


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(st.characters(exclude_categories=("Cs",)), max_size=20),
    key=st.sampled_from(
        [("platform", "project"), ("services", "netra-backend", "allow", "budget.callee")]
    ),
)
def test_any_string_is_written_so_that_it_reads_back(text: str, key: tuple[str, ...]) -> None:
    """Whatever VALUE holds, the file reads back to it exactly, or the edit is refused."""
    raw = (REPO / "profiles" / "staging.yaml").read_bytes()
    try:
        after, _, value = edit_profile(
            raw,
            "profiles/staging.yaml",
            key,
            lambda old, flow: new_value("string", text, old, fixed=False, flow=flow),
        )
    except CompileError:
        return
    node: Any = load_bytes(after, "staging.yaml").data
    for part in key:
        node = node[part]
    assert node == value == text


def test_a_file_changed_since_it_was_read_is_not_replaced(repo: Path) -> None:
    request = SetRequest("staging", "environment.max_timeout", "6s")
    edit = plan_edits(repo, [request])
    path = repo / "profiles" / "staging.yaml"
    path.write_text(path.read_text() + "# edited meanwhile\n")
    edited_meanwhile = path.read_bytes()
    with pytest.raises(CompileError, match="changed on disk while timeoutc set ran"):
        write_edit(edit)
    assert path.read_bytes() == edited_meanwhile


def test_a_rejected_edit_is_reported_on_the_file_as_it_still_is(run: Run, tmp_path: Path) -> None:
    root = copy_repo(tmp_path / "repo")
    staging = root / "profiles" / "staging.yaml"
    lines = staging.read_text(encoding="utf-8").splitlines()
    margin = next(n for n, line in enumerate(lines, 1) if "safety_margin:" in line)
    result = run("set", "staging", "environment.safety_margin", "0", "--root", root)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"profiles/staging.yaml:{margin}:18: error: ")
    assert "as the line would read after the edit: safety_margin: 0" in result.stderr
    added = run("set", "staging", "services.netra-backend.port", "99999", "--root", root)
    assert added.exit_code == 2
    line = int(added.stderr.split(":")[1])
    assert 1 <= line <= len(lines)  # new lines would be appended; the place shown exists
    assert "as the line would read after the edit: port: 99999" in added.stderr


def test_a_profile_that_is_a_fifo_is_an_error_not_a_wait(repo: Path) -> None:
    """`set` reads the profile as every command does: a named pipe is refused, not read."""
    (repo / "profiles" / "staging.yaml").unlink()
    os.mkfifo(repo / "profiles" / "staging.yaml")
    result = subprocess.run(
        [sys.executable, "-m", "compiler", "set", "staging", CONNECT, "2s", "--root", str(repo)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
    )
    assert result.returncode == 2
    assert "profiles/staging.yaml: error: is not a regular file" in result.stderr


def test_a_key_a_base_does_not_pass_on_is_not_shown_as_inherited(run: Run, repo: Path) -> None:
    result = run("set", "staging", "abstract", "false", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert "abstract: not set -> false" in result.stderr
    assert "inherited" not in result.stderr
