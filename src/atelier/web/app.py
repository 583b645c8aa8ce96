"""The FastAPI application behind ``atelier serve``: one static page plus a small JSON API.

Routes (all JSON errors are ``{"detail": "<one line>"}``):

``GET  /``                              the studio page (static/index.html)
``GET  /api/capabilities``              methods, optional features present, limits, presets, samples
``GET  /api/samples/{name}.jpg``        thumbnail of a built-in sample image
``POST /api/uploads``                   multipart ``file`` -> ``{id, name, width, height, format}``
``POST /api/jobs``                      start a stylization -> a job snapshot
``GET  /api/jobs/{id}``                 state, queue position, progress, ETA, error
``POST /api/jobs/{id}/cancel``          cancel (queued: at once; running: at its next step)
``GET  /api/jobs/{id}/preview.jpg``     latest intermediate image of a running job
``GET  /api/jobs/{id}/result.png``      the result (PNG with metadata); ``?download=1`` as attachment
``GET  /api/history``                   this browser session's jobs, newest first

A browser session is a random id in an HTTP-only cookie. Uploads and results live in one
temporary directory that is deleted when the server stops.
"""

from __future__ import annotations

import contextlib
import functools
import io
import re
import secrets
import shutil
import tempfile
from pathlib import Path
from typing import Any, Optional

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from pydantic import BaseModel, Field

from .. import samples
from ..errors import UsageError
from ..images import resize_long_side
from ..options import COLOR_MODES, PRESETS
from . import capabilities
from .config import QUALITY, JobSettings, ServeOptions, style_options
from .jobs import DONE, Job, JobQueue
from .tasks import gatys_job
from .uploads import UploadError, UploadStore

STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "atelier_session"
_SESSION = re.compile(r"[0-9a-f]{32}")
SECURITY_HEADERS = {
    # everything comes from this server: no CDN, no inline script
    "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class JobRequest(BaseModel):
    """Body of ``POST /api/jobs``. Inputs are ``upload:<id>`` or ``sample:<name>``."""

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


@functools.lru_cache(maxsize=None)
def sample_image(name: str) -> Image.Image:
    """A built-in sample (content photo or procedural style) by name; ``UsageError`` if unknown."""
    if name in samples.CONTENTS:
        return samples.content(name)
    if name in samples.STYLES:
        return samples.style(name, size=512)
    raise UsageError(f"unknown sample {name!r}")


@functools.lru_cache(maxsize=None)
def sample_thumbnail(name: str) -> bytes:
    buf = io.BytesIO()
    resize_long_side(sample_image(name), 160).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status)


def create_app(opts: Optional[ServeOptions] = None, workdir: Optional[Path] = None) -> FastAPI:
    """Build the app. Uploads and results go under ``workdir`` (default: a new temp dir, deleted at shutdown)."""
    opts = (opts or ServeOptions()).validate()
    own_dir = workdir is None
    root = Path(tempfile.mkdtemp(prefix="atelier-web-")) if own_dir else Path(workdir)
    results = root / "results"
    results.mkdir(parents=True, exist_ok=True)
    uploads = UploadStore(root / "uploads", opts.max_bytes, opts.max_pixels)

    def discard(job: Job) -> None:
        if isinstance(job.result, Path):
            job.result.unlink(missing_ok=True)

    queue = JobQueue(opts.concurrency, opts.max_jobs, on_discard=discard)
    caps = capabilities.detect()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        queue.shutdown()
        if own_dir:
            shutil.rmtree(root, ignore_errors=True)

    app = FastAPI(title="Atelier studio", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.queue, app.state.uploads, app.state.root = queue, uploads, root

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

    def job_or_404(job_id: str) -> Job:
        try:
            return queue.get(job_id)
        except KeyError:
            raise UploadError("unknown job (finished jobs are kept for a limited time)", 404) from None

    # --- page and reference data -----------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/capabilities")
    async def get_capabilities() -> dict[str, Any]:
        return {
            **caps,
            "limits": {"max_upload_mb": opts.max_upload_mb, "max_pixels": opts.max_pixels,
                       "max_size": opts.max_size, "concurrency": opts.concurrency},
            "quality": QUALITY, "looks": list(PRESETS), "colors": list(COLOR_MODES),
            "samples": {"contents": list(samples.CONTENTS), "styles": list(samples.STYLES)},
        }

    @app.get("/api/samples/{name}.jpg")
    def get_sample(name: str) -> Response:
        return Response(sample_thumbnail(name), media_type="image/jpeg",
                        headers={"Cache-Control": "max-age=3600"})

    # --- uploads ---------------------------------------------------------------------
    @app.post("/api/uploads")
    async def post_upload(request: Request) -> dict[str, Any]:
        declared = int(request.headers.get("content-length") or 0)
        if declared > uploads.max_bytes + 64_000:  # refuse before reading the body
            raise uploads.too_big(declared)
        form = await request.form(max_files=1, max_fields=1)
        file = form.get("file")
        if file is None or isinstance(file, str):
            raise UploadError("no file in the upload (expected form field 'file')")
        chunks, n = [], 0
        try:
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
    def resolve(ref: str) -> tuple[Image.Image, str]:
        kind, _, name = ref.partition(":")
        if kind == "upload":
            return uploads.load(name), f"upload:{uploads.get(name).name}"
        if kind == "sample":
            return sample_image(name), f"sample:{name}"
        raise UsageError(f"bad image reference {ref!r} (expected upload:ID or sample:NAME)")

    def snapshot(job: Job) -> dict[str, Any]:
        snap = queue.snapshot(job.id)
        base = f"/api/jobs/{job.id}"
        snap["preview_url"] = f"{base}/preview.jpg?v={snap['preview_version']}" if snap["preview_version"] else None
        snap["result_url"] = f"{base}/result.png" if snap["state"] == DONE else None
        snap["download_url"] = f"{base}/result.png?download=1" if snap["state"] == DONE else None
        return snap

    @app.post("/api/jobs")
    def post_job(req: JobRequest, request: Request) -> dict[str, Any]:
        if req.method not in caps["methods"]:
            raise UsageError(f"method {req.method!r} is not available; choose from {', '.join(caps['methods'])}")
        settings = JobSettings(**req.model_dump(exclude={"content", "styles", "method"}))
        sopts = style_options(settings, opts.max_size)
        content, content_name = resolve(req.content)
        styles = [resolve(r) for r in req.styles]
        out = results / f"{secrets.token_hex(16)}.png"
        extra = {"content": content_name, "styles": [n for _, n in styles], "interface": "web"}
        fn = gatys_job(content, [s for s, _ in styles], sopts, out, extra)
        info = {"method": req.method, "quality": req.quality, "size": sopts.size, "iterations": sopts.iterations,
                "strength": req.strength, "color": req.color, "seed": req.seed, "look": req.look,
                "content": content_name, "styles": extra["styles"]}
        job = queue.submit(fn, owner=request.state.session, label=f"{req.method} · {content_name}", info=info)
        return snapshot(job)

    @app.get("/api/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        return snapshot(job_or_404(job_id))

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict[str, Any]:
        job = job_or_404(job_id)
        queue.cancel(job.id)
        return snapshot(job)

    @app.get("/api/jobs/{job_id}/preview.jpg")
    def get_preview(job_id: str) -> Response:
        preview = job_or_404(job_id).preview
        if preview is None:
            return _error(404, "no intermediate image yet")
        buf = io.BytesIO()
        preview.save(buf, "JPEG", quality=90)
        return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/jobs/{job_id}/result.png")
    def get_result(job_id: str, download: bool = False) -> Response:
        job = job_or_404(job_id)
        if job.state != DONE or not isinstance(job.result, Path) or not job.result.is_file():
            return _error(404, f"no result: the job is {job.state}")
        name = f"atelier-{job.id[:8]}.png"
        return FileResponse(job.result, media_type="image/png",
                            filename=name if download else None,
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/history")
    def get_history(request: Request) -> list[dict[str, Any]]:
        return [snapshot(j) for j in reversed(queue.jobs(request.state.session))]

    return app
