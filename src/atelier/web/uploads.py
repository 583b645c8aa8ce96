"""Validated image uploads, stored under server-chosen random ids.

Every upload is checked by content, never by its name or declared type: Pillow must
recognise it as one of :data:`FORMATS`, its pixel count must be within the limit and each
side at least :data:`atelier.io.images.MIN_SIDE` (checked from the header, before decoding),
and it must decode completely. The client's file name
is kept only as a display label; files on disk are named by a random hex id, and ids
from requests are matched against ``[0-9a-f]{32}`` before any path is built, so no
request can reach a path outside the store.
"""

from __future__ import annotations

import io
import re
import secrets
import threading
import unicodedata
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from ..base.errors import UsageError
from ..io.images import check_dimensions, load_image

FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tif"}
_ID = re.compile(r"[0-9a-f]{32}")


class UploadError(UsageError):
    """A rejected upload; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Upload:
    id: str
    path: Path
    name: str      # the client's file name, cleaned, for display only
    format: str
    width: int
    height: int


def display_name(filename: str | None) -> str:
    """A harmless label from a client file name: last path part, printable, at most 80 chars."""
    base = re.split(r"[\\/]", filename or "")[-1]
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in "CZ" or ch == " ").strip()
    return base[:80] or "image"


def sniff(data: bytes, max_pixels: int) -> tuple[str, int, int]:
    """Check that ``data`` is a complete image of an allowed type and size; return (format, w, h).

    Raises :class:`UploadError` with a one-line message (status 413 when too large).
    """
    if not data:
        raise UploadError("the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise UploadError(f"image has too many pixels (limit {max_pixels:,})", 413) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise UploadError("not an image: use a PNG, JPEG, WebP, GIF, BMP or TIFF file") from None
    if img.format not in FORMATS:
        raise UploadError(f"unsupported image type {img.format}: use PNG, JPEG, WebP, GIF, BMP or TIFF")
    w, h = img.size
    if w * h > max_pixels:
        raise UploadError(f"image has too many pixels ({w}x{h}; limit {max_pixels:,})", 413)
    try:
        check_dimensions((w, h))  # the rule every stylization applies, checked before anything waits
    except UsageError as exc:
        raise UploadError(str(exc)) from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            load_image(img)  # full decode: truncated or corrupt files fail here
    except (UsageError, OSError, SyntaxError, ValueError) as exc:
        raise UploadError(f"the image cannot be decoded ({exc})") from None
    return img.format, w, h


class UploadStore:
    """Uploaded images in ``root``, at most ``max_items`` (the oldest are deleted first)."""

    def __init__(self, root: Path, max_bytes: int, max_pixels: int, max_items: int = 200):
        self.root, self.max_bytes, self.max_pixels, self.max_items = Path(root), max_bytes, max_pixels, max_items
        self.root.mkdir(parents=True, exist_ok=True)
        self._items: OrderedDict[str, Upload] = OrderedDict()
        self._lock = threading.Lock()

    def too_big(self, n: int) -> UploadError:
        return UploadError(f"file too large ({n / 1e6:.1f} MB; limit {self.max_bytes / 1e6:.1f} MB)", 413)

    def add(self, data: bytes, filename: str | None = None) -> Upload:
        """Validate and store ``data``; raises :class:`UploadError`."""
        if len(data) > self.max_bytes:
            raise self.too_big(len(data))
        fmt, w, h = sniff(data, self.max_pixels)
        uid = secrets.token_hex(16)
        path = self.root / f"{uid}.{FORMATS[fmt]}"
        path.write_bytes(data)
        up = Upload(uid, path, display_name(filename), fmt, w, h)
        with self._lock:
            self._items[uid] = up
            old = [self._items.popitem(last=False)[1] for _ in range(len(self._items) - self.max_items)]
        for o in old:
            o.path.unlink(missing_ok=True)
        return up

    def get(self, upload_id: str) -> Upload:
        """The upload with this id; :class:`UploadError` (404) if malformed, unknown or expired."""
        with self._lock:
            up = self._items.get(upload_id) if _ID.fullmatch(upload_id or "") else None
        if up is None:
            raise UploadError("unknown or expired upload; please upload the image again", 404)
        return up

    def load(self, upload_id: str) -> Image.Image:
        """The upload decoded as RGB (EXIF orientation applied)."""
        return load_image(self.get(upload_id).path)
