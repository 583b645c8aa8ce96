"""Colour handling for style transfer: luminance/chroma split and colour statistics matching.

Images are float tensors N x 3 x H x W, RGB in 0..1. Luminance and chroma use the
YIQ transform (as in Gatys et al., "Preserving Color in Neural Artistic Style Transfer").
"""

from __future__ import annotations

import torch

_RGB2YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])


def rgb_to_yiq(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", _RGB2YIQ.to(x), x)


def yiq_to_rgb(x: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", torch.linalg.inv(_RGB2YIQ).to(x), x)


def luminance(x: torch.Tensor) -> torch.Tensor:
    """Y channel (N x 1 x H x W)."""
    return rgb_to_yiq(x)[:, :1]


def gray3(x: torch.Tensor) -> torch.Tensor:
    """Luminance replicated to three channels, for luminance-only transfer."""
    return luminance(x).expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Shift/scale the style's luminance to the content's mean and std (luminance-only transfer)."""
    ys, yc = luminance(style), luminance(content)
    y = (ys - ys.mean()) / ys.std().clamp_min(1e-6) * yc.std() + yc.mean()
    return y.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def combine_luminance(stylized: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Luminance of ``stylized`` with the chroma (I, Q) of ``content``; sizes must agree."""
    out = rgb_to_yiq(content)
    out[:, :1] = rgb_to_yiq(stylized)[:, :1]
    return yiq_to_rgb(out).clamp(0, 1)


def match_color(source: torch.Tensor, target: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Affinely map ``source``'s colours to ``target``'s RGB mean and covariance.

    The transform is ``x -> C_t^{1/2} C_s^{-1/2} (x - mu_s) + mu_t`` (symmetric square
    roots via eigendecomposition in float64), the "colour histogram matching" of Gatys et al.
    """
    def stats(x):
        p = x.double().reshape(3, -1)
        mu = p.mean(dim=1, keepdim=True)
        cov = torch.cov(p) + eps * torch.eye(3, dtype=torch.float64)
        return p, mu, cov

    def sqrtm(c, inv=False):
        w, v = torch.linalg.eigh(c)
        w = w.clamp_min(eps)
        return v @ torch.diag(w.rsqrt() if inv else w.sqrt()) @ v.T

    p, mu_s, cov_s = stats(source[0])
    _, mu_t, cov_t = stats(target[0])
    mapped = sqrtm(cov_t) @ sqrtm(cov_s, inv=True) @ (p - mu_s) + mu_t
    return mapped.reshape(source.shape).to(source.dtype).clamp(0, 1)
