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
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, overload

from tillage.core.modules import load_module
from tillage.errors import InputError, TillageError
from tillage.pipelines.codehash import code_hash

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


JITTER = 0.2
"""Each retry waits up to this share less than its backoff delay, chosen at random,
so that steps failing together do not retry in lockstep."""


@dataclass(frozen=True)
class RetryPolicy:
    """How a step is retried when a call raises: which errors, how often, how long apart.

    Attributes:
        retries: how many times a failed call is tried again (0: never).
        delay: seconds before the first retry.
        backoff: each later retry waits this many times longer than the one before ...
        max_delay: ... but never longer than this many seconds.
        retry_on: the exception types retried; errors of other types fail the
            step at once. Tillage's own errors about bad input (a `TillageError`
            that is not ``transient``) are never retried: trying again cannot help.
    """

    retries: int = 0
    delay: float = 1.0
    backoff: float = 2.0
    max_delay: float = 60.0
    retry_on: tuple[type[Exception], ...] = (Exception,)

    def retries_on(self, error: BaseException) -> bool:
        """Whether ``error`` is worth another attempt under this policy."""
        if isinstance(error, TillageError) and not error.transient:
            return False
        return isinstance(error, self.retry_on)

    def wait(self, retry: int, rand: float) -> float:
        """Seconds before retry number ``retry`` (1, 2, ...); ``rand`` in [0, 1) is the jitter."""
        base = min(self.max_delay, self.delay * self.backoff ** (retry - 1))
        return base * (1.0 - JITTER * rand)


def _retry_policy(
    retries: int,
    retry_delay: float,
    backoff: float,
    max_retry_delay: float,
    retry_on: type[Exception] | tuple[type[Exception], ...] | None,
) -> RetryPolicy:
    """A `RetryPolicy` from ``@tillage.step``'s arguments, or `InputError` naming the bad one."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InputError(f"retries= must be a whole number of 0 or more, not {retries!r}.")
    for name, value, least in (
        ("retry_delay", retry_delay, 0.0),
        ("backoff", backoff, 1.0),
        ("max_retry_delay", max_retry_delay, 0.0),
    ):
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= least:
            raise InputError(f"{name}= must be a number of {least:g} or more, not {value!r}.")
    types = retry_on if isinstance(retry_on, tuple) else (retry_on,) if retry_on else ()
    if not all(isinstance(t, type) and issubclass(t, Exception) for t in types):
        raise InputError(
            "retry_on= takes exception classes (Exception and its subclasses), e.g. "
            f"retry_on=(OSError, TimeoutError), not {retry_on!r}."
        )
    if types and retries == 0:
        raise InputError(
            f"retry_on={retry_on!r} needs retries= too: say how many times to retry, "
            "e.g. @tillage.step(retries=3, retry_on=...)."
        )
    return RetryPolicy(
        retries, float(retry_delay), float(backoff), float(max_retry_delay), types or (Exception,)
    )


class Step(Generic[P, R]):
    """A function whose calls inside a run are stored, replayed and cached."""

    def __init__(
        self,
        fn: Callable[P, R],
        *,
        name: str | None = None,
        cache: bool = True,
        code_version: str | None = None,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        if code_version is not None and (not isinstance(code_version, str) or not code_version):
            raise InputError(
                f"code_version= must be a non-empty string such as '2', not {code_version!r}."
            )
        self.fn = fn
        self.name = name or fn.__name__
        self.cache = cache
        self.code_version = code_version
        self.retry = retry
        self._code: str | None = None if code_version is None else f"version:{code_version}"
        functools.update_wrapper(self, fn)

    @property
    def code(self) -> str:
        """What the cache key knows of the code: ``code_version``, else `code_hash`."""
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
    *,
    name: str | None = None,
    cache: bool = True,
    code_version: str | None = None,
    retries: int = 0,
    retry_delay: float = 1.0,
    backoff: float = 2.0,
    max_retry_delay: float = 60.0,
    retry_on: type[Exception] | tuple[type[Exception], ...] | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...
def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    code_version: str | None = None,
    retries: int = 0,
    retry_delay: float = 1.0,
    backoff: float = 2.0,
    max_retry_delay: float = 60.0,
    retry_on: type[Exception] | tuple[type[Exception], ...] | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a step: ``@tillage.step`` or ``@tillage.step(retries=3, ...)``.

    Args:
        name: the step's name in runs (default: the function's).
        cache: ``False`` re-runs the step in every new run (its results are
            still stored, so a resumed run replays them).
        code_version: pins the code part of the cache key: results are reused
            while it stays the same, whatever the source says. Without it the
            key holds the source of the step and of the project code it calls
            (`tillage.pipelines.codehash`).
        retries: how many times a call that raised is tried again; 0 (the
            default) fails the run at the first error.
        retry_delay: seconds before the first retry; each later one waits
            ``backoff`` times longer, at most ``max_retry_delay`` seconds, less
            up to 20% at random.
        retry_on: the exception types to retry (default, given ``retries``:
            every `Exception`). Tillage errors about bad input are never retried.

    Raises:
        InputError: an argument out of range, or ``retry_on`` without ``retries``.
    """
    policy = _retry_policy(retries, retry_delay, backoff, max_retry_delay, retry_on)
    if fn is not None:
        return Step(fn, name=name, cache=cache, code_version=code_version, retry=policy)
    return lambda f: Step(f, name=name, cache=cache, code_version=code_version, retry=policy)


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


def load_object(target: str, what: str) -> tuple[Any, Any]:
    """What ``target`` names (``path/to/file.py:NAME`` or ``package.module:NAME``), and
    its module; None for a name the module lacks.

    Raises:
        InputError: ``target`` is neither form, or its module cannot be loaded.
    """
    where, sep, name = target.rpartition(":")
    if not sep or not where or not name:
        raise InputError(f"cannot read {target!r} as a {what}: write FILE.py:NAME or module:NAME.")
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
    return found, module


def load_pipeline(target: str) -> Pipeline[..., Any]:
    """The pipeline ``target`` names: ``path/to/file.py:NAME`` or ``package.module:NAME``."""
    found, module = load_object(target, "pipeline")
    where, _, name = target.rpartition(":")
    if not isinstance(found, Pipeline):
        known = sorted(n for n, v in vars(module).items() if isinstance(v, Pipeline))
        raise InputError(
            f"{where} has no pipeline {name!r} (pipelines there: {', '.join(known) or 'none'}); "
            "decorate the function with @tillage.pipeline."
        )
    return found
