"""Reading, converting and safely writing images.

Every image entering Atelier goes through :func:`load_image`, which returns an 8-bit
RGB ``PIL.Image`` (plus the alpha channel, if any) whatever the file held:

* EXIF orientation is applied, so a portrait photo taken sideways comes out upright.
* Grayscale, palette, CMYK, 16-bit and float images are converted to RGB.
* Transparent images (RGBA, LA, palette with transparency) are composited onto white for
  the network; the alpha channel is returned separately so callers can put it back on
  the result (``stylize`` does).
* Files larger than ``MAX_PIXELS`` are refused before they are decoded (decompression bombs).

Writing goes through :func:`save_image`, which writes to a temporary file in the target
directory and renames it, so an interrupted or failed run never leaves a half-written output.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from ..base.errors import UsageError
from ..base.files import atomic_files, atomic_write

MAX_PIXELS = 80_000_000  # ~ 9000 x 9000; larger inputs are refused, not decoded
MIN_SIDE = 16  # VGG's relu5_1 lies behind four 2x poolings: narrower images cannot be processed
ImageLike = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


def _open(path: Path) -> Image.Image:
    if not path.exists():
        raise UsageError(f"file not found: {path}")
    if path.is_dir():
        raise UsageError(f"expected an image file, got a directory: {path}")
    return _decode(path, str(path))


def _decode(src: Path | io.BytesIO, name: str) -> Image.Image:
    """Open and fully decode ``src``, refusing decompression bombs; ``name`` is used in errors."""
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's notes on damaged metadata: not for users
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # closed whatever happens (a long library build meets many bad files)
            with (open(src, "rb") if isinstance(src, Path) else contextlib.nullcontext(src)) as fh:
                img = Image.open(fh)
                img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UsageError(f"image too large (over {MAX_PIXELS:,} pixels): {name}") from None
    except UnidentifiedImageError:
        raise UsageError(f"not an image file: {name}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise UsageError(f"cannot read image {name}: {exc}") from None
    return img


def decode_bytes(data: bytes, name: str = "stdin") -> Image.Image:
    """An image file's bytes (e.g. read from a pipe) as an 8-bit RGB(A) PIL image (alpha kept).

    The same checks as :func:`load_image` on a path; ``UsageError`` when empty or unreadable."""
    if not data:
        raise UsageError(f"no image data on {name}")
    return _decode(io.BytesIO(data), name)


def _to_rgb8(img: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Convert any PIL mode to 8-bit RGB; return (rgb, alpha or None)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 255.0
        if img.mode == "F" and arr.max() <= 1.0:
            hi = 1.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        img = Image.fromarray(arr, "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        alpha = rgba.getchannel("A")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB"), alpha
    return img.convert("RGB"), None


def load_image(src: ImageLike, *, with_alpha: bool = False):
    """Load ``src`` as an 8-bit RGB PIL image.

    Parameters
    ----------
    src : path, PIL image, array or tensor
        Arrays are HxW or HxWxC (uint8 0..255, uint16 0..65535, or float 0..1);
        tensors are CxHxW or 1xCxHxW floats in 0..1.
    with_alpha : bool
        If True return ``(rgb, alpha)`` where ``alpha`` is an ``L`` image or None.

    Raises
    ------
    UsageError
        Missing file, directory, not an image, truncated, too many pixels, bad array shape.
    """
    if isinstance(src, (str, os.PathLike)):
        img = _open(Path(src))
    elif isinstance(src, Image.Image):
        img = src
    elif isinstance(src, torch.Tensor):
        t = src.detach().float().cpu()
        if t.ndim == 4 and t.shape[0] == 1:
            t = t[0]
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise UsageError(f"expected a CxHxW image tensor, got shape {tuple(src.shape)}")
        img = _array_to_pil(t.permute(1, 2, 0).numpy())
    elif isinstance(src, np.ndarray):
        img = _array_to_pil(src)
    else:
        raise UsageError(f"cannot use {type(src).__name__} as an image")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # e.g. "Corrupt EXIF data" while reading the orientation
        rgb, alpha = _to_rgb8(img)
    if min(rgb.size) < 1:
        raise UsageError("image is empty")
    return (rgb, alpha) if with_alpha else rgb


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise UsageError(f"expected an HxW or HxWx3/4 image array, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        out = arr
    elif arr.dtype == np.uint16:
        out = (arr.astype(np.float64) / 257.0 + 0.5).astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise UsageError("image array contains NaN or infinite values")
        out = (np.clip(arr, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    else:
        raise UsageError(f"unsupported image array dtype {arr.dtype}")
    mode = "L" if out.ndim == 2 else ("RGB" if out.shape[2] == 3 else "RGBA")
    return Image.fromarray(np.ascontiguousarray(out), mode)


def check_dimensions(size: tuple[int, int], long_side: int | None = None, what: str = "image") -> None:
    """Refuse an image too small or too narrow to process: each side must be at least ``MIN_SIDE``
    pixels as given and, when ``long_side`` is set, once resized to that long side. ``UsageError``."""
    w, h = size
    if min(w, h) < MIN_SIDE:
        raise UsageError(f"{what} is {w}x{h} pixels: each side must be at least {MIN_SIDE}")
    if long_side is not None:
        short = round(min(w, h) * long_side / max(w, h))
        if short < MIN_SIDE:
            raise UsageError(f"{what} is {w}x{h} pixels: at {long_side} px on the long side its short side would be "
                             f"{short} px, less than {MIN_SIDE} (crop it, or use a larger size)")


def resize_long_side(img: Image.Image, long_side: int) -> Image.Image:
    """Resize so that the longer side is ``long_side`` pixels (aspect kept, Lanczos)."""
    w, h = img.size
    s = long_side / max(w, h)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return img if size == img.size else img.resize(size, Image.LANCZOS)


def shrink_long_side(img: Image.Image, long_side: int) -> Image.Image:
    """``img`` resized down so its longer side is at most ``long_side`` (never enlarged)."""
    return resize_long_side(img, long_side) if max(img.size) > long_side else img


def style_side(size: int, style_scale: float, minimum: int = MIN_SIDE) -> int:
    """Long side of the style images for an output of long side ``size``: ``size * style_scale``,
    at least ``minimum``."""
    return max(minimum, round(size * style_scale))


def to_tensor(img: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> float tensor 1x3xHxW in 0..1."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(t: torch.Tensor) -> Image.Image:
    """Float tensor (1x)3xHxW in 0..1 -> 8-bit RGB PIL image (values clipped)."""
    if t.ndim == 4:
        t = t[0]
    arr = (t.detach().float().clamp(0, 1).permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5).astype(np.uint8)
    return Image.fromarray(arr, "RGB")


FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF"}  # outputs
# files taken as images when scanning folders (library, training data, study): what Pillow reads
# and uploads accept (see web.uploads.FORMATS), outputs included
IMAGE_SUFFIXES = frozenset({*FORMATS, ".bmp", ".gif"})


def _save_args(img: Image.Image, fmt: str, metadata: dict[str, Any] | None) -> tuple[Image.Image, dict[str, Any]]:
    """The image to save in ``fmt`` and Pillow's save options (PNG metadata chunk, JPEG quality)."""
    kwargs: dict[str, Any] = {}
    if fmt == "PNG" and metadata:
        info = PngImagePlugin.PngInfo()
        info.add_text("atelier", json.dumps(metadata, default=str))
        kwargs["pnginfo"] = info
    if fmt == "JPEG":
        img = img.convert("RGB")
        kwargs["quality"] = 95
    return img, kwargs


def encode_png(img: Image.Image, metadata: dict[str, Any] | None = None) -> bytes:
    """``img`` as PNG bytes, with ``metadata`` as an ``atelier`` text chunk (as :func:`save_image` writes)."""
    img, kwargs = _save_args(img, "PNG", metadata)
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kwargs)
    return buf.getvalue()


def sidecar_path(path: str | os.PathLike) -> Path:
    """Where the metadata of result ``path`` goes: ``PATH.json`` (``o.png`` -> ``o.png.json``)."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def save_image(img: Image.Image, path: str | os.PathLike, metadata: dict[str, Any] | None = None,
               sidecar: bool = False) -> Path:
    """Write ``img`` atomically to ``path``; PNGs get ``metadata`` as an ``atelier`` text chunk.

    ``sidecar``: also write ``metadata`` to :func:`sidecar_path`, in the same atomic step (both
    files appear, or neither). Raises ``UsageError`` if the directory does not exist and
    ``AtelierError`` if it cannot be written.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError(f"output directory does not exist: {parent}")
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise UsageError(f"unsupported output format {ext or '(none)'!r}; use one of {', '.join(FORMATS)}")
    img, kwargs = _save_args(img, FORMATS[ext], metadata)
    targets = [sidecar_path(path), path] if sidecar else [path]  # the sidecar first: no result without it
    with atomic_files(*targets) as temps:
        if sidecar:
            temps[0].write_text(json.dumps(metadata or {}, indent=2, default=str), encoding="utf-8")
        with open(temps[-1], "wb") as fh:
            img.save(fh, format=FORMATS[ext], **kwargs)
    return path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` atomically (temp file + rename), readable by all; ``AtelierError`` on failure."""
    path = Path(path)
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> Path:
    """Write ``data`` as JSON atomically (temp file + rename)."""
    return write_text(path, json.dumps(data, indent=2, default=str))
