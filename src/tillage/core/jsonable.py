"""Any value tillage hands out as plain JSON data: the one converter.

`jsonable` turns what results, findings, rows and settings hold into the types
``json.dumps`` takes with ``allow_nan=False``. The CLI's ``--json``, the catalog's
JSON columns, alert sinks, diffs and schema normal forms all go through it, so a
value reads the same wherever it appears:

================================== =============================================
value                              JSON
================================== =============================================
None, bool, int, str               as they are (str enums are str)
float                              as it is; NaN and ±infinity become null
                                   (JSON has no such numbers)
Mapping                            object, keys as text
list, tuple                        array
set, frozenset                     array, sorted (by text form if unorderable)
datetime, date, time               ISO 8601 text; datetimes with their zone and
                                   ``time_sep`` between date and time
timedelta                          seconds, a number
bytes, bytearray, memoryview       base64 text
Decimal, Path                      text
Enum                               its value
object with ``to_dict()``          what ``to_dict()`` returns, converted
dataclass instance                 its fields (``dataclasses.asdict``)
numpy scalar or array              its Python value(s) (``tolist()``)
pyarrow scalar                     its Python value (``as_py()``)
anything else                      its ``str()``
================================== =============================================
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any


def jsonable(value: Any, *, time_sep: str = "T") -> Any:
    """``value`` as plain JSON data (see the module doc for each type).

    ``time_sep``: what separates a datetime's date and time; ``" "`` where text
    people read or stored values are written that way (schema files, diffs).
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Enum):
        return jsonable(value.value, time_sep=time_sep)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, time_sep=time_sep) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v, time_sep=time_sep) for v in value]
    if isinstance(value, set | frozenset):
        items = [jsonable(v, time_sep=time_sep) for v in value]
        try:
            return sorted(items)
        except TypeError:
            return sorted(items, key=str)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=time_sep)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal | PurePath):
        return str(value)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict) and not isinstance(value, type):
        return jsonable(to_dict(), time_sep=time_sep)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), time_sep=time_sep)
    as_py = getattr(value, "as_py", None)
    if callable(as_py):  # pyarrow scalars
        return jsonable(as_py(), time_sep=time_sep)
    tolist = getattr(value, "tolist", None)
    if callable(tolist):  # numpy scalars and arrays
        return jsonable(tolist(), time_sep=time_sep)
    return str(value)
