"""Rules for the names users give to datasets, label sets, taxonomies, tasks, branches and tags,
and for the refs they pass to name a commit."""

from __future__ import annotations

import re

from tillage.errors import InvalidNameError, InvalidRefError

_DATASET = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,127}$")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-/]{0,127}$")
_COMMIT_PREFIX = re.compile(r"[0-9a-fA-F]{4,64}")


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it can name a ``what`` (dataset, label set, taxonomy, task).

    The rule keeps names safe as file and table names: no path separators, no
    ``..``, nothing empty.

    Raises:
        InvalidNameError: otherwise.
    """
    if not isinstance(name, str) or not _DATASET.fullmatch(name):
        raise InvalidNameError(
            name, what, "use letters, digits, '_' or '-', starting with a letter or '_'"
        )
    return name


#: Dataset names tillage writes itself, and what it keeps there: a user's dataset (or
#: label set) of such a name is refused when it would be created.
RESERVED_NAMES: dict[str, str] = {"selections": "the stored selections"}
RESERVED_SUFFIXES: dict[str, str] = {
    "-predictions": "a model's predictions (MODEL-predictions)",
    "-values": "a dataset's data values (DATASET-values)",
}


def check_unreserved(name: str, what: str) -> str:
    """Return ``name`` if tillage does not keep a dataset of its own under it.

    Raises:
        InvalidNameError: ``name`` is ``selections`` or ends in ``-predictions`` or
            ``-values``.
    """
    kept = RESERVED_NAMES.get(name) or next(
        (v for k, v in RESERVED_SUFFIXES.items() if isinstance(name, str) and name.endswith(k)),
        None,
    )
    if kept is not None:
        raise InvalidNameError(
            name, what, f"tillage keeps {kept} under that name; choose another name"
        )
    return name


def check_dataset_name(name: str) -> str:
    """Return ``name`` if it can name a dataset, else raise `InvalidNameError`."""
    return check_name(name, "dataset")


def check_ref(ref: str, what: str = "ref") -> str:
    """Return ``ref`` if it can name a commit; an empty ref is an error, never HEAD.

    Raises:
        InvalidRefError: ``ref`` is empty, blank or not text.
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidRefError(ref, what)
    return ref


def is_commit_prefix(text: str) -> bool:
    """Whether ``text`` can be a commit id or a prefix of one (4 to 64 hex digits)."""
    return _COMMIT_PREFIX.fullmatch(text) is not None


def check_ref_name(name: str, what: str) -> str:
    """Return ``name`` if it can name a branch or tag, else raise `InvalidNameError`."""
    bad = (
        not _REF.fullmatch(name)
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


PREDICTIONS_SUFFIX = "-predictions"


def predictions_dataset(model: str) -> str:
    """The dataset that holds model ``model``'s predictions."""
    return f"{model}{PREDICTIONS_SUFFIX}"
