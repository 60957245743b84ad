"""The signals that stop a command: SIGINT (Ctrl-C), SIGTERM and SIGHUP. A command ends on
one as a shell reports it, 128 + its number, after putting back what it changed."""

from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
