"""The FastAPI application behind ``atelier serve``: one static page plus a small JSON API.

Routes (every error is JSON ``{"detail": "<one line>"}`` with a 4xx status):

``GET  /``                                the studio page (static/index.html)
``GET  /api/capabilities``                methods, optional features, limits, presets, samples
``GET  /api/samples/{name}.jpg``          thumbnail of a built-in sample image
``POST /api/uploads``                     multipart ``file`` -> ``{id, name, width, height, format}``
``POST /api/jobs``                        start a stylization (:class:`JobRequest`) -> job snapshot
``GET  /api/jobs/{id}``                   state, queue position, progress, ETA, results, notes, error
``POST /api/jobs/{id}/cancel``            cancel (waiting: at once; running: at its next step)
``GET  /api/jobs/{id}/preview.jpg``       latest intermediate image of a running job
``GET  /api/jobs/{id}/result/{i}.png``    result ``i`` (PNG with metadata); ``?download=1``: attachment
``GET  /api/history``                     this browser session's jobs, newest first
``POST /api/library/search``              nearest library artworks of a style (see :mod:`.features`)
``GET  /api/library/thumb/{id}.jpg``      thumbnail of an artwork returned by a search
``POST /api/portrait/mask``               person/face mask preview of a content image

A browser session is a random id in an HTTP-only cookie. Uploads and results live in one
temporary directory that is deleted when the server stops.
"""

from __future__ import annotations

import contextlib
import io
import re
import secrets
import shutil
from pathlib import Path
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from .. import samples
from ..errors import UsageError
from ..options import COLOR_MODES, PRESETS
from .config import QUALITY, JobSettings, ServeOptions, style_options
from .features import add_feature_routes
from .jobs import DONE
from .studio import Studio, sample_thumbnail
from .tasks import feedforward_job, gatys_job, library_job, refine_options
from .uploads import UploadError

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "atelier_session"
_SESSION = re.compile(r"[0-9a-f]{32}")
SECURITY_HEADERS = {
    # everything comes from this server: no CDN, no inline script
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class AugmentRequest(BaseModel):
    """Style-library augmentation of a job: the chosen artworks, optionally as ``variants``."""

    neighbours: list[int] = Field(default_factory=list, max_length=16)  # library ids from a search
    search_k: int = Field(default=12, ge=1, le=48)                      # k of that search
    query_weight: float = Field(default=0.5, gt=0, le=1)
    recolor: bool = True
    variants: int = Field(default=0, ge=0, le=8)  # > 0: this many results, each from a subset of neighbours


class JobRequest(BaseModel):
    """Body of ``POST /api/jobs``. Images are ``upload:<id>`` or ``sample:<name>``."""

    content: str
    styles: list[str] = Field(min_length=1, max_length=8)
    method: str = "gatys"
    quality: str = "balanced"
    size: Optional[int] = None
    iterations: Optional[int] = Field(default=None, ge=1, le=2000)
    strength: float = 1.0
    color: str = "none"
    seed: int = Field(default=0, ge=0, le=2**31 - 1)
    look: str = "classic"
    portrait: bool = False
    augment: Optional[AugmentRequest] = None
    refine: Optional[str] = None  # id of an earlier job whose result starts the optimization


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(opts: Optional[ServeOptions] = None, workdir: Optional[Path] = None) -> FastAPI:
    """Build the app. Uploads and results go under ``workdir`` (default: a new temp dir, deleted at shutdown)."""
    studio = Studio(opts or ServeOptions(), workdir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        studio.close()

    app = FastAPI(title="Atelier studio", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio

    @app.middleware("http")
    async def session_and_headers(request: Request, call_next):
        sid = request.cookies.get(SESSION_COOKIE, "")
        fresh = not _SESSION.fullmatch(sid)
        request.state.session = secrets.token_hex(16) if fresh else sid
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        if fresh:
            response.set_cookie(SESSION_COOKIE, request.state.session, httponly=True, samesite="strict")
        return response

    @app.exception_handler(UsageError)
    async def usage_error(request: Request, exc: UsageError):
        return _error(getattr(exc, "status", 400), str(exc))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error(400, f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request")

    # --- page and reference data -----------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/capabilities")
    async def get_capabilities() -> dict[str, Any]:
        o = studio.opts
        return {
            **studio.caps,
            "limits": {"max_upload_mb": o.max_upload_mb, "max_pixels": o.max_pixels,
                       "max_size": o.max_size, "concurrency": o.concurrency},
            "quality": QUALITY, "looks": list(PRESETS), "colors": list(COLOR_MODES),
            "samples": {"contents": list(samples.CONTENTS), "styles": list(samples.STYLES)},
        }

    @app.get("/api/samples/{name}.jpg")
    def get_sample(name: str) -> Response:
        return Response(sample_thumbnail(name), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})

    # --- uploads ---------------------------------------------------------------------
    @app.post("/api/uploads")
    async def post_upload(request: Request) -> dict[str, Any]:
        uploads = studio.uploads
        declared = int(request.headers.get("content-length") or 0)
        if declared > uploads.max_bytes + 64_000:  # refuse before reading the body
            raise uploads.too_big(declared)
        form = await request.form(max_files=1, max_fields=1)
        chunks, n = [], 0
        try:
            file = form.get("file")
            if file is None or isinstance(file, str):
                raise UploadError("no file in the upload (expected form field 'file')")
            while chunk := await file.read(1 << 20):
                n += len(chunk)
                if n > uploads.max_bytes:
                    raise uploads.too_big(n)
                chunks.append(chunk)
        finally:
            await form.close()  # deletes the spooled temporary file
        up = uploads.add(b"".join(chunks), file.filename)
        return {"id": up.id, "name": up.name, "width": up.width, "height": up.height, "format": up.format}

    # --- jobs ------------------------------------------------------------------------
    @app.post("/api/jobs")
    def post_job(req: JobRequest, request: Request) -> dict[str, Any]:
        caps = studio.caps
        if req.method not in caps["methods"]:
            raise UsageError(f"method {req.method!r} is not available; choose from {', '.join(caps['methods'])}")
        settings = JobSettings(**req.model_dump(include=set(JobSettings.__dataclass_fields__)))
        sopts = style_options(settings, studio.opts.max_size)
        content, content_name = studio.resolve(req.content)
        styles = [studio.resolve(r) for r in req.styles]
        images = [s for s, _ in styles]
        extra = {"content": content_name, "styles": [n for _, n in styles], "interface": "web"}
        info = {"method": req.method, "quality": req.quality, "size": sopts.size, "iterations": sopts.iterations,
                "strength": req.strength, "color": req.color, "seed": req.seed, "look": req.look,
                "content": content_name, "styles": extra["styles"], "portrait": req.portrait}
        out = studio.results
        if req.method in caps["feedforward"]:
            if req.portrait or req.augment or req.refine:
                raise UsageError(f"{req.method} runs in one pass: portrait mode, the style library and refining "
                                 "need the gatys method")
            alpha = min(1.0, req.strength)  # feed-forward style strength is a blend factor in [0, 1]
            fn = feedforward_job(content, images, req.method, sopts.size, alpha, req.color, out, extra)
        else:
            sopts = refine_options(sopts, studio.refine_source(req.refine, request.state.session))
            if req.refine:
                info["refines"] = req.refine
            if req.portrait and not caps["features"]["portrait"]["available"]:
                raise UsageError("portrait mode is not available in this installation")
            if req.augment is None:
                fn = gatys_job(content, images, sopts, out, extra, portrait=req.portrait)
            else:
                fn = augmented_or_variants(req, content, images, sopts, extra, info)
        job = studio.queue.submit(fn, owner=request.state.session, label=f"{req.method} · {content_name}", info=info)
        return studio.snapshot(job)

    def augmented_or_variants(req: JobRequest, content, images, sopts, extra, info):
        a = req.augment
        if req.portrait:
            raise UsageError("portrait mode and the style library cannot be combined yet: turn one of them off")
        if len(images) != 1:
            raise UsageError("the style library augments exactly one style image: remove the others")
        info["augment"] = a.model_dump()
        return library_job(content, images[0], sopts, studio.results, extra, studio.library_path(), a.neighbours,
                           a.search_k, a.query_weight, a.recolor, a.variants)

    @app.get("/api/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        return studio.snapshot(studio.job(job_id))

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict[str, Any]:
        job = studio.job(job_id)
        studio.queue.cancel(job.id)
        return studio.snapshot(job)

    @app.get("/api/jobs/{job_id}/preview.jpg")
    def get_preview(job_id: str) -> Response:
        preview = studio.job(job_id).preview
        if preview is None:
            return _error(404, "no intermediate image yet")
        buf = io.BytesIO()
        preview.save(buf, "JPEG", quality=90)
        return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/jobs/{job_id}/result/{index}.png")
    def get_result(job_id: str, index: int, download: bool = False) -> Response:
        job = studio.job(job_id)
        paths = job.result.paths if job.state == DONE else []
        if not 0 <= index < len(paths) or not paths[index].is_file():
            return _error(404, f"no such result: the job is {job.state}")
        name = f"atelier-{job.id[:8]}" + (f"-{index + 1}" if len(paths) > 1 else "") + ".png"
        return FileResponse(paths[index], media_type="image/png", filename=name if download else None,
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/history")
    def get_history(request: Request) -> list[dict[str, Any]]:
        return [studio.snapshot(j) for j in reversed(studio.queue.jobs(request.state.session))]

    add_feature_routes(app, studio)
    return app
