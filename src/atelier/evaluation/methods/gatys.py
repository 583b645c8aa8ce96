"""Gatys et al. optimization (:func:`atelier.stylize` with default settings) as a method."""

from __future__ import annotations

from PIL import Image

from ...core.options import StyleOptions
from ...core.pipeline import stylize_gatys
from ...library.methods import GATYS


def gatys(content: Image.Image, style: Image.Image, size: int, seed: int) -> Image.Image:
    """Gatys et al. optimization, default preset, coarse-to-fine L-BFGS."""
    return stylize_gatys(content, style, StyleOptions(size=size, seed=seed)).convert("RGB")


RUNNERS = {GATYS: gatys}
