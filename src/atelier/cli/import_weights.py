"""``atelier import-weights``: the authors' AdaIN, SANet and WCT checkpoints as Atelier models."""

from __future__ import annotations

import hashlib
from pathlib import Path

import click

from ..base.errors import UsageError
from ..feedforward import official, registry


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@click.command("import-weights")
@click.argument("method", type=click.Choice(official.IMPORTABLE))
@click.argument("files", type=str, nargs=-1, required=True)
@click.option("-o", "--output", required=True, help="Atelier model file to write (.safetensors)")
def import_weights_cmd(method: str, files: tuple[str, ...], output: str) -> None:
    """Convert the authors' released PyTorch checkpoints FILES of METHOD into one model file
    for `--model` (docs/feedforward.md). adain: decoder.pth vgg_normalised.pth; sanet:
    decoder_iter_*.pth transformer_iter_*.pth vgg_normalised.pth; wct:
    vgg_normalised_convN_1.pth and feature_invertor_convN_1.pth for the levels N you have."""
    out = Path(output)
    if out.suffix != ".safetensors":
        raise UsageError(f"the output must be a .safetensors file, got {out.name}")
    if not out.parent.is_dir():
        raise UsageError(f"output directory does not exist: {out.parent}")
    model = official.convert(method, files)
    card = {"source": "the authors' released PyTorch checkpoint, converted by `atelier import-weights`",
            "files": [{"name": Path(f).name, "sha256": _sha256(f)} for f in files],
            "encoder": "normalised VGG19 (held in this file)",
            "notes": "Weights are the original authors' (see their licence); stored in fp16."}
    registry.save(model, out, card)
    levels = model.config().get("levels")  # the decoder levels of a multi-level model (wct)
    levels = f" (levels {', '.join(map(str, levels))})" if levels else ""
    click.echo(f"wrote {out}{levels}; use it with `atelier transfer ... --method {method} --model {out}`")


COMMANDS = [import_weights_cmd]
