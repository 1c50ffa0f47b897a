"""Alert sinks that are misconfigured: named before anything is written or sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from bad_input.harness import Case, Damage, flights_table, write_parquet


def _sinks(*entries: dict[str, Any], batch: bool = False) -> Damage:
    """Set ``quality.sinks`` in the project's config (and write a batch to ingest)."""

    def damage(project: Path) -> None:
        config = project / ".tillage" / "config.yaml"
        cfg = yaml.safe_load(config.read_text()) or {}
        cfg["quality"] = {"sinks": list(entries)}
        config.write_text(yaml.safe_dump(cfg))
        if batch:
            write_parquet(project.parent / "more.parquet", flights_table(range(100, 110)))

    return damage


CASES = [
    Case(
        "outbox-ingest-bad-webhook-url",
        ["ingest", "flights", "{tmp}/more.parquet"],
        says=["alert sink #1", "'ftp://hooks.example.com/x' is not an http(s) URL"],
        error="bad_input",
        damage=_sinks({"type": "webhook", "url": "ftp://hooks.example.com/x"}, batch=True),
    ),
    Case(
        "outbox-deliver-unknown-sink-type",
        ["alerts", "deliver"],
        says=["alert sink #2", "unknown type 'slack'", "known types: console, jsonl, webhook"],
        error="bad_input",
        damage=_sinks({"type": "console"}, {"type": "slack", "channel": "#data"}),
    ),
    Case(
        "outbox-deliver-retries-as-text",
        ["alerts", "deliver", "--retry-dead"],
        says=["retries must be an integer >= 1", "'3'"],
        error="bad_input",
        damage=_sinks({"type": "webhook", "url": "http://127.0.0.1:9/x", "retries": "3"}),
    ),
]
