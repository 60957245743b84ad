"""budget.retry-amplification: attempts multiply along chains of `service:` links.

A caller that makes `r + 1` attempts of a callee that itself makes `r' + 1` attempts of
its own callee sends `(r + 1) * (r' + 1)` requests to the last one for each of its own
(Google SRE book, "Handling Overload"). For every link of every service, the chain that
follows it with the largest product of attempts must stay within
`environment.max_retry_amplification`. A cycle of links is an error of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from compiler.diagnostics import Diagnostic, Mark, plural, possessive
from compiler.model import Dependency, Profile, Service, lazy
from compiler.pipeline.terms import RuleResult

RULE = "budget.retry-amplification"


@dataclass(frozen=True)
class Hop:
    """One `service:` link: the caller, and its dependency that calls the callee."""

    caller: str
    dependency: Dependency

    @property
    def callee(self) -> str:
        """The service this link calls."""
        return self.dependency.service or ""

    @property
    def attempts(self) -> int:
        """How many requests the caller makes for one of its own."""
        return self.dependency.attempts

    @property
    def mark(self) -> Mark | None:
        """Where the attempts come from: `retries`, or the link itself when it has none."""
        marks = self.dependency.marks
        return marks.get("retries") or marks.get("service")

    @lazy  # a hop is in the chain of every service upstream of it
    def term(self) -> str:
        """`gateway.orders -> orders-api 3 attempts (profiles/base.yaml:14:18)`."""
        return (
            f"{self.caller}.{self.dependency.name} -> {self.callee} "
            f"{plural(self.attempts, 'attempt')} ({self.mark})"
        )

    def __str__(self) -> str:
        return f"{self.callee} ({plural(self.attempts, 'attempt')}, {self.mark})"


@dataclass(frozen=True)
class Chain:
    """Links followed one after another, from the service that starts them."""

    hops: tuple[Hop, ...]
    product: int  # the requests the last callee may get for one to the first service

    @classmethod
    def of(cls, hops: tuple[Hop, ...]) -> Chain:
        """The chain of `hops`, its product multiplied out."""
        return cls(hops, math.prod(hop.attempts for hop in hops))

    def terms(self) -> tuple[str, ...]:
        """Each hop as a term: `gateway.orders -> orders-api 3 attempts (...)`."""
        return tuple(hop.term for hop in self.hops)

    def __str__(self) -> str:
        """`gateway -> orders-api (3 attempts, ...) -> payments (4 attempts, ...)`."""
        return " -> ".join([self.hops[0].caller, *(str(hop) for hop in self.hops)])


@dataclass(frozen=True)
class _Walk:
    """One depth-first walk of a profile's links: each service's worst tail, the cycles."""

    tails: dict[str, tuple[Hop, ...]]
    products: dict[str, int]
    cycles: tuple[tuple[Hop, ...], ...]


def links(profile: Profile, service: Service) -> list[Hop]:
    """The `service:` links of `service` to other services of `profile`, in order."""
    known = profile.services_by_name
    return [
        Hop(service.name, d)
        for d in service.dependencies
        if d.service in known and d.service != service.name
    ]


def _walk(profile: Profile) -> _Walk:
    """Worst tails and cycles in one iterative walk (a chain may be thousands of links)."""
    out = {s.name: links(profile, s) for s in profile.services}
    order = {s.name: i for i, s in enumerate(profile.services)}
    tails: dict[str, tuple[Hop, ...]] = {}
    products: dict[str, int] = {}
    cycles: dict[tuple[str, ...], tuple[Hop, ...]] = {}
    for root in profile.services:
        if root.name in tails:
            continue
        stack: list[tuple[str, Iterator[Hop], Hop | None]] = [
            (root.name, iter(out[root.name]), None)
        ]
        on_stack = {root.name: 0}
        while stack:
            name, pending, _ = stack[-1]
            hop = next(pending, None)
            if hop is not None:
                if hop.callee in on_stack:  # a back link closes a cycle
                    entered = [entry for _, _, entry in stack[on_stack[hop.callee] + 1 :]]
                    cycle = _rotated([*(h for h in entered if h), hop], order)
                    cycles.setdefault(tuple(h.caller for h in cycle), cycle)
                elif hop.callee not in tails:
                    on_stack[hop.callee] = len(stack)
                    stack.append((hop.callee, iter(out[hop.callee]), hop))
                continue
            stack.pop()
            del on_stack[name]
            best: tuple[Hop, ...] = ()
            best_product = 0
            for link in out[name]:
                if link.callee not in tails:  # on the stack: the cycle is reported
                    continue
                product = link.attempts * products[link.callee]
                if product > best_product:
                    best, best_product = (link, *tails[link.callee]), product
            tails[name], products[name] = best, max(best_product, 1)
    return _Walk(tails, products, tuple(cycles.values()))


def _rotated(cycle: list[Hop], order: dict[str, int]) -> tuple[Hop, ...]:
    """The cycle starting at its first-declared service, so each is reported once."""
    start = min(range(len(cycle)), key=lambda i: order[cycle[i].caller])
    return tuple(cycle[start:] + cycle[:start])


_last: tuple[Profile, _Walk] | None = None


def _walk_of(profile: Profile) -> _Walk:
    """`_walk(profile)`, once for all the services of one profile checked in a row."""
    global _last
    if _last is None or _last[0] is not profile:
        _last = (profile, _walk(profile))
    return _last[1]


def chains(profile: Profile, service: Service) -> list[Chain]:
    """For each link of `service`: the link, then the callee's chain of most attempts."""
    walk = _walk_of(profile)
    return [
        Chain((hop, *walk.tails[hop.callee]), hop.attempts * walk.products[hop.callee])
        for hop in links(profile, service)
    ]


def _fewer_retries(chain: Chain, limit: int) -> list[str]:
    """`lower orders.retries to 1 (mark)` for each hop that alone can bring the chain in."""
    options = []
    for hop in chain.hops:
        others = chain.product // hop.attempts
        attempts = limit // others
        if hop.dependency.retries and attempts >= 1:
            where = f" ({hop.mark})" if hop.mark else ""
            name = f"{possessive(hop.caller)} {hop.dependency.name}.retries"
            options.append(f"lower {name} to {attempts - 1}{where}")
    return options


def retry_amplification(
    profile: Profile, service: Service, passing: bool = True
) -> Iterator[RuleResult]:
    """Along every chain of links from `service`, attempts multiply to at most the limit."""
    if _walk_of(profile).cycles:  # no chain has a product then: `link_cycles` reports them
        return
    env = profile.environment
    limit = env.max_retry_amplification_value
    for chain in chains(profile, service):
        first = chain.hops[0].dependency
        subject = f"chain via {first.name}"
        mark = first.marks.get("service", service.marks["service"])
        used = chain.product
        if used <= limit:
            if passing:
                yield RuleResult(
                    RULE, subject, "ok", used, limit, chain.terms, mark, unit="attempts"
                )
            continue
        where = env.max_retry_amplification.mark
        options = [
            *_fewer_retries(chain, limit),
            f"raise max_retry_amplification to {used} ({where})"
            if where
            else f"set environment.max_retry_amplification: {used} in {profile.path}",
        ]
        yield RuleResult(
            RULE,
            subject,
            "broken",
            used,
            limit,
            chain.terms(),
            mark,
            f"{chain} = {used} > {limit}",
            "retry at one layer only: " + ", or ".join(options),
            unit="attempts",
        )


def link_cycles(profile: Profile) -> list[Diagnostic]:
    """Each cycle of `service:` links, once: a request could go round it without end."""
    found = []
    for cycle in _walk_of(profile).cycles:
        mark = cycle[0].dependency.marks["service"]
        found.append(
            Diagnostic(
                mark,
                f"{RULE}: profile '{profile.name}': service: links form a cycle: {Chain.of(cycle)}",
                "a request could go round it without end, its attempts multiplying each time; "
                "remove one of these links",
                rule=RULE,
            )
        )
    return found
