"""Durations and factors, read exactly from their text; milliseconds are integers."""

from __future__ import annotations

import re
from fractions import Fraction
from functools import lru_cache

UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000}
MAX_DURATION_MS = 24 * UNIT_MS["h"]
MAX_FACTOR = 100
DURATION_TEXT = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]+)?)(?P<unit>ms|s|m|h)")
_DECIMAL = re.compile(r"[0-9]+(?:\.[0-9]+)?|\.[0-9]+")


class DurationError(ValueError):
    """A duration or factor text that is not acceptable; the message says why."""


MIN_FACTOR = Fraction(1, 1_000_000)
MAX_FACTOR_DIGITS = 12  # significant digits: far more than any timeout needs
# Fraction digits beyond which a value in this unit cannot be whole milliseconds
# (1000 = 2^3 5^3, 60000 = 2^5 3 5^4, 3600000 = 2^7 3^2 5^5).
_UNIT_FRACTION_DIGITS = {"ms": 0, "s": 3, "m": 5, "h": 7}
_MAX_WHOLE_DIGITS = len(str(MAX_DURATION_MS))
_SHOWN = 40  # characters of a rejected text shown in a message


def _shown(text: str) -> str:
    """`text` for a message, cut short: a rejected value may be a megabyte long."""
    if len(text) <= _SHOWN:
        return text
    return f"{text[:20]}...{text[-12:]} ({len(text)} characters)"


def _split(number: str) -> tuple[str, str]:
    """The significant whole and fraction digits of a decimal text: no leading or trailing
    zeros ('007.50' -> ('7', '5')), found in one pass, before any arithmetic."""
    whole, _, fraction = number.partition(".")
    return whole.lstrip("0"), fraction.rstrip("0")


@lru_cache(maxsize=4096)  # pure, and called for every timeout of every service
def parse_duration_ms(text: str) -> int:
    """`'1.5s'` -> 1500. Rejects a missing unit, zero, below 1 ms precision, above 24h.

    What the text alone decides (too many fraction or whole digits) is decided before
    any arithmetic, so the time is linear in the text whatever it holds.
    """
    match = DURATION_TEXT.fullmatch(text)
    if match is None:
        raise DurationError(
            f"invalid duration '{_shown(text)}': expected a number and a unit "
            "(ms, s, m or h), e.g. 250ms, 1.5s, 2m"
        )
    unit = match["unit"]
    whole, fraction = _split(match["number"])
    if not whole and not fraction:
        raise DurationError(f"invalid duration '{_shown(text)}': must be greater than zero")
    if len(fraction) > _UNIT_FRACTION_DIGITS[unit]:
        raise DurationError(f"invalid duration '{_shown(text)}': finer than 1 ms")
    if len(whole) > _MAX_WHOLE_DIGITS:
        raise DurationError(f"invalid duration '{_shown(text)}': more than 24h")
    exact = Fraction(int(whole or "0") * 10 ** len(fraction) + int(fraction or "0"))
    exact = exact / 10 ** len(fraction) * UNIT_MS[unit]
    if exact.denominator != 1:
        raise DurationError(f"invalid duration '{_shown(text)}': finer than 1 ms")
    if exact > MAX_DURATION_MS:
        raise DurationError(f"invalid duration '{_shown(text)}': more than 24h")
    return int(exact)


@lru_cache(maxsize=4096)  # pure, and called for every timeout of every service
def parse_factor(text: str) -> Fraction:
    """`'0.7'` -> Fraction(7, 10): a decimal from 0.000001 to 100 with at most 12
    significant digits, never a float; bounds are checked on the text, before arithmetic."""
    if _DECIMAL.fullmatch(text) is None:
        raise DurationError(
            f"invalid factor '{_shown(text)}': expected a decimal number such as 0.7"
        )
    whole, fraction = _split(text)
    if not whole and not fraction:
        raise DurationError(f"invalid factor '{_shown(text)}': must be greater than zero")
    if len(whole) > len(str(MAX_FACTOR)):
        raise DurationError(f"invalid factor '{_shown(text)}': must be at most {MAX_FACTOR}")
    leading_zeros = len(fraction) - len(fraction.lstrip("0")) if not whole else 0
    if leading_zeros >= 6:  # below 0.000001
        raise DurationError(
            f"invalid factor '{_shown(text)}': must be at least {format_factor(MIN_FACTOR)}"
        )
    if len((whole + fraction).strip("0")) > MAX_FACTOR_DIGITS:
        raise DurationError(
            f"invalid factor '{_shown(text)}': more than {MAX_FACTOR_DIGITS} significant digits"
        )
    value = Fraction(int(whole + fraction or "0"), 10 ** len(fraction))
    if value > MAX_FACTOR:
        raise DurationError(f"invalid factor '{_shown(text)}': must be at most {MAX_FACTOR}")
    return value


def scale_ms(base_ms: int, *factors: Fraction) -> int:
    """`ceil(base_ms * f1 * f2 ...)`, computed exactly: the resolver's scaling of a timeout."""
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


def format_signed_seconds(ms: int) -> str:
    """Exact seconds with their unit and sign, for margins and differences: -850 -> '-0.85s'."""
    return ("-" if ms < 0 else "") + format_seconds(abs(ms)) + "s"


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
