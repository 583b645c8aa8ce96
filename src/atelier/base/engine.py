"""Engines: map a function over items in this process or over a Ray cluster, results as they finish.

An engine runs ``fn(item)`` for every item and yields one :class:`Outcome` per item, in the
order they finish. ``fn`` and the items must be picklable (a module-level function and plain
data) so the same call works on every engine. A task that raises :class:`AtelierError` (a bad
input: a corrupt image) fails at once; any other failure (an unexpected exception, a worker
process or node that died) is retried up to ``retries`` times, then reported. Failures never
stop the other items. Results are handed back as they arrive, so a caller that writes each
one down (a manifest line) loses nothing when the job is interrupted.

Example::

    from atelier.base.engine import make_engine

    with make_engine("ray", address="auto", retries=2) as engine:   # or make_engine("local")
        for out in engine.map(stylize_one, tasks):
            print(out.index, out.value if out.ok else out.error, out.worker)

Workers keep module-level caches between tasks (Ray reuses its worker processes), so a model
loaded through a cached function (e.g. ``functools.lru_cache``) is loaded once per worker.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import AtelierError, UsageError

ENGINES = ("local", "ray")
RAY_MISSING = '--engine ray needs Ray: pip install -e ".[distributed]"'


@dataclass(frozen=True)
class Outcome:
    """One finished item: its position in the input, its value or error, and where it ran."""

    index: int
    item: Any
    value: Any = None
    error: str | None = None   # "" never; None when the task succeeded
    worker: str = ""           # "NODE:PID" of the process that ran the last attempt

    @property
    def ok(self) -> bool:
        return self.error is None


class Engine(Protocol):
    """What every engine offers; use it as a context manager so it releases its workers."""

    name: str

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...

    def __enter__(self) -> Engine: ...

    def __exit__(self, *exc: Any) -> None: ...


def _where() -> str:
    """This process as ``NODE:PID`` (the Ray node id inside a Ray worker, else the host name)."""
    ray = sys.modules.get("ray")  # imported in Ray workers; never imported here
    node = ray.get_runtime_context().get_node_id() if ray is not None and ray.is_initialized() else socket.gethostname()
    return f"{node}:{os.getpid()}"


def _attempt(fn: Callable[[Any], Any], item: Any) -> tuple[Any, str | None, str]:
    """Run one task: ``(value, None, where)``, or ``(None, message, where)`` for an ``AtelierError``.
    Other exceptions propagate (the engine retries them)."""
    try:
        return fn(item), None, _where()
    except AtelierError as exc:
        return None, str(exc), _where()


def _describe(exc: BaseException) -> str:
    cause = getattr(exc, "cause", None) or exc  # Ray wraps the task's exception in RayTaskError
    return f"{type(cause).__name__}: {cause}".strip().splitlines()[0]


class _Base:
    name = ""

    def __enter__(self) -> Engine:
        return self  # type: ignore[return-value]

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        pass


class LocalEngine(_Base):
    """Runs the tasks one after another in this process (the models stay loaded between them)."""

    name = "local"

    def __init__(self, retries: int = 2):
        self.retries = retries

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        for index, item in enumerate(items):
            for attempt in range(self.retries + 1):
                try:
                    value, error, where = _attempt(fn, item)
                    yield Outcome(index, item, value, error, where)
                    break
                except Exception as exc:  # noqa: BLE001 - reported, never raised: one item must not stop the job
                    if attempt == self.retries:
                        yield Outcome(index, item, None, _describe(exc), _where())


class RayEngine(_Base):
    """Runs the tasks as Ray tasks, one CPU each, on a local Ray instance or the cluster at ``address``.

    ``address=None`` starts a private local instance (``init`` options such as ``num_cpus`` and
    ``object_store_memory`` go to ``ray.init``); ``"auto"`` or ``"HOST:PORT"`` joins a running
    cluster (``ray start --head``); tasks are spread over its nodes. If Ray is already initialised
    in this process it is used as is and left running. Worker deaths and unexpected exceptions
    are retried ``retries`` times; at most ``in_flight`` tasks are submitted at once.
    """

    name = "ray"

    def __init__(self, address: str | None = None, retries: int = 2, in_flight: int = 64,
                 num_cpus_per_task: float = 1, **init: Any):
        try:
            import ray
        except ImportError:
            raise UsageError(RAY_MISSING) from None
        self._ray, self.retries, self.in_flight = ray, retries, in_flight
        self._owned = not ray.is_initialized()
        if self._owned:
            init.setdefault("include_dashboard", False)
            init.setdefault("log_to_driver", False)
            try:
                ray.init(address=address, **init)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise AtelierError(f"cannot start or reach Ray at {address or 'a local instance'}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
        self._remote = ray.remote(num_cpus=num_cpus_per_task, max_retries=retries, retry_exceptions=True,
                                  scheduling_strategy="SPREAD")(_attempt)  # over every node, not the driver's first

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Outcome]:
        ray = self._ray
        fn_ref = ray.put(fn)
        todo = iter(enumerate(items))
        pending: dict[Any, tuple[int, Any]] = {}

        def submit() -> None:
            for index, item in todo:
                pending[self._remote.remote(fn_ref, item)] = (index, item)
                if len(pending) >= self.in_flight:
                    return

        submit()
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index, item = pending.pop(ready[0])
            try:
                value, error, where = ray.get(ready[0])
                yield Outcome(index, item, value, error, where)
            except Exception as exc:  # noqa: BLE001 - retries exhausted (task error, dead worker or node)
                yield Outcome(index, item, None, _describe(exc), "")
            submit()

    def close(self) -> None:
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()


def make_engine(name: str, address: str | None = None, retries: int = 2, **init: Any) -> Engine:
    """``LocalEngine`` for ``"local"`` (``address`` must be None), ``RayEngine`` for ``"ray"``."""
    if name == "local":
        if address is not None:
            raise UsageError("--address needs --engine ray")
        return LocalEngine(retries)  # type: ignore[return-value]
    if name == "ray":
        return RayEngine(address, retries, **init)  # type: ignore[return-value]
    raise UsageError(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}")
