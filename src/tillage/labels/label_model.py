"""Label models: one label per record from labeling functions' votes, or from annotators.

`LabelModel` combines labeling functions (LFs) with the Dawid-Skene core
(`tillage.labels.dawid_skene`). Plain Dawid-Skene, and Snorkel's label model,
do *worse* than a majority vote on real LFs, for three reasons this model
addresses one by one:

1. **Abstains carry the information.** Most LFs vote for one class only. If
   abstains are ignored (crowd-kit's Dawid-Skene, MACE), such an LF always says
   the same thing and tells nothing. Here "abstain" is an output of its own:
   each LF has a firing rate per true class, so firing is evidence for its class
   and not firing is (weaker) evidence against it.
2. **Correlated LFs double-count.** Two LFs that test nearly the same thing
   (copies, a hashtag rule and a link rule that fire on the same posts) are
   counted as independent witnesses. After a fit, the model measures, per pair
   of LFs, the correlation of their firing *within* each class (weighted by the
   posteriors): zero if the model's independence assumption holds. Pairs above
   ``redundancy`` (0.5) agree far more than independence predicts and share
   their vote: each LF's likelihood is raised to the power ``1 / (1 + sum of its
   excess correlations)`` (Kish's design effect, the effective number of
   independent witnesses), and the model is refitted.
3. **A misspecified model overfits and overrules precise LFs.** When the LFs
   are far from conditionally independent for reasons weighting cannot fix
   (mutually exclusive LFs such as time-of-day windows, classes made of
   sub-populations that different LFs see), maximum likelihood finds a latent
   variable that explains the LFs' co-firing rather than the class: it can then
   decide that an accurate LF which fires on a small slice, against the other
   LFs, is noise. So the fit is checked: if some pair of LFs is still
   dependent within a class by more than ``max_dependence`` (0.1) after
   weighting (the bivariate-residual check of latent class analysis), the
   model is refitted under the LF author's claim as a constraint: every LF is
   right at least ``min_precision`` (0.8) of the time when it votes, i.e. ``P(y
   = c | LF says c) >= min_precision``. The model can trust an LF more than
   that, never less: it reweights and uses abstains where the data support it,
   and otherwise stays a (calibrated) vote. An LF whose precision cannot be
   estimated at all (it never overlaps another) sits at the floor, i.e. counts
   like a vote. When the check passes, the unconstrained Dawid-Skene fit is
   used: under conditional independence it is the better estimator.

Ties go to the class with the larger learned (or given) prior.

Measured (benchmarks/bench_label_model.py, 12 firing LFs over 8,614 real tweets,
accuracy over all tweets): this model 0.809, majority vote 0.768 (ties at random),
Snorkel 0.726, MACE 0.713, crowd-kit Dawid-Skene 0.521; leaving out any one LF,
it beats the vote by 1.6 to 5.1 points. The tweets fail the independence check
(the time-of-day LFs exclude each other), so the floor decides there; on
conditionally independent votes the unconstrained fit is used (0.954 vs the
vote's 0.823 on votes sampled from the same LFs' rates). The default
``min_precision`` of 0.8 was chosen on the tweets' LF subsets (0.7 loses to the
vote on two of them, 0.9 gains less) and checked on synthetic votes, so it is
tuned to one real data set; pass ``min_precision=None`` to never constrain.

Known limit: a group of mutually exclusive LFs that fire on most records and
carry no signal (say, one LF per hour bucket, each naming a different class)
is a perfect latent variable of its own; the model then follows it and can do
worse than the vote (5,000 synthetic records, 3 classes: 0.35 vs 0.47 when such
a group covers every record, 0.46 vs 0.49 at 70%). `report` shows such LFs
(high coverage, no overlap among themselves, high conflict); drop or merge them.

`aggregate` is the same core for human annotators (record, annotator, label):
abstains are missing (an annotator not shown a record says nothing), each
annotator gets a confusion matrix (or a single accuracy while they have too few
labels, see `dawid_skene.fit`'s ``model="auto"``), the class balance is learned.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tillage.errors import InputError
from tillage.labels import dawid_skene
from tillage.labels.dawid_skene import Fitted, FloatArray, IntArray, unique_rows
from tillage.labels.functions import Votes, plain_value

#: Default floor on an LF's precision when the independence check fails.
DEFAULT_MIN_PRECISION: Final = 0.8
#: Within-class correlation of two LFs above which they count as one witness.
DEFAULT_REDUNDANCY: Final = 0.5
#: Largest within-class dependence left after weighting for the unconstrained fit.
DEFAULT_MAX_DEPENDENCE: Final = 0.1
#: Rounds of dependency weighting (each a refit).
_WEIGHT_ROUNDS: Final = 2

Mode = Literal["independent", "constrained"]


class LabelModel:
    """Dawid-Skene for labeling functions: informative abstains, redundancy weights, a floor.

    Usage::

        model = LabelModel().fit(votes)        # votes from `apply`
        model.predict()                         # class indices, one per record
        model.predict_labels()                  # the class labels themselves
        model.predict_proba()                   # (n_records, K) probabilities
        model.weights, model.accuracies         # per LF name

    Args:
        min_precision: the floor on ``P(true class = c | LF says c)`` used when
            the LFs fail the independence check; None never constrains.
        redundancy: within-class correlation above which two LFs share a vote.
        max_dependence: within-class dependence left (after weighting) up to
            which the unconstrained fit is trusted.
        prior: the class balance if known (K numbers); learned otherwise.
        strength: Dirichlet pseudo-counts smoothing each LF's rates.
        max_iter: EM iterations per fit.
    """

    def __init__(
        self,
        *,
        min_precision: float | None = DEFAULT_MIN_PRECISION,
        redundancy: float = DEFAULT_REDUNDANCY,
        max_dependence: float = DEFAULT_MAX_DEPENDENCE,
        prior: Sequence[float] | None = None,
        strength: float = 2.0,
        max_iter: int = 200,
    ) -> None:
        if min_precision is not None and not (
            isinstance(min_precision, int | float) and 0.0 < min_precision < 1.0
        ):
            raise InputError(
                f"min_precision must be a number between 0 and 1, got {min_precision!r}; "
                f"e.g. {DEFAULT_MIN_PRECISION}, or None to never constrain the LFs."
            )
        for name, value in (("redundancy", redundancy), ("max_dependence", max_dependence)):
            if not (isinstance(value, int | float) and 0.0 < value <= 1.0):
                raise InputError(f"{name} must be a number in (0, 1], got {value!r}.")
        self.min_precision = min_precision
        self.redundancy = float(redundancy)
        self.max_dependence = float(max_dependence)
        self.prior = None if prior is None else tuple(float(p) for p in prior)
        self.strength = strength
        self.max_iter = max_iter
        self._fitted: Fitted | None = None
        self._votes: Votes | None = None
        self._probabilities: FloatArray | None = None
        #: After `fit`: ``"independent"`` (unconstrained fit) or ``"constrained"`` (floor).
        self.mode: Mode | None = None
        #: After `fit`: (n_lfs, n_lfs) within-class correlations of the LFs' firing.
        self.dependence: FloatArray | None = None
        #: After `fit`: the largest within-class dependence not handled by weighting.
        self.residual_dependence: float | None = None

    # -- fitting -----------------------------------------------------------------

    def fit(self, votes: Votes | Any, classes: Sequence[Any] | None = None) -> LabelModel:
        """Fit on ``votes`` (from `apply`, or a matrix of class indices with ``classes``).

        Raises:
            InputError: an empty or malformed vote matrix, unknown class indices,
                or a matrix without ``classes``.
        """
        v = _as_votes(votes, classes)
        k = len(v.classes)
        patterns, inverse, counts = unique_rows(v.matrix)

        def run(weights: FloatArray, floor: float | None, init: FloatArray | None) -> Fitted:
            return dawid_skene.fit(
                patterns,
                k,
                abstain="informative",
                model="confusion",
                prior=self.prior,
                strength=self.strength,
                source_weights=weights,
                min_precision=floor,
                counts=counts,
                init=init,
                max_iter=self.max_iter,
            )

        weights = np.ones(v.n_lfs)
        fitted = run(weights, None, None)
        dependence = _within_class_correlation(patterns, counts, fitted)
        for _ in range(_WEIGHT_ROUNDS - 1):
            new = _kish_weights(dependence, self.redundancy)
            if np.allclose(new, weights):
                break
            weights = new
            fitted = run(weights, None, None)
            dependence = _within_class_correlation(patterns, counts, fitted)
        weights = _kish_weights(dependence, self.redundancy)
        left = float(np.max(np.where(dependence > self.redundancy, 0.0, np.abs(dependence))))
        if self.min_precision is None or left <= self.max_dependence:
            if not np.allclose(weights, fitted.source_weights):
                fitted = run(weights, None, fitted.probabilities)
            self.mode = "independent"
        else:
            fitted = run(weights, self.min_precision, None)
            self.mode = "constrained"
        self._fitted = fitted
        self._votes = v
        self._probabilities = fitted.probabilities[inverse]
        self.dependence = dependence
        self.residual_dependence = left
        return self

    # -- results -----------------------------------------------------------------

    @property
    def fitted(self) -> Fitted:
        """The underlying Dawid-Skene fit (confusion matrices over votes and abstain)."""
        if self._fitted is None:
            raise InputError("the label model is not fitted yet; call .fit(votes) first.")
        return self._fitted

    @property
    def classes(self) -> tuple[Any, ...]:
        return self._fitted_votes().classes

    @property
    def lf_names(self) -> tuple[str, ...]:
        return self._fitted_votes().lf_names

    @property
    def weights(self) -> dict[str, float]:
        """Per LF, the power of its likelihood: below 1 when it is redundant with others."""
        return dict(zip(self.lf_names, self.fitted.source_weights.tolist(), strict=True))

    @property
    def accuracies(self) -> dict[str, float]:
        """Per LF, the estimated P(its label is right | it voted)."""
        acc = self.fitted.accuracies()
        out = {}
        for name, a, n in zip(
            self.lf_names, acc.tolist(), self.fitted.votes_per_source.tolist(), strict=True
        ):
            out[name] = a if n > 0 else math.nan
        return out

    @property
    def class_prior(self) -> dict[Any, float]:
        return dict(zip(self.classes, self.fitted.prior.tolist(), strict=True))

    def predict_proba(self, votes: Votes | Any | None = None) -> FloatArray:
        """(n_records, K) class probabilities of the fitted votes, or of other ``votes``."""
        if votes is None:
            if self._probabilities is None:
                raise InputError("the label model is not fitted yet; call .fit(votes) first.")
            return self._probabilities
        v = votes.matrix if isinstance(votes, Votes) else votes
        if isinstance(votes, Votes) and votes.lf_names != self.lf_names:
            raise InputError(
                f"these votes come from LFs {list(votes.lf_names)}, the model was fitted on "
                f"{list(self.lf_names)}; apply the same LFs in the same order."
            )
        return self.fitted.posterior(v)

    def predict(self, votes: Votes | Any | None = None) -> IntArray:
        """Most probable class index per record; ties go to the class with the larger prior."""
        return dawid_skene.argmax_by_prior(self.predict_proba(votes), self.fitted.prior)

    def predict_labels(self, votes: Votes | Any | None = None) -> list[Any]:
        """`predict` as class labels."""
        classes = self.classes
        return [classes[i] for i in self.predict(votes).tolist()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: mode, class prior, and per LF its weight and accuracy."""
        fitted = self.fitted
        acc = self.accuracies
        return {
            "mode": self.mode,
            "min_precision": self.min_precision if self.mode == "constrained" else None,
            "residual_dependence": self.residual_dependence,
            "classes": [plain_value(c) for c in self.classes],
            "prior": fitted.prior.tolist(),
            "iterations": fitted.iterations,
            "log_likelihood": fitted.log_likelihood,
            "lfs": [
                {
                    "name": name,
                    "weight": self.weights[name],
                    "accuracy": None if math.isnan(acc[name]) else acc[name],
                    "votes": int(n),
                }
                for name, n in zip(self.lf_names, fitted.votes_per_source.tolist(), strict=True)
            ],
        }

    def _fitted_votes(self) -> Votes:
        if self._votes is None:
            raise InputError("the label model is not fitted yet; call .fit(votes) first.")
        return self._votes


def _as_votes(votes: Votes | Any, classes: Sequence[Any] | None) -> Votes:
    if isinstance(votes, Votes):
        if classes is not None and tuple(classes) != votes.classes:
            raise InputError(
                f"classes {list(classes)} differ from the votes' classes {list(votes.classes)}; "
                "leave classes out when passing Votes."
            )
        return votes
    if classes is None:
        arr = np.asarray(votes) if not isinstance(votes, np.ndarray) else votes
        k = int(arr.max()) + 1 if arr.size and arr.dtype.kind in "iu" else 2
        raise InputError(
            "a bare vote matrix needs its classes: fit(matrix, classes=[...]) with one label "
            f"per class index (this matrix uses indices up to {k - 1}), or pass the Votes "
            "that apply() returns."
        )
    return Votes.from_matrix(votes, classes)


def _within_class_correlation(
    patterns: npt.NDArray[np.int32], counts: FloatArray, fitted: Fitted
) -> FloatArray:
    """Per pair of sources, the correlation of their firing within a class, prior-averaged.

    Each class's records are weighted by their posterior; zero when the sources
    are conditionally independent given the class (what the model assumes).
    """
    fires = (patterns >= 0).astype(np.float64)
    m = fires.shape[1]
    out = np.zeros((m, m))
    for c in range(fitted.n_classes):
        w = fitted.probabilities[:, c] * counts
        total = w.sum()
        if total <= 0:
            continue
        centred = fires - (w @ fires) / total
        # Centred first: exact copies then correlate exactly 1 even when the class
        # nearly fixes them (tiny variances, where E[xy] - E[x]E[y] cancels).
        cov = (centred * w[:, None]).T @ centred / total
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        scale = np.outer(sd, sd)
        corr = np.divide(cov, scale, out=np.zeros_like(cov), where=scale > 0)
        out += fitted.prior[c] * corr
    np.fill_diagonal(out, 0.0)
    return out


def _kish_weights(dependence: FloatArray, redundancy: float) -> FloatArray:
    """1 / (1 + sum of each source's excess correlation above ``redundancy``, scaled to 0..1)."""
    excess = np.clip(dependence - redundancy, 0.0, None) / max(1.0 - redundancy, 1e-12)
    return np.asarray(1.0 / (1.0 + excess.sum(axis=1)))


# -- human annotators -----------------------------------------------------------


@dataclass(frozen=True)
class AnnotatorQuality:
    """One annotator as the model sees them.

    Attributes:
        annotator: their id.
        accuracy: estimated P(their label is right), under the class balance.
        confusion: K x K, ``confusion[true][given]`` = P(they give ``given`` | ``true``).
        count: labels they gave.
        model: ``"confusion"`` (full matrix) or ``"accuracy"`` (too few labels: one
            accuracy, errors spread evenly).
    """

    annotator: Any
    accuracy: float
    confusion: tuple[tuple[float, ...], ...]
    count: int
    model: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "annotator": plain_value(self.annotator),
            "accuracy": self.accuracy,
            "confusion": [list(r) for r in self.confusion],
            "count": self.count,
            "model": self.model,
        }


@dataclass(frozen=True, eq=False)
class Aggregated:
    """One label per record from several annotators, with confidences and annotator quality.

    Attributes:
        records: record ids, in first-seen order.
        labels: the aggregated label of each record.
        confidence: the posterior probability of that label.
        probabilities: (n_records, K) posteriors, columns in ``classes`` order.
        classes: the class labels.
        annotators: quality per annotator, in first-seen order.
        prior: the learned (or given) class balance.
    """

    records: tuple[Any, ...]
    labels: tuple[Any, ...]
    confidence: tuple[float, ...]
    probabilities: FloatArray
    classes: tuple[Any, ...]
    annotators: tuple[AnnotatorQuality, ...]
    prior: tuple[float, ...]
    iterations: int

    def label_of(self, record: Any) -> Any:
        return self.labels[self.records.index(record)]

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": [plain_value(c) for c in self.classes],
            "prior": list(self.prior),
            "records": [
                {"record": plain_value(r), "label": plain_value(lab), "confidence": conf}
                for r, lab, conf in zip(self.records, self.labels, self.confidence, strict=True)
            ],
            "annotators": [a.to_dict() for a in self.annotators],
        }


def aggregate(
    annotations: pa.Table | Iterable[Mapping[str, Any]] | Iterable[Sequence[Any]],
    *,
    classes: Sequence[Any] | None = None,
    prior: Sequence[float] | None = None,
    record: str = "record",
    annotator: str = "annotator",
    label: str = "label",
) -> Aggregated:
    """Aggregate human annotations with Dawid-Skene (abstains missing, class balance learned).

    Args:
        annotations: an Arrow table or dicts with ``record``/``annotator``/``label``
            fields, or (record, annotator, label) triples. A ``None`` label is skipped.
        classes: the class labels; default: the labels seen, sorted.
        prior: a known class balance; learned otherwise.
        record, annotator, label: the field names.

    Raises:
        InputError: no annotations, missing fields, labels outside ``classes``,
            or an annotator labelling one record twice.
    """
    rows = _annotation_rows(annotations, record, annotator, label)
    rows = [r for r in rows if r[2] is not None]
    if not rows:
        raise InputError(
            "no annotations to aggregate; pass (record, annotator, label) rows "
            "(an Arrow table, dicts, or triples)."
        )
    if classes is None:
        seen = {r[2] for r in rows}
        classes_t = tuple(sorted(seen, key=lambda c: (type(c).__name__, str(c))))
        if len(classes_t) < 2:
            raise InputError(
                f"every annotation says {classes_t[0]!r}, so the other classes are unknown; "
                "pass classes=[...] with all of them."
            )
    else:
        classes_t = tuple(classes)
    index = {c: i for i, c in enumerate(classes_t)}
    unknown = sorted({repr(r[2]) for r in rows if r[2] not in index})
    if unknown:
        raise InputError(
            f"{len(unknown)} label(s) are not among the classes {list(classes_t)}: "
            f"{', '.join(unknown[:5])}; fix them or add them to classes."
        )
    rec_index: dict[Any, int] = {}
    ann_index: dict[Any, int] = {}
    for r, a, _ in rows:
        rec_index.setdefault(r, len(rec_index))
        ann_index.setdefault(a, len(ann_index))
    matrix = np.full((len(rec_index), len(ann_index)), -1, dtype=np.int32)
    for r, a, lab in rows:
        i, j = rec_index[r], ann_index[a]
        if matrix[i, j] >= 0 and matrix[i, j] != index[lab]:
            raise InputError(
                f"annotator {a!r} labelled record {r!r} twice, as "
                f"{classes_t[matrix[i, j]]!r} and {lab!r}; keep one annotation per "
                "annotator and record (e.g. the latest)."
            )
        matrix[i, j] = index[lab]
    fitted = dawid_skene.fit(matrix, len(classes_t), abstain="missing", model="auto", prior=prior)
    pred = fitted.predict()
    probs = fitted.probabilities
    acc = fitted.accuracies()
    annotators = tuple(
        AnnotatorQuality(
            annotator=a,
            accuracy=float(acc[j]),
            confusion=tuple(tuple(float(x) for x in row) for row in fitted.confusion[j]),
            count=int(fitted.votes_per_source[j]),
            model=fitted.models[j],
        )
        for a, j in ann_index.items()
    )
    return Aggregated(
        records=tuple(rec_index),
        labels=tuple(classes_t[i] for i in pred.tolist()),
        confidence=tuple(float(probs[i, c]) for i, c in enumerate(pred.tolist())),
        probabilities=probs,
        classes=classes_t,
        annotators=annotators,
        prior=tuple(fitted.prior.tolist()),
        iterations=fitted.iterations,
    )


def _annotation_rows(
    annotations: Any, record: str, annotator: str, label: str
) -> list[tuple[Any, Any, Any]]:
    if isinstance(annotations, pa.RecordBatch):
        annotations = pa.Table.from_batches([annotations])
    if isinstance(annotations, pa.Table):
        missing = [f for f in (record, annotator, label) if f not in annotations.column_names]
        if missing:
            raise InputError(
                f"the annotations table has no column(s) {missing} (columns: "
                f"{', '.join(annotations.column_names)}); pass record=, annotator=, label= "
                "to name them."
            )
        cols = [annotations.column(f).to_pylist() for f in (record, annotator, label)]
        return list(zip(*cols, strict=True))
    if isinstance(annotations, str | bytes) or not isinstance(annotations, Iterable):
        raise InputError(
            f"annotations must be an Arrow table or rows, got {type(annotations).__name__}."
        )
    out: list[tuple[Any, Any, Any]] = []
    for n, row in enumerate(annotations):
        if isinstance(row, Mapping):
            try:
                out.append((row[record], row[annotator], row[label]))
            except KeyError as exc:
                raise InputError(
                    f"annotation #{n} has no field {exc.args[0]!r} (fields: {sorted(row)}); "
                    "pass record=, annotator=, label= to name them."
                ) from None
        elif isinstance(row, Sequence) and not isinstance(row, str | bytes) and len(row) == 3:
            out.append((row[0], row[1], row[2]))
        else:
            raise InputError(
                f"annotation #{n} is {row!r}; pass (record, annotator, label) triples or dicts."
            )
    return out
