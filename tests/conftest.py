"""Shared fixtures: small images, so the suite stays fast on 2 CPU cores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from atelier.io import samples
from atelier.io.images import resize_long_side

torch.set_num_threads(2)


@pytest.fixture(scope="session")
def content_img() -> Image.Image:
    return resize_long_side(samples.content("astronaut"), 96)


@pytest.fixture(scope="session")
def style_img() -> Image.Image:
    return samples.style("swirl", size=128)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
