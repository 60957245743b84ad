"""`timeoutc drift`: deployed Cloud Run services against out/, by meaning.

Exports are built the way Cloud Run builds them: our own out/ service.yaml plus what the
server adds (a numeric namespace, timestamps, client annotations, a revision name and
nonce, a container name, resources, a service account, concurrency, traffic, status).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REPO, Run

from compiler.pipeline.load import load_bytes
from compiler.review.drift.compare import ABSENT, differences

Export = dict[str, Any]


def _container_field() -> str:
    """The container as drift names it: by its name when out/ gives it one."""
    text = (REPO / "out/staging/netra-backend/service.yaml").read_text(encoding="utf-8")
    container = yaml.safe_load(text)["spec"]["template"]["spec"]["containers"][0]
    return f"spec.template.spec.containers[{container.get('name', 0)}]"


def _declared_startup_threshold() -> str:
    text = (REPO / "out/staging/netra-backend/service.yaml").read_text(encoding="utf-8")
    container = yaml.safe_load(text)["spec"]["template"]["spec"]["containers"][0]
    return str(container["startupProbe"]["failureThreshold"])


def _service_mark(service: str, key: str) -> str:
    """Where staging's resolved `service` has `key` (the model's provenance)."""
    from compiler.review.explain import find_service, load

    profile, _ = load(REPO, "staging")
    return str(find_service(profile, service).marks[key])


CONTAINER = _container_field()
THRESHOLD = _declared_startup_threshold()
DRIFTED_THRESHOLD = "2" if THRESHOLD != "2" else "3"
STARTUP_AT = _service_mark("netra-backend", "startup")
ENV_PATH = f"{CONTAINER}.env"
UNAUTHENTICATED = """\
ERROR: (gcloud.run.services.describe) You do not currently have an active account selected.
Please run:

  $ gcloud auth login

to obtain new credentials.

If you have already logged in with a different account, run:

  $ gcloud config set account ACCOUNT

to select an already authenticated account to use.
"""


def server_export(repo: Path, environment: str, service: str) -> Export:
    """out/<env>/<service>/service.yaml as `gcloud run services describe --format export`
    prints it after a deploy."""
    text = (repo / "out" / environment / service / "service.yaml").read_text(encoding="utf-8")
    doc: Export = yaml.safe_load(text)
    name = doc["metadata"]["name"]
    revision = f"{name}-00007-vek"
    doc["metadata"].update(
        namespace="123456789012",
        creationTimestamp="2026-11-23T07:41:36.186310Z",
        generation=7,
        resourceVersion="AAYrsUpyFa4",
        selfLink=f"/apis/serving.knative.dev/v1/namespaces/123456789012/services/{name}",
        uid="8b8277d6-355c-4b28-b6bc-5560ddcd9b1c",
        annotations={
            "run.googleapis.com/client-name": "gcloud",
            "run.googleapis.com/client-version": "528.0.0",
            "run.googleapis.com/ingress": "all",
            "run.googleapis.com/ingress-status": "all",
            "run.googleapis.com/operation-id": "eb748c25-744e-481e-bce8-0ed4c530d02f",
            "run.googleapis.com/urls": f'["https://{name}-123456789012.us-central1.run.app"]',
            "run.googleapis.com/launch-stage": "BETA",
            "run.googleapis.com/build-image-uri": "us-docker.pkg.dev/netra/backend/x",
            "serving.knative.dev/creator": "deployer@netra.iam.gserviceaccount.com",
            "serving.knative.dev/lastModifier": "oncall@netra.example",
            "client.knative.dev/user-image": doc["spec"]["template"]["spec"]["containers"][0][
                "image"
            ],
        },
    )
    template = doc["spec"]["template"]
    template.setdefault("metadata", {})
    template["metadata"]["name"] = revision
    template["metadata"]["labels"] = {
        "client.knative.dev/nonce": "uvujxbdqbn",
        "run.googleapis.com/startupProbeType": "Custom",
        "run.googleapis.com/startupProbeChecksum": "3a1f9c",
    }
    annotations = template["metadata"].setdefault("annotations", {})
    annotations.setdefault("autoscaling.knative.dev/maxScale", "100")
    annotations.setdefault("run.googleapis.com/startup-cpu-boost", "true")
    annotations["run.googleapis.com/client-name"] = "gcloud"
    annotations["run.googleapis.com/client-version"] = "528.0.0"
    spec = template["spec"]
    spec.setdefault("containerConcurrency", 80)
    spec.setdefault("serviceAccountName", "123456789012-compute@developer.gserviceaccount.com")
    container = spec["containers"][0]
    container.setdefault("name", f"{service}-1")
    container["ports"][0].setdefault("name", "http1")
    container.setdefault("resources", {"limits": {"cpu": "1000m", "memory": "512Mi"}})
    doc["spec"]["traffic"] = [{"latestRevision": True, "percent": 100}]
    doc["status"] = {
        "observedGeneration": 7,
        "conditions": [
            {"type": kind, "status": "True", "lastTransitionTime": "2026-12-01T09:12:44.129Z"}
            for kind in ("Ready", "ConfigurationsReady", "RoutesReady")
        ],
        "latestReadyRevisionName": revision,
        "latestCreatedRevisionName": revision,
        "traffic": [{"revisionName": revision, "percent": 100, "latestRevision": True}],
        "url": f"https://{name}-abcdefghij-uc.a.run.app",
        "address": {"url": f"https://{name}-abcdefghij-uc.a.run.app"},
    }
    return doc


def write_export(folder: Path, doc: Export) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{doc['metadata']['name']}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=True), encoding="utf-8")
    return path


@pytest.fixture
def exports(repo: Path, tmp_path: Path) -> Path:
    """A folder with the export of every staging service, differing only in server fields."""
    folder = tmp_path / "exports"
    for service in ("netra-backend", "auth-service"):
        write_export(folder, server_export(repo, "staging", service))
    return folder


def drift_json(run: Run, repo: Path, *args: str | Path) -> tuple[int, dict[str, Any]]:
    result = run("drift", "staging", *args, "--format", "json", "--exit-code", "--root", repo)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)


def env_var(doc: Export, name: str) -> dict[str, Any]:
    container = doc["spec"]["template"]["spec"]["containers"][0]
    return next(item for item in container["env"] if item["name"] == name)


def test_server_managed_fields_and_defaults_are_not_drift(
    run: Run, repo: Path, exports: Path
) -> None:
    result = run("drift", "staging", "--from", exports, "--exit-code", "--root", repo)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout == f"timeoutc drift: staging: no drift in 2 services ({exports})\n"


def test_meaning_not_text(run: Run, repo: Path, exports: Path) -> None:
    doc = server_export(repo, "staging", "netra-backend")
    spec = doc["spec"]["template"]["spec"]
    spec["timeoutSeconds"] = "300"
    spec["containers"][0]["ports"][0]["containerPort"] = "8080"
    spec["containers"][0]["startupProbe"]["failureThreshold"] = THRESHOLD
    env_var(doc, "DATABASE_CONNECT_TIMEOUT_S")["value"] = "3"
    spec["containers"][0]["env"].reverse()  # env vars by name, not by position
    doc["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/minScale"] = 1
    write_export(exports, doc)
    code, report = drift_json(run, repo, "--from", exports)
    assert (code, report["rows"], report["drifted"]) == (0, [], False)
    assert report["services"] == ["netra-backend-staging", "auth-service-staging"]


def _set_env(name: str, value: str) -> Callable[[Export], None]:
    return lambda doc: env_var(doc, name).update(value=value)


def _timeout_seconds(doc: Export) -> None:
    doc["spec"]["template"]["spec"]["timeoutSeconds"] = 900


def _threshold(doc: Export) -> None:
    probe = doc["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    probe["failureThreshold"] = int(DRIFTED_THRESHOLD)


def _extra_env(doc: Export) -> None:
    doc["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "DEBUG_SLEEP_S", "value": "30"}
    )


def _no_min_scale(doc: Export) -> None:
    del doc["spec"]["template"]["metadata"]["annotations"]["autoscaling.knative.dev/minScale"]


def _no_env(doc: Export) -> None:
    env = doc["spec"]["template"]["spec"]["containers"][0]["env"]
    env.remove(env_var(doc, "STARTUP_TOTAL_TIMEOUT_S"))


def _liveness_period(doc: Export) -> None:
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["periodSeconds"] = 30


SINGLE_CHANGES = {
    "timeout env var": (
        _set_env("AUTH_REQUEST_TIMEOUT_S", "7.5"),
        ("changed", f"{ENV_PATH}[AUTH_REQUEST_TIMEOUT_S]", "5.0s", "7.5s"),
        "profiles/base.yaml:27:29",
    ),
    "timeoutSeconds": (
        _timeout_seconds,
        ("changed", "spec.template.spec.timeoutSeconds", "300.0s", "900.0s"),
        "profiles/base.yaml:16:22",
    ),
    "probe threshold": (
        _threshold,
        ("changed", f"{CONTAINER}.startupProbe.failureThreshold", THRESHOLD, DRIFTED_THRESHOLD),
        STARTUP_AT,
    ),
    "liveness period": (
        _liveness_period,
        ("changed", f"{CONTAINER}.livenessProbe.periodSeconds", "10.0s", "30.0s"),
        "profiles/base.yaml:17:42",
    ),
    "extra env var": (
        _extra_env,
        ("undeclared", f"{ENV_PATH}[DEBUG_SLEEP_S]", None, "30.0s"),
        None,
    ),
    "removed annotation": (
        _no_min_scale,
        (
            "missing",
            "spec.template.metadata.annotations[autoscaling.knative.dev/minScale]",
            "1",
            None,
        ),
        "profiles/staging.yaml:14:18",
    ),
    "removed env var": (
        _no_env,
        ("missing", f"{ENV_PATH}[STARTUP_TOTAL_TIMEOUT_S]", "31.6s", None),
        STARTUP_AT,
    ),
}


@pytest.mark.parametrize("change", sorted(SINGLE_CHANGES))
def test_one_change_is_exactly_one_row(run: Run, repo: Path, exports: Path, change: str) -> None:
    mutate, (kind, field, declared, deployed), at = SINGLE_CHANGES[change]
    doc = server_export(repo, "staging", "netra-backend")
    mutate(doc)
    path = write_export(exports, doc)
    code, report = drift_json(run, repo, "--from", exports)
    assert (code, report["drifted"], report["source"]) == (1, True, str(exports))
    [row] = report["rows"]
    assert (row["kind"], row["field"], row["declared"], row["deployed"]) == (
        kind,
        field,
        declared,
        deployed,
    )
    assert row["declared_at"] == at
    assert (row["env"], row["service"], row["cloud_run_name"]) == (
        "staging",
        "netra-backend",
        "netra-backend-staging",
    )
    assert row["deployed_at"].startswith(f"{path}:")


def test_text_and_markdown_rows(run: Run, repo: Path, exports: Path) -> None:
    doc = server_export(repo, "staging", "netra-backend")
    _set_env("AUTH_REQUEST_TIMEOUT_S", "7.5")(doc)
    _threshold(doc)
    _extra_env(doc)
    write_export(exports, doc)
    text = run("drift", "staging", "--from", exports, "--root", repo)
    assert text.exit_code == 0  # drift without --exit-code
    lines = text.stdout.splitlines()
    assert lines[0] == f"timeoutc drift: staging: 3 drifted values in 2 services ({exports})"
    assert lines[2].split() == ["env", "service", "field", "declared", "deployed", "declared", "at"]
    # timeout env vars first, then probe settings, then the rest
    assert lines[3].split() == [
        "staging",
        "netra-backend",
        f"{ENV_PATH}[AUTH_REQUEST_TIMEOUT_S]",
        "5.0s",
        "7.5s",
        "profiles/base.yaml:27:29",
    ]
    probe = f"{CONTAINER}.startupProbe.failureThreshold"
    assert lines[4].split()[2:] == [probe, THRESHOLD, DRIFTED_THRESHOLD, STARTUP_AT]
    assert lines[5].split()[2:] == [f"{ENV_PATH}[DEBUG_SLEEP_S]", "(not", "declared)", "30.0s", "-"]
    markdown = run("drift", "staging", "--from", exports, "--format", "markdown", "--root", repo)
    assert markdown.stdout.startswith("### timeoutc drift: staging\n")
    assert "| env | service | field | declared | deployed | declared at |" in markdown.stdout
    assert (
        f"| staging | netra-backend | `{ENV_PATH}[AUTH_REQUEST_TIMEOUT_S]` | `5.0s` | `7.5s` "
        "| `profiles/base.yaml:27:29` |" in markdown.stdout
    )


def test_declared_but_not_deployed_and_deployed_but_not_declared(
    run: Run, repo: Path, exports: Path
) -> None:
    (exports / "auth-service-staging.yaml").unlink()
    stranger = server_export(repo, "staging", "auth-service")
    stranger["metadata"]["name"] = "billing-staging"
    write_export(exports, stranger)
    write_export(exports, server_export(repo, "production", "auth-service"))  # not ours here
    code, report = drift_json(run, repo, "--from", exports)
    assert code == 1
    rows = [
        (r["service"], r["field"], r["kind"], r["declared"], r["deployed"]) for r in report["rows"]
    ]
    assert rows == [
        ("auth-service", "(service)", "not-deployed", "auth-service-staging", None),
        ("billing", "(service)", "not-declared", None, "billing-staging"),
    ]
    assert report["rows"][0]["declared_at"] == _service_mark("auth-service", "service")
    # naming services compares only those
    code, report = drift_json(run, repo, "netra-backend", "--from", exports)
    assert (code, report["rows"], report["services"]) == (0, [], ["netra-backend-staging"])


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("apiVersion: serving.knative.dev/v1\nkind: [Service\n", ":3:1:", "invalid YAML"),
        ("kind: !!python/object:os.system Service\n", ":1:7:", "YAML tag"),
        ("a: &x 1\nb: *x\n", ":1:4:", "anchor"),
        ("", ":1:1:", "empty service export"),
        ("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\n", ":2:7:", "not a Cloud Run service"),
    ],
)
def test_an_unreadable_export_is_an_error_with_its_place(
    run: Run, repo: Path, exports: Path, text: str, where: str, message: str
) -> None:
    path = exports / "netra-backend-staging.yaml"
    path.write_text(text, encoding="utf-8")
    result = run("drift", "staging", "--from", exports, "--root", repo)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{path}{where} error: ")
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_an_export_under_the_wrong_name_is_an_error(run: Run, repo: Path, exports: Path) -> None:
    doc = server_export(repo, "staging", "auth-service")
    path = exports / "netra-backend-staging.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    result = run("drift", "staging", "--from", exports, "--root", repo)
    assert result.exit_code == 2
    assert "export of service 'auth-service-staging' where 'netra-backend-staging'" in result.stderr


def test_usage_errors(run: Run, repo: Path, exports: Path) -> None:
    unknown = run("drift", "staging", "netra-backnd", "--from", exports, "--root", repo)
    assert unknown.exit_code == 2
    assert "no service 'netra-backnd'" in unknown.stderr
    assert "did you mean 'netra-backend'?" in unknown.stderr
    environment = run("drift", "stagng", "--from", exports, "--root", repo)
    assert environment.exit_code == 2 and "did you mean 'staging'?" in environment.stderr
    neither = run("drift", "staging", "--root", repo)
    assert neither.exit_code == 2 and "--from DIR" in neither.stderr
    both = run("drift", "staging", "--from", exports, "--live", "--root", repo)
    assert both.exit_code == 2
    missing = run("drift", "staging", "--from", exports / "nope", "--root", repo)
    assert missing.exit_code == 2 and "cannot read" in missing.stderr


def test_invalid_profiles_exit_2(run: Run, repo: Path, exports: Path) -> None:
    path = repo / "profiles" / "staging.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("0.7", "zero"), encoding="utf-8")
    result = run("drift", "staging", "--from", exports, "--root", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("profiles/staging.yaml:7:")


def test_stale_out_is_reported_not_guessed(run: Run, repo: Path, exports: Path) -> None:
    for service in ("auth-service", "netra-backend"):
        shutil.rmtree(repo / "out" / "staging" / service)
    result = run("drift", "staging", "--from", exports, "--root", repo)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert [line.split(": error: ")[0] for line in lines] == [
        "out/staging/auth-service/service.yaml",
        "out/staging/netra-backend/service.yaml",
    ]
    assert all("cannot read" in line and "timeoutc build" in line for line in lines)


# --- --live, with stand-ins for gcloud on PATH ---------------------------------------------


def stand_in(folder: Path, script: str, name: str = "gcloud") -> None:
    """An executable `name` in `folder` running `script` (POSIX sh)."""
    folder.mkdir(parents=True, exist_ok=True)
    gcloud = folder / name
    gcloud.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    gcloud.chmod(gcloud.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@pytest.fixture
def path_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A folder put first on PATH, for the stand-in."""
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return folder


def test_live_describes_each_service_with_the_profiles_project_and_region(
    run: Run, repo: Path, exports: Path, path_with: Path, tmp_path: Path
) -> None:
    log = tmp_path / "calls.log"
    doc = server_export(repo, "staging", "netra-backend")
    _threshold(doc)
    write_export(exports, doc)
    stand_in(
        path_with,
        f'echo "$*" >> "{log}"\n'
        'case "$3" in\n'
        '  describe) cat "{exports}/$4.yaml" ;;\n'
        "  list) printf '%s\\n' netra-backend-staging auth-service-staging billing-staging"
        " netra-backend-production other-thing ;;\n"
        "esac\n".replace("{exports}", str(exports)),
    )
    billing = server_export(repo, "staging", "auth-service")
    billing["metadata"]["name"] = "billing-staging"
    write_export(exports, billing)
    code, report = drift_json(run, repo, "--live")
    assert code == 1
    assert [(r["service"], r["field"], r["deployed"]) for r in report["rows"]] == [
        ("netra-backend", f"{CONTAINER}.startupProbe.failureThreshold", DRIFTED_THRESHOLD),
        ("billing", "(service)", "billing-staging"),
    ]
    assert report["rows"][0]["deployed_at"].startswith(
        "gcloud run services describe netra-backend-staging:"
    )
    calls = log.read_text(encoding="utf-8").splitlines()
    region_project = "--region us-central1 --project netra-staging"
    assert sorted(calls[:2]) == [  # at the same time, so in any order
        f"run services describe auth-service-staging {region_project} --format export",
        f"run services describe netra-backend-staging {region_project} --format export",
    ]
    assert calls[2:] == [
        f"run services list {region_project} --format value(metadata.name)",
        f"run services describe billing-staging {region_project} --format export",
    ]


def test_live_reports_a_service_gcloud_cannot_find(
    run: Run, repo: Path, exports: Path, path_with: Path
) -> None:
    stand_in(
        path_with,
        'case "$3 $4" in\n'
        '  "describe netra-backend-staging") cat "{exports}/netra-backend-staging.yaml" ;;\n'
        '  describe*) echo "ERROR: (gcloud.run.services.describe) Cannot find service [$4]" >&2;'
        " exit 1 ;;\n"
        "esac\n".replace("{exports}", str(exports)),
    )
    code, report = drift_json(run, repo, "--live")
    assert code == 1
    assert [(r["service"], r["kind"]) for r in report["rows"]] == [("auth-service", "not-deployed")]


def test_live_compares_what_it_may_describe_when_it_may_not_list(
    run: Run, repo: Path, exports: Path, path_with: Path
) -> None:
    stand_in(
        path_with,
        'case "$3" in\n'
        f'  describe) cat "{exports}/$4.yaml" ;;\n'
        '  *) echo "ERROR: (gcloud.run.services.list) PERMISSION_DENIED: Permission '
        "'run.services.list' denied\" >&2; exit 1 ;;\n"
        "esac\n",
    )
    result = run("drift", "staging", "--live", "--exit-code", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "timeoutc drift: staging: no drift in 2 services (gcloud)\n"
    assert result.stderr == (
        "timeoutc: warning: `gcloud run services list --region us-central1 --project "
        "netra-staging --format value(metadata.name)` failed (exit 1): PERMISSION_DENIED: "
        "Permission 'run.services.list' denied; services deployed under our names but not "
        "declared are not reported\n"
    )


def test_live_when_not_logged_in(run: Run, repo: Path, path_with: Path) -> None:
    stand_in(path_with, f"cat >&2 <<'EOF'\n{UNAUTHENTICATED}EOF\nexit 1\n")
    result = run("drift", "staging", "--live", "--root", repo)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(
        "gcloud: error: `gcloud run services describe` failed (exit 1): You do not "
        "currently have an active account selected.; run `gcloud auth login`"
    )
    assert len(result.stderr.splitlines()) == 1  # once, not once per service
    assert "Traceback" not in result.stderr


def test_live_without_gcloud(
    run: Run, repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = run("drift", "staging", "--live", "--root", repo)
    assert result.exit_code == 2
    assert result.stderr.startswith("gcloud: error: gcloud is not on PATH")


def test_live_needs_a_project(run: Run, repo: Path, path_with: Path) -> None:
    stand_in(path_with, "exit 0\n")
    path = repo / "profiles" / "staging.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("  project: netra-staging\n", ""),
        encoding="utf-8",
    )
    shutil.rmtree(repo / "out")
    assert run("build", "--root", repo).exit_code == 0
    result = run("drift", "staging", "--live", "--root", repo)
    assert result.exit_code == 2
    assert "profile 'staging' sets no platform.project" in result.stderr


@pytest.mark.skipif(shutil.which("gcloud") is None, reason="gcloud is not installed")
def test_live_with_the_real_gcloud_logged_out(
    run: Run, repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real CLI with an empty configuration: the error it prints, never a traceback."""
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "gcloud-config"))
    monkeypatch.setenv("CLOUDSDK_CORE_CHECK_GCE_METADATA", "false")
    monkeypatch.setenv("HOME", str(tmp_path))
    for name in list(os.environ):
        if name.startswith("CLOUDSDK_AUTH") or name == "GOOGLE_APPLICATION_CREDENTIALS":
            monkeypatch.delenv(name)
    result = run("drift", "staging", "netra-backend", "--live", "--root", repo)
    assert result.exit_code == 2
    assert "active account" in result.stderr and "gcloud auth login" in result.stderr
    assert "Traceback" not in result.stderr


# --- the comparison itself, on small documents ---------------------------------------------


def _documents(declared: str, deployed: str) -> list[tuple[str, str, Any, Any]]:

    found = differences(
        load_bytes(declared.encode(), "out/x/service.yaml", kind="output"),
        load_bytes(deployed.encode(), "export.yaml", kind="service export"),
    )
    return [(d.field, d.kind, d.declared, d.deployed) for d in found]


KNATIVE = "apiVersion: serving.knative.dev/v1\nkind: Service\n"


def test_a_default_probe_where_none_is_declared_is_not_drift() -> None:
    declared = KNATIVE + "spec:\n  template:\n    spec:\n      containers:\n        - image: a\n"
    deployed = declared + (
        "          startupProbe: {failureThreshold: 1, periodSeconds: 240, timeoutSeconds: 240,"
        " tcpSocket: {port: 8080}}\n"
        "          resources: {limits: {cpu: 1000m, memory: 512Mi}}\n"
        "      serviceAccountName: 1-compute@developer.gserviceaccount.com\n"
        "      containerConcurrency: 80\n"
        "  traffic: [{latestRevision: true, percent: 100}]\n"
    )
    assert _documents(declared, deployed) == []


def test_declared_server_managed_fields_are_never_drift() -> None:
    declared = KNATIVE + (
        "metadata:\n  name: a\n  namespace: netra-staging\n"
        "  annotations: {run.googleapis.com/launch-stage: BETA}\n"
        "  labels: {cloud.googleapis.com/location: us-central1}\n"
    )
    deployed = KNATIVE + (
        "metadata:\n  name: a\n  namespace: '123456789012'\n"
        "  annotations: {run.googleapis.com/launch-stage: GA}\n"
    )
    assert _documents(declared, deployed) == []
    # a namespace that is another project's ID, not a number, is drift
    other = deployed.replace("'123456789012'", "netra-production")
    assert _documents(declared, other) == [
        ("metadata.namespace", "changed", "netra-staging", "netra-production")
    ]


def test_declared_defaults_that_the_export_leaves_out_are_not_drift() -> None:
    declared = KNATIVE + (
        "spec:\n  template:\n    metadata:\n      annotations:\n"
        "        autoscaling.knative.dev/minScale: '0'\n"
        "    spec:\n      containerConcurrency: 80\n      containers:\n        - image: a\n"
        "          livenessProbe: {initialDelaySeconds: 0, periodSeconds: 10}\n"
    )
    deployed = KNATIVE + (
        "spec:\n  template:\n    spec:\n      containers:\n        - image: a\n"
        "          livenessProbe: {periodSeconds: 10}\n"
    )
    assert _documents(declared, deployed) == []
    changed = deployed.replace("periodSeconds: 10", "periodSeconds: 10, initialDelaySeconds: 5")
    assert _documents(declared, changed) == [
        ("spec.template.spec.containers[0].livenessProbe.initialDelaySeconds", "changed", 0, 5)
    ]


def test_env_vars_by_name_and_extra_containers() -> None:
    declared = KNATIVE + (
        "spec:\n  template:\n    spec:\n      containers:\n        - image: a\n"
        "          env: [{name: A_TIMEOUT_S, value: '1.0'}, {name: B, value: x}]\n"
    )
    deployed = KNATIVE + (
        "spec:\n  template:\n    spec:\n      containers:\n        - image: a\n"
        "          env:\n            - {name: B, value: x}\n"
        "            - {name: A_TIMEOUT_S, valueFrom: {secretKeyRef: {name: s, key: latest}}}\n"
        "        - image: sidecar\n"
    )
    env = "spec.template.spec.containers[0].env"
    assert _documents(declared, deployed) == [
        (
            f"{env}[A_TIMEOUT_S]",
            "changed",
            "1.0",
            {"valueFrom": {"secretKeyRef": {"name": "s", "key": "latest"}}},
        ),
        ("spec.template.spec.containers[1]", "undeclared", ABSENT, {"image": "sidecar"}),
    ]


def test_env_vars_of_dependency_settings_point_at_their_keys() -> None:
    """Retry settings exported as env vars are declared by the dependency's keys."""
    from compiler.review.drift.compare import Named
    from compiler.review.drift.places import Places
    from compiler.review.explain import find_service, load

    profile, merged = load(REPO, "staging")
    places = Places(merged, find_service(profile, "netra-backend"))
    env = ("spec", "template", "spec", "containers", 0, "env")

    def at(name: str) -> str:
        return str(places.of((*env, Named(name))))

    def key(dependency: str, *path: str) -> str:
        """The place of the deepest of `path` that the profile holds."""
        keys = ("services", "netra-backend", "dependencies", dependency, *path)
        data: Any = merged.data
        for depth, step in enumerate(keys):
            if not isinstance(data, dict) or step not in data:
                keys = keys[:depth]
                break
            data = data[step]
        return str(merged.mark(keys))

    assert at("DATABASE_RETRIES") == key("database", "retries") == "profiles/base.yaml:21:18"
    assert at("DATABASE_BACKOFF_INITIAL_S") == key("database", "backoff", "initial")
    assert at("AUTH_BACKOFF_MULTIPLIER") == key("auth", "backoff", "multiplier")
    assert at("AUTH_BACKOFF_MULTIPLIER").startswith("profiles/base.yaml:29:")
    assert at("AUTH_REQUEST_TIMEOUT_S") == "profiles/base.yaml:27:29"
    assert at("STARTUP_TOTAL_TIMEOUT_S") == STARTUP_AT
    assert places.of((*env, Named("SOMETHING_ELSE"))) is None


def test_nested_dependency_settings_are_found_by_their_words() -> None:
    from compiler.pipeline.merge import MergedProfile
    from compiler.review.drift.places import Places
    from compiler.review.explain import find_service, load

    text = (
        "services:\n  netra-backend:\n    dependencies:\n      auth:\n"
        "        backoff: {initial: 100ms, max: 1s, multiplier: 2}\n        jitter: none\n"
    )
    doc = load_bytes(text.encode(), "p.yaml")
    merged = MergedProfile("p", "p.yaml", ("p",), doc.data, doc.value_marks, doc.key_marks)
    profile, _ = load(REPO, "staging")
    places = Places(merged, find_service(profile, "netra-backend"))
    auth = ("services", "netra-backend", "dependencies", "auth")
    assert str(places.words_mark(auth, ["backoff", "initial", "s"])) == "p.yaml:5:28"
    assert str(places.words_mark(auth, ["backoff", "max", "s"])) == "p.yaml:5:40"
    assert str(places.words_mark(auth, ["backoff", "multiplier"])) == "p.yaml:5:56"
    assert str(places.words_mark(auth, ["backoff", "jitter"])) == "p.yaml:6:17"
    assert places.words_mark(auth, ["retries"]) is None


@pytest.mark.parametrize(
    "value", ["1e-9999", "1e9999", "'" + "x" * 1_000_000 + "'", "[[[[[[1]]]]]]"]
)
def test_hostile_values_are_reported_briefly(
    run: Run, repo: Path, exports: Path, value: str
) -> None:
    doc = server_export(repo, "staging", "netra-backend")
    _set_env("AUTH_REQUEST_TIMEOUT_S", "@@")(doc)
    path = write_export(exports, doc)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("'@@'", value).replace("@@", value), encoding="utf-8")
    result = run("drift", "staging", "--from", exports, "--exit-code", "--root", repo)
    assert result.exit_code == 1, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) < 600


def test_an_oversized_export_is_refused(run: Run, repo: Path, exports: Path) -> None:
    path = exports / "netra-backend-staging.yaml"
    path.write_bytes(path.read_bytes() + b"#" * (9 * 1024 * 1024))
    result = run("drift", "staging", "--from", exports, "--root", repo)
    assert result.exit_code == 2
    assert result.stderr == f"{path}: error: file is larger than 8 MiB\n"


SERVER_MANAGED_FIELDS = [
    "status",
    "status.conditions[0].lastTransitionTime",
    "metadata.creationTimestamp",
    "metadata.generation",
    "metadata.resourceVersion",
    "metadata.selfLink",
    "metadata.uid",
    "metadata.labels[cloud.googleapis.com/location]",
    *(
        f"{level}annotations[{key}]"
        for level in ("metadata.", "spec.template.metadata.")
        for key in (
            "run.googleapis.com/client-name",
            "run.googleapis.com/client-version",
            "run.googleapis.com/operation-id",
            "run.googleapis.com/urls",
            "run.googleapis.com/ingress-status",
            "run.googleapis.com/launch-stage",
            "run.googleapis.com/build-source-location",
            "run.googleapis.com/build-image-uri",
            "serving.knative.dev/creator",
            "serving.knative.dev/lastModifier",
            "client.knative.dev/user-image",
        )
    ),
    "spec.template.metadata.name",
    "spec.template.metadata.labels[client.knative.dev/nonce]",
    "spec.template.metadata.labels[run.googleapis.com/startupProbeType]",
    "spec.template.metadata.labels[run.googleapis.com/startupProbeChecksum]",
]


@pytest.mark.parametrize("field", SERVER_MANAGED_FIELDS)
def test_every_server_managed_field_of_the_contract_has_a_reason(field: str) -> None:
    from compiler.review.drift.server_fields import managed_reason

    assert managed_reason(field, "anything")


def test_user_fields_are_not_server_managed() -> None:
    from compiler.review.drift.server_fields import managed_reason

    for field in (
        "metadata.name",
        "metadata.annotations[run.googleapis.com/ingress]",
        "spec.template.metadata.annotations[autoscaling.knative.dev/minScale]",
        "spec.template.metadata.labels[team]",
        "spec.template.spec.timeoutSeconds",
        "statusPage",
    ):
        assert managed_reason(field, "x") == "", field
    assert managed_reason("metadata.namespace", "123456789012")
    assert managed_reason("metadata.namespace", "netra-staging") == ""


def test_cloud_run_settings_point_at_the_key_that_sets_them() -> None:
    from compiler.pipeline.merge import MergedProfile
    from compiler.review.drift.places import Places
    from compiler.review.explain import find_service, load

    text = (
        "platform:\n  concurrency: 40\n  cpu_throttling: false\n"
        "services:\n  netra-backend:\n    startup_cpu_boost: true\n"
        "    platform: {session_affinity: true}\n"
    )
    doc = load_bytes(text.encode(), "p.yaml")
    merged = MergedProfile("p", "p.yaml", ("p",), doc.data, doc.value_marks, doc.key_marks)
    profile, _ = load(REPO, "staging")
    service = find_service(profile, "netra-backend")
    places = Places(merged, service)
    annotations = ("spec", "template", "metadata", "annotations")

    def at(*path: str | int) -> str:
        return str(places.of(path))

    assert at(*annotations, "run.googleapis.com/startup-cpu-boost") == "p.yaml:6:24"
    assert at(*annotations, "run.googleapis.com/sessionAffinity") == "p.yaml:7:34"
    assert at(*annotations, "run.googleapis.com/cpu-throttling") == "p.yaml:3:19"
    assert at("spec", "template", "spec", "containerConcurrency") == "p.yaml:2:16"
    assert at("spec", "template", "spec", "unknownField") == str(service.marks["service"])
