"""Durations and factors, read exactly from their text; milliseconds are integers."""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
MAX_DURATION_MS = 24 * UNIT_MS["h"]
MAX_FACTOR = 100
DURATION_TEXT = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h)")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")


class DurationError(ValueError):
    """A duration or factor text that is not acceptable; the message says why."""


@lru_cache(maxsize=4096)  # pure, and called for every timeout of every service
def parse_duration_ms(text: str) -> int:
    """`'1.5s'` -> 1500. Rejects a missing unit, zero, below 1 ms precision, above 24h."""
    match = DURATION_TEXT.fullmatch(text)
    if match is None:
        raise DurationError(
            f"invalid duration '{text}': expected a number and a unit (ms, s, m or h), "
            "e.g. 250ms, 1.5s, 2m"
        )
    # Through Decimal: Fraction(str) goes through int(str), which refuses over 4300 digits.
    exact = Fraction(Decimal(match["number"])) * UNIT_MS[match["unit"]]
    if exact == 0:
        raise DurationError(f"invalid duration '{text}': must be greater than zero")
    if exact.denominator != 1:
        raise DurationError(f"invalid duration '{text}': finer than 1 ms")
    if exact > MAX_DURATION_MS:
        raise DurationError(f"invalid duration '{text}': more than 24h")
    return int(exact)


@lru_cache(maxsize=4096)  # pure, and called for every timeout of every service
def parse_factor(text: str) -> Fraction:
    """`'0.7'` -> Fraction(7, 10): a decimal above 0 and at most 100, never a float."""
    if _DECIMAL.fullmatch(text) is None:
        raise DurationError(f"invalid factor '{text}': expected a decimal number such as 0.7")
    value = Fraction(Decimal(text))
    if value <= 0:
        raise DurationError(f"invalid factor '{text}': must be greater than zero")
    if value > MAX_FACTOR:
        raise DurationError(f"invalid factor '{text}': must be at most {MAX_FACTOR}")
    return value


def scale_ms(base_ms: int, *factors: Fraction) -> int:
    """`ceil(base_ms * f1 * f2 ...)`, computed exactly."""
    numerator, denominator = base_ms, 1
    for factor in factors:  # integers, not Fraction: no gcd per step, same ceiling
        numerator *= factor.numerator
        denominator *= factor.denominator
    return -(-numerator // denominator)


@lru_cache(maxsize=4096)  # pure, and called for every timeout of every service
def format_seconds(ms: int) -> str:
    """Exact decimal seconds with at least one fractional digit: 3000 -> '3.0', 257 -> '0.257'."""
    whole, fraction = divmod(ms, 1000)
    digits = f"{fraction:03d}".rstrip("0") or "0"
    return f"{whole}.{digits}"


def format_duration(ms: int) -> str:
    """A short human form for messages: 1155 -> '1.155s', 300000 -> '300s'."""
    text = format_seconds(ms)
    return (text[:-2] if text.endswith(".0") else text) + "s"


def format_factor(value: Fraction) -> str:
    """An exact factor as the decimal a user wrote: Fraction(7, 10) -> '0.7'."""
    if value.denominator == 1:
        return str(value.numerator)
    places = 0
    while (10**places) % value.denominator:  # a factor read from decimal text terminates
        places += 1
        if places > 10_000:
            return f"{value.numerator}/{value.denominator}"
    scaled = abs(value.numerator) * 10**places // value.denominator
    whole, fraction = divmod(scaled, 10**places)
    sign = "-" if value < 0 else ""
    return f"{sign}{whole}.{fraction:0{places}d}".rstrip("0")
