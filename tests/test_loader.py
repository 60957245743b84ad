"""The loader: plain data with the line and column of every key and value, strict scalars."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from compiler.diagnostics import CompileError, Mark
from compiler.pipeline.load import load_bytes, resolve_plain

PATH = "profiles/p.yaml"


def load(text: str | bytes) -> Any:
    raw = text.encode() if isinstance(text, str) else text
    return load_bytes(raw, PATH)


def errors(text: str | bytes) -> list[str]:
    with pytest.raises(CompileError) as caught:
        load(text)
    return [str(d) for d in caught.value.diagnostics]


# Marks.


def test_value_and_key_marks_are_one_based_line_and_column() -> None:
    document = load(
        "abstract: true\n"
        "services:\n"
        "  api:\n"
        "    port: 8080\n"
        "    health: {startup: /ready, liveness: /live}\n"
        "    startup:\n"
        "      - db.connect\n"
        "      - cache.connect\n"
    )
    assert document.mark(("abstract",)) == Mark(PATH, 1, 11)
    assert document.key_mark(("abstract",)) == Mark(PATH, 1, 1)
    assert document.key_mark(("services", "api")) == Mark(PATH, 3, 3)
    assert document.mark(("services", "api", "port")) == Mark(PATH, 4, 11)
    assert document.key_mark(("services", "api", "port")) == Mark(PATH, 4, 5)
    assert document.mark(("services", "api", "health", "liveness")) == Mark(PATH, 5, 41)
    assert document.key_mark(("services", "api", "health", "liveness")) == Mark(PATH, 5, 31)
    assert document.mark(("services", "api", "startup", 0)) == Mark(PATH, 7, 9)
    assert document.mark(("services", "api", "startup", 1)) == Mark(PATH, 8, 9)
    assert document.mark(("services", "api", "startup")) == Mark(PATH, 7, 7)


def test_mark_of_a_missing_path_is_its_nearest_ancestor() -> None:
    document = load("services:\n  api:\n    port: 1\n")
    assert document.mark(("services", "api", "image")) == Mark(PATH, 3, 5)
    assert document.key_mark(("services", "api", "image")) == Mark(PATH, 3, 5)
    assert document.mark(("nowhere", "deeper")) == Mark(PATH, 1, 1)


def test_marks_count_characters_not_bytes() -> None:
    document = load('description_é: "ü"\nport: 1\n')
    assert document.mark(("port",)) == Mark(PATH, 2, 7)
    assert document.mark(("description_é",)) == Mark(PATH, 1, 16)


# Scalars: one strict rule set, nothing changes meaning silently.


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "yes",
        "on",
        "off",
        "y",
        "N",
        "0777",
        "007",
        "1:30",
        "12:30:00",
        "0x1F",
        "0o17",
        "1_000",
        "+1",
        ".inf",
        "-.inf",
        ".nan",
        "1s",
        "1.5s",
        "2001-12-14",
        "tRUE",
        "NuLL",
        "=",
        "<<",
    ],
)
def test_plain_scalars_that_yaml_11_would_change_stay_strings(text: str) -> None:
    assert resolve_plain(text) == text
    assert load(f"value: {text}\n").data == {"value": text}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("true", True),
        ("True", True),
        ("TRUE", True),
        ("false", False),
        ("False", False),
        ("FALSE", False),
        ("~", None),
        ("null", None),
        ("Null", None),
        ("NULL", None),
        ("0", 0),
        ("-0", 0),
        ("8080", 8080),
        ("-12", -12),
        ("0.7", Decimal("0.7")),
        ("1.10", Decimal("1.10")),
        ("-1.5", Decimal("-1.5")),
        (".5", Decimal(".5")),
        ("1.", Decimal("1")),
        ("1e3", Decimal("1e3")),
        ("2.5E-1", Decimal("0.25")),
    ],
)
def test_plain_scalars_of_yaml_12(text: str, value: object) -> None:
    loaded = load(f"value: {text}\n").data["value"]
    assert loaded == value
    assert type(loaded) is type(value)
    assert not isinstance(loaded, float)


def test_empty_value_is_null() -> None:
    assert load("value:\n").data == {"value": None}


@pytest.mark.parametrize(
    "text", ['"no"', "'0777'", '"1:30"', '"true"', '"8080"', "'~'", '""', "|\n  yes\n"]
)
def test_quoted_and_block_scalars_are_strings(text: str) -> None:
    value = load(f"value: {text}\n").data["value"]
    assert isinstance(value, str)


def test_long_integers_are_integers_up_to_300_digits() -> None:
    assert load("value: 1234567890123456789012\n").data == {"value": 1234567890123456789012}
    digits = "1" * 301  # beyond: text, so Python's int() limit is never reached
    assert load(f"value: {digits}\n").data == {"value": digits}


def test_non_specific_tag_keeps_the_string() -> None:
    assert load("value: ! 8080\n").data == {"value": "8080"}


# Errors, each at its place.


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\nb: 2\na: 3\n", f"{PATH}:3:1: error: duplicate key 'a' (first at line 1)"),
        (
            "a:\n  b: 1\n  c: 2\n  b: 3\n",
            f"{PATH}:4:3: error: duplicate key 'b' (first at line 2)",
        ),
        ("a: {b: 1, b: 2}\n", f"{PATH}:1:11: error: duplicate key 'b' (first at line 1)"),
        (
            "a: !!str 5\n",
            f"{PATH}:1:4: error: YAML tag 'tag:yaml.org,2002:str' is not allowed in profiles; "
            "write the value without a tag",
        ),
        (
            "a:\n  - !custom x\n",
            f"{PATH}:2:5: error: YAML tag '!custom' is not allowed in profiles; "
            "write the value without a tag",
        ),
        (
            "a: !!binary aGk=\n",
            f"{PATH}:1:4: error: YAML tag 'tag:yaml.org,2002:binary' is not allowed in profiles; "
            "write the value without a tag",
        ),
        (
            "a: !!python/object:os.system {}\n",
            f"{PATH}:1:4: error: YAML tag 'tag:yaml.org,2002:python/object:os.system' is not "
            "allowed in profiles; write the value without a tag",
        ),
        (
            "a: &x 5\nb: *x\n",
            f"{PATH}:1:4: error: YAML anchor '&x' is not allowed in profiles; "
            "use 'extends' to share values",
        ),
        (
            "a: 1\n---\nb: 2\n",
            f"{PATH}:2:1: error: more than one YAML document in a profile; remove the '---' line",
        ),
        ("", f"{PATH}:1:1: error: empty profile; a profile is a YAML mapping"),
        ("# only a comment\n", f"{PATH}:1:1: error: empty profile; a profile is a YAML mapping"),
        ("---\n", f"{PATH}:1:1: error: empty profile; a profile is a YAML mapping"),
        ("- a\n- b\n", f"{PATH}:1:1: error: a profile must be a YAML mapping at the top"),
        ("just text\n", f"{PATH}:1:1: error: a profile must be a YAML mapping at the top"),
        ("? [a]\n: 1\n", f"{PATH}:1:3: error: a mapping key must be a plain string"),
        (
            "a: [1\n",
            f"{PATH}:2:1: error: invalid YAML: while parsing a flow sequence: "
            "did not find expected ',' or ']'",
        ),
        (
            "a: b: c\n",
            f"{PATH}:1:5: error: invalid YAML: mapping values are not allowed in this context",
        ),
        (
            "a:\n\tb: 1\n",
            f"{PATH}:2:1: error: invalid YAML: while scanning for the next token: "
            "found character that cannot start any token; "
            "indent with spaces; YAML does not allow tabs",
        ),
    ],
)
def test_errors_at_their_place(text: str, expected: str) -> None:
    assert errors(text) == [expected]


def test_every_duplicate_key_is_reported_in_one_run() -> None:
    found = errors("a: 1\na: 2\nb:\n  c: 1\n  c: 2\n")
    assert found == [
        f"{PATH}:2:1: error: duplicate key 'a' (first at line 1)",
        f"{PATH}:5:3: error: duplicate key 'c' (first at line 4)",
    ]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"\xef\xbb\xbfa: 1\n",
            f"{PATH}:1:1: error: file starts with a byte order mark; save it as UTF-8 without BOM",
        ),
        (b"a: 1\nb: \xff\n", f"{PATH}:2:4: error: file is not valid UTF-8; save it as UTF-8"),
        (b"a: 1\nb: x\x00\n", f"{PATH}:2:5: error: file contains a NUL byte"),
    ],
)
def test_bytes_that_are_not_utf8_text(raw: bytes, expected: str) -> None:
    assert errors(raw) == [expected]


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 100 + "]" * 100,
        "a: " + "[" * 100_000 + "]" * 100_000,
        "a: " + "{b: " * 5000 + "1" + "}" * 5000,
        "a:\n" + "".join(" " * i + "b:\n" for i in range(1, 200)),
    ],
)
def test_deep_nesting_is_an_error_not_a_crash(text: str) -> None:
    (message,) = errors(text)
    assert message.startswith(f"{PATH}:1:") or message.startswith(f"{PATH}:65:")
    assert "nesting" in message


def test_a_huge_file_is_refused_before_parsing() -> None:
    (message,) = errors(b"a: " + b"x" * (9 * 1024 * 1024))
    assert message == f"{PATH}: error: file is larger than 8 MiB"
