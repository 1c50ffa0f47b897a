"""How long the default featurizer takes to decide column kinds, and to featurize,
on 1,000,000 generated records with a text column.

Data: generated here (nothing downloads), seeded, shaped like
``bench_selection_scale.py --text``'s pool: six normal numbers, two categories
(16 carriers, 3 origins) and a note of six words from a 2,000-word vocabulary.

Timed: ``DefaultFeaturizer().kinds(table)`` (best of three) and, with ``--full``,
one ``fit_transform`` (TF-IDF + truncated SVD on the note, one-hot, scaling).
Run it against an older source tree with ``PYTHONPATH``::

    PYTHONPATH=src .venv/bin/python benchmarks/bench_kinds.py --full
    git archive 207d036 src | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/src .venv/bin/python benchmarks/bench_kinds.py --full

Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def pool(rows: int) -> pa.Table:
    """The generated records (seeded)."""
    rng = np.random.default_rng(0)
    cols: dict[str, pa.Array] = {}
    for j in range(6):
        cols[f"x{j}"] = pa.array(rng.normal(0, 1, rows))
    carriers = pa.array([f"C{i:02d}" for i in range(16)])
    cols["carrier"] = carriers.take(pa.array(rng.integers(0, 16, rows)))
    cols["origin"] = pa.array(["JFK", "LGA", "EWR"]).take(pa.array(rng.integers(0, 3, rows)))
    vocab = pa.array([f"w{i}" for i in range(2000)])
    words = [vocab.take(pa.array(rng.integers(0, 2000, rows))) for _ in range(6)]
    cols["note"] = pc.binary_join_element_wise(*words, " ")
    return pa.table(cols)


def main() -> None:
    """Time kinds (and with ``--full`` featurizing) on the generated pool."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--full", action="store_true", help="also time fit_transform")
    args = parser.parse_args()
    from tillage.selection.featurize import DefaultFeaturizer

    table = pool(args.rows)
    featurizer = DefaultFeaturizer()
    took = []
    for _ in range(3):
        start = time.perf_counter()
        kinds = featurizer.kinds(table)
        took.append(time.perf_counter() - start)
    shown = ", ".join(f"{n}={k}" for n, k in kinds.items())
    print(f"kinds: {min(took):.2f} s (best of 3) on {table.num_rows:,} rows: {shown}")
    if args.full:
        start = time.perf_counter()
        vectors = featurizer.fit_transform(table)
        print(f"fit_transform: {time.perf_counter() - start:.1f} s, shape {vectors.shape}")


if __name__ == "__main__":
    main()
