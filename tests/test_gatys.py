"""Gatys transfer: it really moves toward the style, keeps colours when asked, is reproducible."""

import numpy as np
import pytest
import torch

import atelier
from atelier.base.errors import UsageError
from atelier.core import color
from atelier.core.gatys import Region, plan, pyramid
from atelier.evaluation.metrics import content_distance, style_distance
from atelier.io.images import to_tensor

FAST = dict(size=96, iterations=8, levels=2)


@pytest.fixture(scope="module")
def plain(content_img, style_img):
    return atelier.stylize(content_img, style_img, **FAST)


def test_output_moves_toward_style_and_keeps_content(plain, content_img, style_img):
    before = style_distance(content_img, style_img, size=96)
    after = style_distance(plain, style_img, size=96)
    assert after < 0.5 * before, (before, after)
    assert content_distance(plain, content_img, size=96) < 0.8
    assert plain.size == (96, 96) and plain.mode == "RGB"
    meta = plain.info["atelier"]
    assert meta["options"]["size"] == 96 and meta["seconds"] > 0 and meta["torch"] == torch.__version__


def test_more_style_weight_means_closer_style(plain, content_img, style_img):
    strong = atelier.stylize(content_img, style_img, style_weight=10.0, **FAST)
    assert style_distance(strong, style_img, size=96) < style_distance(plain, style_img, size=96)
    assert content_distance(strong, content_img, size=96) > content_distance(plain, content_img, size=96)


def test_default_strength_really_stylizes(content_img, style_img):
    """The calibrated default (no weights given) takes the style far from the photo."""
    out = atelier.stylize(content_img, style_img, size=96)
    before = style_distance(content_img, style_img, size=96)
    assert style_distance(out, style_img, size=96) < 0.25 * before
    assert content_distance(out, content_img, size=96) < 1.0  # the layout is still there


def test_strength_two_is_stronger_than_half(content_img, style_img):
    light = atelier.stylize(content_img, style_img, strength=0.5, **FAST)
    strong = atelier.stylize(content_img, style_img, strength=2.0, **FAST)
    assert style_distance(strong, style_img, size=96) < 0.8 * style_distance(light, style_img, size=96)
    assert content_distance(strong, content_img, size=96) > content_distance(light, content_img, size=96)
    assert light.info["atelier"]["options"]["strength"] == 0.5


def test_strength_scales_the_style_weight_only():
    from atelier.core.options import StyleOptions, strength_factor
    a, b = StyleOptions(strength=2.0).loss_weights, StyleOptions().loss_weights
    assert a[0] == b[0] and a[1] == pytest.approx(b[1] * strength_factor(2.0))
    assert strength_factor(0.5) < 1 < strength_factor(2.0)
    assert StyleOptions(style_ratio=0.5, strength=1.0).loss_weights == (0.5, 0.5)


def test_same_seed_identical_output(content_img, style_img):
    a = atelier.stylize(content_img, style_img, init="noise", seed=3, size=64, iterations=4, levels=1)
    b = atelier.stylize(content_img, style_img, init="noise", seed=3, size=64, iterations=4, levels=1)
    c = atelier.stylize(content_img, style_img, init="noise", seed=4, size=64, iterations=4, levels=1)
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a), np.asarray(c))


def test_luminance_transfer_keeps_content_chroma(content_img, style_img):
    out = atelier.stylize(content_img, style_img, color="luminance", **FAST)
    iq_out = color.rgb_to_yiq(to_tensor(out))[:, 1:]
    iq_content = color.rgb_to_yiq(to_tensor(content_img.resize(out.size)))[:, 1:]
    iq_plain_style = color.rgb_to_yiq(to_tensor(style_img.resize(out.size)))[:, 1:]
    err = (iq_out - iq_content).abs().mean().item()
    assert err < 0.02, err
    assert err < 0.2 * (iq_plain_style - iq_content).abs().mean().item()


def test_match_color_gives_style_the_content_palette(content_img, style_img):
    s, c = to_tensor(style_img), to_tensor(content_img)
    m = color.match_color(s, c)
    for x in (c,):
        torch.testing.assert_close(m.mean(dim=(2, 3)), x.mean(dim=(2, 3)), atol=0.03, rtol=0)


def test_blend_weights_pick_the_style(content_img, style_img):
    from atelier.io import samples
    mosaic = samples.style("mosaic", size=128)
    only_first = atelier.stylize(content_img, [style_img, mosaic], style_blend=(1, 0), **FAST)
    only_second = atelier.stylize(content_img, [style_img, mosaic], style_blend=(0, 1), **FAST)
    assert style_distance(only_first, style_img, size=96) < style_distance(only_second, style_img, size=96)
    assert style_distance(only_second, mosaic, size=96) < style_distance(only_first, mosaic, size=96)


def test_region_without_style_stays_closer_to_content(content_img, style_img):
    mask = torch.zeros(1, 1, 96, 96)
    mask[..., :, :48] = 1
    regions = [Region(mask, content_weight=1, style_weight=3), Region(1 - mask, content_weight=5, style_weight=0)]
    out = atelier.stylize(content_img, style_img, regions=regions, **FAST)
    left = mask[0, 0].numpy()
    d_styled = content_distance(out, content_img, size=96, mask=left)
    d_kept = content_distance(out, content_img, size=96, mask=1 - left)
    assert d_kept < 0.5 * d_styled, (d_kept, d_styled)


def test_adam_and_noise_init_also_move_toward_style(content_img, style_img):
    out = atelier.stylize(content_img, style_img, optimizer="adam", lr=0.05, init="noise", size=64,
                          iterations=30, levels=1)
    noise_only = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    assert style_distance(out, style_img, size=64) < 0.7 * style_distance(noise_only, style_img, size=64)


def test_alpha_channel_is_kept(style_img):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[..., :3] = 120
    rgba[..., 3] = 255
    rgba[:, :32, 3] = 0
    out = atelier.stylize(rgba, style_img, size=64, iterations=2, levels=1)
    assert out.mode == "RGBA"
    alpha = np.asarray(out)[..., 3]
    assert alpha[:, :30].max() < 10 and alpha[:, 34:].min() > 245


@pytest.mark.parametrize("bad", [
    dict(style_weight=float("nan")), dict(content_weight=-1), dict(size=0), dict(size=-5),
    dict(size=float("inf")), dict(style_ratio=1.5), dict(style_layers=("relu9_1",)),
    dict(style_layer_weights=(1, 2)), dict(style_blend=(-1,)), dict(iterations=0), dict(preset="nope"),
    dict(content_weight=0, style_weight=0), dict(color="sepia"), dict(lr=float("nan")),
    dict(strength=-1), dict(strength=float("nan")), dict(strength=100), dict(detail=1.5),
])
def test_bad_settings_are_usage_errors(bad, content_img, style_img):
    with pytest.raises(UsageError):
        atelier.stylize(content_img, style_img, **{**FAST, **bad})


def test_pyramid_sizes():
    assert pyramid((512, 384), 3) == [(128, 96), (256, 192), (512, 384)]
    assert pyramid((96, 96), 3) == [(48, 48), (96, 96)]
    assert pyramid((80, 80), 3) == [(80, 80)]  # never below 48 px on the short side
    assert pyramid((200, 100), 1) == [(200, 100)]


def test_plan_gives_sizes_steps_and_costs():
    from atelier.core.options import StyleOptions
    p = plan((1, 3, 384, 512), StyleOptions(size=512, iterations=8, levels=4, coarse_factor=3).resolved())
    assert p.final == (384, 512)
    assert p.sizes == [(48, 64), (96, 128), (192, 256), (384, 512)]
    assert p.steps == [216, 72, 24, 8] and p.total == 320
    assert p.unit == [1 / 64, 1 / 16, 1 / 4, 1] and p.total_cost == pytest.approx(216 / 64 + 72 / 16 + 24 / 4 + 8)
    wide = plan((1, 3, 238, 512), StyleOptions(size=512, iterations=8, levels=4, coarse_factor=3).resolved())
    assert len(wide.sizes) == 3 and wide.steps == [72, 24, 8]  # a 4th level would be under 48 px
    default = plan((1, 3, 384, 512), StyleOptions().resolved())  # 8 finest, 1.75x more per coarser level
    assert default.sizes == [(96, 128), (192, 256), (384, 512)] and default.steps == [24, 14, 8]


def test_progress_counts_every_evaluation(content_img, style_img):
    seen = []
    atelier.stylize(content_img, style_img, size=96, iterations=3, levels=2, coarse_factor=2, progress=seen.append)
    assert [(p.level, p.step) for p in seen] == [(0, i) for i in range(1, 7)] + [(1, i) for i in range(1, 4)]
    assert seen[-1].done == seen[-1].total == 9 and seen[-1].cost == pytest.approx(seen[-1].total_cost)


def test_bf16_copy_leaves_the_shared_network_fp32(plain):
    from atelier.core.vgg import load_vgg
    assert all(c.weight.dtype == torch.float32 for c in load_vgg().convs)


def test_precision_auto_is_bf16_only_where_the_device_runs_it_natively(content_img, style_img):
    import torch

    from atelier.core.device import fast_bf16, resolve_precision, uses_bf16

    cpu = torch.device("cpu")
    assert not uses_bf16(cpu, "fp32") and uses_bf16(cpu, "bf16")
    assert uses_bf16(cpu, "auto") == fast_bf16("cpu")
    resolved = resolve_precision(cpu, "auto")
    run = {"size": 64, "levels": 1, "iterations": 2, "device": "cpu"}
    auto = to_tensor(atelier.stylize(content_img, style_img, precision="auto", **run))
    same = to_tensor(atelier.stylize(content_img, style_img, precision=resolved, **run))
    assert torch.equal(auto, same)
