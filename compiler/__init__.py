"""timeoutc: a configuration compiler for service timeouts."""

__version__ = "0.1.0"
