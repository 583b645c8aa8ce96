"""Feed-forward style transfer: AdaIN, WCT, SANet, Ghiasi (arbitrary styles), Johnson nets (one style), MultiStyle.

Each method is a small module of pure tensor code plus its trainable network; they share the
VGG19 encoder of :mod:`atelier.core.vgg`. :mod:`.registry` builds models and loads their weights,
:mod:`.transfer` applies them to images, :mod:`.train` trains them; :mod:`.model` is the
protocol every model class implements.
"""

from .registry import NAMES, build, load, save, spec

__all__ = ["NAMES", "build", "load", "save", "spec"]
