"""The timeout arithmetic: ceil(base * multiplier * margin), exactly, then caps and pins."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler.durations import MAX_DURATION_MS, format_seconds, parse_factor, scale_ms
from compiler.model import Profile
from compiler.pipeline.load import load_bytes
from compiler.pipeline.merge import merge_chain
from compiler.pipeline.resolve import resolve_profile

# A decimal factor as a user writes it: 0 < value <= 100, up to four fractional digits.
factor_texts = st.builds(
    lambda units, digits: format(Decimal(units).scaleb(-digits), "f"),
    st.integers(min_value=1, max_value=100_0000),
    st.integers(min_value=0, max_value=4),
).filter(lambda text: Decimal(text) <= 100)
base_ms = st.integers(min_value=1, max_value=MAX_DURATION_MS)


def reference(base: int, *factor_texts: str) -> int:
    """The contract's arithmetic, written independently: Fractions from the decimal text."""
    product = Fraction(base)
    for text in factor_texts:
        product *= Fraction(text)
    return math.ceil(product)


def test_the_contract_example_is_exact_where_floats_are_not() -> None:
    # The trap the contract names: in binary floats, 1.5 s x 0.7 x 1.1 lands above 1155 ms.
    assert 1000 * 0.7 * 1.1 * 1.5 > 1155
    assert math.ceil(1000 * 0.7 * 1.1 * 1.5) == 1156
    assert scale_ms(1500, parse_factor("0.7"), parse_factor("1.1")) == 1155
    assert format_seconds(1155) == "1.155"


@pytest.mark.parametrize(
    ("base", "multiplier", "margin", "ms"),
    [
        (1500, "0.7", "1.1", 1155),
        (333, "0.7", "1.1", 257),  # 256.41 rounds up
        (8000, "0.7", "1.1", 6160),
        (3000, "0.7", "1.1", 2310),
        (2000, "0.7", "1.1", 1540),
        (1000, "1", "1", 1000),
        (1, "0.001", "1", 1),  # never below 1 ms: ceil
        (10_000, "1", "1.2", 12_000),
        (10_000, "2", "1", 20_000),
        (7, "0.3", "0.3", 1),  # 0.63 ms
        (100, "0.07", "1.1", 8),  # 7.7 ms
    ],
)
def test_scale_examples(base: int, multiplier: str, margin: str, ms: int) -> None:
    assert scale_ms(base, parse_factor(multiplier), parse_factor(margin)) == ms
    assert reference(base, multiplier, margin) == ms


@given(base_ms, factor_texts, factor_texts)
def test_scale_equals_the_fraction_reference(base: int, multiplier: str, margin: str) -> None:
    got = scale_ms(base, parse_factor(multiplier), parse_factor(margin))
    assert got == reference(base, multiplier, margin)
    exact = Fraction(base) * Fraction(multiplier) * Fraction(margin)
    assert got - 1 < exact <= got


@given(base_ms, factor_texts)
def test_factor_text_is_read_as_its_decimal(base: int, text: str) -> None:
    assert parse_factor(text) == Fraction(Decimal(text))
    assert scale_ms(base, parse_factor(text)) == reference(base, text)


@given(st.integers(min_value=1, max_value=10**9))
def test_format_seconds_is_exact_for_every_millisecond(ms: int) -> None:
    assert Fraction(format_seconds(ms)) == Fraction(ms, 1000)


# Through the resolver: loader -> merge -> resolve, in memory.


def resolve_yaml(text: str) -> Profile:
    document = load_bytes(text.encode(), "profiles/test.yaml")
    return resolve_profile(merge_chain(("test",), {"test": document}))


def one_service(environment: str, timeouts: str) -> str:
    return f"""\
environment:
{environment}
services:
  api:
    image: example/api:1
    port: 8080
    request_timeout: 300s
    health: {{startup: /ready, liveness: /live}}
    dependencies:
      db:
        timeouts: {timeouts}
    startup: [db.connect]
"""


def resolved(profile: Profile) -> dict[str, int]:
    return {t.ref: t.ms for t in profile.services[0].timeouts}


def test_staging_example_through_the_resolver() -> None:
    profile = resolve_yaml(
        one_service(
            "  timeout_multiplier: 0.7\n  safety_margin: 1.1\n  max_timeout: 5s",
            "{connect: 1.5s, query: 333ms, slow: 8s, pinned: {fixed: 3s}}",
        )
    )
    assert resolved(profile) == {
        "db.connect": 1155,
        "db.query": 257,
        "db.slow": 5000,
        "db.pinned": 3000,
    }
    by_ref = {t.ref: t for t in profile.services[0].timeouts}
    assert by_ref["db.slow"].capped and by_ref["db.slow"].exact_ms == 6160
    assert not by_ref["db.connect"].capped and by_ref["db.connect"].exact_ms == Fraction(1155)
    assert by_ref["db.query"].exact_ms == Fraction(25641, 100)
    assert by_ref["db.pinned"].fixed and not by_ref["db.pinned"].capped
    assert profile.services[0].env[0:3] == (
        ("DB_CONNECT_TIMEOUT_S", "1.155"),
        ("DB_PINNED_TIMEOUT_S", "3.0"),
        ("DB_QUERY_TIMEOUT_S", "0.257"),
    )
    assert profile.services[0].startup_total_ms == 1155


def test_operands_record_each_input_with_its_place() -> None:
    profile = resolve_yaml(
        one_service(
            "  timeout_multiplier: 0.7\n  safety_margin: 1.1\n  max_timeout: 5s",
            "{connect: 8s}",
        )
    )
    (timeout,) = profile.services[0].timeouts
    texts = [(o.role, o.text, str(o.mark)) for o in timeout.operands]
    assert texts == [
        ("base", "8s", "profiles/test.yaml:13:29"),
        ("timeout_multiplier", "0.7", "profiles/test.yaml:2:23"),
        ("safety_margin", "1.1", "profiles/test.yaml:3:18"),
        ("max_timeout", "5s", "profiles/test.yaml:4:16"),
    ]


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1e1", Fraction(10)),
        ("0.000001", Fraction(1, 10**6)),
        ("1.10", Fraction(11, 10)),
        ("2.5E-1", Fraction(1, 4)),
    ],
)
def test_any_yaml_number_is_a_factor_read_exactly(written: str, value: Fraction) -> None:
    profile = resolve_yaml(one_service(f"  timeout_multiplier: {written}", "{connect: 8s}"))
    assert profile.environment.multiplier_value == value
    assert resolved(profile) == {"db.connect": math.ceil(8000 * value)}


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=600_000), min_size=1, max_size=4),
    factor_texts,
    factor_texts,
    st.none() | st.integers(min_value=1, max_value=600_000),
)
def test_resolver_matches_the_reference(
    bases: list[int], multiplier: str, margin: str, cap: int | None
) -> None:
    timeouts = "{" + ", ".join(f"t{i}: {b}ms" for i, b in enumerate(bases)) + "}"
    environment = f"  timeout_multiplier: {multiplier}\n  safety_margin: {margin}"
    if cap is not None:
        environment += f"\n  max_timeout: {cap}ms"
    text = one_service(environment, timeouts).replace("[db.connect]", "[db.t0]")
    got = resolved(resolve_yaml(text))
    want = {}
    for i, base in enumerate(bases):
        ms = reference(base, multiplier, margin)
        want[f"db.t{i}"] = ms if cap is None else min(ms, cap)
    assert got == want
