"""Every kind of awkward input file is read correctly or refused with a clear UsageError."""

import gc
import json
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from atelier.base.errors import AtelierError, UsageError
from atelier.io import images
from atelier.io.images import load_image, save_image


def _rgb(w=40, h=30):
    arr = np.zeros((h, w, 3), np.uint8)
    arr[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)
    arr[..., 1] = 128
    return Image.fromarray(arr)


def test_missing_directory_and_non_image(tmp_path):
    with pytest.raises(UsageError, match="file not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(UsageError, match="directory"):
        load_image(tmp_path)
    txt = tmp_path / "notes.png"
    txt.write_text("hello, I am not a picture")
    with pytest.raises(UsageError, match="not an image"):
        load_image(txt)


def test_truncated_image(tmp_path):
    path = tmp_path / "full.jpg"
    _rgb(200, 200).save(path, quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(path.read_bytes()[:600])
    with pytest.raises(UsageError, match="cannot read image"):
        load_image(cut)


def test_decompression_bomb_refused_before_decoding(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (400, 300)).save(path)
    monkeypatch.setattr(images, "MAX_PIXELS", 100 * 100)
    with pytest.raises(UsageError, match="too large"):
        load_image(path)


def test_sixteen_bit_grayscale(tmp_path):
    arr = (np.linspace(0, 65535, 64 * 32).reshape(32, 64)).astype(np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    assert Image.open(path).mode.startswith("I")
    img = load_image(path)
    assert img.mode == "RGB" and img.size == (64, 32)
    px = np.asarray(img)
    assert px[0, 0, 0] == 0 and px[-1, -1, 0] == 255 and np.all(np.diff(px[:, :, 0].ravel().astype(int)) >= 0)


def test_grayscale_palette_cmyk(tmp_path):
    Image.new("L", (20, 10), 77).save(tmp_path / "g.png")
    assert np.asarray(load_image(tmp_path / "g.png"))[0, 0].tolist() == [77, 77, 77]
    _rgb().convert("P", palette=Image.ADAPTIVE).save(tmp_path / "p.png")
    assert load_image(tmp_path / "p.png").mode == "RGB"
    Image.new("CMYK", (20, 10), (0, 255, 255, 0)).save(tmp_path / "c.jpg")
    r, g, b = np.asarray(load_image(tmp_path / "c.jpg"))[5, 5].tolist()
    assert r > 200 and g < 60 and b < 60  # cyan 0, magenta+yellow full -> red


def test_rgba_composited_on_white_and_alpha_returned(tmp_path):
    rgba = Image.new("RGBA", (10, 10), (255, 0, 0, 0))
    rgba.paste((0, 0, 255, 255), (0, 0, 5, 10))
    rgba.save(tmp_path / "a.png")
    rgb, alpha = load_image(tmp_path / "a.png", with_alpha=True)
    assert np.asarray(rgb)[5, 8].tolist() == [255, 255, 255]  # transparent -> white
    assert np.asarray(rgb)[5, 2].tolist() == [0, 0, 255]
    assert np.asarray(alpha)[5, 8] == 0 and np.asarray(alpha)[5, 2] == 255


def test_exif_rotation_applied(tmp_path):
    img = _rgb(40, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (20, 40)


def test_arrays_and_tensors():
    assert load_image(np.zeros((8, 9), np.uint8)).size == (9, 8)
    assert load_image(np.ones((8, 9, 3), np.float32)).getpixel((0, 0)) == (255, 255, 255)
    assert load_image(torch.rand(1, 3, 5, 6)).size == (6, 5)
    with pytest.raises(UsageError, match="NaN"):
        load_image(np.full((4, 4, 3), np.nan, np.float32))
    with pytest.raises(UsageError, match="shape"):
        load_image(np.zeros((4, 4, 7), np.uint8))
    with pytest.raises(UsageError):
        load_image(12345)


def test_save_is_atomic_and_errors_are_clear(tmp_path):
    out = tmp_path / "x.png"
    save_image(_rgb(), out, {"k": 1})
    assert Image.open(out).text["atelier"] == '{"k": 1}'
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temp files left
    with pytest.raises(UsageError, match="does not exist"):
        save_image(_rgb(), tmp_path / "missing" / "x.png")
    with pytest.raises(UsageError, match="format"):
        save_image(_rgb(), tmp_path / "x.bmpx")
    with pytest.raises(AtelierError, match="cannot write"):
        save_image(_rgb(), "/sys/atelier-test.png")  # a read-only location even for root


def test_failed_save_leaves_previous_file_and_no_temp(tmp_path, monkeypatch):
    out = tmp_path / "keep.png"
    save_image(_rgb(), out)
    before = out.read_bytes()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(AtelierError, match="No space left"):
        save_image(_rgb(), out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_image_and_sidecar_appear_together_or_not_at_all(tmp_path, monkeypatch):
    out = tmp_path / "o.png"
    save_image(_rgb(), out, {"k": 1}, sidecar=True)
    assert json.loads((tmp_path / "o.png.json").read_text()) == {"k": 1}
    old = out.read_bytes()
    (tmp_path / "o.png.json").unlink()
    (tmp_path / "o.png.json").mkdir()  # the sidecar cannot be written
    with pytest.raises(AtelierError, match=r"cannot write .*o\.png\.json: Is a directory"):
        save_image(_rgb(20, 20), out, {"k": 2}, sidecar=True)
    assert out.read_bytes() == old  # the image was not replaced without its sidecar
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png", "o.png.json"]  # no temp files
    (tmp_path / "o.png.json").rmdir()

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", boom)
    with pytest.raises(AtelierError, match="No space left"):
        save_image(_rgb(), tmp_path / "new.png", {"k": 3}, sidecar=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]  # no sidecar without its image


def test_write_text_maps_os_errors(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(AtelierError, match="cannot write .*d: Is a directory"):
        images.write_text(tmp_path / "d", "x")
    with pytest.raises(AtelierError, match="cannot write to"):
        images.write_text(tmp_path / "missing" / "x.txt", "x")
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_dimension_rule():
    images.check_dimensions((16, 16))
    images.check_dimensions((64, 512), 512)
    for size, side, message in [((1, 1), None, "1x1 pixels: each side must be at least 16"),
                                ((5, 5000), None, "5x5000"), ((20, 2000), 64, "short side would be 1 px")]:
        with pytest.raises(UsageError, match=message):
            images.check_dimensions(size, side)


def test_files_are_closed_whether_they_load_or_not(tmp_path):
    gif, png, broken = tmp_path / "a.gif", tmp_path / "a.png", tmp_path / "broken.png"
    _rgb(40, 40).save(gif)  # Pillow keeps a GIF open for its other frames
    _rgb(40, 40).save(png)
    data = bytearray(png.read_bytes())
    data[37:41] = b"zzzz"  # the chunk after IHDR gets a bad type
    broken.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        assert load_image(gif).size == (40, 40)
        with pytest.raises(UsageError, match="broken.png"):
            load_image(broken)
        gc.collect()
    assert [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)] == []
