"""Synthetic config repositories for the benchmark: S services x E environments.

The profiles use the real format and keep every budget rule with room to spare:
an abstract `base` holds the services (five dependencies with two timeouts each,
a startup chain, two request paths, a callee), `shared` extends it with the platform,
and the concrete environments extend `shared` (or each other, `qa` -> `staging`),
each overriding a few values. The plain repository (`plain=True`) is what most users
keep: the same five dependencies with two timeouts each and a startup chain, but no
`service:` links, request paths or retries; one abstract base holding the services and
the platform, every environment extending it directly with its own factors, caps and
platform values, no per-service overrides. Schemas and templates are the repository's own.

    python -m bench.generate DIR --services 1000 --environments 4 [--peers | --plain]
"""

from __future__ import annotations

import argparse
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
WORDS = ("api", "billing", "search", "orders", "ledger", "notify", "media", "profile")
SCHEMA_HEADER = "# yaml-language-server: $schema=../schemas/profile.schema.json\n"
# The benchmark edits this value of production.yaml (service 0) for the incremental build:
# 3500ms, 3501ms, ... 3999ms, then 3500ms again; every edit is one a build has not seen.
FIRST_QUERY_MS = 3500
QUERY_VALUES = 500
QUERY = re.compile(r"\{query: ([0-9]+)ms\}")


@dataclass(frozen=True)
class EnvironmentSpec:
    """One concrete environment: its parent, scaling, caps and platform."""

    name: str
    parent: str
    multiplier: str
    margin: str | None = None
    max_timeout: str | None = None
    max_total_timeout: str | None = None
    min_instances: int | None = None
    max_instances: int | None = None


NAMED = (
    EnvironmentSpec("production", "shared", "1", "1.2", None, "60s", 2, 100),
    EnvironmentSpec("staging", "shared", "0.7", "1.1", "10s", "18s", 1),
    EnvironmentSpec("development", "shared", "2", None, None, None, 0),
    EnvironmentSpec("qa", "staging", "0.8", "1.1", None, None, 0, 5),
)
EXTRA_MULTIPLIERS = ("1.1", "0.9", "1.3")


def service_name(index: int) -> str:
    """`billing-0001`: distinct, valid and short enough for any environment name."""
    return f"{WORDS[index % len(WORDS)]}-{index:04d}"


def environment_specs(count: int) -> list[EnvironmentSpec]:
    """The first `count` environments: the four named ones, then `env-05`, `env-06`..."""
    specs = list(NAMED[:count])
    for index in range(len(specs), count):
        multiplier = EXTRA_MULTIPLIERS[index % len(EXTRA_MULTIPLIERS)]
        specs.append(EnvironmentSpec(f"env-{index + 1:02d}", "shared", multiplier, "1.05"))
    return specs


RETRIED_DATABASE = "        retries: 1\n        backoff: 100ms\n"
RETRIED_UPSTREAM = "        retries: 1\n        backoff: 200ms\n"
REQUEST_PATHS = (
    "    request_paths:\n"
    "      read: [cache.command, database.query]\n"
    "      write: [queue.publish, storage.read]\n"
)


def base_service(index: int, services: int, *, plain: bool = False) -> str:
    """One service of the base profile, as written by hand; `plain`: no link, no retries,
    no request paths."""
    name = service_name(index)
    query_ms = 3000 + (index % 7) * 100
    request_timeout = (120, 180, 300)[index % 3]
    # Pairs, not a ring: a ring of links is a cycle, and a long chain multiplies its retries.
    paired = index % 2 == 0 and index + 1 < services and not plain
    callee = f"        service: {service_name(index + 1)}\n" if paired else ""
    return (
        f"  {name}:\n"
        f"    image: us-docker.pkg.dev/bench/{name}/{name}:1.{index % 10}.{index % 7}\n"
        f"    port: {8080 + index % 3}\n"
        f"    request_timeout: {request_timeout}s\n"
        "    health: {startup: /healthz, liveness: /livez}\n"
        "    dependencies:\n"
        "      database:\n"
        f"        timeouts: {{connect: 2s, query: {query_ms}ms}}\n"
        f"{'' if plain else RETRIED_DATABASE}"
        "      cache:\n"
        "        timeouts: {connect: 500ms, command: 250ms}\n"
        "      queue:\n"
        "        timeouts: {connect: 1s, publish: 1.5s}\n"
        "      storage:\n"
        f"        timeouts: {{connect: 1s, read: {3 + index % 2}s}}\n"
        "      upstream:\n"
        f"{callee}"
        "        timeouts: {request: 20s, stream: 25s}\n"
        f"{'' if plain else RETRIED_UPSTREAM}"
        "    startup: [database.connect, cache.connect, queue.connect, storage.connect]\n"
        f"{'' if plain else REQUEST_PATHS}"
    )


PLATFORM = (
    "platform:\n"
    "  region: us-central1\n"
    '  service_name: "{service}-{environment}"\n'
    "  cold_start_buffer: 2s\n"
)


def base_profile(services: int, *, plain: bool = False) -> str:
    """The abstract base: every service, with its unscaled timeouts (and, when `plain`,
    the platform settings, which otherwise live in `shared`)."""
    body = "\n".join(base_service(index, services, plain=plain) for index in range(services))
    platform = f"{PLATFORM}\n" if plain else ""
    return (
        f"{SCHEMA_HEADER}#\n# Every service of the synthetic platform, unscaled.\n"
        f"abstract: true\n\n{platform}services:\n{body}"
    )


def shared_profile() -> str:
    """The abstract middle of every chain: platform settings."""
    return (
        f"{SCHEMA_HEADER}#\n# Platform settings every environment shares.\n"
        f"abstract: true\nextends: base\n\n{PLATFORM}"
    )


def _overrides(spec: EnvironmentSpec, services: int) -> list[str]:
    """A few per-environment values, so that environments differ beyond their factors."""
    lines: list[str] = []
    for index in range(services):
        name = service_name(index)
        if spec.name == "production" and index % 10 == 0:
            query = f"query: {FIRST_QUERY_MS}ms" if index == 0 else "query: 3400ms"
            lines += [
                f"  {name}:",
                f"    image: us-docker.pkg.dev/bench/{name}/{name}:2.0.0",
                "    dependencies:",
                "      database:",
                f"        timeouts: {{{query}}}",
            ]
        elif spec.name == "staging" and index % 10 == 5:
            lines += [
                f"  {name}:",
                "    dependencies:",
                "      database:",
                "        timeouts: {connect: {fixed: 1s}}   # pinned: not scaled",
            ]
        elif spec.name == "qa" and index % 20 == 0:
            lines += [f"  {name}:", "    dependencies:", "      cache:"]
            lines.append("        timeouts: {command: 300ms}")
    return lines


def environment_profile(spec: EnvironmentSpec, services: int, *, plain: bool = False) -> str:
    """A concrete environment extending its parent (`base` and no overrides when `plain`)."""
    if plain:
        spec = replace(spec, parent="base")
    lines = [f"# The {spec.name} environment.", f"extends: {spec.parent}", "", "environment:"]
    lines.append(f"  timeout_multiplier: {spec.multiplier}")
    if spec.margin:
        lines.append(f"  safety_margin: {spec.margin}")
    if spec.max_timeout:
        lines.append(f"  max_timeout: {spec.max_timeout}")
    if spec.max_total_timeout:
        lines.append(f"  max_total_timeout: {spec.max_total_timeout}")
    lines += ["", "platform:", f"  project: bench-{spec.name}"]
    if spec.min_instances is not None:
        lines.append(f"  min_instances: {spec.min_instances}")
    if spec.max_instances is not None:
        lines.append(f"  max_instances: {spec.max_instances}")
    overrides = [] if plain else _overrides(spec, services)
    if overrides:
        lines += ["", "services:", *overrides]
    return SCHEMA_HEADER + "\n".join(lines) + "\n"


PEERS_TEMPLATES = ("service.yaml.j2",)  # the peers' job: one Cloud Run file per service
PLAIN_TEMPLATES = PEERS_TEMPLATES  # the plain repository renders the same file


def generate(
    root: Path,
    services: int,
    environments: int,
    templates: Sequence[str] | None = None,
    *,
    plain: bool = False,
) -> Path:
    """Write a config repository at `root` (profiles, schemas, templates; no out/).

    `templates` names the shipped templates to copy (default: all of them); `plain`
    writes the plain repository's profiles (see the module's docstring).
    """
    if services < 1 or environments < 1:
        raise ValueError("services and environments must be at least 1")
    profiles = root / "profiles"
    if root.exists():
        shutil.rmtree(root)
    profiles.mkdir(parents=True)
    shutil.copytree(PROJECT / "schemas", root / "schemas")
    keep = (
        shutil.ignore_patterns(
            *(p.name for p in (PROJECT / "templates").iterdir() if p.name not in templates)
        )
        if templates is not None
        else None
    )
    shutil.copytree(PROJECT / "templates", root / "templates", ignore=keep)
    (profiles / "base.yaml").write_text(base_profile(services, plain=plain), encoding="utf-8")
    if not plain:
        (profiles / "shared.yaml").write_text(shared_profile(), encoding="utf-8")
    for spec in environment_specs(environments):
        text = environment_profile(spec, services, plain=plain)
        (profiles / f"{spec.name}.yaml").write_text(text, encoding="utf-8")
    return root


def toggle(root: Path) -> None:
    """Change one value of one service in production.yaml: a new value on every call."""
    path = root / "profiles" / "production.yaml"
    text = path.read_text(encoding="utf-8")
    match = QUERY.search(text)
    if match is None:
        raise ValueError(f"{path} has no '{{query: ...ms}}' to change")
    step = (int(match[1]) - FIRST_QUERY_MS + 1) % QUERY_VALUES
    value = f"{{query: {FIRST_QUERY_MS + step}ms}}"
    path.write_text(text[: match.start()] + value + text[match.end() :], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """`python -m bench.generate DIR --services S --environments E`."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--environments", type=int, default=4)
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        "--peers", action="store_true", help="the peers' job: templates/service.yaml.j2 only"
    )
    kind.add_argument(
        "--plain",
        action="store_true",
        help="the plain repository: no links, request paths or retries; service.yaml.j2 only",
    )
    args = parser.parse_args(argv)
    templates = PEERS_TEMPLATES if args.peers or args.plain else None
    generate(args.root, args.services, args.environments, templates, plain=args.plain)


if __name__ == "__main__":
    main()
