"""``@tillage.step`` and ``@tillage.pipeline``: plain functions that runs make durable.

A pipeline is a Python function whose body calls steps with ordinary control
flow. Outside a run both are plain functions. Inside a run (`tillage.run`)
each step call is numbered in the order the body makes it, and its result is
stored; running the body again replays stored results instead of calling the
step, which is how a run resumes after a crash or a pause.
"""

from __future__ import annotations

import contextvars
import functools
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, overload

from tillage.core.modules import load_module
from tillage.errors import InputError

P = ParamSpec("P")
R = TypeVar("R")


class Runner(Protocol):
    """What executes step calls inside a run: the engine's runtime.

    Steps find it in `RUNNER` and call it; they never import the engine, which
    imports this module.
    """

    def call(self, step: Step[Any, Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Any: ...

    def map(self, step: Step[Any, Any], items: list[Any], kwargs: dict[str, Any]) -> list[Any]: ...

    def map_batches(
        self,
        step: Step[Any, Any],
        dataset: str,
        ref: str | None,
        rows: int,
        kwargs: dict[str, Any],
    ) -> list[Any]: ...


RUNNER: contextvars.ContextVar[Runner | None] = contextvars.ContextVar(
    "tillage_runner", default=None
)
"""The run executing in this context, if any (set by the engine for a pipeline body)."""


def code_hash(fn: Callable[..., Any]) -> str:
    """SHA-256 of a function's source (its bytecode when the source is not available)."""
    try:
        text = inspect.getsource(fn).encode()
    except (OSError, TypeError):
        code = getattr(fn, "__code__", None)
        text = code.co_code if code is not None else repr(fn).encode()
    return hashlib.sha256(text).hexdigest()


class Step(Generic[P, R]):
    """A function whose calls inside a run are stored, replayed and cached."""

    def __init__(self, fn: Callable[P, R], *, name: str | None = None, cache: bool = True) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.cache = cache
        self._code: str | None = None
        functools.update_wrapper(self, fn)

    @property
    def code(self) -> str:
        if self._code is None:
            self._code = code_hash(self.fn)
        return self._code

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        rt = RUNNER.get()
        if rt is None:
            return self.fn(*args, **kwargs)
        result: R = rt.call(self, args, kwargs)
        return result

    def map(self, items: Iterable[Any], **kwargs: Any) -> list[Any]:
        """Call the step on each item; inside a run every item is checkpointed."""
        rt = RUNNER.get()
        if rt is None:
            return [self.fn(item, **kwargs) for item in items]
        return rt.map(self, list(items), kwargs)

    def map_batches(
        self, dataset: str, *, ref: str | None = None, rows: int = 10_000, **kwargs: Any
    ) -> list[Any]:
        """Call the step on ``dataset`` (at ``ref``) in Arrow tables of ``rows`` rows.

        Inside a run every batch is checkpointed and the cache key is the data
        version; outside a run it reads through ``tillage.open()``.
        """
        rt = RUNNER.get()
        if rt is None:
            from tillage.repo import Repo

            with Repo.open() as repo:
                table = repo.datasets.read(dataset, ref)
            return [self.fn(table.slice(o, rows), **kwargs) for o in range(0, table.num_rows, rows)]
        return rt.map_batches(self, dataset, ref, rows, kwargs)

    def __repr__(self) -> str:
        return f"<tillage step {self.name}>"


class Pipeline(Generic[P, R]):
    """A function of steps that `tillage.run` executes durably."""

    def __init__(self, fn: Callable[P, R], *, name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    @property
    def target(self) -> str:
        """How a later process finds this pipeline again: ``module:name`` or ``file.py:name``."""
        module = self.fn.__module__
        qualname = self.fn.__qualname__
        if "<locals>" in qualname:
            raise InputError(
                f"pipeline {self.name!r} is defined inside a function; define it at the top "
                "level of a module so that a resumed run can find it again."
            )
        if module != "__main__" and not getattr(sys.modules.get(module), "_tillage_file", False):
            return f"{module}:{qualname}"
        source = inspect.getsourcefile(self.fn)
        if source is None:
            raise InputError(f"cannot tell which file defines pipeline {self.name!r}.")
        return f"{Path(source).resolve()}:{qualname}"

    def __repr__(self) -> str:
        return f"<tillage pipeline {self.name}>"


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...
@overload
def step(
    *, name: str | None = None, cache: bool = True
) -> Callable[[Callable[P, R]], Step[P, R]]: ...
def step(
    fn: Callable[P, R] | None = None, /, *, name: str | None = None, cache: bool = True
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a step: ``@tillage.step`` or ``@tillage.step(cache=False)``.

    ``cache=False`` re-runs the step in every new run (its results are still
    stored, so a resumed run replays them).
    """
    if fn is not None:
        return Step(fn, name=name, cache=cache)
    return lambda f: Step(f, name=name, cache=cache)


@overload
def pipeline(fn: Callable[P, R], /) -> Pipeline[P, R]: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[P, R]], Pipeline[P, R]]: ...
def pipeline(
    fn: Callable[P, R] | None = None, /, *, name: str | None = None
) -> Pipeline[P, R] | Callable[[Callable[P, R]], Pipeline[P, R]]:
    """Make a function a pipeline: ``@tillage.pipeline``."""
    if fn is not None:
        return Pipeline(fn, name=name)
    return lambda f: Pipeline(f, name=name)


def load_pipeline(target: str) -> Pipeline[..., Any]:
    """The pipeline ``target`` names: ``path/to/file.py:NAME`` or ``package.module:NAME``."""
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise InputError(
            f"cannot read {target!r} as a pipeline: write FILE.py:NAME or module:NAME."
        )
    if where.endswith(".py"):
        module = load_module(where)
    else:
        try:
            module = importlib.import_module(where)
        except ImportError as e:
            raise InputError(f"cannot import {where!r} (from {target!r}): {e}") from e
    found: Any = module
    for part in name.split("."):
        found = getattr(found, part, None)
    if not isinstance(found, Pipeline):
        known = sorted(n for n, v in vars(module).items() if isinstance(v, Pipeline))
        raise InputError(
            f"{where} has no pipeline {name!r} (pipelines there: {', '.join(known) or 'none'}); "
            "decorate the function with @tillage.pipeline."
        )
    return found
