"""Retrieval-augmented Gatys (:func:`atelier.library.augment.stylize_augmented`, default settings) as a method.

Which library it searches:

1. ``$ATELIER_LIBRARY``, if that file exists (any library built with ``atelier library build``);
2. otherwise ``~/.cache/atelier/shared-styles.sqlite``, built on first use and refreshed
   incrementally (once per process) from ``$ATELIER_DATA/styles``, else ``../shared/data/styles``
   relative to the working directory, with the folder's ``MANIFEST.csv`` for artist names.

With neither, the method is unavailable. The style image arrives as a picture, not a file,
so a style that is itself in the library is recognised by distance (``min_distance``) and
never used as its own neighbour.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from ...core.options import StyleOptions
from ...library.augment import AugmentOptions, stylize_augmented
from ...library.store import sync_folder
from . import MethodUnavailable

SHARED_LIBRARY = Path.home() / ".cache" / "atelier" / "shared-styles.sqlite"


@functools.lru_cache(maxsize=1)
def library_path() -> Path:
    """The library this method searches (see the module doc); raises ``MethodUnavailable``."""
    env = os.environ.get("ATELIER_LIBRARY")
    if env and Path(env).expanduser().is_file():
        return Path(env).expanduser()
    data = Path(os.environ.get("ATELIER_DATA", "../shared/data"))
    if not (data / "styles").is_dir():
        raise MethodUnavailable(f"no style library: set ATELIER_LIBRARY to one (`atelier library build`) "
                                f"or provide artworks in {data / 'styles'}")
    sync_folder(SHARED_LIBRARY, data / "styles", data / "MANIFEST.csv")
    return SHARED_LIBRARY


def runner(aug: AugmentOptions, description: str) -> Callable[[Image.Image, Image.Image, int, int], Image.Image]:
    """A method running :func:`stylize_augmented` with ``aug`` and the default Gatys options."""
    def run(content: Image.Image, style: Image.Image, size: int, seed: int) -> Image.Image:
        return stylize_augmented(content, style, library_path(), aug, StyleOptions(size=size, seed=seed)).convert("RGB")
    run.__doc__ = description
    return run


# Atelier's default, the paper's configuration with and without recolouring, and the paper's k series
CONFIGS: dict[str, AugmentOptions] = {
    "augmented": AugmentOptions(),
    "augmented-norecolor": AugmentOptions(recolor=False),
    "augmented-paper": AugmentOptions(augment_config="paper"),
    "augmented-paper-norecolor": AugmentOptions(augment_config="paper", recolor=False),
    **{f"augmented-paper-k{k}": AugmentOptions(augment_config="paper", neighbours=k) for k in (1, 2, 4)},
}

RUNNERS = {name: runner(aug, f"retrieval-augmented Gatys ({aug.augment_config} configuration, "
                             f"K={aug.resolved().neighbours}, {'recoloured' if aug.recolor else 'not recoloured'})")
           for name, aug in CONFIGS.items()}
