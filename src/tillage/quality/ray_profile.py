"""Profiling a dataset version on Ray: one task per Lance fragment, profiles merged.

Profiles merge, so a version's profile is the merge of its fragments'
profiles; each Ray task opens the same pinned version and profiles one
fragment, in parallel across the cluster (``RAY_ADDRESS``, else a local one).
Needs Ray: ``pip install 'tillage[ray]'``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tillage.core.commit import DatasetPin
from tillage.errors import InputError
from tillage.quality.profile import Profile, profile_table
from tillage.store.tables import Tables


def _profile_fragment(root: str, dataset: str, pin: DatasetPin, fragment_id: int) -> bytes:
    ds = Tables(Path(root)).open(dataset, pin)
    return profile_table(ds.get_fragment(fragment_id).to_table()).to_bytes()


def ray_session(what: str) -> Any:
    """The ``ray`` module, connected to ``RAY_ADDRESS`` or a local cluster started once."""
    try:
        import ray
    except ImportError:
        raise InputError(
            f"{what} needs Ray: pip install 'tillage[ray]' (or run without Ray)."
        ) from None
    if not ray.is_initialized():
        ray.init(
            address=os.environ.get("RAY_ADDRESS"),
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
        )
    return ray


def profile_on_ray(tables: Tables, dataset: str, pin: DatasetPin) -> Profile:
    """The profile of ``dataset`` at ``pin``, computed fragment by fragment on Ray."""
    ray = ray_session("profiling on Ray")
    ds = tables.open(dataset, pin)
    remote: Any = ray.remote(_profile_fragment)
    refs = [
        remote.remote(str(tables.root), dataset, pin, f.fragment_id) for f in ds.get_fragments()
    ]
    if not refs:
        return profile_table(ds.schema.empty_table())
    return Profile.merge_all(Profile.from_bytes(b) for b in ray.get(refs))
