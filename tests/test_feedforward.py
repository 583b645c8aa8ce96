"""Feed-forward methods: the tensor maths, checkpoints, and the `atelier transfer` CLI."""

from __future__ import annotations

import json

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.core.vgg import load_vgg
from atelier.evaluation import metrics
from atelier.feedforward import registry
from atelier.feedforward.adain import adain, mean_std
from atelier.feedforward.decoder import Decoder, pad_to_multiple
from atelier.feedforward.model import FeedForwardModel, StylizeOptions, options_for
from atelier.feedforward.sanet import SANetModel, SANetOptions, StyleAttention
from atelier.feedforward.transfer import FeedForwardOptions, style_features, stylize_tensor, transfer
from atelier.feedforward.wct import WCTOptions, whiten_colour
from atelier.io.images import to_tensor

STYLE_GAIN = 0.75    # shipped models: style distance below this share of the photo's
CONTENT_KEPT = 0.85  # and content distance below this share of the style image's


def _cov(f: torch.Tensor) -> torch.Tensor:
    return torch.cov(f[0].reshape(f.shape[1], -1).double())


def test_adain_output_has_the_style_channel_statistics(content_img, style_img):
    vgg = load_vgg()
    fc = vgg(to_tensor(content_img), ["relu4_1"])["relu4_1"]
    fs = vgg(to_tensor(style_img), ["relu4_1"])["relu4_1"]
    out = adain(fc, fs)
    (om, osd), (sm, ssd), (cm, csd) = mean_std(out), mean_std(fs), mean_std(fc)
    live = csd.flatten() > 1.0  # channels the content activates at all (dead ReLUs stay constant)
    assert live.float().mean() > 0.5
    assert torch.allclose(om.flatten()[live], sm.flatten()[live], rtol=1e-3, atol=1e-2)
    assert torch.allclose(osd.flatten()[live], ssd.flatten()[live], rtol=1e-3, atol=1e-2)
    assert (cm - sm).abs().max() > 1.0  # the statistics really moved


def test_wct_output_covariance_and_mean_match_the_style():
    g = torch.Generator().manual_seed(0)
    content = torch.randn(1, 16, 12, 10, generator=g)
    mix = torch.randn(16, 16, generator=g)
    style = (mix @ torch.randn(16, 9 * 14, generator=g)).view(1, 16, 9, 14) + 3.0
    out = whiten_colour(content, style)
    assert out.shape == content.shape
    assert torch.allclose(_cov(out), _cov(style), atol=1e-4 * float(_cov(style).abs().max()))
    assert torch.allclose(out.mean((2, 3)), style.mean((2, 3)), atol=1e-4)


def test_wct_stays_finite_for_rank_deficient_features():
    flat = torch.zeros(1, 64, 3, 3)  # 9 positions, 64 channels, zero covariance
    out = whiten_colour(flat, torch.randn(1, 64, 2, 2))
    assert torch.isfinite(out).all()


def test_sanet_attention_rows_sum_to_one_and_shapes_hold_for_non_square_inputs():
    sa = StyleAttention(32)
    content, style = torch.randn(2, 32, 5, 7), torch.randn(2, 32, 6, 3)
    a = sa.attention(content, style)
    assert a.shape == (2, 35, 18)
    assert torch.allclose(a.sum(-1), torch.ones(2, 35), atol=1e-5)
    assert (a >= 0).all()
    assert sa(content, style).shape == content.shape
    model = SANetModel().eval()
    with torch.no_grad():
        vgg = load_vgg()
        style = vgg(torch.rand(1, 3, 64, 32), model.style_layers)
        out = model.stylize(vgg, torch.rand(1, 3, 48, 80), [style], [1.0], SANetOptions(sanet_w1=1.0, sanet_w2=0.5))
    assert out.shape == (1, 3, 48, 80)


@pytest.mark.parametrize("level", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_decoder_inverts_the_encoder_resolution(level, upsample):
    vgg = load_vgg()
    x, (h, w) = pad_to_multiple(torch.rand(1, 3, 37, 50), 16)
    assert x.shape[-2:] == (48, 64) and (h, w) == (37, 50)
    layer = f"relu{level}_1"
    with torch.no_grad():
        assert Decoder(level, upsample=upsample)(vgg(x, [layer])[layer]).shape == x.shape


@pytest.mark.parametrize("method", registry.trainable())
def test_a_few_training_steps_lower_the_loss_on_a_tiny_batch(method, content_img, style_img):
    torch.manual_seed(0)
    vgg = load_vgg()
    model = registry.build(method)
    content = to_tensor(content_img.resize((48, 48)))
    style = None if method == "wct" else to_tensor(style_img.resize((48, 48)))
    opt = torch.optim.Adam(model.parameters(), lr=registry.spec(method).training.lr)

    def loss() -> torch.Tensor:  # the same random shifts / code mixes each time
        torch.manual_seed(1)
        return model.training_loss(vgg, content, style)["loss"]

    with torch.no_grad():
        before = float(loss())
    for _ in range(5):
        opt.zero_grad()
        loss().backward()
        opt.step()
    with torch.no_grad():
        after = float(loss())
    assert after < 0.99 * before, (before, after)


@pytest.mark.parametrize("method", registry.NAMES)
def test_every_model_class_declares_the_feedforward_protocol(method):
    cls = registry.spec(method)
    model = registry.build(method)
    assert isinstance(model, FeedForwardModel) and cls.method == model.method == method
    assert cls.training is not None and registry.has_weights(method)  # every model ships and trains here
    assert issubclass(cls.Options, StylizeOptions)
    opts = options_for(model, FeedForwardOptions(method=method, alpha=0.25, sanet_w2=0.5, wct_levels=(2, 1)))
    assert type(opts) is cls.Options and opts.alpha == 0.25
    assert registry.build(method, **model.config()).config() == model.config()


def test_checkpoint_round_trip_is_exact(tmp_path):
    model = registry.build("johnson", style_weight=2.5, width=8, residuals=1)
    path = registry.save(model, tmp_path / "j.safetensors", {"steps": 7})
    loaded = registry.load("johnson", path)
    assert loaded.config() == model.config()
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v.half().float()), k
    card = json.loads((tmp_path / "j.json").read_text())
    assert card["method"] == "johnson" and card["steps"] == 7
    # saving the loaded model again reproduces the same bytes of weights
    again = registry.save(loaded, tmp_path / "k.safetensors")
    assert again.read_bytes()[-1000:] == path.read_bytes()[-1000:]


def test_missing_and_incompatible_checkpoints_give_clear_errors(tmp_path):
    with pytest.raises(UsageError, match=r"no trained adain model at .*atelier train adain"):
        registry.load("adain", tmp_path / "none.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(UsageError, match="cannot read model file"):
        registry.load("adain", junk)
    johnson = registry.save(registry.build("johnson", width=8, residuals=1), tmp_path / "j.safetensors")
    with pytest.raises(UsageError, match="holds a 'johnson' model, not adain"):
        registry.load("adain", johnson)
    wrong = tmp_path / "wrong.safetensors"
    save_file({"decoder.net.1.weight": torch.zeros(3, 3, 3, 3)}, str(wrong),
              metadata={"atelier_method": "adain", "atelier_format": "1", "config": "{}"})
    with pytest.raises(UsageError, match="does not fit the adain architecture"):
        registry.load("adain", wrong)
    with pytest.raises(UsageError, match="unknown feed-forward method"):
        registry.load("nst", None)


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """Untrained checkpoints of every method (the CLI plumbing does not depend on training)."""
    folder = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    return {m: registry.save(registry.build(m), folder / f"{m}.safetensors", {"steps": 0}) for m in registry.NAMES}


@pytest.fixture()
def images(tmp_path, content_img, style_img):
    content, style = tmp_path / "content.png", tmp_path / "style.jpg"
    content_img.save(content)
    style_img.save(style)
    return str(content), str(style)


def _run(*args: str):
    return CliRunner().invoke(main, list(map(str, args)))


@pytest.mark.parametrize("method", registry.NAMES)
def test_every_method_runs_end_to_end_from_the_cli(method, tiny_models, images, tmp_path, content_img):
    out = tmp_path / f"{method}.png"
    extra = ["--sanet-w1", "0.5", "--sanet-w2", "1.5"] if method == "sanet" else []
    styles = [images[1]] if registry.spec(method).needs_style else []
    res = _run("transfer", images[0], *styles, "--method", method, "--model", tiny_models[method],
               "--alpha", "0.8", "--size", "64", *extra, "-o", out)
    assert res.exit_code == 0, res.output
    from PIL import Image
    with Image.open(out) as img:
        assert img.size == (64, 64)  # --size is the output's long side
    meta = json.loads(out.with_suffix(".png.json").read_text())
    assert meta["method"] == method and meta["model"]["steps"] == 0


def test_style_blend_and_colour_options_change_the_result(tiny_models, content_img, style_img):
    model = registry.load("adain", tiny_models["adain"])
    c, s = to_tensor(content_img), to_tensor(style_img)
    opts = FeedForwardOptions(precision="fp32")
    one = stylize_tensor(model, load_vgg(), c, [s], opts)
    blend = stylize_tensor(model, load_vgg(), c, [s, c], FeedForwardOptions(precision="fp32", style_blend=(1, 1)))
    lum = stylize_tensor(model, load_vgg(), c, [s], FeedForwardOptions(precision="fp32", color="luminance"))
    assert one.shape == c.shape and not torch.allclose(one, blend)
    from atelier.core.color import rgb_to_yiq

    def chroma_error(x):
        return (rgb_to_yiq(x)[:, 1:] - rgb_to_yiq(c)[:, 1:]).abs().mean()

    assert chroma_error(lum) < 0.5 * chroma_error(one)


def test_style_features_are_encoded_once_per_style_image(content_img, style_img):
    vgg, s = load_vgg(), to_tensor(style_img)
    first = style_features(vgg, s, ("relu4_1",))
    assert style_features(vgg, s.clone(), ("relu4_1",)) is first  # same pixels: cached
    assert torch.equal(first["relu4_1"], vgg(s, ["relu4_1"])["relu4_1"])
    other = style_features(vgg, s.flip(-1), ("relu4_1",))
    assert other is not first and not torch.equal(other["relu4_1"], first["relu4_1"])


def test_wct_levels_choose_the_transformed_levels(content_img, style_img):
    torch.manual_seed(0)
    full, only4 = registry.build("wct").eval(), registry.build("wct", levels=(4,)).eval()
    vgg, c, s = load_vgg(), to_tensor(content_img)[..., :64, :64], to_tensor(style_img)[..., :64, :64]
    feats = vgg(s, full.style_layers)
    with torch.no_grad():
        deep = full.stylize(vgg, c, [feats], [1.0], WCTOptions(wct_levels=(4,)))
        all_five = full.stylize(vgg, c, [feats], [1.0])
        only4.decoders.load_state_dict({k: v for k, v in full.decoders.state_dict().items()
                                        if k.startswith("relu4_1.")})
        assert torch.allclose(deep, only4.stylize(vgg, c, [feats], [1.0]))  # level 4 alone, same decoder
    assert not torch.allclose(deep, all_five)
    with pytest.raises(UsageError, match=r"no decoder for level\(s\) \[3\]"):
        only4.stylize(vgg, c, [feats], [1.0], WCTOptions(wct_levels=(4, 3)))


@pytest.mark.parametrize("args, message", [
    (["--method", "adain", "--alpha", "1.5"], "alpha must be"),
    (["--method", "adain", "--model", "missing.safetensors"], "model file not found"),
    (["--method", "sanet", "--sanet-w1", "0", "--sanet-w2", "0"], "cannot both be 0"),
    (["--method", "johnson", "--color", "match"], "built in"),
    (["--method", "nst"], "unknown feed-forward method"),
    (["--method", "adain", "--style-blend", "1,2"], "one weight per style"),
    (["--method", "wct", "--wct-levels", "6,4"], "wct_levels must be"),
])
def test_bad_settings_fail_with_one_line_and_no_output(args, message, images, tmp_path):
    out = tmp_path / "out.png"
    res = _run("transfer", *images, *args, "-o", out)
    assert res.exit_code == 2
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_style_and_content_are_usage_errors(images, tmp_path, tiny_models):
    res = _run("transfer", images[0], "--model", tiny_models["adain"], "-o", tmp_path / "o.png")
    assert res.exit_code == 2 and "needs at least one style image" in res.output
    res = _run("transfer", tmp_path / "nope.png", images[1], "--model", tiny_models["adain"], "-o", tmp_path / "o.png")
    assert res.exit_code == 2 and "file not found" in res.output


def test_stylize_method_dispatches_to_feed_forward(tiny_models, images, tmp_path, content_img):
    out = tmp_path / "out.png"
    res = _run("stylize", *images, "--method", "adain", "--model", tiny_models["adain"], "--alpha", "0.5",
               "--color", "luminance", "-o", out)
    assert res.exit_code == 0, res.output
    meta = json.loads(out.with_suffix(".png.json").read_text())
    assert meta["method"] == "adain" and meta["options"]["alpha"] == 0.5 and meta["options"]["color"] == "luminance"
    import atelier
    img = atelier.stylize(content_img, images[1], method="wct", size=64,
                          feedforward=FeedForwardOptions(model=str(tiny_models["wct"])))
    assert max(img.size) == 64 and img.info["atelier"]["method"] == "wct"
    with pytest.raises(UsageError, match="regions"):
        atelier.stylize(content_img, images[1], method="adain", regions=[])
    res = _run("stylize", *images, "--method", "sanet", "--augment", "2", "-o", out)
    assert res.exit_code == 2 and "--method gatys only" in res.output


def test_a_missing_shipped_model_says_how_to_train_one(monkeypatch, tmp_path):
    monkeypatch.setattr(registry, "shipped_path", lambda method: tmp_path / f"{method}.safetensors")
    for method in registry.trainable():
        with pytest.raises(UsageError, match=f"no {method} model ships with this install.*atelier train {method}"):
            registry.load(method)


@pytest.mark.parametrize("method", registry.trainable())
def test_shipped_models_load_and_have_honest_cards(method):
    model = registry.load(method)
    card = registry.read_card(registry.shipped_path(method))
    assert card["method"] == method and card["steps"] > 0 and card["final_losses"]
    assert "TRAINED" in card["notes"] and card["hardware"]["description"] and card["sample_grid"]
    assert model.config() == card["config"]


@pytest.mark.parametrize("method", ["adain", "wct", "sanet"])
def test_shipped_arbitrary_style_models_move_a_photo_toward_an_unseen_style(method, content_img, style_img):
    """The trained weights really stylize: the result's Gram statistics are much closer to the
    (procedural, never trained on) style than the photo's, while the photo's layout stays."""
    out = transfer(content_img, [style_img], method=method, size=128)
    size = 128
    assert (metrics.style_distance(out, style_img, size=size)
            < STYLE_GAIN * metrics.style_distance(content_img, style_img, size=size))
    assert (metrics.content_distance(out, content_img, size=size)
            < CONTENT_KEPT * metrics.content_distance(style_img, content_img, size=size))
