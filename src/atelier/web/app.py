"""The FastAPI application behind ``atelier serve``: one static page plus a small JSON API.

Routes (every error is JSON ``{"detail": "<one line>"}``, see :mod:`.guard`):

``GET  /``                                the studio page (static/index.html)
``GET  /api/capabilities``                methods, optional features, limits, presets, samples
``GET  /api/samples/{name}.jpg``          thumbnail of a built-in sample image
``POST /api/uploads``                     multipart ``file`` -> ``{id, name, width, height, format}``
``POST /api/jobs``                        start a stylization (:class:`.requests.JobRequest`) -> job snapshot
``GET  /api/jobs/{id}``                   state, queue position, progress, ETA, results, notes, error
``POST /api/jobs/{id}/cancel``            cancel (waiting: at once; running: at its next step)
``GET  /api/jobs/{id}/preview.jpg``       latest intermediate image of a running job
``GET  /api/jobs/{id}/result/{i}.png``    result ``i`` (PNG with metadata); ``?download=1``: attachment
``GET  /api/history``                     this browser session's jobs, newest first
``POST /api/library/search``              nearest library artworks of a style (see :mod:`.features`)
``GET  /api/library/thumb/{id}.jpg``      thumbnail of an artwork returned by a search
``POST /api/portrait/mask``               person/face mask preview of a content image

A browser session is a random id in an HTTP-only cookie. Uploads and results live in one
temporary directory that is deleted when the server stops. :mod:`.guard` refuses cross-site
POSTs, other host names (on localhost), bodies past the limit and slow bodies, and caps the
requests served at once; :class:`.jobs.JobQueue` caps the waiting jobs (429).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from ..base.errors import AtelierError, UsageError
from ..core.options import COLOR_MODES, PRESETS
from . import guard
from .config import QUALITY, ServeOptions
from .features import add_feature_routes
from .jobs import DONE
from .requests import JobRequest, plan_job
from .session import Sessions
from .studio import Studio, sample_names, sample_thumbnail
from .uploads import UploadError

STATIC = Path(__file__).parent / "static"
JSON_BODY_LIMIT = 1_000_000  # bytes of any request body other than an upload


def create_app(opts: ServeOptions | None = None, workdir: Path | None = None) -> FastAPI:
    """Build the app. Uploads and results go under ``workdir`` (default: a new temp dir, deleted at shutdown)."""
    studio = Studio(opts or ServeOptions(), workdir)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        studio.close()

    app = FastAPI(title="Atelier studio", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.studio = studio
    install_guards(app, studio)
    install_error_handlers(app)
    add_page_routes(app, studio)
    add_upload_routes(app, studio)
    add_job_routes(app, studio)
    add_feature_routes(app, studio)
    return app


def install_guards(app: FastAPI, studio: Studio) -> None:
    """Browser sessions, and :mod:`.guard`'s limits: hosts, origins, body sizes, requests at once."""
    app.add_middleware(Sessions)
    upload = guard.BodyLimit(studio.uploads.max_bytes + 64_000,  # the file plus its multipart framing
                             lambda n: str(studio.uploads.too_big(n)))
    guard.install(app, local=studio.opts.is_local, max_requests=studio.opts.max_requests,
                  body_limit=lambda path: upload if path == "/api/uploads" else guard.request_limit(JSON_BODY_LIMIT))


def install_error_handlers(app: FastAPI) -> None:
    """Atelier's errors and invalid request bodies answer JSON ``{"detail": "<one line>"}``."""
    @app.exception_handler(AtelierError)
    async def atelier_error(request: Request, exc: AtelierError):
        status = getattr(exc, "status", 400 if isinstance(exc, UsageError) else 500)
        return guard.json_error(status, str(exc), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return guard.json_error(400, f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request")


def add_page_routes(app: FastAPI, studio: Studio) -> None:
    """The page, its static files, and the reference data it starts from (capabilities, samples)."""
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
            "samples": sample_names(),
        }

    @app.get("/api/samples/{name}.jpg")
    def get_sample(name: str) -> Response:
        return Response(sample_thumbnail(name), media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})


def add_upload_routes(app: FastAPI, studio: Studio) -> None:
    """``POST /api/uploads``: one image file, checked by :class:`.uploads.UploadStore`."""
    @app.post("/api/uploads")
    async def post_upload(request: Request) -> dict[str, Any]:
        uploads = studio.uploads  # the Guard refuses bodies over the limit as they stream in
        form = await request.form(max_files=1, max_fields=1)
        try:
            file = form.get("file")
            if file is None or isinstance(file, str):
                raise UploadError("no file in the upload (expected form field 'file')")
            data = await file.read(uploads.max_bytes + 1)
        finally:
            await form.close()  # deletes the spooled temporary file
        # sniffing and decoding take up to seconds for large images: not on the event loop
        up = await run_in_threadpool(uploads.add, data, file.filename)
        return {"id": up.id, "name": up.name, "width": up.width, "height": up.height, "format": up.format}


def add_job_routes(app: FastAPI, studio: Studio) -> None:
    """Starting, watching and cancelling jobs, their preview and results, and a session's history."""
    @app.post("/api/jobs")
    def post_job(req: JobRequest, request: Request) -> dict[str, Any]:
        fn, info = plan_job(studio, req, request.state.session)
        job = studio.queue.submit(fn, owner=request.state.session, label=f"{req.method} · {info['content']}",
                                  info=info)
        return studio.snapshot(job)

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
            return guard.json_error(404, "no intermediate image (the job is not running)")
        buf = io.BytesIO()
        preview.save(buf, "JPEG", quality=90)
        return Response(buf.getvalue(), media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.get("/api/jobs/{job_id}/result/{index}.png")
    def get_result(job_id: str, index: int, download: bool = False) -> Response:
        job = studio.job(job_id)
        paths = job.result.paths if job.state == DONE else []
        if not 0 <= index < len(paths) or not paths[index].is_file():
            return guard.json_error(404, f"no such result: the job is {job.state}")
        name = f"atelier-{job.id[:8]}" + (f"-{index + 1}" if len(paths) > 1 else "") + ".png"
        return FileResponse(paths[index], media_type="image/png", filename=name if download else None,
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/history")
    def get_history(request: Request) -> list[dict[str, Any]]:
        return [studio.snapshot(j) for j in reversed(studio.queue.jobs(request.state.session))]
