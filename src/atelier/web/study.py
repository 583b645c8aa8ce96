"""The study's web app (FastAPI): one static page and a small JSON API.

API (respondent ids are issued and signed by the server, :mod:`.respondents`; others get 403):
    POST /api/respondent                      -> {"respondent": id} (the browser's own, from its cookie, if it has one)
    GET  /api/next?respondent=ID              -> next unanswered question, or {"done": true}
    GET  /api/image/{index}/{slot}?respondent=ID   slot: content | style | left | right
    POST /api/vote {respondent, question, choice: "left"|"right"}
Images are addressed by question index and side only, never by file path, and which
result is on the left is decided (and remembered) by the server, so the page never
learns which folder an image came from. Files are served only from the folders the
questions were found in (checked again, resolved, on every request). The studio's
:mod:`atelier.web.guard` checks host names and origins, adds the security headers and makes
every error JSON.
"""

from __future__ import annotations

import html
import importlib.resources
import random
import re
from collections.abc import Sequence

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from pydantic import BaseModel

from ..base.errors import UsageError
from ..evaluation.study import respondents
from ..evaluation.study.questions import Question, inside
from ..evaluation.study.store import AlreadyVoted, VoteStore
from . import guard

RESPONDENT = re.compile(r"^[A-Za-z0-9-]{8,64}$")
COOKIE = "atelier_respondent"
BODY_LIMIT = 16_384  # bytes of a request body (a vote is tiny)


class Vote(BaseModel):
    respondent: str
    question: int
    choice: str


def _static(name: str) -> str:
    return importlib.resources.files("atelier.web").joinpath("static", "study", name).read_text(encoding="utf-8")


def create_app(questions: Sequence[Question], store: VoteStore, title: str = "Which image is better?",
               local: bool = True) -> FastAPI:
    """The study app over ``questions``, storing votes in ``store``. ``local``: the server is bound to
    a loopback address (it then answers to loopback host names only)."""
    app = FastAPI(title="Atelier study", docs_url=None, redoc_url=None, openapi_url=None)
    guard.install(app, local=local, body_limit=lambda path: guard.request_limit(BODY_LIMIT))
    names = [q.name for q in questions]
    page = _static("index.html").replace("{{title}}", html.escape(title))
    script, style = _static("study.js"), _static("study.css")
    secret = store.secret()
    folders = sorted({p.parent for q in questions for p in (q.a, q.b, q.content, q.style) if p is not None})

    def check(respondent: str) -> str:
        if not RESPONDENT.match(respondent or ""):
            raise HTTPException(400, "invalid respondent id")
        if not respondents.verify(secret, respondent):
            raise HTTPException(403, "unknown respondent id: ask the server for one (POST /api/respondent)")
        return respondent

    def question(index: int) -> Question:
        if not 0 <= index < len(questions):
            raise HTTPException(404, "no such question")
        return questions[index]

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/study.js")
    def js() -> Response:
        return Response(script, media_type="text/javascript")

    @app.get("/study.css")
    def css() -> Response:
        return Response(style, media_type="text/css")

    @app.post("/api/respondent")
    def new_respondent(request: Request) -> JSONResponse:
        known = request.cookies.get(COOKIE, "")
        rid = known if respondents.verify(secret, known) else respondents.issue(secret)
        response = JSONResponse({"respondent": rid})
        response.set_cookie(COOKIE, rid, max_age=365 * 86400, httponly=True, samesite="strict")
        return response

    @app.get("/api/next")
    def next_question(respondent: str) -> dict:
        check(respondent)
        done = store.answered(respondent)
        todo = [i for i, n in enumerate(names) if n not in done]
        if not todo:
            return {"done": True, "answered": len(done), "total": len(names)}
        i = random.Random(f"{respondent}:{len(done)}").choice(todo)  # stable across reloads
        store.left_side(respondent, names[i])
        q = questions[i]
        base = f"/api/image/{i}"
        return {"done": False, "question": i, "number": len(done) + 1, "total": len(names),
                "left": f"{base}/left?respondent={respondent}", "right": f"{base}/right?respondent={respondent}",
                "content": f"{base}/content" if q.content else None, "style": f"{base}/style" if q.style else None}

    @app.get("/api/image/{index}/{slot}")
    def image(index: int, slot: str, respondent: str = "") -> FileResponse:
        q = question(index)
        if slot in ("content", "style"):
            path = q.content if slot == "content" else q.style
        elif slot in ("left", "right"):
            left = store.shown_left(check(respondent), q.name)
            if left is None:
                raise HTTPException(409, "question not shown to this respondent")
            side = left if slot == "left" else ("b" if left == "a" else "a")
            path = q.a if side == "a" else q.b
        else:
            raise HTTPException(404, "unknown image slot")
        real = None if path is None else inside(path, folders)  # a file swapped for a link out is refused
        if real is None:
            raise HTTPException(404, "no such image")
        return FileResponse(real, headers={"Cache-Control": "no-store"})

    @app.post("/api/vote")
    def vote(v: Vote) -> dict:
        q = question(v.question)
        try:
            store.vote(check(v.respondent), q.name, v.choice)
        except AlreadyVoted:
            raise HTTPException(409, "already answered") from None
        except UsageError as exc:
            raise HTTPException(400, str(exc)) from None
        return {"ok": True}

    return app
