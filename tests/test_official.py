"""`atelier import-weights`: the authors' checkpoints as Atelier models.

WCT is tested on real released files (the PyTorch WCT port's levels 1-3 in ../shared/weights);
AdaIN and SANet on state dicts we build with the official layouts (pytorch-AdaIN's
``nn.Sequential`` VGG and decoder, SANet's ``Transform`` keys), random weights, compared with
a reference forward pass written here in the official layer order.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.feedforward import official, registry
from atelier.feedforward.adain import adain
from atelier.feedforward.sanet import normalise
from atelier.feedforward.transfer import transfer
from atelier.io.images import to_tensor

WCT_DIR = Path(__file__).resolve().parents[2] / "shared" / "weights" / "wct-deep-transfer"


def official_vgg() -> nn.Sequential:
    """pytorch-AdaIN's normalised VGG layout: a 1x1 conv, then [pad, conv, ReLU] per conv, pools between blocks."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, 1)]
    c = 3
    for block, (n, width) in enumerate(zip((2, 2, 4, 4, 4), (64, 128, 256, 512, 512), strict=True)):
        for _ in range(n):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(c, width, 3), nn.ReLU()]
            c = width
        if block < 4:
            layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
    return nn.Sequential(*layers)


def official_decoder() -> nn.Sequential:
    """The AdaIN/SANet relu4_1 decoder layout: keys 1, 5, 8, 11, 14, 18, 21, 25, 28."""
    spec = [(512, 256), "up", (256, 256), (256, 256), (256, 256), (256, 128), "up", (128, 128), (128, 64), "up",
            (64, 64), (64, 3)]
    layers: list[nn.Module] = []
    for s in spec:
        layers += [nn.Upsample(scale_factor=2)] if s == "up" else [nn.ReflectionPad2d(1), nn.Conv2d(*s, 3), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class OfficialSA(nn.Module):
    def __init__(self, c: int = 512):
        super().__init__()
        self.f, self.g, self.h, self.out_conv = (nn.Conv2d(c, c, 1) for _ in range(4))


class OfficialTransform(nn.Module):
    def __init__(self):
        super().__init__()
        self.sanet4_1, self.sanet5_1 = OfficialSA(), OfficialSA()
        self.merge_conv = nn.Conv2d(512, 512, 3)


def _scaled(module: nn.Module) -> nn.Module:
    """Random weights that keep activations O(1) through deep stacks (default init shrinks them)."""
    torch.manual_seed(0)
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.uniform_(m.bias, -0.05, 0.05)
    return module.eval()


@pytest.fixture(scope="module")
def adain_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("adain")
    vgg, dec = _scaled(official_vgg()), _scaled(official_decoder())
    torch.save(vgg.state_dict(), d / "vgg_normalised.pth")
    torch.save(dec.state_dict(), d / "decoder.pth")
    return vgg, dec, d


def _images():
    torch.manual_seed(1)
    c = F.interpolate(torch.rand(1, 3, 8, 8), size=(64, 64), mode="bilinear")
    s = F.interpolate(torch.rand(1, 3, 16, 16), size=(64, 64), mode="bilinear")
    return c, s


def test_adain_checkpoint_matches_the_official_forward_pass(adain_files):
    vgg, dec, d = adain_files
    assert list(dec.state_dict())[:4] == ["1.weight", "1.bias", "5.weight", "5.bias"]
    model = official.convert("adain", [d / "decoder.pth", d / "vgg_normalised.pth"])
    c, s = _images()
    with torch.no_grad():
        ref = dec(adain(vgg[:31](c), vgg[:31](s)))
        fs = model.encoder(s, model.style_layers)
        ours = model.stylize(model.encoder, c, [fs], [1.0])
    assert model.config()["encoder"] == "normalised"
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())


def test_sanet_checkpoint_matches_the_official_forward_pass(adain_files, tmp_path):
    vgg, dec, d = adain_files
    tr = _scaled(OfficialTransform())
    torch.save(tr.state_dict(), tmp_path / "transformer_iter_500000.pth")
    torch.save(dec.state_dict(), tmp_path / "decoder_iter_500000.pth")
    model = official.convert("sanet", [tmp_path / "decoder_iter_500000.pth", tmp_path / "transformer_iter_500000.pth",
                                       d / "vgg_normalised.pth"])

    def sa(m: OfficialSA, content, style):  # the official SA module (population variance, as Atelier's)
        q = m.f(normalise(content)).flatten(2).transpose(1, 2)
        a = torch.softmax(torch.bmm(q, m.g(normalise(style)).flatten(2)), -1)
        return content + m.out_conv(torch.bmm(m.h(style).flatten(2), a.transpose(1, 2)).view_as(content))

    c, s = _images()
    with torch.no_grad():
        c4, s4 = vgg[:31](c), vgg[:31](s)
        c5, s5 = vgg[31:44](c4), vgg[31:44](s4)
        merged = tr.merge_conv(F.pad(sa(tr.sanet4_1, c4, s4) + F.interpolate(sa(tr.sanet5_1, c5, s5), scale_factor=2),
                                     (1, 1, 1, 1), mode="reflect"))
        ref = dec(merged)
        ours = model.stylize(model.encoder, c, [model.encoder(s, model.style_layers)], [1.0])
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())


def test_real_wct_levels_reconstruct_a_photo(content_img):
    files = sorted(WCT_DIR.glob("*.pth"))
    assert len(files) == 6, f"expected the six WCT files in {WCT_DIR}"
    model = official.convert("wct", files)
    assert model.levels == (3, 2, 1) and model.encoder.depth == 3
    x = to_tensor(content_img.resize((128, 96)))
    with torch.no_grad():
        for level in (1, 2, 3):
            layer = f"relu{level}_1"
            err = (model.decoders[layer](model.encoder(x, [layer])[layer]).clamp(0, 1) - x).abs().mean()
            assert err < 0.05, (layer, float(err))  # a flat grey image is ~0.2 away


def test_import_weights_cli_writes_a_model_that_runs_with_model(tmp_path, content_img, style_img):
    out = tmp_path / "wct_official.safetensors"
    res = CliRunner().invoke(main, ["import-weights", "wct", *map(str, sorted(WCT_DIR.glob("*.pth"))), "-o", str(out)])
    assert res.exit_code == 0, res.output
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["config"] == {"levels": [3, 2, 1], "encoder": "normalised"} and len(card["files"]) == 6
    img = transfer(content_img, [style_img], method="wct", model=str(out), wct_levels=(3, 2, 1), size=64)
    assert max(img.size) == 64
    loaded = registry.load("wct", out)
    assert loaded.encoder is not None and loaded.decoders["relu1_1"].scale == 1.0


def test_import_weights_errors_are_one_line(tmp_path, adain_files):
    _, _, d = adain_files

    def run(*a):
        return CliRunner().invoke(main, ["import-weights", *map(str, a)])

    wct_dec = WCT_DIR / "feature_invertor_conv2_1.pth"
    res = run("adain", wct_dec, d / "vgg_normalised.pth", "-o", tmp_path / "x.safetensors")
    assert res.exit_code == 2 and "atelier: error: adain needs a relu4_1 decoder" in res.output
    res = run("sanet", d / "decoder.pth", d / "vgg_normalised.pth", "-o", tmp_path / "x.safetensors")
    assert res.exit_code == 2 and "transformer_iter" in res.output
    res = run("wct", wct_dec, "-o", tmp_path / "x.safetensors")
    assert res.exit_code == 2 and "normalised VGG" in res.output
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    res = run("adain", junk, "-o", tmp_path / "x.safetensors")
    assert res.exit_code == 2 and "atelier: error: cannot read" in res.output
    res = run("wct", *sorted(WCT_DIR.glob("*conv1_1.pth")), "-o", tmp_path / "x.pt")
    assert res.exit_code == 2 and ".safetensors" in res.output
    with pytest.raises(UsageError, match="stops before relu4_1"):
        official.convert("adain", [d / "decoder.pth", WCT_DIR / "vgg_normalised_conv3_1.pth"])
