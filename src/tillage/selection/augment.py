"""Augment selected records: named transforms make new records from real ones.

A transform is a named function, applied to every selected record; each
application makes one new record with a fresh key and a provenance row
(``derived_from`` = the source record's key, ``action`` = ``augment``,
``transform`` = its name). Transforms come in two shapes (`Transform`):

- a **record** function, ``record -> record``: a dict of the record's columns in,
  a dict of the same columns out (a synonym swap, a back-translation);
- a **batch** function, ``table -> table``: an Arrow table of the records in, one
  of the same columns, types and number of rows out, row for row (for work that
  is faster in bulk, such as a model translating many texts at once).

A ``seeded`` transform also gets a NumPy random generator as its second
argument, seeded from `augment`'s seed and the transform's name, so the same
seed gives the same records whatever the order of the transforms. Whatever a
transform returns in the key column is replaced by the fresh key.

A transform that raises, returns something other than a record, or changes the
columns or their types is refused with `TransformError`, naming the transform
and the record; nothing is returned.

Two text transforms ship as simple baselines that need no model, data or
network: `word_dropout` and `swap_adjacent_words` (the random deletion and a
local form of the random swap of Wei and Zou's "EDA", 2019). They perturb
wording, not meaning; synonym swaps or back-translation plug in the same way.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from tillage.errors import InputError, TransformError
from tillage.selection.derived import fresh_keys, key_column, provenance

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class Transform:
    """A named transform (see the module doc).

    Attributes:
        name: recorded in each new record's provenance.
        function: ``function(record) -> record`` or, with ``batch``,
            ``function(table) -> table``; with ``seeded``, ``function(x, rng)``.
        batch: whether ``function`` takes the records as one Arrow table.
        seeded: whether ``function`` takes a NumPy random generator too.
    """

    name: str
    function: Callable[..., Any]
    batch: bool = False
    seeded: bool = False


@dataclass(frozen=True, eq=False)
class Augmented:
    """New records made by transforms from real ones.

    Attributes:
        records: the new records, with the source records' schema and fresh keys;
            for each transform in turn, one per source record, in their order.
        provenance: per new record: the key, ``derived_from`` (the source's key as
            text), ``action`` (``augment``) and ``transform`` (its name).
        transforms: the transforms' names, in the order applied.
        seed: the seed the transforms drew from.
    """

    records: pa.Table
    provenance: pa.Table
    transforms: tuple[str, ...]
    seed: int

    def __len__(self) -> int:
        return int(self.records.num_rows)

    def to_dict(self) -> dict[str, Any]:
        """A summary as JSON-ready values (not the records themselves)."""
        per = self.provenance.column("transform").to_pylist()
        return {
            "action": "augment",
            "seed": self.seed,
            "records": self.records.num_rows,
            "transforms": {name: per.count(name) for name in self.transforms},
        }


def augment(
    records: pa.Table,
    transforms: Mapping[str, Callable[..., Any] | Transform] | Sequence[Transform | str],
    *,
    key: str,
    seed: int,
    taken: Iterable[pa.Array | pa.ChunkedArray] = (),
) -> Augmented:
    """New records from ``records``: every transform applied to every record.

    Args:
        records: the selected records, with the key column.
        transforms: `Transform` values (or ``NAME:COLUMN`` for one that ships, see
            `transform_named`), or a mapping from name to a record function
            (``record -> record``) or to a `Transform`.
        key: the dataset's key column; new records get keys that neither ``records``
            nor ``taken`` hold.
        seed: seeds the ``seeded`` transforms.
        taken: further key values in use (the whole dataset's keys).

    Returns:
        The new records and their provenance.

    Raises:
        TransformError: a transform raised, returned something that is not a
            record (or table), or changed the columns or their types.
        InputError: no records, no transforms, two transforms of one name, or a
            missing key column.
    """
    import numpy as np

    keys = key_column(records, key, "the records to augment")
    if records.num_rows == 0:
        raise InputError("there are no records to augment; select some first.")
    chosen = _transforms(transforms)
    outputs: list[pa.Table] = []
    names: list[str] = []
    for t in chosen:
        rng = np.random.default_rng([seed, zlib.crc32(t.name.encode())])
        made = _batch(t, records, key, rng) if t.batch else _each(t, records, key, rng)
        outputs.append(made)
        names += [t.name] * made.num_rows
    made = pa.concat_tables(outputs)
    new_keys = fresh_keys(keys.type, made.num_rows, [keys, *taken], prefix="augmented")
    made = made.set_column(records.schema.get_field_index(key), key, new_keys)
    sources = pa.concat_arrays([keys.combine_chunks()] * len(chosen))
    return Augmented(
        records=made.cast(records.schema),
        provenance=provenance(key, new_keys, sources, "augment", ("transform", names)),
        transforms=tuple(t.name for t in chosen),
        seed=seed,
    )


def _transforms(
    given: Mapping[str, Callable[..., Any] | Transform] | Sequence[Transform | str],
) -> list[Transform]:
    """``given`` as a list of `Transform`, each name once (``NAME:COLUMN`` names one that
    ships, see `transform_named`)."""
    if isinstance(given, Mapping):
        out = [
            t if isinstance(t, Transform) and t.name == name else _named(name, t)
            for name, t in given.items()
        ]
    else:
        out = [transform_named(t) if isinstance(t, str) else t for t in given]
    if not out:
        raise InputError("no transforms given; name at least one transform to augment with.")
    bad = [t for t in out if not isinstance(t, Transform) or not callable(t.function)]
    if bad:
        raise InputError(
            f"{bad[0]!r} is not a transform; give tillage.selection.augment.Transform values "
            "or a mapping from name to function."
        )
    names = [t.name for t in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(
            f"transform name(s) {', '.join(twice)} given twice; give each transform its "
            "own name (provenance records it)."
        )
    return out


def _named(name: str, t: Callable[..., Any] | Transform) -> Transform:
    if isinstance(t, Transform):
        return Transform(name, t.function, t.batch, t.seeded)
    if not callable(t):
        raise InputError(f"transform {name!r} is {type(t).__name__}, not a function.")
    return Transform(name, t)


def _key_text(value: Any) -> str:
    return repr(value)


def _each(t: Transform, records: pa.Table, key: str, rng: np.random.Generator) -> pa.Table:
    """``t`` applied to each record in turn, checked record by record."""
    columns = records.column_names
    rows = records.to_pylist()
    sources = records.column(key).to_pylist()
    out: list[dict[str, Any]] = []
    for row, source in zip(rows, sources, strict=True):
        given = dict(row)
        try:
            made = t.function(given, rng) if t.seeded else t.function(given)
        except Exception as e:
            raise TransformError(
                t.name, _key_text(source), f"it raised {type(e).__name__}: {e}"
            ) from e
        if not isinstance(made, Mapping):
            raise TransformError(
                t.name, _key_text(source), f"it returned {type(made).__name__}, not a record (dict)"
            )
        _same_columns(t.name, _key_text(source), list(made), columns)
        out.append({**made, key: source})  # the key is replaced by a fresh one anyway
    try:
        return pa.Table.from_pylist(out, schema=records.schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        for made, source in zip(out, sources, strict=True):
            try:
                pa.Table.from_pylist([made], schema=records.schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as e:
                raise TransformError(
                    t.name, _key_text(source), f"a value is not of its column's type: {e}"
                ) from None
        raise  # pragma: no cover - the batch failed, so one record does


def _batch(t: Transform, records: pa.Table, key: str, rng: np.random.Generator) -> pa.Table:
    """``t`` applied to all records at once, checked as a whole."""
    try:
        made = t.function(records, rng) if t.seeded else t.function(records)
    except Exception as e:
        raise TransformError(t.name, None, f"it raised {type(e).__name__}: {e}") from e
    if not isinstance(made, pa.Table):
        raise TransformError(
            t.name, None, f"it returned {type(made).__name__}, not a pyarrow Table"
        )
    _same_columns(t.name, None, made.column_names, records.column_names)
    if made.num_rows != records.num_rows:
        raise TransformError(
            t.name,
            None,
            f"it returned {made.num_rows} record(s) for {records.num_rows}; a batch transform "
            "returns one record per record, in order",
        )
    i = records.schema.get_field_index(key)
    made = made.select(records.column_names).set_column(i, key, records.column(key))
    try:
        return made.cast(records.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as e:
        raise TransformError(t.name, None, f"a column is not of its type: {e}") from None


def _same_columns(name: str, record: str | None, got: Sequence[str], want: Sequence[str]) -> None:
    missing = [c for c in want if c not in got]
    extra = [c for c in got if c not in want]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"it dropped column(s) {', '.join(missing)}")
        if extra:
            parts.append(f"it added column(s) {', '.join(map(str, extra))}")
        raise TransformError(name, record, " and ".join(parts))


# -- text transforms that ship: simple baselines ------------------------------------


def word_dropout(column: str, rate: float = 0.1, *, name: str = "word-dropout") -> Transform:
    """Drop each word of ``column``'s text with probability ``rate`` (keeping at least
    one word); words are split on whitespace and joined with single spaces.

    Raises:
        InputError: ``rate`` outside [0, 1).
    """
    if not 0 <= rate < 1:
        raise InputError(f"word dropout rate must be at least 0 and below 1, not {rate}.")

    def drop(record: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        words = _words(record, column)
        if words is None or len(words) < 2:
            return record
        keep = rng.random(len(words)) >= rate
        if not keep.any():
            keep[rng.integers(len(words))] = True
        record[column] = " ".join(w for w, k in zip(words, keep, strict=True) if k)
        return record

    return Transform(name, drop, seeded=True)


def swap_adjacent_words(column: str, swaps: int = 1, *, name: str = "swap-words") -> Transform:
    """Swap ``swaps`` randomly chosen pairs of neighbouring words in ``column``'s text.

    Raises:
        InputError: ``swaps`` below 1.
    """
    if swaps < 1:
        raise InputError(f"swaps must be at least 1, not {swaps}.")

    def swap(record: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        words = _words(record, column)
        if words is None or len(words) < 2:
            return record
        for _ in range(swaps):
            i = int(rng.integers(len(words) - 1))
            words[i], words[i + 1] = words[i + 1], words[i]
        record[column] = " ".join(words)
        return record

    return Transform(name, swap, seeded=True)


BUILT_IN: dict[str, Callable[[str], Transform]] = {
    "word-dropout": word_dropout,
    "swap-words": swap_adjacent_words,
}
"""The transforms that ship, by the name ``NAME:COLUMN`` gives (`transform_named`)."""


def transform_named(spec: str) -> Transform:
    """A transform that ships, from ``NAME:COLUMN`` (``word-dropout:text``), at its defaults.

    Raises:
        InputError: not ``NAME:COLUMN``, or no transform of that name ships.
    """
    name, sep, column = spec.partition(":")
    make = BUILT_IN.get(name.strip())
    if not sep or not column.strip() or make is None:
        raise InputError(
            f"cannot read transform {spec!r}; write NAME:COLUMN with NAME one of "
            f"{', '.join(BUILT_IN)} (word-dropout:text), or pass functions in Python."
        )
    return make(column.strip())


def _words(record: Mapping[str, Any], column: str) -> list[str] | None:
    """The words of a record's text column, None when it holds no text."""
    if column not in record:
        raise KeyError(f"no column {column!r}")
    value = record[column]
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"column {column!r} holds {type(value).__name__}, not text")
    return value.split()
