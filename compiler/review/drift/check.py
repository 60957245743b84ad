"""The drift check of one environment: its profile, out/ and the exports in; rows out.

`check` reads the resolved profile (invalid profiles are errors), each service's
out/<env>/<service>/service.yaml and its export (from a folder or from gcloud), and
returns every drifted value with the profile place that declares it, plus the services
that are declared but not deployed, or deployed under one of our names but not declared.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from compiler.cloudrun import DEFAULT_SERVICE_NAME
from compiler.diagnostics import CompileError, Diagnostic, Mark, collect
from compiler.files import read_limited
from compiler.model import Profile, Service
from compiler.pipeline.budgets import check_budgets
from compiler.pipeline.load import Document, load_bytes
from compiler.pipeline.merge import MergedProfile
from compiler.review.drift.compare import (
    ABSENT,
    SERVICE_FIELD,
    Row,
    differences,
    display,
    sorted_differences,
)
from compiler.review.drift.exports import Export, from_folder, from_gcloud, service_name_pattern
from compiler.review.drift.places import Places
from compiler.review.explain import find_service, load

DECLARED_FILE = "service.yaml"


@dataclass(frozen=True)
class Source:
    """Where the deployed side comes from: a folder of exports, or gcloud (folder None)."""

    folder: Path | None

    @property
    def label(self) -> str:
        """`exports/` or `gcloud`, for the report's title."""
        return str(self.folder) if self.folder is not None else "gcloud"


@dataclass(frozen=True)
class DriftReport:
    """The result of one drift check."""

    environment: str
    source: str
    services: tuple[str, ...]  # the Cloud Run names compared
    rows: tuple[Row, ...]
    warnings: tuple[str, ...] = ()  # what could not be looked at

    @property
    def drifted(self) -> bool:
        """Whether anything deployed differs from out/."""
        return bool(self.rows)


def read_declared(root: Path, environment: str, service: str) -> Document:
    """out/<env>/<service>/service.yaml, as the profile loader reads it."""
    relative = f"out/{environment}/{service}/{DECLARED_FILE}"
    try:
        return load_bytes(read_limited(root / relative, relative), relative, kind="output")
    except CompileError as exc:
        hint = "run `timeoutc build`, and commit out/"
        found = [Diagnostic(d.mark, d.message, d.hint or hint) for d in exc.diagnostics]
        raise CompileError(found) from None


def _selected(profile: Profile, names: Sequence[str]) -> list[Service]:
    if not names:
        return list(profile.services)
    return collect(lambda name: find_service(profile, name), dict.fromkeys(names))


def _our_names(merged: MergedProfile, environment: str) -> re.Pattern[str]:
    platform = merged.data.get("platform") or {}
    return service_name_pattern(platform.get("service_name") or DEFAULT_SERVICE_NAME, environment)


def _place(profile: Profile, merged: MergedProfile) -> tuple[str, str]:
    """The project and region --live asks gcloud about; an error when either is unset."""
    errors = [
        Diagnostic(
            merged.mark(("platform",)) if "platform" in merged.data else Mark(profile.path, 1, 1),
            f"profile '{profile.name}' sets no platform.{key}; --live needs it to find "
            "the deployed services",
            f"set platform.{key}, or export the services and pass --from DIR",
        )
        for key, value in (
            ("project", profile.platform.project),
            ("region", profile.platform.region),
        )
        if not value
    ]
    if errors:
        raise CompileError(errors)
    assert profile.platform.project is not None and profile.platform.region is not None
    return profile.platform.project, profile.platform.region


def service_rows(
    profile: Profile, merged: MergedProfile, service: Service, declared: Document, export: Export
) -> list[Row]:
    """The drift of one declared service against its export."""
    name = service.cloud_run_name
    if export.document is None:
        row = Row(
            environment=profile.name,
            service=service.name,
            cloud_run_name=name,
            field=SERVICE_FIELD,
            kind="not-deployed",
            declared=name,
            deployed=None,
            declared_at=service.marks["service"],
            deployed_at=None,
        )
        return [row]
    places = Places(merged, service)
    return [
        Row(
            profile.name,
            service.name,
            name,
            difference.field,
            difference.kind,
            display(difference.path, difference.declared),
            display(difference.path, difference.deployed),
            places.of(difference.path) if difference.declared is not ABSENT else None,
            difference.deployed_at,
        )
        for difference in sorted_differences(differences(declared, export.document))
    ]


def undeclared_row(environment: str, export: Export, ours: re.Pattern[str]) -> Row:
    """A service deployed under one of our names that no profile declares."""
    found = ours.fullmatch(export.name)
    service = found.groupdict().get("service") if found else None
    at = export.document.mark(()) if export.document is not None else Mark(export.source)
    return Row(
        environment=environment,
        service=service or export.name,
        cloud_run_name=export.name,
        field=SERVICE_FIELD,
        kind="not-declared",
        declared=None,
        deployed=export.name,
        declared_at=None,
        deployed_at=at,
    )


def check(root: Path, environment: str, names: Sequence[str], source: Source) -> DriftReport:
    """Compare the services of `environment` (or only `names`) with what is deployed."""
    profile, merged = load(root, environment)
    budget_errors = check_budgets(profile)
    if budget_errors:
        raise CompileError(budget_errors)
    services = _selected(profile, names)
    declared = collect(lambda s: read_declared(root, profile.name, s.name), services)
    ours = _our_names(merged, profile.name)
    look_for_others = ours if not names else None
    cloud_run_names = [s.cloud_run_name for s in services]
    if source.folder is not None:
        deployed = from_folder(source.folder, cloud_run_names, look_for_others)
    else:
        project, region = _place(profile, merged)
        deployed = from_gcloud(cloud_run_names, project, region, look_for_others)
    rows: list[Row] = []
    for service, document, export in zip(services, declared, deployed.declared, strict=True):
        rows += service_rows(profile, merged, service, document, export)
    rows += [undeclared_row(profile.name, export, ours) for export in deployed.others]
    return DriftReport(
        profile.name, source.label, tuple(cloud_run_names), tuple(rows), deployed.warnings
    )
