"""Every stylization method by name, in one registry.

``gatys`` (optimization, :mod:`atelier.core.gatys`), ``augmented`` (Gatys with the style widened
by its style-library neighbours, :mod:`atelier.library.augment`) and the feed-forward models of
:mod:`atelier.feedforward.registry` (their facts are declared by each model class). It sits in
``library/``, the lowest layer that owns all three. The CLI's ``--method`` choices, the web page's
capabilities, portrait mode's backends and ``atelier evaluate`` all read these names.
"""

from __future__ import annotations

from ..feedforward import registry

GATYS = "gatys"
AUGMENTED = "augmented"
FEEDFORWARD: tuple[str, ...] = registry.NAMES
METHODS: tuple[str, ...] = (GATYS, AUGMENTED, *FEEDFORWARD)
STYLIZE: tuple[str, ...] = (GATYS, *FEEDFORWARD)  # `--method` of `atelier stylize` (augmented: `--augment K`)
COMPARED: tuple[str, ...] = (GATYS, AUGMENTED, *registry.names(needs_style=True))  # `atelier evaluate`'s default
PORTRAIT_FEEDFORWARD: tuple[str, ...] = registry.names(portrait_backend=True)  # two-pass portrait backends
PORTRAIT_BACKENDS: tuple[str, ...] = (GATYS, *PORTRAIT_FEEDFORWARD)
INSTANT: str | None = next(iter(registry.names(instant_preview=True)), None)  # the web's instant preview
