"""The studio offers the starter paintings by name; --size means the output's long side there too."""

from __future__ import annotations

import io
import json
import time
import warnings

import pytest
from PIL import Image

with warnings.catch_warnings():  # starlette deprecates its httpx-based client on import; it still works
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from atelier.io import starter
from atelier.web.app import create_app
from atelier.web.config import ServeOptions


@pytest.fixture
def client(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no style library of the user's
    monkeypatch.setenv("ATELIER_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ATELIER_LIBRARY", raising=False)
    with TestClient(create_app(ServeOptions(host="0.0.0.0"), workdir=tmp_path / "web")) as c:
        yield c


def test_style_picker_offers_starter_paintings_and_starter_library(client):
    caps = client.get("/api/capabilities").json()
    styles = caps["samples"]["styles"]
    assert styles[: len(starter.slugs())] == starter.slugs() and "swirl" in styles
    assert caps["samples"]["credits"]["starry-night"] == "Vincent van Gogh, The Starry Night (1889)"
    lib = caps["features"]["library"]
    assert lib["available"] and lib["starter"] and lib["size"] == len(starter.paintings())
    r = client.get("/api/samples/great-wave.jpg")
    assert r.status_code == 200 and max(Image.open(io.BytesIO(r.content)).size) == 160


def test_job_with_a_named_painting_upscales_to_the_size_asked(client):
    body = {"content": "sample:coffee", "styles": ["sample:starry-night"], "method": "adain", "size": 720}
    job = client.post("/api/jobs", json=body).json()  # the coffee sample is 600 x 400
    deadline = time.monotonic() + 120
    while job["state"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    assert job["state"] == "done", job
    img = Image.open(io.BytesIO(client.get(job["results"][0]).content))
    assert img.size == (720, 480)
    assert any("larger than the photo (600x400)" in n for n in job["notes"])
    assert json.loads(img.text["atelier"])["styles"] == ["sample:starry-night"]
