"""One training loop for every feed-forward method (AdaIN, WCT, SANet, Johnson).

Each step draws random crops (with flips) from the content folders and, for methods that
learn arbitrary styles, from the style folders; Johnson's per-style net sees one fixed
style image; WCT's decoders learn to reconstruct content only. The model's own
``training_loss`` defines the objective; only the model's parameters train (the VGG19
encoder is frozen). Forward/backward run under bf16 autocast on CPU, losses in fp32.

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
import os
import platform
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import torch

from ..base.version import __version__
from ..base.errors import UsageError
from . import registry
from .data import RandomCrops
from ..core.device import autocast
from ..io.images import load_image, resize_long_side, to_tensor
from ..core.options import check_seed, option_field
from ..core.vgg import load_vgg



LEARNING_RATES = {"adain": 1e-4, "wct": 1e-4, "sanet": 1e-4, "johnson": 1e-3}


@dataclass
class TrainOptions:
    """Settings of one training run (mapped 1:1 to ``atelier train`` options)."""

    content: Sequence[str] = option_field((), "content image folder(s), comma-separated (searched recursively)")
    style: Sequence[str] = option_field((), "style image folder(s); for johnson one style image file")
    size: int = option_field(128, "crop size in pixels (images are first resized to short side 2*size)")
    batch: int = option_field(4, "crops per step")
    steps: int = option_field(2000, "train until this many steps in total (a resumed run continues counting)")
    lr: Optional[float] = option_field(None, "Adam learning rate (default: 1e-4, johnson 1e-3)")
    style_weight: Optional[float] = option_field(None, "style loss weight (default: the method's, see docs/feedforward.md)")
    out: Optional[str] = option_field(None, "run folder for checkpoints and logs (default runs/METHOD)")
    resume: bool = option_field(False, "continue from OUT/state.pt")
    init: Sequence[str] = option_field((), "warm-start from .safetensors model(s), comma-separated: copy every tensor whose name and shape match (later files win)")
    init_rename: Sequence[str] = option_field((), "with --init: rename tensor-name prefixes OLD=NEW first, e.g. decoders.relu4_1.=decoder. (a WCT decoder into AdaIN)")
    levels: Sequence[int] = option_field((), "wct only: the decoder levels to train, e.g. 4 or 5,3,2,1 (default all five)")
    checkpoint_minutes: float = option_field(5.0, "minutes between checkpoints")
    seed: int = option_field(0, "random seed (crops, flips, initial weights)")
    threads: int = option_field(0, "CPU threads for torch (0: torch's default)")
    precision: str = option_field("auto", "auto|bf16 (bf16 autocast) or fp32")
    device: str = option_field("cpu", "cpu | cuda")

    def validate(self, method: str) -> None:
        registry.model_class(method)
        if not self.content:
            raise UsageError("--content DIR is required")
        if method != "wct" and not self.style:
            raise UsageError(f"--style {'IMAGE' if method == 'johnson' else 'DIR'} is required for {method}")
        if method == "johnson" and (len(self.style) != 1 or not Path(self.style[0]).is_file()):
            raise UsageError("johnson learns one style: give --style PATH to one image file")
        for name in ("size", "batch", "steps"):
            if getattr(self, name) < 1:
                raise UsageError(f"--{name} must be at least 1")
        check_seed(self.seed, "--seed")
        if self.size < 32 or self.size % 16:
            raise UsageError("--size must be a multiple of 16, at least 32")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise UsageError("--precision must be auto, bf16 or fp32")
        if (self.lr is not None and not self.lr > 0) or self.checkpoint_minutes <= 0:
            raise UsageError("--lr and --checkpoint-minutes must be positive")
        if self.resume and self.init:
            raise UsageError("--init starts a new run; it cannot be combined with --resume")
        if self.init_rename and not self.init:
            raise UsageError("--init-rename needs --init")
        if any(r.count("=") != 1 for r in self.init_rename):
            raise UsageError("--init-rename takes OLD=NEW prefix pairs")
        if self.levels and method != "wct":
            raise UsageError("--levels applies to wct only")
        if any(level not in (1, 2, 3, 4, 5) for level in self.levels):
            raise UsageError("--levels must be among 1,2,3,4,5")
        if method == "wct" and self.style_weight is not None:
            raise UsageError("wct decoders learn reconstruction only: --style-weight does not apply")
        if self.style_weight is not None and not self.style_weight >= 0:
            raise UsageError("--style-weight must be >= 0")


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
    for ax, name in zip(axes[0], names):
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
    tmp = out.with_name(f".{out.name}.part.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    os.replace(tmp, out)


def train(method: str, opts: TrainOptions, log: Callable[[str], None] = print) -> Path:
    """Train ``method`` per ``opts``; return the path of the exported ``model.safetensors``."""
    opts.validate(method)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    device = torch.device(opts.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda requested but no CUDA GPU is available")
    out = Path(opts.out or f"runs/{method}")
    out.mkdir(parents=True, exist_ok=True)
    state_file, log_file = out / "state.pt", out / "loss.csv"
    torch.manual_seed(opts.seed)
    gen = torch.Generator().manual_seed(opts.seed)

    config: dict[str, Any] = {} if opts.style_weight is None else {"style_weight": opts.style_weight}
    if opts.levels:
        config["levels"] = tuple(opts.levels)
    model = registry.build(method, **config)
    if opts.init:
        copied = warm_start(model, opts.init, opts.init_rename)
        log(f"warm start: {len(copied)} tensors from {', '.join(opts.init)}")
    model.to(device).train()
    vgg = load_vgg().to(device)
    optim = torch.optim.Adam(model.parameters(), lr=opts.lr or LEARNING_RATES[method])
    step, seconds = 0, 0.0
    if opts.resume:
        if not state_file.is_file():
            raise UsageError(f"--resume: no checkpoint at {state_file}")
        state = torch.load(state_file, map_location=device, weights_only=False)
        if state["method"] != method:
            raise UsageError(f"--resume: {state_file} holds a {state['method']} run, not {method}")
        model = registry.build(method, **state["config"]).to(device).train()
        optim = torch.optim.Adam(model.parameters(), lr=opts.lr or LEARNING_RATES[method])
        model.load_state_dict(state["model"])
        optim.load_state_dict(state["optimizer"])
        if opts.lr:  # an explicit --lr wins over the one saved with the optimizer
            for group in optim.param_groups:
                group["lr"] = opts.lr
        gen.set_state(state["generator"])
        step, seconds = state["step"], state["seconds"]
        _truncate_log(log_file, step)
        log(f"resumed {method} at step {step}")

    contents = RandomCrops(opts.content, opts.size)
    styles: Optional[RandomCrops] = None
    style_image: Optional[torch.Tensor] = None
    if method == "johnson":
        style_image = to_tensor(resize_long_side(load_image(opts.style[0]), 2 * opts.size)).to(device)
    elif method != "wct":
        styles = RandomCrops(opts.style, opts.size)
    log(f"{method}: {len(contents)} content images" + (f", {len(styles)} style images" if styles else ""))

    def checkpoint(last_losses: dict[str, float]) -> Path:
        torch.save({"method": method, "config": model.config(), "model": model.state_dict(),
                    "optimizer": optim.state_dict(), "generator": gen.get_state(), "step": step,
                    "seconds": seconds, "options": dataclasses.asdict(opts)}, out / ".state.pt.part")
        os.replace(out / ".state.pt.part", state_file)
        card = {
            "steps": step, "batch": opts.batch, "crop_size": opts.size, "images_seen": step * opts.batch,
            "learning_rate": opts.lr or LEARNING_RATES[method], "train_seconds": round(seconds),
            "final_losses": last_losses, "content_data": {"folders": list(opts.content), "images": len(contents)},
            "style_data": ({"image": str(opts.style[0])} if style_image is not None else
                           {"folders": list(opts.style), "images": len(styles)} if styles else None),
            "hardware": {"device": str(device), "cpu": platform.processor() or platform.machine(),
                         "threads": torch.get_num_threads(), "precision": opts.precision},
            "atelier": __version__, "torch": torch.__version__,
        }
        path = registry.save(model, out / "model.safetensors", card)
        if log_file.is_file():
            plot_losses(log_file, out / "loss.png")
        return path

    def on_term(signum: int, frame: Any) -> None:
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    window: list[dict[str, float]] = []
    new_log = not log_file.is_file()
    fh = log_file.open("a", newline="")
    writer: Optional[csv.writer] = None
    last_save = time.monotonic()
    try:
        while step < opts.steps:
            t0 = time.perf_counter()
            c = contents.sample(opts.batch, gen).to(device)
            s = styles.sample(opts.batch, gen).to(device) if styles is not None else style_image
            with autocast(device, "fp32" if opts.precision == "fp32" else "bf16"):
                losses = model.training_loss(vgg, c, s)
            optim.zero_grad(set_to_none=True)
            losses["loss"].backward()
            optim.step()
            step += 1
            seconds += time.perf_counter() - t0
            values = {k: float(v.detach()) for k, v in losses.items()}
            if any(math.isnan(v) for v in values.values()):
                raise UsageError(f"loss became NaN at step {step}; lower --lr")
            if writer is None:
                writer = csv.writer(fh)
                if new_log:
                    writer.writerow(["step", "seconds", *values])
            writer.writerow([step, round(seconds, 2), *(f"{v:.6g}" for v in values.values())])
            window = (window + [values])[-50:]
            if step % 10 == 0:
                fh.flush()
                log(f"step {step}/{opts.steps} " + " ".join(f"{k} {v:.4g}" for k, v in values.items()))
            if time.monotonic() - last_save > 60 * opts.checkpoint_minutes:
                fh.flush()
                checkpoint(_mean(window))
                last_save = time.monotonic()
    except (KeyboardInterrupt, _Stop):
        log(f"interrupted at step {step}; saving a checkpoint (continue with --resume)")
    finally:
        signal.signal(signal.SIGTERM, previous)
        fh.close()
    return checkpoint(_mean(window))


def _mean(window: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each loss over the last logged steps (what a model card reports)."""
    if not window:
        return {}
    return {k: round(sum(w[k] for w in window) / len(window), 6) for k in window[0]}
