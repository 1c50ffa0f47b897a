"""Synthetic proxies: ``privacy synthesize`` given bad input.

The base project's ``flights`` (60 rows, key ``id``) has text ``carrier`` and
``origin`` and a float ``dep_delay``; `private` writes a policy that marks it
private and declares the public facts a synthesizer needs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

import tillage
from bad_input.harness import Case, Damage

FLIGHTS_POLICY = """
datasets:
  flights:
    columns:
      carrier: {class: quasi_identifier, categories: [AA, UA, DL]}
      origin: {class: public, categories: [JFK, LGA, EWR]}
      dep_delay: {class: sensitive, bounds: [-10, 60]}
"""


def private(text: str = FLIGHTS_POLICY) -> Damage:
    def damage(project: Path) -> None:
        (project / ".tillage" / "policy.yaml").write_text(text)

    return damage


def related(project: Path) -> None:
    """A private ``pairs`` dataset of 3,000 rows whose two columns always agree."""
    rng = np.random.default_rng(0)
    a = rng.choice(["x", "y", "z"], 3000)
    with tillage.open(project) as repo:
        repo.datasets.ingest("pairs", pa.table({"id": range(3000), "a": a, "b": a}), key="id")
    (project / ".tillage" / "policy.yaml").write_text(
        "datasets:\n  pairs:\n    budget: 1.0\n    columns:\n"
        "      a: {class: sensitive, categories: [x, y, z]}\n"
        "      b: {class: sensitive, categories: [x, y, z]}\n"
    )


SYNTH = ["privacy", "synthesize"]

CASES = [
    Case(
        "synth-epsilon-zero",
        [*SYNTH, "flights", "--epsilon", "0"],
        says=["epsilon must be a number > 0, not 0", "nothing was spent"],
        error="privacy_parameter",
        damage=private(),
    ),
    Case(
        "synth-epsilon-negative",
        [*SYNTH, "flights", "--epsilon", "-1"],
        says=["epsilon must be a number > 0, not -1"],
        error="privacy_parameter",
        damage=private(),
    ),
    Case(
        "synth-rows-zero",
        [*SYNTH, "flights", "--epsilon", "1", "--rows", "0"],
        says=["rows must be a whole number >= 1, not 0"],
        error="privacy_parameter",
        damage=private(),
    ),
    Case(
        "synth-delta-one",
        [*SYNTH, "flights", "--epsilon", "1", "--delta", "1"],
        says=["delta must be a number between 0 and 1"],
        error="privacy_parameter",
        damage=private(),
    ),
    Case(
        "synth-unknown-dataset",
        [*SYNTH, "flihgts", "--epsilon", "1"],
        says=["'flihgts' does not exist", "flights"],
        error="no_such_dataset",
        damage=private(),
    ),
    Case(
        "synth-no-public-facts",
        [*SYNTH, "flights", "--epsilon", "1"],
        says=["carrier, origin, dep_delay", "no public bounds", "--bounds COL=LOW:HIGH"],
        error="synthesis_domain",
    ),
    Case(
        "synth-unknown-column",
        [*SYNTH, "flights", "--epsilon", "1", "--columns", "carrier,delay"],
        says=["delay", "has no such column", "dep_delay"],
        error="synthesis_domain",
        damage=private(),
    ),
    Case(
        "synth-bad-bounds-syntax",
        [*SYNTH, "flights", "--epsilon", "1", "--bounds", "dep_delay=0..60"],
        says=["not COL=LOW:HIGH", "--bounds income=0:500000"],
        error="bad_input",
        damage=private(),
    ),
    Case(
        "synth-empty-bounds",
        [*SYNTH, "flights", "--epsilon", "1", "--bounds", "dep_delay=5:5"],
        says=["bounds of dep_delay must be two numbers, lower < upper"],
        error="privacy_parameter",
        damage=private(),
    ),
    Case(
        "synth-over-the-source",
        [*SYNTH, "flights", "--epsilon", "1", "--name", "flights"],
        says=["'flights'", "may not overwrite private data", "--name"],
        error="invalid_name",
        damage=private(),
    ),
    Case(
        "synth-policy-unknown-column",
        [*SYNTH, "flights", "--epsilon", "1"],
        says=["names column 'delay'", "dep_delay"],
        error="policy_file",
        damage=private("datasets:\n  flights:\n    columns:\n      delay: sensitive\n"),
    ),
    # Refused after the epsilon is spent: the repository keeps no proxy, but a
    # privacy ledger keeps the spend, so only the message is checked here.
    Case(
        "synth-worse-than-independent-columns",
        [*SYNTH, "pairs", "--epsilon", "0.001", "--rows", "3000"],
        says=["was refused", "2-way total variation distance", "bootstrap resample"],
        error="synthetic_fidelity",
        damage=related,
        unchanged=False,
    ),
]
