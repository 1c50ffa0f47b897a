"""Lineage: which data and code made a result, and what was built from a batch.

Built from what runs record: each step's input fingerprints, output reference,
the commits it read and wrote, and each run's merge commit. Nodes are commits,
steps and values (step results); edges point from what was used to what was
made. `lineage` walks them up (what made this) or down (what came of this).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from tillage.errors import InputError, NoSuchRefError, NoSuchRunError
from tillage.pipelines.values import ref_fingerprint
from tillage.repo import Repo
from tillage.store.runs import RunStore

Direction = Literal["up", "down"]


@dataclass
class Graph:
    """Nodes (id -> label) and edges (from -> to) of a lineage answer."""

    nodes: dict[str, str] = field(default_factory=dict)
    edges: set[tuple[str, str]] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [{"id": k, "label": v} for k, v in sorted(self.nodes.items())],
            "edges": [{"from": a, "to": b} for a, b in sorted(self.edges)],
        }

    def text(self, root: str, direction: Direction = "up") -> str:
        """An indented tree from ``root``: what it was made from (``up``) or what was made
        from it (``down``). A node met again is not expanded again: where it is first
        shown it gets a number, ``[1]``, and each later line says ``(as [1] above)``."""
        nexts: dict[str, list[str]] = {}
        for a, b in sorted(self.edges):
            if direction == "up":
                nexts.setdefault(b, []).append(a)
            else:
                nexts.setdefault(a, []).append(b)
        lines: list[tuple[int, str, bool]] = []  # depth, node, met before
        seen: set[str] = set()

        def walk(node: str, depth: int) -> None:
            lines.append((depth, node, node in seen))
            if node in seen:
                return
            seen.add(node)
            for n in nexts.get(node, []):
                walk(n, depth + 1)

        walk(root, 0)
        again = [node for _, node, repeat in lines if repeat]
        number = {node: i + 1 for i, node in enumerate(dict.fromkeys(again))}
        out = []
        for depth, node, repeat in lines:
            label = self.nodes.get(node, node)
            if node in number:
                label += f" (as [{number[node]}] above)" if repeat else f" [{number[node]}]"
            out.append("  " * depth + label)
        return "\n".join(out)

    def mermaid(self) -> str:
        ids = {n: f"n{i}" for i, n in enumerate(sorted(self.nodes))}
        lines = ["graph TD"]
        for n, label in sorted(self.nodes.items()):
            lines.append(f'  {ids[n]}["{_escape(label)}"]')
        lines += [f"  {ids[a]} --> {ids[b]}" for a, b in sorted(self.edges)]
        return "\n".join(lines)

    def dot(self) -> str:
        lines = ["digraph lineage {", "  rankdir=TB;"]
        for n, label in sorted(self.nodes.items()):
            lines.append(f'  "{_escape(n)}" [label="{_escape(label)}"];')
        lines += [f'  "{_escape(a)}" -> "{_escape(b)}";' for a, b in sorted(self.edges)]
        lines.append("}")
        return "\n".join(lines)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def _full_graph(repo: Repo, store: RunStore) -> Graph:
    g = Graph()
    messages: dict[str, str] = {}

    def commit_node(cid: str, dataset: str | None = None) -> str:
        node = f"commit:{cid}"
        if node not in g.nodes:
            if cid not in messages:
                try:
                    c = repo.refs.find_commit(cid)
                except NoSuchRefError:  # collected by gc since the run read it
                    c = None
                messages[cid] = c.message if c else "(gone)"
            what = f" {dataset}" if dataset else ""
            g.nodes[node] = f"commit {cid[:12]}{what}: {messages[cid]}"
        return node

    for run in reversed(store.runs()):  # oldest first: outputs exist before their uses
        # A run is where its steps come from (params, code): an edge into each step, so
        # walking up from any step reaches its run, and walking down from a run its steps.
        run_node = f"run:{run.id}"
        g.nodes[run_node] = f"run {run.id} {run.pipeline}({_params(run.params)}) {run.status}" + (
            f", code {run.code_sha[:12]}" if run.code_sha else ""
        )
        written: list[str] = []
        for s in store.steps(run.id):
            node = f"step:{run.id}/{s.seq}"
            g.nodes[node] = f"step {s.name} (run {run.id[:8]} #{s.seq}, {s.status})"
            g.edges.add((run_node, node))
            for r in s.reads:
                if r.get("commit"):
                    g.edges.add((commit_node(r["commit"], r.get("dataset")), node))
            for w in s.writes:
                written.append(commit_node(w["commit"], w.get("dataset")))
                g.edges.add((node, written[-1]))
            for fp in s.inputs:
                value = "value:" + fp.split("=", 1)[-1]
                if value in g.nodes:
                    g.edges.add((value, node))
            if s.output and not {"map", "restore"} & set(s.output):
                value = "value:" + ref_fingerprint(s.output)
                g.nodes.setdefault(value, _value_label(value))
                g.edges.add((node, value))
        merged = f"commit:{run.merged_commit}" if run.merged_commit else None
        if merged:
            commit_node(run.merged_commit or "")
            for w in written:  # the run's writes reached its branch through the merge
                if w != merged:
                    g.edges.add((w, merged))
    return g


def _value_label(node: str) -> str:
    kind, _, digest = node.removeprefix("value:").partition(":")
    return f"{kind} {digest[:12]}" if digest else kind


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items())


def lineage(repo: Repo, what: str, direction: Direction = "up") -> tuple[Graph, str]:
    """The lineage of ``what`` (a run id, a ref or commit id, or a value fingerprint).

    Returns the subgraph reachable from it in ``direction`` and its root node.
    """
    if direction not in ("up", "down"):
        raise InputError(f"direction must be 'up' or 'down', not {direction!r}.")
    store = RunStore(repo._storage.catalog.engine)
    full = _full_graph(repo, store)
    root = _root(repo, store, full, what)
    forward: dict[str, list[str]] = {}
    for a, b in full.edges:
        if direction == "down":
            forward.setdefault(a, []).append(b)
        else:
            forward.setdefault(b, []).append(a)
    sub = Graph()
    queue, seen = deque([root]), {root}
    while queue:
        node = queue.popleft()
        sub.nodes[node] = full.nodes.get(node, node)
        for nxt in forward.get(node, []):
            sub.edges.add((nxt, node) if direction == "up" else (node, nxt))
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return sub, root


def _root(repo: Repo, store: RunStore, g: Graph, what: str) -> str:
    if f"run:{what}" in g.nodes:
        return f"run:{what}"
    matches = [n for n in g.nodes if n.startswith(f"run:{what}")] if len(what) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    value = f"value:{what}"
    if value in g.nodes:
        return value
    values = [n for n in g.nodes if n.startswith("value:") and what in n] if len(what) >= 8 else []
    if len(values) == 1:
        return values[0]
    try:
        cid = repo.refs.resolve(what)
    except NoSuchRefError:
        raise NoSuchRunError(what) from None
    if cid is None:
        raise InputError(f"{what!r} has no commits yet, so it has no lineage.")
    node = f"commit:{cid}"
    if node not in g.nodes:
        c = repo.refs.commit(cid)
        g.nodes[node] = f"commit {cid[:12]}: {c.message}"
    return node
