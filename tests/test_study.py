"""The blind A/B study: vote storage, report, API checks, and the real page in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image

from atelier.cli import main
from atelier.images import save_image, write_json
from atelier.stats import wilson_ci
from atelier.study.app import create_app
from atelier.study.questions import find_questions
from atelier.study.report import summarize
from atelier.study.store import AlreadyVoted, VoteStore
from atelier.errors import UsageError

RED, BLUE = (220, 20, 20), (20, 20, 220)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


@pytest.fixture
def study_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Folders A (red results) and B (blue results) with 3 common names and sidecars naming inputs."""
    a, b, inputs = tmp_path / "A", tmp_path / "B", tmp_path / "inputs"
    for d in (a, b, inputs):
        d.mkdir()
    save_image(Image.new("RGB", (40, 30), (120, 160, 90)), inputs / "content.png")
    save_image(Image.new("RGB", (30, 30), (200, 180, 40)), inputs / "style.png")
    for i in range(3):
        for folder, colour in ((a, RED), (b, BLUE)):
            out = folder / f"r{i}.png"
            save_image(Image.new("RGB", (48, 36), colour), out)
            write_json(out.with_name(out.name + ".json"),
                       {"content": str(inputs / "content.png"), "styles": [str(inputs / "style.png")]})
    save_image(Image.new("RGB", (8, 8)), a / "only_in_a.png")
    return a, b


def make_store(tmp_path: Path, a: Path, b: Path, n: int) -> VoteStore:
    store = VoteStore(tmp_path / "votes.sqlite")
    store.bind({"a": str(a), "b": str(b), "label_a": "red", "label_b": "blue", "questions": str(n)})
    return store


def test_questions_pair_common_names_and_find_inputs(study_dirs):
    a, b = study_dirs
    qs = find_questions(a, b)
    assert [q.name for q in qs] == ["r0.png", "r1.png", "r2.png"]
    assert qs[0].content.name == "content.png" and qs[0].style.name == "style.png"
    with pytest.raises(UsageError, match="same folder"):
        find_questions(a, a)
    with pytest.raises(UsageError, match="not a folder"):
        find_questions(a, a.parent / "missing")


def test_store_resolves_sides_and_rejects_bad_votes(tmp_path, study_dirs):
    a, b = study_dirs
    store = make_store(tmp_path, a, b, 3)
    with pytest.raises(UsageError, match="not shown"):
        store.vote("respondent-1", "r0.png", "left")
    left = store.left_side("respondent-1", "r0.png")
    assert store.left_side("respondent-1", "r0.png") == left  # drawn once
    assert store.vote("respondent-1", "r0.png", "right") == ("b" if left == "a" else "a")
    with pytest.raises(AlreadyVoted):
        store.vote("respondent-1", "r0.png", "left")
    with pytest.raises(UsageError, match="left' or 'right"):
        store.vote("respondent-1", "r1.png", "a")
    (respondent, question, choice, created), = store.votes()
    assert (respondent, question) == ("respondent-1", "r0.png") and created.endswith("+00:00")
    with pytest.raises(UsageError, match="other folders"):
        store.bind({"a": "/elsewhere", "b": str(b), "label_a": "x", "label_b": "y", "questions": "3"})


def test_left_right_order_is_random_across_respondents(tmp_path, study_dirs):
    store = make_store(tmp_path, *study_dirs, 3)
    sides = {store.left_side(f"respondent-{i:03d}", "r0.png") for i in range(40)}
    assert sides == {"a", "b"}


def test_api_checks_input(tmp_path, study_dirs):
    a, b = study_dirs
    client = TestClient(create_app(find_questions(a, b), make_store(tmp_path, a, b, 3)))
    assert client.get("/api/next", params={"respondent": "x/../y"}).status_code == 400
    rid = client.post("/api/respondent").json()["respondent"]
    q = client.get("/api/next", params={"respondent": rid}).json()
    assert q["total"] == 3 and q["number"] == 1 and "r0" not in json.dumps(q)  # no file names leak
    left = client.get(q["left"])
    assert left.status_code == 200 and left.headers["content-type"] == "image/png"
    assert client.get(f"/api/image/{q['question']}/secret").status_code == 404
    assert client.get("/api/image/99/content").status_code == 404
    other = "f" * 32
    assert client.get(f"/api/image/{q['question']}/left", params={"respondent": other}).status_code == 409
    vote = {"respondent": rid, "question": q["question"], "choice": "left"}
    assert client.post("/api/vote", json=vote).status_code == 200
    assert client.post("/api/vote", json=vote).status_code == 409
    assert client.post("/api/vote", json={**vote, "question": 99}).status_code == 404
    assert client.post("/api/vote", json={**vote, "choice": "both"}).status_code == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path, study_dirs):
    a, b = study_dirs
    store = make_store(tmp_path, a, b, 3)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(find_questions(a, b), store), host="127.0.0.1", port=port,
                                       log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", store
    srv.should_exit = True
    thread.join(timeout=10)


LEFT_COLOUR = """() => {
  const img = document.getElementById('left');
  const c = document.createElement('canvas'); c.width = img.naturalWidth; c.height = img.naturalHeight;
  const g = c.getContext('2d'); g.drawImage(img, 0, 0);
  return Array.from(g.getImageData(5, 5, 1, 1).data.slice(0, 3));
}"""


async def _respondent(browser, url: str, wants_a: list[bool], shots: Path) -> list[str]:
    """Answer every question: pick A's (red) result where ``wants_a[k]`` else B's (blue)."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(url)
    seen = []
    for k, want_a in enumerate(wants_a):
        await page.wait_for_function(f"document.body.dataset.ready === '{k + 1}'")
        seen.append(await page.evaluate("document.body.dataset.question"))
        r, g, b = await page.evaluate(LEFT_COLOUR)
        left_is_a = r > b
        if k == 0:
            await page.screenshot(path=str(shots))
            assert await page.locator("#content").is_visible() and await page.locator("#style").is_visible()
        await page.click("#pick-left" if left_is_a == want_a else "#pick-right")
    await page.wait_for_selector("#done", state="visible")
    assert "answered" in await page.text_content("#progress")
    await context.close()
    return seen


def test_two_respondents_vote_at_once_in_chromium(server, tmp_path):
    from playwright.async_api import async_playwright

    url, store = server

    async def run():
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            try:
                return await asyncio.gather(
                    _respondent(browser, url, [True, True, True], tmp_path / "study-1.png"),
                    _respondent(browser, url, [True, False, False], tmp_path / "study-2.png"))
            finally:
                await browser.close()

    seen1, seen2 = asyncio.run(run())
    assert sorted(seen1) == sorted(seen2) == ["0", "1", "2"]  # every question once each
    assert Image.open(tmp_path / "study-1.png").size[0] > 0
    votes = store.votes()
    assert len(votes) == 6 and len({v[0] for v in votes}) == 2
    s = summarize(store)
    assert (s.respondents, s.answers, s.prefer_a, s.questions) == (2, 6, 4, 3)
    by_respondent = {}
    for respondent, _, choice, _ in votes:
        by_respondent.setdefault(respondent, []).append(choice)
    assert sorted(sorted(v) for v in by_respondent.values()) == [["a", "a", "a"], ["a", "b", "b"]]

    res = CliRunner().invoke(main, ["study", "report", "--db", str(store.path)])
    assert res.exit_code == 0, res.output
    lo, hi = wilson_ci(4, 6)
    assert "respondents: 2" in res.output and "answers:     6" in res.output
    assert f"prefer A (red): 66.7% (95% CI {lo:.1%} - {hi:.1%})" in res.output
    assert "prefer B (blue): 33.3%" in res.output


def test_cli_study_bad_input(tmp_path, study_dirs):
    a, b = study_dirs
    run = lambda *args: CliRunner().invoke(main, ["study", *args])  # noqa: E731
    empty = tmp_path / "empty"
    empty.mkdir()
    for args, message in [
        (["serve", "--a", str(a), "--b", str(tmp_path / "nope")], "not a folder"),
        (["serve", "--a", str(a), "--b", str(empty)], "no image file name"),
        (["serve", "--a", str(a), "--b", str(b), "--db", str(tmp_path)], "is a folder"),
        (["serve", "--a", str(a), "--b", str(b), "--db", str(tmp_path / "no" / "x.sqlite")], "does not exist"),
        (["serve", "--a", str(a), "--b", str(b), "--port", "0"], "--port"),
        (["report", "--db", str(tmp_path / "missing.sqlite")], "not found"),
    ]:
        res = run(*args)
        assert res.exit_code == 2, (args, res.output)
        assert message in res.output and "Traceback" not in res.output
    not_db = tmp_path / "text.sqlite"
    not_db.write_text("this is not sqlite " * 100)
    res = run("report", "--db", str(not_db))
    assert res.exit_code == 2 and "not a study database" in res.output


def test_report_with_no_votes(tmp_path, study_dirs):
    store = make_store(tmp_path, *study_dirs, 3)
    res = CliRunner().invoke(main, ["study", "report", "--db", str(store.path), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["answers"] == 0 and data["shares"]["a"]["share"] is None
