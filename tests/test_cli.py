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
        Image.fromarray((np.asarray(base.convert("L"), np.uint16) * 257)).save(path)
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
    }


@pytest.mark.parametrize("case", ["missing content", "directory content", "not an image", "truncated",
                                  "nan weight", "negative weight", "zero size", "negative size", "unknown layer",
                                  "bad layer weights", "missing out dir", "bad out format", "out not writable"])
def test_bad_input_one_line_exit_code_no_output(files, tmp_path, case):
    code, text, args = bad_cases(files, tmp_path)[case]
    r = run("stylize", *TINY[:-1], *args)  # the case's own settings come last and win
    assert r.exit_code == code, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0] and lines[0].startswith("atelier: error:"), r.stderr
    assert not (tmp_path / "o.png").exists()
    assert not list(tmp_path.glob(".o.png*"))


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
