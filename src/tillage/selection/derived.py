"""What generated and augmented records share: fresh keys and provenance columns.

Every derived record gets a key of its own that no existing record has, and a
provenance row: its key, ``derived_from`` (the text of its source record's key,
as label sets store record ids, or null when it has none), the ``action`` that
made it (``generate`` or ``augment``), and how (``generator`` or ``transform``).
The caller stores the provenance beside the records and adds the selection id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from tillage.errors import InputError


def fresh_keys(
    key_type: pa.DataType,
    n: int,
    taken: Iterable[pa.Array | pa.ChunkedArray],
    *,
    prefix: str,
) -> pa.Array:
    """``n`` new values of a key column, none of them among ``taken``.

    Integer keys continue after the largest key taken (1 when none is); string keys
    are ``{prefix}-1``, ``{prefix}-2``, ... skipping any that is taken, so the
    same inputs give the same keys.

    Args:
        key_type: the key column's type (an integer or string type).
        n: how many keys.
        taken: the key values that exist (the dataset's keys, as many arrays as
            convenient).
        prefix: the start of string keys (``generated``, ``augmented``).

    Raises:
        InputError: a key of another type, where no fresh value can be made up.
    """
    t = key_type.value_type if pa.types.is_dictionary(key_type) else key_type
    arrays = [c.cast(c.type.value_type) if pa.types.is_dictionary(c.type) else c for c in taken]
    if pa.types.is_integer(t):
        highs = [pc.max(a).as_py() for a in arrays if len(a)]
        start = max([h for h in highs if h is not None], default=0) + 1
        return pa.array(range(start, start + n), t)
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        used: set[str] = set()
        for a in arrays:
            used.update(v for v in pc.unique(a).to_pylist() if v is not None)
        out: list[str] = []
        i = 0
        while len(out) < n:
            i += 1
            candidate = f"{prefix}-{i}"
            if candidate not in used:
                out.append(candidate)
        return pa.array(out, t)
    raise InputError(
        f"cannot make up new keys of type {key_type}; derived records need an integer or "
        "string key. Key the dataset by an integer or string column."
    )


def provenance(
    key: str,
    keys: pa.Array,
    derived_from: pa.Array | None,
    action: str,
    how: tuple[str, Sequence[str]],
) -> pa.Table:
    """The provenance rows of derived records, aligned with ``keys``.

    Args:
        key: the key column's name.
        keys: the derived records' keys.
        derived_from: their source records' keys (any type; stored as text), or
            None when they have none.
        action: ``generate`` or ``augment``.
        how: the name of the column saying how (``generator`` or ``transform``)
            and its value per record.
    """
    sources = (
        pa.nulls(len(keys), pa.string())
        if derived_from is None
        else pc.cast(
            derived_from.cast(derived_from.type.value_type)
            if pa.types.is_dictionary(derived_from.type)
            else derived_from,
            pa.string(),
        )
    )
    column, values = how
    return pa.table(
        {
            key: keys,
            "derived_from": sources,
            "action": pa.array([action] * len(keys), pa.string()),
            column: pa.array(list(values), pa.string()),
        }
    )


def key_column(table: pa.Table, key: str, what: str) -> pa.ChunkedArray:
    """``table``'s key column ``key``, refused when absent (``what`` names the table)."""
    if key not in table.column_names:
        raise InputError(
            f"{what} has no key column {key!r} (columns: {', '.join(table.column_names)}); "
            "give the dataset's key."
        )
    return table.column(key)
