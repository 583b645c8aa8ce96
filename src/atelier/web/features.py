"""Routes of the optional features: style-library search and the portrait mask preview.

Both are interactive look-ups, answered directly (one at a time, under
``Studio.interactive``) rather than queued: a search embeds one image, a mask preview
runs the person segmenter once.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from fastapi import FastAPI, Response
from PIL import Image
from pydantic import BaseModel, Field

from ..base.errors import AtelierError, UsageError
from ..io.images import load_image, shrink_long_side
from .studio import Studio, thumbnail
from .uploads import UploadError


class SearchRequest(BaseModel):
    style: str                                  # upload:<id> or sample:<name>
    k: int = Field(default=12, ge=1, le=48)


class MaskRequest(BaseModel):
    content: str
    size: int = Field(default=512, ge=64, le=8192)


def mask_overlay(img: Image.Image, person: np.ndarray, face: np.ndarray) -> Image.Image:
    """``img`` with the background dimmed to dark grey, the person as is and the face tinted warm."""
    rgb = np.asarray(img.convert("RGB").resize((person.shape[1], person.shape[0]), Image.LANCZOS), np.float32)
    grey = rgb.mean(axis=2, keepdims=True) * 0.25 + 40
    p, f = person[..., None], face[..., None]
    out = p * rgb + (1 - p) * grey
    out = f * (0.7 * out + 0.3 * np.array([255, 140, 60], np.float32)) + (1 - f) * out
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def data_url(img: Image.Image) -> str:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def add_feature_routes(app: FastAPI, studio: Studio) -> None:
    """Register ``/api/library/*`` and ``/api/portrait/*`` on ``app``."""

    @app.post("/api/library/search")
    def library_search(req: SearchRequest) -> dict[str, Any]:
        from ..library.store import StyleLibrary

        path = studio.library_path()
        style, name = studio.resolve(req.style)
        lib_caps = studio.caps["features"]["library"]
        with studio.interactive:
            try:
                lib = StyleLibrary.open(path)
            except UsageError as exc:  # the server's library is at fault, not the request
                raise AtelierError(f"the style library cannot be used: {exc}") from None
            with lib:
                query = lib.describe(style)
                try:
                    hits = lib.search(query, req.k)
                except UsageError as exc:
                    raise AtelierError(f"the style library cannot be searched: {exc}") from None
        found = []
        for h in hits:
            if h.entry.id not in studio.thumbs:
                try:
                    studio.remember_thumb(h.entry.id, thumbnail(load_image(h.entry.path)))
                except UsageError:
                    continue  # the artwork's file is gone or unreadable: not offered
            copy = h.distance < lib_caps["min_distance"]  # the style itself, at another size or format
            found.append({"id": h.entry.id, "label": h.entry.label, "artist": h.entry.artist,
                          "title": h.entry.title, "distance": round(h.distance, 1), "copy": copy,
                          "within": not copy and h.distance <= lib_caps["threshold"],
                          "thumb": f"/api/library/thumb/{h.entry.id}.jpg"})
        return {"style": name, "k": req.k, "threshold": lib_caps["threshold"], "neighbours": found}

    @app.get("/api/library/thumb/{entry_id}.jpg")
    def library_thumb(entry_id: int) -> Response:
        data = studio.thumbs.get(entry_id)
        if data is None:
            raise UploadError("unknown artwork (search the library first)", 404)
        return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    @app.post("/api/portrait/mask")
    def portrait_mask(req: MaskRequest) -> dict[str, Any]:
        if not studio.caps["features"]["portrait"]["available"]:
            raise UploadError("portrait mode is not available in this installation", 404)
        from ..portrait.mode import PortraitOptions, portrait_masks

        size = min(req.size, studio.opts.max_size)
        content, _ = studio.resolve(req.content)
        content = shrink_long_side(content, size)
        with studio.interactive:
            masks = portrait_masks(content, size, PortraitOptions())
        return {**masks.summary(), "image": data_url(mask_overlay(content, masks.person, masks.face))}
