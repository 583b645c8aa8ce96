"""Writing files atomically: into temporary files beside the targets, then one rename each.

Every output Atelier writes (images, sidecars, reports, caches, libraries) goes through
:func:`atomic_write` or :func:`atomic_files`, so an interrupted or failed run never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import AtelierError


def _temporary_beside(target: Path) -> Path:
    """A new empty file in ``target``'s folder, hidden, ending like ``target`` (numpy and
    matplotlib pick the format from the suffix)."""
    parent = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".part{target.suffix}", dir=parent)
    except OSError as exc:
        raise AtelierError(f"cannot write to {parent}: {exc.strerror or exc}") from None
    os.close(fd)
    return Path(tmp)


def _fsync(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_files(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """Temporary files beside ``paths`` (yielded in order), moved over them together.

    The block writes the temporary files; when it succeeds each is flushed to disk and renamed
    onto its target (readable by all) in the given order. On any failure nothing half-done is
    left: temporary files are deleted and targets already renamed are removed. ``OSError``
    becomes ``AtelierError``.
    """
    targets = [Path(p) for p in paths]
    temps: list[Path] = []
    placed: list[Path] = []
    where = " and ".join(map(str, targets))
    try:
        for t in targets:
            temps.append(_temporary_beside(t))
        yield temps
        for tmp, t in zip(temps, targets, strict=True):
            where = str(t)
            _fsync(tmp)
            os.chmod(tmp, 0o644)
            os.replace(tmp, t)
            placed.append(t)
    except BaseException as exc:
        for p in temps + placed:
            with contextlib.suppress(OSError):
                p.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise AtelierError(f"cannot write {where}: {exc.strerror or exc}") from None
        raise


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path beside ``path`` (an empty file, same suffix) for the block to write;
    renamed onto ``path`` when the block succeeds, deleted when it fails (see :func:`atomic_files`)."""
    with atomic_files(path) as (tmp,):
        yield tmp
