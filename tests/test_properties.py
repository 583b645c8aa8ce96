"""Property-based robustness: whatever file, array or setting comes in, only Atelier's own errors
(``atelier.base.errors``) may come out, never a traceback of a library underneath.

Bounded (50 examples each, small images) so that the suite stays fast.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import types
import typing
import warnings

import numpy as np
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image, PngImagePlugin

from atelier.base.errors import AtelierError
from atelier.core.options import PRESETS, StyleOptions
from atelier.core.vgg import layer_names
from atelier.evaluation.runner import EvalOptions
from atelier.feedforward.train import TrainOptions
from atelier.feedforward.transfer import FeedForwardOptions
from atelier.io.images import load_image
from atelier.library.augment import AugmentOptions
from atelier.library.descriptors import DescriptorConfig
from atelier.library.methods import METHODS
from atelier.portrait.mode import PortraitOptions
from atelier.web.config import QUALITY, JobSettings, ServeOptions, style_options

BOUNDED = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                          HealthCheck.too_slow])
MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "F", "I;16", "I;16B", "I;16L",
         "LA", "PA", "RGBX", "RGBa", "La"]
FORMATS = ["PNG", "JPEG", "TIFF", "WEBP", "GIF", "BMP"]


# --- image files ----------------------------------------------------------------------------
@st.composite
def image_files(draw) -> bytes:
    """An image of a random mode, size and content, with random metadata, in a random format,
    possibly truncated or with bytes flipped."""
    mode = draw(st.sampled_from(MODES))
    w, h = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    seed = draw(st.integers(0, 2**16))
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 4), dtype=np.uint8)
    img = Image.fromarray(arr, "RGBA")
    try:
        img = img.convert(mode)
    except ValueError:
        img = Image.new(mode, (w, h))
    fmt = draw(st.sampled_from(FORMATS))
    kwargs: dict = {}
    exif = Image.Exif()
    if draw(st.booleans()):
        exif[0x0112] = draw(st.integers(0, 12))  # orientation, valid or not
        kwargs["exif"] = exif
    if fmt == "PNG" and draw(st.booleans()):
        info = PngImagePlugin.PngInfo()
        info.add_text(draw(st.text("abcdefgh", min_size=1, max_size=8)), draw(st.text(max_size=40)))
        kwargs["pnginfo"] = info
    if mode == "P" and draw(st.booleans()):
        kwargs["transparency"] = draw(st.integers(0, 255))
    buf = io.BytesIO()
    try:
        img.save(buf, fmt, **kwargs)
    except (OSError, ValueError, KeyError, TypeError):
        assume(False)  # Pillow cannot write this mode in this format: not an input anyone can have
    data = bytearray(buf.getvalue())
    damage = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    if damage == "truncate":
        data = data[: draw(st.integers(0, max(0, len(data) - 1)))]
    elif damage == "flip" and data:
        for _ in range(draw(st.integers(1, 8))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= draw(st.integers(1, 255))
    return bytes(data)


@BOUNDED
@given(data=image_files(), suffix=st.sampled_from([".png", ".jpg", ".tif", ".webp", ".gif", ".bmp", ".txt"]))
def test_any_image_file_loads_as_rgb_or_fails_with_an_atelier_error(tmp_path, data, suffix):
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    fds = len(os.listdir("/proc/self/fd"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no stray warning lines on the user's terminal either
            rgb, alpha = load_image(path, with_alpha=True)
    except AtelierError:
        return
    finally:
        assert len(os.listdir("/proc/self/fd")) == fds  # the file is closed, loaded or not
    assert rgb.mode == "RGB" and min(rgb.size) >= 1
    assert alpha is None or (alpha.mode == "L" and alpha.size == rgb.size)


@BOUNDED
@given(shape=st.lists(st.integers(0, 5), min_size=0, max_size=4),
       dtype=st.sampled_from(["uint8", "uint16", "int32", "float32", "float64", "bool", "complex64"]),
       fill=st.sampled_from([0.0, 0.5, 1.0, 300.0, -1.0, float("nan"), float("inf")]),
       tensor=st.booleans())
def test_any_array_or_tensor_loads_or_fails_with_an_atelier_error(shape, dtype, fill, tensor):
    with np.errstate(all="ignore"):
        arr = np.full(shape, fill).astype(dtype)
    src = arr
    if tensor:
        if dtype in ("uint16", "complex64"):
            assume(False)  # torch has no such tensors to be given
        src = torch.from_numpy(arr)
    try:
        img = load_image(src)
    except AtelierError:
        return
    assert img.mode == "RGB"


# --- options dataclasses ---------------------------------------------------------------------
LAYERS = layer_names("vgg19")
INTS = st.one_of(st.integers(-3, 70), st.integers(-2**70, 2**70), st.sampled_from([0, 1, 16, 2**31, 2**32, 2**64]))
FLOATS = st.one_of(st.floats(-10, 10), st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, 1.0, -0.0, 1e-300, 1e300]))
WORDS = st.one_of(st.sampled_from(["auto", "cpu", "cuda", "none", "luminance", "match", "lbfgs", "adam", "max", "avg",
                                   "bf16", "fp32", "vgg19", "vgg16", "regions", "twopass", "gatys", "sanet",
                                   "selfie", "pose", "content", "noise", "style", "hub", *PRESETS, *METHODS, *QUALITY]),
                  st.text(max_size=12))


def strategy_for(hint) -> st.SearchStrategy:
    """Values of the type ``hint`` (what the CLI, the API or a web request can produce), odd ones included."""
    origin, args = typing.get_origin(hint), [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):  # Optional[X] and X | None
        return st.one_of(st.none(), strategy_for(args[0]))
    if origin in (list, tuple, typing.Sequence) or str(origin) == "<class 'collections.abc.Sequence'>":
        item = args[0] if args else str
        items = st.sampled_from(LAYERS) if item is str else strategy_for(item)
        return st.lists(st.one_of(items, strategy_for(item)), max_size=6).map(tuple)
    if origin is dict or hint is dict:
        return st.just({})
    return {bool: st.booleans(), int: INTS, float: st.one_of(FLOATS, INTS), str: WORDS}[hint]


def options(cls) -> st.SearchStrategy:
    """Instances of dataclass ``cls`` with every field drawn at random (or left at its default)."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: st.one_of(st.just(dataclasses.MISSING), strategy_for(hints[f.name]))
              for f in dataclasses.fields(cls)}
    return st.fixed_dictionaries(fields).map(
        lambda kw: cls(**{k: v for k, v in kw.items() if v is not dataclasses.MISSING}))


def only_atelier_errors(check) -> None:
    with contextlib.suppress(AtelierError):
        check()


@BOUNDED
@given(o=options(StyleOptions))
def test_style_options(o):
    try:
        r = o.resolved()
    except AtelierError:
        return
    torch.Generator().manual_seed(r.seed)  # a validated seed works with every generator Atelier uses
    np.random.default_rng(r.seed)


@BOUNDED
@given(o=options(FeedForwardOptions), n_styles=st.integers(0, 3))
def test_feedforward_options(o, n_styles):
    only_atelier_errors(lambda: o.validate(n_styles))


@BOUNDED
@given(o=options(PortraitOptions))
def test_portrait_options(o):
    only_atelier_errors(o.validate)


@BOUNDED
@given(o=options(AugmentOptions))
def test_augment_options(o):
    only_atelier_errors(o.validate)


@BOUNDED
@given(o=options(EvalOptions))
def test_eval_options(o):
    try:
        o.validate()
    except AtelierError:
        return
    np.random.default_rng(o.seed)


@BOUNDED
@given(o=options(TrainOptions), method=st.one_of(st.sampled_from(METHODS), WORDS))
def test_train_options(o, method):
    try:
        o.validate(method)
    except AtelierError:
        return
    torch.Generator().manual_seed(o.seed)


@BOUNDED
@given(o=options(DescriptorConfig))
def test_descriptor_config(o):
    only_atelier_errors(o.validated)


@BOUNDED
@given(o=options(ServeOptions))
def test_serve_options(o):
    only_atelier_errors(o.validate)


@BOUNDED
@given(s=options(JobSettings), max_size=st.integers(16, 4096))
def test_web_job_settings(s, max_size):
    only_atelier_errors(lambda: style_options(s, max_size))
