"""The starter collection: public-domain paintings shipped with Atelier, usable by name.

The works live in ``atelier/assets/styles/`` as ``<slug>.jpg`` (long side <= 768 px), with
``paintings.json`` (title, artist, year, movement, source and the public-domain reasoning
of each, from ``../shared/data/MANIFEST.csv``) and ``descriptors.npy`` (their style-library
descriptors); ``tools/make_starter.py`` regenerates all three.

Anywhere a style image is accepted, a slug (``starry-night``) names one of them:
:func:`resolve` keeps an existing path as it is and turns a known slug into its file; a name
that is neither gets a one-line error with the closest slug (``did you mean ...?``).
"""

from __future__ import annotations

import difflib
import functools
import importlib.resources
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base.errors import UsageError


@dataclass(frozen=True)
class Painting:
    """One work of the starter collection."""

    slug: str
    title: str
    artist: str
    year: str | None
    movement: str
    path: Path
    public_domain: str
    source: dict[str, Any]

    @property
    def credit(self) -> str:
        """``Artist, Title (year)``."""
        return f"{self.artist}, {self.title}" + (f" ({self.year})" if self.year else "")


def directory() -> Path:
    """The folder holding the collection."""
    return Path(str(importlib.resources.files("atelier").joinpath("assets", "styles")))


@functools.lru_cache(maxsize=1)
def provenance() -> dict[str, Any]:
    """The parsed ``paintings.json``."""
    return json.loads((directory() / "paintings.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def paintings() -> tuple[Painting, ...]:
    """Every painting, in the order of ``paintings.json`` (and of ``descriptors.npy``)."""
    return tuple(Painting(p["slug"], p["title"], p["artist"], p.get("year"), p.get("movement", ""),
                          directory() / p["file"], p["public_domain"], p["source"])
                 for p in provenance()["paintings"])


def slugs() -> list[str]:
    return [p.slug for p in paintings()]


def total_bytes() -> int:
    """Bytes the collection takes on disk (images, provenance, descriptors)."""
    return sum(f.stat().st_size for f in directory().iterdir() if f.is_file())


def suggest(name: str) -> str | None:
    """The slug closest to ``name`` (difflib), or None."""
    close = difflib.get_close_matches(name.lower(), slugs(), n=1, cutoff=0.6)
    return close[0] if close else None


def get(slug: str) -> Painting:
    """The painting named ``slug``; ``UsageError`` (with the closest name) if there is none."""
    for p in paintings():
        if p.slug == slug:
            return p
    hint = suggest(slug)
    raise UsageError(f"unknown style {slug!r}; " + (f"did you mean {hint!r}?" if hint
                     else "give an image file or a name from `atelier styles`"))


def looks_like_name(ref: str) -> bool:
    """True for a bare word such as ``starry-night`` (no folder, no file extension)."""
    return bool(ref) and not any(c in ref for c in ("/", os.sep, "."))


def resolve(ref: Any) -> Any:
    """A style reference as something :func:`atelier.io.images.load_image` reads.

    An existing path stays as it is, a starter slug becomes the path of its file, a bare name
    that is neither raises ``UsageError`` (``unknown style ...; did you mean ...?``). Anything
    else (a missing ``x.jpg``, a PIL image, an array) is returned unchanged.
    """
    if not isinstance(ref, str) or ref == "-" or os.path.exists(ref):
        return ref
    if looks_like_name(ref):
        return str(get(ref).path)
    return ref
