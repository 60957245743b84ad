"""jsonschema-rs and python-jsonschema agree on valid/invalid wherever the fast verdict is used."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.generate import generate
from compiler.diagnostics import CompileError
from compiler.pipeline.load import load_bytes
from compiler.pipeline.schema import (
    FORMAT_CHECKS,
    raise_for_schema,
    read_schema_file,
    validator_for,
    validators_for,
)
from compiler.pipeline.schema_verdict import comparable, compiled, known_valid, meta_valid

TESTS = Path(__file__).resolve().parent
SCHEMA = read_schema_file(REPO / "schemas" / "profile.schema.json")
PY = validator_for(SCHEMA)
RS = compiled(SCHEMA, FORMAT_CHECKS)


def python_valid(data: Any) -> bool:
    return not any(True for _ in PY.iter_errors(data))


def documents() -> Iterator[tuple[str, Any]]:
    """Every YAML file of tests/ (hostile corpus, goldens), profiles/ and the packaged ones."""
    files = [*TESTS.rglob("*.yaml"), *(REPO / "profiles").glob("*.yaml")]
    files += (REPO / "compiler" / "data" / "profiles").glob("*.yaml")
    for file in sorted(files):
        if "out" in file.relative_to(REPO).parts:
            continue
        try:
            document = load_bytes(file.read_bytes(), file.name)
        except CompileError:  # refused before the schema: no verdict to compare
            continue
        yield str(file.relative_to(REPO)), document.data


CORPUS = list(documents())


def assert_agree(name: str, data: Any) -> None:
    slow = python_valid(data)
    if comparable(data):
        assert RS.is_valid(data) == slow, name
    if known_valid(data, SCHEMA, FORMAT_CHECKS):
        assert slow, name


def test_the_compiled_validator_is_there() -> None:
    assert RS is not None  # jsonschema-rs is a dependency: without it nothing here is tested


def test_the_corpus_has_valid_and_invalid_profiles_both_validators_read_alike() -> None:
    verdicts = [python_valid(data) for _, data in CORPUS if comparable(data)]
    assert verdicts.count(True) >= 10
    assert verdicts.count(False) >= 30  # the hostile corpus: the fast verdict is tested on it


@pytest.mark.parametrize(("name", "data"), CORPUS, ids=[name for name, _ in CORPUS])
def test_both_validators_agree_on_every_profile_file(name: str, data: Any) -> None:
    assert RS.is_valid(data) == python_valid(data), name  # even where the guard would not ask
    assert_agree(name, data)


def test_both_agree_on_a_generated_repository(tmp_path: Path) -> None:
    root = generate(tmp_path / "repo", 30, 5)
    for file in sorted((root / "profiles").glob("*.yaml")):
        data = load_bytes(file.read_bytes(), file.name).data
        assert comparable(data)
        assert known_valid(data, SCHEMA, FORMAT_CHECKS), file.name
        assert_agree(file.name, data)


def base_profile() -> dict[str, Any]:
    data = load_bytes((REPO / "profiles" / "base.yaml").read_bytes(), "base.yaml").data
    assert python_valid(data)
    return data


def leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from leaves(value, (*path, index))
    else:
        yield path


BASE = base_profile()
LEAVES = list(leaves(BASE))
VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["3s", "0s", "1.0005s", "25h", "3601s", "120s", "1.5s", "/x", "a-b", "\x1c"]),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.booleans(),
    st.none(),
    st.just({"fixed": "2s"}),
    st.just([]),
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LEAVES), VALUES, st.text(max_size=8))
def test_both_agree_when_any_value_or_key_is_replaced(
    path: tuple[Any, ...], value: Any, key: str
) -> None:
    data = copy.deepcopy(BASE)
    target = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    assert_agree(f"{path} = {value!r}", data)
    if isinstance(target, dict) and key:
        target[key] = value
        assert_agree(f"{path[:-1]} + {key!r}", data)


@pytest.mark.parametrize(
    "edit",
    [
        ("services", "netra-backend", "port", Decimal("8080.0")),  # to Python, not an integer
        ("services", "netra-backend", "allow", "budget.callee", "\x1c"),  # \S: not to Python
    ],
)
def test_the_documents_they_read_differently_are_left_to_python_jsonschema(
    edit: tuple[Any, ...],
) -> None:
    data = copy.deepcopy(BASE)
    target = data
    for part in edit[:-2]:
        target = target.setdefault(part, {})
    target[edit[-2]] = edit[-1]
    assert RS.is_valid(data) != python_valid(data)  # why they are not asked alike
    assert not comparable(data)
    assert not known_valid(data, SCHEMA, FORMAT_CHECKS)
    assert_agree(str(edit), data)


def test_port_8080_0_still_gets_the_type_message(tmp_path: Path) -> None:
    text = (REPO / "profiles" / "base.yaml").read_text().replace("port: 8080", "port: 8080.0", 1)
    document = load_bytes(text.encode(), "profiles/base.yaml")
    with pytest.raises(CompileError, match=r"must be an integer, not 8080\.0"):
        for validator in validators_for(REPO):
            raise_for_schema(document, validator)


def test_a_schema_with_a_remote_ref_is_decided_by_python_jsonschema() -> None:
    schema = {"$ref": "https://example.invalid/profile.json"}
    assert not known_valid({}, schema, FORMAT_CHECKS)
    assert not known_valid({}, json.loads("true"), FORMAT_CHECKS)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "strin"},
        {"properties": {"name": {"pattern": "\\p{L}+"}}},  # ECMA-262 reads it; Python's re does not
        {"patternProperties": {"((": {}}},
        {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
    ],
)
def test_a_schema_the_fast_check_is_unsure_of_goes_to_check_schema(schema: dict[str, Any]) -> None:
    assert not meta_valid(schema, FORMAT_CHECKS)


def test_the_shipped_schema_passes_the_fast_check() -> None:
    assert meta_valid(SCHEMA, FORMAT_CHECKS)


def test_checking_a_valid_repository_never_imports_python_jsonschema() -> None:
    probe = (
        "import sys; from compiler.cli import main; sys.argv = ['timeoutc', 'check'];\n"
        "try: main()\nexcept SystemExit as exc: code = exc.code\n"
        "sys.exit(10 + code if 'jsonschema' in sys.modules else code)"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True)
    assert result.returncode == 0, result.stderr
