"""Editors: what the real yaml-language-server shows for a profile, hovers and diagnostics.

The schema gives every key its own description (the shared type's follows as a second
paragraph, since the server prefers a referenced definition's markdownDescription over a
key's plain description) and readable `errorMessage` / `patternErrorMessage` texts that
say what timeoutc's own errors say.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO
from lsp_support import LanguageServer, install, install_folder

SCHEMA = REPO / "schemas" / "profile.schema.json"
BUILTIN = REPO / "compiler" / "data" / "schemas" / "profile.schema.json"


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every schema object below `node`, `node` included."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from nodes(item)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    import json

    loaded: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    return loaded


def test_the_repository_schema_is_the_shipped_one() -> None:
    assert SCHEMA.read_bytes() == BUILTIN.read_bytes()


def test_every_pattern_has_a_readable_message(schema: dict[str, Any]) -> None:
    for node in nodes(schema):
        if "pattern" in node:
            message = node.get("patternErrorMessage", "")
            assert message and node["pattern"] not in message, node.get("title")


def test_every_key_with_a_shared_type_has_its_own_hover_text(schema: dict[str, Any]) -> None:
    definitions = schema["$defs"]
    for node in nodes(schema):
        if "$ref" not in node or "description" not in node:
            continue
        shared = definitions[node["$ref"].rsplit("/", 1)[-1]]
        own, _, second = node.get("markdownDescription", "").partition("\n\n")
        assert own, f"{node.get('title')}: no markdownDescription of its own"
        assert node["markdownDescription"].endswith(
            shared.get("markdownDescription") or shared["description"]
        ), node.get("title")
        assert second, node.get("title")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LanguageServer, Path]]:
    folder = install_folder()
    try:
        entry = install(folder)
        if entry is None:
            pytest.skip("yaml-language-server needs node and npm (and the npm registry)")
        workspace = tmp_path_factory.mktemp("editor")
        shutil.copytree(REPO / "schemas", workspace / "schemas")
        shutil.copytree(REPO / "profiles", workspace / "profiles")
        language_server = LanguageServer(entry, workspace)
        try:
            yield language_server, workspace
        finally:
            language_server.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


PROFILE = """\
# yaml-language-server: $schema=../schemas/profile.schema.json
extends: base
environment:
  timeout_multiplyer: 0.7
  max_timeout: 5x
  max_total_timeout: 18s
platform:
  min_instances: 1
services:
  netra-backend:
    port: "8080"
    dependencies:
      database:
        timeouts: {connect: {fixd: 3s}, query: {fixed: 3s}}
        backoff: 200ms
"""


def position(text: str, key: str) -> tuple[int, int]:
    """0-based line and character of the first `key:` in `text`."""
    for number, line in enumerate(text.splitlines()):
        if f"{key}:" in line:
            return number, line.index(f"{key}:") + 1
    raise AssertionError(key)


def test_diagnostics_for_a_misspelt_key_a_bad_duration_and_a_wrong_type(
    server: tuple[LanguageServer, Path],
) -> None:
    language_server, workspace = server
    path = workspace / "profiles" / "typos.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    found = {
        (d["range"]["start"]["line"], d["message"]) for d in language_server.open(path, PROFILE)
    }
    assert found == {
        (3, "Property timeout_multiplyer is not allowed."),
        (
            4,
            "Invalid duration: expected a number and a unit (ms, s, m or h), e.g. 250ms, 1.5s, 2m",
        ),
        (
            10,
            "Expected a whole number from 1 to 65535, e.g. 8080; write a plain number "
            "without quotes or leading zeros",
        ),
        (13, 'Missing property "fixed".'),
        (13, "Property fixd is not allowed."),  # the typo in {fixed: ...}, as an unknown key
    }


@pytest.mark.parametrize(
    ("key", "own", "shared"),
    [
        ("max_timeout", "Cap for each scaled timeout", "A decimal number followed by a unit"),
        ("backoff", "Wait between retries", "A decimal number followed by a unit"),
        ("fixed", "The exact duration used for this timeout", "A decimal number followed by"),
        ("timeout_multiplier", "Factor applied to every plain", "A number from 0.000001 to 100"),
    ],
)
def test_hover_shows_the_key_then_its_type(
    server: tuple[LanguageServer, Path], key: str, own: str, shared: str
) -> None:
    language_server, workspace = server
    text = PROFILE.replace("timeout_multiplyer", "timeout_multiplier")
    path = workspace / "profiles" / f"hover-{key}.yaml"
    path.write_text(text, encoding="utf-8")
    language_server.open(path, text)
    hover = language_server.hover(path, *position(text, key))
    paragraphs = hover.split("\n\n")
    assert paragraphs[0].startswith("#### "), hover
    assert paragraphs[1].startswith(own), hover
    assert any(p.startswith(shared) for p in paragraphs[2:]), hover
