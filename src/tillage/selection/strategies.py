"""Selection strategies: plain functions behind one interface, and their registry.

A strategy gets the pool as `Candidates` (record keys aligned with whatever the
model and the featurizer know of them), a batch size and a seeded random
generator, and returns `Pick`s, best first: which record, its score, a reason a
person can read ("margin 0.03 between iphone and android") and the action it
proposes (``label``, ``relabel``, ``remove``, ``augment``, ``generate``).

``needs`` says which parts of `Candidates` a strategy reads; the caller checks
them before it runs (a strategy that needs predictions on a version that has
none is an error naming the command that records them). Users add their own
with `register`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from numbers import Integral
from typing import TYPE_CHECKING, Any

from tillage.errors import InputError, NoSuchStrategyError, StrategyInputError

if TYPE_CHECKING:
    import numpy as np

ACTIONS: tuple[str, ...] = ("label", "relabel", "remove", "augment", "generate")
NEEDS: tuple[str, ...] = ("proba", "features", "committee", "labelled_features", "labels")


@dataclass(frozen=True, eq=False)
class Candidates:
    """The pool a strategy chooses from; every array is aligned with ``keys``.

    Attributes:
        keys: record ids of the pool.
        proba: the model's class probabilities, shape (n, k), or None.
        classes: the class names of ``proba``'s columns.
        features: the featurizer's vectors, shape (n, d), or None.
        committee: several models' probabilities, shape (m, n, k), or None.
        labelled_features: vectors of the records already labelled, shape (l, d), or
            None (core-set strategies cover the pool *and* these).
        labels: each record's current label (None where it has none), or None.
        extra: per-record arrays a strategy may ask for by name (``value`` for data
            valuation, ``label_quality``, ``slice_error`` ...).
    """

    keys: Sequence[str]
    proba: np.ndarray | None = None
    classes: tuple[str, ...] = ()
    features: np.ndarray | None = None
    committee: np.ndarray | None = None
    labelled_features: np.ndarray | None = None
    labels: Sequence[str | None] | None = None
    extra: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(frozen=True)
class Pick:
    """One chosen record: its position in `Candidates.keys`, score, reason and action."""

    position: int
    score: float
    reason: str
    action: str = "label"


Strategy = Callable[[Candidates, int, "np.random.Generator", Mapping[str, Any]], list[Pick]]
"""``strategy(candidates, n, rng, params) -> picks``, at most ``n``, best first."""


@dataclass(frozen=True)
class StrategyInfo:
    """A registered strategy: its function, what it reads and the action it proposes."""

    name: str
    function: Strategy
    needs: frozenset[str]
    action: str
    description: str

    def to_dict(self) -> dict[str, Any]:
        """The strategy as JSON-ready values."""
        return {
            "name": self.name,
            "needs": sorted(self.needs),
            "action": self.action,
            "description": self.description,
        }


_REGISTRY: dict[str, StrategyInfo] = {}


def register(
    name: str,
    function: Strategy,
    *,
    needs: Sequence[str] = (),
    action: str = "label",
    description: str = "",
) -> StrategyInfo:
    """Add (or replace) a strategy under ``name``.

    Args:
        name: how `repo.select` and ``tillage select --strategy`` name it.
        function: ``function(candidates, n, rng, params) -> list[Pick]``.
        needs: the parts of `Candidates` it reads (see `NEEDS`, or ``extra:NAME``).
        action: the action its picks propose by default (see `ACTIONS`).
        description: one line for ``tillage select --list``.

    Raises:
        InputError: an unknown need or action.
    """
    unknown = [n for n in needs if n not in NEEDS and not n.startswith("extra:")]
    if unknown:
        raise InputError(
            f"strategy {name!r} needs {', '.join(unknown)}, which candidates do not have; "
            f"use {', '.join(NEEDS)} or extra:NAME."
        )
    if action not in ACTIONS:
        raise InputError(f"strategy {name!r} proposes {action!r}; use one of {', '.join(ACTIONS)}.")
    info = StrategyInfo(name, function, frozenset(needs), action, description)
    _REGISTRY[name] = info
    return info


def get(name: str) -> StrategyInfo:
    """The strategy registered as ``name``.

    Raises:
        NoSuchStrategyError: none is.
    """
    _load_builtins()
    info = _REGISTRY.get(name)
    if info is None:
        raise NoSuchStrategyError(name, list(_REGISTRY))
    return info


def registered() -> list[StrategyInfo]:
    """Every registered strategy, by name."""
    _load_builtins()
    return [_REGISTRY[n] for n in sorted(_REGISTRY)]


def check(info: StrategyInfo, candidates: Candidates) -> None:
    """Refuse ``candidates`` that lack a part ``info`` reads, or whose parts do not fit.

    Every built-in strategy checks its own inputs the same way; callers check first so
    that nothing is computed (or written) before the refusal.

    Raises:
        StrategyInputError: names the missing or misshapen part and what supplies it.
    """
    needs = set(info.needs)
    if "features" in needs and candidates.labelled_features is not None:
        needs.add("labelled_features")  # read when given, and it must fit the features
    for need in sorted(needs):
        _need(candidates, need, info.name)


# -- the built-in strategies ------------------------------------------------------------
#
# Each is vectorized with numpy (imported inside the functions, so that `import tillage`
# stays fast): scores for the whole pool in a few array passes, the top n by `_top` (a
# partition, not a sort), and reasons written for the picks only.

MEASURES: tuple[str, ...] = ("margin", "least_confidence", "entropy")

_SUPPLIES: dict[str, tuple[str, str]] = {
    "proba": (
        "the model's class probabilities",
        "Record the model's predictions first (`tillage models predict MODEL DATASET`).",
    ),
    "features": (
        "the records' feature vectors",
        "Featurize the dataset first, or pass features= to the candidates.",
    ),
    "committee": (
        "several models' class probabilities, shape (models, records, classes)",
        "Record predictions of two or more models (or bootstrap models) on the pool.",
    ),
    "labelled_features": (
        "the feature vectors of the records already labelled",
        "Pass labelled_features= to the candidates.",
    ),
    "labels": ("each record's current label", "Pass labels= to the candidates."),
}


def _need(candidates: Candidates, need: str, strategy: str) -> Any:
    """The part ``need`` of ``candidates`` as an array, checked against the pool's size."""
    import numpy as np

    n = len(candidates)
    if need.startswith("extra:"):
        name = need.removeprefix("extra:")
        value: Any = candidates.extra.get(name)
        what = f"extra[{name!r}]"
        fix = f"Compute it per record and pass it as extra={{{name!r}: array}}."
        if value is None:
            have = ", ".join(sorted(candidates.extra)) or "none"
            raise StrategyInputError(
                strategy, f"it reads {what}, which the candidates lack (extras: {have})", fix
            )
    else:
        value = getattr(candidates, need)
        what, fix = _SUPPLIES[need]
        if value is None:
            raise StrategyInputError(strategy, f"it reads {what}, which the candidates lack", fix)
    if need == "labels":
        if len(value) != n:
            raise StrategyInputError(
                strategy, f"labels has {len(value):,} entries for {n:,} records", fix
            )
        return value
    arr = np.asarray(value)
    if need.startswith("extra:"):
        per_record = need != "extra:label_model_proba"  # the one extra with a row per record
        if not np.issubdtype(arr.dtype, np.number) or (per_record and arr.ndim != 1):
            raise StrategyInputError(
                strategy,
                f"{what} is not {'one number' if per_record else 'numbers'} per record "
                f"(shape {arr.shape}, {arr.dtype})",
                fix,
            )
    expected = {"proba": 2, "features": 2, "committee": 3, "labelled_features": 2}.get(need)
    if expected is not None and arr.ndim != expected:
        raise StrategyInputError(
            strategy, f"{what} has {arr.ndim} dimension(s), not {expected}", fix
        )
    rows = arr.shape[1] if need == "committee" else arr.shape[0] if arr.ndim else 0
    if need != "labelled_features" and rows != n:
        raise StrategyInputError(strategy, f"{what} has {rows:,} rows for {n:,} records", fix)
    if need in ("proba", "features", "committee", "labelled_features") and not bool(
        np.isfinite(arr).all()
    ):
        raise StrategyInputError(strategy, f"{what} holds NaN or infinite values", fix)
    if need == "proba" and candidates.classes and len(candidates.classes) != arr.shape[1]:
        raise StrategyInputError(
            strategy,
            f"proba has {arr.shape[1]} columns for {len(candidates.classes)} classes",
            "Give one class name per column of proba.",
        )
    if need == "labelled_features" and candidates.features is not None:
        d = np.shape(candidates.features)[-1]
        if arr.shape[1] != d:
            raise StrategyInputError(
                strategy, f"labelled_features has {arr.shape[1]} dimensions, features {d}", fix
            )
    return arr


def _scores(candidates: Candidates, extra: str, strategy: str) -> np.ndarray:
    """``extra[extra]`` as one float per record (`_need` checked its shape and type)."""
    out: np.ndarray = _need(candidates, f"extra:{extra}", strategy).astype(float)
    return out


def _params(strategy: str, params: Mapping[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """``defaults`` overridden by ``params``; a name the strategy does not take is refused."""
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        takes = ", ".join(defaults) or "none"
        raise StrategyInputError(
            strategy,
            f"it takes no parameter {', '.join(map(repr, unknown))}",
            f"Its parameters: {takes}.",
        )
    out = {**defaults, **params}
    if "measure" in out and out["measure"] not in MEASURES:
        raise StrategyInputError(
            strategy, f"measure {out['measure']!r} is unknown", f"Use one of {', '.join(MEASURES)}."
        )
    return out


def _count(strategy: str, n: int, pool: int) -> int:
    if n < 0:
        raise StrategyInputError(strategy, f"n is {n}", "Ask for 0 or more records.")
    return min(n, pool)


def _top(score: np.ndarray, n: int, secondary: np.ndarray | None = None) -> np.ndarray:
    """Positions of the ``n`` highest scores, best first; NaN never chosen.

    Ties go to the higher ``secondary``, then to the earlier position, so the order does
    not depend on how numpy partitions.
    """
    import numpy as np

    valid = ~np.isnan(score)
    n = min(n, int(valid.sum()))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    s = np.where(valid, score, -np.inf)
    if n < len(s):
        kth = np.partition(s, len(s) - n)[len(s) - n]
        idx = np.flatnonzero(valid & (s >= kth))
    else:
        idx = np.flatnonzero(valid)
    keys = [idx, -s[idx]] if secondary is None else [idx, -secondary[idx], -s[idx]]
    out: np.ndarray = idx[np.lexsort(keys)[:n]]
    return out


def _uncertainty(proba: np.ndarray, measure: str) -> np.ndarray:
    """Per record, higher is less sure: 1 - margin, 1 - top probability, or entropy (nats)."""
    import numpy as np

    k = proba.shape[1]
    if measure == "entropy":
        p = np.clip(proba, 1e-12, 1.0)
        out: np.ndarray = -(proba * np.log(p)).sum(axis=1)
        return out
    if k == 1:
        return 1.0 - proba[:, 0]
    two = np.partition(proba, k - 2, axis=1)[:, k - 2 :]
    if measure == "least_confidence":
        return 1.0 - two[:, 1]
    return 1.0 - (two[:, 1] - two[:, 0])


def _f(x: float) -> str:
    """A probability or score for a reason: two decimals, more when that would read 0.00."""
    return f"{x:.2g}" if 0 < abs(x) < 0.005 else f"{x:.2f}"


def _class(candidates: Candidates, j: int) -> str:
    return candidates.classes[j] if j < len(candidates.classes) else f"class {j}"


def _why_unsure(candidates: Candidates, row: np.ndarray, measure: str) -> str:
    """ "margin 0.03 between iphone (0.51) and android (0.48)", and the like, for one record."""
    import numpy as np

    order = np.argsort(-row, kind="stable")
    a = int(order[0])
    if len(row) == 1:
        return f"{_class(candidates, a)} at {_f(float(row[a]))}"
    b = int(order[1])
    pa, pb = float(row[a]), float(row[b])
    ca, cb = _class(candidates, a), _class(candidates, b)
    if measure == "least_confidence":
        return f"top class {ca} at only {_f(pa)} (then {cb} {_f(pb)})"
    if measure == "entropy":
        h = float(-(row * np.log(np.clip(row, 1e-12, 1.0))).sum())
        return (
            f"entropy {_f(h)} of at most {_f(float(np.log(len(row))))}: "
            f"{ca} {_f(pa)}, {cb} {_f(pb)}"
        )
    return f"margin {_f(pa - pb)} between {ca} ({_f(pa)}) and {cb} ({_f(pb)})"


def _uncertainty_picks(
    measure: str, candidates: Candidates, n: int, params: Mapping[str, Any]
) -> list[Pick]:
    _params(measure, params, {})
    proba = _need(candidates, "proba", measure)
    n = _count(measure, n, len(candidates))
    score = _uncertainty(proba, measure)
    return [
        Pick(int(i), float(score[i]), _why_unsure(candidates, proba[i], measure))
        for i in _top(score, n)
    ]


def least_confidence(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The records whose most likely class is least likely (score: 1 - top probability)."""
    return _uncertainty_picks("least_confidence", candidates, n, params)


def margin(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The records whose two likeliest classes are closest (score: 1 - their margin)."""
    return _uncertainty_picks("margin", candidates, n, params)


def entropy(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The records whose class probabilities have the highest entropy (nats)."""
    return _uncertainty_picks("entropy", candidates, n, params)


def committee(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The records the committee's members disagree on most.

    ``method="vote_entropy"`` (default) ranks by the entropy of the members' votes,
    ties broken by the mean KL divergence of each member to the consensus (the mean of
    their probabilities); ``method="kl"`` ranks by that mean KL alone.
    """
    import numpy as np

    p = _params("committee", params, {"method": "vote_entropy"})
    if p["method"] not in ("vote_entropy", "kl"):
        raise StrategyInputError(
            "committee", f"method {p['method']!r} is unknown", "Use vote_entropy or kl."
        )
    members = _need(candidates, "committee", "committee")
    n = _count("committee", n, len(candidates))
    m, _, k = members.shape
    if m < 2:
        raise StrategyInputError(
            "committee", f"a committee of {m} model cannot disagree", "Give two or more models."
        )
    consensus = members.mean(axis=0)
    logs = np.log(np.clip(members, 1e-12, 1.0)) - np.log(np.clip(consensus, 1e-12, 1.0))
    kl = (members * logs).sum(axis=2).mean(axis=0)
    votes = members.argmax(axis=2)
    counts = np.stack([(votes == j).sum(axis=0) for j in range(k)], axis=1)
    share = counts / m
    vote_entropy = -(share * np.log(np.where(share > 0, share, 1.0))).sum(axis=1)
    order = _top(kl, n) if p["method"] == "kl" else _top(vote_entropy, n, secondary=kl)
    picks: list[Pick] = []
    for i in order:
        split = " / ".join(
            f"{int(counts[i, j])} {_class(candidates, int(j))}"
            for j in np.argsort(-counts[i], kind="stable")
            if counts[i, j] > 0
        )
        lead = int(consensus[i].argmax())
        if p["method"] == "kl":
            score = float(kl[i])
            reason = (
                f"mean KL {_f(score)} of the {m} models to their consensus "
                f"({_class(candidates, lead)} {_f(float(consensus[i, lead]))}); votes {split}"
            )
        else:
            score = float(vote_entropy[i])
            reason = f"committee of {m} split {split} (vote entropy {_f(score)})"
        picks.append(Pick(int(i), score, reason))
    return picks


def label_model_vs_classifier(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The records where the label model and the classifier disagree most.

    Score: total variation distance between ``extra["label_model_proba"]`` and
    ``proba`` (same classes, same column order). Rows of the label model holding NaN
    (no labeling function voted) are never chosen.
    """
    import numpy as np

    name = "label_model_vs_classifier"
    _params(name, params, {})
    proba = _need(candidates, "proba", name)
    lm = _need(candidates, "extra:label_model_proba", name)
    if lm.shape != proba.shape:
        raise StrategyInputError(
            name,
            f"extra['label_model_proba'] has shape {lm.shape}, proba {proba.shape}",
            "Give the label model's probabilities over the same classes, in the same order.",
        )
    n = _count(name, n, len(candidates))
    score = 0.5 * np.abs(lm.astype(float) - proba).sum(axis=1)
    picks: list[Pick] = []
    for i in _top(score, n):
        a, b = int(lm[i].argmax()), int(proba[i].argmax())
        ca, cb = _class(candidates, a), _class(candidates, b)
        if a == b:
            said = f"both say {ca}, label model {_f(float(lm[i, a]))} vs classifier"
            said += f" {_f(float(proba[i, b]))}"
        else:
            said = f"label model says {ca} {_f(float(lm[i, a]))}, classifier says {cb}"
            said += f" {_f(float(proba[i, b]))}"
        picks.append(Pick(int(i), float(score[i]), f"{said} (distance {_f(float(score[i]))})"))
    return picks


def lf_conflict(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The records whose labeling functions conflict most (``extra["lf_conflict"]``).

    The caller computes the per-record conflict score (for example the share of
    non-abstaining votes against the majority); records scored 0 have no conflict and
    are never chosen, so fewer than ``n`` may come back.
    """
    import numpy as np

    _params("lf_conflict", params, {})
    conflict = _scores(candidates, "lf_conflict", "lf_conflict")
    n = _count("lf_conflict", n, len(candidates))
    score = np.where(conflict > 0, conflict, np.nan)
    return [
        Pick(int(i), float(score[i]), f"labeling functions conflict (score {_f(float(score[i]))})")
        for i in _top(score, n)
    ]


def _sq_norms(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = (x * x).sum(axis=1)
    return out


def _sq_dist_to(x: np.ndarray, sq: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Squared distances of every row of ``x`` to the point ``c`` (one mat-vec product)."""
    import numpy as np

    out: np.ndarray = x @ c
    out *= -2.0
    out += sq
    out += float(c @ c)
    np.maximum(out, 0.0, out=out)
    return out


def _sq_dist_to_set(x: np.ndarray, sq: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Each row of ``x``'s squared distance to its nearest row of ``others``, in blocks."""
    import numpy as np

    out = np.full(len(x), np.inf, dtype=x.dtype)
    osq = _sq_norms(others)
    block = max(1, (1 << 22) // max(1, len(others)))
    for start in range(0, len(x), block):
        stop = start + block
        d = x[start:stop] @ others.T
        d *= -2.0
        d += osq
        out[start:stop] = np.maximum(d.min(axis=1) + sq[start:stop], 0.0)
    return out


def kcenter(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """Greedy k-center (core-set): each pick is the record farthest from all chosen so far.

    Distances are Euclidean in feature space. With ``labelled_features`` the labelled
    records count as chosen from the start; without them the first centre is drawn at
    random (``rng``). Covers the pool with ``n`` balls as small as greedy can make them.
    """
    import numpy as np

    _params("kcenter", params, {})
    x = _need(candidates, "features", "kcenter").astype(np.float32, copy=False)
    n = _count("kcenter", n, len(candidates))
    if n == 0:
        return []
    sq = _sq_norms(x)
    labelled = candidates.labelled_features
    if labelled is not None and len(labelled):
        done = _need(candidates, "labelled_features", "kcenter").astype(np.float32, copy=False)
        nearest = _sq_dist_to_set(x, sq, done)
        chosen = int(nearest.argmax())
        since = "labelled"
    else:
        nearest = np.full(len(x), np.inf, dtype=np.float32)
        chosen = int(rng.integers(len(x)))
        since = ""
    picks: list[Pick] = []
    while True:
        if np.isfinite(nearest[chosen]):
            gap = float(np.sqrt(nearest[chosen]))
            why = f"k-center: {_f(gap)} from the nearest {since or 'chosen'} record"
        else:
            gap, why = 0.0, "k-center: the first centre, drawn at random"
        picks.append(Pick(chosen, gap, why))
        if len(picks) == n:
            return picks
        nearest = np.minimum(nearest, _sq_dist_to(x, sq, x[chosen]))
        nearest[chosen] = -1.0
        chosen = int(nearest.argmax())
        if since:
            since = "labelled or chosen"


def uncertain_diverse(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The most uncertain candidates, spread out in feature space by k-means++ seeding.

    Takes the ``multiple`` × ``n`` most uncertain records (by ``measure``), starts from
    the most uncertain of them, then draws each next pick with probability proportional
    to its squared distance from the picks so far, so a batch does not spend its labels
    on near-duplicates. Parameters: ``measure`` (margin), ``multiple`` (10).
    """
    import numpy as np

    name = "uncertain_diverse"
    p = _params(name, params, {"measure": "margin", "multiple": 10})
    multiple = p["multiple"]
    if isinstance(multiple, bool) or not isinstance(multiple, Integral) or multiple < 1:
        raise StrategyInputError(
            name, f"multiple is {multiple!r}", "Give a whole number of 1 or more."
        )
    proba = _need(candidates, "proba", name)
    x = _need(candidates, "features", name)
    n = _count(name, n, len(candidates))
    if n == 0:
        return []
    score = _uncertainty(proba, p["measure"])
    pool = _top(score, n * int(multiple))
    xs = x[pool].astype(np.float64)
    sq = _sq_norms(xs)
    nearest = np.full(len(pool), np.inf)
    picks: list[Pick] = []
    j = 0
    for _ in range(n):
        i = int(pool[j])
        gap = float(np.sqrt(nearest[j])) if picks else 0.0
        why = _why_unsure(candidates, proba[i], p["measure"])
        if picks:
            why += f"; {_f(gap)} from the nearest other pick"
        picks.append(Pick(i, float(score[i]), why))
        nearest = np.minimum(nearest, _sq_dist_to(xs, sq, xs[j]))
        nearest[j] = 0.0
        total = float(nearest.sum())
        if len(picks) == n:
            break
        if total > 0:
            j = int(rng.choice(len(pool), p=nearest / total))
        else:  # all that is left duplicates a pick: take them by uncertainty
            taken = {pk.position for pk in picks}
            j = next(k for k in range(len(pool)) if int(pool[k]) not in taken)
    return picks


def class_balanced(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """An equal quota of records per predicted class, the most uncertain within each.

    A class with fewer records than its quota gives the rest to the others. Picks are
    dealt round by round, one per class, the most uncertain next record first.
    Parameter: ``measure`` (margin).
    """
    import numpy as np

    name = "class_balanced"
    p = _params(name, params, {"measure": "margin"})
    proba = _need(candidates, "proba", name)
    n = _count(name, n, len(candidates))
    score = _uncertainty(proba, p["measure"])
    predicted = proba.argmax(axis=1)
    queues: list[np.ndarray] = []
    for j in range(proba.shape[1]):
        own = np.where(predicted == j, score, np.nan)
        queues.append(_top(own, n))
    heads = [0] * len(queues)
    dealt: list[tuple[int, int]] = []
    while len(dealt) < n:
        live = [j for j, q in enumerate(queues) if heads[j] < len(q)]
        if not live:
            break
        live.sort(key=lambda j: -float(score[queues[j][heads[j]]]))
        for j in live[: n - len(dealt)]:
            dealt.append((j, int(queues[j][heads[j]])))
            heads[j] += 1
    quota = [heads[j] for j in range(len(queues))]
    seen = [0] * len(queues)
    picks: list[Pick] = []
    for j, i in dealt:
        seen[j] += 1
        why = f"{seen[j]} of {quota[j]} predicted {_class(candidates, j)}; " + _why_unsure(
            candidates, proba[i], p["measure"]
        )
        picks.append(Pick(i, float(score[i]), why))
    return picks


def slice_targeted(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """Records of the slices where the model does worst first (``extra["slice_error"]``).

    ``slice_error`` is each record's slice's error rate (error analysis computes it);
    records of one slice come in random order (``rng``). An optional
    ``extra["slice"]`` names each record's slice for the reason; an empty name is a
    record in none of the worst slices (its ``slice_error`` the overall error).
    """
    name = "slice_targeted"
    _params(name, params, {})
    err = _scores(candidates, "slice_error", name)
    n = _count(name, n, len(candidates))
    names = candidates.extra.get("slice")
    order = _top(err, n, secondary=rng.random(len(err)))
    picks: list[Pick] = []
    for i in order:
        rate = _f(float(err[i]))
        if names is not None and not names[i]:
            reason = f"in none of the worst slices (error {rate} overall)"
        else:
            where = f"slice {names[i]}" if names is not None else "a slice"
            reason = f"in {where} with error {rate}"
        picks.append(Pick(int(i), float(err[i]), reason))
    return picks


def _lowest_first(
    candidates: Candidates, n: int, name: str, extra: str
) -> tuple[np.ndarray, np.ndarray]:
    """``extra``'s values and the positions of the ``n`` lowest, lowest first."""
    values = _scores(candidates, extra, name)
    n = _count(name, n, len(candidates))
    return values, _top(-values, n)


def label_error(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """Likely label errors, lowest label quality first, proposed for relabelling.

    Reads ``extra["label_quality"]`` (for example self-confidence from ``labels
    issues``); ``labels`` and ``proba``, when given, go into the reason.
    """
    _params("label_error", params, {})
    quality, order = _lowest_first(candidates, n, "label_error", "label_quality")
    picks: list[Pick] = []
    for i in order:
        parts = [f"label quality {_f(float(quality[i]))}"]
        if candidates.labels is not None and candidates.labels[i] is not None:
            parts.append(f"labelled {candidates.labels[i]}")
        if candidates.proba is not None:
            j = int(candidates.proba[i].argmax())
            parts.append(f"model says {_class(candidates, j)} {_f(float(candidates.proba[i, j]))}")
        picks.append(Pick(int(i), float(quality[i]), ", ".join(parts), "relabel"))
    return picks


def low_value(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """The records of lowest data value (``extra["value"]``), proposed for removal."""
    _params("low_value", params, {})
    value, order = _lowest_first(candidates, n, "low_value", "value")
    total = len(candidates)
    return [
        Pick(
            int(i),
            float(value[i]),
            f"data value {float(value[i]):.3g}, the {_ordinal(rank + 1)} lowest of {total:,}",
            "remove",
        )
        for rank, i in enumerate(order)
    ]


def _ordinal(k: int) -> str:
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k:,}{suffix}"


def random_picks(
    candidates: Candidates, n: int, rng: np.random.Generator, params: Mapping[str, Any]
) -> list[Pick]:
    """Uniformly random records: the baseline every report shows beside the chosen strategy."""
    _params("random", params, {})
    order = rng.permutation(len(candidates))[: _count("random", n, len(candidates))]
    return [Pick(int(i), 0.0, "chosen at random (baseline)") for i in order]


_BUILTINS_LOADED = False


def _load_builtins() -> None:
    """Register the strategies that ship with tillage (once, on first lookup)."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    for name, info in _builtins().items():
        _REGISTRY.setdefault(name, info)


def _builtins() -> dict[str, StrategyInfo]:
    rows: list[tuple[str, Strategy, tuple[str, ...], str, str]] = [
        ("random", random_picks, (), "label", "uniformly random (the baseline)"),
        ("least_confidence", least_confidence, ("proba",), "label", "lowest top probability"),
        ("margin", margin, ("proba",), "label", "smallest gap between the two likeliest classes"),
        ("entropy", entropy, ("proba",), "label", "highest entropy of the class probabilities"),
        (
            "committee",
            committee,
            ("committee",),
            "label",
            "most disagreement among several models (vote entropy, or mean KL)",
        ),
        (
            "label_model_vs_classifier",
            label_model_vs_classifier,
            ("proba", "extra:label_model_proba"),
            "label",
            "where the label model and the classifier disagree most",
        ),
        (
            "lf_conflict",
            lf_conflict,
            ("extra:lf_conflict",),
            "label",
            "where the labeling functions conflict most",
        ),
        (
            "kcenter",
            kcenter,
            ("features",),
            "label",
            "greedy k-center core-set: farthest from everything labelled or chosen",
        ),
        (
            "uncertain_diverse",
            uncertain_diverse,
            ("proba", "features"),
            "label",
            "the most uncertain, spread out by k-means++ seeding in feature space",
        ),
        (
            "class_balanced",
            class_balanced,
            ("proba",),
            "label",
            "an equal quota per predicted class, most uncertain within each",
        ),
        (
            "slice_targeted",
            slice_targeted,
            ("extra:slice_error",),
            "label",
            "records of the slices where the model does worst",
        ),
        (
            "label_error",
            label_error,
            ("extra:label_quality",),
            "relabel",
            "likely label errors, lowest label quality first",
        ),
        ("low_value", low_value, ("extra:value",), "remove", "lowest data value first"),
    ]
    return {
        name: StrategyInfo(name, function, frozenset(needs), action, description)
        for name, function, needs, action, description in rows
    }
