"""Errors that gtctl reports as one line on stderr (never a traceback)."""

from __future__ import annotations


class GtctlError(Exception):
    """A problem the user can fix; its message is printed as one line and gtctl exits non-zero."""

    exit_code = 1
