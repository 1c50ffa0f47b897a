"""An append costs what its batch costs: key checks use the key index, not a read of the table.

The key lookups must find every existing key whichever way they go (the index, the
rows no index covers yet, a filtered scan, a chunked join), for every key type. The
index thresholds are lowered here so that tables of a few hundred rows exercise them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import lance
import pyarrow as pa
import pytest
import sqlalchemy

import tillage
import tillage.store.tables as tables_mod
from tillage import Repo


@pytest.fixture
def small_index(monkeypatch: pytest.MonkeyPatch) -> None:
    """Index keys once 100 rows are left out of the index (instead of ~1M), and look
    keys up with a filter from 100 rows on (instead of ~131k)."""
    monkeypatch.setattr(tables_mod, "_INDEX_EVERY_ROWS", 100)
    monkeypatch.setattr(tables_mod, "_MIN_FILTER_ROWS", 100)


def batch(ids: list[int], key_type: pa.DataType | None = None) -> pa.Table:
    key_type = key_type or pa.int64()
    key = pa.array(ids, pa.int64())
    if pa.types.is_date32(key_type):
        key = key.cast(pa.int32())
    return pa.table({"id": key.cast(key_type), "v": [float(i) for i in ids]})


def key_indexes(repo: Repo, dataset: str = "t", ref: str | None = None) -> dict[str, Any]:
    """Key column -> (segments, rows indexed) of its BTREE index at ``ref``."""
    ds = repo._storage.tables.open(dataset, repo.datasets.pins(ref)[dataset])
    return {
        d.field_names[0]: (len(d.segments), d.num_rows_indexed)
        for d in ds.describe_indices()
        if d.index_type == "BTree"
    }


def test_key_index_is_built_and_extended_by_segments(tmp_path: Path, small_index: None) -> None:
    repo = tillage.init(tmp_path / "r")
    repo.ingest("t", batch(list(range(50))), key="id")
    assert key_indexes(repo) == {}  # small: scanning its keys is cheap
    repo.ingest("t", batch(list(range(50, 150))))
    assert key_indexes(repo) == {"id": (1, 150)}
    repo.ingest("t", batch(list(range(150, 200))))
    assert key_indexes(repo) == {"id": (1, 150)}  # 50 rows unindexed: below the threshold
    repo.ingest("t", batch(list(range(200, 260))))
    assert key_indexes(repo) == {"id": (2, 260)}  # a segment for the 110 new rows only
    # An overwrite drops Lance's indexes; the write builds one again.
    repo.ingest("t", batch(list(range(1000, 1200))), mode="overwrite")
    assert key_indexes(repo) == {"id": (1, 200)}


@pytest.mark.parametrize(
    "key_type",
    [
        pa.int64(),
        pa.string(),
        pa.timestamp("us", tz="UTC"),
        pa.date32(),
        # No Lance filter for these: the keys are joined chunk by chunk.
        pa.uint64(),
        pa.timestamp("ns"),
    ],
    ids=str,
)
def test_existing_keys_are_found_in_indexed_and_unindexed_rows(
    tmp_path: Path, small_index: None, key_type: pa.DataType
) -> None:
    repo = tillage.init(tmp_path / "r")
    repo.ingest("t", batch(list(range(150)), key_type), key="id")  # indexed (if it can be)
    repo.ingest("t", batch(list(range(150, 200)), key_type))  # not yet indexed
    before = repo.refs.commit()
    with pytest.raises(tillage.KeyViolationError, match="2 key\\(s\\) that already exist"):
        repo.ingest("t", batch([7, 180, 5000], key_type))
    assert repo.refs.commit() == before
    repo.ingest("t", batch([5000, 5001], key_type))
    assert repo.read("t").num_rows == 202


def test_composite_keys_match_whole_keys_only(tmp_path: Path, small_index: None) -> None:
    def rows(pairs: list[tuple[str, int]]) -> pa.Table:
        return pa.table({"day": [d for d, _ in pairs], "n": [n for _, n in pairs]})

    repo = tillage.init(tmp_path / "r")
    repo.ingest("t", rows([(f"d{i % 7}", i) for i in range(200)]), key=["day", "n"])
    assert set(key_indexes(repo)) == {"day", "n"}
    # Each column's value exists, but not together: new keys.
    repo.ingest("t", rows([("d0", 1), ("d1", 0)]))
    with pytest.raises(tillage.KeyViolationError, match="1 key\\(s\\)") as err:
        repo.ingest("t", rows([("d3", 3), ("d3", 4)]))
    assert err.value.examples == [{"day": "d3", "n": 3}]


def test_large_batches_are_checked_by_a_chunked_join(
    tmp_path: Path, small_index: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tables_mod, "_MAX_FILTER_KEYS", 10)
    monkeypatch.setattr(tables_mod, "_KEY_CHUNK_ROWS", 64)
    repo = tillage.init(tmp_path / "r")
    repo.ingest("t", batch(list(range(300))), key="id")
    with pytest.raises(tillage.KeyViolationError, match="3 key\\(s\\)") as err:
        repo.ingest("t", batch([10, 130, 299, *range(1000, 1050)]))
    assert sorted(err.value.examples) == [10, 130, 299]


def test_a_branch_sees_the_index_of_the_version_it_forked(
    tmp_path: Path, small_index: None
) -> None:
    repo = tillage.init(tmp_path / "r")
    repo.ingest("t", batch(list(range(150))), key="id")
    repo.create_branch("b")
    repo.ingest("t", batch(list(range(150, 300))), branch="b")
    assert key_indexes(repo, ref="b") == {"id": (2, 300)}
    assert key_indexes(repo) == {"id": (1, 150)}
    with pytest.raises(tillage.KeyViolationError):
        repo.ingest("t", batch([3, 200]), branch="b")
    repo.ingest("t", batch([200]))  # on main, 200 is new
    assert lance.dataset(repo._storage.tables.uri("t")).count_rows() == 151


_MEASURE = textwrap.dedent(
    """
    import json, sys, time
    import pyarrow as pa
    import tillage

    def peak_kib():
        # VmHWM: this process's own peak; ru_maxrss would include the parent's at fork.
        status = open("/proc/self/status").read()
        return int(status.split("VmHWM:")[1].split()[0])

    repo = tillage.open(sys.argv[1])
    start = int(sys.argv[2])
    batch = pa.table({"id": pa.array(range(start, start + 1000), pa.int64()),
                      "v": pa.array([1.0] * 1000)})
    t0 = time.perf_counter()
    repo.ingest("t", batch)
    seconds = time.perf_counter() - t0
    print(json.dumps({"peak_kib": peak_kib(), "seconds": seconds}))
    """
)


def _append_in_fresh_process(path: Path, start: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), str(start)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's VmHWM")
def test_appending_1000_rows_does_not_read_the_key_column(tmp_path: Path) -> None:
    """Peak memory of a 1,000-row append into 3M rows stays near that into 10k rows."""
    sizes = {"small": 10_000, "big": 3_000_000}
    peak = {}
    for name, n in sizes.items():
        repo = tillage.init(tmp_path / name)
        ids = pa.array(range(n), pa.int64())
        repo.ingest("t", pa.table({"id": ids, "v": pa.array([1.0] * n)}), key="id", check=False)
        repo.close()
        peak[name] = _append_in_fresh_process(tmp_path / name, n)["peak_kib"]
    # Reading 3M int64 keys and hashing them takes well over 64 MiB.
    assert peak["big"] - peak["small"] < 64 * 1024, peak


def test_key_index_files_are_checksummed_and_checked(tmp_path: Path, small_index: None) -> None:
    """An index decides which appended keys are refused: its files are checked like data."""
    from tillage.store.integrity import FileChecksumRow

    repo = tillage.init(tmp_path / "r")
    repo.ingest("t", batch(list(range(150))), key="id")
    index_files = sorted((tmp_path / "r" / ".tillage" / "tables" / "t.lance").glob("_indices/*/*"))
    assert index_files
    with repo._storage.catalog.engine.connect() as conn:
        recorded = {r.path for r in conn.execute(sqlalchemy.select(FileChecksumRow.__table__))}
    assert {f"_indices/{p.parent.name}/{p.name}" for p in index_files} <= recorded
    assert repo.datasets.verify(deep=True).ok
    victim = index_files[0]
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    report = repo.datasets.verify(deep=True)
    assert not report.ok
    assert any(victim.name in str(p.file) for p in report.problems)
    repo.close()
    with (
        tillage.open(tmp_path / "r") as again,
        pytest.raises(tillage.CorruptDataError, match=victim.name),
    ):
        again.ingest("t", batch([150]))
