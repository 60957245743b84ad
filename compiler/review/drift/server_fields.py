"""What Cloud Run writes into a deployed service by itself: never drift.

`timeoutc drift` compares every field that out/ declares. Two kinds of field are left out:

- SERVER_MANAGED: fields the server sets or rewrites on every deploy (status, timestamps,
  the numeric namespace, client annotations, revision names). They differ between two
  deploys of the same file, so they are never drift, declared or not.
- DEFAULTS: values that mean the same as leaving the field out. When out/ declares one of
  them and the export lacks the field, Cloud Run runs the service as declared.

Fields that out/ does not declare are not compared at all (resources, serviceAccountName,
containerConcurrency, traffic, a default probe, a container's generated name), except
container env vars: `gcloud run services replace` with out/ would remove an extra one.

Patterns are field paths as `drift` prints them (`spec.template.spec.timeoutSeconds`,
`metadata.annotations[run.googleapis.com/urls]`); `*` matches any run of characters, and
a pattern matches a field and everything below it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


def _always(deployed: Any) -> bool:
    return True


def _numeric(deployed: Any) -> bool:
    return isinstance(deployed, int) or (isinstance(deployed, str) and deployed.isdigit())


@dataclass(frozen=True)
class Managed:
    """A field the server owns, and why; `when` tests the deployed value."""

    pattern: str
    why: str
    when: Callable[[Any], bool] = _always


@dataclass(frozen=True)
class Default:
    """A value that Cloud Run uses when the field is absent, and where that is documented."""

    pattern: str
    value: str
    why: str


def _both_levels(kind: str, key: str) -> tuple[str, str]:
    """The service's own metadata and its revision template's: gcloud writes both."""
    return f"metadata.{kind}[{key}]", f"spec.template.metadata.{kind}[{key}]"


def _annotations(key: str, why: str) -> list[Managed]:
    return [Managed(pattern, why) for pattern in _both_levels("annotations", key)]


SERVER_MANAGED: tuple[Managed, ...] = (
    Managed("status", "the server's report of the rollout: conditions, URL, revisions"),
    Managed("metadata.creationTimestamp", "set once, when the service was first created"),
    Managed("metadata.generation", "counts the server's updates of the spec"),
    Managed("metadata.resourceVersion", "an opaque version for optimistic concurrency"),
    Managed("metadata.selfLink", "the API's URL of the resource"),
    Managed("metadata.uid", "the server's unique id of the resource"),
    Managed(
        "metadata.namespace",
        "the export names the project by number; out/ names it by ID",
        _numeric,
    ),
    Managed(
        "metadata.labels[cloud.googleapis.com/location]",
        "the region the service runs in, added by the server; gcloud takes it from --region",
    ),
    *_annotations("run.googleapis.com/client-name", "the tool of the last deploy (gcloud)"),
    *_annotations("run.googleapis.com/client-version", "that tool's version"),
    *_annotations("run.googleapis.com/operation-id", "the id of the last long-running operation"),
    *_annotations("run.googleapis.com/urls", "the URLs the server assigned"),
    *_annotations("run.googleapis.com/ingress-status", "the ingress setting as applied"),
    *_annotations("run.googleapis.com/launch-stage", "set by the server for the features in use"),
    *_annotations("run.googleapis.com/build-*", "source deploys: the build that made the image"),
    *_annotations("serving.knative.dev/creator", "the account that created the service"),
    *_annotations("serving.knative.dev/lastModifier", "the account of the last deploy"),
    *_annotations("client.knative.dev/user-image", "the image as the deploying client named it"),
    Managed("spec.template.metadata.name", "the revision name, generated per deploy"),
    Managed(
        "spec.template.metadata.labels[client.knative.dev/nonce]",
        "random per deploy, so that each deploy makes a new revision",
    ),
    Managed(
        "spec.template.metadata.labels[run.googleapis.com/startupProbeType]",
        "the server's record of whether the startup probe is its default or a custom one",
    ),
    Managed(
        "spec.template.metadata.labels[run.googleapis.com/startupProbeChecksum]",
        "the server's checksum of the startup probe",
    ),
)

_TEMPLATE = "spec.template.metadata.annotations"
DEFAULTS: tuple[Default, ...] = (
    Default(
        "spec.template.spec.containers[*].*Probe.initialDelaySeconds",
        "0",
        "the API leaves zero values out of its answers",
    ),
    Default("spec.template.spec.timeoutSeconds", "300", "Cloud Run's default request timeout"),
    Default("spec.template.spec.containerConcurrency", "80", "Cloud Run's default concurrency"),
    Default(f"{_TEMPLATE}[autoscaling.knative.dev/minScale]", "0", "scale to zero by default"),
    Default(
        f"{_TEMPLATE}[run.googleapis.com/cpu-throttling]",
        "true",
        "CPU is allocated only during requests by default",
    ),
    Default(f"{_TEMPLATE}[run.googleapis.com/startup-cpu-boost]", "false", "off unless requested"),
    Default(f"{_TEMPLATE}[run.googleapis.com/sessionAffinity]", "false", "off unless requested"),
    Default("metadata.annotations[run.googleapis.com/ingress]", "all", "the default ingress"),
)


@cache
def _regex(pattern: str, below: bool) -> re.Pattern[str]:
    body = ".*".join(re.escape(part) for part in pattern.split("*"))
    return re.compile(rf"{body}(?:[.\[].*)?" if below else body)


def matches(pattern: str, field: str) -> bool:
    """Whether `field` is the pattern's field or lies below it."""
    return _regex(pattern, True).fullmatch(field) is not None


def managed_reason(field: str, deployed: Any) -> str:
    """Why the server owns `field` (whose deployed value is `deployed`), or ''."""
    for entry in SERVER_MANAGED:
        if matches(entry.pattern, field) and entry.when(deployed):
            return entry.why
    return ""


def default_value(field: str) -> str | None:
    """The value Cloud Run gives `field` when it is absent, if this module knows it."""
    for entry in DEFAULTS:
        if _regex(entry.pattern, False).fullmatch(field):
            return entry.value
    return None
