"""The outputs, read by the real consumers: gcloud's parser, mypy, ruff, Python, python-dotenv.

Every output of the shipped repository and of every golden case is compiled afresh into a
temporary folder once per module, then checked against what SPEC.md promises of it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import FrozenInstanceError, dataclass
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from conftest import REPO, copy_repo, load_module
from dotenv import dotenv_values
from gcloud_support import GCLOUD_PYTHON_AVAILABLE, GCLOUD_SKIP_REASON, gcloud_parse_errors
from golden.cases import case_names, prepare
from test_cloudrun import probe_problems

from compiler.model import Profile, Service
from compiler.pipeline import compile_repository

BIN = Path(sys.executable).parent
CLOUD_RUN_NAME = re.compile(r"[a-z]([a-z0-9-]{0,47}[a-z0-9])?")
ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*_TIMEOUT_S")
ENV_VALUE = re.compile(r"(0|[1-9][0-9]*)\.[0-9]{1,3}")
# a retried dependency's policy: its name, then what each variable holds
RETRY_ENV = {
    "_RETRIES": re.compile(r"[1-9][0-9]*"),
    "_BACKOFF_INITIAL_S": ENV_VALUE,
    "_BACKOFF_MAX_S": ENV_VALUE,
    "_BACKOFF_MULTIPLIER": re.compile(r"(0|[1-9][0-9]*)(\.[0-9]*[1-9])?"),
    "_BACKOFF_JITTER": re.compile(r"full|none"),
}


def env_value_is_well_formed(name: str, value: str) -> bool:
    """A timeout in exact seconds, or one variable of a retry policy in its own form."""
    if ENV_NAME.fullmatch(name) or name == "STARTUP_TOTAL_TIMEOUT_S":
        return ENV_VALUE.fullmatch(value) is not None
    for suffix, form in RETRY_ENV.items():
        if name.endswith(suffix) and re.fullmatch(r"[A-Z][A-Z0-9_]*", name[: -len(suffix)]):
            return form.fullmatch(value) is not None
    return False


RESERVED = {"PORT", "K_SERVICE", "K_REVISION", "K_CONFIGURATION"}


@dataclass(frozen=True)
class Output:
    """The outputs of one (profile, service) of one repository, written to disk."""

    case: str
    profile: Profile
    service: Service
    folder: Path

    def __str__(self) -> str:
        return f"{self.case}:{self.profile.name}/{self.service.name}"

    def text(self, name: str) -> str:
        return (self.folder / name).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> list[Output]:
    """Every service of the shipped repository and of the golden cases, compiled and written."""
    found: list[Output] = []
    base = tmp_path_factory.mktemp("outputs")
    roots = {"shipped": copy_repo(base / "shipped", with_out=False)}
    roots.update({case: prepare(case, base / case) for case in case_names()})
    for case, root in roots.items():
        compilation = compile_repository(root)
        for relative, content in compilation.outputs.items():
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            (root / relative).write_bytes(content)
        for profile in compilation.profiles:
            for service in profile.services:
                folder = root / "out" / profile.name / service.name
                found.append(Output(case, profile, service, folder))
    return found


def with_file(outputs: list[Output], name: str) -> Iterator[Output]:
    return (o for o in outputs if (o.folder / name).is_file())


def test_every_case_is_covered(outputs: list[Output]) -> None:
    cases = {o.case for o in outputs}
    assert cases == {"shipped", *case_names()}
    assert len(list(with_file(outputs, "service.yaml"))) >= 10
    assert len(list(with_file(outputs, "timeouts.py"))) >= 10


# service.yaml: gcloud's own parser, then the Cloud Run limits gcloud does not check


@pytest.mark.skipif(not GCLOUD_PYTHON_AVAILABLE, reason=GCLOUD_SKIP_REASON)
def test_gcloud_run_services_replace_parses_every_service_yaml(
    outputs: list[Output], tmp_path: Path
) -> None:
    files = [o.folder / "service.yaml" for o in with_file(outputs, "service.yaml")]
    # One gcloud process for all: the region comes from the file's own label where it has
    # one; a file without (no platform.region) is deployed with --region, as here.
    labelled = [f for f in files if "cloud.googleapis.com/location" in f.read_text()]
    unlabelled = [f for f in files if f not in labelled]
    assert labelled and unlabelled
    # A control that must fail: an unquoted `yes` is a bool to gcloud's YAML 1.1 reader.
    control = tmp_path / "unquoted.yaml"
    control.write_text(
        "apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata:\n  name: x\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - image: x\n"
        "          env:\n            - name: A\n              value: yes\n"
    )
    failures = gcloud_parse_errors(labelled)
    failures.update(gcloud_parse_errors([*unlabelled, control], region="us-central1"))
    assert str(control) in failures
    del failures[str(control)]
    assert failures == {}


def service_yaml(output: Output) -> dict[str, Any]:
    # PyYAML's SafeLoader is YAML 1.1, like gcloud's: an unquoted `yes` would be a bool here.
    document = yaml.safe_load(output.text("service.yaml"))
    assert isinstance(document, dict)
    return document


def test_cloud_run_limits_that_gcloud_does_not_check(outputs: list[Output]) -> None:
    for output in with_file(outputs, "service.yaml"):
        service, profile = output.service, output.profile
        doc = service_yaml(output)
        assert doc["apiVersion"] == "serving.knative.dev/v1", output
        assert doc["kind"] == "Service", output
        name = doc["metadata"]["name"]
        assert isinstance(name, str) and CLOUD_RUN_NAME.fullmatch(name), output
        assert name == service.cloud_run_name, output
        assert doc["metadata"].get("namespace") == profile.platform.project, output
        labels = doc["metadata"].get("labels") or {}
        assert labels.get("cloud.googleapis.com/location") == profile.platform.region, output
        template = doc["spec"]["template"]
        spec = template["spec"]
        timeout = spec["timeoutSeconds"]
        assert type(timeout) is int and 1 <= timeout <= 3600, output
        assert timeout * 1000 == service.request_timeout_ms, output
        (container,) = spec["containers"]
        assert container["image"] == service.image, output
        assert container["ports"][0]["containerPort"] == service.port, output
        env = container["env"]
        assert [e["name"] for e in env] == sorted(e["name"] for e in env), output
        for item in env:
            assert type(item["name"]) is str and type(item["value"]) is str, output
            assert env_value_is_well_formed(item["name"], item["value"]), (output, item)
            assert item["name"] not in RESERVED and not item["name"].startswith("X_GOOGLE_")
        assert {e["name"]: e["value"] for e in env} == dict(service.env), output
        probe = container["startupProbe"]
        assert probe["httpGet"]["path"] == service.health_startup, output
        assert probe["httpGet"].get("port", service.port) == service.port, output
        assert not probe_problems(probe, service.startup_budget_ms), output
        assert container["name"] == service.container_name, output
        liveness = container["livenessProbe"]
        assert liveness["httpGet"]["path"] == service.health_liveness, output
        assert 1 <= liveness["timeoutSeconds"] <= liveness["periodSeconds"] <= 3600, output
        want = service.settings.liveness_probe
        assert liveness["failureThreshold"] == want.failure_threshold >= 1, output
        assert (liveness["timeoutSeconds"], liveness["periodSeconds"]) == (
            want.timeout_s,
            want.period_s,
        ), output
        assert spec.get("containerConcurrency") == service.settings.concurrency, output
        annotations = (template.get("metadata") or {}).get("annotations") or {}
        min_scale = annotations.get("autoscaling.knative.dev/minScale")
        if profile.platform.min_instances is None:
            assert min_scale is None, output
        else:
            assert min_scale == str(profile.platform.min_instances), output
        for name, value in service.settings.annotations:
            assert annotations[name] == value and value in ("true", "false"), output


def test_strings_yaml_11_could_misread_are_quoted(outputs: list[Output]) -> None:
    """Every scalar that is a string in the model is a double-quoted string in the file."""
    for output in with_file(outputs, "service.yaml"):
        lines = output.text("service.yaml").splitlines()
        for key in ("name", "value", "path", "image", "namespace", "minScale", "maxScale"):
            for line in lines:
                stripped = line.strip().removeprefix("- ")
                if stripped.startswith(f"{key}:") or stripped.startswith(
                    f"autoscaling.knative.dev/{key}:"
                ):
                    value = stripped.split(": ", 1)[1]
                    assert value.startswith('"') and value.endswith('"'), (output, line)


def test_edge_case_names_stay_strings() -> None:
    text = (REPO / "tests/golden/edge-names/out/edge/true/service.yaml").read_text()
    doc = yaml.safe_load(text)
    assert doc["metadata"]["name"] == "true"
    assert '  name: "true"\n' in text


# timeouts.env and env.yaml: every reader agrees


def literal_env(text: str) -> dict[str, str]:
    """Docker's --env-file reading: NAME=value, verbatim, comments and blank lines skipped."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        name, separator, value = line.partition("=")
        assert separator, line
        pairs[name] = value
    return pairs


def test_env_files_read_the_same_everywhere(outputs: list[Output]) -> None:
    for output in with_file(outputs, "timeouts.env"):
        text = output.text("timeouts.env")
        assert text.endswith("\n") and "\r" not in text
        literal = literal_env(text)
        assert dict(dotenv_values(output.folder / "timeouts.env")) == literal, output
        assert literal == dict(output.service.env), output
        assert list(literal) == sorted(literal), output
        for name, value in literal.items():
            assert env_value_is_well_formed(name, value), output  # no quotes, spaces, $, # or \
        assert not re.search(r"^export |[ \t\"'$\\`]", text.split("\n", 1)[1], re.M), output


def test_env_yaml_equals_the_env_file(outputs: list[Output]) -> None:
    for output in with_file(outputs, "env.yaml"):
        text = output.text("env.yaml")
        loaded = yaml.safe_load(text)
        assert loaded == literal_env(output.text("timeouts.env")), output
        assert all(type(v) is str for v in loaded.values()), output
        for line in text.splitlines()[1:]:
            assert re.fullmatch(r'[A-Z][A-Z0-9_]*: "([0-9.]+|full|none)"', line), (output, line)


def test_dotenv_agrees_with_a_literal_reader_on_tricky_lines(tmp_path: Path) -> None:
    """The reason values carry no quotes, spaces or `#`: readers differ on those."""
    path = tmp_path / "x.env"
    path.write_text('A="1.0"\nB=1.0 # note\n')
    assert dict(dotenv_values(path)) != literal_env(path.read_text())


# timeouts.py: mypy --strict, ruff, and importing it


@dataclass(frozen=True)
class Modules:
    """Every timeouts.py under its own module name, in one flat folder outside the repo."""

    folder: Path
    by_name: dict[str, Output]


@pytest.fixture(scope="module")
def modules(outputs: list[Output], tmp_path_factory: pytest.TempPathFactory) -> Modules:
    folder = tmp_path_factory.mktemp("modules")
    named: dict[str, Output] = {}
    for output in with_file(outputs, "timeouts.py"):
        name = re.sub(r"\W", "_", f"m_{output.case}__{output.profile.name}__{output.service.name}")
        shutil.copyfile(output.folder / "timeouts.py", folder / f"{name}.py")
        named[name] = output
    return Modules(folder, named)


def run_tool(*command: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_generated_modules_pass_mypy_strict(modules: Modules) -> None:
    folder = modules.folder
    # A control that must fail, checked in the same run.
    (folder / "control_bad.py").write_text("from typing import Final\nX: Final[float] = 'a'\n")
    cache = folder.parent / "mypy-cache"  # never the repository's: runs may overlap
    result = run_tool(
        BIN / "mypy",
        "--config-file=",  # no configuration file: only the flags below
        "--strict",
        "--python-version=3.11",
        f"--cache-dir={cache}",
        "control_bad.py",
        *sorted(f"{name}.py" for name in modules.by_name),
        cwd=folder,
    )
    (folder / "control_bad.py").unlink()
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and errors[0].startswith("control_bad.py:2:"), result.stdout
    assert (
        f"Found 1 error in 1 file (checked {len(modules.by_name) + 1} source files)"
        in result.stdout
    )


def test_generated_modules_pass_ruff(modules: Modules) -> None:
    for rules in ((), ("--select", "E,F,W,I,B,UP,SIM,RUF", "--line-length", "100")):
        result = run_tool(
            BIN / "ruff",
            "check",
            "--isolated",  # no configuration file: ruff's defaults, or the rules given
            "--no-cache",
            "--target-version=py311",
            *rules,
            ".",
            cwd=modules.folder,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_importing_the_modules_gives_the_model_values(modules: Modules) -> None:
    for name, output in modules.by_name.items():
        service = output.service
        module = load_module(modules.folder / f"{name}.py", name)
        assert output.profile.name == module.ENVIRONMENT
        assert service.name == module.SERVICE
        assert service.cloud_run_name == module.CLOUD_RUN_SERVICE
        for constant in ("ENVIRONMENT", "SERVICE", "CLOUD_RUN_SERVICE"):
            assert module.__annotations__[constant] == Final[str], (output, constant)
        assert module.__annotations__["TIMEOUTS"] == Final[module.Timeouts], output
        for var in service.env_vars:
            constant = getattr(module, var.name)
            kind = {"seconds": float, "factor": float, "count": int, "text": str}[var.kind]
            assert type(constant) is kind, (output, var.name)
            assert str(constant) == var.text or constant == float(var.text), (output, var.name)
            assert module.__annotations__[var.name] == Final[kind]
        retried = [d for d in service.dependencies if d.retries]
        assert list(type(module.RETRIES).__dataclass_fields__) == [d.name for d in retried]
        for dependency in retried:
            policy = getattr(module.RETRIES, dependency.name)
            assert policy.attempts == dependency.retries + 1, (output, dependency.name)
            assert policy.delays_s == tuple(ms / 1000 for ms in dependency.delays_ms)
            assert len(policy.delays_s) == dependency.retries
            assert policy.backoff_initial_s == dependency.backoff_ms / 1000
            cap = dependency.backoff_max_ms
            assert policy.backoff_max_s == (None if cap is None else cap / 1000)
            assert policy.jitter == dependency.jitter
            with pytest.raises(FrozenInstanceError):
                policy.attempts = 0
        assert list(module.REQUEST_PATHS) == list(service.request_paths)
        for path_name, timeouts in service.request_paths.items():
            path = module.REQUEST_PATHS[path_name]
            assert path.steps == tuple(t.ref for t in timeouts), (output, path_name)
            assert path.deadline_s == service.request_path_worst_ms[path_name] / 1000
        with pytest.raises(TypeError):
            module.REQUEST_PATHS["x"] = None
        for dependency in service.dependencies:
            group = getattr(module.TIMEOUTS, dependency.name)
            for timeout in dependency.timeouts:
                assert getattr(group, timeout.name) == timeout.ms / 1000, (output, timeout.ref)
            fields = [f for f in type(group).__dataclass_fields__]
            assert fields == [t.name for t in dependency.timeouts]
        if service.dependencies:
            with pytest.raises(FrozenInstanceError):
                setattr(module.TIMEOUTS, service.dependencies[0].name, None)
        module.verify_environment({})
        module.verify_environment({"K_SERVICE": service.cloud_run_name})
        with pytest.raises(RuntimeError, match=re.escape(repr(service.cloud_run_name))):
            module.verify_environment({"K_SERVICE": service.cloud_run_name + "-x"})


def test_the_spec_example_module(tmp_path: Path) -> None:
    module = load_module(REPO / "out/staging/netra-backend/timeouts.py", "staging_netra_backend")
    assert module.TIMEOUTS.database.connect == 3.0
    assert module.DATABASE_CONNECT_TIMEOUT_S == 3.0
    assert module.TIMEOUTS.redis.connect == 2.31
    assert module.TIMEOUTS.websocket_bridge.handshake == 1.54
    assert module.STARTUP_TOTAL_TIMEOUT_S == 31.6  # each phase at its worst case
    connect = module.STARTUP[0]
    assert (connect.dependency, connect.timeout, connect.seconds) == ("database", "connect", 3.0)
    assert (connect.attempts, connect.worst_s) == (4, 12.55)  # 4 x 3.0 + 0.1 + 0.2 + 0.25
    assert sum(phase.worst_s for phase in module.STARTUP) == 31.6
    assert [(p.timeout, p.attempts) for p in module.SHUTDOWN] == [("close", 1), ("close", 4)]
    assert module.CLOUD_RUN_SERVICE == "netra-backend-staging"
    assert module.RETRIES.database.attempts == 4
    assert module.RETRIES.database.delays_s == (0.1, 0.2, 0.25)
    assert module.RETRIES.database.backoff_max_s == 0.25
    assert module.RETRIES.auth.backoff_max_s is None
    assert module.REQUEST_PATHS["chat"].deadline_s == 20.2  # 2 x 5 + 0.2 + 5 + 5


def test_verify_environment_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    module = load_module(REPO / "out/staging/auth-service/timeouts.py", "staging_auth")
    monkeypatch.delenv("K_SERVICE", raising=False)
    module.verify_environment()
    monkeypatch.setenv("K_SERVICE", "auth-service-staging")
    module.verify_environment()
    monkeypatch.setenv("K_SERVICE", "auth-service-production")
    with pytest.raises(RuntimeError, match="'auth-service-production'"):
        module.verify_environment()


def test_modules_are_stdlib_only(modules: Modules) -> None:
    allowed = {"__future__", "os", "collections.abc", "dataclasses", "types", "typing"}
    for output in modules.by_name.values():
        imports = re.findall(r"^(?:from|import) ([\w.]+)", output.text("timeouts.py"), re.M)
        assert set(imports) <= allowed, output


# all outputs: header, LF, final newline


def test_every_output_starts_with_the_header(outputs: list[Output]) -> None:
    for output in outputs:
        for path in sorted(output.folder.iterdir()):
            text = path.read_bytes().decode("utf-8")
            assert text.startswith(
                f"# Code generated by timeoutc from profiles/{output.profile.name}.yaml. "
                "DO NOT EDIT.\n"
            ), path
            assert text.endswith("\n") and not text.endswith("\n\n"), path
            assert "\r" not in text and "\t" not in text, path
            assert str(output.folder.parent.parent.parent) not in text, path
