"""The style library: artworks, their metadata and style descriptors in an embedded store.

Storage is one SQLite file:

``meta``      key/value: schema version, the descriptor config (JSON) and the backbone
              fingerprint the vectors were made with.
``artworks``  one row per image: absolute path, sha256 of the file bytes, byte size, pixel
              size, artist / title / movement, and the descriptor as a little-endian float32 blob.

Vectors are searched with FAISS, built in memory when the library is first searched:
an exact flat L2 index up to ``IVF_MIN`` entries, an inverted-file index (``sqrt(n)`` lists,
``IVF_NPROBE`` probed) above that, so a query stays fast at 100k entries. Distances are
Euclidean (not squared).

Updates are incremental and interrupt-safe: a file is embedded only when no row holds its
sha256 yet (a moved or duplicated file reuses the stored vector), and every embedded image is
committed on its own, so Ctrl-C loses at most the image being embedded. Images that cannot be
read are skipped and reported. Gram matrices are not stored: augmentation recomputes them from
the image files (``path``), whose sha256 lets callers notice a changed file.
"""

from __future__ import annotations

import csv
import errno
import functools
import hashlib
import json
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import faiss
import numpy as np

from ..base.checks import check_int
from ..base.engine import Engine
from ..base.errors import AtelierError, UsageError
from ..io.images import IMAGE_SUFFIXES, load_image
from .descriptors import DESCRIPTOR_VERSION, DescriptorConfig, backbone_id, describe

SCHEMA_VERSION = 1
IVF_MIN = 20_000       # below this many entries search is exact (flat L2)
IVF_NPROBE = 8         # inverted lists visited per query above IVF_MIN
STATS_SAMPLE = 2_000   # at most this many vectors enter distance_stats
PER_TASK = 16          # images per engine task when a build runs on an engine

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS artworks (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    artist TEXT NOT NULL DEFAULT '',
    title TEXT NOT NULL DEFAULT '',
    movement TEXT NOT NULL DEFAULT '',
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS artworks_sha ON artworks (sha256);
"""
_ENTRY_COLUMNS = "id, path, sha256, bytes, width, height, artist, title, movement"


@dataclass(frozen=True)
class Entry:
    """One artwork of the library (without its vector)."""

    id: int
    path: str
    sha256: str
    bytes: int
    width: int
    height: int
    artist: str
    title: str
    movement: str

    @property
    def label(self) -> str:
        """``Artist - Title`` (or the file name when both are unknown)."""
        parts = [p for p in (self.artist, self.title) if p]
        return " - ".join(parts) if parts else Path(self.path).name


@dataclass(frozen=True)
class Hit:
    """A search result: the entry and its Euclidean descriptor distance to the query."""

    entry: Entry
    distance: float


@dataclass
class UpdateReport:
    """What an update did. Paths are absolute strings."""

    embedded: list[str] = field(default_factory=list)   # new or changed content, descriptor computed
    reused: list[str] = field(default_factory=list)     # new path, content already known (moved/duplicate)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)    # rows dropped because the file is gone
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)


BuildProgressFn = Callable[[int, int, str], None]  # (files done, files total, current path)


def default_library_path() -> Path:
    """``$ATELIER_LIBRARY`` if set, else ``~/.cache/atelier/library.sqlite``."""
    env = os.environ.get("ATELIER_LIBRARY")
    return Path(env) if env else Path.home() / ".cache" / "atelier" / "library.sqlite"


def find_images(roots: Iterable[str | os.PathLike]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Image files under ``roots`` (directories are searched recursively; files are taken as
    given), resolved, sorted, without duplicates; and the ``(path, reason)`` of entries that
    cannot be followed (symlink loops, broken links, unreadable folders). Raises ``UsageError``
    for a missing root."""
    found: set[Path] = set()
    skipped: list[tuple[str, str]] = []

    def follow(path: Path) -> None:
        try:
            found.add(path.resolve(strict=True))
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (Python < 3.13)
            skipped.append((str(path), _os_reason(exc)))

    for root in roots:
        root = Path(root)
        if not root.exists():
            raise UsageError(f"not found: {root}")
        if root.is_file():
            follow(root)
            continue
        walk = os.walk(root, onerror=lambda exc: skipped.append((str(exc.filename), _os_reason(exc))))
        for dirpath, _, names in walk:
            for n in names:
                if os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES and not n.startswith("."):
                    follow(Path(dirpath, n))
    return sorted(found), skipped


def scan(roots: Iterable[str | os.PathLike]) -> list[Path]:
    """The image files of :func:`find_images` (without the entries it skipped)."""
    return find_images(roots)[0]


def _os_reason(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError) or getattr(exc, "errno", None) == errno.ELOOP:
        return "symlink loop"
    return getattr(exc, "strerror", None) or str(exc)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def metadata_from_name(path: str | os.PathLike) -> dict[str, str]:
    """Artist and title from an ``artist__title.ext`` file name (``claude_monet__water_lilies.jpg``
    -> Claude Monet / Water lilies); a name without ``__`` gives only a title."""
    stem = Path(path).stem
    artist, sep, title = stem.partition("__")
    if not sep:
        artist, title = "", stem

    def words(s: str) -> str:
        return re.sub(r"[_\s]+", " ", s).strip()

    title = words(title)
    return {"artist": words(artist).title(), "title": title[:1].upper() + title[1:], "movement": ""}


def read_metadata_csv(path: str | os.PathLike) -> dict[str, dict[str, str]]:
    """Read a metadata CSV with columns ``file, artist, title, movement`` (others ignored).

    ``file`` is relative to the CSV's folder (or absolute). Returns a mapping from both the
    resolved path and the bare file name to ``{"artist", "title", "movement"}``.
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UsageError(f"cannot read metadata CSV {path}: {exc}") from None
    if not rows or "file" not in rows[0]:
        raise UsageError(f"metadata CSV {path} needs a header with at least a 'file' column")
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        if not row.get("file"):
            continue
        meta = {k: (row.get(k) or "").strip() for k in ("artist", "title", "movement")}
        out[str((path.parent / row["file"]).resolve())] = meta
        out.setdefault(Path(row["file"]).name, meta)
    return out


def build_index(vectors: np.ndarray) -> faiss.Index:
    """A FAISS L2 index over ``vectors`` (n x d float32): exact flat below ``IVF_MIN`` rows,
    an IVF-flat index with ``sqrt(n)`` lists (trained on at most 64 points per list) above."""
    n, d = vectors.shape
    if n < IVF_MIN:
        index = faiss.IndexFlatL2(d)
    else:
        nlist = int(np.sqrt(n))
        index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
        index.cp.max_points_per_centroid = 64
        sample = np.random.default_rng(0).choice(n, size=min(n, 64 * nlist), replace=False)
        index.train(vectors[np.sort(sample)])
        index.nprobe = IVF_NPROBE
    index.add(vectors)
    return index


def distance_stats(vectors: np.ndarray, threshold: float | None = None,
                   quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95)) -> dict:
    """Distribution of Euclidean distances in a set of descriptors.

    Returns ``{"n", "sampled", "quantiles", "nearest": [...], "pairwise": [...]}``: the given
    quantiles of each vector's distance to its nearest other vector, and of all pairwise
    distances, over a seeded sample of at most ``STATS_SAMPLE`` vectors; with ``threshold``
    also ``"within"``, the share of vectors whose nearest other vector lies within it.
    """
    n = len(vectors)
    if n < 2:
        raise UsageError("distance statistics need at least 2 entries")
    x = vectors
    if n > STATS_SAMPLE:
        x = vectors[np.random.default_rng(0).choice(n, STATS_SAMPLE, replace=False)]
    x = x.astype(np.float64)
    sq = (x * x).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))
    np.fill_diagonal(d, np.inf)
    nearest, pairs = d.min(1), d[np.triu_indices(len(x), 1)]
    out = {"n": n, "sampled": len(x), "quantiles": list(quantiles),
           "nearest": np.quantile(nearest, quantiles).tolist(), "pairwise": np.quantile(pairs, quantiles).tolist()}
    if threshold is not None:
        out["within"] = float((nearest <= threshold).mean())
    return out


F = TypeVar("F", bound=Callable[..., Any])


def _db_errors(method: F) -> F:
    """Turn a SQLite error raised while a library is in use (a damaged file) into one ``UsageError``."""
    @functools.wraps(method)
    def wrapper(self: StyleLibrary, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise UsageError(f"style library {self.path} is damaged or unreadable ({exc}); rebuild it") from None
    return wrapper  # type: ignore[return-value]


def _vector_blob(v: np.ndarray) -> bytes:
    return np.ascontiguousarray(v, dtype="<f4").tobytes()


class StyleLibrary:
    """An open style library (use :meth:`open`; close it or use it as a context manager)."""

    def __init__(self, path: Path, conn: sqlite3.Connection, config: DescriptorConfig, backbone: str):
        self.path, self.conn, self.config, self.backbone = path, conn, config, backbone
        self._index: tuple[faiss.Index, np.ndarray] | None = None

    # --- opening ---------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | os.PathLike, config: DescriptorConfig | None = None,
             create: bool = False) -> StyleLibrary:
        """Open the library at ``path``.

        ``create``: make a new library (with ``config``, default descriptor if None) when the
        file does not exist. ``config``: if given for an existing library it must equal the
        stored one. Raises ``UsageError`` when the file is missing (and not ``create``), is not
        an Atelier library, or was built with another descriptor config or backbone.
        """
        path = Path(path).expanduser()
        if path.is_dir():
            raise UsageError(f"style library must be a file, got a directory: {path}")
        if not path.exists():
            if not create:
                raise UsageError(f"no style library at {path}; "
                                 f"build one with `atelier library build DIR --library {path}`")
            if not path.parent.is_dir():
                raise UsageError(f"directory does not exist: {path.parent}")
            return cls._create(path, (config or DescriptorConfig()).validated())
        conn = None
        try:
            conn = sqlite3.connect(path)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            conn.execute("SELECT count(*) FROM artworks").fetchone()
            stored = DescriptorConfig.from_dict(json.loads(meta["descriptor"]))
            version, schema, backbone = json.loads(meta["descriptor"])["version"], int(meta["schema"]), meta["backbone"]
        except (sqlite3.Error, KeyError, ValueError, TypeError) as exc:
            if conn is not None:
                conn.close()
            raise UsageError(f"{path} is not a readable Atelier style library ({exc})") from None
        try:
            cls._check(path, stored, schema, version, backbone, config)
        except UsageError:
            conn.close()
            raise
        return cls(path, conn, stored, backbone)

    @staticmethod
    def _check(path: Path, stored: DescriptorConfig, schema: int, version: int, backbone: str,
               config: DescriptorConfig | None) -> None:
        """Refuse a library this code or this request cannot use (``UsageError``)."""
        if schema != SCHEMA_VERSION or version != DESCRIPTOR_VERSION:
            raise UsageError(f"{path} was made by another Atelier version (schema {schema}, descriptor "
                             f"v{version}; this one reads schema {SCHEMA_VERSION}, v{DESCRIPTOR_VERSION}): rebuild it")
        if config is not None and config.validated().to_dict() != stored.to_dict():
            raise UsageError(f"{path} was built with descriptor {_describe_config(stored)}, not "
                             f"{_describe_config(config.validated())}: "
                             "use another --library or the library's own settings")
        current = backbone_id(stored)
        if current != backbone:
            raise UsageError(f"{path} was built with backbone {backbone}, but its settings now give {current}; "
                             "its distances would be meaningless: rebuild it")

    @classmethod
    def _create(cls, path: Path, config: DescriptorConfig) -> StyleLibrary:
        backbone = backbone_id(config)
        try:
            conn = sqlite3.connect(path)
            with conn:
                conn.executescript(_SCHEMA)
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [("schema", str(SCHEMA_VERSION)), ("descriptor", json.dumps(config.to_dict())),
                                  ("backbone", backbone)])
        except sqlite3.Error as exc:
            raise AtelierError(f"cannot create style library {path}: {exc}") from None
        return cls(path, conn, config, backbone)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> StyleLibrary:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------
    @_db_errors
    def __len__(self) -> int:
        return self.conn.execute("SELECT count(*) FROM artworks").fetchone()[0]

    @_db_errors
    def entries(self) -> list[Entry]:
        """All entries, ordered by artist, title, path."""
        rows = self.conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM artworks ORDER BY artist, title, path")
        return [Entry(*r) for r in rows]

    @_db_errors
    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ids, vectors)``: row ids (int64) and descriptors (n x dim float32), in id order."""
        n = len(self)
        ids, vecs = np.empty(n, np.int64), np.empty((n, self.config.dim), np.float32)
        rows = self.conn.execute("SELECT id, vector FROM artworks ORDER BY id LIMIT ?", (n,))
        filled = 0
        for row_id, blob in rows:  # filled in place: no second copy of all vectors
            ids[filled], vecs[filled] = row_id, np.frombuffer(blob, dtype="<f4")
            filled += 1
        return ids[:filled], vecs[:filled]

    @_db_errors
    def _entries_by_id(self, ids: Sequence[int]) -> dict[int, Entry]:
        marks = ",".join("?" * len(ids))
        rows = self.conn.execute(f"SELECT {_ENTRY_COLUMNS} FROM artworks WHERE id IN ({marks})", list(ids))
        return {r[0]: Entry(*r) for r in rows}

    def describe(self, image) -> np.ndarray:
        """The descriptor of ``image`` (path, PIL, array, tensor) under this library's config."""
        return describe(load_image(image), self.config)

    @_db_errors
    def search(self, query: np.ndarray, k: int, threshold: float | None = None,
               exclude_sha256: str | None = None) -> list[Hit]:
        """The ``k`` entries nearest to descriptor ``query``, nearest first.

        ``threshold``: drop hits farther than this Euclidean distance. ``exclude_sha256``:
        skip entries holding exactly this file (the query itself). Fewer than ``k`` hits come
        back when the library is smaller or the threshold excludes them.
        """
        check_int("k", k, 1)
        query = np.asarray(query, dtype=np.float32).reshape(1, -1)
        if query.shape[1] != self.config.dim:
            raise UsageError(f"query descriptor has {query.shape[1]} values, the library's have {self.config.dim}")
        if self._index is None:
            ids, vecs = self.vectors()
            if len(ids) == 0:
                raise UsageError(f"style library {self.path} is empty; add images with `atelier library add`")
            self._index = (build_index(vecs), ids)
        index, ids = self._index
        skip = 0 if exclude_sha256 is None else self.conn.execute(
            "SELECT count(*) FROM artworks WHERE sha256 = ?", (exclude_sha256,)).fetchone()[0]
        dist2, pos = index.search(query, min(len(ids), int(k) + skip))
        found = [(int(ids[p]), float(np.sqrt(max(d, 0.0)))) for d, p in zip(dist2[0], pos[0], strict=True) if p >= 0]
        entries = self._entries_by_id([i for i, _ in found])
        hits = [Hit(entries[i], d) for i, d in found if entries[i].sha256 != exclude_sha256]
        if threshold is not None:
            hits = [h for h in hits if h.distance <= threshold]
        return hits[: int(k)]

    @_db_errors
    def distance_stats(self, threshold: float | None = None) -> dict:
        """:func:`distance_stats` of this library's descriptors."""
        return distance_stats(self.vectors()[1], threshold)

    # --- writing ---------------------------------------------------------------------
    @_db_errors
    def update(self, roots: Sequence[str | os.PathLike], metadata: dict[str, dict[str, str]] | None = None,
               prune: bool = False, progress: BuildProgressFn | None = None, engine: Engine | None = None,
               per_task: int = PER_TASK) -> UpdateReport:
        """Add the images under ``roots``; embed only content not stored yet.

        ``engine``: compute the new descriptors as its tasks, ``per_task`` images each (the backbone
        loads once per worker; the images must be readable there at the same paths); hashing,
        storing and the report stay in this process, and give the same rows as without an engine.

        ``metadata``: from :func:`read_metadata_csv`; files it does not list get their
        artist/title from their names. ``prune``: also drop rows whose file no longer exists
        or that lie under a root but were not found there. Each image is committed on its own.
        """
        files, unreachable = find_images(roots)
        report = UpdateReport(skipped=list(unreachable))
        known = {r[0]: (r[1], dict(zip(("artist", "title", "movement"), r[2:], strict=True)))
                 for r in self.conn.execute("SELECT path, sha256, artist, title, movement FROM artworks")}
        if engine is None:
            self._add_each(files, metadata, known, report, progress)
        else:
            self._add_on(engine, files, metadata, known, report, progress, per_task)
        if progress is not None:
            progress(len(files), len(files), "")
        if prune:
            present = {str(p) for p in files}
            dirs = [str(Path(r).resolve()) + os.sep for r in roots if Path(r).is_dir()]
            gone = [p for p in known if p not in present
                    and (not Path(p).is_file() or any(p.startswith(d) for d in dirs))]
            report.removed = self._delete(gone)
        return report

    def _add_each(self, files: Sequence[Path], metadata: dict[str, dict[str, str]] | None,
                  known: dict[str, tuple[str, dict[str, str]]], report: UpdateReport,
                  progress: BuildProgressFn | None) -> None:
        """Store ``files`` one after another in this process (see :meth:`update`)."""
        for i, path in enumerate(files):
            if progress is not None:
                progress(i, len(files), str(path))
            key = str(path)
            meta = _file_metadata(path, metadata)
            try:
                added = self._add_file(path, meta, known.get(key))
            except sqlite3.Error:
                raise  # the library itself is damaged: stop (reported by _db_errors)
            except Exception as exc:  # any one bad file is skipped with its reason, never the whole build
                report.skipped.append((key, _file_reason(exc)))
                if key in known:  # the file changed into something unusable: its old vector is stale
                    self._delete([key])
                continue
            if added is None:
                report.unchanged += 1
            else:
                (report.reused if added else report.embedded).append(key)

    def _add_on(self, engine: Engine, files: Sequence[Path], metadata: dict[str, dict[str, str]] | None,
                known: dict[str, tuple[str, dict[str, str]]], report: UpdateReport,
                progress: BuildProgressFn | None, per_task: int) -> None:
        """Store ``files``, their descriptors computed on ``engine`` in tasks of ``per_task`` images;
        the same rows and report as :meth:`_add_each`. Hashing and storing stay here."""
        check_int("per_task", per_task, 1)
        groups: dict[str, list[tuple[Path, dict[str, str]]]] = {}  # new content -> its files (the first embeds)
        settled = 0
        skipped: list[tuple[str, str]] = []

        def skip(key: str, reason: str) -> None:
            skipped.append((key, reason))
            if key in known:  # the file changed into something unusable: its old vector is stale
                self._delete([key])

        def tick(path: Path) -> None:
            nonlocal settled
            settled += 1
            if progress is not None:
                progress(settled, len(files), str(path))

        for path in files:
            key = str(path)
            meta = _file_metadata(path, metadata)
            try:
                sha = file_sha256(path)
                if sha not in groups:
                    added = self._add_file(path, meta, known.get(key), sha=sha, embed=False)
                    if added is not False:
                        tick(path)
                        if added is None:
                            report.unchanged += 1
                        else:
                            report.reused.append(key)
                        continue
                groups.setdefault(sha, []).append((path, meta))
            except sqlite3.Error:
                raise
            except Exception as exc:  # noqa: BLE001 - one bad file is skipped with its reason
                skip(key, _file_reason(exc))
                tick(path)
        shas = list(groups)
        tasks = [DescribeTask(self.config, tuple(str(groups[h][0][0]) for h in shas[i:i + per_task]), i)
                 for i in range(0, len(shas), per_task)]
        for outcome in engine.map(describe_files, tasks):
            task: DescribeTask = outcome.item
            results = outcome.value if outcome.ok else [outcome.error or "failed"] * len(task.paths)
            for sha, result in zip(shas[task.first:task.first + len(task.paths)], results, strict=True):
                for n, (path, meta) in enumerate(groups[sha]):
                    key = str(path)
                    if isinstance(result, str):
                        skip(key, result)
                    else:
                        width, height, blob = result
                        try:
                            with self.conn:
                                self.put(key, sha, path.stat().st_size, (width, height), meta, blob)
                        except OSError as exc:
                            skip(key, _file_reason(exc))
                            tick(path)
                            continue
                        (report.reused if n else report.embedded).append(key)
                    tick(path)
        order = {str(p): i for i, p in enumerate(files)}  # the reports of _add_each are in file order
        report.embedded.sort(key=order.__getitem__)
        report.reused.sort(key=order.__getitem__)
        report.skipped += sorted(skipped, key=lambda s: order[s[0]])

    def _add_file(self, path: Path, meta: dict[str, str], known: tuple[str, dict[str, str]] | None,
                  sha: str | None = None, embed: bool = True) -> bool | None:
        """Store one file: None if it was unchanged, True if its content was known (vector reused),
        False if it was embedded (or, with ``embed=False``, needs embedding: nothing stored). Raises for
        an unreadable or unusable file."""
        key, sha = str(path), sha or file_sha256(path)
        if known is not None and known[0] == sha:
            if known[1] != meta:
                with self.conn:
                    self.conn.execute("UPDATE artworks SET artist=?, title=?, movement=? WHERE path=?",
                                      (meta["artist"], meta["title"], meta["movement"], key))
            return None
        row = self.conn.execute("SELECT width, height, vector FROM artworks WHERE sha256 = ? LIMIT 1",
                                (sha,)).fetchone()
        if row is not None:
            width, height, blob = row
        elif not embed:
            return False
        else:
            width, height, blob = embed_file(path, self.config)
        with self.conn:
            self.put(key, sha, path.stat().st_size, (width, height), meta, blob)
        return row is not None

    @_db_errors
    def put(self, path: str, sha256: str, nbytes: int, size: tuple[int, int], meta: dict[str, str],
            vector: np.ndarray | bytes) -> None:
        """Insert or replace the row at ``path`` (no commit: wrap calls in ``with lib.conn:``)."""
        blob = vector if isinstance(vector, bytes) else _vector_blob(vector)
        if len(blob) != 4 * self.config.dim:
            raise UsageError(f"vector has {len(blob) // 4} values, the library's have {self.config.dim}")
        self.conn.execute(
            "INSERT INTO artworks (path, sha256, bytes, width, height, artist, title, movement, vector) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET sha256=excluded.sha256, "
            "bytes=excluded.bytes, width=excluded.width, height=excluded.height, artist=excluded.artist, "
            "title=excluded.title, movement=excluded.movement, vector=excluded.vector",
            (path, sha256, nbytes, size[0], size[1], meta["artist"], meta["title"], meta["movement"], blob))
        self._index = None

    @_db_errors
    def remove(self, paths: Sequence[str | os.PathLike]) -> list[str]:
        """Drop the entries at ``paths`` (a folder drops everything under it); returns the paths
        dropped. Raises ``UsageError`` if a path matches no entry."""
        known = [r[0] for r in self.conn.execute("SELECT path FROM artworks")]
        drop: list[str] = []
        for p in paths:
            full = str(Path(p).expanduser().resolve())
            match = [k for k in known if k == full or k.startswith(full.rstrip(os.sep) + os.sep)]
            if not match:
                raise UsageError(f"not in the library: {p}")
            drop += match
        return self._delete(sorted(set(drop)))

    @_db_errors
    def _delete(self, paths: Sequence[str]) -> list[str]:
        with self.conn:
            self.conn.executemany("DELETE FROM artworks WHERE path = ?", [(p,) for p in paths])
        self._index = None
        return list(paths)


def _file_metadata(path: Path, metadata: dict[str, dict[str, str]] | None) -> dict[str, str]:
    """``path``'s row of the metadata CSV (by full path, then by file name), else from its name."""
    return (metadata or {}).get(str(path)) or (metadata or {}).get(path.name) or metadata_from_name(path)


def embed_file(path: Path, config: DescriptorConfig) -> tuple[int, int, bytes]:
    """``(width, height, descriptor as float32 bytes)`` of the image at ``path``; raises if unusable."""
    img = load_image(path)
    return img.width, img.height, _vector_blob(describe(img, config))


@dataclass(frozen=True)
class DescribeTask:
    """One engine task of :meth:`StyleLibrary.update`: the images at ``paths`` (``first``: the
    position of the first in the update's list of new contents)."""

    config: DescriptorConfig
    paths: tuple[str, ...]
    first: int = 0


def describe_files(task: DescribeTask) -> list[tuple[int, int, bytes] | str]:
    """Per image of ``task`` (runs on a worker): ``(width, height, descriptor as float32 bytes)``, or
    the one-line reason it cannot be embedded."""
    out: list[tuple[int, int, bytes] | str] = []
    for path in task.paths:
        try:
            out.append(embed_file(Path(path), task.config))
        except Exception as exc:  # noqa: BLE001 - one bad file is reported, never the whole task
            out.append(_file_reason(exc))
    return out


def sync_folder(db: str | os.PathLike, folder: str | os.PathLike, metadata_csv: str | os.PathLike | None = None,
                progress: BuildProgressFn | None = None) -> UpdateReport:
    """Make the library at ``db`` (created with the default descriptor if missing, its folder
    too) mirror the images under ``folder``: embed new or changed files, drop vanished ones.
    ``metadata_csv`` is used when given and present."""
    db = Path(db).expanduser()
    db.parent.mkdir(parents=True, exist_ok=True)
    meta = read_metadata_csv(metadata_csv) if metadata_csv and Path(metadata_csv).is_file() else None
    with StyleLibrary.open(db, create=True) as lib:
        return lib.update([folder], meta, prune=True, progress=progress)


def _file_reason(exc: Exception) -> str:
    """One line saying why a file was skipped."""
    if isinstance(exc, AtelierError):
        return str(exc)
    if isinstance(exc, OSError):
        return _os_reason(exc)
    if isinstance(exc, MemoryError):
        return "out of memory"
    return f"{type(exc).__name__}: {exc}".splitlines()[0]


def _describe_config(cfg: DescriptorConfig) -> str:
    weights = cfg.weights or "bundled weights"
    return f"{cfg.backbone} ({weights}) layers {','.join(cfg.layers)} at {cfg.size} px"
