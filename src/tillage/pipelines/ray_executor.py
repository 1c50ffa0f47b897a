"""Map steps on Ray: items go to a Ray cluster in chunks, results come back in order.

Ray is optional (``pip install 'tillage[ray]'``). The cluster is the one
``RAY_ADDRESS`` names, else a local one started on first use. Checkpointing
stays with the run (the engine stores results as they come back), so a map on
Ray resumes exactly like one in-process.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from tillage.quality.ray_profile import ray_session

IN_FLIGHT_PER_CPU = 4
"""Chunks submitted ahead per CPU: enough to keep workers busy, few enough to bound memory."""


def _call_chunk(fn: Callable[..., Any], chunk: list[Any], kwargs: dict[str, Any]) -> list[Any]:
    return [fn(item, **kwargs) for item in chunk]


def in_ray(
    fn: Callable[..., Any], items: list[Any], todo: list[int], kwargs: dict[str, Any]
) -> Iterator[tuple[int, Any]]:
    """Yield ``(index, fn(items[index]))`` for ``todo``, in order, computed on Ray."""
    ray = ray_session("the ray executor")
    module = sys.modules.get(fn.__module__)
    if module is not None and getattr(module, "_tillage_file", False):
        # Loaded from a file, not importable by name on Ray's workers: ship it by value.
        ray.cloudpickle.register_pickle_by_value(module)
    cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
    size = max(1, min(1000, len(todo) // (cpus * IN_FLIGHT_PER_CPU) or 1))
    chunks = [todo[i : i + size] for i in range(0, len(todo), size)]
    remote = ray.remote(_call_chunk)
    fn_ref = ray.put(fn)
    pending: deque[tuple[list[int], Any]] = deque()
    nxt = 0
    while nxt < len(chunks) or pending:
        while nxt < len(chunks) and len(pending) < cpus * IN_FLIGHT_PER_CPU:
            idx = chunks[nxt]
            pending.append((idx, remote.remote(fn_ref, [items[i] for i in idx], kwargs)))
            nxt += 1
        idx, ref = pending.popleft()
        yield from zip(idx, ray.get(ref), strict=True)
