"""Settings of the web server and the mapping from the page's controls to :class:`StyleOptions`.

Quality presets (the page's "fast preview / balanced / best"):

=========  ====  ==========  ======
preset     size  iterations  levels
=========  ====  ==========  ======
preview     256           8       3
balanced    512           8       3   (the CLI default)
best        768          16       4
=========  ====  ==========  ======

``iterations`` are L-BFGS evaluations at the finest level; each coarser level gets
:class:`StyleOptions.coarse_factor` (1.75) times as many. "Style strength" is :class:`StyleOptions.strength`,
the same calibrated knob as ``--strength`` (1 is the default, 0.5 lighter, 2 stronger).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace

from ..base.checks import check_int, check_number, check_range
from ..base.errors import UsageError
from ..core.options import COLOR_MODES, PRESETS, StyleOptions, option_field


def is_loopback(host: str) -> bool:
    """True if a server bound to ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


QUALITY: dict[str, dict[str, int]] = {
    "preview": {"size": 256, "iterations": 8, "levels": 3},
    "balanced": {"size": StyleOptions.size, "iterations": StyleOptions.iterations, "levels": StyleOptions.levels},
    "best": {"size": 768, "iterations": 16, "levels": 4},
}



@dataclass
class ServeOptions:
    """How ``atelier serve`` runs."""

    host: str = option_field("127.0.0.1", "address to listen on (default: this machine only)")
    port: int = option_field(7860, "TCP port")
    concurrency: int = option_field(1, "jobs running at the same time (others wait in a queue)")
    max_upload_mb: float = option_field(20.0, "largest accepted upload in megabytes")
    max_pixels: int = option_field(40_000_000, "largest accepted upload in pixels (width x height)")
    max_size: int = option_field(1024, "largest output long side a job may ask for")
    max_jobs: int = option_field(100, "finished jobs (and their result files) kept before the oldest are deleted")
    max_waiting: int = option_field(16, "jobs allowed to wait in the queue, in all (more are refused with 429)")
    max_waiting_per_session: int = option_field(4, "jobs one browser session may have waiting")
    max_requests: int = option_field(64, "requests served at the same time (more are answered 503)")
    library: str | None = option_field(None, "style library file for search and augmentation "
                                        "(none given: $ATELIER_LIBRARY or ~/.cache/atelier/library.sqlite, "
                                        "when present)")

    def validate(self) -> ServeOptions:
        """Raise :class:`UsageError` for out-of-range settings (typed by the command line); return self."""
        check_range("port", self.port, 0, 65535)
        for name, lo in (("concurrency", 1), ("max_pixels", 1), ("max_size", 16), ("max_jobs", 1), ("max_waiting", 1),
                         ("max_waiting_per_session", 1), ("max_requests", 1)):
            check_range(name, getattr(self, name), lo)
        check_range("max_upload_mb", self.max_upload_mb, 0, lo_open=True)
        return self

    @property
    def max_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)

    @property
    def is_local(self) -> bool:
        """True if the server is reachable from this machine only."""
        return is_loopback(self.host)


@dataclass
class JobSettings:
    """The page's controls for one stylization, as sent by the browser."""

    quality: str = "balanced"
    size: int | None = None          # overrides the preset's size
    iterations: int | None = None    # overrides the preset's iterations
    strength: float = 1.0               # StyleOptions.strength (1: the calibrated default)
    color: str = "none"
    seed: int = 0
    look: str = "classic"               # layer preset (StyleOptions.preset)


def style_options(s: JobSettings, max_size: int) -> StyleOptions:
    """Resolve page settings into validated :class:`StyleOptions`; raises :class:`UsageError`."""
    if s.quality not in QUALITY:
        raise UsageError(f"unknown quality {s.quality!r}; choose from {', '.join(QUALITY)}")
    if s.look not in PRESETS:
        raise UsageError(f"unknown look {s.look!r}; choose from {', '.join(PRESETS)}")
    if s.color not in COLOR_MODES:
        raise UsageError(f"unknown colour mode {s.color!r}; choose from {', '.join(COLOR_MODES)}")
    q = dict(QUALITY[s.quality])
    if s.size is not None:
        q["size"] = s.size
    if s.iterations is not None:
        q["iterations"] = s.iterations
    check_int("size", q["size"], 16, max_size)
    check_number("strength", s.strength, 0, 16, lo_open=True)
    opts = replace(StyleOptions(), preset=s.look, color=s.color, seed=s.seed, strength=s.strength, **q)
    return opts.resolved()
