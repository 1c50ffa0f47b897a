"""Selection strategies: plain functions behind one interface, and their registry.

A strategy gets the pool as `Candidates` (record keys aligned with whatever the
model and the featurizer know of them), a batch size and a seeded random
generator, and returns `Pick`s, best first: which record, its score, a reason a
person can read ("margin 0.03 between iphone and android") and the action it
proposes (``label``, ``relabel``, ``remove``, ``augment``, ``generate``).

``needs`` says which parts of `Candidates` a strategy reads; the caller checks
them before it runs (a strategy that needs predictions on a version that has
none is an error naming the command that records them). Users add their own
with `register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tillage.errors import InputError, NoSuchStrategyError

if TYPE_CHECKING:
    import numpy as np

ACTIONS: tuple[str, ...] = ("label", "relabel", "remove", "augment", "generate")
NEEDS: tuple[str, ...] = ("proba", "features", "committee", "labelled_features", "labels")


@dataclass(frozen=True, eq=False)
class Candidates:
    """The pool a strategy chooses from; every array is aligned with ``keys``.

    Attributes:
        keys: record ids of the pool.
        proba: the model's class probabilities, shape (n, k), or None.
        classes: the class names of ``proba``'s columns.
        features: the featurizer's vectors, shape (n, d), or None.
        committee: several models' probabilities, shape (m, n, k), or None.
        labelled_features: vectors of the records already labelled, shape (l, d), or
            None (core-set strategies cover the pool *and* these).
        labels: each record's current label (None where it has none), or None.
        extra: per-record arrays a strategy may ask for by name (``value`` for data
            valuation, ``label_quality``, ``slice_error`` ...).
    """

    keys: Sequence[str]
    proba: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    features: np.ndarray | None = None
    committee: np.ndarray | None = None
    labelled_features: np.ndarray | None = None
    labels: Sequence[str | None] | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class Pick:
    """One chosen record: its position in `Candidates.keys`, score, reason and action."""

    position: int
    score: float
    reason: str
    action: str = "label"


Strategy = Callable[[Candidates, int, "np.random.Generator", Mapping[str, Any]], list[Pick]]
"""``strategy(candidates, n, rng, params) -> picks``, at most ``n``, best first."""


@dataclass(frozen=True)
class StrategyInfo:
    """A registered strategy: its function, what it reads and the action it proposes."""

    name: str
    function: Strategy
    needs: frozenset[str]
    action: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        """The strategy as JSON-ready values."""
        return {
            "name": self.name,
            "needs": sorted(self.needs),
            "action": self.action,
            "description": self.description,
        }


_REGISTRY: dict[str, StrategyInfo] = {}


def register(
    name: str,
    function: Strategy,
    *,
    needs: Sequence[str] = (),
    action: str = "label",
    description: str = "",
) -> StrategyInfo:
    """Add (or replace) a strategy under ``name``.

    Args:
        name: how `repo.select` and ``tillage select --strategy`` name it.
        function: ``function(candidates, n, rng, params) -> list[Pick]``.
        needs: the parts of `Candidates` it reads (see `NEEDS`, or ``extra:NAME``).
        action: the action its picks propose by default (see `ACTIONS`).
        description: one line for ``tillage select --list``.

    Raises:
        InputError: an unknown need or action.
    """
    unknown = [n for n in needs if n not in NEEDS and not n.startswith("extra:")]
    if unknown:
        raise InputError(
            f"strategy {name!r} needs {', '.join(unknown)}, which candidates do not have; "
            f"use {', '.join(NEEDS)} or extra:NAME."
        )
    if action not in ACTIONS:
        raise InputError(f"strategy {name!r} proposes {action!r}; use one of {', '.join(ACTIONS)}.")
    info = StrategyInfo(name, function, frozenset(needs), action, description)
    _REGISTRY[name] = info
    return info


def get(name: str) -> StrategyInfo:
    """The strategy registered as ``name``.

    Raises:
        NoSuchStrategyError: none is.
    """
    _load_builtins()
    info = _REGISTRY.get(name)
    if info is None:
        raise NoSuchStrategyError(name, list(_REGISTRY))
    return info


def registered() -> list[StrategyInfo]:
    """Every registered strategy, by name."""
    _load_builtins()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


def random_picks(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """Uniformly random records: the baseline every report shows beside the chosen strategy."""
    order = rng.permutation(len(candidates))[:n]
    return [Pick(int(i), 0.0, "chosen at random (baseline)") for i in order]


_BUILTINS_LOADED = False


def _load_builtins() -> None:
    """Register the strategies that ship with tillage (once, on first lookup)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for name, info in _builtins().items():
        _REGISTRY.setdefault(name, info)


def _builtins() -> dict[str, StrategyInfo]:
    return {
        "random": StrategyInfo(
            "random", random_picks, frozenset(), "label", "uniformly random (the baseline)"
        ),
    }
