"""Cloud Run as it behaves: designed startup probes, per-service settings, budget.shutdown.

The probe properties are checked for every budget from 1 ms to 240 s (hypothesis) and
on every generated service.yaml (tests/test_outputs.py imports `probe_problems`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import Run, at, load_module, write_profile
from hypothesis import given
from hypothesis import strategies as st

from compiler import cloudrun
from compiler.model import StartupProbe

WINDOW_S = 240


def probe_problems(probe: dict[str, Any], budget_ms: int) -> list[str]:
    """Every property a startup probe for `budget_ms` breaks (budgets up to 240 s)."""
    delay = probe.get("initialDelaySeconds", 0)
    timeout, period = probe["timeoutSeconds"], probe["periodSeconds"]
    threshold = probe["failureThreshold"]
    last_ms = (delay + (threshold - 1) * period) * 1000
    checks = {
        "1 <= timeoutSeconds <= periodSeconds <= 240": 1 <= timeout <= period <= WINDOW_S,
        "0 <= initialDelaySeconds <= 240": 0 <= delay <= WINDOW_S,
        "failureThreshold >= 1": threshold >= 1,
        "failureThreshold x periodSeconds <= 240": threshold * period <= WINDOW_S,
        "the last probe runs at or after the budget": last_ms >= budget_ms,
        "periodSeconds is 1 s": period == 1,
        "no probe more than needed": threshold == 1 or last_ms - period * 1000 < budget_ms,
        "no initial delay unless the window is full": delay == 0 or threshold * period == WINDOW_S,
        "readiness noticed within one period": max(delay, period) <= 1,
    }
    return [name for name, holds in checks.items() if not holds]


def as_yaml(probe: StartupProbe) -> dict[str, Any]:
    return {
        "initialDelaySeconds": probe.initial_delay_s,
        "timeoutSeconds": probe.timeout_s,
        "periodSeconds": probe.period_s,
        "failureThreshold": probe.failure_threshold,
    }


@given(st.integers(min_value=1, max_value=240_000))
def test_every_budget_up_to_240s_gets_a_probe_with_every_property(budget_ms: int) -> None:
    assert probe_problems(as_yaml(cloudrun.startup_probe(budget_ms)), budget_ms) == []


def test_a_4_61_s_budget_is_probed_every_second_until_5s() -> None:
    probe = cloudrun.startup_probe(4610)
    assert probe == StartupProbe(timeout_s=1, period_s=1, failure_threshold=6, initial_delay_s=0)
    assert probe.last_probe_s == 5 and probe.window_s == 6
    assert probe_problems(as_yaml(probe), 4610) == []


@pytest.mark.parametrize(
    ("budget_ms", "delay", "threshold"),
    [
        (1, 0, 2),
        (1000, 0, 2),
        (1001, 0, 3),
        (239_000, 0, 240),
        (239_001, 1, 240),
        (240_000, 1, 240),
    ],
)
def test_the_probe_at_the_edges(budget_ms: int, delay: int, threshold: int) -> None:
    probe = cloudrun.startup_probe(budget_ms)
    assert (probe.initial_delay_s, probe.period_s, probe.failure_threshold) == (
        1 * delay,
        1,
        threshold,
    )
    assert probe_problems(as_yaml(probe), budget_ms) == []


def test_a_budget_past_the_limits_gets_the_longest_probe_cloud_run_accepts() -> None:
    probe = cloudrun.startup_probe(600_000)
    assert as_yaml(probe) == {
        "initialDelaySeconds": 240,
        "timeoutSeconds": 1,
        "periodSeconds": 1,
        "failureThreshold": 240,
    }


# --- compiled repositories -------------------------------------------------------------

BASE = """\
abstract: true
platform:
  region: us-central1
  cold_start_buffer: 2s
  boot_time: 2s
services:
  api:
    image: example.com/api:1
    port: 8080
    request_timeout: 60s
    health: {startup: /ready, liveness: /live}
    dependencies:
      db:
        timeouts: {connect: 610ms, close: 4s}
      bridge:
        timeouts: {close: 6s}
    startup: [db.connect]
  worker:
    image: example.com/worker:1
    port: 8081
    request_timeout: 60s
    health: {startup: /ready, liveness: /live}
"""


def build(run: Run, root: Path, base: str, production: str = "extends: base\n") -> Any:
    for old in (root / "profiles").glob("*.yaml"):
        old.unlink()
    write_profile(root, "base", base)
    write_profile(root, "production", production)
    return run("build", "--root", root)


def service_yaml(root: Path, service: str) -> dict[str, Any]:
    text = (root / "out" / "production" / service / "service.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def test_a_service_with_a_4_61_s_budget_gets_that_probe(run: Run, repo: Path) -> None:
    result = build(run, repo, BASE)
    assert result.exit_code == 0, result.stderr
    container = service_yaml(repo, "api")["spec"]["template"]["spec"]["containers"][0]
    probe = container["startupProbe"]
    assert probe == {
        "httpGet": {"path": "/ready", "port": 8080},
        "initialDelaySeconds": 0,
        "timeoutSeconds": 1,
        "periodSeconds": 1,
        "failureThreshold": 6,
    }
    assert probe_problems(probe, 4610) == []
    explained = run("explain", "production", "api", "--root", repo).stdout
    assert "+ boot_time                          2.0s" in explained
    assert "= startup budget                    4.61s" in explained
    assert "0 + (6 - 1) x 1 = 5s >= 4.61s" in explained


def test_a_service_with_no_chain_gets_a_window_of_at_least_its_boot_time(
    run: Run, repo: Path
) -> None:
    base = BASE.replace("  boot_time: 2s\n", "")
    assert build(run, repo, base).exit_code == 0
    probe = service_yaml(repo, "worker")["spec"]["template"]["spec"]["containers"][0]
    probe = probe["startupProbe"]
    assert probe["failureThreshold"] == 13  # 10s default boot_time + 2s buffer, then one more
    assert probe_problems(probe, 12_000) == []
    window_s = probe["failureThreshold"] * probe["periodSeconds"]
    assert window_s >= 10


SETTINGS = BASE.replace(
    "  boot_time: 2s\n",
    """\
  boot_time: 2s
  startup_cpu_boost: true
  cpu_throttling: false
  concurrency: 80
  liveness_probe: {period: 20s, failure_threshold: 5}
""",
).replace(
    "    startup: [db.connect]\n",
    """\
    startup: [db.connect]
    session_affinity: true
    concurrency: 1
    cpu_throttling: true
    liveness_probe: {timeout: 4s}
""",
)


def test_each_setting_is_written_where_cloud_run_reads_it(run: Run, repo: Path) -> None:
    result = build(run, repo, SETTINGS)
    assert result.exit_code == 0, result.stderr
    text = (repo / "out" / "production" / "api" / "service.yaml").read_text()
    assert '        run.googleapis.com/sessionAffinity: "true"\n' in text
    assert '        run.googleapis.com/cpu-throttling: "true"\n' in text
    template = service_yaml(repo, "api")["spec"]["template"]
    assert template["metadata"]["annotations"] == {
        "run.googleapis.com/startup-cpu-boost": "true",
        "run.googleapis.com/cpu-throttling": "true",
        "run.googleapis.com/sessionAffinity": "true",
    }
    assert template["spec"]["containerConcurrency"] == 1
    (container,) = template["spec"]["containers"]
    assert container["name"] == "api"
    liveness = container["livenessProbe"]
    assert (liveness["timeoutSeconds"], liveness["periodSeconds"]) == (4, 20)
    assert liveness["failureThreshold"] == 5
    worker = service_yaml(repo, "worker")["spec"]["template"]
    assert worker["metadata"]["annotations"] == {
        "run.googleapis.com/startup-cpu-boost": "true",
        "run.googleapis.com/cpu-throttling": "false",
    }
    assert worker["spec"]["containerConcurrency"] == 80
    worker_liveness = worker["spec"]["containers"][0]["livenessProbe"]
    assert (worker_liveness["timeoutSeconds"], worker_liveness["periodSeconds"]) == (3, 20)


def test_without_settings_the_defaults_and_no_annotations(run: Run, repo: Path) -> None:
    assert build(run, repo, BASE).exit_code == 0
    template = service_yaml(repo, "worker")["spec"]["template"]
    assert "metadata" not in template
    assert "containerConcurrency" not in template["spec"]
    liveness = template["spec"]["containers"][0]["livenessProbe"]
    assert [liveness[k] for k in ("timeoutSeconds", "periodSeconds", "failureThreshold")] == [
        3,
        10,
        3,
    ]


def test_explain_show_and_diff_carry_the_settings(run: Run, repo: Path) -> None:
    assert build(run, repo, SETTINGS).exit_code == 0
    explained = run("explain", "production", "api", "--root", repo, "--format", "json")
    cloud_run = __import__("json").loads(explained.stdout)["cloud_run"]
    assert cloud_run["session_affinity"] == {
        "value": True,
        "at": at(SETTINGS, "session_affinity: |true"),
        "default": None,
    }
    assert cloud_run["liveness_probe"]["period_seconds"]["value"] == 20
    assert cloud_run["annotations"]["run.googleapis.com/sessionAffinity"] == "true"
    shown = yaml.safe_load(run("show", "production", "api", "--root", repo).stdout)
    api = shown["services"]["api"]
    assert api["concurrency"] == 1 and api["session_affinity"] is True
    assert api["liveness_probe"] == {
        "timeout_seconds": 4,
        "period_seconds": 20,
        "failure_threshold": 5,
    }
    assert api["boot_time"] == 2.0 and api["startup_budget"] == 4.61


BAD = [
    ("  concurrency: 80\n", "  concurrency: 1001\n", "concurrency: |1001"),
    ("  concurrency: 80\n", "  concurrency: 0\n", "concurrency: |0"),
    ("    concurrency: 1\n", '    concurrency: "8"\n', 'concurrency: |"8"'),
    ("    session_affinity: true\n", "    session_affinity: yes\n", "session_affinity: |yes"),
    ("{timeout: 4s}", "{timeout: 1.5s}", "timeout: |1.5s"),
    ("{timeout: 4s}", "{timeout: 3601s}", "timeout: |3601s"),
    ("{timeout: 4s}", "{timeout: 21s}", "timeout: |21s"),
    ("failure_threshold: 5", "failure_threshold: 0", "failure_threshold: |0"),
    ("  boot_time: 2s\n", "  boot_time: 2\n", "boot_time: |2"),
]


@pytest.mark.parametrize(("old", "new", "where"), BAD)
def test_a_setting_out_of_range_is_a_located_error(
    run: Run, repo: Path, old: str, new: str, where: str
) -> None:
    base = SETTINGS.replace(old, new, 1)
    assert base != SETTINGS
    result = build(run, repo, base)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert f"{at(base, where)}: error: " in result.stderr
    assert not (repo / "out" / "production" / "api").exists()


def test_a_liveness_timeout_above_its_period_names_both(run: Run, repo: Path) -> None:
    base = SETTINGS.replace("{timeout: 4s}", "{timeout: 21s}")
    result = build(run, repo, base)
    assert f"{at(base, 'timeout: |21s')}: error: liveness_probe.timeout 21s is above " in (
        result.stderr
    )
    assert "liveness_probe.period 20s; Cloud Run requires timeoutSeconds <= periodSeconds" in (
        result.stderr
    )


# --- budget.shutdown -------------------------------------------------------------------

SHUTDOWN = BASE.replace(
    "    startup: [db.connect]\n",
    "    startup: [db.connect]\n    shutdown: [bridge.close, db.close]\n",
)


@pytest.mark.parametrize(("close", "exit_code"), [("4s", 0), ("4.001s", 2)])
def test_shutdown_boundary(run: Run, repo: Path, close: str, exit_code: int) -> None:
    base = SHUTDOWN.replace("close: 4s", f"close: {close}")
    result = build(run, repo, base)
    assert result.exit_code == exit_code, result.stderr
    if not exit_code:
        env = (repo / "out" / "production" / "api" / "timeouts.env").read_text()
        assert "SHUTDOWN_TOTAL_TIMEOUT_S=10.0\n" in env
        return
    [line] = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert line == (
        f"{at(base, 'shutdown: |[')}: error: budget.shutdown: profile 'production', "
        "service 'api': shutdown steps take 10.001s, 0.001s more than the 10s Cloud Run "
        "leaves between SIGTERM and SIGKILL: "
        f"step 1 of 2 bridge.close 6.0s ({at(base, 'close: |6s')}) + "
        f"step 2 of 2 db.close 4.001s ({at(base, 'close: |4.001s')}); "
        "shorten the shutdown steps by 0.001s"
    )


def test_shutdown_steps_are_checked_after_scaling_and_can_be_allowed(run: Run, repo: Path) -> None:
    scaled = "extends: base\nenvironment: {safety_margin: 1.001}\n"
    assert build(run, repo, SHUTDOWN, scaled).exit_code == 2
    allowed = SHUTDOWN.replace(
        "    shutdown: [",
        '    allow: {budget.shutdown: "drains in the background"}\n    shutdown: [',
    )
    assert build(run, repo, allowed, scaled).exit_code == 0


def test_shutdown_steps_name_timeouts_that_exist_once(run: Run, repo: Path) -> None:
    base = SHUTDOWN.replace("[bridge.close, db.close]", "[bridge.close, bridge.close, db.clsoe]")
    result = build(run, repo, base)
    assert result.exit_code == 2
    assert "'bridge.close' appears twice in the shutdown steps" in result.stderr
    assert (
        "unknown timeout 'db.clsoe' in the shutdown steps of service 'api' in profile "
        "'production'; did you mean 'db.close'?"
    ) in result.stderr


def test_timeouts_py_has_the_startup_and_shutdown_phases_in_order(run: Run, repo: Path) -> None:
    assert build(run, repo, SHUTDOWN).exit_code == 0
    api = load_module(repo / "out" / "production" / "api" / "timeouts.py")
    assert [(p.dependency, p.timeout, p.seconds) for p in api.STARTUP] == [("db", "connect", 0.61)]
    assert [(p.dependency, p.timeout, p.seconds) for p in api.SHUTDOWN] == [
        ("bridge", "close", 6.0),
        ("db", "close", 4.0),
    ]
    assert api.SHUTDOWN_TOTAL_TIMEOUT_S == 10.0
    worker = load_module(repo / "out" / "production" / "worker" / "timeouts.py")
    assert worker.STARTUP == () and worker.SHUTDOWN == ()
    assert not hasattr(worker, "SHUTDOWN_TOTAL_TIMEOUT_S")
    env = (repo / "out" / "production" / "worker" / "timeouts.env").read_text()
    assert "SHUTDOWN_TOTAL_TIMEOUT_S" not in env


def test_a_template_that_drops_a_phase_is_refused(run: Run, repo: Path) -> None:
    template = repo / "templates" / "timeouts.py.j2"
    text = template.read_text().replace(
        "{% for timeout in service.shutdown %}", "{% for timeout in service.shutdown[1:] %}"
    )
    template.write_text(text)
    result = build(run, repo, SHUTDOWN)
    assert result.exit_code == 2
    assert "timeouts.py has phases " in result.stderr
    assert (
        "'SHUTDOWN': [('bridge', 'close', BRIDGE_CLOSE_TIMEOUT_S, 1, 6.0), "
        "('db', 'close', DB_CLOSE_TIMEOUT_S, 1, 4.0)]"
    ) in result.stderr


def test_explain_shows_the_shutdown_steps_and_their_rule(run: Run, repo: Path) -> None:
    assert build(run, repo, SHUTDOWN).exit_code == 0
    whole = run("explain", "production", "api", "--root", repo).stdout
    steps = whole[whole.index("shutdown steps  ") :].split("\n\n")[0].splitlines()
    assert steps[0] == f"shutdown steps  {at(SHUTDOWN, 'shutdown: |[')}"
    assert steps[1].split() == ["1.", "bridge.close", "6.0s", "from", "0.0s"]
    assert steps[2].split() == ["2.", "db.close", "4.0s", "from", "6.0s"]
    assert steps[3].split() == ["shutdown", "total", "10.0s"]
    assert steps[4].split() == [
        "SIGTERM",
        "to",
        "SIGKILL",
        "10.0s",
        "Cloud",
        "Run;",
        "margin",
        "0.0s",
    ]
    one = run("explain", "production", "api", "db.close", "--root", repo).stdout
    assert "used in: shutdown steps, step 2 of 2" in one
    assert "  ok      budget.shutdown (shutdown steps): 10.0s of 10.0s, margin 0.0s" in one
