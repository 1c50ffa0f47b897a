"""Label models: one label per record from labeling functions' votes, or from annotators.

`LabelModel` combines labeling functions (LFs) with the Dawid-Skene core
(`tillage.labels.dawid_skene`). Plain Dawid-Skene, and Snorkel's label model,
often do *worse* than a majority vote on real LFs. This model addresses why,
and says which labels it gave and why (``mode``, ``reason``):

1. **Abstains carry the information.** Most LFs vote for one class only. If
   abstains are ignored (crowd-kit's Dawid-Skene, MACE), such an LF always says
   the same thing and tells nothing. Here "abstain" is an output of its own:
   each LF has a firing rate per true class, so firing is evidence for its class
   and not firing is (weaker) evidence against it.
2. **Dependencies are modelled, not floored.** LFs that never fire together
   although independence would have them meet about 4.6 times or more (a zero
   Poisson count at the 1% level) are mutually exclusive (time-of-day windows,
   value bins) and become one multi-valued function. Declared dependencies
   (``dependencies=[("a", "b"), ...]``) share one vote. Learned redundancy: after
   a fit, the model measures per pair the correlation of their firing *within*
   each class (zero under the model's assumption); pairs above ``redundancy``
   (0.5) share their vote, each LF's likelihood raised to ``1 / (1 + its excess
   correlations)`` (Kish's design effect), and the model is refitted.
3. **An untrustworthy fit falls back, visibly, to the vote.** Without gold,
   the fit is checked against its own premises: no LF's votes for a class may
   be made evidence *against* that class (precision below the class prior: LFs
   are written to beat a guess), and no pair may stay dependent within a class
   beyond ``max_dependence`` (0.1; the bivariate-residual check of latent class
   analysis). A fit that fails either is what misspecification looks like (a
   latent variable that explains the LFs' co-firing, not the class), and its
   accuracies are as wrong as its labels. Then ``mode = "vote"``: the vote
   (each source once, redundant ones sharing) decides every record where one
   class has the most votes, and the fit only labels the records where the
   vote ties or is empty, where the LFs' silences are the only evidence.
   (Ties by the votes weighed by the fit's precisions, silences ignored, were
   tried: 0.796 against 0.793 on the tuning suite, but 0.798 against 0.804 on
   the held-out tweets and 0.889 against 0.926 on votes sampled from them,
   where the fit is right and only distrusted for an LF worse than a guess.)
   An LF no better than a guess (precision within a 95% band of
   the prior, for its number of votes) is no contradiction.
4. **The class balance does not follow the most confident LFs.** With gold it
   is the gold's (Laplace-smoothed counts). Without, it is learned by EM when
   the fit is trusted (consistent under conditional independence, checked on
   synthetic votes whose most precise LFs all vote the minority class). When
   the vote decides, no one estimate is safe: the vote's own balance (the mean
   of its labels' probabilities) follows the class whose LFs fire most, the
   untrusted fit's follows the latent variable the LFs' dependence makes, and
   the balance from the votes' moments (the class's skewness, third over second
   cross-moments over triplets of LFs, in which every LF's confidence cancels)
   is biased by dependent triplets. With two classes it is the median of the
   three (on synthetic votes with one LF worse than a guess the vote's drifts
   by 0.09 to 0.17, the median by under 0.04; on the four half suites the mean
   error went from 0.12 to 0.10); with more classes, the vote's.
5. **Gold is evidence.** ``fit(votes, gold=...)`` (record index -> class
   index): gold records are observed labels in EM, a weighted vote's
   precisions are measured on them (a Beta posterior centred on the fit's
   estimate with the fit's smoothing strength; naive Bayes over them), and
   5-fold cross-validation on them chooses between the fit, that vote, and
   the model fitted as if there were no gold (scored on all the gold, which
   it never saw): a little gold can then never choose something measurably
   worse than ignoring it. Ties go to the simplest: no gold, the vote, the
   fit. Label sets pass their annotators'
   labels as gold. ``min_precision`` (default None) is the old floor, still
   there by hand.

Ties go to the class with the larger prior.

Measured on the tuning suite (benchmarks/bench_label_model.py: the project's
12 firing LFs over 8,614 real tweets, accuracy over all tweets; every choice
above was made looking at it, so these are not held-out numbers): this model
0.793 (the vote decides: the fit turns some LFs against their own votes),
majority vote 0.768 (ties at random); leaving one LF out it beats the vote on
12 of 12 subsets (+0.7 to +3.6 points); on 20 random subsets each of 4, 6 and 8
LFs, on 18, 15 and 18; the six lowest-coverage LFs 0.684 vs 0.632; with 50 gold
labels 0.84 on average over 10 draws (0.79 to 0.91). On conditionally independent votes drawn
from the same LFs' rates the fit is trusted and used (0.954 vs the vote's
0.823). The held-out numbers, on LF suites written without sight of this
model, are in benchmarks/RESULTS.md (bench_label_suites.py).

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
from tillage.labels.dawid_skene import (
    Fitted,
    FloatArray,
    IntArray,
    argmax_by_prior,
    unique_rows,
)
from tillage.labels.functions import Votes, check_vote_matrix, plain_value

#: Within-class correlation of two LFs above which they count as one witness.
DEFAULT_REDUNDANCY: Final = 0.5
#: Largest within-class dependence left after weighting for the fit to be trusted.
DEFAULT_MAX_DEPENDENCE: Final = 0.1
#: Folds of the cross-validation on gold that chooses between the fit and the vote.
DEFAULT_FOLDS: Final = 5
#: Rounds of dependency weighting (each a refit).
_WEIGHT_ROUNDS: Final = 2
#: Two LFs that never fire together are mutually exclusive when independence would
#: have them fire together this many times or more: P(none | Poisson) = e^-4.6 < 1%.
_EXCLUSIVE_EXPECTED: Final = -math.log(0.01)
#: z of a two-sided 95% Wilson interval.
_Z95: Final = 1.959963984540054

Mode = Literal["independent", "constrained", "vote"]
#: What the model does when its fit is not trusted, as `LabelModel.reason` says it.
_FALLBACK: Final = (
    "the vote decides, the fit only labels the records where the vote ties or is empty"
)


class LabelModel:
    """Dawid-Skene for labeling functions, with dependencies, gold, and a visible fallback.

    Usage::

        model = LabelModel().fit(votes)              # votes from `apply`
        model = LabelModel().fit(votes, gold=gold)   # gold: {record index: class index}
        model.mode, model.reason                     # "independent" or "vote", and why
        model.predict()                              # class indices, one per record
        model.predict_labels()                       # the class labels themselves
        model.predict_proba()                        # (n_records, K) probabilities
        model.weights, model.accuracies              # per LF name

    Args:
        dependencies: LFs known to depend on each other: pairs or groups of LF
            names (e.g. ``[("link", "hashtag")]``); each group shares one vote.
        min_precision: a floor on ``P(true class = c | LF says c)`` imposed when
            the LFs fail the independence check (the fit is then ``"constrained"``);
            None (default) never constrains: dependence is modelled instead, and an
            untrustworthy fit falls back to the vote.
        redundancy: within-class correlation above which two LFs share a vote.
        max_dependence: within-class dependence left (after weighting) up to
            which the fit is trusted.
        prior: the class balance if known (K numbers); else from gold, else learned.
        strength: Dirichlet pseudo-counts smoothing each LF's rates.
        max_iter: EM iterations per fit.
        folds: cross-validation folds on gold choosing between fit and vote.
    """

    def __init__(
        self,
        *,
        dependencies: Sequence[Sequence[str]] | None = None,
        min_precision: float | None = None,
        redundancy: float = DEFAULT_REDUNDANCY,
        max_dependence: float = DEFAULT_MAX_DEPENDENCE,
        prior: Sequence[float] | None = None,
        strength: float = 2.0,
        max_iter: int = 200,
        folds: int = DEFAULT_FOLDS,
    ) -> None:
        if min_precision is not None and not (
            isinstance(min_precision, int | float) and 0.0 < min_precision < 1.0
        ):
            raise InputError(
                f"min_precision must be a number between 0 and 1, got {min_precision!r}; "
                "e.g. 0.8, or None (the default) to never constrain the LFs."
            )
        for name, value in (("redundancy", redundancy), ("max_dependence", max_dependence)):
            if not (isinstance(value, int | float) and 0.0 < value <= 1.0):
                raise InputError(f"{name} must be a number in (0, 1], got {value!r}.")
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
            raise InputError(f"folds must be a whole number of at least 2, got {folds!r}.")
        groups: list[tuple[str, ...]] = []
        for group in dependencies or ():
            if isinstance(group, str) or not all(isinstance(g, str) for g in group):
                raise InputError(
                    f"dependencies must be pairs or groups of LF names, got {group!r}; "
                    'e.g. dependencies=[("link", "hashtag")].'
                )
            if len(set(group)) < 2:
                raise InputError(
                    f"a dependency names at least two different LFs, got {tuple(group)!r}."
                )
            groups.append(tuple(group))
        self.dependencies = tuple(groups)
        self.min_precision = min_precision
        self.redundancy = float(redundancy)
        self.max_dependence = float(max_dependence)
        self.prior = None if prior is None else tuple(float(p) for p in prior)
        self.strength = strength
        self.max_iter = max_iter
        self.folds = folds
        self._fitted: Fitted | None = None
        self._votes: Votes | None = None
        self._probabilities: FloatArray | None = None
        self._sources: tuple[tuple[int, ...], ...] = ()
        self._vote: _Vote | None = None
        self._balance: FloatArray | None = None
        self._gold: IntArray | None = None
        #: After `fit`: ``"independent"`` (the fit), ``"constrained"`` (the fit under
        #: ``min_precision``) or ``"vote"`` (the fit was not trusted, or lost to the vote
        #: on gold: the vote decides, or with gold the vote weighted by measured precisions).
        self.mode: Mode | None = None
        #: After `fit`: one sentence on why ``mode`` was chosen.
        self.reason: str | None = None
        #: After `fit`: groups of mutually exclusive LFs, each modelled as one function.
        self.exclusive_groups: tuple[tuple[str, ...], ...] = ()
        #: After `fit`: (n_sources, n_sources) within-class correlations of the sources
        #: (an LF, or a group of mutually exclusive LFs) firing.
        self.dependence: FloatArray | None = None
        #: After `fit`: the largest within-class dependence not handled by weighting.
        self.residual_dependence: float | None = None
        #: After `fit` with gold: records right out of those held out, per candidate
        #: (``"no gold"``: the model fitted without the gold, scored on all of it).
        self.cross_validation: dict[str, int] | None = None

    # -- fitting -----------------------------------------------------------------

    def fit(
        self,
        votes: Votes | Any,
        classes: Sequence[Any] | None = None,
        *,
        gold: Mapping[int, int] | Sequence[int] | npt.NDArray[np.integer[Any]] | None = None,
    ) -> LabelModel:
        """Fit on ``votes`` (from `apply`, or a matrix of class indices with ``classes``).

        Args:
            votes: the LFs' votes.
            classes: the class labels, with a bare matrix.
            gold: known classes of some records: a mapping from record index to
                class index, or one class index per record (-1 unknown). They fix
                the class prior (smoothed counts), anchor the LFs' accuracies (EM
                with them observed), and choose between the fit and the weighted
                vote by cross-validated accuracy on them.

        Raises:
            InputError: an empty or malformed vote matrix, unknown class indices,
                a matrix without ``classes``, unknown LFs in ``dependencies``, or
                gold outside the records or classes.
        """
        v = _as_votes(votes, classes)
        k = len(v.classes)
        known = _gold_array(gold, v.n_records, k)
        declared = self._declared(v.lf_names)
        raw, raw_inverse, raw_counts = unique_rows(v.matrix)
        sources = _exclusive_sources(raw, raw_counts, declared)
        merged = _merge(v.matrix, sources)
        m = len(sources)
        tied = _tied(sources, declared)
        n_gold = int((known >= 0).sum())
        if self.prior is not None:
            prior: FloatArray | None = np.asarray(self.prior, dtype=np.float64)
        elif n_gold:
            prior = (np.bincount(known[known >= 0], minlength=k) + 1.0) / (n_gold + k)
        else:
            prior = None

        fold = _folds(known, self.folds)
        patterns, inverse, counts, labels, folds = _rows(
            raw, raw_inverse, sources, merged, known, fold
        )

        def run(
            weights: FloatArray,
            hidden: int | None = None,
            floor: float | None = None,
            init: FloatArray | None = None,
            fixed: FloatArray | None = prior,
        ) -> Fitted:
            """One fit (``init``: posteriors per row); the gold of fold ``hidden`` is left out."""
            observed = np.where(folds == hidden, -1, labels) if hidden is not None else labels
            return dawid_skene.fit(
                patterns,
                k,
                abstain="informative",
                model="confusion",
                prior=None if fixed is None else fixed.tolist(),
                strength=self.strength,
                source_weights=weights,
                min_precision=floor,
                counts=counts,
                observed=observed if (observed >= 0).any() else None,
                init=init,
                max_iter=self.max_iter,
            )

        weights = np.ones(m)
        fitted = run(weights)
        dependence = _within_class_correlation(patterns, counts, fitted)
        for _ in range(_WEIGHT_ROUNDS - 1):
            new = _kish_weights(dependence, self.redundancy, tied)
            if np.allclose(new, weights):
                break
            weights = new
            fitted = run(weights)
            dependence = _within_class_correlation(patterns, counts, fitted)
        weights = _kish_weights(dependence, self.redundancy, tied)
        loose = np.where((dependence > self.redundancy) | tied, 0.0, np.abs(dependence))
        left = float(loose.max()) if loose.size else 0.0
        if self.min_precision is not None and left > self.max_dependence:
            fitted = run(weights, floor=self.min_precision)
            mode: Mode = "constrained"
            reason = (
                f"the LFs depend on each other within a class ({left:.2f} > "
                f"{self.max_dependence}), so every LF is held to min_precision "
                f"{self.min_precision}"
            )
        else:
            if not np.allclose(weights, fitted.source_weights):
                fitted = run(weights, init=fitted.probabilities)
            mode, reason = "independent", ""
        names = [" + ".join(v.lf_names[j] for j in s) for s in sources]
        self._sources = sources
        self._fitted = fitted
        self._votes = v
        self._gold = known
        self.exclusive_groups = tuple(
            tuple(v.lf_names[j] for j in s) for s in sources if len(s) > 1
        )
        self.dependence = dependence
        self.residual_dependence = left
        self.cross_validation = None
        by_gold = mode == "independent" and n_gold >= self.folds
        if by_gold:
            blind = self._without_gold(v)
            choice, reason = self._choose_by_gold(
                run, merged, known, fold, fitted, weights, patterns, counts, blind.predict()
            )
            if choice == "no gold":
                return self._adopt(blind, reason, prior)
            mode = choice
        elif mode == "independent":
            mode, reason = _trust(
                fitted, names, v.classes, loose, self.max_dependence, patterns, counts
            )
        self.mode = mode
        self.reason = reason
        self._vote = None
        if mode == "vote" and by_gold:
            taught = np.flatnonzero(known >= 0)
            self._vote = _Vote.of(fitted, patterns, counts).with_gold(
                merged[taught], known[taught], self.strength
            )
            self._probabilities = self._vote.proba(merged)
        elif mode == "vote":
            self._probabilities = _vote_first(
                merged, fitted.source_weights, fitted.probabilities[inverse]
            )
        else:
            self._probabilities = fitted.probabilities[inverse]
        self._balance = (
            self._vote.prior
            if self._vote is not None
            else _untrusted_balance(self._probabilities, fitted.prior, patterns, counts)
            if mode == "vote"
            else fitted.prior
        )
        return self

    def _declared(self, lf_names: tuple[str, ...]) -> list[tuple[int, ...]]:
        index = {name: j for j, name in enumerate(lf_names)}
        out = []
        for group in self.dependencies:
            unknown = [g for g in group if g not in index]
            if unknown:
                raise InputError(
                    f"dependencies name LF(s) {unknown} that are not among the votes' LFs "
                    f"{list(lf_names)}; name LFs that were applied."
                )
            out.append(tuple(sorted(index[g] for g in group)))
        return out

    def _without_gold(self, votes: Votes) -> LabelModel:
        """The same model fitted on the same votes as if there were no gold."""
        return LabelModel(
            dependencies=self.dependencies,
            min_precision=self.min_precision,
            redundancy=self.redundancy,
            max_dependence=self.max_dependence,
            prior=self.prior,
            strength=self.strength,
            max_iter=self.max_iter,
            folds=self.folds,
        ).fit(votes)

    def _adopt(self, blind: LabelModel, said: str, prior: FloatArray | None) -> LabelModel:
        """Become ``blind`` (the fit without gold), keeping the gold as evidence and the CV.

        The class balance stays the gold's (``prior``): it is measured, where the
        blind model's is estimated.
        """
        self._fitted = blind._fitted
        self._probabilities = blind._probabilities
        self._vote = blind._vote
        self._balance = blind._balance if prior is None else prior
        self.dependence = blind.dependence
        self.residual_dependence = blind.residual_dependence
        self.mode = blind.mode
        self.reason = f"{said}; so the gold is not used: without it, {blind.mode}, because " + (
            blind.reason or ""
        )
        return self

    def _choose_by_gold(
        self,
        run: Any,
        merged: npt.NDArray[np.int32],
        known: IntArray,
        fold: IntArray,
        fitted: Fitted,
        weights: FloatArray,
        patterns: npt.NDArray[np.int32],
        counts: FloatArray,
        blind: IntArray,
    ) -> tuple[Literal["no gold", "vote", "independent"], str]:
        """Which of three is right most often on the gold, the simplest on a tie.

        The model without gold (``blind``: its labels, which the gold never
        touched, scored on every gold record), the vote weighted by precisions
        measured on gold, and the gold-anchored fit (both scored on gold held out
        in k folds). Ignoring the gold is a candidate, so a little gold that would
        mislead loses to it instead of being used. Ties go to the simplest: no
        gold, then the vote, then the fit. (The one-standard-error rule, the
        simplest within one standard error of the best, was tried on the tuning
        suite: it kept the gold from helping there, 0.810 against 0.832 over five
        draws of 50.)
        """
        k = fitted.n_classes
        rows = np.flatnonzero(known >= 0)
        right = {"no gold": int((blind[rows] == known[rows]).sum()), "fit": 0, "vote": 0}
        for f in range(self.folds):
            test = np.flatnonzero(fold == f)
            taught = np.flatnonzero((known >= 0) & (fold != f))
            fixed = (
                np.asarray(self.prior)
                if self.prior is not None
                else (np.bincount(known[taught], minlength=k) + 1.0) / (len(taught) + k)
            )
            part = run(weights, hidden=f, init=fitted.probabilities, fixed=fixed)
            fit_pred = argmax_by_prior(part.posterior(merged[test]), part.prior)
            vote = _Vote.of(part, patterns, counts).with_gold(
                merged[taught], known[taught], self.strength
            )
            vote_pred = argmax_by_prior(vote.proba(merged[test]), part.prior)
            right["fit"] += int((fit_pred == known[test]).sum())
            right["vote"] += int((vote_pred == known[test]).sum())
        self.cross_validation = {"records": len(rows), **right}
        said = (
            f"on {len(rows)} gold record(s) held out in {self.folds} folds the fit was right "
            f"on {right['fit']} and the weighted vote on {right['vote']}; the model "
            f"without gold was right on {right['no gold']} of them"
        )
        best = max(right.values())
        if right["no gold"] == best:  # ties go to the simplest: no gold, the vote, the fit
            return "no gold", said
        if right["vote"] == best:
            return "vote", said
        return "independent", said

    # -- results -----------------------------------------------------------------

    @property
    def fitted(self) -> Fitted:
        """The underlying Dawid-Skene fit (one source per LF or exclusive group)."""
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
        w = self.fitted.source_weights.tolist()
        names = self.lf_names
        return {names[j]: w[s] for s, members in enumerate(self._sources) for j in members}

    @property
    def accuracies(self) -> dict[str, float]:
        """Per LF, the estimated P(its label is right | it voted) (NaN: it never voted)."""
        v = self._fitted_votes()
        k = len(v.classes)
        precision = (
            self._vote.precision
            if self.mode == "vote" and self._vote is not None
            else _precision(self.fitted)
        )
        out: dict[str, float] = {}
        for s, members in enumerate(self._sources):
            for j in members:
                n = np.bincount(v.matrix[:, j][v.matrix[:, j] >= 0], minlength=k)
                total = int(n.sum())
                out[v.lf_names[j]] = float(n @ precision[s] / total) if total else math.nan
        return {name: out[name] for name in v.lf_names}

    @property
    def gold_evidence(self) -> dict[str, tuple[int, int]]:
        """Per LF, (its votes on gold records, how many of them were right)."""
        v = self._fitted_votes()
        known = self._gold if self._gold is not None else np.full(v.n_records, -1)
        out = {}
        for j, name in enumerate(v.lf_names):
            col = v.matrix[:, j]
            checked = (col >= 0) & (known >= 0)
            out[name] = (int(checked.sum()), int((col[checked] == known[checked]).sum()))
        return out

    @property
    def class_prior(self) -> dict[Any, float]:
        return dict(zip(self.classes, self._prior().tolist(), strict=True))

    def _prior(self) -> FloatArray:
        """The class balance: the fit's, or in ``"vote"`` mode the vote's own."""
        if self._balance is None:
            raise InputError("the label model is not fitted yet; call .fit(votes) first.")
        return self._balance

    def predict_proba(self, votes: Votes | Any | None = None) -> FloatArray:
        """(n_records, K) class probabilities of the fitted votes, or of other ``votes``."""
        if votes is None:
            if self._probabilities is None:
                raise InputError("the label model is not fitted yet; call .fit(votes) first.")
            return self._probabilities
        if isinstance(votes, Votes) and votes.lf_names != self.lf_names:
            raise InputError(
                f"these votes come from LFs {list(votes.lf_names)}, the model was fitted on "
                f"{list(self.lf_names)}; apply the same LFs in the same order."
            )
        fitted = self.fitted
        matrix = check_vote_matrix(
            votes.matrix if isinstance(votes, Votes) else votes, fitted.n_classes
        )
        if matrix.shape[1] != len(self.lf_names):
            raise InputError(
                f"the votes have {matrix.shape[1]} source(s), the model was fitted on "
                f"{len(self.lf_names)}; pass the same sources in the same order."
            )
        merged = _merge(matrix, self._sources)
        if self.mode == "vote" and self._vote is not None:
            return self._vote.proba(merged)
        if self.mode == "vote":
            return _vote_first(merged, fitted.source_weights, fitted.posterior(merged))
        return fitted.posterior(merged)

    def predict(self, votes: Votes | Any | None = None) -> IntArray:
        """Most probable class index per record; ties go to the class with the larger prior."""
        return argmax_by_prior(self.predict_proba(votes), self._prior())

    def predict_labels(self, votes: Votes | Any | None = None) -> list[Any]:
        """`predict` as class labels."""
        classes = self.classes
        return [classes[i] for i in self.predict(votes).tolist()]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: mode and why, class prior, and per LF its weight and accuracy.

        Each LF's ``interval`` is the Wilson 95% interval of its accuracy on the gold
        records it voted on (None without such records).
        """
        fitted = self.fitted
        acc = self.accuracies
        weights = self.weights
        evidence = self.gold_evidence
        counts = (self._fitted_votes().matrix >= 0).sum(axis=0).tolist()
        return {
            "mode": self.mode,
            "reason": self.reason,
            "min_precision": self.min_precision if self.mode == "constrained" else None,
            "residual_dependence": self.residual_dependence,
            "dependencies": [list(g) for g in self.dependencies],
            "exclusive_groups": [list(g) for g in self.exclusive_groups],
            "classes": [plain_value(c) for c in self.classes],
            "prior": self._prior().tolist(),
            "gold": int((self._gold >= 0).sum()) if self._gold is not None else 0,
            "cross_validation": self.cross_validation,
            "iterations": fitted.iterations,
            "log_likelihood": fitted.log_likelihood,
            "lfs": [
                {
                    "name": name,
                    "weight": weights[name],
                    "accuracy": None if math.isnan(acc[name]) else acc[name],
                    "votes": int(n),
                    "gold_votes": evidence[name][0],
                    "interval": wilson(evidence[name][1], evidence[name][0]),
                }
                for name, n in zip(self.lf_names, counts, strict=True)
            ],
        }

    def _fitted_votes(self) -> Votes:
        if self._votes is None:
            raise InputError("the label model is not fitted yet; call .fit(votes) first.")
        return self._votes


def wilson(right: int, n: int) -> list[float] | None:
    """The Wilson score 95% interval of a proportion ``right / n`` (None when ``n`` is 0)."""
    if n <= 0:
        return None
    p = right / n
    z2 = _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return [max(0.0, centre - half), min(1.0, centre + half)]


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


def _gold_array(gold: Any, n: int, k: int) -> IntArray:
    """Gold as one class index per record, -1 where unknown; InputError if malformed."""
    out = np.full(n, -1, dtype=np.int64)
    if gold is None:
        return out
    if isinstance(gold, Mapping):
        items = list(gold.items())
        bad = [i for i, _ in items if isinstance(i, bool) or not isinstance(i, int | np.integer)]
        bad += [i for i, _ in items if i not in bad and not 0 <= int(i) < n]
        if bad:
            raise InputError(
                f"gold names record(s) {bad[:5]} that are not record indices 0..{n - 1}; "
                "map each record's row number to its class index."
            )
        for i, c in items:
            out[int(i)] = _gold_class(c, k)
        return out
    arr = np.asarray(gold)
    if arr.shape != (n,) or arr.dtype.kind not in "iu":
        raise InputError(
            f"gold must be {n} class indices (one per record, -1 unknown) or a mapping from "
            f"record index to class index, got {arr.dtype} of shape {arr.shape}."
        )
    wrong = sorted({int(c) for c in arr.tolist() if not -1 <= c < k})
    if wrong:
        raise InputError(
            f"gold has class index(es) {wrong[:5]} outside 0..{k - 1} (-1: unknown); "
            "give each record's class as its index in the classes."
        )
    return arr.astype(np.int64)


def _gold_class(c: Any, k: int) -> int:
    if isinstance(c, bool) or not isinstance(c, int | np.integer) or not 0 <= int(c) < k:
        raise InputError(
            f"gold class {c!r} is not a class index 0..{k - 1}; give each record's class "
            "as its index in the classes."
        )
    return int(c)


def _tied(
    sources: Sequence[tuple[int, ...]], declared: Sequence[tuple[int, ...]]
) -> npt.NDArray[np.bool_]:
    """(n_sources, n_sources): the pairs of sources that a declared dependency joins."""
    owner = {j: s for s, members in enumerate(sources) for j in members}
    out = np.zeros((len(sources), len(sources)), dtype=bool)
    for group in declared:
        for a in group:
            for b in group:
                out[owner[a], owner[b]] = owner[a] != owner[b]
    return out


def _rows(
    raw: npt.NDArray[np.int32],
    raw_inverse: IntArray,
    sources: Sequence[tuple[int, ...]],
    merged: npt.NDArray[np.int32],
    known: IntArray,
    fold: IntArray,
) -> tuple[npt.NDArray[np.int32], IntArray, FloatArray, IntArray, IntArray]:
    """The distinct rows the fit runs on: patterns, each record's row, counts, gold, fold.

    The distinct rows of the records' votes (merged into sources, from the
    distinct raw rows: no second pass over the records), and each gold record a
    row of its own with its class and fold (-1 for the others), so that a fold's
    gold can be hidden without regrouping.
    """
    n_gold = int((known >= 0).sum())
    seen, within, _ = unique_rows(_merge(raw, sources))
    where = np.asarray(within[raw_inverse], dtype=np.int64)
    gold_rows = np.flatnonzero(known >= 0)
    others = np.bincount(where, minlength=len(seen)) - np.bincount(
        where[gold_rows], minlength=len(seen)
    )
    where[gold_rows] = len(seen) + np.arange(n_gold)
    every = np.concatenate([others, np.ones(n_gold)]).astype(np.float64)
    keep = every > 0  # drops the rows that only gold records had
    renumber = np.cumsum(keep) - 1
    return (
        np.ascontiguousarray(np.vstack([seen, merged[gold_rows]])[keep]),
        np.asarray(renumber[where], dtype=np.int64),
        every[keep],
        np.concatenate([np.full(len(seen), -1), known[gold_rows]])[keep],
        np.concatenate([np.full(len(seen), -1), fold[gold_rows]])[keep],
    )


def _folds(known: IntArray, folds: int) -> IntArray:
    """Per record, its cross-validation fold (0..folds-1) if it has gold, else -1.

    The gold records are dealt round-robin in a fixed pseudo-random order, so a
    fit is deterministic and folds differ in size by at most one record.
    """
    rows = np.flatnonzero(known >= 0)
    out = np.full(len(known), -1, dtype=np.int64)
    out[rows[np.random.default_rng(0).permutation(len(rows))]] = np.arange(len(rows)) % folds
    return out


def _exclusive_sources(
    patterns: npt.NDArray[np.int32], counts: FloatArray, declared: Sequence[tuple[int, ...]]
) -> tuple[tuple[int, ...], ...]:
    """The model's sources: each LF alone, or a group of mutually exclusive LFs as one.

    Two LFs are mutually exclusive when they never fire on the same record though,
    independently, they would have been expected to about 4.6 times or more (a
    Poisson count of zero then has probability under 1%): time-of-day windows,
    value bins. Such a group is one function with several outputs, and
    conditionally independent of the rest far more plausibly than its members
    are of each other. Groups are formed greedily, widest LF first, each member
    exclusive with every other; LFs in a declared dependency stay alone.
    """
    n = float(counts.sum())
    fires = (patterns >= 0).astype(np.float64)
    together = _gram(fires, counts)
    fired = np.diag(together)
    expected = np.outer(fired, fired) / max(n, 1)
    exclusive = (together == 0) & (expected >= _EXCLUSIVE_EXPECTED)
    busy = {j for group in declared for j in group}
    groups: list[list[int]] = []
    for j in np.argsort(-fired, kind="stable").tolist():
        if fired[j] == 0 or j in busy:
            groups.append([j])
            continue
        for group in groups:
            if group[0] not in busy and all(exclusive[j, i] for i in group):
                group.append(j)
                break
        else:
            groups.append([j])
    return tuple(sorted(tuple(sorted(g)) for g in groups))


def _merge(
    matrix: npt.NDArray[np.int32], sources: Sequence[tuple[int, ...]]
) -> npt.NDArray[np.int32]:
    """One column per source: an LF's votes, or a group's (its first firing member's)."""
    if all(len(members) == 1 for members in sources):
        return np.ascontiguousarray(matrix[:, [members[0] for members in sources]])
    out = np.full((matrix.shape[0], len(sources)), -1, dtype=np.int32)
    for s, members in enumerate(sources):
        if len(members) == 1:
            out[:, s] = matrix[:, members[0]]
            continue
        col = out[:, s]
        for j in reversed(members):
            col[:] = np.where(matrix[:, j] >= 0, matrix[:, j], col)
    return out


def _precision(fitted: Fitted) -> FloatArray:
    """(n_sources, K): P(true class c | the source says c) under the fit."""
    k = fitted.n_classes
    says = fitted.confusion[:, :, :k] * fitted.prior[None, :, None]  # (m, y, c)
    right = np.einsum("jcc->jc", says)
    return np.asarray(right / np.maximum(says.sum(axis=1), 1e-300))


@dataclass(frozen=True, eq=False)
class _Vote:
    """The weighted vote with gold: naive Bayes over each source's precision per label.

    Attributes:
        precision: (n_sources, K) the fit's ``P(true class c | source says c)``.
        said: (n_sources, K) how many votes each source gave each label.
        weights: (n_sources,) each source's share of a vote (redundancy, declared).
        prior: (K,) the class balance.
    """

    precision: FloatArray
    said: FloatArray
    weights: FloatArray
    prior: FloatArray

    @staticmethod
    def of(fitted: Fitted, patterns: npt.NDArray[np.int32], counts: FloatArray) -> _Vote:
        k = fitted.n_classes
        said = np.zeros((patterns.shape[1], k))
        for s in range(patterns.shape[1]):
            col = patterns[:, s]
            said[s] = np.bincount(col[col >= 0], weights=counts[col >= 0], minlength=k)
        return _Vote(_precision(fitted), said, fitted.source_weights, fitted.prior)

    def table(self) -> FloatArray:
        """(n_sources, K, K): the evidence ``log P(y | says c) - log P(y)``.

        Each precision is clipped below at the class's prior (a vote never counts
        against what it says) and above at the rule of succession ``(n + 1) / (n +
        2)`` of the source's ``n`` votes for that label (never certain); the rest of
        the probability goes to the other classes in proportion to the prior.
        """
        pi = np.maximum(self.prior, 1e-300)
        k = len(pi)
        cap = (self.said + 1.0) / (self.said + 2.0)
        a = np.clip(self.precision, np.minimum(pi[None, :], cap), cap)  # (m, K)
        rest = (
            (1.0 - a)[:, :, None] * pi[None, None, :] / np.maximum(1.0 - pi, 1e-12)[None, :, None]
        )
        idx = np.arange(k)
        rest[:, idx, idx] = a
        return np.asarray(np.log(np.maximum(rest, 1e-300)) - np.log(pi)[None, None, :])

    def proba(self, merged: npt.NDArray[np.int32]) -> FloatArray:
        """(n_records, K) class probabilities of the records' (merged) votes."""
        table = self.table()
        score = np.tile(np.log(np.maximum(self.prior, 1e-300)), (len(merged), 1))
        for s in range(table.shape[0]):
            col = merged[:, s]
            fired = col >= 0
            score[fired] += self.weights[s] * table[s][col[fired]]
        score -= score.max(axis=1, keepdims=True)
        p = np.exp(score)
        return np.asarray(p / p.sum(axis=1, keepdims=True))

    def with_gold(self, merged: npt.NDArray[np.int32], labels: IntArray, strength: float) -> _Vote:
        """The same vote with each precision estimated from gold, the fit's as its prior.

        ``(right + strength * fit's precision) / (votes on gold + strength)``: a
        Beta posterior centred on the fit's estimate with the pseudo-counts that
        smooth the fit's own rates, so a source with no gold keeps the fit's
        precision and one with much gold gets its measured one.
        """
        k = self.precision.shape[1]
        n = np.zeros_like(self.precision)
        right = np.zeros_like(self.precision)
        for s in range(merged.shape[1]):
            col = merged[:, s]
            n[s] = np.bincount(col[col >= 0], minlength=k)
            hit = (col >= 0) & (col == labels)
            right[s] = np.bincount(col[hit], minlength=k)
        precision = (right + strength * self.precision) / (n + strength)
        return _Vote(precision, self.said, self.weights, self.prior)


def _untrusted_balance(
    probabilities: FloatArray,
    fit_prior: FloatArray,
    patterns: npt.NDArray[np.int32],
    counts: FloatArray,
) -> FloatArray:
    """The class balance when the fit is not trusted: the median of three estimates.

    The vote's own balance (the mean of its labels' probabilities) follows the
    class whose LFs fire most; the untrusted fit's EM prior follows a latent
    variable that the LFs' dependence makes; the moments' skewness
    (`_moment_balance`) is biased by dependent triplets. Each fails under a
    different violation, so with two classes the middle of the three is used;
    with more classes, or too few sources for moments, the vote's.
    """
    vote = np.asarray(probabilities.mean(axis=0))
    moment = _moment_balance(patterns, counts) if len(fit_prior) == 2 else None
    if moment is None:
        return vote
    first = float(np.median([vote[0], fit_prior[0], moment[0]]))
    return np.array([first, 1.0 - first])


def _moment_balance(patterns: npt.NDArray[np.int32], counts: FloatArray) -> FloatArray | None:
    """Two classes: the balance implied by the votes' third moments over their second.

    Code each source +1 where it votes class 0, -1 where it votes class 1, 0 when
    silent. Under conditional independence, for sources i, j, k the covariances
    are ``C_ij = pi0 pi1 D_i D_j`` and the third central moments ``T_ijk = pi0 pi1
    (1 - 2 pi0) D_i D_j D_k`` (``D``: how much more a source leans to class 0 when
    the class is 0), so ``T_ijk / sqrt(C_ij C_ik C_jk) = (1 - 2 pi0) / sqrt(pi0
    pi1)``, the skewness of the class itself: every source's confidence cancels,
    so the estimate cannot follow the most confident sources' class. The median
    over the triplets whose three covariances are positive (what sources that
    beat a guess give) resists a few dependent pairs; solving the skewness ``r``
    for ``pi0`` gives ``pi0 pi1 = 1 / (r^2 + 4)``. None with fewer than three
    sources or no such triplet.
    """
    if patterns.shape[1] < 3:
        return None
    x = np.where(patterns == 0, 1.0, np.where(patterns == 1, -1.0, 0.0))
    n = float(counts.sum())
    z = x - (counts @ x) / n
    cov = _gram(z, counts) / n
    m = x.shape[1]
    i, j, k = np.array(
        [(a, b, c) for a in range(m) for b in range(a + 1, m) for c in range(b + 1, m)]
    ).T
    product = cov[i, j] * cov[i, k] * cov[j, k]
    usable = (cov[i, j] > 0) & (cov[i, k] > 0) & (cov[j, k] > 0)
    if not usable.any():
        return None
    i, j, k, product = i[usable], j[usable], k[usable], product[usable]
    moments = np.zeros((m * m, m))  # E[z_a z_b z_c], (a, b) flattened
    for start in range(0, len(z), 4096):  # one product per chunk: few BLAS calls, small memory
        part = z[start : start + 4096]
        pairs = (part * counts[start : start + 4096, None])[:, :, None] * part[:, None, :]
        moments += pairs.reshape(len(part), m * m).T @ part
    moments = moments.reshape(m, m, m) / n
    third = moments[i, j, k]
    r = float(np.median(third / np.sqrt(product)))
    pi0 = (1.0 - math.copysign(math.sqrt(r * r / (r * r + 4.0)), r)) / 2.0
    pi0 = min(max(pi0, 1.0 / (n + 2.0)), 1.0 - 1.0 / (n + 2.0))
    return np.array([pi0, 1.0 - pi0])


def _vote_first(merged: npt.NDArray[np.int32], weights: FloatArray, fit: FloatArray) -> FloatArray:
    """Where one class has the most votes, the vote decides; elsewhere, the fit.

    The vote counts each source once (times its weight: redundant or declared
    sources share one vote) and gives each record its classes' shares of the
    votes. Where classes tie, or nobody voted, the fit's posterior stands: there
    the sources' silences (informative abstains) are the only evidence. A fit
    that failed its checks may not overrule the vote, only fill what it leaves open.
    """
    tally = np.zeros_like(fit)
    for s in range(merged.shape[1]):
        fired = np.flatnonzero(merged[:, s] >= 0)
        tally[fired, merged[fired, s]] += weights[s]
    top = tally.max(axis=1, keepdims=True)
    decided = ((tally >= top - 1e-9).sum(axis=1) == 1) & (top[:, 0] > 0)
    shares = tally / np.maximum(tally.sum(axis=1, keepdims=True), 1e-300)
    return np.asarray(np.where(decided[:, None], shares, fit))


def _trust(
    fitted: Fitted,
    names: Sequence[str],
    classes: Sequence[Any],
    loose: FloatArray,
    max_dependence: float,
    patterns: npt.NDArray[np.int32],
    counts: FloatArray,
) -> tuple[Mode, str]:
    """Without gold: is the fit trustworthy? If not, the vote (`_vote_first`), and why.

    Two checks, both about the fit contradicting its own premises: an LF whose
    votes for a class the fit makes evidence *against* that class (its precision
    there below the class's prior by more than the noise of its votes, a 95%
    normal band: an LF is written to be better than a guess, but one that is no
    better than a guess is no contradiction),
    and a pair of LFs still dependent within a class beyond ``max_dependence``
    (the fit assumes independence).
    """
    k = fitted.n_classes
    precision = _precision(fitted)
    said = np.zeros((len(names), k))
    for s in range(len(names)):
        col = patterns[:, s]
        said[s] = np.bincount(col[col >= 0], weights=counts[col >= 0], minlength=k)
    pi = fitted.prior[None, :]
    noise = _Z95 * np.sqrt(pi * (1.0 - pi) / np.maximum(said, 1.0))
    below = (precision < pi - noise) & (said > 0)
    if below.any():
        s, c = map(int, np.argwhere(below)[0])
        return "vote", (
            f"the fit makes {names[s]}'s votes for {plain_value(classes[c])!r} evidence against it "
            f"(precision {precision[s, c]:.2f} below the class's prior "
            f"{fitted.prior[c]:.2f}), so the fit is not trusted: {_FALLBACK}"
        )
    if loose.size and loose.max() > max_dependence:
        a, b = map(int, np.unravel_index(int(np.argmax(loose)), loose.shape))
        return "vote", (
            f"{names[a]} and {names[b]} depend on each other within a class "
            f"({loose[a, b]:.2f} > {max_dependence}) beyond what weighting handles, so the "
            f"fit is not trusted: {_FALLBACK}"
        )
    return "independent", (
        "the fit passed its checks: no LF's votes turned against it, no dependence left between LFs"
    )


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
        cov = _gram(centred, w) / total
        sd = np.sqrt(np.maximum(np.diag(cov), 0.0))
        scale = np.outer(sd, sd)
        corr = np.divide(cov, scale, out=np.zeros_like(cov), where=scale > 0)
        out += fitted.prior[c] * corr
    np.fill_diagonal(out, 0.0)
    return out


def _gram(x: FloatArray, w: FloatArray) -> FloatArray:
    """``x.T @ diag(w) @ x`` by `np.einsum`'s own loop: the matrix is small (sources x
    sources), and a threaded BLAS call on a busy machine costs more than the sums."""
    return np.asarray(np.einsum("ni,n,nj->ij", x, w, x, optimize=False))


def _kish_weights(
    dependence: FloatArray, redundancy: float, declared: npt.NDArray[np.bool_]
) -> FloatArray:
    """1 / (1 + sum of each source's excess correlation above ``redundancy``, scaled to 0..1).

    A declared dependency counts as full correlation (excess 1): a declared group
    of ``s`` LFs shares one vote.
    """
    excess = np.clip(dependence - redundancy, 0.0, None) / max(1.0 - redundancy, 1e-12)
    excess = np.where(declared, 1.0, excess)
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
