"""One training loop for every feed-forward method (AdaIN, WCT, SANet, Johnson, Ghiasi).

Each step draws random crops (with flips) from the content folders and, for methods that
learn arbitrary styles, from the style folders; Johnson's per-style net sees one fixed
style image; WCT's decoders learn to reconstruct content only; Ghiasi's transformer is
distilled from Magenta's (a method whose recipe ``fine_tunes`` starts from its pretrained
weights). The model's own ``training_loss`` defines the objective; only the model's
parameters train (the VGG19 encoder is frozen). Forward/backward run under bf16 autocast on CPU, losses in fp32.

Everything lives in ``--out`` (default ``runs/METHOD``):

* ``state.pt``          resumable state (fp32 weights, Adam moments, step, RNG, options)
* ``model.safetensors`` fp16 weights to use or ship, with ``model.json`` (its model card)
* ``loss.csv``          one row per step, and ``loss.png`` (a smoothed plot of it)

A checkpoint is written every ``checkpoint_minutes``, at the end, and on Ctrl-C/SIGTERM,
so ``--resume`` continues where an interrupted run stopped.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import platform
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..base.checks import check_choice, check_int, check_number, fail
from ..base.errors import UsageError
from ..base.files import atomic_write
from ..base.version import __version__
from ..core.device import autocast
from ..core.options import PRECISIONS, check_seed, option_field
from ..core.vgg import load_vgg
from ..io.images import load_image, resize_long_side, to_tensor
from . import registry
from .data import RandomCrops
from .decoder import UPSAMPLE
from .model import Training


@dataclass
class TrainOptions:
    """Settings of one training run (mapped 1:1 to ``atelier train`` options)."""

    content: Sequence[str] = option_field((), "content image folder(s), comma-separated (searched recursively)")
    style: Sequence[str] = option_field((), "style image folder(s); for johnson one style image file")
    size: int = option_field(128, "crop size in pixels (images are first resized to short side 2*size)")
    batch: int = option_field(4, "crops per step")
    steps: int = option_field(2000, "train until this many steps in total (a resumed run continues counting)")
    lr: float | None = option_field(None, "Adam learning rate (default: 1e-4, johnson 1e-3)")
    style_weight: float | None = option_field(None, "style loss weight "
                                                    "(default: the method's, see docs/feedforward.md)")
    out: str | None = option_field(None, "run folder for checkpoints and logs (default runs/METHOD)")
    resume: bool = option_field(False, "continue from OUT/state.pt")
    init: Sequence[str] = option_field((), "warm-start from .safetensors model(s), comma-separated: "
                                           "copy every tensor whose name and shape match (later files win)")
    init_rename: Sequence[str] = option_field((), "with --init: rename tensor-name prefixes OLD=NEW first, "
                                                  "e.g. decoders.relu4_1.=decoder. (a WCT decoder into AdaIN)")
    levels: Sequence[int] = option_field((), "wct only: the decoder levels to train, e.g. 4 or 5,3,2,1 "
                                             "(default all five)")
    upsample: str | None = option_field(None, "adain, sanet, wct, ghiasi: the decoder's (transformer's) 2x "
                                              "upsampling, bilinear (default) or nearest (the papers'; leaves a "
                                              "faint grid)")
    shift_consistency: float | None = option_field(None, "adain, sanet, wct, ghiasi, multistyle: weight of the "
                                                         "shift-consistency term (the output must move with the "
                                                         "photo; see docs/feedforward.md)")
    checkpoint_minutes: float = option_field(5.0, "minutes between checkpoints")
    seed: int = option_field(0, "random seed (crops, flips, initial weights)")
    threads: int = option_field(0, "CPU threads for torch (0: torch's default)")
    precision: str = option_field("auto", "auto|bf16 (bf16 autocast) or fp32")
    device: str = option_field("cpu", "cpu | cuda")

    def validate(self, method: str) -> None:
        training = recipe(method)
        if not self.content:
            raise UsageError("--content DIR is required")
        if training.style_data is not None and not self.style:
            raise UsageError(f"--style {'IMAGE' if training.style_data == 'image' else 'DIR'} is required for {method}")
        if training.style_data == "image" and (len(self.style) != 1 or not Path(self.style[0]).is_file()):
            raise UsageError(f"{method} learns one style: give --style PATH to one image file")
        for name in ("batch", "steps"):
            check_int(name, getattr(self, name), 1)
        check_seed(self.seed)
        if check_int("size", self.size, 32) % 16:
            raise fail("size", "a multiple of 16, at least 32", self.size)
        check_choice("precision", self.precision, PRECISIONS)
        if self.lr is not None:
            check_number("lr", self.lr, 0, lo_open=True)
        check_number("checkpoint_minutes", self.checkpoint_minutes, 0, lo_open=True)
        if self.resume and self.init:
            raise UsageError("--init starts a new run; it cannot be combined with --resume")
        if self.init_rename and not self.init:
            raise UsageError("--init-rename needs --init")
        if any(r.count("=") != 1 for r in self.init_rename):
            raise UsageError("--init-rename takes OLD=NEW prefix pairs")
        if self.levels and "levels" not in training.options:
            with_levels = [m for m in registry.trainable() if "levels" in recipe(m).options]
            raise UsageError(f"--levels applies to {' and '.join(with_levels)} only")
        if any(level not in (1, 2, 3, 4, 5) for level in self.levels):
            raise UsageError("--levels must be among 1,2,3,4,5")
        if self.upsample is not None:
            if "upsample" not in training.options:
                with_upsample = [m for m in registry.trainable() if "upsample" in recipe(m).options]
                raise UsageError(f"--upsample applies to {', '.join(with_upsample)} only")
            check_choice("upsample", self.upsample, UPSAMPLE)
        if self.shift_consistency is not None:
            if "shift_consistency" not in training.options:
                with_shift = [m for m in registry.trainable() if "shift_consistency" in recipe(m).options]
                raise UsageError(f"--shift-consistency applies to {', '.join(with_shift)} only")
            check_number("shift_consistency", self.shift_consistency, 0)
        if "style_weight" not in training.options and self.style_weight is not None:
            raise UsageError(f"{method} trains without a style loss (reconstruction or distillation): "
                             "--style-weight does not apply")
        if self.style_weight is not None and not self.style_weight >= 0:
            raise UsageError("--style-weight must be >= 0")


def recipe(method: str) -> Training:
    """How ``method`` trains (:class:`.model.Training`); ``UsageError`` for a pretrained-only method."""
    training = registry.spec(method).training
    if training is None:
        raise UsageError(f"{method} is pretrained: `atelier train` trains {', '.join(registry.trainable())}")
    return training


class _Stop(Exception):
    """Raised from the SIGTERM handler so the loop checkpoints and exits."""


def warm_start(model: torch.nn.Module, paths: Sequence[str], rename: Sequence[str] = ()) -> list[str]:
    """Copy tensors with matching names and shapes from saved models (later files win);
    ``rename`` holds ``OLD=NEW`` prefix substitutions applied to the saved names first.
    Return the names copied; ``UsageError`` if a file is missing or fits nothing."""
    from safetensors.torch import load_file
    pairs = [r.split("=", 1) for r in rename]
    own, copied = model.state_dict(), {}
    for path in paths:
        if not Path(path).is_file():
            raise UsageError(f"--init: file not found: {path}")
        found = 0
        for name, tensor in load_file(path).items():
            for old, new in pairs:
                if name.startswith(old):
                    name = new + name[len(old):]
                    break
            if name in own and own[name].shape == tensor.shape:
                copied[name] = tensor.float()
                found += 1
        if not found:
            raise UsageError(f"--init: no tensor of {path} fits this model")
    model.load_state_dict({**own, **copied})
    return list(copied)


def _truncate_log(log: Path, step: int) -> None:
    """Drop rows logged after ``step`` (a run killed between checkpoints logged them)."""
    if log.is_file():
        with log.open() as fh:
            rows = list(csv.reader(fh))
        keep = [rows[0]] + [r for r in rows[1:] if int(r[0]) <= step]
        with log.open("w", newline="") as fh:
            csv.writer(fh).writerows(keep)


def plot_losses(log: Path, out: Path, smooth: int = 25) -> None:
    """Plot every loss column of ``log`` (running mean over ``smooth`` steps, log scale)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    with log.open() as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return
    names = [k for k in rows[0] if k not in ("step", "seconds")]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    steps = torch.tensor([float(r["step"]) for r in rows])
    for ax, name in zip(axes[0], names, strict=True):
        v = torch.tensor([float(r[name]) for r in rows])
        k = min(smooth, len(v))
        mean = torch.nn.functional.avg_pool1d(v[None, None], k, stride=1)[0, 0]
        ax.plot(steps, v, alpha=0.25, lw=0.5)
        ax.plot(steps[k - 1:], mean, lw=1.5)
        ax.set_title(name)
        ax.set_xlabel("step")
        if (v > 0).all():
            ax.set_yscale("log")
    fig.tight_layout()
    with atomic_write(out) as tmp:
        fig.savefig(tmp, dpi=90)
    plt.close(fig)


@dataclass
class _Run:
    """One training run's state: what ``state.pt`` saves and every step updates."""

    method: str
    opts: TrainOptions
    device: torch.device
    out: Path
    model: torch.nn.Module
    gen: torch.Generator
    step: int = 0
    seconds: float = 0.0
    optim: torch.optim.Optimizer = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.new_optimizer()

    def new_optimizer(self) -> None:
        """A fresh Adam over the model's parameters at ``lr``."""
        self.optim = torch.optim.Adam(self.model.parameters(), lr=self.lr)

    @property
    def state_file(self) -> Path:
        return self.out / "state.pt"

    @property
    def log_file(self) -> Path:
        return self.out / "loss.csv"

    @property
    def lr(self) -> float:
        return self.opts.lr or recipe(self.method).lr


@dataclass
class _Data:
    """What the steps train on: content crops and, per the method's recipe, style crops
    (``"folders"``), one fixed style image (``"image"``) or nothing (reconstruction)."""

    contents: RandomCrops
    styles: RandomCrops | None = None
    style_image: torch.Tensor | None = None

    @classmethod
    def load(cls, run: _Run) -> _Data:
        opts, style_data = run.opts, recipe(run.method).style_data
        contents = RandomCrops(opts.content, opts.size)
        if style_data == "image":
            image = to_tensor(resize_long_side(load_image(opts.style[0]), 2 * opts.size)).to(run.device)
            return cls(contents, style_image=image)
        return cls(contents, RandomCrops(opts.style, opts.size) if style_data == "folders" else None)

    def batch(self, n: int, gen: torch.Generator, device: torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
        """N x 3 x S x S content crops and the styles they pair with (N crops, the style image, or None)."""
        content = self.contents.sample(n, gen).to(device)
        return content, self.styles.sample(n, gen).to(device) if self.styles is not None else self.style_image

    def card(self, opts: TrainOptions) -> dict[str, Any]:
        """The model card's ``content_data`` and ``style_data``."""
        return {"content_data": {"folders": list(opts.content), "images": len(self.contents)},
                "style_data": ({"image": str(opts.style[0])} if self.style_image is not None else
                               {"folders": list(opts.style), "images": len(self.styles)} if self.styles else None)}


class _LossLog:
    """``loss.csv``: a header row (unless the file exists, e.g. when resuming), then one row per step."""

    def __init__(self, path: Path):
        self.new = not path.is_file()
        self.fh = path.open("a", newline="")
        self.writer: Any = None

    def write(self, step: int, seconds: float, values: dict[str, float]) -> None:
        if self.writer is None:
            self.writer = csv.writer(self.fh)
            if self.new:
                self.writer.writerow(["step", "seconds", *values])
        self.writer.writerow([step, round(seconds, 2), *(f"{v:.6g}" for v in values.values())])

    def flush(self) -> None:
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def _setup(method: str, opts: TrainOptions, log: Callable[[str], None]) -> _Run:
    """Validate ``opts``; pick the device and run folder; seed; build the model (warm-started
    from ``--init`` or resumed from ``state.pt``) and its Adam optimizer."""
    opts.validate(method)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    device = torch.device(opts.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but no CUDA GPU is available")
    out = Path(opts.out or f"runs/{method}")
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)
    config: dict[str, Any] = {} if opts.style_weight is None else {"style_weight": opts.style_weight}
    if opts.levels:
        config["levels"] = tuple(opts.levels)
    if opts.shift_consistency is not None:
        config["shift_consistency"] = opts.shift_consistency
    if "upsample" in recipe(method).options:
        config["upsample"] = opts.upsample or "bilinear"
    cls = registry.spec(method)
    model = cls.pretrained(**config) if recipe(method).fine_tunes else registry.build(method, **config)
    if opts.init:
        copied = warm_start(model, opts.init, opts.init_rename)
        log(f"warm start: {len(copied)} tensors from {', '.join(opts.init)}")
    model.to(device).train()
    run = _Run(method, opts, device, out, model, gen)
    if opts.resume:
        _resume(run, log)
    return run


def _resume(run: _Run, log: Callable[[str], None]) -> None:
    """Continue ``run`` from its ``state.pt``: weights, Adam moments, RNG, step count and time."""
    if not run.state_file.is_file():
        raise UsageError(f"--resume: no checkpoint at {run.state_file}")
    state = torch.load(run.state_file, map_location=run.device, weights_only=False)
    if state["method"] != run.method:
        raise UsageError(f"--resume: {run.state_file} holds a {state['method']} run, not {run.method}")
    run.model = registry.build(run.method, **state["config"]).to(run.device).train()
    run.new_optimizer()
    run.model.load_state_dict(state["model"])
    run.optim.load_state_dict(state["optimizer"])
    if run.opts.lr:  # an explicit --lr wins over the one saved with the optimizer
        for group in run.optim.param_groups:
            group["lr"] = run.opts.lr
    run.gen.set_state(state["generator"])
    run.step, run.seconds = state["step"], state["seconds"]
    _truncate_log(run.log_file, run.step)
    log(f"resumed {run.method} at step {run.step}")


def _step(run: _Run, vgg: torch.nn.Module, data: _Data) -> dict[str, float]:
    """One optimizer step on a fresh batch; its losses as floats (``UsageError`` if one is NaN)."""
    t0 = time.perf_counter()
    content, style = data.batch(run.opts.batch, run.gen, run.device)
    with autocast(run.device, run.opts.precision):
        losses = run.model.training_loss(vgg, content, style)
    run.optim.zero_grad(set_to_none=True)
    losses["loss"].backward()
    run.optim.step()
    run.step += 1
    run.seconds += time.perf_counter() - t0
    values = {k: float(v.detach()) for k, v in losses.items()}
    if any(math.isnan(v) for v in values.values()):
        raise UsageError(f"loss became NaN at step {run.step}; lower --lr")
    return values


def _checkpoint(run: _Run, data: _Data, last_losses: dict[str, float]) -> Path:
    """Write ``state.pt`` (atomically), the exported model with its card, and the loss plot."""
    opts = run.opts
    with atomic_write(run.state_file) as tmp:
        torch.save({"method": run.method, "config": run.model.config(), "model": run.model.state_dict(),
                    "optimizer": run.optim.state_dict(), "generator": run.gen.get_state(), "step": run.step,
                    "seconds": run.seconds, "options": dataclasses.asdict(opts)}, tmp)
    card = {
        "steps": run.step, "batch": opts.batch, "crop_size": opts.size, "images_seen": run.step * opts.batch,
        "learning_rate": run.lr, "train_seconds": round(run.seconds), "final_losses": last_losses,
        **data.card(opts),
        "hardware": {"device": str(run.device), "cpu": platform.processor() or platform.machine(),
                     "threads": torch.get_num_threads(), "precision": opts.precision},
        "atelier": __version__, "torch": torch.__version__,
    }
    path = registry.save(run.model, run.out / "model.safetensors", card)
    if run.log_file.is_file():
        plot_losses(run.log_file, run.out / "loss.png")
    return path


def _on_term(signum: int, frame: Any) -> None:
    raise _Stop()


def train(method: str, opts: TrainOptions, log: Callable[[str], None] = print) -> Path:
    """Train ``method`` per ``opts``; return the path of the exported ``model.safetensors``."""
    run = _setup(method, opts, log)
    vgg = load_vgg().to(run.device)
    data = _Data.load(run)
    log(f"{method}: {len(data.contents)} content images"
        + (f", {len(data.styles)} style images" if data.styles else ""))
    previous = signal.signal(signal.SIGTERM, _on_term)
    window: list[dict[str, float]] = []
    losses = _LossLog(run.log_file)
    last_save = time.monotonic()
    try:
        while run.step < opts.steps:
            values = _step(run, vgg, data)
            losses.write(run.step, run.seconds, values)
            window = (window + [values])[-50:]
            if run.step % 10 == 0:
                losses.flush()
                log(f"step {run.step}/{opts.steps} " + " ".join(f"{k} {v:.4g}" for k, v in values.items()))
            if time.monotonic() - last_save > 60 * opts.checkpoint_minutes:
                losses.flush()
                _checkpoint(run, data, _mean(window))
                last_save = time.monotonic()
    except (KeyboardInterrupt, _Stop):
        log(f"interrupted at step {run.step}; saving a checkpoint (continue with --resume)")
    finally:
        signal.signal(signal.SIGTERM, previous)
        losses.close()
    return _checkpoint(run, data, _mean(window))


def _mean(window: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each loss over the last logged steps (what a model card reports)."""
    if not window:
        return {}
    return {k: round(sum(w[k] for w in window) / len(window), 6) for k in window[0]}
