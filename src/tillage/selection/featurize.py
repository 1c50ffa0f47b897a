"""Featurizers: records (an Arrow table) to float32 vectors for distance-based strategies.

A `Featurizer` names itself and its parameters in ``fingerprint``: the
repository caches its output under the dataset version and that fingerprint
(`tillage.Repo.models.features`), so two featurizers that could give different
vectors must never share a fingerprint.

`DefaultFeaturizer` decides each column's kind once, with
`tillage.core.kinds.column_kind` on the facts of the column's values
(`tillage.core.kinds.value_facts`: exact up to ``SAMPLE_ROWS`` values, from a
seeded sample beyond), and encodes:

========== ==================================================================
numeric    standard-scaled (mean 0, sd 1 over the present values); missing
           values (null, NaN) become 0, plus a 0/1 missing indicator column
           when the column has any
time       as numeric, in seconds (timestamps, dates, ISO text)
categorical one-hot of the ``max_categories`` most frequent values (ties by
           value), plus one column for every other value; missing is all zeros
text       TF-IDF of words (sublinear tf), then TruncatedSVD to exactly
           ``text_dimensions`` columns (zeros pad a vocabulary too small for them)
identifier skipped, as are columns of other types (nested, binary) or no values
========== ==================================================================

It is deterministic (SVD with a fixed seed, categories in a fixed order) and fits
on the table it transforms: vectors of two versions are not on one scale.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tillage.core.kinds import ColumnKind, column_kind, value_facts
from tillage.errors import InputError


@runtime_checkable
class Featurizer(Protocol):
    """Turns a table of records into one float32 vector per record."""

    @property
    def fingerprint(self) -> str:
        """Its name and parameters: equal fingerprints must give equal vectors."""
        ...

    def fit_transform(self, table: pa.Table) -> np.ndarray:
        """Vectors for ``table``'s rows, shape (num_rows, d), float32."""
        ...


class DefaultFeaturizer:
    """Numeric scaling, one-hot categories and TF-IDF + SVD text (see the module doc).

    Args:
        max_categories: one-hot columns per categorical column (the most frequent values).
        text_dimensions: SVD dimensions per text column.
        seed: the SVD's random seed.
    """

    # Raise when the encoding changes, so cached vectors are not reused (2: kinds of
    # long columns from a sample).
    VERSION = 2

    def __init__(self, *, max_categories: int = 20, text_dimensions: int = 32, seed: int = 0):
        if max_categories < 1 or text_dimensions < 1:
            raise InputError("max_categories and text_dimensions must be at least 1.")
        self.max_categories = max_categories
        self.text_dimensions = text_dimensions
        self.seed = seed

    @property
    def fingerprint(self) -> str:
        return (
            f"default-v{self.VERSION}(max_categories={self.max_categories},"
            f"text_dimensions={self.text_dimensions},seed={self.seed})"
        )

    def kinds(self, table: pa.Table) -> dict[str, ColumnKind]:
        """Each column's kind, as the featurizer uses it."""
        return {
            name: column_kind(name, table.column(name).type, value_facts(table.column(name)))
            for name in table.column_names
        }

    def fit_transform(self, table: pa.Table) -> np.ndarray:
        """The vectors of ``table``'s rows (see the module doc).

        Raises:
            InputError: no column is numeric, categorical, time or text.
        """
        parts: list[np.ndarray] = []
        for name, kind in self.kinds(table).items():
            col = table.column(name)
            if pa.types.is_dictionary(col.type):
                col = col.cast(col.type.value_type)
            if kind is ColumnKind.NUMERIC or kind is ColumnKind.TIME:
                values = _numbers(col)
                if values is not None:
                    parts.append(_scaled(values))
            elif kind is ColumnKind.CATEGORICAL:
                parts.append(_one_hot(col, self.max_categories))
            elif kind is ColumnKind.TEXT:
                parts.append(_text(col, self.text_dimensions, self.seed))
        if not parts:
            raise InputError(
                f"none of the columns {', '.join(table.column_names)} can be featurized "
                "(numbers, times, categories or text; identifiers are skipped). Pass other "
                "columns, or a featurizer of your own."
            )
        return np.ascontiguousarray(np.hstack(parts), dtype=np.float32)


def _numbers(col: pa.ChunkedArray) -> np.ndarray | None:
    """A numeric, boolean or time column as float64 with NaN for missing; None if it will not."""
    t = col.type
    try:
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            col = pc.cast(col, pa.timestamp("us"))  # ISO dates and times stored as text
            t = col.type
        if pa.types.is_date(t):
            col = col.cast(pa.timestamp("s"))
            t = col.type
        if pa.types.is_timestamp(t):
            seconds = pc.cast(col.cast(pa.timestamp(t.unit, None)), pa.int64())
            per = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[t.unit]
            return _floats(seconds) / per
        if pa.types.is_time(t) or pa.types.is_duration(t):
            return _floats(pc.cast(col, pa.int64()))
        return _floats(col)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def _floats(col: pa.ChunkedArray) -> np.ndarray:
    floats = pc.cast(col, pa.float64(), safe=False)
    return np.asarray(pc.fill_null(floats, float("nan")).to_numpy(zero_copy_only=False))


def _scaled(values: np.ndarray) -> np.ndarray:
    missing = np.isnan(values)
    present = values[~missing]
    mean = float(present.mean()) if len(present) else 0.0
    sd = float(present.std()) if len(present) else 0.0
    scaled = np.where(missing, 0.0, (values - mean) / (sd if sd > 0 else 1.0))
    if missing.any():
        return np.column_stack([scaled, missing.astype(np.float64)])
    return scaled.reshape(-1, 1)


def _one_hot(col: pa.ChunkedArray, max_categories: int) -> np.ndarray:
    text = pc.cast(col, pa.string())
    counts = pc.value_counts(pc.drop_null(text)).to_pylist()
    ranked = sorted(counts, key=lambda c: (-c["counts"], c["values"]))
    kept = [c["values"] for c in ranked[:max_categories]]
    index = pc.index_in(text, value_set=pa.array(kept, pa.string())).to_numpy(zero_copy_only=False)
    present = ~pc.is_null(text).to_numpy(zero_copy_only=False)
    width = len(kept) + (1 if len(ranked) > len(kept) else 0)
    out = np.zeros((len(text), width))
    rows = np.arange(len(text))
    found = ~np.isnan(index.astype(np.float64))
    out[rows[found], index[found].astype(np.int64)] = 1.0
    other = present & ~found
    if other.any():
        out[rows[other], width - 1] = 1.0
    return out


def _text(col: pa.ChunkedArray, dimensions: int, seed: int) -> np.ndarray:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    docs = pc.fill_null(pc.cast(col, pa.string()), "").to_pylist()
    out = np.zeros((len(docs), dimensions))
    try:
        tfidf = TfidfVectorizer(sublinear_tf=True, dtype=np.float64).fit_transform(docs)
    except ValueError:  # no words at all
        return out
    k = min(dimensions, tfidf.shape[1] - 1, tfidf.shape[0] - 1)
    if k < 1:
        out[:, : tfidf.shape[1]] = tfidf.toarray()[:, :dimensions]
        return out
    reduced = TruncatedSVD(n_components=k, random_state=seed).fit_transform(tfidf)
    out[:, :k] = reduced
    return out
