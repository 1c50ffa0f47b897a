"""DP queries through OpenDP: answers, previews, public bounds and categories, the read path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opendp.prelude as dp
import pyarrow as pa
import pytest
from sqlalchemy import text

import tillage
from cli_runner import cli, cli_json
from tillage.access import Purpose
from tillage.errors import BudgetExhaustedError, DPQueryError, NoBudgetError
from tillage.repo import Repo

POLICY = """
principals:
  ana: [engineer]
datasets:
  loans:
    budget: {budget}
    min_group_size: 5
    privacy_unit: {unit}
    max_rows_per_unit: {max_rows}
    columns:
      state: {{class: quasi_identifier, categories: [CA, NY, TX]}}
      income: {{class: sensitive, bounds: [0, 100000]}}
"""

N = 3000


def make_repo(
    tmp_path: Path, *, budget: float = 1000.0, unit: str = "row", max_rows: int = 1
) -> tuple[Repo, pa.Table]:
    rng = np.random.default_rng(7)
    table = pa.table(
        {
            "id": np.arange(N),
            "member": np.arange(N) // 3,  # three rows per member
            "state": rng.choice(["CA", "NY", "TX", "WA"], N, p=[0.4, 0.3, 0.2, 0.1]).tolist(),
            "income": rng.lognormal(10.8, 0.6, N),
            "grade": rng.choice(["A", "B"], N).tolist(),
        }
    )
    repo = tillage.init(tmp_path)
    repo.ingest("loans", table, key="id")
    policy = POLICY.format(budget=budget, unit=unit, max_rows=max_rows)
    (repo.repo_dir / "policy.yaml").write_text(policy)
    return tillage.open(tmp_path).at("main", principal="ana"), table


def test_answers_are_near_the_truth_and_say_their_mechanism_and_cost(tmp_path: Path) -> None:
    repo, table = make_repo(tmp_path)
    income = table.column("income").to_numpy()
    count = repo.privacy.query("loans", "count", epsilon=50.0)
    assert abs(count.value - N) <= 5
    assert count.mechanisms[0].mechanism == "discrete Laplace"
    assert count.mechanisms[0].scale == pytest.approx(1 / 50.0)
    assert count.epsilon == 50.0 and count.spent == 50.0 and count.left == 950.0
    assert count.void is False and count.principal == "ana"

    hist = repo.privacy.query("loans", "count", by="state", epsilon=50.0)
    assert hist.kind == "histogram" and hist.categories_from == "policy"
    states = table.column("state").to_pylist()
    for s in ("CA", "NY", "TX"):
        assert abs(hist.value[s] - states.count(s)) <= 5
    assert abs(hist.value["(other)"] - states.count("WA")) <= 5

    clamped = np.clip(income, 0, 100_000)
    total = repo.privacy.query("loans", "sum", "income", epsilon=50.0)
    assert total.bounds == (0.0, 100_000.0) and total.bounds_from == "policy"
    assert total.mechanisms[0].mechanism == "Laplace (float-safe)"
    assert abs(total.value - clamped.sum()) < 30 * total.mechanisms[0].scale
    mean = repo.privacy.query("loans", "mean", "income", epsilon=100.0)
    assert [m.epsilon for m in mean.mechanisms] == [50.0, 50.0]
    assert abs(mean.value - clamped.mean()) < 0.02 * clamped.mean()
    median = repo.privacy.query("loans", "quantile", "income", epsilon=50.0, alpha=0.5)
    assert abs(median.value - np.median(clamped)) <= 2_000  # one grid step is 1,000
    assert repo.privacy.budget("loans").spent == pytest.approx(300.0)


def test_a_preview_spends_nothing_and_shows_the_noise_and_the_clamping_bias(
    tmp_path: Path,
) -> None:
    repo, table = make_repo(tmp_path)
    income = table.column("income").to_numpy()
    p = repo.privacy.query("loans", "mean", "income", epsilon=1.0, preview=True)
    assert p.preview and p.value is None and p.epsilon == 0.0
    assert repo.privacy.budget("loans").spent == 0.0
    assert (
        repo._storage.catalog.engine.connect()
        .execute(text("SELECT count(*) FROM privacy_spends"))
        .scalar_one()
        == 0
    )
    assert p.clamping is not None and not p.clamping.suppressed
    assert p.clamping.above == int((income > 100_000).sum()) > 5
    assert p.clamping.bias == pytest.approx(np.clip(income, 0, 100_000).mean() - income.mean())
    sum_scale = p.mechanisms[0].scale
    assert p.error95 is not None and p.error95 > dp.laplacian_scale_to_accuracy(sum_scale, 0.05) / N

    s = repo.privacy.query("loans", "sum", "income", epsilon=1.0, preview=True)
    assert s.clamping is not None
    assert s.clamping.bias == pytest.approx((np.clip(income, 0, 100_000) - income).sum())
    assert s.error95 == pytest.approx(dp.laplacian_scale_to_accuracy(s.mechanisms[0].scale, 0.05))
    c = repo.privacy.query("loans", "count", epsilon=0.5, preview=True)
    assert c.error95 == pytest.approx(dp.discrete_laplacian_scale_to_accuracy(2.0, 0.05))


def test_the_bias_of_a_few_clamped_rows_is_suppressed(tmp_path: Path) -> None:
    repo, table = make_repo(tmp_path)
    income = table.column("income").to_numpy()
    hi = float(np.sort(income)[-3])  # two rows above: fewer than the group size of 5
    p = repo.privacy.query("loans", "sum", "income", epsilon=1.0, bounds=(0, hi), preview=True)
    assert p.bounds_from == "argument"
    assert p.clamping is not None and p.clamping.suppressed
    assert p.clamping.bias is None and p.clamping.above is None


@pytest.mark.parametrize("epsilon", [0, -1.0, float("nan"), float("inf"), "1", True, None])
def test_epsilon_must_be_a_positive_number(tmp_path: Path, epsilon: object) -> None:
    repo, _ = make_repo(tmp_path)
    with pytest.raises(DPQueryError, match="epsilon must be a finite number > 0"):
        repo.privacy.query("loans", "count", epsilon=epsilon)  # type: ignore[arg-type]
    assert repo.privacy.budget("loans").spent == 0.0


def test_numeric_queries_need_public_bounds_and_histograms_public_categories(
    tmp_path: Path,
) -> None:
    repo, _ = make_repo(tmp_path)
    with pytest.raises(
        DPQueryError, match=r"needs clamp bounds.*--bounds LO,HI.*columns.id.bounds"
    ):
        repo.privacy.query("loans", "mean", "id", epsilon=1.0)
    with pytest.raises(DPQueryError, match=r"needs its categories.*--categories"):
        repo.privacy.query("loans", "histogram", by="grade", epsilon=1.0)
    with pytest.raises(DPQueryError, match="two finite numbers"):
        repo.privacy.query("loans", "sum", "income", epsilon=1.0, bounds=(5, 1))
    with pytest.raises(DPQueryError, match="not numeric"):
        repo.privacy.query("loans", "sum", "grade", epsilon=1.0, bounds=(0, 1))
    with pytest.raises(DPQueryError, match="no column 'nope'"):
        repo.privacy.query("loans", "sum", "nope", epsilon=1.0, bounds=(0, 1))
    with pytest.raises(DPQueryError, match="unknown DP query kind"):
        repo.privacy.query("loans", "max", "income", epsilon=1.0)
    hist = repo.privacy.query("loans", "histogram", by="grade", categories=["A", "B"], epsilon=50.0)
    assert hist.categories_from == "argument" and set(hist.value) == {"A", "B", "(other)"}
    assert repo.privacy.budget("loans").spent == 50.0


def test_bounds_can_be_paid_for_with_a_dp_estimate(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    a = repo.privacy.query("loans", "mean", "id", epsilon=40.0, bounds="estimate")
    assert a.bounds_from == "estimate" and a.bounds is not None
    assert a.bounds[0] <= np.quantile(np.arange(N), 0.05)
    assert a.bounds[1] >= np.quantile(np.arange(N), 0.9)
    assert a.epsilon == 40.0 and sum(m.epsilon for m in a.mechanisms) == pytest.approx(40.0)
    assert a.mechanisms[-1].mechanism == "private quantile (bounds estimate)"
    assert a.mechanisms[-1].epsilon == 10.0 and a.mechanisms[-1].value == list(a.bounds)
    with pytest.raises(DPQueryError, match="cannot estimate bounds"):
        repo.privacy.query("loans", "mean", "id", epsilon=1.0, bounds="estimate", preview=True)


def test_each_unit_contributes_at_most_its_rows(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path, unit="member", max_rows=1)
    count = repo.privacy.query("loans", "count", epsilon=50.0)
    assert abs(count.value - N // 3) <= 5  # one row of each member's three
    assert count.unit == "member"
    repo2, _ = make_repo(tmp_path / "two", unit="member", max_rows=2)
    count2 = repo2.privacy.query("loans", "count", epsilon=50.0)
    assert abs(count2.value - 2 * N // 3) <= 10
    assert count2.mechanisms[0].scale == pytest.approx(2 / 50.0)


def test_dp_queries_read_through_the_read_path_for_aggregates(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    before = len(repo._storage.access_log.events)
    repo.privacy.query("loans", "sum", "income", epsilon=1.0)
    events = repo._storage.access_log.events[before:]
    assert [(e.purpose, e.dataset, e.principal) for e in events] == [
        (Purpose.AGGREGATE, "loans", "ana")
    ]
    assert events[0].columns == ("income",)


def test_no_budget_no_queries_and_an_overspend_is_refused(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path, budget=1.0)
    repo.ingest("other", pa.table({"id": [1, 2]}), key="id")
    with pytest.raises(NoBudgetError, match=r"datasets.other.budget"):
        repo.privacy.query("other", "count", epsilon=1.0)
    repo.privacy.query("loans", "count", epsilon=0.75)
    with pytest.raises(BudgetExhaustedError, match=r"only ε=0.25 is left"):
        repo.privacy.query("loans", "count", epsilon=0.5)
    preview = repo.privacy.query("loans", "count", epsilon=0.5, preview=True)
    assert preview.left == pytest.approx(0.25)


def test_an_answer_says_when_a_grant_made_the_guarantee_void(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    assert repo.privacy.query("loans", "count", epsilon=1.0).void is False
    with repo._storage.catalog.engine.begin() as conn:
        conn.execute(text("UPDATE privacy_budget SET void = 1 WHERE principal = 'ana'"))
    assert repo.privacy.query("loans", "count", epsilon=1.0).void is True
    assert repo.privacy.budget("loans").void is True


def small_groups_table() -> pa.Table:
    # CA: 12 rows, NY: 6, TX: 3, WA: 2 (group size 5: TX and WA are suppressed)
    states = ["CA"] * 12 + ["NY"] * 6 + ["TX"] * 3 + ["WA"] * 2
    return pa.table(
        {
            "id": range(len(states)),
            "member": [i // 2 for i in range(len(states))],
            "state": states,
            "income": [float(1000 * i) for i in range(len(states))],
        }
    )


def test_an_aggregate_shows_groups_at_least_the_minimum_size_and_reports_the_rest(
    tmp_path: Path,
) -> None:
    repo, _ = make_repo(tmp_path)
    repo.ingest("small", small_groups_table(), key="id")
    (repo.repo_dir / "policy.yaml").write_text("datasets: {small: {min_group_size: 5}, loans: {}}")
    view = (
        tillage.open(tmp_path)
        .at("main", principal="ana")
        .privacy.aggregate(
            "small", by=["state"], measures={"count": None, "sum": "income", "mean": "income"}
        )
    )
    assert [g["state"] for g in view.groups] == ["CA", "NY"]
    ca = view.groups[0]
    assert ca["count"] == 12 and ca["sum_income"] == sum(1000.0 * i for i in range(12))
    assert ca["mean_income"] == pytest.approx(5500.0)
    assert view.suppressed_groups == 2 and view.suppressed_rows == 5  # 3 + 2 >= 5: shown
    assert view.to_dict()["groups"][1] == {
        "state": "NY",
        "count": 6,
        "sum_income": 87000.0,
        "mean_income": 14500.0,
    }


def test_the_rows_of_suppressed_groups_are_hidden_when_they_are_few(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    repo.ingest("small", small_groups_table(), key="id")
    (repo.repo_dir / "policy.yaml").write_text(
        "datasets: {small: {min_group_size: 4, privacy_unit: member, max_rows_per_unit: 2}}"
    )
    view = tillage.open(tmp_path).privacy.aggregate("small", by=["state"])
    # in members (two rows each): CA 6, NY 3, TX 2, WA 2
    assert [g["state"] for g in view.groups] == ["CA"]
    assert view.suppressed_groups == 3 and view.suppressed_rows == 11
    whole = tillage.open(tmp_path).privacy.aggregate("small", measures={"mean": "income"})
    assert whole.groups == [{"count": 23, "mean_income": pytest.approx(11000.0)}]
    (repo.repo_dir / "policy.yaml").write_text("datasets: {small: {min_group_size: 3}}")
    three = tillage.open(tmp_path).privacy.aggregate("small", by=["state"])
    assert three.suppressed_groups == 1 and three.suppressed_rows is None  # WA's 2 rows


def test_aggregate_input_is_checked(tmp_path: Path) -> None:
    repo, _ = make_repo(tmp_path)
    with pytest.raises(tillage.InputError, match="unknown aggregate measure 'max'"):
        repo.privacy.aggregate("loans", by=["state"], measures={"max": "income"})
    with pytest.raises(tillage.InputError, match="unknown column"):
        repo.privacy.aggregate("loans", by=["nope"])
    with pytest.raises(tillage.InputError, match="not numeric"):
        repo.privacy.aggregate("loans", by=["state"], measures={"sum": "grade"})


def test_the_cli_answers_previews_aggregates_and_budgets_in_text_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_repo(tmp_path, budget=3.0)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "ana")
    repo = ["--repo", str(tmp_path)]
    preview = cli_json(*repo, "privacy", "query", "loans", "mean", "income", "-e", "1", "--preview")
    assert preview["preview"] is True and preview["value"] is None and preview["spent"] == 0
    assert preview["clamping"]["above"] > 0 and preview["clamping"]["bias"] < 0
    assert [m["mechanism"] for m in preview["mechanisms"]] == [
        "Laplace (float-safe)",
        "discrete Laplace",
    ]
    text = cli(*repo, "privacy", "query", "loans", "sum", "income", "-e", "1", "--preview").stdout
    assert "nothing spent" in text and "clamping bias" in text and "× the noise" in text
    answer = cli_json(*repo, "privacy", "query", "loans", "count", "--by", "state", "-e", "1")
    assert set(answer["value"]) == {"CA", "NY", "TX", "(other)"}
    assert answer["epsilon"] == 1.0 and answer["left"] == 2.0 and answer["void"] is False
    assert answer["principal"] == "ana"
    text = cli(*repo, "privacy", "query", "loans", "quantile", "income", "-e", "1").stdout
    assert "DP 0.5 quantile of income" in text and "left 1" in text and "intact" in text
    budget = cli_json(*repo, "privacy", "budget", "loans")
    assert budget["spent"] == 2.0 and budget["left"] == 1.0 and budget["void"] is False
    assert "spent ε=2 of ε=3" in cli(*repo, "privacy", "budget", "loans").stdout
    view = cli_json(*repo, "privacy", "aggregate", "loans", "--by", "state", "--mean", "income")
    assert [g["state"] for g in view["groups"]] == ["CA", "NY", "TX", "WA"]
    assert view["suppressed_groups"] == 0
    text = cli(*repo, "privacy", "aggregate", "loans", "--by", "id").stdout
    assert "3,000 group(s) below 5 rows suppressed (3,000 row(s))" in text
