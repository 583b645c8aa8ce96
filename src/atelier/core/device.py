"""Where and in what precision tensors run: the device choice and the bf16 autocast context."""

from __future__ import annotations

import contextlib
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


def autocast(device: torch.device, precision: str) -> AbstractContextManager:
    """bf16 autocast context for ``precision`` in auto|bf16, a no-op for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)
