"""Duration and factor texts: what is accepted, what it means exactly, and what is refused."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compiler.durations import (
    MAX_DURATION_MS,
    DurationError,
    format_duration,
    format_seconds,
    parse_duration_ms,
    parse_factor,
)

UNITS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
valid_ms = st.integers(min_value=1, max_value=MAX_DURATION_MS)


def decimal_text(value: Fraction) -> str | None:
    """The plain decimal of `value`, or None when it does not terminate."""
    for digits in range(13):
        scaled = value * 10**digits
        if scaled.denominator == 1:
            whole, rest = divmod(scaled.numerator, 10**digits)
            return f"{whole}.{rest:0{digits}d}" if digits else str(whole)
    return None


@given(valid_ms, st.sampled_from(sorted(UNITS)))
def test_any_whole_millisecond_written_in_any_unit_reads_back(ms: int, unit: str) -> None:
    number = decimal_text(Fraction(ms, UNITS[unit]))
    if number is not None:
        assert parse_duration_ms(number + unit) == ms


@given(valid_ms)
def test_milliseconds_and_seconds_forms_round_trip(ms: int) -> None:
    assert parse_duration_ms(f"{ms}ms") == ms
    assert parse_duration_ms(format_seconds(ms) + "s") == ms
    assert parse_duration_ms(format_duration(ms)) == ms


@given(valid_ms, st.integers(min_value=0, max_value=6))
def test_trailing_zeros_and_leading_zeros_do_not_change_the_value(ms: int, zeros: int) -> None:
    assert parse_duration_ms(format_seconds(ms) + "0" * zeros + "s") == ms
    assert parse_duration_ms("0" * zeros + f"{ms}ms") == ms


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("250ms", 250),
        ("1.5s", 1500),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("0.001s", 1),
        ("1.0005m", 60_030),
        ("0.5h", 1_800_000),
        ("24h", MAX_DURATION_MS),
        ("1440m", MAX_DURATION_MS),
        ("86400000ms", MAX_DURATION_MS),
    ],
)
def test_examples(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0s", "greater than zero"),
        ("0ms", "greater than zero"),
        ("0.000h", "greater than zero"),
        ("-1s", "expected a number and a unit"),
        ("-0.5s", "expected a number and a unit"),
        ("3", "expected a number and a unit"),
        ("1.5", "expected a number and a unit"),
        ("s", "expected a number and a unit"),
        ("", "expected a number and a unit"),
        ("1.5 s", "expected a number and a unit"),
        (" 1s", "expected a number and a unit"),
        ("1S", "expected a number and a unit"),
        ("1sec", "expected a number and a unit"),
        ("1d", "expected a number and a unit"),
        ("1e3ms", "expected a number and a unit"),
        (".5s", "expected a number and a unit"),
        ("1.s", "expected a number and a unit"),
        ("1,5s", "expected a number and a unit"),
        ("\u0661s", "expected a number and a unit"),
        ("1s\n", "expected a number and a unit"),
        ("0.5ms", "finer than 1 ms"),
        ("1.0001s", "finer than 1 ms"),
        ("1.5ms", "finer than 1 ms"),
        ("24.001h", "more than 24h"),
        ("86400001ms", "more than 24h"),
        ("25h", "more than 24h"),
        ("1441m", "more than 24h"),
    ],
)
def test_rejections_say_why(text: str, reason: str) -> None:
    with pytest.raises(DurationError, match=reason) as caught:
        parse_duration_ms(text)
    assert repr(text)[1:-1] in str(caught.value) or text in str(caught.value)


@given(st.integers(min_value=MAX_DURATION_MS + 1, max_value=10**30))
def test_anything_above_a_day_is_refused(ms: int) -> None:
    with pytest.raises(DurationError, match="more than 24h"):
        parse_duration_ms(f"{ms}ms")


@given(
    st.integers(min_value=0, max_value=10**6),
    st.integers(min_value=1, max_value=999).filter(lambda n: n % 10 != 0),
)
def test_sub_millisecond_precision_is_refused(whole: int, micro: int) -> None:
    text = f"{whole}.{micro:03d}ms"
    with pytest.raises(DurationError):
        parse_duration_ms(text)


@pytest.mark.parametrize("digits", [5000, 10_000])
def test_absurdly_long_numbers_are_an_error_not_a_crash(digits: int) -> None:
    with pytest.raises(DurationError, match="more than 24h"):
        parse_duration_ms("1" * digits + "s")
    with pytest.raises(DurationError, match="finer than 1 ms"):
        parse_duration_ms("1." + "1" * digits + "s")
    assert parse_duration_ms("1." + "0" * digits + "s") == 1000


@given(st.text(max_size=12))
def test_any_text_is_a_value_or_a_duration_error(text: str) -> None:
    try:
        ms = parse_duration_ms(text)
    except DurationError:
        return
    assert 1 <= ms <= MAX_DURATION_MS


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (3000, "3.0"),
        (1155, "1.155"),
        (257, "0.257"),
        (1, "0.001"),
        (10, "0.01"),
        (1540, "1.54"),
        (2310, "2.31"),
        (300_000, "300.0"),
        (MAX_DURATION_MS, "86400.0"),
    ],
)
def test_format_seconds(ms: int, text: str) -> None:
    assert format_seconds(ms) == text


@given(valid_ms)
def test_format_seconds_is_the_exact_decimal_with_a_fraction_digit(ms: int) -> None:
    text = format_seconds(ms)
    whole, dot, fraction = text.partition(".")
    assert dot and fraction and whole
    assert 1 <= len(fraction) <= 3
    assert fraction == "0" or not fraction.endswith("0")
    assert Fraction(text) == Fraction(ms, 1000)
    assert float(text) == ms / 1000


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.7", Fraction(7, 10)),
        ("1.1", Fraction(11, 10)),
        ("1", Fraction(1)),
        ("100", Fraction(100)),
        ("0.001", Fraction(1, 1000)),
        ("2.50", Fraction(5, 2)),
    ],
)
def test_factors_are_exact(text: str, value: Fraction) -> None:
    assert parse_factor(text) == value


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("0", "greater than zero"),
        ("0.0", "greater than zero"),
        ("100.01", "at most 100"),
        ("101", "at most 100"),
        ("-1", "expected a decimal number"),
        ("x", "expected a decimal number"),
        ("", "expected a decimal number"),
        ("nan", "expected a decimal number"),
        ("inf", "expected a decimal number"),
        ("0.0000009", "at least 0.000001"),
        ("0." + "0" * 9999 + "1", "at least 0.000001"),
        ("1.234567890123", "more than 12 significant digits"),
        ("1" * 400_000, "at most 100"),
    ],
)
def test_factor_rejections(text: str, reason: str) -> None:
    with pytest.raises(DurationError, match=reason):
        parse_factor(text)
