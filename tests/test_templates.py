"""Templates as an extension point: any templates/<name>.j2 is an output, verified by format.

docs/templates.md is the reference of what a template sees; it is held to the model here,
so an attribute added to (or removed from) the model fails until the reference says so.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from conftest import REPO, Run, tree_bytes

from compiler.pipeline.context import FILTERS, attributes, context_types, type_text

REFERENCE = REPO / "docs" / "templates.md"
EXAMPLES = REPO / "docs" / "examples"
SERVICE_OUT = "out/staging/netra-backend"


def reference_tables() -> dict[str, dict[str, str]]:
    """`### \\`Name\\`` sections of docs/templates.md: attribute -> type, as written."""
    tables: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"### `(\w+)`", line)
        if heading:
            current = tables.setdefault(heading.group(1), {})
        elif line.startswith("## "):
            current = None
        elif current is not None and line.startswith("| `"):
            cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
            current[cells[0].strip("`")] = cells[1].strip("`").replace("\\|", "|")
    return tables


def section(title: str) -> str:
    text = REFERENCE.read_text(encoding="utf-8")
    return re.split(r"\n##+ ", text.split(f"## {title}\n", 1)[1], maxsplit=1)[0]


def test_the_reference_lists_every_object_and_attribute_of_the_model() -> None:
    tables = reference_tables()
    kinds = {kind.__name__: kind for kind in context_types()}
    assert set(tables) == set(kinds), "docs/templates.md: one section per object templates reach"
    for name, kind in kinds.items():
        documented = tables[name]
        assert list(documented) == list(attributes(kind)), f"docs/templates.md: {name}"
        for attribute, written in documented.items():
            assert written == type_text(kind, attribute), f"docs/templates.md: {name}.{attribute}"


def test_the_reference_lists_every_filter_and_context_name() -> None:
    filters = re.findall(r"^\| `(\w+)` \|", section("Filters"), flags=re.MULTILINE)
    assert filters == list(FILTERS)
    names = re.findall(r"^\| `(\w+)` \|", section("The context"), flags=re.MULTILINE)
    assert names == ["profile", "service", "environment"]


def write_template(repo: Path, name: str, text: str) -> Path:
    path = repo / "templates" / f"{name}.j2"
    path.write_text(text, encoding="utf-8")
    return path


def build_fails(run: Run, repo: Path) -> str:
    before = tree_bytes(repo / "out")
    result = run("build", "--root", repo)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert tree_bytes(repo / "out") == before
    return result.stderr


def test_a_custom_env_file_is_checked_as_an_env_file_not_against_timeouts_env(
    run: Run, repo: Path
) -> None:
    write_template(
        repo,
        "retries.env",
        "{% for dep in service.dependencies if dep.retries %}\n"
        "{{ dep.name | upper }}_RETRIES={{ dep.retries }}\n{% endfor %}\n",
    )
    assert run("build", "--root", repo).exit_code == 0
    text = (repo / SERVICE_OUT / "retries.env").read_text(encoding="utf-8")
    assert text.splitlines()[1:] == ["DATABASE_RETRIES=3", "AUTH_RETRIES=1"]
    assert run("check", "--root", repo).exit_code == 0


@pytest.mark.parametrize(
    ("name", "body", "problem"),
    [
        ("bad.json", '{"a": 1,}\n', "does not parse: Expecting property name"),
        ("twice.json", '{"a": 1, "a": 2}\n', "does not parse: duplicate key 'a'"),
        ("nan.json", '{"a": NaN}\n', "does not parse: NaN is not JSON"),
        ("bad.yaml", "a: [1\n", "does not parse: while parsing a flow sequence"),
        ("bad.toml", "a = \n", "does not parse: Invalid value"),
        ("bad.py", "def f(:\n", "does not parse: invalid syntax"),
        ("bad.env", "A=has space\n", "has a line that env-file readers disagree on: 'A=has space'"),
        ("export.env", "export A=1\n", "disagree on: 'export A=1'"),
        ("twice.env", "A=1\nA=2\n", "sets A twice"),
    ],
)
def test_an_output_must_parse_as_its_extension_says(
    run: Run, repo: Path, name: str, body: str, problem: str
) -> None:
    write_template(repo, name, body)
    first = build_fails(run, repo).splitlines()[0]
    assert first.startswith(f"templates/{name}.j2: error: out/")
    assert problem in first


def test_other_text_and_several_yaml_documents_are_fine(run: Run, repo: Path) -> None:
    write_template(repo, "notes.txt", "{{ service.name }}: ,{[ not parsed\n")
    write_template(repo, "two.yaml", "a: 1\n---\nb: 2\n")
    write_template(
        repo, "settings.toml", "[timeouts]\nstartup_ms = {{ service.startup_total_ms }}\n"
    )
    assert run("build", "--root", repo).exit_code == 0
    text = (repo / SERVICE_OUT / "settings.toml").read_text(encoding="utf-8")
    assert "startup_ms = 31600\n" in text  # each phase at its worst case


def test_a_wrong_attribute_names_the_template_line_and_what_exists(run: Run, repo: Path) -> None:
    write_template(
        repo,
        "retries.env",
        "# retries\n{% for dep in service.dependencies %}\n{{ dep.retry }}\n{% endfor %}\n",
    )
    assert build_fails(run, repo) == (
        "templates/retries.env.j2:3: error: template: 'Dependency' has no attribute 'retry'; "
        "it has name, timeouts, retries, backoff_ms, service, backoff_max_ms, backoff_multiplier, "
        "jitter, attempts, delays_ms, delays_seconds, env_prefix, retry_env "
        "(did you mean 'retry_env'?)\n"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{{ service.dependencies[0] }}\n", "a Dependency cannot be written out as it is; use "),
        ("{{ service.dependencies[0] | tojson }}\n", "a Dependency cannot be written out"),
        ("{{ service.request_paths.nope }}\n", "no key 'nope' here; the keys are chat"),
        ("{{ service.dependencies.orders }}\n", "a list has no attribute 'orders'"),
        ("{{ profile.environment.multiplier_value | tojson }}\n", "a Fraction cannot be written"),
    ],
)
def test_a_model_object_is_never_printed_as_its_repr(
    run: Run, repo: Path, body: str, message: str
) -> None:
    write_template(repo, "x.txt", "line\n" + body)
    stderr = build_fails(run, repo)
    assert stderr.startswith("templates/x.txt.j2:2: error: template: "), stderr
    assert message in stderr
    assert "Dependency(" not in stderr and "Fraction(" not in stderr


def test_an_error_in_an_included_template_names_that_template(run: Run, repo: Path) -> None:
    write_template(repo, "a.txt", "{% include 'b.txt.j2' %}\n")  # rendered first
    write_template(repo, "b.txt", "ok\n{{ service.nope }}\n")
    stderr = build_fails(run, repo)
    assert stderr.startswith("templates/b.txt.j2:2: error: template: 'Service' has no "), stderr


def test_marks_print_as_their_place(run: Run, repo: Path) -> None:
    write_template(repo, "where.txt", "{{ service.dependencies[0].timeouts[0].mark }}\n")
    assert run("build", "--root", repo).exit_code == 0
    text = (repo / SERVICE_OUT / "where.txt").read_text(encoding="utf-8")
    assert text.splitlines()[1] == "profiles/staging.yaml:20:29"


# The examples in docs/examples/

# gRPC's service config, as documented in grpc/grpc doc/service_config.md and
# src/proto/grpc/service_config/service_config.proto (MethodConfig, RetryPolicy):
# a field not listed here is not part of a MethodConfig; durations are JSON
# google.protobuf.Duration strings; a retry policy needs maxAttempts > 1, positive
# backoffs and multiplier, and at least one status code.
DURATION = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,9})?s$"}
STATUS_CODES = [
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
    "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION",
    "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
    "UNAUTHENTICATED",
]  # fmt: skip
GRPC_SERVICE_CONFIG = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "loadBalancingConfig": {"type": "array"},
        "methodConfig": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "service": {"type": "string"},
                                "method": {"type": "string"},
                            },
                        },
                    },
                    "waitForReady": {"type": "boolean"},
                    "timeout": DURATION,
                    "maxRequestMessageBytes": {"type": ["integer", "string"]},
                    "maxResponseMessageBytes": {"type": ["integer", "string"]},
                    "retryPolicy": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": [
                            "maxAttempts",
                            "initialBackoff",
                            "maxBackoff",
                            "backoffMultiplier",
                            "retryableStatusCodes",
                        ],
                        "properties": {
                            "maxAttempts": {"type": "integer", "minimum": 2},
                            "initialBackoff": {**DURATION, "not": {"pattern": r"^0+(\.0+)?s$"}},
                            "maxBackoff": {**DURATION, "not": {"pattern": r"^0+(\.0+)?s$"}},
                            "backoffMultiplier": {"type": "number", "exclusiveMinimum": 0},
                            "retryableStatusCodes": {
                                "type": "array",
                                "minItems": 1,
                                "items": {"enum": STATUS_CODES},
                            },
                            "perAttemptRecvTimeout": DURATION,
                        },
                    },
                },
            },
        },
    },
}


@pytest.fixture
def with_examples(repo: Path, run: Run) -> Path:
    for example in EXAMPLES.glob("*.j2"):
        shutil.copy(example, repo / "templates" / example.name)
    result = run("build", "--root", repo)
    assert result.exit_code == 0, result.stderr
    assert run("check", "--root", repo).exit_code == 0
    return repo


def test_the_grpc_example_is_a_valid_service_config(with_examples: Path) -> None:
    import jsonschema

    from compiler.pipeline import compile_repository

    profiles = {p.name: p for p in compile_repository(with_examples, render=False).profiles}
    for path in sorted(with_examples.glob("out/*/*/grpc_service_config.json")):
        environment, service_name = path.parts[-3], path.parts[-2]
        config = json.loads(path.read_text(encoding="utf-8"))  # no header: plain JSON
        jsonschema.validate(config, GRPC_SERVICE_CONFIG)
        service = profiles[environment].services_by_name[service_name]
        by_name = {c["name"][0]["service"]: c for c in config["methodConfig"]}
        assert list(by_name) == [d.name for d in service.dependencies if d.timeouts]
        for dep in service.dependencies:
            entry = by_name[dep.name]
            request = [t for t in dep.timeouts if t.name == "request"]
            deadline = (request or sorted(dep.timeouts, key=lambda t: t.ms))[-1]
            assert entry["timeout"] == f"{deadline.seconds}s"
            if dep.retries:
                assert entry["retryPolicy"]["maxAttempts"] == dep.retries + 1
            else:
                assert "retryPolicy" not in entry
    staging = json.loads((with_examples / SERVICE_OUT / "grpc_service_config.json").read_text())
    database = staging["methodConfig"][0]
    assert database["retryPolicy"]["initialBackoff"] == "0.100s"  # backoff: {initial: 100ms}


def test_grpc_itself_accepts_the_grpc_example(with_examples: Path) -> None:
    """A channel made with each config; gRPC refuses an invalid one (INVALID_ARGUMENT) before
    it connects, so a call to a closed loopback port must fail as UNAVAILABLE instead."""
    grpc = pytest.importorskip("grpc")
    for path in sorted(with_examples.glob("out/*/*/grpc_service_config.json")):
        config = path.read_text(encoding="utf-8")
        service = json.loads(config)["methodConfig"][0]["name"][0]["service"]
        options = [("grpc.service_config", config), ("grpc.enable_retries", 1)]
        with grpc.insecure_channel("127.0.0.1:9", options=options) as channel:
            call = channel.unary_unary(f"/{service}/Get")
            with pytest.raises(grpc.RpcError) as failure:
                call(b"", timeout=2)
        assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value.details()


def test_the_kubernetes_example_is_a_valid_deployment(with_examples: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    paths = sorted(with_examples.glob("out/*/*/deployment.yaml"))
    assert len(paths) == 6
    for path in paths:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        kubernetes_validate.validate(document, "1.30.0", strict=True)
        container = document["spec"]["template"]["spec"]["containers"][0]
        assert {"startupProbe", "readinessProbe", "livenessProbe"} <= set(container)
    staging = yaml.safe_load((with_examples / SERVICE_OUT / "deployment.yaml").read_text())
    container = staging["spec"]["template"]["spec"]["containers"][0]
    startup = container["startupProbe"]
    # the window covers the startup budget, 18.85 s in staging
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 18.85
    assert container["livenessProbe"]["httpGet"]["path"] == "/ws/health"
    assert {"name": "DATABASE_CONNECT_TIMEOUT_S", "value": "3.0"} in container["env"]
