"""Rules for the names users give to datasets, branches and tags."""

from __future__ import annotations

import re

from tillage.errors import InvalidNameError

_DATASET = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,127}$")


def check_dataset_name(name: str) -> str:
    """Return ``name`` if it can name a dataset, else raise `InvalidNameError`."""
    if not _DATASET.match(name):
        raise InvalidNameError(
            name, "dataset", "use letters, digits, '_' or '-', starting with a letter or '_'"
        )
    return name


def check_ref_name(name: str, what: str) -> str:
    """Return ``name`` if it can name a branch or tag, else raise `InvalidNameError`."""
    bad = (
        not _REF.match(name)
        or ".." in name
        or name.endswith(("/", ".", ".lock"))
        or "//" in name
        or name == "HEAD"
        or "~" in name
    )
    # A 64-hex name would be ambiguous with a commit id.
    if bad or re.fullmatch(r"[0-9a-f]{12,64}", name):
        raise InvalidNameError(
            name,
            what,
            "use letters, digits, '_', '-', '.' or '/', not '..', '~', 'HEAD' or a commit id",
        )
    return name
