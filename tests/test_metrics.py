"""Metrics on synthetic images with answers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageFilter

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.evaluation import metrics
from atelier.io.images import save_image


def checker(n: int, cell: int) -> np.ndarray:
    """n x n 0/255 checkerboard with square cells of ``cell`` pixels."""
    yy, xx = np.indices((n, n)) // cell
    return (((yy + xx) % 2) * 255).astype(np.uint8)


def test_flat_image_has_no_gradient_and_no_detail():
    flat = np.full((40, 50, 3), 123, np.uint8)
    assert metrics.gradient_magnitude(flat) == 0.0
    assert metrics.fft_quantile(flat) == 0.0


def test_pixel_checkerboard_by_hand():
    # Sobel: each neighbour column/row pair has equal parity, so gx = gy = 0 everywhere.
    img = checker(64, 1)
    assert metrics.gradient_magnitude(img) == 0.0
    # 8x8 tile: the only AC component is the Nyquist term (4,4) with |F| = 64/2 * 255 = 8160;
    # the top ceil(0.1 * 63) = 7 AC amplitudes are 8160 and six zeros.
    assert metrics.fft_quantile(img) == pytest.approx(8160 / 7)


def test_two_pixel_checkerboard_by_hand():
    img = checker(64, 2).astype(np.float64)
    # hand-computed Sobel at one interior pixel, then the mean over the 62x62 valid interior
    g = img
    gx = np.zeros((62, 62))
    gy = np.zeros((62, 62))
    for i in range(1, 63):
        for j in range(1, 63):
            gx[i - 1, j - 1] = (g[i - 1, j + 1] + 2 * g[i, j + 1] + g[i + 1, j + 1]
                                - g[i - 1, j - 1] - 2 * g[i, j - 1] - g[i + 1, j - 1])
            gy[i - 1, j - 1] = (g[i + 1, j - 1] + 2 * g[i + 1, j] + g[i + 1, j + 1]
                                - g[i - 1, j - 1] - 2 * g[i - 1, j] - g[i - 1, j + 1])
    assert metrics.gradient_magnitude(img.astype(np.uint8)) == pytest.approx(np.hypot(gx, gy).mean())
    # FFT value from numpy on one 8x8 tile (every tile of this pattern is the same)
    tile = img[:8, :8]
    amp = np.sort(np.abs(np.fft.fft2(tile)).ravel()[1:])[::-1]
    assert metrics.fft_quantile(img.astype(np.uint8)) == pytest.approx(amp[:7].mean())
    # by hand: the tile is 255 * (1/2 - 2 a(x) b(y)) with a, b zero-mean period-4 square waves;
    # its AC spectrum has four non-zero terms at (+-2, +-2) of magnitude 255 * 64 / 4 = 4080, the rest are 0
    assert amp[:4] == pytest.approx([4080] * 4) and amp[4:].max() == pytest.approx(0, abs=1e-6)


def test_sharper_image_scores_higher(content_img):
    blurred = content_img.filter(ImageFilter.GaussianBlur(2))
    assert metrics.gradient_magnitude(content_img) > 1.5 * metrics.gradient_magnitude(blurred)
    assert metrics.fft_quantile(content_img) > 1.5 * metrics.fft_quantile(blurred)


def test_distances_are_zero_for_identical_images_and_grow_with_difference(content_img, style_img):
    assert metrics.style_distance(style_img, style_img, size=64) == pytest.approx(0, abs=1e-6)
    assert metrics.content_distance(content_img, content_img, size=64) == pytest.approx(0, abs=1e-6)
    assert metrics.ssim_to_content(content_img, content_img) == pytest.approx(1.0)
    assert metrics.style_distance(content_img, style_img, size=64) > 0.3
    assert metrics.content_distance(style_img, content_img, size=64) > 0.3
    assert metrics.ssim_to_content(style_img, content_img) < 0.5


def test_style_distance_with_mask_only_looks_inside_the_region(style_img):
    # left half: the style image; right half: flat grey. Masked to the left half it matches.
    w, h = style_img.size
    arr = np.asarray(style_img).copy()
    arr[:, w // 2:] = 128
    half = Image.fromarray(arr)
    crop = style_img.crop((0, 0, w // 2, h))
    mask = np.zeros((h, w), np.float32)
    mask[:, : w // 2] = 1
    inside = metrics.style_distance(half, crop, size=64, mask=mask)
    whole = metrics.style_distance(half, crop, size=64)
    assert inside < 0.5 * whole


def test_content_distance_with_mask(content_img, style_img):
    arr = np.asarray(content_img).copy()
    w = arr.shape[1]
    arr[:, w // 2:] = np.asarray(style_img.resize(content_img.size))[:, w // 2:]
    mixed = Image.fromarray(arr)
    mask = np.zeros(arr.shape[:2], np.float32)
    mask[:, : w // 4] = 1  # well inside the untouched half
    assert metrics.content_distance(mixed, content_img, size=96, mask=mask) < \
        0.5 * metrics.content_distance(mixed, content_img, size=96)


@pytest.mark.parametrize("mask, message", [
    (np.zeros((8, 8)), "empty"),
    (np.full((8, 8), 2.0), "0..1"),
    (np.full((8, 8), np.nan), "finite"),
    (np.zeros((2, 8, 8)), "HxW"),
    ("mask.png", "cannot use"),
])
def test_bad_masks_are_usage_errors(style_img, mask, message):
    with pytest.raises(UsageError, match=message):
        metrics.style_distance(style_img, style_img, size=32, mask=mask)


def test_bad_arguments():
    img = np.zeros((32, 32), np.uint8)
    with pytest.raises(UsageError, match="size"):
        metrics.style_distance(img, img, size=0)
    with pytest.raises(UsageError, match="block"):
        metrics.fft_quantile(img, block=1)
    with pytest.raises(UsageError, match="q must"):
        metrics.fft_quantile(img, q=1.0)
    with pytest.raises(UsageError, match="smaller than one"):
        metrics.fft_quantile(np.zeros((4, 4), np.uint8))
    with pytest.raises(UsageError, match="unknown"):
        metrics.content_distance(img, img, layer="relu9_9", size=32)


def test_cli_metrics(tmp_path, content_img, style_img):
    c, s = tmp_path / "c.png", tmp_path / "s.png"
    save_image(content_img, c)
    save_image(style_img, s)
    res = CliRunner().invoke(main, ["metrics", str(c), "--content", str(c), "--style", str(s), "--size", "64",
                                    "--json"])
    assert res.exit_code == 0, res.output
    import json
    values = json.loads(res.output)
    assert values["content_distance"] == pytest.approx(0, abs=1e-5)
    assert values["ssim"] == pytest.approx(1.0)
    assert values["style_distance"] > 0.3 and values["gradient_magnitude"] > 0 and not math.isnan(values["fft_q90"])


@pytest.mark.parametrize("args, message", [
    (["missing.png"], "file not found"),
    (["."], "directory"),
    (["notimage.png"], "not an image"),
])
def test_cli_metrics_bad_input(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notimage.png").write_text("hello")
    res = CliRunner().invoke(main, ["metrics", *args])
    assert res.exit_code == 2
    assert "Traceback" not in res.output and message in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_periodic_artefact_score_is_low_for_a_photo_and_high_with_an_8px_grid():
    from atelier.io import samples
    from atelier.io.images import resize_long_side

    photo = np.asarray(resize_long_side(samples.content("astronaut"), 128).convert("RGB"), np.float64)
    yy, xx = np.indices(photo.shape[:2])
    grid = 12.0 * ((yy % 8 == 0) | (xx % 8 == 0))  # faint 1-px lines every 8 px, as a decoder leaves
    gridded = np.clip(photo + grid[..., None], 0, 255).astype(np.uint8)
    clean = metrics.periodic_artefact(photo.astype(np.uint8))
    assert clean < 4.0
    assert metrics.periodic_artefact(gridded) > 3 * clean
    rng = np.random.default_rng(0)
    noise = rng.normal(128, 20, (128, 128))
    assert 2.0 < metrics.periodic_artefact_array(noise) < 5.0
    with pytest.raises(UsageError, match="at least 32 px"):
        metrics.periodic_artefact(np.zeros((20, 64), np.uint8))
    with pytest.raises(UsageError, match="even integer"):
        metrics.periodic_artefact_array(noise, period=7)
