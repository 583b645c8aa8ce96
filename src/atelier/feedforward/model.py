"""The ``FeedForwardModel`` protocol: what every feed-forward model class declares about itself.

Each model class (:class:`.adain.AdaIN`, :class:`.wct.WCT`, :class:`.sanet.SANetModel`,
:class:`.johnson.Johnson`, :class:`.ghiasi.Ghiasi`, :class:`.multistyle.MultiStyle`) carries the
facts other modules need as class attributes, so no module outside this package ever branches on
a method's name: it asks ``registry.spec(name)`` (the class) or the model instead.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch

from ..core.vgg import VGG

StyleData = Literal["folders", "image"]  # what one training step sees of the styles


@dataclass(frozen=True)
class Training:
    """How ``atelier train`` trains a model: the default Adam learning rate ``lr``, the style data
    (``"folders"``: random style crops, ``"image"``: one fixed style image, None: content only),
    which optional :class:`~atelier.feedforward.train.TrainOptions` fields apply to it, and whether
    it ``fine_tunes`` pretrained weights (training starts from ``cls.pretrained(**config)``, not
    from a fresh initialisation)."""

    lr: float
    style_data: StyleData | None = "folders"
    options: frozenset[str] = frozenset({"style_weight"})
    fine_tunes: bool = False


@dataclass(frozen=True)
class StylizeOptions:
    """Inference options every model takes: ``alpha`` in [0, 1], the style strength (0: the content).

    Field names are those of :class:`~atelier.feedforward.transfer.FeedForwardOptions` (and of the
    CLI flags), so :func:`options_for` copies them across; a model's own options subclass this."""

    alpha: float = 1.0


@runtime_checkable
class FeedForwardModel(Protocol):
    """An ``nn.Module`` that stylizes in one forward pass and declares its facts."""

    method: ClassVar[str]  # its name in the registry, the CLI's --method and the model files
    needs_style: ClassVar[bool]  # False: its style(s) are in its weights (johnson, multistyle)
    training: ClassVar[Training | None]  # None: not trainable in Atelier (pretrained elsewhere)
    # submodules whose weights always come from another installed package (``load_pretrained_parts()``):
    # never written to a model file, filled in when one is loaded
    pretrained_parts: ClassVar[tuple[str, ...]]
    Options: ClassVar[type[StylizeOptions]]  # its inference options
    portrait_backend: ClassVar[bool]  # usable as portrait mode's two-pass feed-forward backend
    instant_preview: ClassVar[bool]  # the web page's instant preview for any style image
    style_layers: tuple[str, ...]  # the VGG features ``stylize`` takes of each style image

    def config(self) -> dict[str, Any]:
        """The constructor arguments (``registry.build(method, **config)`` rebuilds the model)."""
        ...

    def stylize(self, vgg: VGG, content: torch.Tensor, styles: Sequence[Any], weights: Sequence[float],
                options: StylizeOptions = ...) -> torch.Tensor:
        """1 x 3 x H x W content (0..1) stylized with the blend ``weights`` of the encoded ``styles``."""
        ...


def options_for(model: type[FeedForwardModel] | FeedForwardModel, settings: Any) -> StylizeOptions:
    """``model``'s own inference options, each field taken from the same-named attribute of
    ``settings`` (e.g. a :class:`~atelier.feedforward.transfer.FeedForwardOptions`)."""
    cls = model.Options
    return cls(**{f.name: getattr(settings, f.name) for f in dataclasses.fields(cls)})


def builtin_style(model: type[FeedForwardModel], card: dict[str, Any]) -> str:
    """The name of the style built into a model that needs no style image (from its model ``card``)."""
    describe = getattr(model, "builtin_style", None)
    return describe(card) if describe is not None else "its trained style"
