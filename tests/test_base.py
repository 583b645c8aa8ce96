"""The base layer's shared helpers: atomic file writes and the one convention of setting checks."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from atelier.base.checks import check_choice, check_int, check_number, check_range
from atelier.base.errors import AtelierError, UsageError
from atelier.base.files import atomic_write
from atelier.core.options import StyleOptions
from atelier.library.augment import AugmentOptions
from atelier.portrait.mode import PortraitOptions
from atelier.web.config import ServeOptions


def test_atomic_write_replaces_the_target_only_when_the_block_succeeds(tmp_path):
    out = tmp_path / "a.npy"
    with atomic_write(out) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".npy" and tmp != out  # numpy keeps the name as given
        np.save(tmp, np.arange(3))
    np.testing.assert_array_equal(np.load(out), np.arange(3))
    assert oct(os.stat(out).st_mode & 0o777) == "0o644"
    with pytest.raises(RuntimeError, match="half-way"), atomic_write(out) as tmp:
        np.save(tmp, np.arange(5))
        raise RuntimeError("half-way")
    np.testing.assert_array_equal(np.load(out), np.arange(3))  # the old file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["a.npy"]  # and no temporary file is left


def test_atomic_write_reports_os_errors_as_one_line(tmp_path):
    with pytest.raises(AtelierError, match="cannot write to .*missing"), atomic_write(tmp_path / "missing" / "x.txt"):
        pass
    (tmp_path / "d").mkdir()
    with pytest.raises(AtelierError, match=r"cannot write .*d: Is a directory"), atomic_write(tmp_path / "d") as tmp:
        tmp.write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


@pytest.mark.parametrize("check, args, kwargs, message", [
    (check_number, ("w", math.nan, 0), {}, "w must be a finite number >= 0, got nan"),
    (check_number, ("w", -1.0, 0), {}, "w must be a finite number >= 0, got -1.0"),
    (check_number, ("w", True), {}, "w must be a finite number, got True"),
    (check_number, ("q", 0, 0, 1), {"lo_open": True}, "q must be in (0, 1], got 0"),
    (check_number, ("t", 1.0, 0, 1), {"hi_open": True}, "t must be in [0, 1), got 1.0"),
    (check_int, ("k", 2.5, 1, 64), {}, "k must be an integer between 1 and 64, got 2.5"),
    (check_int, ("k", -1, 0), {}, "k must be an integer >= 0, got -1"),
    (check_int, ("k", "3"), {}, "k must be an integer, got '3'"),
    (check_range, ("n", 0, 1), {}, "n must be >= 1, got 0"),
    (check_range, ("p", 70000, 0, 65535), {}, "p must be in [0, 65535], got 70000"),
    (check_choice, ("c", "sepia", ("none", "match")), {}, "c must be one of none, match, got 'sepia'"),
    (check_choice, ("c", ["none"], ("none", "match")), {}, "c must be one of none, match, got ['none']"),
])
def test_checks_fail_with_one_message_shape(check, args, kwargs, message):
    with pytest.raises(UsageError) as exc:
        check(*args, **kwargs)
    assert str(exc.value) == message


def test_checks_return_good_values():
    assert check_number("w", 0.5, 0, 1) == 0.5 and check_int("k", 3.0, 1, 64) == 3.0
    assert check_int("seed", np.int64(7), 0) == 7 and check_choice("c", "none", ("none",)) == "none"
    assert check_range("n", 1, 1) == 1 and check_number("lr", 10, 0, 10, lo_open=True) == 10


@pytest.mark.parametrize("options, message", [
    (StyleOptions(size=0), "size must be an integer between 16 and 8192, got 0"),
    (StyleOptions(lr=0.0), "lr must be in (0, 10], got 0.0"),
    (StyleOptions(pooling="min"), "pooling must be one of max, avg, got 'min'"),
    (StyleOptions(style_blend=(0.0, 0.0)), "style_blend must be finite numbers >= 0, not all 0, got (0.0, 0.0)"),
    (AugmentOptions(pool=0), "pool must be an integer >= 1, got 0"),
    (PortraitOptions(feather=0.5), "feather must be in [0, 0.2], got 0.5"),
    (PortraitOptions(backend="wct"), "backend must be one of gatys, sanet, ghiasi, got 'wct'"),
    (ServeOptions(max_upload_mb=0.0), "max_upload_mb must be > 0, got 0.0"),
])
def test_every_options_class_speaks_the_same_convention(options, message):
    with pytest.raises(UsageError) as exc:
        options.resolved() if isinstance(options, StyleOptions) else options.validate()
    assert str(exc.value) == message
