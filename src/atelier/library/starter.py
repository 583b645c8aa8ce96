"""The starter style library: the starter collection as a ready :class:`~atelier.library.store.StyleLibrary`.

When no library is named (no ``--library``, no ``$ATELIER_LIBRARY``) and the default
file ``~/.cache/atelier/library.sqlite`` does not exist, searches and ``--augment`` use this one,
so they work on first use. It is written into the cache folder from the shipped descriptors
(``assets/styles/descriptors.npy``, computed by ``tools/make_starter.py`` exactly as
``atelier library build`` would), which takes well under a second and no VGG pass; its file name
carries a hash of the collection and of where it is installed, so a moved or updated package
gets a fresh one. Should the shipped descriptors not fit this Atelier's descriptor settings,
they are computed instead (a few seconds).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from ..base.cache import cache_dir
from ..base.errors import AtelierError
from ..base.files import atomic_write
from ..io import starter
from ..io.images import load_image
from .descriptors import DescriptorConfig, backbone_id, describe
from .store import StyleLibrary, default_library_path, file_sha256

THRESHOLD = 6500.0  # augmentation threshold for this library: 69 % of its paintings have a neighbour within it
NOTE = ("using the starter library ({n} paintings shipped with Atelier); "
        "index your own artworks with `atelier library build DIR`")


def shipped_vectors(config: DescriptorConfig) -> np.ndarray | None:
    """The shipped descriptors (one row per painting), or None if they were made with other settings."""
    made = dict(starter.provenance()["descriptor"])
    if made.pop("backbone_id", None) != backbone_id(config) or \
            {k: made.get(k) for k in config.to_dict()} != config.to_dict():
        return None
    vectors = np.load(starter.directory() / made.get("file", "descriptors.npy"), allow_pickle=False)
    return vectors if vectors.shape == (len(starter.paintings()), config.dim) else None


def path() -> Path:
    """Where the starter library lives (in the cache folder; nothing is created)."""
    h = hashlib.sha256(str(starter.directory().resolve()).encode())
    h.update((starter.directory() / "paintings.json").read_bytes())
    return cache_dir(create=False) / f"starter-library-{h.hexdigest()[:16]}.sqlite"


def build(target: Path) -> Path:
    """Write the starter library to ``target`` atomically (temp file + rename)."""
    config = DescriptorConfig().validated()
    vectors = shipped_vectors(config)
    with atomic_write(target) as tmp:
        tmp.unlink()  # the library is created in place of the empty temporary file
        with StyleLibrary.open(tmp, config, create=True) as lib, lib.conn:
            for i, p in enumerate(starter.paintings()):
                img = load_image(p.path)
                vector = vectors[i] if vectors is not None else describe(img, config)
                lib.put(str(p.path.resolve()), file_sha256(p.path), p.path.stat().st_size, img.size,
                        {"artist": p.artist, "title": p.title, "movement": p.movement}, vector)
    return target


def ensure() -> Path:
    """The starter library's file, built on first use or when damaged (in the temp folder if the
    cache folder cannot be created)."""
    target = path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        target = Path(tempfile.gettempdir()) / target.name
    return target if usable(target) else build(target)


def usable(target: Path) -> bool:
    """True if ``target`` is a complete starter library (a damaged or partial file is rebuilt)."""
    if not target.is_file():
        return False
    try:
        with StyleLibrary.open(target) as lib:
            return len(lib) == len(starter.paintings())
    except AtelierError:
        return False


def default_or_starter() -> tuple[Path, bool]:
    """The library to use when none is named: ``(path, is_starter)``. The default library when
    ``$ATELIER_LIBRARY`` is set or the default file exists, else the starter library."""
    default = default_library_path()
    if os.environ.get("ATELIER_LIBRARY") or default.is_file():
        return default, False
    return ensure(), True


def note() -> str:
    """The line telling the user the starter library is in use."""
    return NOTE.format(n=len(starter.paintings()))


def is_starter(library: str | os.PathLike) -> bool:
    """True if ``library`` is the starter library's file."""
    return Path(library).resolve() == path().resolve()
