"""Appends whose keys already exist, found without reading the whole table."""

from __future__ import annotations

from pathlib import Path

from bad_input.harness import Case, Damage, flights_table, write_parquet


def batch_of(ids: list[int]) -> Damage:
    """Write ``{tmp}/batch.parquet``: flights rows with these keys."""

    def damage(project: Path) -> None:
        write_parquet(project.parent / "batch.parquet", flights_table(ids))

    return damage


CASES = [
    Case(
        "append-existing-keys",
        ["ingest", "flights", "{tmp}/batch.parquet"],
        says=["2 key(s) that already exist", "5", "45", "--mode upsert"],
        error="key_violation",
        damage=batch_of([5, 45, 100]),  # 5 from the first commit, 45 from the second
    ),
    Case(
        # More keys than one lookup takes: the batch is joined with the keys in chunks.
        "append-existing-keys-large-batch",
        ["ingest", "flights", "{tmp}/batch.parquet"],
        says=["1 key(s) that already exist", "59", "--mode upsert"],
        error="key_violation",
        damage=batch_of([59, *range(1_000, 71_000)]),
    ),
    Case(
        "append-repeated-key-in-batch",
        ["ingest", "flights", "{tmp}/batch.parquet"],
        says=["1 duplicate key(s)", "100"],
        error="key_violation",
        damage=batch_of([100, 101, 100]),
    ),
]
