"""The golden cases: small config repositories, each with the out/ tree it must compile to.

A case is a folder with profiles/ and, optionally, its own schemas/ and templates/ (else the
shipped ones are used), plus out/, the expected outputs (written by `pytest --update-goldens`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent
REPO = GOLDEN.parent.parent


def case_names() -> list[str]:
    """Every case folder, sorted."""
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "profiles").is_dir())


def prepare(case: str, destination: Path) -> Path:
    """A config repository at `destination` holding the case's inputs (without out/)."""
    source = GOLDEN / case
    for folder in ("profiles", "schemas", "templates"):
        own = source / folder
        shutil.copytree(own if own.is_dir() else REPO / folder, destination / folder)
    return destination
