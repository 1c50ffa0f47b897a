"""Unknown names and plainly wrong arguments (the cases that already held)."""

from __future__ import annotations

from bad_input.harness import Case

CASES = [
    Case("unknown-dataset", ["head", "nope"], says=["nope", "flights"], error="no_such_dataset"),
    Case("unknown-ref", ["head", "flights", "--ref", "nowhere"], error="no_such_ref"),
    Case(
        "unknown-column",
        ["export", "flights", "{tmp}/out.parquet", "--columns", "id,nope"],
        says=["nope"],
    ),
    Case("missing-file", ["ingest", "flights", "{tmp}/none.parquet"], says=["none.parquet"]),
]
