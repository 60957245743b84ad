"""Render every service's outputs and verify each against the model before it is kept."""

from __future__ import annotations

from pathlib import Path

from compiler.model import Profile
from compiler.pipeline.render import load_templates, render_service
from compiler.pipeline.verify import verify_output


def render_outputs(root: Path, profiles: tuple[Profile, ...]) -> dict[str, bytes]:
    """Every output of every service, verified against the model, as bytes."""
    templates = load_templates(root)
    outputs: dict[str, bytes] = {}
    for profile in profiles:
        for service in profile.services:
            for path, text in render_service(templates, profile, service):
                verify_output(path, text, profile, service)
                outputs[path] = text.encode("utf-8")
    return outputs
