"""How step results are stored and recognised: references, artifacts, fingerprints.

A step's result is kept as a *reference*, a small JSON document in the catalog:

- ``{"v": value}``: small JSON values (numbers, strings, lists, dicts), inline;
- ``{"table": sha256}``: an Arrow table (or a pandas frame), as an Arrow IPC file;
- ``{"commit": id}``: a tillage `Commit`, read back from the catalog;
- ``{"pickle": sha256}``: anything else (a trained model, say), pickled.

Files live under ``.tillage/artifacts/`` named by the SHA-256 of their bytes,
so equal results are stored once. A *fingerprint* identifies a value for cache
keys: the hash of its stored form.

The reference in the catalog records that SHA-256, and a file is read back
only if its bytes still have it (`StoredValueError` otherwise): unpickling
runs code, so a changed file must never reach ``pickle.loads``. A plain
SHA-256 rather than an HMAC under a repository key: it catches every change
to a file by whoever (or whatever: a bad disk, a sync tool) can write the
artifacts but not the catalog, needs no key to copy between machines and
workers, and an HMAC key kept in the same repository would not stop someone
who can write the catalog, who can already change what a run does.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa

from tillage.core.commit import Commit
from tillage.errors import InputError, StoredValueError
from tillage.store.runs import RunStore

INLINE_LIMIT = 64 * 1024
"""JSON values up to this many bytes are kept in the catalog; larger ones are files."""


def _canonical(value: Any) -> str | None:
    """``value`` as canonical JSON, or None if it is not plain JSON data."""
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return None


def _is_plain(value: Any) -> bool:
    """Only types JSON gives back unchanged (tuples would come back as lists)."""
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


class Artifacts:
    """The content-addressed files of one repository."""

    def __init__(self, root: Path, store: RunStore) -> None:
        self.root = root
        self.store = store

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / sha

    def _write(self, data: bytes, kind: str) -> str:
        sha = hashlib.sha256(data).hexdigest()
        target = self.path(sha)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)  # atomic: a reader never sees half a file
            self.store.add_artifact(sha, kind, len(data))
        return sha

    def put(self, value: Any) -> dict[str, Any]:
        """Store ``value``; returns its reference."""
        if isinstance(value, Commit):
            return {"commit": value.id}
        if _is_plain(value):
            text = _canonical(value)
            if text is not None and len(text) <= INLINE_LIMIT:
                return {"v": value}
        table = _as_table(value)
        if table is not None:
            ref: dict[str, Any] = {"table": self._write(_ipc(table), "table")}
            if type(value).__module__.split(".")[0] == "pandas":
                ref["pandas"] = True
            return ref
        try:
            data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            raise InputError(
                f"a step returned a {type(value).__name__}, which cannot be stored ({e}); "
                "return plain data, an Arrow table, a data frame or a picklable object."
            ) from e
        return {"pickle": self._write(data, "pickle")}

    def _read(self, sha: str, run_id: str, step: str) -> bytes:
        """The bytes of artifact ``sha``, only if they still hash to ``sha``."""
        path = self.path(sha)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
            found = "nothing (the file is missing)"
        else:
            found = hashlib.sha256(data).hexdigest()
        if found != sha:
            raise StoredValueError(run_id, step, str(path), sha, found)
        return data

    def get(
        self, ref: dict[str, Any], load_commit: Any = None, *, run_id: str = "?", step: str = "?"
    ) -> Any:
        """The value a reference names (``load_commit`` reads a commit id back).

        ``run_id`` and ``step`` say whose value it is, for the error raised when
        the stored bytes have changed.

        Raises:
            StoredValueError: the file is missing or its bytes are not those stored.
        """
        if "v" in ref:
            return ref["v"]
        if "commit" in ref:
            return load_commit(ref["commit"]) if load_commit else ref["commit"]
        if "table" in ref:
            data = self._read(ref["table"], run_id, step)
            table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
            return table.to_pandas() if ref.get("pandas") else table
        if "pickle" in ref:
            return pickle.loads(self._read(ref["pickle"], run_id, step))
        raise InputError(f"unknown stored value {ref!r}")


def _as_table(value: Any) -> pa.Table | None:
    if isinstance(value, pa.Table):
        return value
    if type(value).__module__.split(".")[0] == "pandas" and type(value).__name__ == "DataFrame":
        return pa.Table.from_pandas(value)
    return None


def fingerprint(value: Any) -> str:
    """A short content hash of ``value`` for cache keys (equal content, equal hash)."""
    if isinstance(value, Commit):
        return "commit:" + value.id
    if _is_plain(value):
        text = _canonical(value)
        if text is not None:
            return "json:" + hashlib.sha256(text.encode()).hexdigest()
    table = _as_table(value)
    if table is not None:
        return "table:" + hashlib.sha256(_ipc(table)).hexdigest()
    try:
        return (
            "pickle:"
            + hashlib.sha256(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)).hexdigest()
        )
    except Exception:
        # Not picklable (a connection, a lock): identified by type only, never cached wrongly
        # because such a step input makes its step uncacheable (see the engine).
        return "unhashable:" + type(value).__qualname__


def ref_fingerprint(ref: dict[str, Any]) -> str:
    """The fingerprint of a stored value, from its reference (no need to load it)."""
    if "v" in ref:
        return fingerprint(ref["v"])
    if "commit" in ref:
        return "commit:" + str(ref["commit"])
    if "table" in ref:
        return "table:" + str(ref["table"])
    return "pickle:" + str(ref["pickle"])
