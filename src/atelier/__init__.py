"""Atelier: neural style transfer, fully offline.

>>> import atelier
>>> img = atelier.stylize("photo.jpg", "painting.jpg", size=512)
"""

from .api import stylize
from .base.version import __version__
from .core.options import StyleOptions

__all__ = ["stylize", "StyleOptions", "__version__"]
