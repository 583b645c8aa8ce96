"""Atelier: neural style transfer, fully offline.

>>> import atelier
>>> img = atelier.stylize("photo.jpg", "painting.jpg", size=512)
"""

__version__ = "0.1.0"

from .api import stylize  # noqa: E402
from .options import StyleOptions  # noqa: E402

__all__ = ["stylize", "StyleOptions", "__version__"]
