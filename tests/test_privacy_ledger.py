"""The privacy ledger: persistent, spent before release, never overspent by racing processes."""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path

import pyarrow as pa
import pytest
from sqlalchemy import text

import tillage
from tillage.errors import BudgetExhaustedError
from tillage.store.ledger import Ledger

POLICY = """
datasets:
  loans:
    budget: 1.0
    columns:
      income: {class: sensitive, bounds: [0, 100]}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    repo = tillage.init(tmp_path)
    repo.ingest(
        "loans",
        pa.table({"id": range(200), "income": [float(i % 90) for i in range(200)]}),
        key="id",
    )
    (repo.repo_dir / "policy.yaml").write_text(POLICY)
    repo.close()
    return tmp_path


def spends(path: Path) -> list[tuple[float, bool]]:
    with tillage.open(path) as repo, repo._storage.catalog.engine.connect() as conn:
        rows = conn.execute(text("SELECT epsilon, released FROM privacy_spends")).all()
    return [(float(e), bool(r)) for e, r in rows]


def test_an_overspend_is_refused_and_releases_nothing(project: Path) -> None:
    repo = tillage.open(project)
    repo.privacy.query("loans", "count", epsilon=0.6)
    with pytest.raises(BudgetExhaustedError) as e:
        repo.privacy.query("loans", "sum", "income", epsilon=0.5)
    assert "nothing was released" in str(e.value)
    assert repo.privacy.budget("loans").spent == pytest.approx(0.6)
    assert spends(project) == [(0.6, True)]


def test_the_ledger_checks_the_budget_itself_and_keeps_float_sums_exact_enough(
    project: Path,
) -> None:
    ledger = Ledger(tillage.open(project)._storage.catalog.engine)
    for _ in range(10):
        ledger.spend(
            lineage="l",
            unit="row",
            principal="p",
            dataset="loans",
            commit_id=None,
            epsilon=0.1,
            budget=1.0,
            query={},
        )
    with pytest.raises(BudgetExhaustedError):
        ledger.spend(
            lineage="l",
            unit="row",
            principal="p",
            dataset="loans",
            commit_id=None,
            epsilon=0.01,
            budget=1.0,
            query={},
        )
    assert ledger.state("l", "row", "p", 1.0).spent == pytest.approx(1.0)
    assert ledger.state("l", "row", "q", 1.0).spent == 0.0  # per principal
    assert len(ledger.spends("l", "p")) == 10


def test_a_new_repo_object_or_process_cannot_reset_the_budget(project: Path) -> None:
    tillage.open(project).privacy.query("loans", "count", epsilon=0.7)
    again = tillage.open(project)
    assert again.privacy.budget("loans").spent == pytest.approx(0.7)
    with pytest.raises(BudgetExhaustedError):
        again.privacy.query("loans", "count", epsilon=0.7)
    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        assert pool.apply(_query, (str(project), 0.7)) == "refused"
        assert pool.apply(_query, (str(project), 0.3)) == "answered"
    assert tillage.open(project).privacy.budget("loans").spent == pytest.approx(1.0)


def _query(path: str, epsilon: float) -> str:
    try:
        tillage.open(path).privacy.query("loans", "count", epsilon=epsilon)
    except BudgetExhaustedError:
        return "refused"
    return "answered"


def _race(path: str, start: mp.synchronize.Event, out: mp.Queue[list[str]]) -> None:
    tillage.open(path).close()  # imports done before the start, so both race
    start.wait()
    out.put([_query(path, 0.15) for _ in range(6)])


@pytest.mark.slow
def test_two_processes_racing_never_overspend(project: Path) -> None:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(str(project), start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    answered = sum(r.count("answered") for r in results)
    assert answered == 6  # 6 × 0.15 fits 1.0; a seventh does not
    assert sum(r.count("refused") for r in results) == 6
    spent = tillage.open(project).privacy.budget("loans").spent
    assert spent == pytest.approx(0.9) and spent <= 1.0
    assert sorted(spends(project)) == [(0.15, True)] * 6


def _spend_many(path: str, start: mp.synchronize.Event, out: mp.Queue[int]) -> None:
    from tillage.store.catalog import Catalog

    ledger = Ledger(Catalog.sqlite(Path(path) / ".tillage" / "catalog.db").engine)
    start.wait()
    done = 0
    for _ in range(40):
        try:
            ledger.spend(
                lineage="loans",
                unit="row",
                principal="p",
                dataset="loans",
                commit_id=None,
                epsilon=0.05,
                budget=1.0,
                query={},
            )
            done += 1
        except BudgetExhaustedError:
            pass
    out.put(done)


@pytest.mark.slow
def test_two_processes_spending_at_once_on_the_ledger_never_overspend(project: Path) -> None:
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_spend_many, args=(str(project), start, out)) for _ in range(2)]
    for p in procs:
        p.start()
    start.set()
    done = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sum(done) == 20  # 20 × 0.05 is the budget; the 40 others were refused
    ledger = Ledger(tillage.open(project)._storage.catalog.engine)
    assert len(ledger.spends("loans", "p")) == 20
    assert ledger.state("loans", "row", "p", 1.0).spent == pytest.approx(1.0)


def _killed_after_spending(path: str) -> None:
    import tillage.privacy.dp as dp

    def die(*args: object, **kwargs: object) -> None:
        os._exit(9)  # killed between the spend and the release

    dp.measure = die  # type: ignore[assignment]
    tillage.open(path).privacy.query("loans", "sum", "income", epsilon=0.4)


def test_a_process_killed_after_spending_keeps_its_spend(project: Path) -> None:
    ctx = mp.get_context("spawn")
    p = ctx.Process(target=_killed_after_spending, args=(str(project),))
    p.start()
    p.join(timeout=120)
    assert p.exitcode == 9
    assert spends(project) == [(0.4, False)]  # spent, never released
    assert tillage.open(project).privacy.budget("loans").left == pytest.approx(0.6)
