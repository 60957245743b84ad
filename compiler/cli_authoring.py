"""Commands for authors: set, init, schema."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
