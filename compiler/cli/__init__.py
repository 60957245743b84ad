"""The command line: the click layer only. `main` is the `timeoutc` group.

Each command family has its module (main: build/check/validate; review; authoring);
options, the runner that turns errors into exit codes, and the report formats are
shared by all of them. Nothing outside cli/ imports from here.
"""

from compiler.cli.main import main

__all__ = ["main"]
