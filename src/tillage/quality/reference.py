"""Which data a batch or a version is compared with: the drift reference.

A reference is either a *window* (the batches the last N commits that changed
the dataset wrote, merged) or one *version* (the dataset's whole version at a
ref, or at the commit a recorded model was trained on, ``model:NAME``). The
``quality.reference`` setting gives the default; a call may name its own. The
repository resolves refs and loads profiles; this module only chooses.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tillage.core.commit import Commit
from tillage.errors import InputError
from tillage.quality.settings import parse_reference


@dataclass(frozen=True)
class Reference:
    """What to compare with: ``window`` batches before, or the version ``against`` names."""

    against: str | None = None
    window: int | None = None


def choose(against: str | None, window: int | None, setting: str) -> Reference:
    """The reference a drift comparison asked for, or the configured one.

    Args:
        against: a ref or ``model:NAME`` the caller named.
        window: a number of earlier batches the caller named.
        setting: the ``quality.reference`` setting.

    Raises:
        InputError: both given, a window below 1, or neither given and none configured.
    """
    if against is not None and window is not None:
        raise InputError("give either --against REF or --window N, not both.")
    if window is not None and window < 1:
        raise InputError(f"--window must be a positive number of commits, not {window}.")
    if against is not None or window is not None:
        return Reference(against, window)
    kind, arg = parse_reference(setting)
    if kind == "none":
        raise InputError(
            "no reference to compare with: pass --against REF or --window N, or set "
            "quality.reference in .tillage/config.yaml."
        )
    if kind == "window":
        assert isinstance(arg, int)
        return Reference(window=arg)
    return Reference(against=setting)


def for_ingest(setting: str) -> Reference | None:
    """What ingest compares a batch of data with (None: nothing).

    Label sets are not compared so: each batch of label events comes from one
    source (an import, an annotator, a model), so a batch against the ones before
    compares sources, not labels; they get `tillage.labels.checks` instead.
    """
    kind, arg = parse_reference(setting)
    if kind == "none":
        return None
    if kind == "window":
        assert isinstance(arg, int)
        return Reference(window=arg)
    return Reference(against=setting)


def window_commits(dataset: str, history: Iterable[Commit], n: int) -> list[Commit]:
    """The last ``n`` commits of ``history`` (newest first) that changed ``dataset``."""
    found: list[Commit] = []
    for c in history:
        if dataset in c.changes:
            found.append(c)
            if len(found) == n:
                break
    return found


def window_name(commits: list[Commit]) -> str:
    """How findings name a window reference."""
    return f"the {len(commits)} previous batch(es) up to {commits[0].short_id}"


def model_name(name: str, commit_id: str) -> str:
    """How findings name the data a model was trained on."""
    return f"model {name} (data {commit_id[:12]})"


def version_name(spec: str, commit: Commit) -> str:
    """How findings name a dataset's version at a ref."""
    return f"{spec} ({commit.short_id})"
