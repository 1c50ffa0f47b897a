"""Every read path, walked by a person on a private dataset: no raw value comes out.

A project holds a dataset whose private columns carry a unique sentinel string
and a unique sentinel number. Its monitoring (alerts, check records, a schema,
labels, an annotation queue, a model and its predictions, a merge conflict)
exists before the policy marks it private. Then every CLI command and every
`Purpose` of the read path is walked as the person ``ana``: the sentinels appear
in no output, and record-level paths fail with ``private_data``. A job principal
reads the same values raw.

The walk is meant to catch paths added later: every command of the Typer app
must be walked here or listed in `NO_RECORD_VALUES` with the reason, and every
`Purpose` must be read by the walk, so a new one fails until it is classified.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import typer
import yaml
from typer.core import TyperGroup
from typer.testing import CliRunner

import tillage
from tillage import Repo
from tillage.access import Purpose, ReadEvent, listen
from tillage.cli.app import app
from tillage.errors import PrivateDataError

SENTINEL_TEXT = "zqSENTINELqz"
SENTINEL_NUMBER = 987654.321
NEEDLES = (SENTINEL_TEXT, "987654")
OWNER = "own"
PERSON = "ana"
JOB = "job:nightly"
POLICY = (
    "principals: {ben: [approver]}\n"
    "datasets:\n  loans:\n    budget: 5.0\n"
    "    columns: {grade: public, amount: {class: sensitive, bounds: [0, 10]}}\n"
)
TAXONOMY = {"name": "kind", "versions": [{"version": 1, "classes": {"a": "", "b": ""}}]}
TASK = {
    "name": "kinds",
    "labelset": "kind",
    "versions": [{"version": 1, "taxonomy_version": 1, "overlap": 1, "fields": ["note"]}],
}
LFS = (
    "import tillage\n"
    "@tillage.labeling_function()\n"
    "def odd(record):\n"
    "    return 'a' if record['id'] % 2 else None\n"
)
SENTINEL_ID = 100


def loans(ids: range, *, sentinel: bool = False, note: str | None = None) -> pa.Table:
    """Rows of the private dataset; with ``sentinel``, row 100 carries both sentinels."""
    hit = [sentinel and i == SENTINEL_ID for i in ids]
    return pa.table(
        {
            "id": list(ids),
            "note": [
                SENTINEL_TEXT if h else (note or f"n{i % 5}") for i, h in zip(ids, hit, strict=True)
            ],
            "amount": [
                SENTINEL_NUMBER if h else float(i % 10) for i, h in zip(ids, hit, strict=True)
            ],
            "grade": ["A" if i % 2 else "B" for i in ids],
            "y": ["a" if i % 3 else "b" for i in ids],
        }
    )


def leaked(text: str) -> list[str]:
    return [n for n in NEEDLES if n in text]


def build(root: Path, *, policy_first: bool) -> Path:
    """The project: data, schema, alerts, labels, a task, a model and its predictions,
    a branch that conflicts with main on a private cell, then (or first) the policy."""
    from sklearn.linear_model import LogisticRegression

    proj = root / "proj"
    repo = tillage.init(proj)
    (proj / "taxonomies").mkdir()
    (proj / "taxonomies" / "kind.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (proj / "tasks").mkdir()
    (proj / "tasks" / "kinds.yaml").write_text(yaml.safe_dump(TASK))
    (proj / "lfs.py").write_text(LFS)
    (proj / "labels.csv").write_text("record_id,label\n1,a\n")
    if policy_first:  # then monitoring runs as a job, which reads raw
        (repo.repo_dir / "policy.yaml").write_text(POLICY)
        repo.close()
        repo = tillage.open(proj).at(None, principal=JOB)
    repo.ingest("loans", loans(range(80)), key="id")
    repo.quality.infer_schema("loans")
    repo.ingest("loans", loans(range(80, 120), sentinel=True))  # range and domain alerts
    repo.refs.create_tag("sentinel")
    repo.labels.create("kind", records="loans", taxonomy="kind")
    ids = list(range(120))
    repo.labels.add("kind", ids, ["a" if i % 2 else "b" for i in ids], source="import")
    repo.annotation.enqueue("kinds", [1, 2, SENTINEL_ID])
    train = repo.read("loans").to_pandas()
    model = LogisticRegression().fit(train[["amount"]], train["y"])
    repo.models.record("clf", "loans", model=model, features=["amount"])
    repo.refs.create_branch("dev")
    repo.ingest(
        "loans", loans(range(101, 102), note=f"{SENTINEL_TEXT}-theirs"), mode="upsert", branch="dev"
    )
    repo.ingest("loans", loans(range(101, 102), note=f"{SENTINEL_TEXT}-ours"), mode="upsert")
    repo.models.predict("clf", "loans")
    chosen = repo.select("loans", strategy="random", n=3, include_labelled=True)
    (proj / "selection.txt").write_text(chosen.id)
    if not policy_first:
        (repo.repo_dir / "policy.yaml").write_text(POLICY)
    repo.close()
    return proj


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TILLAGE_PRINCIPAL", OWNER)
        yield build(tmp_path_factory.mktemp("built"), policy_first=False)


@pytest.fixture
def proj(built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of the project, read as the person."""
    copy = tmp_path / "proj"
    shutil.copytree(built, copy)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", PERSON)
    return copy


runner = CliRunner()


def cli(proj: Path, *args: str) -> tuple[int, str]:
    chosen = proj / "selection.txt"
    selection = chosen.read_text() if chosen.exists() else ""
    argv = [a.replace("{proj}", str(proj)).replace("{selection}", selection) for a in args]
    result = runner.invoke(app, ["--repo", str(proj), *argv, "--json"])
    return result.exit_code, result.output


# Each command as the person runs it, and what it must do: "refused" (the
# private_data error), "shown" (exit 0, the summary without raw values), or the
# code of another error whose report shows no raw value (a merge conflict's cells).
WALKED: dict[str, tuple[list[str], str]] = {
    "head": (["head", "loans"], "refused"),
    "export": (["export", "loans", "{proj}/../out.parquet"], "refused"),
    "diff": (["diff", "sentinel~1", "sentinel", "--rows", "5"], "refused"),
    "profile": (["profile", "loans"], "shown"),
    "check": (["check", "loans"], "shown"),
    "drift": (["drift", "loans", "--against", "sentinel", "--all"], "shown"),
    "alerts": (["alerts", "--all"], "shown"),
    "alerts accept": (["alerts", "accept", "1"], "shown"),
    "alerts mute": (["alerts", "mute", "1"], "shown"),
    "alerts resolve": (["alerts", "resolve", "1"], "shown"),
    "schema infer": (["schema", "infer", "loans", "--force"], "shown"),
    "show": (["show", "sentinel"], "shown"),
    "merge": (["merge", "dev"], "merge_conflict"),
    "revert": (["revert", "sentinel"], "merge_conflict"),
    "labels show": (["labels", "show", "kind"], "refused"),
    "labels issues": (["labels", "issues", "kind"], "refused"),
    "labels aggregate": (["labels", "aggregate", "kind"], "refused"),
    # Both check the given record ids against the records' keys (private here).
    "labels add": (["labels", "add", "kind", "{proj}/labels.csv", "--source", "ana"], "refused"),
    "annotate enqueue": (["annotate", "enqueue", "kinds", "3", "4"], "refused"),
    "lf report": (["lf", "report", "{proj}/lfs.py", "kind", "-e", "0.2"], "shown"),
    "lf apply": (["lf", "apply", "{proj}/lfs.py", "kind"], "refused"),
    "annotate next": (["annotate", "next", "kinds", "-a", "bob"], "refused"),
    "models predict": (["models", "predict", "clf", "loans"], "refused"),
    "select": (
        ["select", "loans", "--strategy", "random", "-n", "3", "--include-labelled"],
        "refused",
    ),
    "value": (["value", "loans", "--label", "y", "--columns", "amount"], "refused"),
    "slices": (["slices", "clf", "loans", "--label", "y", "-e", "0.2"], "shown"),
    "selection show": (["selection", "show", "{selection}"], "refused"),
    "selection apply": (["selection", "apply", "{selection}"], "refused"),
    "fairness": (["fairness", "clf", "loans", "--label", "y", "--sensitive", "grade"], "refused"),
    "privacy scan": (["privacy", "scan", "loans"], "shown"),
    "privacy policy": (["privacy", "policy"], "shown"),
    "privacy aggregate": (
        ["privacy", "aggregate", "loans", "--by", "grade", "--mean", "amount"],
        "shown",
    ),
    "privacy query": (
        ["privacy", "query", "loans", "count", "--by", "grade", "--categories", "A,B", "-e", "1"],
        "shown",
    ),
    "privacy budget": (["privacy", "budget", "loans"], "shown"),
    "privacy synthesize": (
        [
            "privacy",
            "synthesize",
            "loans",
            "-e",
            "1",
            "-c",
            "grade,amount",
            "--categories",
            "grade=A,B",
        ],
        "shown",
    ),
    "grant request": (
        ["grant", "request", "loans", "--purpose", "T-1", "--columns", "note", "--max-rows", "1"],
        "shown",
    ),
    "grant list": (["grant", "list"], "shown"),
    # Without an approved grant of their own, a person reads nothing.
    "grant read": (["grant", "read", "0123456789ab"], "no_such_grant"),
    "grant approve": (["grant", "approve", "0123456789ab"], "no_such_grant"),
    "grant revoke": (["grant", "revoke", "0123456789ab"], "no_such_grant"),
    "audit log": (["audit", "log"], "shown"),
    "audit verify": (["audit", "verify"], "shown"),
}

# Commands that hand out no record-level value of a dataset, and why.
NO_RECORD_VALUES: dict[str, str] = {
    "init": "creates an empty repository",
    "status": "branch, heads and row counts",
    "gc": "counts of files removed",
    "verify": "hashes and counts of damaged files",
    "upgrade": "catalog versions",
    "ingest": "writes; prints the commit it made",
    "reset": "moves a branch; prints a commit",
    "log": "commit ids, messages and principals",
    "branch": "branch names",
    "switch": "branch names",
    "tag": "tag names",
    "demo": "builds its own repository from public data",
    "run": "starts a pipeline, which reads as its job; shows it as `runs show` does",
    "backfill": "starts pipeline runs: they read as their jobs",
    "lineage": "dataset and commit names",
    "worker": "runs scheduled jobs, which read as their jobs",
    "labels create": "declares a label set",
    "annotate submit": "writes one label the caller gives for a record id the caller gives",
    "annotate progress": "counts of queued and labelled records",
    "loop show": "a loop's rounds: counts and metrics",
    "models list": "model names and versions",
    "models show": "a model's metrics and feature importances",
    "alerts deliver": "counts of alert events sent",
    "runs": "run ids and states",
    "runs show": "a run's steps and states; the result and errors of a run that read "
    "private data are hidden (test_what_a_job_writes_from_private_values_...)",
    "runs resume": "resumes a run as its job; shows it as `runs show` does",
    "runs approve": "approves a waiting step; shows the run as `runs show` does",
    "runs cancel": "cancels a run",
    "runs delete": "deletes a run's records",
    "schedule add": "a schedule's target and timing",
    "schedule list": "schedules",
    "schedule remove": "removes a schedule",
    "selection list": "selection ids and counts",
}


def leaves() -> list[str]:
    """Every command of the app, as ``tillage --help`` lists them (groups by their subcommands)."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    found = []
    for name, command in group.commands.items():
        subs = getattr(command, "commands", None)
        if subs:
            found += [f"{name} {sub}" for sub in subs]
        if not subs or getattr(command, "invoke_without_command", False):
            found.append(name)
    return found


def test_every_command_is_walked_or_reads_no_record_values() -> None:
    commands = set(leaves())
    assert not set(WALKED) & set(NO_RECORD_VALUES)
    unclassified = sorted(commands - set(WALKED) - set(NO_RECORD_VALUES))
    assert not unclassified, (
        f"commands not classified for privacy: {unclassified}; walk them in WALKED or "
        "say in NO_RECORD_VALUES why they show no record-level values"
    )
    assert not (set(WALKED) | set(NO_RECORD_VALUES)) - commands  # no stale entries


@pytest.mark.parametrize("command", sorted(WALKED))
def test_a_person_gets_no_raw_value_from_any_command(proj: Path, command: str) -> None:
    args, outcome = WALKED[command]
    code, out = cli(proj, *args)
    assert not leaked(out), (command, out)
    doc = json.loads(out)
    if outcome == "shown":
        assert code == 0, out
    elif outcome == "refused":
        assert code != 0 and doc["error"]["code"] == "private_data", out
        message = doc["error"]["message"]
        assert "tillage privacy" in message and "grant request" in message, message
        assert not (proj.parent / "out.parquet").exists()
    else:  # refused for another reason, with no raw value in the report
        assert code != 0 and doc["error"]["code"] == outcome, out


def test_redacted_summaries_say_so(proj: Path) -> None:
    _, out = cli(proj, "profile", "loans")
    columns = json.loads(out)["columns"]
    assert columns["amount"]["redacted"] == "private column"
    assert columns["amount"]["max"] is None and columns["amount"]["frequent"] is None
    assert columns["amount"]["count"] == 120 and columns["amount"]["distinct"] is not None
    assert "redacted" not in columns["grade"] and columns["grade"]["frequent"]
    _, out = cli(proj, "alerts", "--all")
    alerts = json.loads(out)["alerts"]
    assert alerts and all(
        a["finding"]["details"] == {"redacted": "private column"}
        for a in alerts
        if a["column"] in ("note", "amount")
    )
    _, out = cli(proj, "merge", "dev")
    conflicts = json.loads(out)["error"]["conflicts"]
    assert conflicts and all(c["ours"] == "private column" for c in conflicts), conflicts


# -- the Python API -------------------------------------------------------------

# Each purpose, read through the Python API; the result is rendered with repr and
# json so that any raw value in it shows. AGGREGATE and BREAK_GLASS are let
# through for anyone: the code that asks for them gates what it releases.
API: dict[Purpose, Callable[[Repo, Path], Any]] = {
    Purpose.ROWS: lambda r, t: r.read("loans"),
    Purpose.EXPORT: lambda r, t: r.datasets.export("loans", t / "out.parquet"),
    Purpose.DIFF: lambda r, t: r.diff("sentinel~1", "sentinel"),
    Purpose.MERGE: lambda r, t: r.merge("dev"),
    Purpose.PROFILE: lambda r, t: r.profile("loans").to_dict(),
    Purpose.SCHEMA: lambda r, t: r.quality.infer_schema("loans", overwrite=True)[0],
    Purpose.CHECK: lambda r, t: [
        *(c.to_dict() for c in r.quality.checks("sentinel")),
        *(f.to_dict() for f in r.quality.check("loans")),
    ],
    Purpose.DRIFT: lambda r, t: [
        f.to_dict() for f in r.drift("loans", against="sentinel", show_all=True)
    ],
    Purpose.ALERT: lambda r, t: [a.to_dict() for a in r.quality.alerts(show_all=True)],
    Purpose.LABELS: lambda r, t: r.labels.current("kind"),
    Purpose.LABEL_ISSUES: lambda r, t: r.labels.issues("kind", folds=2),
    Purpose.ANNOTATION: lambda r, t: r.annotation.show(
        "kinds", r.annotation.next("kinds", "bob", 2)
    ),
    Purpose.TRAINING_SET: lambda r, t: r.labels.training_set("loans", "kind"),
    # Slices are DP answers for a person (test_privacy_dp_reports); fairness is exact.
    Purpose.ANALYSIS: lambda r, t: r.models.fairness(
        "clf", "loans", label="y", sensitive=["grade"]
    ),
    Purpose.SELECT: lambda r, t: r.select("loans", strategy="random", n=3, include_labelled=True),
    Purpose.PREDICT: lambda r, t: r.models.predict("clf", "loans"),
    Purpose.FEATURES: lambda r, t: r.models.features("loans"),
    Purpose.AGGREGATE: lambda r, t: r.privacy.aggregate("loans", by=["grade"]).to_dict(),
    Purpose.BREAK_GLASS: lambda r, t: granted(r),
}


def granted(repo: Repo) -> pa.Table:
    """The rows of a grant ``repo``'s principal requests and ben approves."""
    grant = repo.privacy.request_grant("loans", purpose="T-1", columns=["note"], max_rows=200)
    repo.at(None, principal="ben").privacy.approve_grant(grant.id, expires_in="1h")
    return repo.privacy.read_granted(grant.id)


SUMMARIES = {
    Purpose.PROFILE,
    Purpose.SCHEMA,
    Purpose.CHECK,
    Purpose.DRIFT,
    Purpose.ALERT,
}
EXEMPT = {Purpose.AGGREGATE, Purpose.BREAK_GLASS}


def shown(value: Any) -> str:
    if isinstance(value, pa.Table):
        return json.dumps(value.to_pylist(), default=str)
    return repr(value)


def test_the_walk_covers_every_purpose() -> None:
    assert set(API) == set(Purpose)


@pytest.mark.parametrize("purpose", list(Purpose), ids=str)
def test_a_person_gets_no_raw_value_through_the_api(
    proj: Path, tmp_path: Path, purpose: Purpose
) -> None:
    repo = tillage.open(proj)
    try:
        if purpose is Purpose.BREAK_GLASS:  # raw, but only under an approved grant
            unapproved = repo.privacy.request_grant(
                "loans", purpose="T-1", columns=["note"], max_rows=200
            )
            with pytest.raises(tillage.GrantRefusedError):
                repo.privacy.read_granted(unapproved.id)
            assert leaked(shown(API[purpose](repo, tmp_path)))
        elif purpose in EXEMPT | SUMMARIES:
            assert not leaked(shown(API[purpose](repo, tmp_path)))
        elif purpose is Purpose.MERGE:
            with pytest.raises(tillage.MergeConflictError) as e:
                API[purpose](repo, tmp_path)
            assert not leaked(str(e.value) + repr(e.value.conflicts))
        else:
            with pytest.raises(PrivateDataError) as refused:
                API[purpose](repo, tmp_path)
            assert refused.value.code == "private_data" and "ana" in str(refused.value)
            if purpose is Purpose.ANNOTATION:
                assert "task's dataset 'loans' is private" in str(refused.value)
            assert not (tmp_path / "out.parquet").exists()
    finally:
        repo.close()


@pytest.mark.parametrize("principal", [JOB, OWNER])
def test_a_job_and_a_raw_reading_owner_read_the_same_paths_raw(
    proj: Path, tmp_path: Path, principal: str
) -> None:
    if principal == OWNER:  # the owner reads raw only where the policy says so
        (proj / ".tillage" / "policy.yaml").write_text(
            POLICY
            + f"raw_readers: [job, owner]\nprincipals: {{{OWNER}: [owner], ben: [approver]}}\n"
        )
    events: list[ReadEvent] = []
    remove = listen(events.append)
    repo = tillage.open(proj).at(None, principal=principal)
    try:
        for purpose, read in API.items():
            if purpose is Purpose.MERGE:
                with pytest.raises(tillage.MergeConflictError) as e:
                    read(repo, tmp_path)
                assert leaked(str(e.value)), purpose
                continue
            out = read(repo, tmp_path)
            if purpose in (Purpose.ROWS, Purpose.PROFILE, Purpose.ALERT, Purpose.CHECK):
                assert leaked(shown(out)), purpose
    finally:
        remove()
        repo.close()
    assert {e.purpose for e in events} == set(Purpose)
    assert {e.principal for e in events} == {principal}


def test_monitoring_run_as_a_job_under_the_policy_hides_its_alerts_from_people(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLAGE_PRINCIPAL", OWNER)
    proj = build(tmp_path, policy_first=True)
    monkeypatch.setenv("TILLAGE_PRINCIPAL", PERSON)
    for args in (
        ["alerts", "--all"],
        ["show", "sentinel"],
        ["check", "loans"],
        ["profile", "loans"],
    ):
        code, out = cli(proj, *args)
        assert code == 0 and not leaked(out), (args, out)
    code, out = cli(proj, "head", "loans")
    assert json.loads(out)["error"]["code"] == "private_data"
    monkeypatch.setenv("TILLAGE_PRINCIPAL", JOB)
    code, out = cli(proj, "alerts", "--all")
    assert code == 0 and leaked(out)


# -- what jobs write ------------------------------------------------------------

PIPE = """
import pyarrow as pa
import pyarrow.compute as pc
import tillage


@tillage.step(cache=False)
def derive() -> int:
    repo = tillage.context().repo
    rows = repo.read("loans")
    notes = rows.select(["id", "note", "grade"]).append_column(
        "extra", pa.array([1] * rows.num_rows)
    )
    repo.ingest("notes", notes, key="id")
    counts = rows.group_by("grade").aggregate([("id", "count")])
    repo.datasets.ingest("counts", counts, key="grade", declassified_by="aggregate")
    return pc.max(rows["amount"]).as_py()


@tillage.pipeline
def pipe() -> int:
    return derive()
"""


def test_what_a_job_writes_from_private_values_is_private_unless_declassified(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tillage.core.policy import ColumnClass
    from tillage.store import derivations

    monkeypatch.setenv("TILLAGE_PRINCIPAL", OWNER)
    repo = tillage.init(tmp_path / "p")
    repo.ingest("loans", loans(range(120), sentinel=True), key="id")
    (repo.repo_dir / "policy.yaml").write_text(
        "datasets:\n  loans:\n    default_class: quasi_identifier\n"
        "    columns: {grade: public, note: direct_identifier}\n"
    )
    (tmp_path / "pipe.py").write_text(PIPE)
    scheduler = tillage.open(tmp_path / "p").at(None, principal=JOB)  # sees results raw
    run = tillage.run(scheduler, f"{tmp_path}/pipe.py:pipe")
    assert run.status == "done" and run.result == SENTINEL_NUMBER, run.error

    monkeypatch.setenv("TILLAGE_PRINCIPAL", PERSON)
    person = tillage.open(tmp_path / "p")
    policy = person.privacy.policy()
    notes = policy.private("notes")
    assert notes is not None and policy.private("counts") is None
    assert notes.column("note").cls is ColumnClass.DIRECT_IDENTIFIER
    assert notes.column("grade").cls is ColumnClass.PUBLIC
    assert notes.column("extra").cls is ColumnClass.QUASI_IDENTIFIER  # the source's default
    with pytest.raises(PrivateDataError, match="'notes'"):
        person.read("notes")
    assert not leaked(shown(person.profile("notes").to_dict()))
    assert person.read("notes", columns=["grade"]).num_rows == 120  # public columns show
    assert person.read("counts").num_rows == 2
    recorded = {
        (d.dataset, d.source, d.declassified_by)
        for d in derivations.load(person._storage.catalog.engine)
    }
    assert recorded == {("notes", "loans", None), ("counts", "loans", "aggregate")}
    with pytest.raises(tillage.InputError, match="declassified_by must be one of dp, aggregate"):
        person.datasets.ingest("other", pa.table({"id": [1]}), key="id", declassified_by="x")
    assert "other" not in person.datasets.pins()
    # The run's result came from private values: shown only to raw readers.
    code, out = cli(tmp_path / "p", "runs", "show", run.id)
    assert code == 0 and not leaked(out) and "hidden: the run read private" in out, out
    monkeypatch.setenv("TILLAGE_PRINCIPAL", "job:audit")
    assert leaked(cli(tmp_path / "p", "runs", "show", run.id)[1])


def test_public_columns_show_but_not_behind_a_filter_on_private_ones(proj: Path) -> None:
    repo = tillage.open(proj)
    try:
        assert repo.read("loans", columns=["grade"]).num_rows == 120
        with pytest.raises(PrivateDataError):
            repo.read("loans", columns=["grade"], where="amount > 900000")
        with pytest.raises(PrivateDataError):
            repo.read("loans", columns=["grade", "note"])
    finally:
        repo.close()


def test_alert_sinks_hear_of_a_private_datasets_alerts_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TILLAGE_PRINCIPAL", JOB)  # even a raw reader's ingest
    repo = tillage.init(tmp_path / "p")
    config = repo.repo_dir / "config.yaml"
    cfg = yaml.safe_load(config.read_text())
    cfg["quality"] = {"sinks": [{"type": "jsonl", "path": str(tmp_path / "alerts.jsonl")}]}
    config.write_text(yaml.safe_dump(cfg))
    (repo.repo_dir / "policy.yaml").write_text(POLICY)
    repo.close()
    with tillage.open(tmp_path / "p") as repo:
        repo.ingest("loans", loans(range(80)), key="id")
        repo.quality.infer_schema("loans")
        repo.ingest("loans", loans(range(80, 120), sentinel=True))
        assert leaked(shown([a.to_dict() for a in repo.quality.alerts()]))  # stored whole
    events = (tmp_path / "alerts.jsonl").read_text()
    assert "private column" in events and not leaked(events)


def test_a_person_gets_no_record_id_of_a_private_task_from_the_api(proj: Path) -> None:
    repo = tillage.open(proj)
    try:
        with pytest.raises(PrivateDataError, match="task's dataset 'loans' is private"):
            repo.annotation.next("kinds", "bob", 2)
    finally:
        repo.close()
    job = tillage.open(proj).at(None, principal=JOB)
    try:
        assert job.annotation.next("kinds", "bob", 2)  # jobs (and raw readers) get them
    finally:
        job.close()


def test_a_derived_dataset_spends_its_sources_budget(proj: Path) -> None:
    """A label set of private records gives no fresh budget: budgets follow lineage."""
    repo = tillage.open(proj)
    try:
        kind = repo.privacy.policy().private("kind")
        assert kind is not None and kind.lineage == "loans"
        repo.privacy.query("loans", "count", epsilon=2.0)
        assert repo.privacy.budget("kind").spent == pytest.approx(2.0)
        with pytest.raises(tillage.BudgetExhaustedError):
            repo.privacy.query("kind", "count", epsilon=3.5)
    finally:
        repo.close()


def test_a_grant_on_a_derived_dataset_voids_the_guarantee_on_its_source(proj: Path) -> None:
    repo = tillage.open(proj)
    try:
        grant = repo.privacy.request_grant("kind", purpose="T-2", columns=["label"], max_rows=1)
        repo.at(None, principal="ben").privacy.approve_grant(grant.id, expires_in="1h")
        assert repo.privacy.budget("loans").void
    finally:
        repo.close()
