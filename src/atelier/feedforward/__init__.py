"""Feed-forward style transfer: AdaIN, WCT, SANet (arbitrary styles) and Johnson nets (one style).

Each method is a small module of pure tensor code plus its trainable network; they share the
VGG19 encoder of :mod:`atelier.vgg`. :mod:`.registry` builds models and loads their weights,
:mod:`.transfer` applies them to images, :mod:`atelier.train` trains them.
"""

from .registry import METHODS, build, load, save

__all__ = ["METHODS", "build", "load", "save"]
