"""The shift-consistency training term: zero for a render that moves with its input, positive for a grid."""

from __future__ import annotations

import pytest
import torch

from atelier.core.vgg import load_vgg
from atelier.feedforward import registry
from atelier.feedforward.equivariance import random_shift, shift_consistency, shifted_crop
from atelier.io.images import to_tensor


def test_random_shifts_are_fractions_of_the_grid_and_never_zero():
    torch.manual_seed(0)
    shifts = {random_shift(8) for _ in range(400)}
    assert (0, 0) not in shifts and all(0 <= a < 8 and 0 <= b < 8 for a, b in shifts)
    assert len(shifts) > 50  # all the phases come up


def test_an_equivariant_render_scores_zero_and_a_grid_locked_pattern_does_not():
    torch.manual_seed(0)
    images = torch.rand(2, 3, 64, 64)
    blur = torch.nn.Conv2d(3, 3, 3, padding=1, bias=False)

    def moves_with_the_image(x: torch.Tensor) -> torch.Tensor:
        return blur(x)

    grid = torch.zeros(64, 64)
    grid[::8, :] = grid[:, ::8] = 0.2  # 1-px lines every 8 px, anchored at the image's origin

    def prints_a_grid(x: torch.Tensor) -> torch.Tensor:
        return x + grid[:x.shape[-2], :x.shape[-1]]

    def score(render, shift):
        with torch.no_grad():
            target = render(shifted_crop(images, shift, 8))
        return float(shift_consistency(render(images), target, shift))

    for shift in [(3, 0), (4, 4), (1, 7)]:
        with torch.no_grad():
            assert score(moves_with_the_image, shift) < 1e-12
        assert score(prints_a_grid, shift) > 1e-3
    with torch.no_grad():  # a shift by the whole grid period cannot see the grid
        assert score(prints_a_grid, (8, 0)) < 1e-12


@pytest.mark.parametrize("method", ["adain", "sanet", "wct"])
def test_training_with_shift_consistency_logs_the_term_and_backpropagates(method, content_img, style_img):
    torch.manual_seed(0)
    model = registry.build(method, upsample="bilinear", shift_consistency=50.0)
    assert model.config()["shift_consistency"] == 50.0
    content = to_tensor(content_img.resize((64, 64)))
    style = None if method == "wct" else to_tensor(style_img.resize((64, 64)))
    losses = model.training_loss(load_vgg(), content, style)
    shift_terms = [k for k in losses if k.startswith("shift")]
    assert shift_terms and sum(float(losses[k].detach()) for k in shift_terms) > 0
    losses["loss"].backward()
    decoder = model.decoders["relu2_1"] if method == "wct" else model.decoder
    assert decoder.net[1].weight.grad.abs().sum() > 0
    plain = registry.build(method).training_loss(load_vgg(), content, style)
    assert not any(k.startswith("shift") for k in plain)


def test_distillation_with_shift_consistency_adds_the_students_own_shift_term():
    """``distillation_losses``: the shift term is zero for a student that moves with its input,
    positive for one that prints a pattern on the 4-px stride grid, and absent at weight 0."""
    from atelier.feedforward.conditional import distillation_losses

    torch.manual_seed(0)
    images, code = torch.rand(2, 3, 64, 64), torch.rand(2, 5)
    blur = torch.nn.Conv2d(3, 3, 3, padding=1, bias=False)
    grid = torch.zeros(64, 64)
    grid[::4, :] = 0.2

    class Student(torch.nn.Module):
        def __init__(self, pattern: bool):
            super().__init__()
            self.conv, self.pattern = blur, pattern

        def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return self.conv(x) + (grid[:x.shape[-2], :x.shape[-1]] if self.pattern else 0)

    teacher = Student(False).requires_grad_(False)
    assert "shift" not in distillation_losses(Student(True), teacher, images, code)
    for _ in range(5):  # random shifts, some along the lines
        smooth = distillation_losses(Student(False), teacher, images, code, shift_weight=2.0)
        assert float(smooth["shift"]) < 1e-10 and torch.isclose(smooth["loss"], smooth["distil"])
    shifts = [float(distillation_losses(Student(True), teacher, images, code, shift_weight=2.0)["shift"])
              for _ in range(10)]
    assert max(shifts) > 1e-3  # a row shift not a multiple of 4 sees the lines


@pytest.mark.parametrize("method", ["ghiasi", "multistyle"])
def test_distilled_transformers_take_the_shift_consistency_option(method, content_img, style_img):
    torch.manual_seed(0)
    model = registry.spec(method).pretrained(upsample="bilinear", shift_consistency=2.0)
    assert model.config() == {"upsample": "bilinear", "shift_consistency": 2.0}
    content = to_tensor(content_img.resize((64, 64)))
    style = to_tensor(style_img.resize((64, 64))) if registry.spec(method).needs_style else None
    losses = model.training_loss(load_vgg(), content, style)
    assert float(losses["shift"].detach()) > 0 and float(losses["loss"].detach()) > float(losses["distil"].detach())
    losses["loss"].backward()
    assert model.transformer.layers()[0].conv.weight.grad.abs().sum() > 0
