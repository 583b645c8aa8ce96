"""The studio web page: job queue and upload validation (unit), and the real page in headless Chromium."""

from __future__ import annotations

import io
import json
import re
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from playwright.sync_api import expect, sync_playwright

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.core.gatys import Progress
from atelier.core.options import StyleOptions
from atelier.io import samples
from atelier.library.descriptors import DescriptorConfig
from atelier.library.store import StyleLibrary
from atelier.web.app import create_app
from atelier.web.config import QUALITY, JobSettings, ServeOptions, style_options
from atelier.web.features import mask_overlay
from atelier.web.jobs import CANCELLED, DONE, FAILED, RUNNING, Job, JobContext, JobQueue
from atelier.web.server import HEADER_TIMEOUT_S
from atelier.web.tasks import progress_reporter
from atelier.web.uploads import UploadError, UploadStore, display_name, sniff

from _browser import ARGS, chromium
from _live import Served, free_port, wait_for

JOB_TIMEOUT_MS = 90_000  # generous: a 64 px job takes about a second, but the machine is shared


def png_bytes(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


# --- job queue --------------------------------------------------------------------------------
def test_queue_runs_in_order_reports_positions_and_cancels_waiting_jobs():
    queue = JobQueue(concurrency=1)
    release, ran = threading.Event(), []

    def blocker(ctx):
        release.wait(10)
        ran.append("a")
        return "A"

    a = queue.submit(blocker, owner="s1")
    b = queue.submit(lambda ctx: ran.append("b"), owner="s1")
    c = queue.submit(lambda ctx: ran.append("c") or "C", owner="s2")
    wait_for(lambda: a.state == RUNNING)
    assert (queue.position(a), queue.position(b), queue.position(c)) == (0, 1, 2)
    assert queue.snapshot(c.id)["waiting"] == 2 and queue.snapshot(c.id)["running"] == 1
    assert queue.cancel(b.id)
    assert b.state == CANCELLED and queue.position(c) == 1
    release.set()
    wait_for(lambda: c.state == DONE)
    assert ran == ["a", "c"]  # the cancelled job never ran
    assert (a.result, c.result) == ("A", "C")
    assert [j.id for j in queue.jobs("s1")] == [a.id, b.id]
    assert not queue.cancel(a.id)  # finished jobs cannot be cancelled
    queue.shutdown()


def test_queue_cancels_a_running_job_at_its_next_report_and_estimates_time():
    queue = JobQueue(concurrency=1)
    steps = []

    def endless(ctx):
        for i in range(100_000):
            steps.append(i)
            ctx.report(min(i / 1000, 0.99), preview=f"image {i}")
            time.sleep(0.002)

    job = queue.submit(endless)
    wait_for(lambda: len(steps) > 3)
    snap = queue.snapshot(job.id)
    assert snap["state"] == RUNNING and 0 < snap["fraction"] < 1 and snap["eta"] > 0
    assert snap["preview_version"] > 0 and job.preview.startswith("image ")
    queue.cancel(job.id)
    wait_for(lambda: job.state == CANCELLED)
    n = len(steps)
    time.sleep(0.05)
    assert len(steps) == n  # it really stopped
    queue.shutdown()


def test_eta_extrapolates_from_progress_rate():
    job = Job("id", "", "", fn=lambda ctx: None, state=RUNNING, fraction=0.3)
    job._rate_origin = (100.0, 0.1)  # 10% at t=100 s, 30% at t=110 s: 20% per 10 s, 70% to go
    assert job.eta(110.0) == pytest.approx(35.0)
    assert Job("id", "", "", fn=lambda ctx: None).eta(1.0) is None  # queued: unknown


def test_queue_reports_failures_and_keeps_working():
    queue = JobQueue(concurrency=1)

    def bad_input(ctx):
        raise UsageError("style image is empty")

    def bug(ctx):
        raise ValueError("boom")

    a, b = queue.submit(bad_input), queue.submit(bug)
    c = queue.submit(lambda ctx: 42)
    wait_for(lambda: c.state == DONE)
    assert (a.state, a.error) == (FAILED, "style image is empty")
    assert (b.state, b.error) == (FAILED, "ValueError: boom")
    assert c.result == 42
    queue.shutdown()


def test_queue_concurrency_limit_allows_parallel_jobs():
    barrier = threading.Barrier(2, timeout=10)  # both jobs must be running at once to pass it
    queue = JobQueue(concurrency=2)
    jobs = [queue.submit(lambda ctx: barrier.wait()) for _ in range(2)]
    wait_for(lambda: all(j.state in (DONE, FAILED) for j in jobs))
    assert [j.state for j in jobs] == [DONE, DONE]
    queue.shutdown()


def test_queue_forgets_old_finished_jobs_and_discards_them():
    discarded = []
    queue = JobQueue(concurrency=1, max_jobs=2, on_discard=discarded.append)
    jobs = [queue.submit(lambda ctx, i=i: i) for i in range(4)]
    wait_for(lambda: jobs[-1].state == DONE)
    queue.submit(lambda ctx: None)
    assert len(queue.jobs()) <= 2
    assert jobs[0] in discarded and jobs[1] in discarded
    with pytest.raises(KeyError):
        queue.get(jobs[0].id)
    queue.shutdown()


def test_progress_of_several_runs_is_reported_as_one():
    job = Job("id", "", "", fn=lambda ctx: None, state=RUNNING)
    report = progress_reporter(JobContext(job, threading.Lock()), runs=2)
    seen = []
    for _run in range(2):  # two optimizations of 3 evaluations, cost 1 each
        for done in range(1, 4):
            report(Progress(0, 1, done, 3, done, 3, float(done), 3.0, {}, torch.zeros(1, 3, 8, 8)))
            seen.append(job.fraction)
    assert seen == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1.0])
    assert job.preview_version >= 1 and job.preview.size == (8, 8)


def test_mask_overlay_keeps_the_person_and_greys_the_background(content_img):
    h, w = content_img.height, content_img.width
    person = np.zeros((h, w), np.float32)
    person[:, : w // 2] = 1
    out = np.asarray(mask_overlay(content_img, person, np.zeros_like(person)), np.float32)
    src = np.asarray(content_img, np.float32)
    assert np.abs(out[:, : w // 2] - src[:, : w // 2]).max() <= 1  # person untouched
    right = out[:, w // 2:]
    assert np.abs(right - right.mean(axis=2, keepdims=True)).max() <= 1 and right.max() < 110  # dark grey


# --- uploads and settings ---------------------------------------------------------------------------
def test_sniff_checks_content_not_names(content_img):
    assert sniff(png_bytes(content_img, "JPEG"), 10**6) == ("JPEG", *content_img.size)
    with pytest.raises(UploadError, match="not an image"):
        sniff(b"hello, this is text", 10**6)
    with pytest.raises(UploadError, match="empty"):
        sniff(b"", 10**6)
    with pytest.raises(UploadError, match="too many pixels") as exc:
        sniff(png_bytes(Image.new("RGB", (200, 100))), 10_000)
    assert exc.value.status == 413
    with pytest.raises(UploadError, match="cannot be decoded"):
        sniff(png_bytes(content_img)[:600], 10**6)  # truncated
    with pytest.raises(UploadError, match="unsupported image type"):
        sniff(png_bytes(content_img, "PPM"), 10**6)


def test_upload_store_uses_random_ids_and_refuses_traversal(tmp_path, content_img):
    store = UploadStore(tmp_path / "up", max_bytes=200_000, max_pixels=10**6, max_items=2)
    data = png_bytes(content_img)
    ups = [store.add(data, "../../etc/passwd.png") for _ in range(3)]
    assert ups[0].name == "passwd.png"
    assert all(re.fullmatch(r"[0-9a-f]{32}\.png", p.name) for p in (tmp_path / "up").iterdir())
    assert sorted(p.name for p in (tmp_path / "up").iterdir()) == sorted(u.path.name for u in ups[1:])  # oldest evicted
    assert store.load(ups[2].id).size == content_img.size
    for bad in (ups[0].id, "../" + ups[2].id, ups[2].id + "/..", "..", ""):
        with pytest.raises(UploadError, match="unknown or expired") as exc:
            store.get(bad)
        assert exc.value.status == 404
    with pytest.raises(UploadError, match="too large") as exc:
        store.add(b"x" * 200_001)
    assert exc.value.status == 413
    assert display_name("C:\\photos\\me\x00\n.jpg") == "me.jpg" and display_name(None) == "image"


def test_settings_map_quality_presets_and_reject_bad_values():
    opts = style_options(JobSettings(quality="preview"), max_size=1024)
    assert (opts.size, opts.iterations, opts.levels) == tuple(QUALITY["preview"].values())
    opts = style_options(JobSettings(quality="best", size=64, iterations=3, strength=2.0, color="luminance",
                                     seed=7, look="realistic"), max_size=1024)
    assert (opts.size, opts.iterations, opts.levels, opts.strength, opts.color, opts.seed, opts.preset) == \
        (64, 3, 4, 2.0, "luminance", 7, "realistic")
    assert opts.style_weight == StyleOptions().style_weight  # the page's strength is the calibrated knob
    assert style_options(JobSettings(), max_size=1024).loss_weights == StyleOptions().resolved().loss_weights
    for bad, msg in [(dict(quality="ultra"), "unknown quality"), (dict(size=4096), "size must be"),
                     (dict(strength=0), "strength"), (dict(strength=float("nan")), "strength"),
                     (dict(color="sepia"), "colour"), (dict(look="cubist"), "look")]:
        with pytest.raises(UsageError, match=msg):
            style_options(JobSettings(**bad), max_size=1024)
    assert ServeOptions().is_local and ServeOptions(host="::1").is_local and not ServeOptions(host="0.0.0.0").is_local
    with pytest.raises(UsageError, match="concurrency"):
        ServeOptions(concurrency=0).validate()


def test_serve_command_refuses_bad_settings_in_one_line():
    runner = CliRunner()
    r = runner.invoke(main, ["serve", "--concurrency", "0"])
    assert r.exit_code == 2 and r.output.strip().splitlines() == ["atelier: error: concurrency must be >= 1, got 0"]
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = runner.invoke(main, ["serve", "--port", str(busy.getsockname()[1])])
    assert r.exit_code == 2 and "cannot listen on 127.0.0.1" in r.output and "Traceback" not in r.output


# --- a live server -------------------------------------------------------------------------------
class LiveServer(Served):
    """The studio with ``ServeOptions(**options)`` on a free localhost port (Atelier's server settings)."""

    def __init__(self, header_timeout: float = HEADER_TIMEOUT_S, **options):
        port = free_port()
        super().__init__(create_app(ServeOptions(port=port, **options)), port, header_timeout)


@pytest.fixture(scope="module")
def server():
    s = LiveServer(concurrency=1, max_upload_mb=0.2, max_pixels=1_000_000)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium(), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    p = context.new_page()
    errors = []
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    context.close()
    assert errors == []  # no JavaScript errors


@pytest.fixture
def images(tmp_path, content_img, style_img):
    paths = {"content": tmp_path / "photo.png", "style": tmp_path / "swirl.jpg"}
    content_img.save(paths["content"])
    style_img.save(paths["style"])
    return paths


def set_tiny(page, iterations: int = 3, size: int = 64) -> None:
    page.select_option("#quality", "preview")
    page.fill("#size", str(size))
    page.fill("#iterations", str(iterations))


def drop_file(page, selector: str, path: Path) -> None:
    """Drop ``path`` on the element ``selector`` as a browser drag-and-drop would."""
    data = page.evaluate_handle(
        """([bytes, name]) => { const dt = new DataTransfer();
              dt.items.add(new File([new Uint8Array(bytes)], name)); return dt; }""",
        [list(path.read_bytes()), path.name])
    page.dispatch_event(selector, "drop", {"dataTransfer": data})


def result_metadata(page, index: int = 0) -> dict:
    """The metadata record in the PNG the page shows as result ``index``."""
    url = page.eval_on_selector("#result-img", "img => img.src").rsplit("/", 1)[0] + f"/{index}.png"
    with Image.open(io.BytesIO(page.request.get(url).body())) as img:
        return json.loads(img.text["atelier"])


def wait_job(client: httpx.Client, job: dict) -> dict:
    while job["state"] in ("queued", "running"):
        time.sleep(0.1)
        job = client.get(f"/api/jobs/{job['id']}").json()
    return job


def test_api_is_safe_and_cleans_up(content_img, tmp_path):
    s = LiveServer(max_upload_mb=0.2, library=str(tmp_path / "no-library.sqlite"))
    root = s.app.state.studio.root
    with httpx.Client(base_url=s.url) as client:
        r = client.get("/")
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert re.fullmatch(r"[0-9a-f]{32}", client.cookies["atelier_session"])
        r = client.post("/api/uploads", files={"file": ("../../../tmp/evil.png", png_bytes(content_img), "image/png")})
        assert r.status_code == 200 and r.json()["name"] == "evil.png"
        assert [p.name for p in (root / "uploads").iterdir()] == [r.json()["id"] + ".png"]
        assert not Path("/tmp/evil.png").exists()
        r = client.post("/api/uploads", content=b"x" * 300_000,
                        headers={"content-type": "multipart/form-data; boundary=x"})
        assert r.status_code == 413 and "too large" in r.json()["detail"]
        for path in ("/api/jobs/..%2F..%2Fetc%2Fpasswd", "/api/jobs/0/result/0.png", "/api/samples/..%2Fsecret.jpg",
                     "/static/..%2F..%2F__init__.py", "/api/library/thumb/1.jpg"):
            assert client.get(path).status_code == 404
        r = client.post("/api/uploads", files={"file": ("a.png", png_bytes(content_img))},
                        headers={"origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-site" in r.json()["detail"]
        assert client.get("/", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
        r = client.post("/api/jobs", json={"content": "upload:../../etc/passwd", "styles": ["sample:swirl"],
                                           "size": 64, "iterations": 1})
        assert r.status_code == 404 and "unknown or expired upload" in r.json()["detail"]
        r = client.post("/api/jobs", json={"content": "sample:astronaut", "styles": []})
        assert r.status_code == 400 and r.json()["detail"] == "choose at least one style image"
        r = client.post("/api/jobs", json={"content": "sample:astronaut", "styles": ["sample:swirl"], "portrait": True,
                                           "augment": {"neighbours": [1]}})
        assert r.status_code == 400 and "cannot be combined" in r.json()["detail"]
        r = client.post("/api/library/search", json={"style": "sample:swirl"})
        assert r.status_code == 404 and r.json()["detail"].startswith("the style library is not available")
    s.stop()
    assert not root.exists()  # uploads and results deleted at shutdown


# --- the real page in headless Chromium ------------------------------------------------------------
def test_upload_stylize_see_and_download(server, page, images, tmp_path):
    page.goto(server.url)
    page.set_input_files("#content-input", str(images["content"]))
    expect(page.locator("#content-preview")).to_be_visible()
    drop_file(page, "#style-drop", images["style"])  # drag and drop, as from a file manager
    page.locator("#style-samples button[data-sample=mosaic]").click()
    expect(page.locator("#styles-list .chip")).to_have_count(2)
    set_tiny(page)
    page.fill("#seed", "3")
    page.click("#go")
    expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#result-img")).to_have_attribute("src", re.compile(r"/result/0\.png$"))
    assert page.eval_on_selector("#result-img", "img => img.complete && img.naturalWidth") == 64
    expect(page.locator("#history .item img")).to_have_count(1)
    page.screenshot(path=str(tmp_path / "web-page.png"), full_page=True)
    assert (tmp_path / "web-page.png").stat().st_size > 10_000

    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / "download.png"
    info.value.save_as(saved)
    with Image.open(saved) as img:
        assert img.format == "PNG" and max(img.size) == 64
        meta = json.loads(img.text["atelier"])
    assert meta["content"] == "upload:photo.png" and meta["styles"] == ["upload:swirl.jpg", "sample:mosaic"]
    assert meta["options"]["seed"] == 3 and meta["options"]["iterations"] == 3 and meta["interface"] == "web"


def test_bad_uploads_show_a_clear_message(server, page, tmp_path):
    page.goto(server.url)
    text = tmp_path / "notes.png"
    text.write_text("this is not a picture")
    page.set_input_files("#content-input", str(text))
    expect(page.locator("#message")).to_contain_text("notes.png: not an image")
    noise = tmp_path / "noise.png"  # incompressible: about 0.5 MB, over the 0.2 MB limit
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (400, 400, 3), dtype=np.uint8)).save(noise)
    page.set_input_files("#style-input", str(noise))
    expect(page.locator("#message")).to_contain_text("noise.png: file too large")
    huge = tmp_path / "huge.png"  # small file, too many pixels
    Image.new("RGB", (1200, 1000), "white").save(huge)
    page.set_input_files("#style-input", str(huge))
    expect(page.locator("#message")).to_contain_text("too many pixels (1200x1000")
    expect(page.locator("#styles-list .chip")).to_have_count(0)
    expect(page.locator("#content-preview")).to_be_hidden()
    page.click("#go")
    expect(page.locator("#message")).to_contain_text("Choose a photo first")


def test_queue_position_progress_preview_and_cancel(server, browser):
    pages = []
    for _ in range(2):  # two tabs with their own sessions
        context = browser.new_context()
        p = context.new_page()
        p.goto(server.url)
        p.locator("#content-samples button[data-sample=coffee]").click()
        p.locator("#style-samples button[data-sample=swirl]").click()
        pages.append(p)
    long, short = pages
    set_tiny(long, iterations=2000)  # runs until cancelled
    long.click("#go")
    expect(long.locator("#status")).to_have_attribute("data-state", "running", timeout=JOB_TIMEOUT_MS)
    set_tiny(short, iterations=2)
    short.click("#go")
    expect(short.locator("#status")).to_contain_text("Waiting in the queue: position 1 of 1 (1 job running)")
    expect(long.locator("#result-img")).to_have_attribute("src", re.compile(r"/preview\.jpg\?v=\d+$"),
                                                          timeout=JOB_TIMEOUT_MS)
    expect(long.locator("#status")).to_contain_text(re.compile(r"Painting… \d+% — about .+ left"))
    long.click("#cancel")
    expect(long.locator("#status")).to_have_attribute("data-state", "cancelled", timeout=JOB_TIMEOUT_MS)
    expect(short.locator("#status")).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    expect(long.locator("#go")).to_be_enabled()
    expect(long.locator("#history .item")).to_have_count(1)  # sessions see only their own jobs
    expect(short.locator("#history .item img")).to_have_count(1)
    for p in pages:
        p.context.close()


def test_two_concurrent_jobs_both_finish(browser):
    s = LiveServer(concurrency=2)
    pages = []
    for sample in ("astronaut", "chelsea"):
        p = browser.new_context().new_page()
        p.goto(s.url)
        p.locator(f"#content-samples button[data-sample={sample}]").click()
        p.locator("#style-samples button[data-sample=mosaic]").click()
        set_tiny(p, iterations=4)
        pages.append(p)
    for p in pages:
        p.click("#go")
    for p in pages:
        expect(p.locator("#status")).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
        assert p.eval_on_selector("#result-img", "img => img.complete && img.naturalWidth") == 64
        p.context.close()
    s.stop()


def test_portrait_mask_preview_and_portrait_job(server, page):
    page.goto(server.url)
    page.locator("#content-samples button[data-sample=astronaut]").click()
    page.locator("#style-samples button[data-sample=swirl]").click()
    page.click("#mask-preview")
    expect(page.locator("#mask-img")).to_be_visible(timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#mask-info")).to_contain_text(re.compile(r"Person: \d+% of the image, 1 face\(s\) protected"))
    page.check("#portrait")
    set_tiny(page, iterations=2, size=96)
    page.click("#go")
    expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    meta = result_metadata(page)
    assert meta["portrait"]["person_found"] and meta["portrait"]["faces"] == 1 and "fallback" not in meta["portrait"]


def test_refine_starts_from_an_earlier_result_of_the_same_session(server):
    body = {"content": "sample:astronaut", "styles": ["sample:swirl"], "quality": "preview", "size": 64,
            "iterations": 2}
    with httpx.Client(base_url=server.url) as client, httpx.Client(base_url=server.url) as stranger:
        first = wait_job(client, client.post("/api/jobs", json=body).json())
        assert first["state"] == "done" and len(first["results"]) == 1
        r = stranger.post("/api/jobs", json={**body, "refine": first["id"]})
        assert r.status_code == 400 and "only a finished result of this session" in r.json()["detail"]
        r = client.post("/api/jobs", json={**body, "method": "cubism"})
        assert r.status_code == 400 and "method 'cubism' is not available" in r.json()["detail"]
        second = wait_job(client, client.post("/api/jobs", json={**body, "refine": first["id"]}).json())
        assert second["state"] == "done" and second["info"]["refines"] == first["id"]
        with Image.open(io.BytesIO(client.get(second["results"][0]).content)) as img:
            init = Path(json.loads(img.text["atelier"])["options"]["init"])
        assert init.parent == server.app.state.studio.results and init.suffix == ".png"


@pytest.fixture(scope="module")
def library_file(tmp_path_factory) -> Path:
    """A 6-artwork library: three swirls by 'Vortex' and three mosaics by 'Tiler'."""
    root = tmp_path_factory.mktemp("library")
    (root / "art").mkdir()
    for i in range(1, 4):
        samples.style("swirl", size=96, seed=i).save(root / "art" / f"Vortex__swirl {i}.png")
        samples.style("mosaic", size=96, seed=i).save(root / "art" / f"Tiler__mosaic {i}.png")
    with StyleLibrary.open(root / "lib.sqlite", DescriptorConfig(size=64), create=True) as lib:
        lib.update([root / "art"])
    return root / "lib.sqlite"


def test_augmentation_defaults_of_page_and_api_are_augment_options(library_file):
    from atelier.library.augment import AugmentOptions

    s = LiveServer(library=str(library_file))
    with httpx.Client(base_url=s.url, timeout=60) as client:
        caps = client.get("/api/capabilities").json()
        assert caps["features"]["library"]["query_weight"] == AugmentOptions().query_weight  # the page's slider
        job = client.post("/api/jobs", json={"content": "sample:astronaut", "styles": ["sample:swirl"], "size": 64,
                                             "iterations": 1, "quality": "preview", "augment": {"neighbours": [1]}})
        assert job.status_code == 200, job.text
        job = wait_job(client, job.json())
        assert job["state"] == "done", job
        with Image.open(io.BytesIO(client.get(job["results"][0]).content)) as img:
            meta = json.loads(img.text["atelier"])
    s.stop()
    assert meta["augment"]["query_weight"] == AugmentOptions().query_weight  # a request without one gets the same


def test_style_library_search_augment_and_variants(browser, library_file):
    s = LiveServer(library=str(library_file))
    page = browser.new_context().new_page()
    page.goto(s.url)
    expect(page.locator("#library-size")).to_have_text("(6 artworks)")
    page.locator("#content-samples button[data-sample=astronaut]").click()
    page.locator("#style-samples button[data-sample=swirl]").click()
    page.click("#library-search")
    figures = page.locator("#neighbours figure")
    expect(figures).to_have_count(6, timeout=JOB_TIMEOUT_MS)
    captions = figures.locator("figcaption").all_text_contents()
    distances = [float(c.split(" · ")[0]) for c in captions]
    assert distances == sorted(distances)
    assert all("Vortex - Swirl" in c for c in captions[:3])  # the swirls are the nearest
    boxes = figures.locator("input[type=checkbox]")
    for i in range(6):
        boxes.nth(i).set_checked(i < 2)
    chosen = sorted(int(boxes.nth(i).get_attribute("value")) for i in range(2))
    page.check("#augment")
    set_tiny(page, iterations=2)
    page.click("#go")
    expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    meta = result_metadata(page)
    assert meta["method"] == "augmented" and sorted(n["id"] for n in meta["augment"]["neighbours"]) == chosen

    page.fill("#variants", "2")
    page.click("#go")
    expect(page.locator("#status")).to_contain_text("2 variants", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#gallery button")).to_have_count(2)
    page.locator("#gallery button").nth(1).click()
    expect(page.locator("#result-img")).to_have_attribute("src", re.compile(r"/result/1\.png$"))
    used = [[n["id"] for n in result_metadata(page, i)["augment"]["neighbours"]] for i in range(2)]
    assert used[0] != used[1] and all(len(u) == 1 and u[0] in chosen for u in used)

    page.click("#styles-list .chip button")  # replace the style by an artwork of the library itself
    page.set_input_files("#style-input", str(library_file.parent / "art" / "Tiler__mosaic 2.png"))
    page.click("#library-search")
    expect(figures.first.locator("figcaption")).to_have_text("0 · copy of the style", timeout=JOB_TIMEOUT_MS)
    expect(boxes.first).not_to_be_checked()
    page.context.close()
    s.stop()


@pytest.fixture
def untrained_models(tmp_path, monkeypatch):
    """Untrained AdaIN, SANet and Johnson models standing in for shipped ones: they test the page's
    plumbing (method detection, instant job, refine, portrait backend), not any model's quality."""
    from atelier.feedforward import registry, transfer

    torch.manual_seed(0)
    paths = {m: registry.save(registry.build(m), tmp_path / f"{m}.safetensors",
                              {"steps": 0, "style_data": {"image": "data/styles/ann__blue_lines.jpg"}})
             for m in ("adain", "sanet", "johnson")}
    shipped = registry.shipped_path
    monkeypatch.setattr(registry, "shipped_path", lambda method: paths.get(method) or shipped(method))
    transfer.cached_model.cache_clear()
    yield
    transfer.cached_model.cache_clear()


def test_instant_feedforward_result_then_refine_with_optimization(browser, untrained_models):
    s = LiveServer()
    page = browser.new_context().new_page()
    page.goto(s.url)
    expect(page.locator("#method option[value=adain]")).to_have_text("adain (instant)")
    expect(page.locator("#method option[value=ghiasi]")).to_have_text("ghiasi (instant preview, any style)")
    expect(page.locator("#method option[value=johnson]")).to_have_text(
        "johnson (instant, its own style: ann: blue lines)")
    page.locator("#content-samples button[data-sample=astronaut]").click()
    page.locator("#style-samples button[data-sample=swirl]").click()
    page.select_option("#method", "adain")
    set_tiny(page, iterations=2)
    page.click("#go")
    expect(page.locator("#status")).to_have_attribute("data-state", "done", timeout=JOB_TIMEOUT_MS)
    assert result_metadata(page)["method"] == "adain"
    page.click("#refine")
    expect(page.locator("#history .item img")).to_have_count(2, timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#status")).to_have_attribute("data-state", "done")
    meta = result_metadata(page)
    assert meta["method"] == "gatys" and Path(meta["options"]["init"]).parent == s.app.state.studio.results
    expect(page.locator("#refine")).to_be_hidden()
    page.context.close()
    with httpx.Client(base_url=s.url) as client:  # portrait mode with the feed-forward SANet backend
        job = wait_job(client, client.post("/api/jobs", json={
            "content": "sample:astronaut", "styles": ["sample:swirl"], "method": "sanet", "portrait": True,
            "size": 96}).json())
        assert job["state"] == "done", job["error"]
        with Image.open(io.BytesIO(client.get(job["results"][0]).content)) as img:
            portrait = json.loads(img.text["atelier"])["portrait"]
        assert portrait["backend"] == "sanet" and portrait["person_found"]
        job = wait_job(client, client.post("/api/jobs", json={  # and with the pretrained ghiasi
            "content": "sample:astronaut", "styles": ["sample:swirl"], "method": "ghiasi", "portrait": True,
            "size": 96}).json())
        assert job["state"] == "done", job["error"]
        r = client.post("/api/jobs", json={"content": "sample:astronaut", "styles": ["sample:swirl"],
                                           "method": "adain", "portrait": True})
        assert r.status_code == 400 and "portrait mode (except with sanet or ghiasi)" in r.json()["detail"]
        r = client.post("/api/jobs", json={"content": "sample:astronaut", "styles": [], "method": "adain"})
        assert r.status_code == 400 and r.json()["detail"] == "choose at least one style image"
        job = wait_job(client, client.post("/api/jobs", json={  # johnson's style is in its weights
            "content": "sample:astronaut", "styles": [], "method": "johnson", "size": 64}).json())
        assert job["state"] == "done", job["error"]
    s.stop()
