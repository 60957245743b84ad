"""The model's mechanisms: `lazy` values on frozen classes."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from compiler.diagnostics import Mark
from compiler.model import CloudRunSettings, Dependency, Timeout, lazy


def test_lazy_computes_once_and_is_read_only() -> None:
    calls: list[int] = []

    @dataclasses.dataclass(frozen=True)
    class Box:
        value: int

        @lazy
        def doubled(self) -> int:
            calls.append(self.value)
            return self.value * 2

    box = Box(21)
    assert (box.doubled, box.doubled) == (42, 42)
    assert calls == [21]
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.doubled = 1
    assert isinstance(vars(Box)["doubled"], lazy)


def test_model_classes_keep_arguments_defaults_and_factories() -> None:
    mark = Mark("profiles/base.yaml", 3, 5)
    timeout = Timeout("db", "connect", 1500, 1000, False, False, Fraction(1500), (), mark)
    assert timeout == dataclasses.replace(timeout)
    assert dataclasses.asdict(timeout)["ms"] == 1500
    first, second = Dependency("db", (timeout,)), Dependency("db", (timeout,), retries=1)
    assert first.marks == {} and first.marks is not Dependency("db", ()).marks
    assert (first.retries, second.retries, second.jitter) == (0, 1, "full")
    assert CloudRunSettings().marks is not CloudRunSettings().marks
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.retries = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Dependency("db")  # type: ignore[call-arg]
