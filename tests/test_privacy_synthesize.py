"""Synthetic proxies: DP synthesis from public facts, its fidelity gate, and its lineage."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

import tillage
from tillage import Repo
from tillage.access import Purpose
from tillage.core.policy import Policy
from tillage.errors import (
    InvalidNameError,
    NoSuchDatasetError,
    PrivacyParameterError,
    SynthesisDomainError,
    SyntheticFidelityError,
)
from tillage.privacy.synthesize import bound_contributions, plan_columns, rho_for
from tillage.selection.fidelity import fidelity_gate

POLICY = """
datasets:
  people:
    budget: 2.5
    columns:
      email: direct_identifier
      region: {class: quasi_identifier, categories: [north, south, east]}
      income: {class: sensitive, bounds: [0, 150]}
      age: {class: quasi_identifier, bounds: [18, 80]}
"""


def people(n: int = 3000, seed: int = 1) -> pa.Table:
    """Rows whose columns depend on each other: income on region, ownership on income."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2])
    income = np.where(region == "north", rng.normal(80, 10, n), rng.normal(40, 10, n))
    return pa.table(
        {
            "id": np.arange(n),
            "email": [f"user{i}@example.org" for i in range(n)],
            "region": region,
            "income": income,
            "owner": income + rng.normal(0, 5, n) > 60,
            "age": rng.integers(18, 70, n),
        }
    )


def private_repo(path: Path) -> Repo:
    repo = tillage.init(path)
    repo.datasets.ingest("people", people(), key="id")
    (repo.repo_dir / "policy.yaml").write_text(POLICY)
    return tillage.open(path)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Repo, tillage.Commit, object]:
    repo = private_repo(tmp_path_factory.mktemp("synth"))
    steps: list[str] = []
    proxy = repo.privacy.synthesize("people", 1.0, seed=3, progress=steps.append)
    assert steps[0] == "measuring 1-way marginals" and steps[-1] == "scoring fidelity"
    commit = repo.refs.find_commit(None)
    assert commit is not None
    return repo, commit, proxy


def test_a_proxy_keeps_the_relations_between_columns(synthesized: tuple) -> None:
    repo, _, proxy = synthesized
    two = proxy.fidelity["two_way"]
    one = proxy.fidelity["one_way"]
    # the independent columns lose income ~ region and owner ~ income; MST keeps them
    assert two["floor"] <= two["score"] < two["baseline"]
    assert one["floor"] is not None and one["score"] < 0.1
    table = repo.datasets.read("people_synthetic")
    assert abs(table.num_rows - 3000) < 200  # a noisy count, not the real one
    north = pc.equal(table["region"], "north")
    mean = pc.mean(table.filter(north)["income"]).as_py()
    rest = pc.mean(table.filter(pc.invert(north))["income"]).as_py()
    assert mean - rest > 25  # real: 80 against 40


def test_a_proxy_drops_direct_identifiers_and_keeps_to_public_facts(synthesized: tuple) -> None:
    repo, _, proxy = synthesized
    table = repo.datasets.read("people_synthetic")
    assert table.column_names == ["id", "region", "income", "owner", "age"]
    assert proxy.dropped == {"email": "direct identifier: never synthesized"}
    assert table["id"].to_pylist() == list(range(table.num_rows))  # regenerated
    assert set(pc.unique(table["region"]).to_pylist()) <= {"north", "south", "east", None}
    assert pc.min(table["income"]).as_py() >= 0 and pc.max(table["income"]).as_py() <= 150
    assert table.schema.field("age").type == pa.int64()
    assert pc.min(table["age"]).as_py() >= 18 and pc.max(table["age"]).as_py() <= 80


def test_a_proxy_commit_carries_its_epsilon_and_lineage(synthesized: tuple) -> None:
    repo, commit, proxy = synthesized
    source = repo.refs.find_commit(proxy.source_commit)
    assert source is not None and "people" in source.pins
    record = commit.changes["people_synthetic"]["synthetic"]
    assert record["source"] == "people" and record["source_commit"] == proxy.source_commit
    assert record["epsilon"] == 1.0 and record["delta"] == 1e-9
    assert 0 < record["rho"] <= rho_for(1.0, 1e-9) * (1 + 1e-9)
    assert record["settings"]["synthesizer"] == "mst"
    assert record["settings"]["bins"]["income"] == {"bounds": [0.0, 150.0], "bins": 10}
    assert len(record["settings"]["tree"]) == 3  # a spanning tree of 4 columns
    assert set(record["fidelity"]["two_way"]) == {"score", "baseline", "floor", "passed"}
    assert proxy.commit == commit.id


def test_the_real_rows_are_read_once_for_an_aggregate(synthesized: tuple) -> None:
    repo, _, proxy = synthesized
    reads = [e for e in repo.access_log.events if e.purpose is Purpose.AGGREGATE]
    assert len(reads) == 1
    assert reads[0].dataset == "people" and reads[0].commit == proxy.source_commit
    assert reads[0].columns == ("id", "region", "income", "owner", "age")  # never the email


def test_bad_parameters_read_nothing(tmp_path: Path) -> None:
    repo = private_repo(tmp_path)
    with pytest.raises(PrivacyParameterError):
        repo.privacy.synthesize("people", 0)
    assert not [e for e in repo.access_log.events if e.purpose is Purpose.AGGREGATE]


@pytest.mark.slow
def test_a_proxy_worse_than_independent_columns_is_refused(tmp_path: Path) -> None:
    repo = private_repo(tmp_path)
    before = repo.refs.find_commit(None)
    # at this epsilon the noise swamps every marginal of 3,000 rows
    with pytest.raises(SyntheticFidelityError) as refused:
        repo.privacy.synthesize("people", 0.001, rows=3000)
    e = refused.value
    assert e.score > e.baseline and e.floor < e.baseline
    assert f"{e.score:.3f}" in str(e) and f"{e.floor:.3f}" in str(e)
    assert "Nothing was written" in str(e)
    after = repo.refs.find_commit(None)
    assert before is not None and after is not None and after.id == before.id
    assert "people_synthetic" not in repo.datasets.pins()
    assert repo.privacy.budget("people").spent == pytest.approx(0.001)  # spent before reading


def test_a_proxy_spends_from_the_ledger_and_none_is_made_past_the_budget(tmp_path: Path) -> None:
    repo = private_repo(tmp_path)
    proxy = repo.privacy.synthesize("people", 2.0, rows=500)
    assert repo.privacy.budget("people").spent == pytest.approx(2.0)
    before = repo.refs.find_commit(None)
    with pytest.raises(tillage.BudgetExhaustedError):
        repo.privacy.synthesize("people", 1.0, rows=500, name="again")
    assert repo.privacy.budget("people").spent == pytest.approx(2.0)
    after = repo.refs.find_commit(None)
    assert before is not None and after is not None and before.id == after.id
    # the proxy is a DP release: people read it, unlike its source
    person = tillage.open(tmp_path).at(None, principal="ana")
    assert person.read(proxy.name).num_rows == proxy.rows
    with pytest.raises(tillage.PrivateDataError):
        person.read("people")


@pytest.mark.parametrize(
    ("epsilon", "rows", "fragment"),
    [
        (0, None, "epsilon must be a number > 0, not 0"),
        (-1.0, None, "epsilon must be a number > 0"),
        (math.nan, None, "epsilon must be a number > 0"),
        (1.0, 0, "rows must be a whole number >= 1, not 0"),
        (1.0, 2.5, "rows must be a whole number >= 1"),
    ],
)
def test_bad_privacy_parameters_are_refused(
    tmp_path: Path, epsilon: float, rows: int | None, fragment: str
) -> None:
    repo = private_repo(tmp_path)
    with pytest.raises(PrivacyParameterError) as e:
        repo.privacy.synthesize("people", epsilon, rows=rows)
    assert fragment in str(e.value)


def test_columns_need_public_bounds_or_categories(tmp_path: Path) -> None:
    repo = tillage.init(tmp_path)
    repo.datasets.ingest("people", people(200), key="id")
    with pytest.raises(SynthesisDomainError) as e:
        repo.privacy.synthesize("people", 1.0)  # no policy: no public facts at all
    # booleans are their two values; the rest need facts, and the data never gives them
    assert e.value.columns == ["email", "region", "income", "age"]
    assert "--bounds COL=LOW:HIGH" in str(e.value)
    with pytest.raises(SynthesisDomainError, match="has no such column"):
        repo.privacy.synthesize("people", 1.0, columns=["incme"])
    with pytest.raises(PrivacyParameterError, match="bounds of income"):
        repo.privacy.synthesize("people", 1.0, columns=["income"], bounds={"income": (5, 5)})
    assert list(repo.datasets.pins()) == ["people"]


def test_unknown_datasets_and_names_are_refused(tmp_path: Path) -> None:
    repo = private_repo(tmp_path)
    with pytest.raises(NoSuchDatasetError):
        repo.privacy.synthesize("peple", 1.0)
    with pytest.raises(InvalidNameError, match="may not overwrite private data"):
        repo.privacy.synthesize("people", 1.0, name="people")


def test_the_privacy_unit_and_direct_identifiers_are_never_synthesized() -> None:
    policy = Policy.parse(
        {
            "datasets": {
                "people": {
                    "privacy_unit": "member",
                    "max_rows_per_unit": 3,
                    "default_class": "public",
                    "columns": {"email": "direct_identifier"},
                }
            }
        }
    ).private("people")
    schema = pa.schema([("id", pa.int64()), ("member", pa.string()), ("email", pa.string())])
    schema = schema.append(pa.field("owner", pa.bool_()))
    plan = plan_columns("people", schema, ["id"], policy)
    assert [c.name for c in plan.codecs] == ["owner"] and plan.key == ("id",)
    assert plan.dropped == {
        "member": "privacy unit: never synthesized",
        "email": "direct identifier: never synthesized",
    }


def test_one_unit_contributes_at_most_its_rows() -> None:
    table = pa.table({"member": ["a", "b", "a", "a", None, "b", None], "x": range(7)})
    kept = bound_contributions(table, "member", 2)
    assert kept["x"].to_pylist() == [0, 1, 2, 4, 5, 6]


def test_rho_is_the_largest_within_the_approximate_dp_guarantee() -> None:
    rho = rho_for(1.0, 1e-9)
    # the usual conversion: epsilon = rho + 2 sqrt(rho log(1/delta)) bounds it from below
    assert rho + 2 * math.sqrt(rho * math.log(1e9)) >= 1.0 * 0.99
    assert rho_for(2.0, 1e-9) > rho > rho_for(1.0, 1e-12)


def test_the_bootstrap_floor_is_what_sampling_noise_alone_costs() -> None:
    real = people(2000).drop_columns(["id", "email"])
    rng = np.random.default_rng(0)
    resample = real.take(pa.array(rng.integers(0, real.num_rows, real.num_rows)))
    report = fidelity_gate(real, resample, seed=0, floor=True)
    two = report.two_way
    assert two.floor is not None and two.floor < two.baseline / 3
    assert abs(two.score - two.floor) < 0.03  # a resample scores about the floor
    assert "floor" in report.to_dict()["two_way"]
    plain = fidelity_gate(real, resample, seed=0)
    assert plain.two_way.floor is None and "floor" not in plain.to_dict()["two_way"]
    assert plain.two_way.score == two.score and plain.two_way.baseline == two.baseline


def test_a_proxy_of_other_columns_does_not_replace_one_and_spends_nothing(tmp_path: Path) -> None:
    repo = private_repo(tmp_path)
    repo.privacy.synthesize("people", 0.5, rows=300, columns=["region", "income"])
    with pytest.raises(tillage.InputError, match="Give this proxy another --name"):
        repo.privacy.synthesize("people", 0.5, rows=300, columns=["region", "age"])
    assert repo.privacy.budget("people").spent == pytest.approx(0.5)
    proxy = repo.privacy.synthesize("people", 0.5, rows=300, columns=["region", "age"], name="p2")
    assert proxy.name == "p2"
