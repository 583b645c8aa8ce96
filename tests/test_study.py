"""The blind A/B study: vote storage, report, API checks, and the real page in headless Chromium."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from PIL import Image

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.evaluation.stats import wilson_ci
from atelier.evaluation.study import respondents
from atelier.evaluation.study.questions import find_questions
from atelier.evaluation.study.report import summarize
from atelier.evaluation.study.store import AlreadyVoted, VoteStore
from atelier.io.images import save_image, write_json
from atelier.web.study import create_app

from _browser import ARGS, chromium
from _live import Served

RED, BLUE = (220, 20, 20), (20, 20, 220)


@pytest.fixture
def study_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Folders A (red results) and B (blue results) with 3 common names and sidecars naming inputs
    (in the folder ``inputs`` beside them)."""
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


def questions(a: Path, b: Path):
    return find_questions(a, b, [a.parent / "inputs"])


def study_client(tmp_path: Path, a: Path, b: Path) -> TestClient:
    return TestClient(create_app(questions(a, b), make_store(tmp_path, a, b, 3)), base_url="http://127.0.0.1:8765")


def test_questions_pair_common_names_and_find_inputs(study_dirs):
    a, b = study_dirs
    qs = questions(a, b)
    assert [q.name for q in qs] == ["r0.png", "r1.png", "r2.png"]
    assert qs[0].content.name == "content.png" and qs[0].style.name == "style.png"
    assert find_questions(a, b)[0].content is None  # inputs outside the folders given are not shown
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
    client = study_client(tmp_path, a, b)
    assert client.get("/api/next", params={"respondent": "x/../y"}).status_code == 400
    rid = client.post("/api/respondent").json()["respondent"]
    q = client.get("/api/next", params={"respondent": rid}).json()
    assert q["total"] == 3 and q["number"] == 1 and "r0" not in json.dumps(q)  # no file names leak
    left = client.get(q["left"])
    assert left.status_code == 200 and left.headers["content-type"] == "image/png"
    assert client.get(f"/api/image/{q['question']}/secret").status_code == 404
    assert client.get("/api/image/99/content").status_code == 404
    with study_client(tmp_path, a, b) as other_browser:
        other = other_browser.post("/api/respondent").json()["respondent"]
    assert client.get(f"/api/image/{q['question']}/left", params={"respondent": other}).status_code == 409
    vote = {"respondent": rid, "question": q["question"], "choice": "left"}
    assert client.post("/api/vote", json=vote).status_code == 200
    assert client.post("/api/vote", json=vote).status_code == 409
    assert client.post("/api/vote", json={**vote, "question": 99}).status_code == 404
    assert client.post("/api/vote", json={**vote, "choice": "both"}).status_code == 400


@pytest.fixture
def server(tmp_path, study_dirs):
    a, b = study_dirs
    store = make_store(tmp_path, a, b, 3)
    served = Served(create_app(questions(a, b), store))
    yield served.url, store
    served.stop()


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
        await page.wait_for_selector(f"body[data-ready='{k + 1}']", state="attached")  # (the CSP forbids eval)
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
            browser = await pw.chromium.launch(executable_path=chromium(), args=ARGS)
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


def test_respondent_ids_are_issued_by_the_server_and_forged_ones_refused(tmp_path, study_dirs):
    a, b = study_dirs
    client = study_client(tmp_path, a, b)
    forged = ["f" * 32, "0123456789abcdef" * 2 + "-" + "0" * 16, "respondent-1"]
    for rid in forged + [f"forged-{i:04d}" for i in range(20)]:
        r = client.get("/api/next", params={"respondent": rid})
        assert r.status_code == 403 and "unknown respondent id" in r.json()["detail"], r.text
        assert client.post("/api/vote", json={"respondent": rid, "question": 0, "choice": "left"}).status_code == 403
    rid = client.post("/api/respondent").json()["respondent"]
    assert client.post("/api/respondent").json()["respondent"] == rid  # the same browser keeps its id
    assert respondents.verify(VoteStore(tmp_path / "votes.sqlite").secret(), rid)
    for _ in range(3):
        q = client.get("/api/next", params={"respondent": rid}).json()
        vote = {"respondent": rid, "question": q["question"], "choice": "left"}
        assert client.post("/api/vote", json=vote).status_code == 200
        assert client.post("/api/vote", json=vote).status_code == 409  # one vote per question
    assert client.get("/api/next", params={"respondent": rid}).json()["done"]
    assert len(VoteStore(tmp_path / "votes.sqlite").votes()) == 3


def test_only_files_under_the_study_folders_are_served(tmp_path, study_dirs):
    a, b = study_dirs
    outside = tmp_path / "private.png"
    save_image(Image.new("RGB", (8, 8), (1, 2, 3)), outside)
    write_json(a / "r0.png.json", {"content": "/etc/passwd", "styles": [str(outside)]})
    write_json(b / "r0.png.json", {"content": "/etc/passwd", "styles": ["../../../etc/passwd"]})
    for folder in (a, b):
        (folder / "link.png").symlink_to(outside)  # a result that is a link out of its folder
    qs = questions(a, b)
    assert [q.name for q in qs] == ["r0.png", "r1.png", "r2.png"]
    assert (qs[0].content, qs[0].style) == (None, None)
    client = TestClient(create_app(qs, make_store(tmp_path, a, b, 3)), base_url="http://127.0.0.1:8765")
    for slot in ("content", "style"):
        assert client.get(f"/api/image/0/{slot}").status_code == 404
    assert client.get("/api/image/1/content").status_code == 200
    rid = client.post("/api/respondent").json()["respondent"]
    while (q := client.get("/api/next", params={"respondent": rid}).json())["question"] != 1:
        client.post("/api/vote", json={"respondent": rid, "question": q["question"], "choice": "left"})
    assert client.get(q["left"]).status_code == 200
    for path in (a / "r1.png", b / "r1.png"):  # swapped for links out while the study runs
        path.unlink()
        path.symlink_to(outside)
    assert client.get(q["left"]).status_code == 404 and client.get(q["right"]).status_code == 404
    os.unlink(a / "link.png")


def test_study_checks_hosts_and_origins_and_sends_the_security_headers(tmp_path, study_dirs):
    a, b = study_dirs
    client = study_client(tmp_path, a, b)
    page = client.get("/")
    for h, v in [("x-content-type-options", "nosniff"), ("x-frame-options", "DENY")]:
        assert page.headers[h] == v
    assert "default-src 'self'" in page.headers["content-security-policy"] and "<style>" not in page.text
    r = client.get("/", headers={"host": "evil.com"})  # DNS rebinding
    assert r.status_code == 400 and r.headers["content-type"] == "application/json"
    rid = client.post("/api/respondent").json()["respondent"]
    r = client.post("/api/vote", json={"respondent": rid, "question": 0, "choice": "left"},
                    headers={"origin": "http://evil.com"})
    assert r.status_code == 403 and "cross-site" in r.json()["detail"]
    for r in (client.get("/nope"), client.post("/api/vote", content=b"x" * 100_000)):
        assert r.status_code in (404, 413) and r.headers["x-content-type-options"] == "nosniff"
        assert "detail" in r.json()
    remote = TestClient(create_app(questions(a, b), make_store(tmp_path, a, b, 3), local=False),
                        base_url="http://study.example")
    assert remote.get("/").status_code == 200  # bound to a LAN address: any host name
