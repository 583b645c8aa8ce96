"""The command line: real runs, and one clear line + exit code for every bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from atelier.cli import main

TINY = ["--size", "64", "--iterations", "2", "--levels", "1", "-q"]


@pytest.fixture(scope="module")
def files(tmp_path_factory, content_img, style_img):
    d = tmp_path_factory.mktemp("cli")
    content_img.save(d / "content.png")
    style_img.save(d / "style.jpg")
    return d


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_stylize_writes_image_json_and_png_metadata(files):
    out = files / "out.png"
    r = run("stylize", files / "content.png", files / "style.jpg", "-o", out, *TINY, "--seed", "7")
    assert r.exit_code == 0, r.output
    meta = json.loads((files / "out.png.json").read_text())
    assert meta["options"]["seed"] == 7 and meta["options"]["size"] == 64
    assert json.loads(Image.open(out).text["atelier"])["options"]["seed"] == 7
    assert Image.open(out).size == (64, 64)


def test_save_every_writes_snapshots(files, tmp_path):
    out = tmp_path / "snap.png"
    r = run("stylize", files / "content.png", files / "style.jpg", "-o", out, *TINY, "--save-every", "1")
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in tmp_path.glob("snap.iter*.png")) == ["snap.iter00001.png", "snap.iter00002.png"]


@pytest.mark.parametrize("mode", ["I;16", "L", "P", "RGBA", "CMYK", "exif"])
def test_awkward_but_valid_inputs_work(files, tmp_path, mode):
    base = Image.open(files / "content.png")
    path = tmp_path / ("in.jpg" if mode in ("CMYK", "exif") else "in.png")
    if mode == "I;16":
        Image.fromarray(np.asarray(base.convert("L"), np.uint16) * 257).save(path)
    elif mode == "exif":
        exif = Image.Exif()
        exif[0x0112] = 6
        base.resize((64, 32)).save(path, exif=exif)
    else:
        base.convert(mode).save(path)
    out = tmp_path / "o.png"
    r = run("stylize", path, files / "style.jpg", "-o", out, *TINY)
    assert r.exit_code == 0, r.output
    img = Image.open(out)
    assert img.mode == ("RGBA" if mode == "RGBA" else "RGB")
    if mode == "exif":
        assert img.size == (32, 64)


def bad_cases(files, tmp_path):
    c, s = files / "content.png", files / "style.jpg"
    txt = tmp_path / "text.png"
    txt.write_text("not an image")
    trunc = tmp_path / "trunc.jpg"
    trunc.write_bytes((files / "style.jpg").read_bytes()[:300])
    out = tmp_path / "o.png"
    (tmp_path / "s.png.json").mkdir()  # the "sidecar is a directory" case writes s.png
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    Image.new("RGB", (5, 5000)).save(tmp_path / "strip.png")
    Image.new("RGB", (20, 2000)).save(tmp_path / "thin.png")
    return {
        "missing content": (2, "file not found", [tmp_path / "nope.jpg", s, "-o", out]),
        "directory content": (2, "directory", [tmp_path, s, "-o", out]),
        "not an image": (2, "not an image", [txt, s, "-o", out]),
        "truncated": (2, "cannot read image", [c, trunc, "-o", out]),
        "nan weight": (2, "style_weight", [c, s, "-o", out, "--style-weight", "nan"]),
        "negative weight": (2, "content_weight", [c, s, "-o", out, "--content-weight", "-1"]),
        "zero size": (2, "size", [c, s, "-o", out, "--size", "0"]),
        "negative size": (2, "size", [c, s, "-o", out, "--size", "-64"]),
        "unknown layer": (2, "relu7_1", [c, s, "-o", out, "--style-layers", "relu1_1,relu7_1"]),
        "bad layer weights": (2, "expected comma-separated floats", [c, s, "-o", out, "--style-layer-weights", "a,b"]),
        "missing out dir": (2, "does not exist", [c, s, "-o", tmp_path / "no" / "o.png"]),
        "bad out format": (2, "format", [c, s, "-o", tmp_path / "o.xyz"]),
        "out not writable": (1, "cannot write", [c, s, "-o", "/sys/atelier-out.png"]),
        "seed too large": (2, "seed must be an integer between 0 and", [c, s, "-o", out, "--seed", str(2**64)]),
        "negative seed": (2, "seed must be an integer between 0 and", [c, s, "-o", out, "--seed", "-1"]),
        "sidecar is a directory": (2, "metadata file of the output is a directory", [c, s, "-o", tmp_path / "s.png"]),
        "1x1 content": (2, "1x1 pixels: each side must be at least 16", [tmp_path / "dot.png", s, "-o", out]),
        "5x5000 content": (2, "5x5000 pixels", [tmp_path / "strip.png", s, "-o", out]),
        "too thin at --size": (2, "its short side would be 1 px", [tmp_path / "thin.png", s, "-o", out]),
        "5x5000 style": (2, "style image is 5x5000", [c, tmp_path / "strip.png", "-o", out]),
    }


GATYS_CASES = ["missing content", "directory content", "not an image", "truncated", "nan weight", "negative weight",
               "zero size", "negative size", "unknown layer", "bad layer weights", "missing out dir", "bad out format",
               "out not writable"]
SHARED_CASES = ["seed too large", "negative seed", "sidecar is a directory", "1x1 content", "5x5000 content",
                "too thin at --size", "5x5000 style"]  # refused by every method


@pytest.mark.parametrize("case,method", [(c, "gatys") for c in GATYS_CASES + SHARED_CASES]
                         + [(c, "adain") for c in SHARED_CASES])
def test_bad_input_one_line_exit_code_no_output(files, tmp_path, case, method):
    code, text, args = bad_cases(files, tmp_path)[case]
    r = run("stylize", *TINY[:-1], "--method", method, *args)  # the case's own settings come last and win
    assert r.exit_code == code, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0] and lines[0].startswith("atelier: error:"), r.stderr
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "s.png").exists()
    assert not list(tmp_path.glob(".o.png*")) and not list(tmp_path.glob(".s.png*"))


def test_real_process_prints_no_traceback(files, tmp_path):
    r = subprocess.run([sys.executable, "-m", "atelier", "stylize", str(files / "content.png"),
                        str(tmp_path / "missing.jpg"), "-o", str(tmp_path / "o.png")],
                       capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip() == f"atelier: error: file not found: {tmp_path / 'missing.jpg'}"
    assert "Traceback" not in r.stderr + r.stdout


def test_layers_and_help():
    r = run("layers")
    assert r.exit_code == 0 and "relu5_1" in r.output and "preset realistic" in r.output
    r = run("stylize", "--help")
    assert r.exit_code == 0 and "--style-weight" in r.output and "--preset" in r.output


def test_demo_writes_result_and_grid(tmp_path):
    r = run("demo", "-o", tmp_path, "--size", "64", "-q")
    assert r.exit_code == 0, r.output
    assert Image.open(tmp_path / "stylized.png").size == (64, 64)
    assert Image.open(tmp_path / "grid.png").width > 3 * 64
