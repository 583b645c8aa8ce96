"""The study's web app (FastAPI): one static page and a small JSON API.

API (respondent ids are opaque strings of 8-64 letters, digits and '-'):
    POST /api/respondent                      -> {"respondent": id}
    GET  /api/next?respondent=ID              -> next unanswered question, or {"done": true}
    GET  /api/image/{index}/{slot}?respondent=ID   slot: content | style | left | right
    POST /api/vote {respondent, question, choice: "left"|"right"}
Images are addressed by question index and side only, never by file path, and which
result is on the left is decided (and remembered) by the server, so the page never
learns which folder an image came from.
"""

from __future__ import annotations

import importlib.resources
import random
import re
import secrets
from typing import Sequence

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response
from pydantic import BaseModel

from ..errors import UsageError
from .questions import Question
from .store import AlreadyVoted, VoteStore

RESPONDENT = re.compile(r"^[A-Za-z0-9-]{8,64}$")


class Vote(BaseModel):
    respondent: str
    question: int
    choice: str


def _static(name: str) -> str:
    return importlib.resources.files("atelier.study").joinpath("static", name).read_text(encoding="utf-8")


def create_app(questions: Sequence[Question], store: VoteStore, title: str = "Which image is better?") -> FastAPI:
    """The study app over ``questions``, storing votes in ``store``."""
    app = FastAPI(title="Atelier study", docs_url=None, redoc_url=None, openapi_url=None)
    names = [q.name for q in questions]
    page = _static("index.html").replace("{{title}}", title)
    script = _static("study.js")

    def check(respondent: str) -> str:
        if not RESPONDENT.match(respondent or ""):
            raise HTTPException(400, "invalid respondent id")
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

    @app.post("/api/respondent")
    def new_respondent() -> dict:
        return {"respondent": secrets.token_hex(16)}

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
        if path is None:
            raise HTTPException(404, "no such image")
        return FileResponse(path, headers={"Cache-Control": "no-store"})

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
