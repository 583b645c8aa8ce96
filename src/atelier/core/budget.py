"""Memory budgets: parsing ``--max-memory``, the default budget and the linear memory models.

A stylization's peak resident memory is modelled as ``fixed + per_pixel * pixels`` for the
pixels one network pass sees at once (the whole image untiled, one tile plus its margin
when tiled), plus the bytes of the image-sized buffers the method keeps for the whole image.
The constants are calibrated by ``benchmarks/bench_scale.py --calibrate`` (peak RSS of
subprocesses at several sizes, least-squares line) and stated in docs/scale.md.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from ..base.errors import UsageError

GiB = 1 << 30
UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
DEFAULT_CAP = 6 * GiB  # the default budget is min(DEFAULT_CAP, RAM / 3)


def parse_memory(text: str | int) -> int:
    """Bytes in ``'6G'``, ``'512M'``, ``'1.5g'``, ``'800k'`` or a plain byte count (binary units)."""
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgtKMGT]?)(?:i?[bB])?\s*", str(text))
        if not m:
            raise UsageError(f"max_memory must look like 6G, 512M or 800k, got {text!r}")
        value = int(float(m.group(1)) * UNITS[m.group(2).lower()])
    if value <= 0:
        raise UsageError(f"max_memory must be positive, got {text!r}")
    return value


def machine_memory() -> int:
    """Physical RAM in bytes (cgroup limit if lower)."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            raw = fh.read().strip()
        if raw.isdigit():
            total = min(total, int(raw))
    except OSError:
        pass
    return total


def default_budget() -> int:
    """min(6 GiB, a third of the machine's RAM)."""
    return min(DEFAULT_CAP, machine_memory() // 3)


def budget(max_memory: str | int | None) -> int:
    """The budget in bytes for a ``max_memory`` setting (None: :func:`default_budget`)."""
    return default_budget() if max_memory is None else parse_memory(max_memory)


def describe(n: float) -> str:
    """Bytes as a short human string (``'5.8 GiB'``, ``'300 MiB'``)."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


@dataclass(frozen=True)
class MemoryModel:
    """Peak RSS ``fixed + per_pixel * pass_pixels + image_bytes * image_pixels`` (bytes)."""

    fixed: float        # the interpreter, torch, weights
    per_pixel: float    # activations of one pass, per pixel the network sees at once
    image_bytes: float  # image-sized buffers kept for the whole image, per output pixel

    def peak(self, pass_pixels: float, image_pixels: float) -> float:
        return self.fixed + self.per_pixel * pass_pixels + self.image_bytes * image_pixels

    def largest_pass(self, limit: int, image_pixels: float) -> float:
        """Most pixels one pass may see within ``limit`` bytes (<= 0 when even the buffers do not fit)."""
        return (limit - self.fixed - self.image_bytes * image_pixels) / self.per_pixel
