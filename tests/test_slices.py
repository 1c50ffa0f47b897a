"""Error analysis: planted slices are found and ranked first; uniform error finds nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from tillage import Repo
from tillage.errors import InputError
from tillage.selection.slices import SliceReport, find_error_slices

CARRIERS = ["AA", "UA", "DL", "EV", "B6", "WN"]


def flights(seed: int, n: int = 6000) -> pa.Table:
    """Flights-like records: a carrier, a departure time, a distance, an id and rare origins."""
    rng = np.random.default_rng(seed)
    origin = rng.choice(["JFK", "LGA", "EWR"], size=n).astype(object)
    rare = rng.choice(n, size=40, replace=False)  # rare: pooled, not slices alone
    origin[rare[:20]], origin[rare[20:]] = "ISP", "HPN"
    return pa.table(
        {
            "id": np.arange(n),
            "carrier": rng.choice(CARRIERS, size=n),
            "dep_time": rng.integers(0, 2400, size=n),
            "distance": rng.lognormal(6.5, 0.6, size=n),
            "origin": origin.tolist(),
        }
    )


def planted(table: pa.Table, seed: int, base: float, high: float) -> np.ndarray:
    """Per record, whether the model was right: error ``high`` on EV after 18:00, else ``base``."""
    rng = np.random.default_rng(seed + 1000)
    carrier = np.array(table.column("carrier").to_pylist())
    dep = table.column("dep_time").to_numpy()
    bad = (carrier == "EV") & (dep >= 1800)
    error = np.where(bad, high, base)
    correct: np.ndarray = rng.random(table.num_rows) >= error
    return correct


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_planted_slice_is_found_and_ranked_first(seed: int) -> None:
    table = flights(seed)
    report = find_error_slices(table, planted(table, seed, base=0.15, high=0.45))
    assert report.slices, report.to_dict()
    top = report.slices[0]
    assert {c.text for c in top.conditions} == {"carrier = EV", "dep_time >= 1800"}
    assert top.where in (
        "(carrier = 'EV') AND (dep_time >= 1800)",
        "(dep_time >= 1800) AND (carrier = 'EV')",
    )
    assert top.low < top.error < top.high
    assert top.low > report.error  # the interval clears the overall error
    assert top.adjusted_p <= report.alpha
    assert top.sentence.startswith(f"{top.conditions[0].text} and {top.conditions[1].text}: ")
    assert f"vs {report.error:.2f} overall, {top.records:,} records" in top.sentence
    impacts = [s.impact for s in report.slices]
    assert impacts == sorted(impacts, reverse=True)
    # The identifier is not sliced, and says why.
    assert "id" in report.skipped and "id" not in report.columns
    # Every slice reported involves the planted region (nothing else has excess error).
    for s in report.slices:
        assert set(s.columns) & {"carrier", "dep_time"}, s.sentence


@pytest.mark.parametrize("seed", range(10))
def test_uniform_error_finds_nothing(seed: int) -> None:
    table = flights(seed, n=4000)
    rng = np.random.default_rng(seed + 1000)  # independent of the table's draws
    report = find_error_slices(table, rng.random(table.num_rows) >= 0.2)
    assert report.tried > 100
    assert report.slices == (), [s.sentence for s in report.slices]


def test_where_reads_exactly_the_slice_from_a_repository(tmp_path: Path) -> None:
    table = flights(4, n=3000)
    report = find_error_slices(table, planted(table, 4, base=0.1, high=0.5))
    repo = Repo.init(tmp_path / "r")
    repo.ingest("flights", table, key="id")
    assert report.slices
    for s in report.slices:
        got = repo.read("flights", where=s.where)
        assert got.num_rows == s.records, s.where


def test_labels_instead_of_correctness_and_the_rare_values_pooled() -> None:
    table = flights(5, n=3000)
    origin = np.array(table.column("origin").to_pylist())
    y_true = np.array(["late"] * table.num_rows, dtype=object)
    y_pred = y_true.copy()
    rng = np.random.default_rng(1005)
    # Rare origins are always wrong; elsewhere 10% are.
    y_pred[np.isin(origin, ["ISP", "HPN"]) | (rng.random(table.num_rows) < 0.1)] = "on time"
    report = find_error_slices(table, y_true=y_true, y_pred=y_pred, pairs=False)
    pooled = [s for s in report.slices if s.where == "origin IN ('HPN', 'ISP')"]
    assert pooled and pooled[0].error == 1.0
    assert "rare values" in pooled[0].sentence


def test_missing_values_are_a_slice_and_odd_names_are_quoted() -> None:
    rng = np.random.default_rng(6)
    n = 2000
    speed = rng.normal(100, 10, size=n)
    missing = rng.random(n) < 0.1
    table = pa.table({"air speed": pa.array(np.where(missing, np.nan, speed), from_pandas=True)})
    correct = ~(missing & (rng.random(n) < 0.6)) & (rng.random(n) >= 0.1)
    report = find_error_slices(table, correct)
    assert report.slices[0].where == "`air speed` IS NULL"
    assert report.slices[0].sentence.startswith("air speed is missing: ")


def test_numeric_edges_are_readable() -> None:
    rng = np.random.default_rng(7)
    table = pa.table({"dep_delay": rng.normal(13.37, 40.1, size=5000)})
    report = find_error_slices(table, rng.random(5000) >= 0.2, alpha=1.0 - 1e-9, limit=100)
    for s in report.slices:
        for c in s.conditions:
            numbers = [w for w in c.text.replace("<=", " ").split() if w[-1].isdigit()]
            assert all(len(w.lstrip("-").replace(".", "").strip("0")) <= 2 for w in numbers), c


def test_bad_input_is_a_clear_error() -> None:
    table = flights(8, n=100)
    with pytest.raises(InputError, match="correct="):
        find_error_slices(table)
    with pytest.raises(InputError, match="100 records but correctness is given for 99"):
        find_error_slices(table, np.ones(99, dtype=bool))
    with pytest.raises(InputError, match=r"no column.*'carier'.*columns: id, carrier"):
        find_error_slices(table, np.ones(100, dtype=bool), columns=["carier"])
    with pytest.raises(InputError, match="True \\(right\\) or False"):
        find_error_slices(table, np.ones(100))
    with pytest.raises(InputError, match="y_true has 100 values and y_pred 3"):
        find_error_slices(table, y_true=[1] * 100, y_pred=[1, 2, 3])


def test_report_as_json_values() -> None:
    import json

    table = flights(9, n=3000)
    report = find_error_slices(table, planted(table, 9, base=0.1, high=0.5))
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["slices"][0]["where"] == report.slices[0].where
    assert doc["records"] == 3000 and doc["tried"] == report.tried


def readme_block() -> str:
    """The fenced Python block of the README's section on where the model fails."""
    import re

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    start = text.index("\n## Where the model fails, and which records matter\n")
    end = text.find("\n## ", start + 1)
    blocks: list[str] = re.findall(r"```python\n(.*?)```", text[start:end], flags=re.S)
    [code] = blocks
    return code


def test_the_readme_section_runs_as_written(nycflights_table: pa.Table, tmp_path: Path) -> None:
    import pyarrow.compute as pc
    from sklearn.linear_model import LogisticRegression

    jan = nycflights_table.filter(pc.equal(nycflights_table.column("month"), 1))
    flights = jan.select(["rownames", "carrier", "origin", "dep_time", "distance", "hour"])
    late = pc.fill_null(pc.greater(jan.column("arr_delay"), 15), False).to_numpy(
        zero_copy_only=False
    )
    predicted = pc.fill_null(pc.greater(jan.column("dep_delay"), 15), False).to_numpy(
        zero_copy_only=False
    )
    repo = Repo.init(tmp_path / "r")
    repo.ingest("flights", flights, key="rownames")
    numbers = np.column_stack(
        [
            np.nan_to_num(jan.column(c).to_numpy(zero_copy_only=False).astype(float))
            for c in ("dep_time", "distance", "hour", "dep_delay")
        ]
    )
    numbers = (numbers - numbers.mean(axis=0)) / numbers.std(axis=0)
    train_vectors, train_labels = numbers[:2000], late[:2000]
    valid_vectors, valid_labels = numbers[2000:3000], late[2000:3000]

    def train_and_evaluate(kept: np.ndarray) -> float:
        model = LogisticRegression().fit(train_vectors[kept], train_labels[kept])
        return float(model.score(numbers[3000:5000], late[3000:5000]))

    scope: dict[str, object] = {
        "repo": repo,
        "flights": flights,
        "late": late,
        "predicted": predicted,
        "train_vectors": train_vectors,
        "train_labels": train_labels,
        "valid_vectors": valid_vectors,
        "valid_labels": valid_labels,
        "train_and_evaluate": train_and_evaluate,
    }
    exec(compile(readme_block(), "README.md", "exec"), scope)
    report = scope["report"]
    assert isinstance(report, SliceReport) and report.slices
    worst = scope["worst"]
    assert isinstance(worst, pa.Table) and worst.num_rows == report.slices[0].records


def test_counting_in_small_blocks_gives_the_same_report(monkeypatch: pytest.MonkeyPatch) -> None:
    from tillage.selection import slices

    table = flights(10, n=3000)
    correct = planted(table, 10, base=0.15, high=0.45)
    whole = find_error_slices(table, correct).to_dict()
    monkeypatch.setattr(slices, "BLOCK_VALUES", 1000)  # blocks of a few rows
    assert find_error_slices(table, correct).to_dict() == whole


def test_bool_and_dictionary_columns_read_back_from_a_repository(tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    n = 3000
    weekend = rng.random(n) < 0.3
    cabin = rng.choice(["economy", "business", "first's"], size=n)
    table = pa.table(
        {
            "id": np.arange(n),
            "weekend": weekend,
            "cabin": pa.array(cabin).dictionary_encode(),
        }
    )
    error = np.where(weekend, 0.4, 0.1) + np.where(cabin == "first's", 0.3, 0.0)
    correct = rng.random(n) >= error
    report = find_error_slices(table, correct)
    wheres = {s.where for s in report.slices}
    assert {"weekend = TRUE", "cabin = 'first''s'"} <= wheres  # quotes doubled in a literal
    repo = Repo.init(tmp_path / "r")
    repo.ingest("trips", table, key="id")
    for s in report.slices:
        assert repo.read("trips", where=s.where).num_rows == s.records, s.where
