"""Retry policies: capped exponential backoff, its delays and worst case, computed exactly.

The delay before retry n (n = 1..r) is `min(ceil_ms(initial * multiplier^(n-1)), max)`;
a constant `backoff: b` is initial b, multiplier 1, no max. The worst case of one
timeout `t` retried r times is `(r + 1) * t + d1 + ... + dr`. Jitter only shortens the
delays a service really waits, so the worst case is the same with or without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

DEFAULT_JITTER = "full"
DEFAULT_MULTIPLIER = Fraction(2)  # of a `backoff: {initial: ...}` mapping
CONSTANT_MULTIPLIER = Fraction(1)  # of a plain `backoff: b`
MAX_BACKOFF_MS = 3_600_000  # 1h, for `initial` and `max`
DEFAULT_MAX_RETRY_AMPLIFICATION = 10


def backoff_delays_ms(
    initial_ms: int, multiplier: Fraction, max_ms: int | None, retries: int
) -> tuple[int, ...]:
    """The delay before each retry, in whole milliseconds: `(100, 200, 250)`.

    Exact: the running product stays a fraction (`multiplier` is read from its decimal
    text), and each delay is rounded up on its own. Once a delay reaches `max_ms`, every
    later one is `max_ms` too (the multiplier is at least 1).
    """
    delays: list[int] = []
    numerator, denominator = initial_ms, 1
    while len(delays) < retries:
        delay = -(-numerator // denominator)
        if max_ms is not None and delay >= max_ms:
            return (*delays, *([max_ms] * (retries - len(delays))))
        delays.append(delay)
        numerator *= multiplier.numerator
        denominator *= multiplier.denominator
    return tuple(delays)


def worst_case_ms(timeout_ms: int, delays_ms: Sequence[int]) -> int:
    """`(r + 1) * t + d1 + ... + dr`: every attempt times out, each retry waits its delay."""
    return (len(delays_ms) + 1) * timeout_ms + sum(delays_ms)
