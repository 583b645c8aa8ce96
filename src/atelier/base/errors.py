"""Errors Atelier reports to users as one clear line.

``UsageError`` means the request itself is wrong (bad file, bad setting): exit code 2.
``AtelierError`` means something failed while doing a valid request: exit code 1.
"""

from __future__ import annotations


class AtelierError(Exception):
    """A failure while carrying out a valid request (exit code 1)."""

    exit_code = 1


class UsageError(AtelierError):
    """The request is invalid: a missing or unreadable input, an out-of-range setting (exit code 2)."""

    exit_code = 2
