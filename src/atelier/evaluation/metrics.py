"""Image-quality metrics of the evaluation suite, each defined precisely next to its code.

Every public function accepts anything :func:`atelier.io.images.load_image` accepts (a path, a
PIL image, an HxWxC array, a CxHxW tensor in 0..1) and returns a plain ``float``. The
``*_array``/``*_features`` helpers are the pure computations behind them.

Definitions
-----------
style distance
    Mean over the style layers (default relu1_1, relu2_1, relu3_1, relu4_1, relu5_1) of the
    relative Gram error ``||G(F_x) - G(F_s)||^2 / ||G(F_s)||^2`` (:func:`atelier.core.losses.gram_loss`;
    Grams normalised by the number of positions, so it does not depend on image size). The
    image is resized to long side ``size``, the style image to the same long side, so both
    are seen at the same scale of brush stroke. Bundled Caffe VGG19, fp32, no gradients.
    With a ``mask`` the image's Gram is taken inside the (soft) region only.
content distance
    Relative feature error ``||F_x - F_c||^2 / ||F_c||^2`` on relu4_2
    (:func:`atelier.core.losses.content_loss`); the image is resized to long side ``size``, the
    content to the image's exact size. With a ``mask`` both are weighted by it.
gradient magnitude
    Grayscale (ITU-R 601 luma, 0..255), 3x3 Sobel ``gx``/``gy`` on the valid interior (no
    padding, so image borders add no artificial edges), mean of ``sqrt(gx^2 + gy^2)``.
    Higher means crisper edges and more texture.
FFT 0.9-quantile
    Grayscale (0..255) cut into non-overlapping ``block`` x ``block`` tiles (incomplete tiles
    at the right/bottom edge are dropped), ``|FFT2|`` per tile with the DC term removed
    (it is the tile's mean brightness, not detail), then the mean of the amplitudes in the
    tile's top ``1 - q`` fraction - the ``k = ceil((1 - q) * (block^2 - 1))`` largest ones
    (7 of 63 for 8x8, q=0.9) - averaged over tiles. The paper says "amplitudes above the
    90% quantile"; taking the top-k is the same set when amplitudes are distinct and stays
    well defined when many tie (a flat tile has 63 zeros). Higher means more high-frequency
    detail.
SSIM to content
    scikit-image's ``structural_similarity`` on the grayscale images in 0..1 (content
    resized to the image's size, ``data_range=1``, default 7x7 window). Structure kept
    from the photo; 1 means identical.
periodic-artefact score
    How much the luma spectrum peaks at the harmonics of a ``period``-pixel grid (8: the
    stride of three 2x poolings, where decoders and stride-2 networks leave a grid).
    Grayscale ``Y`` (0..255) at the image's own size, mean removed, times a separable Hann
    window; power ``P = |FFT2|^2`` on the H x W bins. The harmonics are the frequencies
    ``(a/period, b/period)`` cycles/px with ``a = 0..period/2`` and ``b = -period/2+1..period/2``,
    not ``b <= 0`` when ``a = 0`` (one of each pair ``f, -f``, whose powers are equal), each
    at its nearest bin ``(round(b*H/period), round(a*W/period))`` (distinct bins only; 39 for
    period 8). For each: peak = the largest ``P`` within 1 bin (3 x 3, absorbing the rounding),
    background = the median ``P`` over the surrounding ring of bins at Chebyshev distance 3
    to 6 (wrapping around); the score is the mean over harmonics of peak / background. A
    spectrum without periodic structure gives about 3 to 4 (white noise: 4.1 expected, the
    largest of 9 exponential powers over their median); natural photos score 2.6 to 4.0
    (10th to 90th percentile, median 3.4; 30 photos of ``shared/data`` at 512 px), a visible
    8-px grid 10 and more. Images must be at least ``4 * period`` px on each side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ..base.checks import check_int, check_number, fail
from ..base.errors import UsageError
from ..core.losses import content_loss, gram, gram_loss
from ..core.vgg import load_vgg
from ..io.images import ImageLike, load_image, resize_long_side, to_tensor

STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
CONTENT_LAYER = "relu4_2"
MaskLike = np.ndarray | torch.Tensor | Image.Image


# --- pure computations ---------------------------------------------------------------

def gray_array(image: ImageLike) -> np.ndarray:
    """The image as a float64 HxW grayscale array in 0..255 (ITU-R 601 luma)."""
    return np.asarray(load_image(image).convert("L"), dtype=np.float64)


def sobel_magnitude(gray: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of an HxW array on its valid interior ((H-2) x (W-2))."""
    if gray.ndim != 2 or min(gray.shape) < 3:
        raise UsageError(f"gradient magnitude needs an image of at least 3x3 pixels, got {gray.shape}")
    g = gray
    # rows above/below and columns left/right of each interior pixel, smoothed 1-2-1 across
    gx = (g[:-2, 2:] + 2 * g[1:-1, 2:] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[1:-1, :-2] + g[2:, :-2])
    gy = (g[2:, :-2] + 2 * g[2:, 1:-1] + g[2:, 2:]) - (g[:-2, :-2] + 2 * g[:-2, 1:-1] + g[:-2, 2:])
    return np.hypot(gx, gy)


def block_fft_quantile(gray: np.ndarray, block: int = 8, q: float = 0.9) -> float:
    """Mean over ``block``-sized tiles of the mean of each tile's top ``1-q`` AC amplitudes."""
    block = check_int("block", block, 2)
    check_number("q", q, 0, 1, hi_open=True)
    h, w = (gray.shape[0] // block) * block, (gray.shape[1] // block) * block
    if h == 0 or w == 0:
        raise UsageError(f"image of {gray.shape[1]}x{gray.shape[0]} px is smaller than one {block}x{block} block")
    tiles = gray[:h, :w].reshape(h // block, block, w // block, block).transpose(0, 2, 1, 3)
    amp = np.abs(np.fft.fft2(tiles)).reshape(-1, block * block)[:, 1:]  # drop DC (index 0)
    k = max(1, math.ceil((1.0 - q) * amp.shape[1] - 1e-9))
    top = np.partition(amp, amp.shape[1] - k, axis=1)[:, -k:]
    return float(top.mean())


def periodic_artefact_array(gray: np.ndarray, period: int = 8, peak_radius: int = 1,
                             ring: tuple[int, int] = (3, 6)) -> float:
    """Mean over the ``period``-px grid harmonics of peak power / ring median (see module doc)."""
    period = check_int("period", period, 2)
    if period % 2:
        raise fail("period", "an even integer >= 2", period)
    h, w = gray.shape
    if min(h, w) < 4 * period:
        raise UsageError(f"the periodic-artefact score needs at least {4 * period} px per side, got {w}x{h}")
    g = (gray - gray.mean()) * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(g)) ** 2
    half = period // 2
    bins = {(round(b * h / period) % h, round(a * w / period) % w)
            for a in range(half + 1) for b in range(-half + 1, half + 1) if a > 0 or b > 0}
    d = np.arange(-ring[1], ring[1] + 1)
    du, dv = np.meshgrid(d, d, indexing="ij")
    cheb = np.maximum(abs(du), abs(dv))
    near, far = cheb <= peak_radius, cheb >= ring[0]
    ratios = [power[(u + du[near]) % h, (v + dv[near]) % w].max()
              / max(np.median(power[(u + du[far]) % h, (v + dv[far]) % w]), 1e-12) for u, v in sorted(bins)]
    return float(np.mean(ratios))


@torch.no_grad()
def vgg_features(x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Bundled VGG19 features (fp32, no gradients) of a 1x3xHxW RGB tensor in 0..1."""
    return load_vgg()(x.float(), layers)


def style_distance_features(feats: dict[str, torch.Tensor], style_feats: dict[str, torch.Tensor],
                            mask: torch.Tensor | None = None) -> float:
    """Mean relative Gram error over the layers of ``style_feats`` (mask restricts ``feats``)."""
    losses = [gram_loss(gram(feats[n], mask), gram(style_feats[n])) for n in style_feats]
    return float(torch.stack(losses).mean())


# --- loading helpers -----------------------------------------------------------------

def _layers(layers: str | Sequence[str]) -> tuple[str, ...]:
    out = (layers,) if isinstance(layers, str) else tuple(layers)
    if not out:
        raise UsageError("at least one layer is needed")
    return out


def _check_size(size: int) -> int:
    return check_int("size", size, 16, 8192)


def load_mask(mask: MaskLike) -> torch.Tensor:
    """An HxW (or 1x1xHxW) soft mask in 0..1 as a 1x1xHxW float tensor; raises UsageError."""
    if isinstance(mask, Image.Image):
        m = torch.from_numpy(np.asarray(mask.convert("L"), dtype=np.float32) / 255.0)
    elif isinstance(mask, np.ndarray):
        m = torch.from_numpy(np.asarray(mask, dtype=np.float32))
    elif isinstance(mask, torch.Tensor):
        m = mask.detach().float().cpu()
    else:
        raise UsageError(f"cannot use {type(mask).__name__} as a mask")
    while m.ndim > 2 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise UsageError(f"a mask must be HxW, got shape {tuple(mask.shape) if hasattr(mask, 'shape') else '?'}")
    if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
        raise UsageError("mask values must be finite and within 0..1")
    if m.sum() <= 0:
        raise UsageError("mask is empty (all zeros)")
    return m[None, None]


def _prepared(image: ImageLike, size: int) -> torch.Tensor:
    return to_tensor(resize_long_side(load_image(image), _check_size(size)))


# --- public metrics ------------------------------------------------------------------

def style_distance(image: ImageLike, style: ImageLike, layers: Sequence[str] = STYLE_LAYERS, size: int = 512,
                   mask: MaskLike | None = None) -> float:
    """Relative Gram error of ``image`` to ``style``, averaged over ``layers`` (lower: closer).

    Both images are resized to long side ``size``. ``mask`` (HxW, 0..1) restricts the
    image's statistics to a region, e.g. the background of a portrait.
    """
    layers = _layers(layers)
    x, s = _prepared(image, size), _prepared(style, size)
    m = None if mask is None else load_mask(mask)
    return style_distance_features(vgg_features(x, layers), vgg_features(s, layers), m)


def content_distance(image: ImageLike, content: ImageLike, layer: str = CONTENT_LAYER, size: int = 512,
                     mask: MaskLike | None = None) -> float:
    """Relative feature error of ``image`` to ``content`` on ``layer`` (lower: closer).

    ``image`` is resized to long side ``size``; ``content`` to the image's exact size.
    """
    x = _prepared(image, size)
    c = to_tensor(load_image(content).resize((x.shape[-1], x.shape[-2]), Image.LANCZOS))
    fx, fc = vgg_features(x, (layer,))[layer], vgg_features(c, (layer,))[layer]
    m = None if mask is None else load_mask(mask)
    return float(content_loss(fx, fc, m))


def gradient_magnitude(image: ImageLike) -> float:
    """Mean 3x3 Sobel gradient magnitude of the grayscale image in 0..255 (0 for a flat image)."""
    return float(sobel_magnitude(gray_array(image)).mean())


def fft_quantile(image: ImageLike, block: int = 8, q: float = 0.9) -> float:
    """Average over ``block`` x ``block`` tiles of the mean top-``(1-q)`` FFT amplitude (see module doc)."""
    return block_fft_quantile(gray_array(image), block, q)


def periodic_artefact(image: ImageLike, period: int = 8) -> float:
    """Periodic-artefact score of the grayscale image at its own size (~3: none; see module doc)."""
    return periodic_artefact_array(gray_array(image), period)


def ssim_to_content(image: ImageLike, content: ImageLike) -> float:
    """Grayscale SSIM (scikit-image) between ``image`` and ``content`` resized to the image's size."""
    from skimage.metrics import structural_similarity

    img = load_image(image)
    a = gray_array(img) / 255.0
    b = gray_array(load_image(content).resize(img.size, Image.LANCZOS)) / 255.0
    if min(a.shape) < 7:
        raise UsageError(f"SSIM needs an image of at least 7x7 pixels, got {img.size[0]}x{img.size[1]}")
    return float(structural_similarity(a, b, data_range=1.0))
