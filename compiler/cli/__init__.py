"""The command line: the click layer only. `main` is the `timeoutc` console script.

Each command family has its module (main: build/check/validate; review; authoring);
options, the runner that turns errors into exit codes, and the report formats are
shared by all of them. Nothing outside cli/ imports from here.
"""

from __future__ import annotations

import os
import signal
from types import FrameType

from compiler.stopping import STOP_SIGNALS


def main() -> None:
    """Run the `timeoutc` group. A stop signal while the command line is still loading
    ends it as one during a command does: one line, 128 + the signal, no traceback."""
    before = {signum: signal.signal(signum, _stopped_while_loading) for signum in STOP_SIGNALS}
    from compiler.cli.main import main as group

    for signum, handler in before.items():
        signal.signal(signum, handler)
    group()


def _stopped_while_loading(signum: int, frame: FrameType | None) -> None:
    os.write(2, f"timeoutc: interrupted by {signal.Signals(signum).name}\n".encode())
    os._exit(128 + signum)
