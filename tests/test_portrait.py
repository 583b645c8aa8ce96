"""Portrait mode: segmentation (mediapipe, offline), user masks, region weights, fallback, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from atelier import stylize
from atelier.base.errors import AtelierError, UsageError
from atelier.cli import main
from atelier.core.options import StyleOptions
from atelier.evaluation import metrics
from atelier.io import samples
from atelier.portrait import segment
from atelier.portrait.mode import (
    PortraitMasks,
    PortraitOptions,
    composite,
    load_user_mask,
    portrait_masks,
    portrait_regions,
    stylize_portrait,
)

FAST = dict(iterations=2, levels=1)


@pytest.fixture(scope="module")
def astronaut_masks(content_img) -> PortraitMasks:
    return portrait_masks(content_img, 96, PortraitOptions())


@pytest.fixture(scope="module")
def no_person() -> Image.Image:
    return samples.style("mosaic", size=64)


def test_astronaut_is_a_person_and_the_mask_covers_her_not_the_sky(content_img, astronaut_masks):
    m = astronaut_masks
    assert m.found and m.faces == 1 and m.source == "segmentation:auto"
    assert m.person.shape == (96, 96) and m.person.dtype == np.float32
    assert m.person.min() >= 0.0 and m.person.max() <= 1.0
    face = segment.detect_faces(content_img)[0]
    x0, y0, x1, y1 = (int(v) for v in face.box)
    assert m.person[y0:y1, x0:x1].mean() > 0.9          # the face is person
    assert m.person[60:, 20:60].mean() > 0.9            # so is the suit
    assert m.person[:20, 70:].mean() < 0.05             # the wall/sky behind her is not
    assert m.person[:20, :10].mean() < 0.05             # nor the flag
    # the face mask sits on the face, inside the person mask, and is protected further
    assert m.face[(y0 + y1) // 2, (x0 + x1) // 2] > 0.9 and m.face[80:, :].max() < 0.05
    assert (m.face <= m.person + 1e-6).all()


def test_person_mask_models_and_landmarks(content_img):
    for name in ("selfie", "landscape", "pose"):
        mask = segment.person_mask(content_img, name)
        assert mask.shape == (96, 96) and mask[60:, 20:60].mean() > 0.8 and mask[:20, 70:].mean() < 0.1
    face = segment.detect_faces(content_img)[0]
    assert face.landmarks.shape == (468, 2)
    assert 0.2 < face.interocular / (face.box[2] - face.box[0]) < 1.0
    with pytest.raises(ValueError):
        segment.person_mask(content_img, "heavy")


def test_refine_snaps_to_edges_and_feathers():
    img = np.zeros((64, 64, 3), np.uint8)
    img[:, 32:] = 255                                       # a sharp edge at x = 32
    coarse = np.zeros((8, 8), np.float32)
    coarse[:, 4:] = 1.0
    m = segment.refine(coarse, img, feather=0.0)
    assert m.shape == (64, 64)
    assert m[:, :28].max() < 0.05 and m[:, 36:].min() > 0.95
    soft = segment.refine(coarse, img, feather=0.05)
    assert 0.2 < soft[32, 32] < 0.8                         # feathered across the edge


def test_no_person_is_found_in_a_mosaic(no_person):
    assert not portrait_masks(no_person, 64, PortraitOptions()).found


def test_user_masks_of_other_sizes_are_resized(tmp_path):
    arr = np.zeros((30, 50), np.float32)
    arr[5:25, 10:30] = 1.0                              # a box in the left half
    m = load_user_mask(arr, (64, 96))
    assert m.shape == (64, 96) and m[32, 30] > 0.99 and m[32, 80] < 0.01
    inv = load_user_mask(arr, (64, 96), invert=True)
    np.testing.assert_allclose(inv, 1.0 - m, atol=1e-6)
    path = tmp_path / "mask.png"
    Image.fromarray((arr * 255).astype(np.uint8)).resize((200, 120)).save(path)
    np.testing.assert_allclose(load_user_mask(path, (64, 96)), m, atol=0.1)
    rgba = Image.new("RGBA", (10, 20), (255, 255, 255, 0))   # a cut-out: the alpha is the mask
    rgba.paste((0, 0, 0, 255), (0, 0, 5, 20))
    cut = load_user_mask(rgba, (40, 20))
    assert cut[:, :8].min() > 0.99 and cut[:, 12:].max() < 0.01


@pytest.mark.parametrize("mask, invert, message", [
    (np.zeros((10, 10)), False, "empty"),
    (np.ones((10, 10)), False, "whole image"),
    (np.ones((10, 10)), True, "empty"),
    (np.zeros((10, 10, 5)), False, "mask: expected"),
    (np.full((10, 10), np.nan), False, "NaN"),
    ("no-such-mask.png", False, "file not found"),
    (12345, False, "cannot use int"),
])
def test_bad_masks_give_clear_errors(mask, invert, message):
    with pytest.raises(UsageError, match=message):
        load_user_mask(mask, (32, 32), invert=invert)


def test_regions_weight_background_person_and_face_per_pixel(astronaut_masks):
    opts = PortraitOptions(background_style=2.0, person_style=0.25, person_content=3.0, face_content=5.0)
    bg, person, face = portrait_regions(astronaut_masks, opts)
    np.testing.assert_allclose((bg.mask + person.mask).numpy(), 1.0, atol=1e-6)
    assert bg.mask.shape == (1, 1, 96, 96)
    # each weight is scaled by its region's area, so it acts per pixel whatever the region's size
    a_bg, a_person, a_face = (float(r.mask.mean()) for r in (bg, person, face))
    assert 0.3 < a_bg < 0.7 and 0.02 < a_face < 0.2
    assert (bg.content_weight, bg.style_weight) == pytest.approx((1.0 * a_bg, 2.0 * a_bg), rel=1e-5)
    assert (person.content_weight, person.style_weight) == pytest.approx((3.0 * a_person, 0.25 * a_person), rel=1e-5)
    assert (face.content_weight, face.style_weight) == pytest.approx((5.0 * a_face, 0.0), rel=1e-5)
    assert len(portrait_regions(astronaut_masks, PortraitOptions(face_content=0))) == 2


def test_composite_takes_the_person_from_the_person_pass():
    person, background = Image.new("RGB", (8, 4), (255, 0, 0)), Image.new("RGB", (8, 4), (0, 0, 255))
    mask = np.zeros((4, 8), np.float32)
    mask[:, :4] = 1.0
    out = np.asarray(composite(person, background, mask))
    assert (out[:, :4] == (255, 0, 0)).all() and (out[:, 4:] == (0, 0, 255)).all()


def test_portrait_keeps_the_person_closer_to_the_content_than_plain(content_img, style_img, astronaut_masks):
    opts = StyleOptions(size=96, iterations=12, levels=2, style_weight=5.0)
    plain = stylize(content_img, style_img, opts)
    portrait = stylize_portrait(content_img, style_img, PortraitOptions(), opts, masks=astronaut_masks)
    info = portrait.info["atelier"]["portrait"]
    assert info["portrait_mode"] == "regions" and "fallback" not in info and info["faces"] == 1

    def inside(img):
        return metrics.content_distance(img, content_img, size=96, mask=astronaut_masks.person)

    def face(img):
        return metrics.content_distance(img, content_img, size=96, mask=astronaut_masks.face)

    assert inside(portrait) < 0.7 * inside(plain)
    assert face(portrait) < 0.7 * face(plain)
    # the background still takes the style: its style distance stays close to the plain result's
    background = 1.0 - astronaut_masks.person
    bg_plain = metrics.style_distance(plain, style_img, size=96, mask=background)
    bg_portrait = metrics.style_distance(portrait, style_img, size=96, mask=background)
    base = metrics.style_distance(content_img, style_img, size=96, mask=background)
    assert bg_portrait < base and bg_portrait < 1.5 * bg_plain


def test_strength_reaches_portrait_mode(content_img, style_img, astronaut_masks):
    background = 1.0 - astronaut_masks.person

    def bg_style(strength):
        opts = StyleOptions(size=96, iterations=8, levels=2, strength=strength)
        img = stylize_portrait(content_img, style_img, PortraitOptions(), opts, masks=astronaut_masks)
        return metrics.style_distance(img, style_img, size=96, mask=background)

    assert bg_style(2.0) < 0.8 * bg_style(0.5)


def test_no_person_falls_back_or_fails_when_required(no_person, style_img):
    opts = StyleOptions(size=32, **FAST)
    out = stylize_portrait(no_person, style_img, PortraitOptions(), opts)
    assert out.size == (32, 32)
    assert out.info["atelier"]["portrait"]["person_found"] is False
    assert "no person" in out.info["atelier"]["portrait"]["fallback"]
    with pytest.raises(AtelierError, match="no person found"):
        stylize_portrait(no_person, style_img, PortraitOptions(require_person=True), opts)


@pytest.mark.parametrize("field, value", [("portrait_mode", "threepass"), ("segmenter", "heavy"),
                                          ("person_style", -1.0), ("face_content", float("nan")),
                                          ("mask_threshold", 1.0), ("max_faces", 2.5)])
def test_bad_portrait_options(field, value):
    with pytest.raises(UsageError, match=field):
        PortraitOptions(**{field: value}).validate()


# --- CLI -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def files(tmp_path_factory, content_img, style_img, no_person):
    d = tmp_path_factory.mktemp("portrait")
    content_img.save(d / "astronaut.png")
    style_img.save(d / "style.png")
    no_person.save(d / "mosaic.png")
    (d / "notes.txt").write_text("not an image")
    return d


def _run(*args: str):
    return CliRunner().invoke(main, ["portrait", *args, "--size", "48", "--iterations", "2", "--levels", "1", "-q"])


def test_cli_twopass_writes_result_metadata_and_mask(files):
    out, mask = files / "out.png", files / "mask.png"
    r = _run(str(files / "astronaut.png"), str(files / "style.png"), "-o", str(out), "--save-mask", str(mask),
             "--portrait-mode", "twopass")
    assert r.exit_code == 0, r.output
    assert Image.open(out).size == (48, 48)
    meta = json.loads((files / "out.png.json").read_text())["portrait"]
    assert meta["portrait_mode"] == "twopass" and meta["person_found"] and len(meta["seconds_per_pass"]) == 2
    saved = np.asarray(Image.open(mask), np.float32) / 255.0
    assert saved.shape == (48, 48) and saved[30:, 10:30].mean() > 0.9 and saved[:10, 35:].mean() < 0.1
    # the saved mask can be fed back, inverted or not
    r = _run(str(files / "astronaut.png"), str(files / "style.png"), "-o", str(files / "again.png"),
             "--mask", str(mask), "--invert-mask")
    assert r.exit_code == 0, r.output
    assert json.loads((files / "again.png.json").read_text())["portrait"]["mask_source"] == "user mask"


def test_cli_no_person_falls_back_with_a_note(files):
    out = files / "fallback.png"
    r = CliRunner().invoke(main, ["portrait", str(files / "mosaic.png"), str(files / "style.png"), "-o", str(out),
                                  "--size", "32", "--iterations", "1", "--levels", "1"])
    assert r.exit_code == 0, r.output
    assert "no person found" in r.output and out.exists()


@pytest.mark.parametrize("extra, code, message", [
    (("--require-person",), 1, "no person found"),
    (("--mask", "{d}/notes.txt"), 2, "mask: not an image file"),
    (("--mask", "{d}/missing.png"), 2, "mask: file not found"),
    (("--portrait-mode", "threepass"), 2, "portrait_mode"),
    (("--person-style", "-1"), 2, "person_style"),
])
def test_cli_bad_input_is_one_line_and_writes_nothing(files, extra, code, message):
    out = files / "bad.png"
    content = files / ("mosaic.png" if "--require-person" in extra else "astronaut.png")
    r = _run(str(content), str(files / "style.png"), "-o", str(out), *(e.format(d=files) for e in extra))
    assert r.exit_code == code, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("atelier: error:") and message in lines[0]
    assert not out.exists() and not list(files.glob("bad.png*")) and not list(files.glob(".bad.png*"))


def test_cli_bad_masks_empty_and_full(files):
    for name, value in (("empty", 0), ("full", 255)):
        Image.new("L", (20, 10), value).save(files / f"{name}.png")
        r = _run(str(files / "astronaut.png"), str(files / "style.png"), "-o", str(files / "bad.png"),
                 "--mask", str(files / f"{name}.png"))
        assert r.exit_code == 2 and "mask:" in r.output and not (files / "bad.png").exists()


# --- other backends and style sets ----------------------------------------------------------

def test_sanet_backend_runs_two_passes_with_w1_w2(tmp_path, content_img, style_img, astronaut_masks):
    import torch

    from atelier.feedforward import registry

    torch.manual_seed(0)
    model = str(registry.save(registry.build("sanet"), tmp_path / "sanet.safetensors", {"steps": 0}))
    popts = PortraitOptions(backend="sanet", model=model, sanet_w1=0.5, sanet_w2=1.5)
    out = stylize_portrait(content_img, style_img, popts, StyleOptions(size=96, device="cpu"), masks=astronaut_masks)
    meta = out.info["atelier"]
    assert out.size == content_img.size
    assert meta["method"] == "sanet" and meta["portrait"]["portrait_mode"] == "twopass"
    assert meta["options"]["sanet_w1"] == 0.5 and meta["options"]["sanet_w2"] == 1.5


def test_sanet_backend_composites_a_light_person_pass_over_a_strong_background(monkeypatch, content_img,
                                                                               style_img, astronaut_masks):
    from atelier.portrait import mode as portrait

    alphas = []

    def fake_transfer(content, styles, popts, opts, alpha):  # a solid image per pass, to see the composite
        alphas.append(alpha)
        img = Image.new("RGB", (96, 96), (255, 0, 0) if alpha < 1 else (0, 0, 255))
        img.info["atelier"] = {"seconds": 1.0}
        return img

    monkeypatch.setattr(portrait, "feedforward_transfer", fake_transfer)
    popts = PortraitOptions(backend="sanet", person_style=0.2, background_style=3.0)
    out = np.asarray(stylize_portrait(content_img, style_img, popts, StyleOptions(size=96), masks=astronaut_masks))
    assert alphas == [3.0, 0.2]           # background pass, then person pass (clamped to 1 in feedforward_transfer)
    inside, outside = astronaut_masks.person > 0.999, astronaut_masks.person < 0.001
    assert (out[inside] == (255, 0, 0)).all() and (out[outside] == (0, 0, 255)).all()


def test_portrait_with_the_augmented_style_set(tmp_path, content_img, style_img, astronaut_masks):
    from atelier.library.augment import AugmentOptions, blend_weights
    from atelier.library.descriptors import DescriptorConfig
    from atelier.library.store import StyleLibrary

    art = tmp_path / "art"
    art.mkdir()
    for seed in range(3):
        samples.style("swirl", size=64, seed=seed + 1).save(art / f"painter__swirl_{seed}.png")
    db = tmp_path / "lib.sqlite"
    with StyleLibrary.open(db, DescriptorConfig(size=64), create=True) as lib:
        lib.update([art])
    aug = AugmentOptions(neighbours=2, threshold=1e9, min_distance=0.0)
    out = stylize_portrait(content_img, style_img, PortraitOptions(), StyleOptions(size=48, **FAST),
                           masks=astronaut_masks, augment=aug, library=str(db))
    meta = out.info["atelier"]
    assert len(meta["portrait"]["augment"]["neighbours"]) == 2
    assert meta["options"]["style_blend"] == pytest.approx(tuple(blend_weights(2, aug.query_weight)))
    with pytest.raises(UsageError, match="exactly one style"):
        stylize_portrait(content_img, [style_img, style_img], PortraitOptions(), StyleOptions(size=48, **FAST),
                         masks=astronaut_masks, augment=aug, library=str(db))


def test_stylize_portrait_flag_runs_portrait_mode(files):
    out = files / "via_stylize.png"
    r = CliRunner().invoke(main, ["stylize", str(files / "astronaut.png"), str(files / "style.png"), "-o", str(out),
                                  "--portrait", "--size", "48", "--iterations", "2", "--levels", "1", "-q"])
    assert r.exit_code == 0, r.output
    meta = json.loads((files / "via_stylize.png.json").read_text())["portrait"]
    assert meta["person_found"] and meta["portrait_mode"] == "regions"
