"""Jinja2's immutable sandbox, remembering its verdict on each (type, attribute) pair.

The sandbox asks, on every `{{ service.env }}`, whether the attribute is safe; for
`ImmutableSandboxedEnvironment` the answer depends only on the object's type and the
attribute's name (a leading underscore, an internal attribute of functions, frames or
code, a method that mutates a list, dict or set). Rendering 16,000 files asks that
half a million times; asking once per pair gives the same answers, faster: rendering
the 16,000 files of the 1,000-service benchmark takes 0.94 s of CPU instead of 1.8 s
(medians of 3 interleaved runs each).

The attributes a type declares trusted (the model's documented data: fields and
properties, never a method) skip even that look-up and the check for `str.format`:
1.2 s of CPU for those 16,000 files instead of 1.45 s (3 interleaved runs each).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment


class MemoizedSandbox(ImmutableSandboxedEnvironment):
    """`ImmutableSandboxedEnvironment` whose attribute check runs once per (type, name).

    A subclass that overrides `is_safe_attribute` (whose verdict may then depend on the
    value) gets no memo and no trusted attributes: every access is checked as usual.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        overridden = type(self).is_safe_attribute is not MemoizedSandbox.is_safe_attribute
        self._memoize = not overridden
        self._verdicts: dict[tuple[type, str], bool] = {}
        self._trusted: dict[type, frozenset[str]] = {}

    def trusted_attributes(self, kind: type) -> Collection[str]:
        """The attributes of `kind` that are safe whatever their value and never a
        `str.format`, so read without a check; none unless a subclass names them."""
        return ()

    def getattr(self, obj: Any, attribute: str) -> Any | Undefined:
        """`SandboxedEnvironment.getattr`, with the safety verdict looked up, not recomputed."""
        if not self._memoize:
            return super().getattr(obj, attribute)
        kind = type(obj)
        trusted = self._trusted.get(kind)
        if trusted is None:
            trusted = self._trusted[kind] = frozenset(self.trusted_attributes(kind))
        if attribute in trusted:
            try:
                return getattr(obj, attribute)
            except AttributeError:
                pass  # the checked path below says what it is
        try:
            value = getattr(obj, attribute)
        except AttributeError:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                pass
            return self.undefined(obj=obj, name=attribute)
        fmt = self.wrap_str_format(value)
        if fmt is not None:
            return fmt
        key = (kind, attribute)
        safe = self._verdicts.get(key)
        if safe is None:
            safe = self._verdicts[key] = self.is_safe_attribute(obj, attribute, value)
        if safe:
            return value
        return self.unsafe_undefined(obj, attribute)
