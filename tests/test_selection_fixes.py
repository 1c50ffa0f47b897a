"""Defects of the selection layer, each pinned by a test that failed before its fix."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tillage
from test_repo import snapshot
from tillage import Repo
from tillage.core import kinds
from tillage.core.kinds import SAMPLE_ROWS, ColumnKind, column_kind, value_facts


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    """``notes``: 30 short texts keyed by ``nid``."""
    r = tillage.init(tmp_path / "proj")
    r.ingest(
        "notes",
        pa.table(
            {
                "nid": list(range(30)),
                "text": [f"the flight {i} left late from gate {i % 7}" for i in range(30)],
            }
        ),
        key="nid",
    )
    yield r
    r.close()


class _Unreadable(dict[str, Any]):
    """A record whose columns cannot be listed: iterating it raises a plain ValueError."""

    def __iter__(self) -> Iterator[str]:
        raise ValueError("columns unavailable")


def _interrupt(record: dict[str, Any]) -> dict[str, Any]:
    raise KeyboardInterrupt  # as when a person stops a long augment with Ctrl-C


def _unreadable(record: dict[str, Any]) -> dict[str, Any]:
    return _Unreadable(record)


@pytest.mark.parametrize(
    ("transform", "raised"),
    [(_interrupt, KeyboardInterrupt), (_unreadable, ValueError)],
    ids=["interrupt", "plain-error"],
)
def test_an_action_stopped_by_any_exception_leaves_no_branch(
    repo: Repo, transform: Any, raised: type[BaseException]
) -> None:
    sel = repo.select("notes", strategy="random", n=5, seed=1)
    before = snapshot(repo)
    with pytest.raises(raised):
        repo.selection.apply(sel.id, "augment", transforms={"odd": transform})
    assert f"selection/{sel.id}" not in repo.refs.branches()
    assert snapshot(repo) == before
    assert repo.selection.actions(sel.id) == []


# Re-predicting a model version upserts its rows into ``NAME-predictions``. Lance's
# merge through the key index held every candidate row in a hash table that may not
# spill, and failed past its memory pool (300 MB: about two million stored rows). Here
# the index starts at 10,000 rows and the pool is 5 MB, so 100,000 rows show it.
REPREDICT = """
import sys
import numpy as np
import pyarrow as pa
import tillage
import tillage.store.tables as tables

tables._INDEX_EVERY_ROWS = int(sys.argv[4])
path, n, versions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
repo = tillage.init(path)
repo.ingest("pool", pa.table({"id": np.arange(n), "x": np.zeros(n)}), key="id")
p = np.random.default_rng(0).random(n)
proba = np.stack([p, 1 - p], axis=1)
for _ in range(versions):
    repo.models.record("clf", "pool", features=["x"])
    repo.models.record_predictions("clf", "pool", list(range(n)), proba, ["a", "b"])
assert repo.read("clf-predictions").num_rows == n * versions
repo.models.record_predictions("clf", "pool", list(range(n)), proba[:, ::-1], ["a", "b"])
got = repo.models.predictions("clf", "pool")
order = np.array(got.keys, dtype=np.int64)
np.testing.assert_allclose(got.proba[:, 0], 1 - p[order], atol=1e-6)
assert repo.read("clf-predictions").num_rows == n * versions
earlier = repo.models.predictions("clf", "pool", version=versions - 1)
np.testing.assert_allclose(earlier.proba[:, 0], p[order], atol=1e-6)
# A delete of many keys goes through the same keyed merge.
first = pa.table({"dataset": ["pool"] * n, "record_id": [str(i) for i in range(n)]})
first = first.append_column("model_version", pa.array([1] * n, pa.int64()))
repo.ingest("clf-predictions", first, mode="delete")
assert repo.read("clf-predictions").num_rows == n * (versions - 1)
print("ok")
"""


def _repredict(path: Path, n: int, versions: int, index_every: int, pool: int | None) -> None:
    env = dict(os.environ)
    if pool is not None:
        env["LANCE_MEM_POOL_SIZE"] = str(pool)
    args = [str(path), str(n), str(versions), str(index_every)]
    done = subprocess.run(
        [sys.executable, "-c", REPREDICT, *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_repredicting_a_version_fits_lances_memory_pool(tmp_path: Path) -> None:
    _repredict(tmp_path / "proj", 50_000, 2, 10_000, 5_000_000)


@pytest.mark.slow
def test_repredicting_a_version_over_two_million_stored_rows(tmp_path: Path) -> None:
    """The failure as it was met: four versions of 500,000 predictions, Lance's defaults."""
    _repredict(tmp_path / "proj", 500_000, 4, 1 << 20, None)


def _kinds(table: pa.Table) -> dict[str, tuple[ColumnKind, ...]]:
    """Each column's kind as the featurizer, slices and the fidelity gate ask for it."""
    out = {}
    for name in table.column_names:
        col = table.column(name)
        facts = value_facts(col)
        out[name] = (
            column_kind(name, col.type, facts, dataset="flights"),
            column_kind(name, col.type, facts, max_categories=20, times=False),
            column_kind(name, col.type, facts, times=False),
        )
    return out


def test_kinds_from_a_sample_are_the_kinds_from_every_value(
    nycflights_table: pa.Table, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_text = nycflights_table.append_column(
        "time_text", pc.strftime(nycflights_table.column("time_hour"), "%Y-%m-%dT%H:%M:%SZ")
    )
    assert as_text.num_rows > 2 * SAMPLE_ROWS
    sampled = _kinds(as_text)
    monkeypatch.setattr(kinds, "SAMPLE_ROWS", as_text.num_rows)
    assert sampled == _kinds(as_text)
    assert sampled["rownames"][0] is ColumnKind.IDENTIFIER
    assert sampled["tailnum"][0] is ColumnKind.IDENTIFIER
    assert sampled["carrier"][0] is ColumnKind.CATEGORICAL
    assert sampled["time_text"][0] is ColumnKind.TIME


def test_the_distinct_count_of_a_sample_is_extrapolated() -> None:
    rng = np.random.default_rng(3)
    n = 4 * SAMPLE_ROWS
    for distinct in (7, 5_000, 60_000, n):
        column = pa.chunked_array([rng.permutation(np.arange(n) % distinct)])
        facts = value_facts(column)
        assert facts.valid == n and (facts.low, facts.high) == (0, distinct - 1)
        assert facts.distinct == pytest.approx(distinct, rel=0.02)


@pytest.mark.slow
def test_the_cost_of_kinds_is_bounded_by_the_sample() -> None:
    """Eight times the rows cost about the same (counting every value cost 13 times)."""
    rng = np.random.default_rng(0)
    vocab = pa.array([f"w{i}" for i in range(3000)])
    n = 8 * SAMPLE_ROWS
    words = [vocab.take(pa.array(rng.zipf(1.5, n) % 3000)) for _ in range(8)]
    text = pc.binary_join_element_wise(*words, " ")

    def seconds(values: pa.Array) -> float:
        took = []
        for _ in range(3):
            start = time.perf_counter()
            assert column_kind("text", values.type, value_facts(values)) is ColumnKind.TEXT
            took.append(time.perf_counter() - start)
        return min(took)

    assert seconds(text) < 4 * seconds(text.slice(0, SAMPLE_ROWS))
