"""The studio web page behind ``atelier serve``: a FastAPI app, a job queue and one static page.

Modules: :mod:`.app` (routes), :mod:`.jobs` (queue, pure Python), :mod:`.uploads` (validated
uploads), :mod:`.config` (server settings, page settings -> StyleOptions), :mod:`.tasks`
(what a job runs), :mod:`.capabilities` (which optional features are installed).
"""

from typing import Any

from .config import ServeOptions

__all__ = ["create_app", "ServeOptions"]


def __getattr__(name: str) -> Any:
    """Import the FastAPI app only when asked, so ``atelier stylize`` never pays for it."""
    if name == "create_app":
        from .app import create_app
        return create_app
    raise AttributeError(name)
