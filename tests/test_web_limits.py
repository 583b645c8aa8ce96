"""The studio server's limits under hostile but realistic use: queue caps, memory of cancelled jobs,
uploads off the event loop, streamed body limits, slow requests, tiny images, JSON errors everywhere."""

from __future__ import annotations

import gc
import io
import select
import socket
import sqlite3
import threading
import time
import weakref

import httpx
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from atelier.io import samples
from atelier.library.descriptors import DescriptorConfig
from atelier.library.store import StyleLibrary
from atelier.web import guard, uploads
from atelier.web.app import create_app
from atelier.web.config import ServeOptions
from atelier.web.jobs import CANCELLED, RUNNING, JobQueue, QueueFull

from _live import Served, free_port, wait_for

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options")
LONG_JOB = {"content": "sample:astronaut", "styles": ["sample:swirl"], "quality": "preview", "size": 64,
            "iterations": 2000}  # runs until cancelled


def png(size: tuple[int, int], colour="white") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


def assert_json_error(r: httpx.Response, status: int, text: str = "") -> None:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/json", r.headers
    assert text in r.json()["detail"], r.json()
    for h in HEADERS:
        assert h in r.headers, (h, r.headers)


class Studio(Served):
    def __init__(self, header_timeout: float = 10.0, **options):
        port = free_port()
        super().__init__(create_app(ServeOptions(port=port, **options)), port, header_timeout)
        self.studio = self.app.state.studio


# --- the queue (item 6) ---------------------------------------------------------------------------
def test_queue_caps_waiting_jobs_in_all_and_per_owner():
    release = threading.Event()
    queue = JobQueue(concurrency=1, max_waiting=3, max_waiting_per_owner=2)
    running = queue.submit(lambda ctx: release.wait(10), owner="a")
    wait_for(lambda: running.state == RUNNING)
    queue.submit(lambda ctx: None, owner="a")
    queue.submit(lambda ctx: None, owner="a")
    with pytest.raises(QueueFull, match="you already have 2 jobs waiting") as exc:
        queue.submit(lambda ctx: None, owner="a")
    assert exc.value.status == 429 and int(exc.value.headers["Retry-After"]) > 0
    queue.submit(lambda ctx: None, owner="b")
    with pytest.raises(QueueFull, match=r"the queue is full \(3 jobs waiting\)"):
        queue.submit(lambda ctx: None, owner="c")
    release.set()
    queue.shutdown()


def test_cancelling_a_waiting_job_frees_its_inputs():
    release = threading.Event()
    queue = JobQueue(concurrency=1)
    queue.submit(lambda ctx: release.wait(10))
    big = Image.new("RGB", (1024, 1024))
    alive = weakref.ref(big)
    job = queue.submit(lambda ctx, img=big: img.size)  # the job holds its input image, as web jobs do
    del big
    gc.collect()
    assert alive() is not None
    queue.cancel(job.id)
    gc.collect()
    assert job.state == CANCELLED and alive() is None  # freed at once, not when the job is forgotten
    release.set()
    queue.shutdown()


def test_a_full_queue_answers_429_with_retry_after():
    s = Studio(max_waiting=2, max_waiting_per_session=1)
    try:
        with httpx.Client(base_url=s.url) as a, httpx.Client(base_url=s.url) as b, \
                httpx.Client(base_url=s.url) as c:
            first = a.post("/api/jobs", json=LONG_JOB).json()
            wait_for(lambda: a.get(f"/api/jobs/{first['id']}").json()["state"] == "running", 60)
            assert a.post("/api/jobs", json=LONG_JOB).status_code == 200  # waits
            r = a.post("/api/jobs", json=LONG_JOB)
            assert_json_error(r, 429, "you already have 1 jobs waiting")
            assert int(r.headers["retry-after"]) > 0
            assert b.post("/api/jobs", json=LONG_JOB).status_code == 200  # another session: 2 waiting
            r = c.post("/api/jobs", json=LONG_JOB)
            assert_json_error(r, 429, "the queue is full")
            for client in (a, b):
                for job in client.get("/api/history").json():
                    client.post(f"/api/jobs/{job['id']}/cancel")
            assert c.post("/api/jobs", json=LONG_JOB).status_code == 200  # room again
            for job in c.get("/api/history").json():
                c.post(f"/api/jobs/{job['id']}/cancel")
    finally:
        s.stop()


# --- uploads (items 7, 8, 10) ------------------------------------------------------------------------
def test_upload_decoding_runs_off_the_event_loop(monkeypatch):
    """While an upload is being checked, other requests are answered: the check waits until one was."""
    answered, checking = threading.Event(), threading.Event()
    real_sniff = uploads.sniff

    def sniff_after_another_request(data, max_pixels):
        checking.set()
        assert answered.wait(20), "no other request was answered while the upload was checked"
        return real_sniff(data, max_pixels)

    monkeypatch.setattr(uploads, "sniff", sniff_after_another_request)
    s = Studio()
    try:
        result = {}
        thread = threading.Thread(target=lambda: result.update(r=httpx.post(
            f"{s.url}/api/uploads", files={"file": ("big.png", png((2000, 1500)))}, timeout=60)))
        thread.start()
        assert checking.wait(30)
        assert httpx.get(f"{s.url}/api/capabilities", timeout=10).status_code == 200
        answered.set()
        thread.join(60)
        assert result["r"].status_code == 200 and result["r"].json()["width"] == 2000
    finally:
        s.stop()


def chunked_upload(url: str, total: int, chunk: int = 64 * 1024) -> tuple[int, bytes]:
    """POST a multipart upload of ``total`` bytes with chunked transfer encoding (no Content-Length),
    stopping as soon as the server answers; returns (bytes sent, response)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(b"POST /api/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=xyz\r\n\r\n")
        head = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        sent, block = 0, b"\x89PNG" + b"x" * (chunk - 4)
        data = head
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered before the body was complete
            piece = data + block
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent, data = sent + len(piece), b""
        response = b""
        try:
            while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
                part = sock.recv(65536)
                if not part:
                    break
                response += part
        except ConnectionResetError:
            pass
    return sent, response


def test_a_chunked_body_is_refused_as_it_streams():
    s = Studio(max_upload_mb=0.2)
    try:
        sent, response = chunked_upload(s.url, total=200_000_000)
        head, _, body = response.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 413"), response[:300]
        assert b"file too large" in body and b"x-content-type-options: nosniff" in head.lower()
        assert sent < 50_000_000  # refused near the limit, not after reading (and spooling) 200 MB
        r = httpx.post(f"{s.url}/api/jobs", content=(b"x" * 100_000 for _ in range(20)),  # 2 MB of JSON, chunked
                       headers={"content-type": "application/json"})
        assert_json_error(r, 413, "request too large")
    finally:
        s.stop()


def test_too_small_or_too_thin_images_are_refused_at_once():
    s = Studio()
    try:
        with httpx.Client(base_url=s.url) as client:
            for size, text in [((1, 1), "1x1 pixels: each side must be at least 16"), ((5, 5000), "5x5000 pixels")]:
                r = client.post("/api/uploads", files={"file": ("x.png", png(size))})
                assert_json_error(r, 400, text)
            thin = client.post("/api/uploads", files={"file": ("thin.png", png((20, 2000)))}).json()
            for method in ("gatys", "adain"):
                r = client.post("/api/jobs", json={"content": f"upload:{thin['id']}", "styles": ["sample:swirl"],
                                                   "size": 64, "method": method})
                assert_json_error(r, 400, "content image is 20x2000 pixels: at 64 px on the long side")
            r = client.post("/api/jobs", json={"content": "sample:astronaut", "styles": [f"upload:{thin['id']}"],
                                               "size": 64})
            assert_json_error(r, 400, "style image is 20x2000")
            assert client.get("/api/history").json() == []  # nothing was queued
    finally:
        s.stop()


# --- slow requests and concurrency (item 9) --------------------------------------------------------------
def test_slow_partial_requests_are_timed_out(monkeypatch):
    monkeypatch.setattr(guard, "IDLE_TIMEOUT_S", 1.0)
    s = Studio(header_timeout=1.0)
    host, port = "127.0.0.1", int(s.url.rsplit(":", 1)[1])
    try:
        headers = [socket.create_connection((host, port), timeout=30) for _ in range(20)]
        bodies = [socket.create_connection((host, port), timeout=30) for _ in range(5)]
        for sock in headers:
            sock.sendall(b"GET /api/capabilities HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for sock in bodies:
            sock.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n{")
        end = time.monotonic() + 30
        open_ = set(headers + bodies)
        answers = {}
        while open_ and time.monotonic() < end:
            for sock in list(open_):
                try:
                    if sock in headers:
                        sock.sendall(b"X-Slow: 1\r\n")  # a header line now and then: never complete
                    ready = select.select([sock], [], [], 0)[0]
                    data = sock.recv(4096) if ready else None
                except (BrokenPipeError, ConnectionResetError):
                    data = b""
                if data is not None:
                    answers[sock] = answers.get(sock, b"") + data
                    if not data:
                        open_.discard(sock)
            time.sleep(0.3)
        assert not open_, f"{len(open_)} slow connections still open after 30 s"
        for sock in bodies:
            assert answers[sock].startswith(b"HTTP/1.1 408"), answers[sock][:200]
        for sock in headers + bodies:
            sock.close()
        assert httpx.get(f"{s.url}/api/capabilities").status_code == 200  # still serving
    finally:
        s.stop()


def test_requests_past_the_concurrency_limit_wait_then_are_answered_503(monkeypatch):
    monkeypatch.setattr(guard, "BUSY_WAIT_S", 0.5)
    s = Studio(max_requests=2)
    host, port = "127.0.0.1", int(s.url.rsplit(":", 1)[1])
    try:
        hanging = [socket.create_connection((host, port), timeout=30) for _ in range(2)]
        for sock in hanging:  # in the app, waiting for a body that does not come
            sock.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n")
        wait_for(lambda: httpx.get(f"{s.url}/api/capabilities").status_code == 503, 10)
        r = httpx.get(f"{s.url}/api/capabilities")
        assert_json_error(r, 503, "busy")
        assert r.headers["retry-after"] == str(guard.RETRY_AFTER_S)
        monkeypatch.setattr(guard, "BUSY_WAIT_S", 30.0)
        waiting = threading.Thread(target=lambda: result.append(httpx.get(f"{s.url}/api/capabilities", timeout=60)))
        result: list = []
        waiting.start()  # waits for a turn ...
        time.sleep(0.2)
        for sock in hanging:
            sock.close()
        waiting.join(30)
        assert result[0].status_code == 200  # ... and gets one when the hanging requests go
    finally:
        s.stop()


# --- every error is JSON with the security headers (items 5 and the rest) ------------------------------------
def test_every_error_is_json_with_the_security_headers():
    app = create_app(ServeOptions())

    @app.get("/api/test-bug")
    def bug() -> dict:
        raise ZeroDivisionError("a bug")

    with TestClient(app, base_url="http://127.0.0.1:7860", raise_server_exceptions=False) as client:
        assert_json_error(client.get("/api/test-bug"), 500, "internal error (ZeroDivisionError)")
        assert_json_error(client.get("/no/such/route"), 404)
        assert_json_error(client.delete("/api/capabilities"), 405)
        assert_json_error(client.get("/", headers={"host": "evil.example"}), 400, "unknown host")
        assert_json_error(client.post("/api/jobs", json={}, headers={"origin": "http://evil.example"}), 403)
        assert_json_error(client.post("/api/jobs", content=b"{not json", headers={"content-type": "application/json"}),
                          400)
        assert_json_error(client.post("/api/jobs", content=b"x" * 2_000_000), 413)
        assert_json_error(client.get("/api/jobs/nope"), 404, "unknown job")
        ok = client.get("/")
        assert ok.status_code == 200 and all(h in ok.headers for h in HEADERS)


def test_a_damaged_library_search_answers_json(tmp_path):
    (tmp_path / "art").mkdir()
    for i in range(3):
        samples.style("swirl", size=64, seed=i).save(tmp_path / "art" / f"a{i}.png")
    db = tmp_path / "lib.sqlite"
    with StyleLibrary.open(db, DescriptorConfig(size=64), create=True) as lib:
        lib.update([tmp_path / "art"])
    app = create_app(ServeOptions(library=str(db)))
    with sqlite3.connect(db) as conn:  # damaged after the server started
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'artworks'").fetchone()[0]
    conn.close()
    with open(db, "r+b") as fh:
        fh.seek((root - 1) * page)
        fh.write(b"\xff" * page)
    with TestClient(app, base_url="http://127.0.0.1:7860", raise_server_exceptions=False) as client:
        r = client.post("/api/library/search", json={"style": "sample:swirl", "k": 2})
        assert_json_error(r, 500, "damaged or unreadable")
