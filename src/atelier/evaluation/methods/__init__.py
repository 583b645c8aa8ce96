"""The registry of stylization methods that ``atelier evaluate`` (and others) can run by name.

A *method* is a callable ``(content, style, size, seed) -> PIL.Image``: ``content`` and
``style`` are RGB PIL images, ``size`` the long side of the output in pixels, ``seed`` the
random seed; it returns the stylized RGB image.

How a method gets here
----------------------
* Every module of this package that defines ``RUNNERS = {name: callable}`` is registered
  when the registry is first used (the same pattern as the CLI's ``COMMANDS``). To add a
  method, add a small adapter module here, e.g. ``methods/adain.py``::

      from ..feedforward import adain_stylize          # your real implementation
      def _run(content, style, size, seed):
          return adain_stylize(content, style, size=size)
      RUNNERS = {"adain": _run}

  If an adapter fails to import (its implementation is not there yet), its names are not
  registered and the import error is kept as the reason (:func:`unavailable`).
* Code (or a test) may also call :func:`register` directly.
* A registered method that cannot run right now (e.g. its trained weights are missing)
  raises :class:`MethodUnavailable`; evaluation reports it as unavailable, never fakes it.

``KNOWN`` lists the methods the evaluation compares by default (``atelier.library.methods.COMPARED``,
from the one registry of method names); a known name that is not registered is reported as
"not available in this installation".
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from ...base.errors import AtelierError, UsageError
from ...library.methods import COMPARED

MethodFn = Callable[[Image.Image, Image.Image, int, int], Image.Image]
KNOWN = COMPARED


class MethodUnavailable(AtelierError):
    """A registered method cannot run in this installation (e.g. trained weights missing)."""


@dataclass(frozen=True)
class Method:
    name: str
    fn: MethodFn
    description: str = ""

    def __call__(self, content: Image.Image, style: Image.Image, size: int, seed: int) -> Image.Image:
        return self.fn(content, style, size, seed)


_REGISTRY: dict[str, Method] = {}
_FAILED: dict[str, str] = {}  # adapter module -> why it could not be imported
_discovered = False


def register(name: str, fn: MethodFn, description: str = "") -> Method:
    """Register ``fn`` under ``name`` (replacing an earlier registration of that name)."""
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ValueError(f"method names are letters, digits, '-' and '_', got {name!r}")
    method = Method(name, fn, description or (fn.__doc__ or "").strip().split("\n")[0])
    _REGISTRY[name] = method
    return method


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for info in pkgutil.iter_modules(__path__):
        try:
            module = importlib.import_module(f"{__name__}.{info.name}")
        except Exception as exc:  # an adapter whose implementation is missing or broken
            _FAILED[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        for name, fn in getattr(module, "RUNNERS", {}).items():
            _REGISTRY.setdefault(name, Method(name, fn, (fn.__doc__ or "").strip().split("\n")[0]))


def registered() -> dict[str, Method]:
    """All registered methods by name."""
    _discover()
    return dict(_REGISTRY)


def unavailable(name: str) -> str | None:
    """Why ``name`` cannot be used (None if it is registered)."""
    _discover()
    if name in _REGISTRY:
        return None
    if name in _FAILED:
        return f"its adapter failed to import ({_FAILED[name]})"
    if _FAILED:
        broken = "; ".join(f"methods/{m}.py: {why}" for m, why in _FAILED.items())
        return f"not available in this installation (adapters that failed to import: {broken})"
    return "not available in this installation"


def get(name: str) -> Method:
    """The method called ``name``; ``UsageError`` naming the registered ones if there is none."""
    reason = unavailable(name)
    if reason is not None:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise UsageError(f"method {name!r} is {reason}; registered methods: {known}")
    return _REGISTRY[name]
