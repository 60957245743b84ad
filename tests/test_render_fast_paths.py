"""The render stage's shortcuts give exactly what the checked, plain paths give."""

from __future__ import annotations

import dataclasses
import json
import tracemalloc
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import jinja2
import pytest
from conftest import REPO
from hypothesis import given
from hypothesis import strategies as st
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from compiler.diagnostics import Mark
from compiler.pipeline import compile_repository, render
from compiler.pipeline.context import attributes, context_types, quoted
from compiler.pipeline.render import load_templates


def model_objects() -> Iterator[object]:
    """Every object of a documented type that the shipped profiles reach, once."""
    seen: set[int] = set()
    pending: list[Any] = list(compile_repository(REPO, render=False).profiles)
    kinds = set(context_types())
    while pending:
        value = pending.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if type(value) in kinds:
            yield value
            pending.extend(getattr(value, name) for name in attributes(type(value)))
        elif isinstance(value, tuple | list):
            pending.extend(value)
        elif isinstance(value, dict):
            pending.extend(value.values())


@dataclasses.dataclass(frozen=True)
class Stranger:
    """A dataclass that is not the model's."""

    name: str = "x"


def test_templates_render_in_jinjas_own_sandbox() -> None:
    """The sandbox is Jinja2's, as released: only its documented hooks are ours."""
    env = load_templates(REPO).by_output["service.yaml"].environment
    assert isinstance(env, ImmutableSandboxedEnvironment)
    for method in ("getattr", "getitem", "is_safe_callable", "call", "wrap_str_format"):
        assert getattr(type(env), method) is getattr(ImmutableSandboxedEnvironment, method)


def test_every_documented_attribute_reads_as_the_stock_sandbox_reads_it() -> None:
    checked = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    env = load_templates(REPO).by_output["service.yaml"].environment
    for obj in model_objects():
        for name in attributes(type(obj)):
            expected, got = checked.getattr(obj, name), env.getattr(obj, name)
            assert not isinstance(expected, jinja2.Undefined), (type(obj), name)
            assert type(got) is type(expected) and got == expected, (type(obj), name)


def test_model_objects_internals_are_refused() -> None:
    env = load_templates(REPO).by_output["service.yaml"].environment
    template = env.from_string("{{ mark.__class__ }}")
    with pytest.raises(SecurityError, match="'__class__' of 'Mark' object is unsafe"):
        template.render(mark=Mark("profiles/base.yaml", 1, 2))
    assert env.from_string("{{ mark.line }} {{ mark }}").render(mark=Mark("p", 3, 4)) == "3 p:3:4"


@given(st.text())
def test_quoted_text_is_json_dumps_in_ascii(text: str) -> None:
    assert quoted(text) == json.dumps(text, ensure_ascii=True)


@pytest.mark.parametrize("value", [0, -3, True, None, 1.5, Fraction(7, 10), Markup("<a>")])
def test_quoted_other_values_are_their_text(value: object) -> None:
    assert quoted(value) == json.dumps(str(value), ensure_ascii=True)


def test_quoted_refuses_a_model_object() -> None:
    with pytest.raises(TypeError, match="a Mark cannot be written out as it is"):
        quoted(Mark("profiles/base.yaml", 1, 2))


def _render(tmp_path: Path, source: str) -> str:
    env = render._environment(tmp_path)
    return render._bounded_render(env.from_string(source), dict(env.globals))


def test_the_output_limit_is_exact(tmp_path: Path) -> None:
    assert len(_render(tmp_path, "{{ 'x' * 9999999 }}{{ 'y' }}")) == render.MAX_OUTPUT_BYTES
    with pytest.raises(render._TooLarge, match="its output is larger than 10 MB"):
        _render(tmp_path, "{{ 'x' * 9999999 }}{{ 'yz' }}")


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(100000) %}{{ 'x' * 9999999 }}{% endfor %}",  # 1 TB in large pieces
        "{% for i in range(100000) %}{% for j in range(1000) %}0123456789{% endfor %}{% endfor %}",
    ],
)
def test_a_runaway_output_stops_soon_after_the_limit(tmp_path: Path, source: str) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(render._TooLarge):
            _render(tmp_path, source)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * render.MAX_OUTPUT_BYTES


def test_the_class_name_filter_is_memoized_for_names_and_errs_as_the_function_does() -> None:
    from compiler.pipeline.context import FILTERS

    assert FILTERS["class_name"]("agent_supervisor") == "AgentSupervisorTimeouts"
    with pytest.raises(AttributeError, match="'list' object has no attribute 'split'"):
        FILTERS["class_name"](["agent"])  # not "unhashable type", the memo's own error
