"""Labeling-function reports and slice metrics on private data, as DP answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import yaml
from scipy.stats import binom

import tillage
from cli_runner import cli, cli_json
from tillage.errors import BudgetExhaustedError, DPQueryError
from tillage.labels.functions import LFReport
from tillage.privacy.dp_reports import DPFunctionReport
from tillage.repo import Repo

N = 20_000
SECRET = "SECRETVALUE"  # in every text: must never appear in a DP answer
ID = "SENTINELID"  # in every record id
TAXONOMY = {"name": "topic", "versions": [{"classes": {"sport": "", "money": "", "other": ""}}]}
POLICY = """
principals:
  ana: [engineer]
datasets:
  notes:
    budget: {budget}
    privacy_unit: {unit}
    max_rows_per_unit: {max_rows}
    columns:
      region: {{class: quasi_identifier, categories: [north, south]}}
      amount: {{class: sensitive, bounds: [0, 100]}}
      secret_col: sensitive
      channel: public
"""

LFS = """
import tillage

@tillage.labeling_function()
def ball(r):
    return "sport" if "ball" in r["text"] else None

@tillage.labeling_function()
def cash(r):
    return "money" if "cash" in r["text"] else None

@tillage.labeling_function()
def goal(r):
    return "sport" if "goal" in r["text"] else ("money" if "bank" in r["text"] else None)
"""

WORDS = ["ball", "cash", "goal", "bank", "tea", "rain"]


def make_repo(
    tmp_path: Path, *, budget: float = 10.0, unit: str = "row", max_rows: int = 1
) -> Path:
    """A private dataset ``notes`` of generated texts, a label set over it with gold
    labels for a third of its records, and a file of three labeling functions."""
    rng = np.random.default_rng(11)
    words = rng.choice(WORDS, size=(N, 2))
    texts = [f"{a} {b} {SECRET}{i}" for i, (a, b) in enumerate(words.tolist())]
    table = pa.table(
        {
            "id": [f"{ID}{i:06d}" for i in range(N)],
            "text": texts,
            "region": rng.choice(["north", "south", "west"], N).tolist(),
            "amount": rng.uniform(0, 120, N),
            "secret_col": [f"{SECRET}-{i % 97}" for i in range(N)],
            "channel": rng.choice(["app", "web"], N).tolist(),
            "member": (np.arange(N) // 4).tolist(),  # four records per member
        }
    )
    # a true label the model gets wrong more often in the north (see `with_model`)
    region = np.asarray(table.column("region").to_pylist())
    flip = np.random.default_rng(5).random(N) < np.where(region == "north", 0.3, 0.1)
    y = np.where((table.column("amount").to_numpy() > 60) ^ flip, "hi", "lo")
    table = table.append_column("y", pa.array(y.tolist()))
    repo = tillage.init(tmp_path)
    repo.ingest("notes", table, key="id")
    (tmp_path / "taxonomies").mkdir()
    (tmp_path / "taxonomies" / "topic.yaml").write_text(yaml.safe_dump(TAXONOMY))
    repo.labels.create("topics", records="notes", taxonomy="topic")
    repo.labels.create("truth", records="notes", taxonomy="topic")
    gold_ids = list(range(0, N, 3))
    truth = [
        "sport"
        if "ball" in texts[i] or "goal" in texts[i]
        else "money"
        if "cash" in texts[i]
        else "other"
        for i in gold_ids
    ]
    repo.labels.add("truth", [f"{ID}{i:06d}" for i in gold_ids], truth, source="me")
    (repo.repo_dir / "policy.yaml").write_text(
        POLICY.format(budget=budget, unit=unit, max_rows=max_rows)
    )
    (tmp_path / "lfs.py").write_text(LFS)
    return tmp_path


def functions(project: Path) -> list[tillage.LabelingFunction]:
    return tillage.load_functions(str(project / "lfs.py"))


def spends(repo: Repo) -> list[Any]:
    from tillage.store.ledger import Ledger

    return Ledger(repo._storage.catalog.engine).spends("notes", repo.privacy.principal)


def test_a_person_gets_dp_answers_near_the_exact_report_and_pays_once(tmp_path: Path) -> None:
    project = make_repo(tmp_path)
    owner = tillage.open(project).at("main", principal="job:exact")
    exact = owner.labels.report_functions("topics", functions(project), gold="truth")
    assert not isinstance(exact, DPFunctionReport)
    truth: LFReport = exact.report

    ana = tillage.open(project).at("main", principal="ana")
    dp = ana.labels.report_functions("topics", functions(project), gold="truth", epsilon=1.0)
    assert isinstance(dp, DPFunctionReport)
    released = dp.released
    # 1 + 3 + 3 x 6 counts, each record adding at most one to each
    assert released.contributions == 22
    assert released.scale == pytest.approx(22 / 1.0)
    assert released.epsilon == 1.0 and released.spent == pytest.approx(1.0)
    assert released.left == pytest.approx(9.0) and released.void is False
    assert [s.epsilon for s in spends(ana)] == [1.0]
    assert all(s.released for s in spends(ana))

    # Each DP count is within its predicted 95% error of the exact count 95% of the
    # time; allow as many misses as a binomial(k, 5%) reaches with probability 1e-6.
    exact_counts = {"records": N}
    for j, lf in enumerate(truth.lfs):
        exact_counts[f"votes:{j}"] = lf.n_votes
        exact_counts[f"overlap:{j}"] = round(lf.overlap * N)
        exact_counts[f"conflict:{j}"] = round(lf.conflict * N)
        exact_counts[f"gold:{j}"] = lf.n_gold
        exact_counts[f"correct:{j}"] = round((lf.accuracy or 0.0) * lf.n_gold)
    misses = sum(abs(released.counts[k] - v) > released.error95 for k, v in exact_counts.items())
    assert misses <= binom.ppf(1 - 1e-6, len(exact_counts), 0.05)
    shares = [(dp[lf.name].coverage, lf.coverage) for lf in truth.lfs]
    shares += [(dp[lf.name].accuracy, lf.accuracy) for lf in truth.lfs]
    missed = sum(abs(v - want) > err for (v, err), want in shares)  # type: ignore[operator]
    assert missed <= binom.ppf(1 - 1e-6, len(shares), 0.05)

    text = json.dumps(dp.to_dict())
    assert SECRET not in text and ID not in text
    # the owner's exact path is the exact report, unchanged
    assert (
        exact.to_dict()
        == owner.labels.apply_functions(
            "topics", functions(project), gold="truth", write=False
        ).to_dict()
    )


def test_a_person_unit_keeps_at_most_its_rows_and_pays_for_them(tmp_path: Path) -> None:
    project = make_repo(tmp_path, unit="member", max_rows=2)
    ana = tillage.open(project).at("main", principal="ana")
    dp = ana.labels.report_functions("topics", functions(project), epsilon=1.0)
    assert isinstance(dp, DPFunctionReport)
    assert dp.released.contributions == 16 * 2  # 1 + 3 + 3 x 4 counts, two rows a member
    assert dp.released.unit == "member"
    # two of each member's four records are counted
    # Laplace tails are exponential: beyond 3 x the 95% error with probability 0.05^3
    assert abs(dp.records - N // 2) <= dp.released.error95 * 3


def test_a_report_over_budget_is_refused_and_releases_nothing(tmp_path: Path) -> None:
    project = make_repo(tmp_path, budget=1.5)
    ana = tillage.open(project).at("main", principal="ana")
    ana.labels.report_functions("topics", functions(project), epsilon=1.0)
    with pytest.raises(BudgetExhaustedError):
        ana.labels.report_functions("topics", functions(project), epsilon=1.0)
    assert [s.epsilon for s in spends(ana)] == [1.0]
    assert ana.privacy.budget("notes").spent == pytest.approx(1.0)


def test_a_dp_report_needs_a_positive_epsilon(tmp_path: Path) -> None:
    project = make_repo(tmp_path)
    ana = tillage.open(project).at("main", principal="ana")
    with pytest.raises(DPQueryError, match="--epsilon"):
        ana.labels.report_functions("topics", functions(project))
    with pytest.raises(DPQueryError, match="epsilon must be a finite number > 0"):
        ana.labels.report_functions("topics", functions(project), epsilon=0.0)
    assert spends(ana) == []


def test_the_cli_says_the_answers_are_dp_and_what_they_cost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_repo(tmp_path)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "ana")
    repo = ["--repo", str(project)]
    lfs = str(project / "lfs.py")
    doc = cli_json(*repo, "lf", "report", lfs, "topics", "--gold", "truth", "-e", "0.5")
    assert doc["dp"] is True and doc["epsilon"] == 0.5 and doc["left"] == pytest.approx(9.5)
    assert doc["void"] is False and [f["name"] for f in doc["lfs"]] == ["ball", "cash", "goal"]
    text = cli(*repo, "lf", "report", lfs, "topics", "-e", "0.5").stdout
    assert "DP answers" in text and "ε spent 0.5" in text and "left 9" in text
    assert "guarantee intact" in text
    assert SECRET not in text + json.dumps(doc) and ID not in text + json.dumps(doc)


def with_model(project: Path) -> dict[str, np.ndarray]:
    """Model ``m`` on ``notes``' ``amount`` predicting ``y`` (stored, by a job), with more
    errors in the north; returns the columns and whether it was wrong, per record."""
    from sklearn.linear_model import LogisticRegression

    job = tillage.open(project).at("main", principal="job:setup")
    t = job.read("notes", columns=["id", "region", "amount", "channel", "y"])
    amount = t.column("amount").to_numpy()
    region = np.asarray(t.column("region").to_pylist())
    y = np.asarray(t.column("y").to_pylist())
    fitted = LogisticRegression().fit(amount.reshape(-1, 1), amount > 60)
    fitted.classes_ = np.array(["lo", "hi"])
    job.models.record("m", "notes", model=fitted, features=["amount"])
    job.models.predict("m", "notes")
    predicted = np.where(fitted.predict_proba(amount.reshape(-1, 1))[:, 1] > 0.5, "hi", "lo")
    return {
        "region": region,
        "amount": amount,
        "channel": np.asarray(t.column("channel").to_pylist()),
        "wrong": predicted != y,
    }


def test_slice_metrics_are_dp_counts_at_public_values(tmp_path: Path) -> None:
    project = make_repo(tmp_path)
    data = with_model(project)
    ana = tillage.open(project).at("main", principal="ana")
    report = ana.models.slices(
        "m", "notes", label="y", columns=["region", "amount", "channel"], epsilon=1.0, limit=100
    )
    from tillage.privacy.dp_reports import DPSliceReport

    assert isinstance(report, DPSliceReport)
    released = report.released
    # region: north, south, other, missing; amount: 4 bins and missing; channel: app,
    # web, other, missing; each with records and errors; and the whole
    assert report.tried == 4 + 5 + 4
    assert released.contributions == 2 * (1 + 3)
    assert [s.epsilon for s in spends(ana)] == [1.0]
    wrong = data["wrong"]
    exact = {"all": (N, int(wrong.sum()))}
    for s in report.slices:
        if s.where.endswith("IS NULL"):
            mask = np.zeros(N, dtype=bool)
        elif s.column == "region" and s.where.startswith("NOT"):
            mask = data["region"] == "west"
        elif s.column in ("region", "channel"):
            mask = data[s.column] == s.where.split("'")[1]
        else:
            mask = np.ones(N, dtype=bool)
            for part in s.where.split(" AND "):
                op, edge = part.split()[1], float(part.split()[2])
                mask &= data["amount"] >= edge if op == ">=" else data["amount"] < edge
        exact[s.text] = (int(mask.sum()), int((mask & wrong).sum()))
    got = {"all": (report.records, report.errors)}
    got.update({s.text: (s.records, s.errors) for s in report.slices})
    assert set(got) == set(exact)
    pairs = [(got[k][i], exact[k][i]) for k in exact for i in (0, 1)]
    misses = sum(abs(a - b) > released.error95 for a, b in pairs)
    assert misses <= binom.ppf(1 - 1e-6, len(pairs), 0.05)
    north = next(s for s in report.slices if s.text == "region = north")
    assert north.error is not None and north.error95 is not None
    assert abs(north.error - exact["region = north"][1] / exact["region = north"][0]) <= max(
        north.error95, 0.05
    )
    text = json.dumps(report.to_dict())
    assert SECRET not in text and ID not in text


def test_slices_by_a_non_public_column_without_declared_values_are_refused(
    tmp_path: Path,
) -> None:
    project = make_repo(tmp_path)
    with_model(project)
    ana = tillage.open(project).at("main", principal="ana")
    with pytest.raises(DPQueryError, match=r"columns\.secret_col\.categories"):
        ana.models.slices("m", "notes", label="y", columns=["secret_col"], epsilon=1.0)
    with pytest.raises(DPQueryError, match="--epsilon"):
        ana.models.slices("m", "notes", label="y", columns=["region"])
    assert spends(ana) == []
    owner = tillage.open(project).at("main", principal="job:owner")
    exact = owner.models.slices("m", "notes", label="y", columns=["region", "amount"])
    assert not isinstance(exact, DPFunctionReport) and not exact.to_dict().get("dp")
