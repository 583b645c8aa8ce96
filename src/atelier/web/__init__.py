"""The studio web page behind ``atelier serve``: a FastAPI app, a job queue and one static page.

Modules: :mod:`.app` (routes), :mod:`.jobs` (queue, pure Python), :mod:`.uploads` (validated
uploads), :mod:`.config` (server settings, page settings -> StyleOptions), :mod:`.tasks`
(what a job runs), :mod:`.capabilities` (which optional features are installed).
"""

from .app import create_app
from .config import ServeOptions

__all__ = ["create_app", "ServeOptions"]
