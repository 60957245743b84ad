"""`timeoutc schema`, the packaged copies of the schema and templates, and the schema's help."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, Run

from compiler.authoring.scaffold import data_file
from compiler.pipeline.schema import validator_for

SCHEMA = json.loads((REPO / "schemas" / "profile.schema.json").read_text(encoding="utf-8"))
ANNOTATIONS = ("title", "description", "examples")


def test_schema_prints_the_repository_schema(run: Run) -> None:
    result = run("schema")
    assert result.exit_code == 0
    assert result.stdout == (REPO / "schemas" / "profile.schema.json").read_text(encoding="utf-8")


def test_schema_of_another_repository(run: Run, tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "profile.schema.json").write_text('{"type": "object"}\n')
    assert run("schema", "--root", tmp_path).stdout == '{"type": "object"}\n'
    (tmp_path / "schemas" / "profile.schema.json").unlink()
    missing = run("schema", "--root", tmp_path)  # no schema of its own: timeoutc's is used
    assert missing.exit_code == 0
    assert missing.stdout.encode() == (REPO / "schemas" / "profile.schema.json").read_bytes()
    (tmp_path / "schemas" / "profile.schema.json").write_text("{not json\n")
    broken = run("schema", "--root", tmp_path)
    assert broken.exit_code == 2
    assert broken.stderr.startswith("schemas/profile.schema.json: error: cannot read")


def test_packaged_schema_is_the_repository_schema() -> None:
    packaged = data_file("schemas/profile.schema.json").read_bytes()
    assert packaged == (REPO / "schemas" / "profile.schema.json").read_bytes(), (
        "copy schemas/profile.schema.json to compiler/data/schemas/"
    )


def test_packaged_templates_are_the_repository_templates() -> None:
    shipped = {p.name: p.read_bytes() for p in sorted((REPO / "templates").glob("*.j2"))}
    packaged = {
        entry.name: entry.read_bytes()
        for entry in data_file("templates").iterdir()
        if entry.name.endswith(".j2")
    }
    assert packaged == shipped, "copy templates/*.j2 to compiler/data/templates/"


def annotated_nodes(node: Any, where: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every property, key rule, value rule, list item and definition of the schema."""
    if not isinstance(node, Mapping):
        return
    for name, child in node.get("properties", {}).items():
        yield f"{where}.{name}", child
        yield from annotated_nodes(child, f"{where}.{name}")
    for keyword in ("propertyNames", "additionalProperties", "items"):
        child = node.get(keyword)
        if isinstance(child, Mapping):
            yield f"{where}/{keyword}", child
            yield from annotated_nodes(child, f"{where}/{keyword}")
    for index, child in enumerate(node.get("oneOf", ())):
        yield from annotated_nodes(child, f"{where}/oneOf/{index}")
    for name, child in node.get("$defs", {}).items():
        yield f"$defs/{name}", child
        yield from annotated_nodes(child, f"$defs/{name}")


NODES = list(annotated_nodes(SCHEMA, "profile"))


def test_the_walk_sees_the_whole_schema() -> None:
    names = {where for where, _ in NODES}
    assert "$defs/dependency.timeouts/additionalProperties" in names
    assert "$defs/service.allow/propertyNames" in names
    assert len(NODES) > 40


@pytest.mark.parametrize(("where", "node"), NODES, ids=[where for where, _ in NODES])
def test_every_node_has_title_description_and_examples(where: str, node: Mapping[str, Any]) -> None:
    missing = [key for key in ANNOTATIONS if not node.get(key)]
    assert not missing, f"{where} lacks {missing}"
    assert len(str(node["description"])) >= 20


@pytest.mark.parametrize(("where", "node"), NODES, ids=[where for where, _ in NODES])
def test_every_example_is_valid(where: str, node: Mapping[str, Any]) -> None:
    validator = validator_for({"$defs": SCHEMA["$defs"], **node})
    for example in node["examples"]:
        assert not list(validator.iter_errors(example)), f"{where}: example {example!r} is invalid"
