"""Generate records for a class or slice where the model is weak, gated on fidelity.

`generate` fits a `Generator` to the real records of the slice, samples new
ones, scores them with the fidelity gate (`tillage.selection.fidelity`) and
returns them only when they pass: a batch that fits the real slice worse than
sampling each column on its own is refused with `FidelityGateError`. The new
records get fresh keys and provenance rows (`tillage.selection.derived`).

Two generators ship, both built on well-kept numerical libraries:

- ``gaussian-copula`` (`GaussianCopula`): each column's own distribution, exactly
  as in the real slice, tied together by the correlations of a multivariate
  normal (SciPy and NumPy). Ordered columns (numbers, times) enter by their
  ranks' normal scores and come back as real values at the sampled quantile;
  other columns (strings, bools) enter by the midpoint of their value's interval
  in [0, 1], the values ordered by frequency (as SDV's GaussianCopula encodes
  them), and come back as the value whose interval holds the sample; nulls are a
  value of a categorical column and a present/null indicator of an ordered one.
  It never invents a value the slice does not hold.
- ``smote-nc`` (`SmoteNC`): imbalanced-learn's SMOTE-NC, which makes each new
  record between a real record of the slice and one of its nearest neighbours
  in the slice: numbers interpolated, categories the neighbours' most frequent
  (SMOTE or SMOTE-N where the slice has only numbers or only categories). It is
  made for "more records of this class": the slice is the class.

A user's generator is any object with a ``name``, ``fit(real, context)`` and
``sample(n, rng)`` (`Generator`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pyarrow as pa
import pyarrow.compute as pc

from tillage.errors import InputError, NoSuchGeneratorError, TillageError
from tillage.selection.derived import fresh_keys, key_column, provenance
from tillage.selection.fidelity import FidelityReport, fidelity_gate

if TYPE_CHECKING:
    import numpy as np


@runtime_checkable
class Generator(Protocol):
    """Makes records like the real ones it was fitted to.

    ``name`` is recorded in each generated record's provenance. ``fit`` learns from
    the real slice (without its key column) and may read ``context``, the rest of
    the dataset, where the method contrasts the slice with it. ``sample`` returns
    ``n`` records with the real slice's columns and types, drawing every random
    number from ``rng`` so that the same seed gives the same records.
    """

    name: str

    def fit(self, real: pa.Table, context: pa.Table | None = None) -> None:
        """Learn the real slice."""

    def sample(self, n: int, rng: np.random.Generator) -> pa.Table:
        """``n`` new records with the real slice's schema."""
        ...


@dataclass(frozen=True, eq=False)
class Generated:
    """A generated batch that passed the fidelity gate.

    Attributes:
        records: the new records, with the dataset's columns (``real_slice``'s
            schema) and fresh keys.
        provenance: per record: the key, ``derived_from`` (null: a generated record
            has no one source), ``action`` (``generate``) and ``generator``.
        fidelity: the gate's report.
        generator: the generator's name.
        seed: the seed it sampled with.
    """

    records: pa.Table
    provenance: pa.Table
    fidelity: FidelityReport
    generator: str
    seed: int

    def __len__(self) -> int:
        return int(self.records.num_rows)

    def to_dict(self) -> dict[str, Any]:
        """A summary as JSON-ready values (not the records themselves)."""
        return {
            "action": "generate",
            "generator": self.generator,
            "seed": self.seed,
            "records": self.records.num_rows,
            "fidelity": self.fidelity.to_dict(),
        }


def generate(
    real_slice: pa.Table,
    n: int,
    generator: Generator,
    *,
    key: str,
    seed: int,
    context: pa.Table | None = None,
    taken: Iterable[pa.Array | pa.ChunkedArray] = (),
    where: str | None = None,
) -> Generated:
    """``n`` records like ``real_slice``, refused unless they pass the fidelity gate.

    Args:
        real_slice: the real records to imitate (a class, a slice), with the key.
        n: how many records to make (at least 1).
        generator: a `Generator` (see `generator_named`).
        key: the dataset's key column; new records get keys that neither the slice,
            ``context`` nor ``taken`` hold.
        seed: seeds the generator and the gate; same inputs, same records.
        context: the rest of the dataset, with the key: its keys are taken, and a
            generator may read its records (neither shipped one does).
        taken: further key values in use (the whole dataset's keys, other branches').
        where: what the slice is, for messages ("class spam"); by default its size.

    Returns:
        The records, their provenance and the fidelity report.

    Raises:
        FidelityGateError: the batch fits the slice worse than the baseline; nothing
            is returned.
        InputError: fewer than 2 real records, ``n`` below 1, a missing key, a
            generator that raises or returns the wrong columns, types or number of
            records.
    """
    import numpy as np

    if n < 1:
        raise InputError(f"cannot generate {n} record(s); ask for at least 1.")
    keys = key_column(real_slice, key, "the real slice")
    if real_slice.num_rows < 2:
        raise InputError(
            f"the real slice has {real_slice.num_rows} record(s); a generator needs at "
            "least 2 to learn from. Widen the slice."
        )
    real = real_slice.drop_columns([key])
    rest = None
    if context is not None:
        taken = [*taken, key_column(context, key, "the context")]
        rest = context.drop_columns([key])
    try:
        generator.fit(real, rest)
        made = generator.sample(n, np.random.default_rng(seed))
    except TillageError:
        raise
    except Exception as e:
        raise InputError(
            f"generator {generator.name!r} failed on a slice of {real.num_rows:,} records: "
            f"{type(e).__name__}: {e}. Fix the generator, or use another."
        ) from e
    batch = _conform(made, real.schema, n, generator)
    report = fidelity_gate(real, batch, seed=seed)
    report.check(where or f"a slice of {real_slice.num_rows:,} records")
    new_keys = fresh_keys(keys.type, n, [keys, *taken], prefix="generated")
    records = batch.add_column(real_slice.schema.get_field_index(key), key, new_keys)
    return Generated(
        records=records.cast(real_slice.schema),
        provenance=provenance(key, new_keys, None, "generate", ("generator", [generator.name] * n)),
        fidelity=report,
        generator=generator.name,
        seed=seed,
    )


def _conform(batch: object, schema: pa.Schema, n: int, generator: Generator) -> pa.Table:
    """``batch`` as a table of ``schema``, or a clear error naming the generator."""
    what = f"generator {generator.name!r}"
    if not isinstance(batch, pa.Table):
        raise InputError(f"{what} returned {type(batch).__name__}, not a pyarrow Table.")
    if sorted(batch.column_names) != sorted(schema.names):
        raise InputError(
            f"{what} returned columns {', '.join(batch.column_names)}; the real slice has "
            f"{', '.join(schema.names)}. A generator must return the real columns."
        )
    if batch.num_rows != n:
        raise InputError(f"{what} returned {batch.num_rows} record(s) when asked for {n}.")
    try:
        return batch.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        raise InputError(f"{what} returned values of the wrong type: {e}.") from None


# -- the generators that ship ------------------------------------------------------


def _ordered(t: pa.DataType) -> bool:
    """Whether a column's values are ordered quantities (numbers, times)."""
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_temporal(t)
    )


def _present(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Where a column holds a value (not null, not NaN)."""
    valid = pc.is_valid(column)
    if pa.types.is_floating(column.type):
        valid = pc.and_(valid, pc.invert(pc.is_nan(column)))
    return pc.fill_null(valid, False)


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


@dataclass(eq=False)
class _Category:
    """A categorical latent dimension: ``values`` by frequency and their upper bounds."""

    values: pa.Array
    upper: np.ndarray  # cumulative share at the end of each value's interval

    @staticmethod
    def fit(column: pa.ChunkedArray | pa.Array) -> tuple[_Category, np.ndarray]:
        """The encoding and each row's latent normal score (its interval's midpoint)."""
        import numpy as np
        from scipy.special import ndtri

        encoded = pc.dictionary_encode(column, null_encoding="encode")
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        codes = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        counts = np.bincount(codes, minlength=len(encoded.dictionary))
        order = np.argsort(-counts, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        shares = counts[order] / len(codes)
        upper = np.cumsum(shares)
        mid = upper - shares / 2
        return (
            _Category(encoded.dictionary.take(pa.array(order, pa.int64())), upper),
            ndtri(mid[rank[codes]]),
        )

    def decode(self, z: np.ndarray) -> pa.Array:
        import numpy as np
        from scipy.special import ndtr

        at = np.searchsorted(self.upper, ndtr(z), side="right")
        return self.values.take(pa.array(np.minimum(at, len(self.values) - 1), pa.int64()))


@dataclass(eq=False)
class _Column:
    """How one column enters the copula: ordered values and/or a category."""

    name: str
    type: pa.DataType
    sorted_values: pa.Array | None  # ordered columns: the present values, ascending
    category: _Category | None  # categorical columns, or an ordered one's null indicator


class GaussianCopula:
    """A Gaussian copula over the real slice's columns (see the module doc).

    Args:
        name: recorded in provenance.
    """

    def __init__(self, name: str = "gaussian-copula") -> None:
        self.name = name
        self._columns: list[_Column] = []
        self._dims: list[tuple[int, str]] = []  # (column index, "value" | "category")
        self._mean: np.ndarray | None = None
        self._root: np.ndarray | None = None
        self._schema: pa.Schema | None = None

    def fit(self, real: pa.Table, context: pa.Table | None = None) -> None:
        """Learn each column's values and the normal scores' correlations (``context``
        is not read: a copula imitates the slice alone)."""
        import numpy as np
        from scipy.special import ndtri

        rows = real.num_rows
        latent: list[np.ndarray] = []
        self._columns, self._dims, self._schema = [], [], real.schema
        for i, name in enumerate(real.column_names):
            column = _plain(real.column(name))
            present = _present(column)
            count = pc.sum(present).as_py() or 0
            if not _ordered(column.type) or count == 0:
                category, z = _Category.fit(column)
                self._columns.append(_Column(name, column.type, None, category))
                self._dims.append((i, "category"))
                latent.append(z)
                continue
            values = column.filter(present)
            low = pc.rank(values, tiebreaker="min").to_numpy(zero_copy_only=False)
            high = pc.rank(values, tiebreaker="max").to_numpy(zero_copy_only=False)
            z = np.zeros(rows)  # a missing value sits at the median
            z[np.asarray(present.to_numpy(zero_copy_only=False), dtype=bool)] = ndtri(
                ((low + high) / 2 - 0.5) / count
            )
            ordered = values.take(pc.sort_indices(values)).combine_chunks()
            nulls = None
            if count < rows:
                nulls, zn = _Category.fit(pc.invert(present))
            self._columns.append(_Column(name, column.type, ordered, nulls))
            self._dims.append((i, "value"))
            latent.append(z)
            if nulls is not None:
                self._dims.append((i, "category"))
                latent.append(zn)
        matrix = np.column_stack(latent)
        self._mean = matrix.mean(axis=0)
        sd = matrix.std(axis=0)
        varying = sd > 0
        corr = np.eye(len(sd))
        if varying.sum() > 1:
            sub = np.corrcoef(matrix[:, varying], rowvar=False)
            corr[np.ix_(varying, varying)] = np.nan_to_num(sub)
        w, v = np.linalg.eigh(corr)
        # constant dimensions keep their one value; the others get unit variance
        self._root = v * np.sqrt(np.clip(w, 0, None)) * varying[:, None]
        self._mean = np.where(varying, 0.0, self._mean)

    def sample(self, n: int, rng: np.random.Generator) -> pa.Table:
        """``n`` records: correlated normal scores mapped back to real values."""
        import numpy as np
        from scipy.special import ndtr

        if self._root is None or self._mean is None or self._schema is None:
            raise InputError("fit the generator before sampling from it.")
        z = rng.standard_normal((n, len(self._mean))) @ self._root.T + self._mean
        by_column: dict[int, dict[str, np.ndarray]] = {}
        for d, (i, part) in enumerate(self._dims):
            by_column.setdefault(i, {})[part] = z[:, d]
        arrays = []
        for i, column in enumerate(self._columns):
            parts = by_column[i]
            if column.sorted_values is None:
                assert column.category is not None
                values = column.category.decode(parts["category"])
            else:
                count = len(column.sorted_values)
                at = np.minimum((ndtr(parts["value"]) * count).astype(np.int64), count - 1)
                values = column.sorted_values.take(pa.array(at, pa.int64()))
                if column.category is not None:
                    missing = column.category.decode(parts["category"])
                    values = pc.if_else(
                        pc.fill_null(missing, False), pa.nulls(n, values.type), values
                    )
            arrays.append(values)
        return pa.Table.from_arrays(arrays, names=self._schema.names).cast(self._schema)


class SmoteNC:
    """imbalanced-learn's SMOTE-NC: new records between a real record and a neighbour.

    Ordered columns are interpolated (integers rounded, times as their numbers, and
    floats whose real values are all whole rounded too), categorical ones take the
    neighbours' most frequent value; nulls are a category of their own, and an
    ordered column's nulls come back where a present/null indicator (a category)
    says so. Numbers are scaled by the slice's spread first, so that no column's
    units decide who is near.

    SMOTE-NC finds neighbours within the class it oversamples, so its records
    depend on the slice alone and ``context`` is not read; imbalanced-learn's need
    for a second class is met by a placeholder.

    Args:
        k_neighbors: neighbours per record (fewer when the slice is smaller).
        name: recorded in provenance.
    """

    def __init__(self, k_neighbors: int = 5, name: str = "smote-nc") -> None:
        if k_neighbors < 1:
            raise InputError(f"k_neighbors must be at least 1, not {k_neighbors}.")
        self.name = name
        self.k_neighbors = k_neighbors
        self._real: pa.Table | None = None

    def fit(self, real: pa.Table, context: pa.Table | None = None) -> None:
        """Keep the slice; SMOTE-NC works at sampling time."""
        if real.num_rows < 2:
            raise InputError("SMOTE-NC needs at least 2 real records to interpolate between.")
        self._real = real

    def sample(self, n: int, rng: np.random.Generator) -> pa.Table:
        """``n`` records made by SMOTE-NC with a seed drawn from ``rng``."""
        import numpy as np
        import pandas as pd
        from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC

        if self._real is None:
            raise InputError("fit the generator before sampling from it.")
        real = self._real
        frame, categorical, decode = _smote_frame(real)
        rows = len(frame)
        # the placeholder class: one copy of the first record, never a neighbour
        frame = pd.concat([frame, frame.iloc[:1]], ignore_index=True)
        y = pd.Series(np.r_[np.ones(rows, dtype=np.int64), 0])
        k = min(self.k_neighbors, rows - 1)
        strategy = {1: rows + n}
        seed = int(rng.integers(2**31 - 1))
        method: Any
        if categorical and len(categorical) < len(frame.columns):
            method = SMOTENC(
                categorical, sampling_strategy=strategy, k_neighbors=k, random_state=seed
            )
        elif categorical:
            method = SMOTEN(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
        else:
            method = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
        x, _ = method.fit_resample(frame, y)  # the real rows, then the new ones
        return decode(x.iloc[rows + 1 :]).cast(real.schema)


def _smote_frame(table: pa.Table) -> tuple[Any, list[str], Callable[[Any], pa.Table]]:
    """``table`` as a pandas frame SMOTE reads (floats and category codes as text, no
    missing values), its categorical columns, and the function that turns resampled
    rows back into a table."""
    import numpy as np
    import pandas as pd

    columns: dict[str, Any] = {}
    categorical: list[str] = []
    decoders: list[Callable[[Any], pa.Array]] = []
    for name in table.column_names:
        column = _plain(table.column(name))
        t = column.type
        if _ordered(t) and (pc.sum(_present(column)).as_py() or 0) > 0:
            present = _present(column)
            numbers = _as_numbers(column)
            known = numbers[np.asarray(present.to_numpy(zero_copy_only=False))]
            # SMOTE's neighbours are Euclidean: every number on one scale, so that no
            # column's units decide who is near
            centre, scale = float(np.median(known)), float(np.std(known)) or 1.0
            whole = bool(np.all(known == np.rint(known)))
            columns[name] = (np.where(np.isnan(numbers), centre, numbers) - centre) / scale
            indicator = None
            if not pc.all(present).as_py():
                indicator = f"{name} is missing"
                categorical.append(indicator)
                columns[indicator] = np.where(
                    np.asarray(present.to_numpy(zero_copy_only=False)), "no", "yes"
                ).astype(object)
            decoders.append(_number_decoder(name, t, indicator, (centre, scale, whole)))
        else:
            encoded = pc.dictionary_encode(column, null_encoding="encode").combine_chunks()
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            columns[name] = np.array([f"c{c}" for c in codes], dtype=object)
            categorical.append(name)
            decoders.append(_category_decoder(name, encoded.dictionary))
    frame = pd.DataFrame(columns)

    def decode(rows: Any) -> pa.Table:
        return pa.Table.from_arrays([d(rows) for d in decoders], names=table.column_names)

    return frame, categorical, decode


def _as_numbers(column: pa.ChunkedArray) -> np.ndarray:
    """An ordered column as float64, NaN where missing (times as their integer values)."""
    import numpy as np

    t = column.type
    if pa.types.is_date(t) or pa.types.is_time(t):
        column = column.cast(pa.int32() if t.bit_width == 32 else pa.int64())
    elif pa.types.is_temporal(t):
        column = column.cast(pa.int64())
    floats = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return np.asarray(floats, dtype=np.float64)


def _number_decoder(
    name: str, t: pa.DataType, indicator: str | None, scaled: tuple[float, float, bool]
) -> Callable[[Any], pa.Array]:
    """Resampled rows' values of ordered column ``name`` as its type; ``scaled`` is the
    centre and scale it was put on, and whether its real values are all whole."""
    centre, scale, whole_only = scaled

    def decode(rows: Any) -> pa.Array:
        import numpy as np

        values = np.asarray(rows[name], dtype=np.float64) * scale + centre
        mask = None if indicator is None else np.asarray(rows[indicator] == "yes")
        if pa.types.is_floating(t):
            return pa.array(np.rint(values) if whole_only else values, mask=mask).cast(t)
        whole = np.rint(values).astype(np.int64)
        if pa.types.is_integer(t):
            return pa.array(whole, mask=mask).cast(t)
        if pa.types.is_decimal(t):
            return pa.array(values, mask=mask).cast(t, safe=False)
        raw = (
            pa.int32()
            if (pa.types.is_date(t) or pa.types.is_time(t)) and t.bit_width == 32
            else pa.int64()
        )
        return pa.array(whole, mask=mask).cast(raw).cast(t)

    return decode


def _category_decoder(name: str, dictionary: pa.Array) -> Callable[[Any], pa.Array]:
    def decode(rows: Any) -> pa.Array:
        codes = [int(c[1:]) for c in rows[name]]
        return dictionary.take(pa.array(codes, pa.int64()))

    return decode


GENERATORS: dict[str, Callable[..., Generator]] = {
    "gaussian-copula": GaussianCopula,
    "smote-nc": SmoteNC,
}
"""The generators that ship, by name: each a class whose keyword arguments are its
parameters (``smote-nc``: ``k_neighbors``)."""


def generator_named(name: str, **params: Any) -> Generator:
    """A new generator of the kind ``name``, with ``params``.

    Raises:
        NoSuchGeneratorError: no generator ships under ``name``.
        InputError: parameters the generator does not take.
    """
    make = GENERATORS.get(name)
    if make is None:
        raise NoSuchGeneratorError(name, sorted(GENERATORS))
    try:
        return make(**params)
    except TypeError as e:
        raise InputError(f"generator {name!r} does not take those parameters: {e}.") from None
