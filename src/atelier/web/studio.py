"""The server's state: settings, working directory, uploads, job queue, detected features.

One :class:`Studio` lives behind each app; routes ask it to resolve image references,
describe jobs and find files, so that no route builds a path from anything a browser sent.
"""

from __future__ import annotations

import functools
import io
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

from PIL import Image

from ..base.errors import UsageError
from ..io import samples, starter
from ..io.images import load_image, resize_long_side
from . import capabilities
from .config import ServeOptions
from .jobs import DONE, Job, JobQueue
from .tasks import Outcome
from .uploads import UploadError, UploadStore

THUMB_SIDE = 160


def sample_names() -> dict[str, Any]:
    """The built-in samples the page offers: photos, styles (the starter paintings first, then
    the procedural ones) and each painting's credit."""
    return {"contents": list(samples.CONTENTS), "styles": [*starter.slugs(), *samples.STYLES],
            "credits": {p.slug: p.credit for p in starter.paintings()}}


@functools.cache
def sample_image(name: str) -> Image.Image:
    """A built-in sample (content photo, starter painting or procedural style) by name;
    ``UsageError`` (404) if unknown."""
    if name in samples.CONTENTS:
        return samples.content(name)
    if name in samples.STYLES:
        return samples.style(name, size=512)
    if name in starter.slugs():
        return load_image(starter.get(name).path)
    raise UploadError(f"unknown sample {name!r}", 404)


def thumbnail(img: Image.Image) -> bytes:
    """A small JPEG of ``img``."""
    buf = io.BytesIO()
    resize_long_side(img.convert("RGB"), THUMB_SIDE).save(buf, "JPEG", quality=85)
    return buf.getvalue()


@functools.cache
def sample_thumbnail(name: str) -> bytes:
    return thumbnail(sample_image(name))


class Studio:
    """Everything one server instance holds. ``workdir`` None: a temp dir deleted by :meth:`close`."""

    def __init__(self, opts: ServeOptions, workdir: Path | None = None):
        self.opts = opts.validate()
        self.own_dir = workdir is None
        self.root = Path(tempfile.mkdtemp(prefix="atelier-web-")) if self.own_dir else Path(workdir)
        # deleted by close(), or at the latest when the process exits
        self._cleanup = weakref.finalize(self, shutil.rmtree, self.root, True) if self.own_dir else None
        self.results = self.root / "results"
        self.results.mkdir(parents=True, exist_ok=True)
        self.uploads = UploadStore(self.root / "uploads", opts.max_bytes, opts.max_pixels)
        self.queue = JobQueue(opts.concurrency, opts.max_jobs, on_discard=self._discard, max_waiting=opts.max_waiting,
                              max_waiting_per_owner=opts.max_waiting_per_session)
        self.caps = capabilities.detect(opts.library)
        self.thumbs: OrderedDict[int, bytes] = OrderedDict()  # library artwork id -> JPEG (from searches)
        self.interactive = threading.Lock()  # one interactive computation (search, mask) at a time

    def close(self) -> None:
        """Stop the jobs and delete the working directory (if it is ours)."""
        self.queue.shutdown()
        if self._cleanup is not None:
            self._cleanup()

    @staticmethod
    def _discard(job: Job) -> None:
        if isinstance(job.result, Outcome):
            for p in job.result.paths:
                p.unlink(missing_ok=True)

    # --- lookups -------------------------------------------------------------------------
    def resolve(self, ref: str) -> tuple[Image.Image, str]:
        """An image reference ``upload:<id>`` or ``sample:<name>`` -> (RGB image, label for metadata)."""
        kind, _, name = ref.partition(":")
        if kind == "upload":
            return self.uploads.load(name), f"upload:{self.uploads.get(name).name}"
        if kind == "sample":
            return sample_image(name), f"sample:{name}"
        raise UsageError(f"bad image reference {ref!r} (expected upload:ID or sample:NAME)")

    def job(self, job_id: str) -> Job:
        """The job with this id; :class:`UploadError` (404) if unknown or forgotten."""
        try:
            return self.queue.get(job_id)
        except KeyError:
            raise UploadError("unknown job (finished jobs are kept for a limited time)", 404) from None

    def refine_source(self, job_id: str, session: str) -> Path:
        """The first result of this session's finished job ``job_id``."""
        job = self.job(job_id)
        if job.owner != session or job.state != DONE:
            raise UsageError("only a finished result of this session can be refined")
        return job.result.paths[0]

    def library_path(self) -> Path:
        lib = self.caps["features"]["library"]
        if not lib["available"]:
            raise UploadError(f"the style library is not available: {lib['reason']}", 404)
        return Path(lib["path"])

    def remember_thumb(self, entry_id: int, data: bytes, keep: int = 500) -> None:
        self.thumbs[entry_id] = data
        self.thumbs.move_to_end(entry_id)
        while len(self.thumbs) > keep:
            self.thumbs.popitem(last=False)

    def snapshot(self, job: Job) -> dict[str, Any]:
        """The queue's view of ``job`` plus URLs of its preview and results, and its notes."""
        snap = self.queue.snapshot(job.id)
        base = f"/api/jobs/{job.id}"
        done = snap["state"] == DONE and isinstance(job.result, Outcome)
        n = len(job.result.paths) if done else 0
        snap["preview_url"] = f"{base}/preview.jpg?v={snap['preview_version']}" if snap["preview_version"] else None
        snap["results"] = [f"{base}/result/{i}.png" for i in range(n)]
        snap["downloads"] = [f"{base}/result/{i}.png?download=1" for i in range(n)]
        snap["notes"] = job.result.notes if done else []
        return snap
