"""Checks of settings, all failing with one message shape: ``NAME must be REQUIREMENT, got VALUE``.

Every options class validates its fields with these, so a bad setting reads the same whether
it came from the command line, the Python API or the web page, e.g.::

    size must be an integer between 16 and 8192, got 0
    threshold must be a finite number >= 0, got nan
    query_weight must be in (0, 1], got 0
    color must be one of none, luminance, match, got 'sepia'

Numbers and integers name their kind ("a finite number", "an integer"), except that a number
with both bounds reads as an interval, which says it. :func:`check_range` checks only the
bounds, for values whose type is already guaranteed (typed command-line options).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Collection
from typing import Any, TypeVar

from .errors import UsageError

T = TypeVar("T")


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else str(x)


def _bounds(lo: float | None, hi: float | None, lo_open: bool = False, hi_open: bool = False,
            interval: bool = True) -> str:
    """``">= 0"``, ``"< 1"``, ``"in (0, 1]"`` (``interval``) or ``"between 1 and 64"``; ``""`` if unbounded."""
    if lo is not None and hi is not None:
        if interval:
            return f"in {'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
        return f"between {_fmt(lo)} and {_fmt(hi)}"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {_fmt(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {_fmt(hi)}"
    return ""


def _within(value: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    return ((lo is None or value > lo or (not lo_open and value == lo))
            and (hi is None or value < hi or (not hi_open and value == hi)))


def fail(name: str, requirement: str, value: Any) -> UsageError:
    """The error ``NAME must be REQUIREMENT, got VALUE`` (to raise), for checks the helpers below do not cover."""
    return UsageError(f"{name} must be {requirement}, got {value!r}")


def check_range(name: str, value: float, lo: float | None = None, hi: float | None = None, *,
                lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` if within the bounds (``None``: unbounded; ``*_open``: the bound itself is excluded)."""
    if not _within(value, lo, hi, lo_open, hi_open):
        raise fail(name, _bounds(lo, hi, lo_open, hi_open), value)
    return value


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None, *,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """``value`` if it is a finite real number (not a bool) within the bounds."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
    if number and _within(value, lo, hi, lo_open, hi_open):
        return value
    if lo is not None and hi is not None:
        raise fail(name, _bounds(lo, hi, lo_open, hi_open), value)
    raise fail(name, " ".join(filter(None, ("a finite number", _bounds(lo, hi, lo_open, hi_open)))), value)


def check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer (an integral float counts, a bool does not) in ``lo..hi``."""
    integral = not isinstance(value, bool) and (
        isinstance(value, numbers.Integral) or (isinstance(value, float) and value.is_integer()))
    if integral and _within(value, lo, hi, False, False):
        return int(value)
    raise fail(name, " ".join(filter(None, ("an integer", _bounds(lo, hi, interval=False)))), value)


def check_choice(name: str, value: T, choices: Collection[T]) -> T:
    """``value`` if it is one of ``choices``."""
    try:
        known = value in choices
    except TypeError:  # unhashable
        known = False
    if not known:
        raise fail(name, f"one of {', '.join(map(str, choices))}", value)
    return value
