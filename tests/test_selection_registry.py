"""The strategy registry: lookup, user strategies, and what it refuses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

from tillage import NoSuchStrategyError
from tillage.errors import InputError
from tillage.selection import strategies
from tillage.selection.strategies import Candidates, Pick


def test_random_is_seeded_and_within_the_pool() -> None:
    pool = Candidates(keys=[str(i) for i in range(100)])
    info = strategies.get("random")
    a = info.function(pool, 10, np.random.default_rng(7), {})
    b = info.function(pool, 10, np.random.default_rng(7), {})
    assert [p.position for p in a] == [p.position for p in b]
    assert len({p.position for p in a}) == 10
    assert all(0 <= p.position < 100 for p in a)
    assert info.function(pool, 500, np.random.default_rng(7), {}).__len__() == 100


def test_unknown_strategy_names_the_known_ones() -> None:
    with pytest.raises(NoSuchStrategyError) as e:
        strategies.get("psychic")
    assert "random" in e.value.known
    assert "register" in str(e.value)


def test_a_user_strategy_registers_and_is_listed() -> None:
    def first(c: Candidates, n: int, rng: np.random.Generator, p: Mapping[str, Any]) -> list[Pick]:
        return [Pick(i, 1.0, "first rows") for i in range(min(n, len(c)))]

    strategies.register("first-rows", first, needs=["features"], description="test")
    try:
        assert "first-rows" in [s.name for s in strategies.registered()]
        assert strategies.get("first-rows").needs == frozenset({"features"})
    finally:
        strategies._REGISTRY.pop("first-rows", None)


@pytest.mark.parametrize(
    ("needs", "action", "fragment"),
    [(["crystal_ball"], "label", "crystal_ball"), ([], "burn", "burn")],
)
def test_register_refuses_unknown_needs_and_actions(
    needs: list[str], action: str, fragment: str
) -> None:
    with pytest.raises(InputError, match=fragment):
        strategies.register("bad", strategies.random_picks, needs=needs, action=action)
    assert "bad" not in strategies._REGISTRY
