"""Gram matrices and loss terms, checked against direct computations."""

import torch

from atelier.core.losses import content_loss, gram, gram_loss, tv_loss


def test_gram_is_feature_outer_product_over_positions():
    f = torch.randn(2, 5, 7, 3)
    flat = f.reshape(2, 5, 21)
    expected = torch.stack([flat[i] @ flat[i].T for i in range(2)]) / 21
    torch.testing.assert_close(gram(f), expected)
    assert torch.allclose(gram(f), gram(f).transpose(1, 2))


def test_gram_is_size_independent_for_a_tiled_texture():
    tile = torch.randn(1, 4, 5, 5)
    big = tile.repeat(1, 1, 3, 3)
    torch.testing.assert_close(gram(big), gram(tile))


def test_masked_gram_uses_only_the_masked_region():
    f = torch.randn(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :, :4] = 1
    torch.testing.assert_close(gram(f, mask), gram(f[..., :, :4]))
    torch.testing.assert_close(gram(f, torch.ones(1, 1, 8, 8)), gram(f))
    # a mask at another resolution is resampled to the features
    torch.testing.assert_close(gram(f, torch.ones(1, 1, 32, 32)), gram(f))


def test_relative_losses():
    t = torch.randn(1, 6, 6)
    assert gram_loss(t, t).item() == 0
    assert abs(gram_loss(torch.zeros_like(t), t).item() - 1.0) < 1e-6
    assert abs(gram_loss(2 * t, t).item() - 1.0) < 1e-5
    a = torch.randn(1, 4, 5, 5)
    assert content_loss(a, a).item() == 0
    assert abs(content_loss(a * 0, a).item() - 1.0) < 1e-6
    # scaling both sides leaves a relative loss unchanged
    b = torch.randn(1, 4, 5, 5)
    assert abs(content_loss(3 * b, 3 * a).item() - content_loss(b, a).item()) < 1e-4


def test_masked_content_loss_ignores_outside():
    a = torch.randn(1, 2, 6, 6)
    b = a.clone()
    b[..., :, 3:] += 5
    mask = torch.zeros(1, 1, 6, 6)
    mask[..., :, :3] = 1
    assert content_loss(b, a, mask).item() == 0
    assert content_loss(b, a).item() > 0


def test_tv_loss():
    assert tv_loss(torch.full((1, 3, 8, 8), 0.3)).item() == 0
    stripes = torch.zeros(1, 1, 4, 4)
    stripes[..., :, 1::2] = 1
    assert abs(tv_loss(stripes).item() - 1.0) < 1e-6  # every horizontal step is 1, vertical 0
