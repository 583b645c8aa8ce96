"""Where and in what precision tensors run: the device choice and the bf16 autocast context."""

from __future__ import annotations

import contextlib
import functools
from contextlib import AbstractContextManager

import torch

from ..base.errors import UsageError


def pick_device(name: str) -> torch.device:
    """``auto`` (CUDA when available, else CPU), ``cpu`` or ``cuda``; raises ``UsageError`` for a missing GPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UsageError("device cuda requested but no CUDA GPU is available")
    return torch.device(name)


@functools.cache
def fast_bf16(device_type: str) -> bool:
    """Whether ``device_type`` (``cpu`` or ``cuda``) runs bf16 convolutions natively.

    CUDA: ``torch.cuda.is_bf16_supported()``. CPU: oneDNN's own test (AVX-512 or AMX); on an
    AVX2-only CPU oneDNN falls back to a reference bf16 path about 200x slower than fp32.
    """
    if device_type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # private oneDNN query missing in this torch build
        return torch.backends.cpu.get_cpu_capability().startswith("AVX512")


def uses_bf16(device: torch.device, precision: str) -> bool:
    """``precision`` resolved on ``device``: ``bf16`` always, ``fp32`` never, ``auto`` where bf16 is fast."""
    if precision == "auto":
        return fast_bf16(device.type)
    return precision == "bf16"


def resolve_precision(device: torch.device, precision: str) -> str:
    """``bf16`` or ``fp32``: what ``precision`` (auto|bf16|fp32) means on ``device``."""
    return "bf16" if uses_bf16(device, precision) else "fp32"


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast context where :func:`uses_bf16`, else a no-op (fp32)."""
    if not uses_bf16(device, precision):
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
