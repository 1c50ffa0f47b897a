"""Every error tillage raises on purpose.

Each error says what was wrong and what to do next, carries its facts as
attributes, and has a stable ``code`` that shells map without parsing messages:
`EXIT_STATUS` and `HTTP_STATUS` below are the one table from code to CLI exit
status and HTTP status (``err.exit_status``, ``err.http_status``).

    TillageError
    ├── NotARepositoryError          no repository at or above a path
    ├── RepositoryExistsError        ``init`` on an existing repository
    ├── NoSuchNameError              a name or id that names nothing (catch them all)
    │   ├── NoSuchDatasetError       unknown dataset (at a ref)
    │   ├── NoSuchRefError           unknown branch, tag or commit id
    │   ├── NoSuchModelError         no model recorded under a name
    │   ├── NoSuchLabelSetError      unknown label set
    │   ├── NoSuchTaxonomyError      no taxonomy file for a name
    │   ├── NoSuchTaskError          no annotation task spec for a name
    │   ├── NoSuchScheduleError      unknown schedule number
    │   ├── NoSuchAlertError         unknown alert id
    │   ├── NoSuchRunError           unknown pipeline run id
    │   ├── NoSuchStrategyError      unknown selection strategy
    │   ├── NoSuchSelectionError     unknown selection id
    │   ├── NoSuchActionError        unknown action on selected records
    │   ├── NoSuchGeneratorError     unknown generator of synthetic records
    │   └── NoSuchGrantError         unknown break-glass grant id
    ├── InvalidRefError              a ref that cannot name anything (empty)
    ├── RefExistsError               branch or tag name already taken
    ├── InvalidNameError             a name that is not allowed
    ├── InputError                   bad input data
    │   ├── UnreadableFileError      missing, empty, truncated or mislabeled file
    │   ├── InvalidFilterError       a row filter (``--where``) that is not one condition
    │   ├── EncodingError            a text file's bytes are not in its encoding
    │   ├── CsvValueError            a CSV cell that does not convert to its type exactly
    │   ├── ExportError              an export could not be written (no file is left)
    │   ├── SchemaMismatchError      batch schema conflicts with the dataset
    │   ├── KeyViolationError        duplicate or null primary keys
    │   ├── SchemaFileError          a schema file that does not parse or fit
    │   ├── AlertNotAcceptableError  accepting an alert would change nothing
    │   ├── QualityCheckError        a batch broke a blocking schema rule
    │   ├── EmptyPoolError           no records left to select from
    │   ├── MissingFeaturesError     a model's features are not in a dataset
    │   ├── NoModelArtifactError     a model version recorded without its file
    │   ├── FidelityGateError        generated records less faithful than a baseline
    │   │   └── SyntheticFidelityError   a synthetic proxy worse than independent columns
    │   ├── TransformError           an augmentation transform failed on a record
    │   ├── StrategyInputError       a strategy's inputs or parameters do not fit it
    │   ├── AnnotationConflictError  an annotation a record no longer takes (full, or again)
    │   ├── PolicyFileError          a privacy policy file that does not parse or fit
    │   ├── GrantRequestError        a break-glass request without purpose or with a bad scope
    │   ├── DPQueryError             a DP query without public bounds or categories, or a bad ε
    │   ├── NoBudgetError            a DP query on a dataset the policy gives no budget
    │   ├── PrivacyParameterError    an epsilon, delta, row count or bound out of range
    │   └── SynthesisDomainError     a column to synthesize with no public bounds or categories
    ├── PrivateDataError             a principal may not see a private dataset's raw values
    ├── GrantRefusedError            a grant that may not be approved, revoked or read (audited)
    ├── BudgetExhaustedError         a DP query that would overspend the privacy budget
    ├── NoPredictionsError           a model has no predictions for a dataset version
    ├── ConcurrentUpdateError        a branch moved while a commit was being made
    ├── LockTimeoutError             another writer held the repository too long
    ├── MergeConflictError           a three-way merge found conflicting keys
    ├── CatalogError                 the catalog is unreachable, too new or too old
    │   ├── CatalogMissingError      the catalog file is gone or empty
    │   └── CatalogDamagedError      the catalog file is not a readable database
    ├── CorruptDataError             a data file differs from what its commit wrote
    │   └── CorruptModelError        a model's file differs from what was saved
    ├── StorageError                 the file system refused a read or write
    │   ├── DiskFullError            no space left for a write
    │   └── ReadOnlyRepositoryError  a write on a repository it may not change
    ├── RunStateError                a run cannot do that now (resume a cancelled run, ...)
    ├── StoredValueError             a stored step result changed since it was stored
    ├── NondeterminismError          a resumed pipeline body took another path
    └── SinkError                    an alert sink failed after its retries
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class TillageError(Exception):
    """Base of all tillage errors; ``code`` is stable across releases."""

    code = "tillage_error"
    transient = False
    """Whether the same call may succeed if made again unchanged (another writer was in
    the way); step retries retry only these, since the rest need other input first."""

    def attrs(self) -> dict[str, Any]:
        """The error's facts, for ``--json`` output and HTTP bodies."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    @property
    def exit_status(self) -> int:
        """The CLI's exit status for this error, from `EXIT_STATUS`."""
        return _status(EXIT_STATUS, type(self))

    @property
    def http_status(self) -> int:
        """The HTTP status a server answers this error with, from `HTTP_STATUS`."""
        return _status(HTTP_STATUS, type(self))


def _known(names: Sequence[str]) -> tuple[list[str], str]:
    """``names`` sorted, and as shown in a message (``none yet`` when empty)."""
    known = sorted(names)
    return known, ", ".join(known) if known else "none yet"


class NoSuchNameError(TillageError):
    """A name or id that names nothing; the subclasses say what kind of thing."""

    code = "no_such_name"


class NotARepositoryError(TillageError):
    code = "not_a_repository"

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"no tillage repository at or above {path!r}. Create one with `tillage init`, "
            "or point to one with `tillage --repo PATH` or the TILLAGE_REPO variable."
        )


class RepositoryExistsError(TillageError):
    code = "repository_exists"

    def __init__(self, path: str, fix: str = "open it instead") -> None:
        self.path = path
        super().__init__(f"a tillage repository already exists at {path!r}; {fix}.")


class NoSuchDatasetError(NoSuchNameError):
    code = "no_such_dataset"

    def __init__(self, name: str, ref: str, known: Sequence[str]) -> None:
        self.name = name
        self.ref = ref
        self.known, have = _known(known)
        super().__init__(
            f"dataset {name!r} does not exist at {ref!r} (datasets there: {have}). "
            "Check the name, or create it with `tillage ingest NAME FILE --key COL`."
        )


class NoSuchRefError(NoSuchNameError):
    code = "no_such_ref"

    def __init__(self, ref: str, kind: str = "branch, tag or commit", hint: str = "") -> None:
        self.ref = ref
        self.kind = kind
        super().__init__(
            f"no {kind} named {ref!r}{hint}. "
            "List them with `tillage branch --list` or `tillage log`."
        )


class NoSuchModelError(NoSuchNameError):
    code = "no_such_model"

    def __init__(self, name: str, known: Sequence[str], version: int | None = None) -> None:
        self.name = name
        self.version = version
        if version is not None:  # the name is known; ``known`` lists its versions
            self.known = list(known)
            super().__init__(
                f"model {name!r} has no version {version} (its versions: "
                f"{', '.join(known)}). See them with `tillage models list {name}`."
            )
            return
        self.known, have = _known(known)
        super().__init__(
            f"no model named {name!r} is recorded (models: {have}). Check the name, or "
            "record the model with repo.record_model(name, dataset)."
        )


class NoSuchLabelSetError(NoSuchNameError):
    code = "no_such_labelset"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known, have = _known(known)
        super().__init__(
            f"no label set {name!r} (label sets: {have}). Check the name, or create it with "
            "`tillage labels create NAME --records DATASET --taxonomy TAXONOMY`."
        )


class NoSuchTaxonomyError(NoSuchNameError):
    """No taxonomy file where a name (or path) says one is."""

    code = "no_such_taxonomy"

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"no taxonomy file {path!r}. Check the name, or write that file "
            "(see tillage.labels.taxonomy for its format)."
        )


class NoSuchTaskError(NoSuchNameError):
    """No annotation task spec where a task name (or path) says one is."""

    code = "no_such_task"

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"no annotation task spec {path!r}. Check the task name, or write that file "
            "(see tillage.labels.annotation for its format)."
        )


class NoSuchScheduleError(NoSuchNameError):
    code = "no_such_schedule"

    def __init__(self, schedule_id: int, known: Sequence[int]) -> None:
        self.schedule_id = schedule_id
        self.known = sorted(known)
        have = ", ".join(map(str, self.known)) if self.known else "none yet"
        super().__init__(
            f"no schedule {schedule_id} (schedules: {have}); "
            "list them with `tillage schedule list`."
        )


class InvalidRefError(TillageError):
    """A ref that names nothing by construction, such as ``""`` (it does not mean HEAD)."""

    code = "invalid_ref"

    def __init__(self, ref: object, what: str = "ref") -> None:
        self.ref = ref
        self.what = what
        problem = (
            "it is empty" if isinstance(ref, str) else f"it is not text ({type(ref).__name__})"
        )
        give = "a branch, tag or commit id (HEAD for the current branch's head)"
        super().__init__(
            f"{ref!r} is not a valid {what}: {problem}. Give "
            f"{give if what == 'ref' else f'the name of a {what}'}, "
            "or leave the option out for the default."
        )


class RefExistsError(TillageError):
    code = "ref_exists"

    def __init__(self, name: str, kind: str) -> None:
        self.name = name
        self.kind = kind
        super().__init__(f"a {kind} named {name!r} already exists; pick another name.")


class InvalidNameError(TillageError):
    code = "invalid_name"

    def __init__(self, name: str, what: str, rule: str) -> None:
        self.name = name
        self.what = what
        super().__init__(f"{name!r} is not a valid {what} name: {rule}.")


class InputError(TillageError):
    """Bad input data; the repository is left unchanged."""

    code = "bad_input"


class UnreadableFileError(InputError):
    code = "unreadable_file"

    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"cannot read {path!r}: {problem}. {fix}")


class InvalidFilterError(InputError):
    """A row filter that is not exactly one condition, or that the table cannot evaluate."""

    code = "invalid_filter"

    def __init__(self, where: str, problem: str) -> None:
        self.where = where
        self.problem = problem
        super().__init__(
            f"cannot filter with {where!r}: {problem}. Write one SQL condition, e.g. "
            "\"dep_delay > 60 AND carrier IN ('AA', 'UA')\": strings in single quotes, "
            "column names with spaces or other characters in backticks (`my col`), "
            "timestamps as TIMESTAMP '2013-01-01 05:00:00'."
        )


class EncodingError(InputError):
    """A text file with bytes its encoding cannot decode; says where, and the fix."""

    code = "bad_encoding"

    def __init__(
        self, path: str, encoding: str, offset: int, line: int, column: str | None
    ) -> None:
        self.path = path
        self.encoding = encoding
        self.offset = offset
        self.line = line
        self.column = column
        where = f"column {column!r}, " if column is not None else ""
        super().__init__(
            f"cannot read {path!r} as {encoding}: {where}line {line}, byte offset {offset} "
            f"is not valid {encoding}. Give the file's encoding with --encoding "
            "(encoding= in Python), e.g. --encoding latin-1, or convert the file to UTF-8."
        )


class CsvValueError(InputError):
    """A CSV cell that does not convert to its column's type without changing its value."""

    code = "csv_value"

    def __init__(
        self, path: str, column: str, row: int, value: str, type_: str, problem: str
    ) -> None:
        self.path = path
        self.column = column
        self.row = row
        self.value = value
        self.type = type_
        self.problem = problem
        super().__init__(
            f"{path!r}, column {column!r}, row {row}: the value {value!r} {problem}. "
            "Fix the value, or pass --coerce (coerce=True in Python) to convert "
            "such values anyway (with loss) and store the ones that do not convert as null."
        )


class ExportError(InputError):
    """An export that could not be written; the destination is left as it was."""

    code = "export_failed"

    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"cannot write {path!r}: {problem}; nothing was written there. {fix}")


class SchemaMismatchError(InputError):
    code = "schema_mismatch"

    def __init__(
        self,
        dataset: str,
        added: Sequence[str] = (),
        missing: Sequence[str] = (),
        retyped: Sequence[tuple[str, str, str]] = (),
    ) -> None:
        self.dataset = dataset
        self.added = list(added)
        self.missing = list(missing)
        self.retyped = [list(r) for r in retyped]
        parts = []
        if self.added:
            parts.append("new columns " + ", ".join(self.added))
        if self.missing:
            parts.append("missing columns " + ", ".join(self.missing))
        for col, was, now in retyped:
            parts.append(f"column {col} is {now}, dataset has {was}")
        fix = (
            "Pass --evolve (evolve=True) to add the new columns."
            if self.added and not self.missing and not self.retyped
            else "Make the batch match the dataset's schema (`tillage head DATASET` shows it)."
        )
        super().__init__(f"the batch does not match dataset {dataset!r}: {'; '.join(parts)}. {fix}")


class KeyViolationError(InputError):
    code = "key_violation"

    def __init__(
        self,
        dataset: str,
        key: Sequence[str],
        problem: str,
        examples: list[Any],
        fix: str = "Remove or fix those rows.",
    ) -> None:
        self.dataset = dataset
        self.key = list(key)
        self.problem = problem
        self.examples = examples
        shown = ", ".join(repr(e) for e in examples[:5])
        super().__init__(
            f"the batch for {dataset!r} has {problem} in primary key ({', '.join(key)}), "
            f"e.g. {shown}. {fix}"
        )


class ConcurrentUpdateError(TillageError):
    code = "concurrent_update"
    transient = True

    def __init__(self, branch: str, expected: str | None, found: str | None) -> None:
        self.branch = branch
        self.expected = expected
        self.found = found
        super().__init__(
            f"branch {branch!r} moved while this commit was being made "
            f"(expected head {expected}, found {found}); nothing was written. "
            "Run the command again."
        )


class LockTimeoutError(TillageError):
    code = "lock_timeout"
    transient = True


class MergeConflictError(TillageError):
    code = "merge_conflict"

    def __init__(self, source: str, target: str, conflicts: list[dict[str, Any]]) -> None:
        self.source = source
        self.target = target
        self.conflicts = conflicts
        lines = [
            f"  {c['dataset']}: key {c['key']} column {c['column']}: "
            f"base {c['base']!r}, ours {c['ours']!r}, theirs {c['theirs']!r}"
            for c in conflicts[:10]
        ]
        more = f"\n  ... and {len(conflicts) - 10} more" if len(conflicts) > 10 else ""
        super().__init__(
            f"merging {source!r} into {target!r} found {len(conflicts)} conflicting cell(s); "
            "nothing was written. Fix them on one side, or pass --prefer ours|theirs.\n"
            + "\n".join(lines)
            + more
        )


class CatalogError(TillageError):
    code = "catalog_error"


class CatalogMissingError(CatalogError):
    """The repository's catalog file is missing or empty; only ``init`` creates one."""

    code = "catalog_missing"

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"the repository's catalog {path!r} {problem}, so its commits, branches and "
            "tags cannot be read (the data under tables/ is not enough on its own). Restore "
            "catalog.db from a backup; tillage creates a catalog only with `tillage init`, "
            "never over an existing repository."
        )


class CatalogDamagedError(CatalogError):
    """The catalog file exists but is not a readable database (garbage, cut short)."""

    code = "catalog_damaged"

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(
            f"the repository's catalog {path!r} is damaged ({problem}); nothing was changed. "
            "Restore catalog.db from a backup (sqlite3's `.recover` may save some of it), "
            "then run `tillage verify`."
        )


class CorruptDataError(TillageError):
    """A file of a pinned dataset version is missing or differs from what was written."""

    code = "corrupt_data"

    def __init__(self, dataset: str, version: str, file: str, problem: str) -> None:
        self.dataset = dataset
        self.version = version
        self.file = file
        self.problem = problem
        super().__init__(
            f"dataset {dataset!r} at version {version} is damaged: {file} {problem}; "
            "nothing was read from it. Run `tillage verify --deep` to list every damaged "
            "file, then restore them from a backup (or reset to a commit before them)."
        )


class CorruptModelError(CorruptDataError):
    """A model version's saved file is missing or its bytes differ from those recorded."""

    code = "corrupt_model"

    def __init__(self, model: str, version: int, file: str, problem: str) -> None:
        self.model = model
        self.dataset = f"model:{model}"
        self.version = str(version)
        self.file = file
        self.problem = problem
        TillageError.__init__(
            self,
            f"model {model!r} version {version} is damaged: {file} {problem}; nothing was "
            "loaded from it. Restore the file from a backup, or record the model again "
            "(repo.models.record(..., model=estimator)).",
        )


class StorageError(TillageError):
    """The file system refused what tillage asked of it; nothing was committed."""

    code = "storage_error"

    def __init__(self, path: str, problem: str, fix: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}; nothing was committed. {fix}")


class DiskFullError(StorageError):
    code = "disk_full"

    def __init__(self, path: str) -> None:
        super().__init__(
            path,
            "no space left on the device",
            "Free some space (`tillage gc` deletes data no branch or tag needs) and run "
            "the command again.",
        )


class ReadOnlyRepositoryError(StorageError):
    """A write to a repository this process may only read (permissions, read-only media)."""

    code = "read_only"

    def __init__(self, path: str, problem: str = "not writable") -> None:
        super().__init__(
            path,
            problem,
            "Reading (status, log, head, export, verify) works; to write, run as a user "
            "who may write the repository's .tillage folder, on a file system mounted "
            "read-write.",
        )


class SchemaFileError(InputError):
    """A schema file that cannot be used: says which file, which column, and the fix."""

    code = "schema_file"

    def __init__(self, source: str, problem: str, fix: str, column: str | None = None) -> None:
        self.source = source
        self.column = column
        self.problem = problem
        self.fix = fix
        where = f", column {column!r}" if column is not None else ""
        super().__init__(f"schema file {source!r}{where}: {problem}. {fix}")


class QualityCheckError(InputError):
    """Ingest found ``block`` findings; the batch went to a quarantine branch instead."""

    code = "quality_block"

    def __init__(self, dataset: str, findings: Sequence[Any], quarantine: str | None) -> None:
        self.dataset = dataset
        self.findings = [f.to_dict() for f in findings]
        self.quarantine = quarantine
        lines = [f"  {f.message}" for f in findings[:10]]
        where = (
            f"The batch was kept on branch {quarantine!r}: inspect it with "
            f"`tillage diff HEAD {quarantine}`, fix the data and ingest again"
            if quarantine
            else "Nothing was written; fix the data and ingest again"
        )
        super().__init__(
            f"the batch for {dataset!r} breaks {len(findings)} blocking rule(s) of its schema, "
            f"so it was not committed. {where}, or relax the rule in the schema file.\n"
            + "\n".join(lines)
        )


class AlertNotAcceptableError(InputError):
    """Accepting the alert would change nothing (a drift finding no schema rule covers)."""

    code = "alert_not_acceptable"

    def __init__(self, alert_id: int, reason: str, fix: str) -> None:
        self.alert_id = alert_id
        self.reason = reason
        self.fix = fix
        super().__init__(f"alert #{alert_id} cannot be accepted: {reason}. {fix}")


class LabelSetNotDataError(InputError):
    """A data check (schema inference, schema check, drift) asked of a label set."""

    code = "label_set_not_data"

    def __init__(self, labelset: str, what: str) -> None:
        self.labelset = labelset
        self.what = what
        super().__init__(
            f"{labelset!r} is a label set: its columns are label events, so {what} would "
            "compare label sources, not data. Its writes are checked as labels instead "
            "(label shares, annotator agreement, labeling-function coverage) and open alerts "
            f"in `tillage alerts`; see its labels with `tillage labels show {labelset}`."
        )


class NoSuchAlertError(NoSuchNameError):
    code = "no_such_alert"

    def __init__(self, alert_id: int) -> None:
        self.alert_id = alert_id
        super().__init__(f"no alert #{alert_id}; list them with `tillage alerts --all`.")


class SinkError(TillageError):
    """A sink could not deliver an event (the alert itself is safe in the catalog)."""

    code = "sink_failed"

    def __init__(
        self,
        sink: str,
        target: str,
        problem: str,
        fix: str,
        *,
        attempts: int = 1,
        status: int | None = None,
    ) -> None:
        self.sink = sink
        self.target = target
        self.problem = problem
        self.attempts = attempts
        self.status = status
        tries = f" after {attempts} tries" if attempts > 1 else ""
        super().__init__(f"{sink} sink could not deliver to {target}{tries}: {problem}. {fix}")


class NoSuchRunError(NoSuchNameError):
    code = "no_such_run"

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no pipeline run {run_id!r}; list runs with `tillage runs`.")


class RunStateError(TillageError):
    """A run's status does not allow what was asked (cancel a done run, delete a running one)."""

    code = "run_state"

    def __init__(self, run_id: str, status: str, problem: str, fix: str) -> None:
        self.run_id = run_id
        self.status = status
        super().__init__(f"run {run_id} is {status}: {problem}. {fix}")


class StoredValueError(TillageError):
    """A stored step result's bytes are not those recorded when it was stored.

    Step results are unpickled when a run replays them, so a changed file is
    refused before it is read: unpickling runs code.
    """

    code = "stored_value_changed"

    def __init__(self, run_id: str, step: str, path: str, expected: str, found: str) -> None:
        self.run_id = run_id
        self.step = step
        self.path = path
        self.expected = expected
        self.found = found
        super().__init__(
            f"the stored result of {step} in run {run_id} has changed since it was stored "
            f"({path} should have SHA-256 {expected[:16]}…, has {found[:16]}…), so it was "
            f"not loaded. Compute it again with `tillage runs resume {run_id} --no-cache`, "
            f"or remove the run with `tillage runs delete {run_id}`."
        )


class NondeterminismError(TillageError):
    """Replaying a run, the body called another step (or other inputs) than it did before."""

    code = "nondeterministic_run"

    def __init__(self, run_id: str, seq: int, before: str, now: str) -> None:
        self.run_id = run_id
        self.seq = seq
        self.before = before
        self.now = now
        super().__init__(
            f"run {run_id} is not deterministic: its step call #{seq} was {before} when the "
            f"run first got there, but is {now} now. Make the pipeline body choose its steps "
            "from step results and parameters only (no clocks, random numbers or outside "
            "reads outside steps), then start a new run."
        )


class NoSuchStrategyError(NoSuchNameError):
    code = "no_such_strategy"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known, have = _known(known)
        super().__init__(
            f"no selection strategy named {name!r} (strategies: {have}). Check the name, "
            "or register your own with tillage.selection.strategies.register."
        )


class NoSuchSelectionError(NoSuchNameError):
    code = "no_such_selection"

    def __init__(self, selection_id: str) -> None:
        self.selection_id = selection_id
        super().__init__(
            f"no selection {selection_id!r}; list them with `tillage selection list` "
            "(repo.selection.list())."
        )


class NoSuchActionError(NoSuchNameError):
    code = "no_such_action"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known, have = _known(known)
        super().__init__(f"no action named {name!r} (actions: {have}). Check the name.")


class NoSuchGeneratorError(NoSuchNameError):
    code = "no_such_generator"

    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        self.known, have = _known(known)
        super().__init__(
            f"no generator named {name!r} (generators: {have}). Check the name, or pass "
            "your own object with a name, fit(real) and sample(n, rng)."
        )


class NoPredictionsError(TillageError):
    """A strategy needs a model's predictions on a dataset version that has none."""

    code = "no_predictions"

    def __init__(self, model: str, dataset: str, commit: str, needs: str = "predictions") -> None:
        self.model = model
        self.dataset = dataset
        self.commit = commit
        self.needs = needs
        super().__init__(
            f"model {model!r} has no {needs} for {dataset!r} at commit {commit[:12]}. "
            f"Record them first with `tillage models predict {model} {dataset}` "
            f"(or repo.models.predict({model!r}, {dataset!r}))."
        )


class EmptyPoolError(InputError):
    """Nothing is left to select from once the filter and the exclusions are applied."""

    code = "empty_pool"

    def __init__(self, dataset: str, total: int, excluded: dict[str, int]) -> None:
        self.dataset = dataset
        self.total = total
        self.excluded = dict(excluded)
        why = ", ".join(f"{n:,} {what}" for what, n in self.excluded.items() if n)
        super().__init__(
            f"the pool of {dataset!r} is empty: {total:,} record(s)"
            + (f", of which {why} are excluded" if why else "")
            + ". Widen --where, or include labelled records with --include-labelled."
        )


class MissingFeaturesError(InputError):
    """A model's feature columns are not all in the dataset it is asked about."""

    code = "missing_features"

    def __init__(self, model: str, dataset: str, missing: Sequence[str]) -> None:
        self.model = model
        self.dataset = dataset
        self.missing = sorted(missing)
        super().__init__(
            f"model {model!r} uses column(s) {', '.join(self.missing)} that {dataset!r} "
            "does not have. Add them to the dataset, or use a model trained on its columns."
        )


class NoModelArtifactError(InputError):
    """A model version that was recorded without its fitted model, asked to predict."""

    code = "no_model_artifact"

    def __init__(self, model: str, version: int) -> None:
        self.model = model
        self.version = version
        super().__init__(
            f"model {model!r} version {version} was recorded without its fitted model, so "
            "it cannot predict. Record it again with the estimator "
            f"(repo.models.record({model!r}, DATASET, model=estimator)), or store "
            "predictions made elsewhere with repo.models.record_predictions."
        )


class FidelityGateError(InputError):
    """Generated records fit the real slice worse than sampling each column alone does."""

    code = "fidelity_gate"

    def __init__(self, measure: str, score: float, baseline: float, where: str) -> None:
        self.measure = measure
        self.score = score
        self.baseline = baseline
        self.where = where
        super().__init__(
            f"the generated batch for {where} was refused: its {measure} to the real records "
            f"is {score:.3f}, worse than {baseline:.3f} for sampling each column on its own. "
            "Nothing was written. Try another generator, more real records, or fewer columns."
        )


class SyntheticFidelityError(FidelityGateError):
    """A synthetic proxy keeps the relations between columns worse than sampling each
    column on its own would; it was not written."""

    code = "synthetic_fidelity"

    def __init__(
        self, dataset: str, score: float, baseline: float, floor: float, epsilon: float
    ) -> None:
        self.dataset = dataset
        self.measure = "2-way total variation distance"
        self.score = score
        self.baseline = baseline
        self.floor = floor
        self.epsilon = epsilon
        self.where = dataset
        InputError.__init__(
            self,
            f"the synthetic proxy of {dataset!r} was refused: its 2-way total variation "
            f"distance to the real data is {score:.3f}, worse than {baseline:.3f} for "
            f"sampling each column on its own (a bootstrap resample of the real data scores "
            f"{floor:.3f}). Nothing was written; epsilon {epsilon:g} was spent. Try a larger "
            "epsilon, fewer columns (--columns) or coarser bins (--bins).",
        )


class TransformError(InputError):
    """An augmentation transform raised, or returned something that is not a record."""

    code = "bad_transform"

    def __init__(self, transform: str, record: str | None, problem: str) -> None:
        self.transform = transform
        self.record = record
        self.problem = problem
        on = f"record {record}" if record is not None else "its batch of records"
        super().__init__(
            f"transform {transform!r} failed on {on}: {problem}. Nothing was written. Fix "
            "the transform so that it returns records with the columns and types it was "
            "given, or leave it out."
        )


class StrategyInputError(InputError):
    """A selection strategy got candidates without what it reads, or a parameter it cannot use."""

    code = "strategy_input"

    def __init__(self, strategy: str, problem: str, fix: str) -> None:
        self.strategy = strategy
        self.problem = problem
        super().__init__(f"strategy {strategy!r} cannot run: {problem}. {fix}")


class AnnotationConflictError(InputError):
    """Annotations a record no longer takes: it has all its annotations for the spec
    version (``reason="full"``), or the annotator annotated it already (``"again"``).

    Concurrent annotators meet it when they submit a record someone else
    completed; submitting the same answer twice meets it too, so a retried
    submission never makes a second event.
    """

    code = "annotation_conflict"

    def __init__(
        self,
        task: str,
        records: Sequence[str],
        reason: str,
        *,
        overlap: int | None = None,
        annotator: str | None = None,
    ) -> None:
        self.task = task
        self.records = list(records)
        self.reason = reason
        shown = ", ".join(map(repr, self.records[:3]))
        if len(self.records) > 3:
            shown += f" and {len(self.records) - 3} more"
        if reason == "again":
            message = (
                f"{annotator} has annotated record {shown} already; nothing was submitted. "
                f"Take another with `tillage annotate next {task}`."
            )
        else:
            message = (
                f"record {shown} has its {overlap} annotation(s) already for task {task!r}; "
                f"nothing was submitted. Take another with `tillage annotate next {task}`."
            )
        super().__init__(message)


class PolicyFileError(InputError):
    """The privacy policy (``.tillage/policy.yaml``) does not parse, or names what is not there."""

    code = "policy_file"

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"privacy policy {path}: {problem}. Fix the file and try again.")


class PrivacyParameterError(InputError):
    """A privacy parameter (epsilon, delta), row count or bound that is out of range."""

    code = "privacy_parameter"

    def __init__(self, name: str, value: Any, expected: str) -> None:
        self.name = name
        self.value = value if isinstance(value, int | float | str | None) else repr(value)
        self.expected = expected
        super().__init__(f"{name} must be {expected}, not {value!r}. Nothing was spent.")


class SynthesisDomainError(InputError):
    """Columns to synthesize whose values have no public domain (bounds or categories):
    a synthesizer may not read domains from the private data."""

    code = "synthesis_domain"

    def __init__(self, columns: Sequence[str], problem: str) -> None:
        self.columns = list(columns)
        named = f"column(s) {', '.join(self.columns)}: " if self.columns else ""
        super().__init__(
            f"cannot synthesize {named}{problem}. Declare bounds: [LOW, HIGH] or "
            "categories: [...] for them in .tillage/policy.yaml, pass them (--bounds "
            "COL=LOW:HIGH, --categories COL=A,B,C), or leave them out (--columns). "
            "Nothing was spent."
        )


class PrivateDataError(TillageError):
    """A principal asked for raw values of a private dataset that the policy does not let
    them see; the message names what they can do instead."""

    code = "private_data"

    def __init__(self, principal: str, dataset: str, what: str, instead: str) -> None:
        self.principal = principal
        self.dataset = dataset
        self.what = what
        super().__init__(
            f"{principal} may not see raw values of private dataset {dataset!r} ({what}); "
            f"nothing was shown. {instead}"
        )


class NoSuchGrantError(NoSuchNameError):
    """No break-glass grant has this id."""

    code = "no_such_grant"

    def __init__(self, grant_id: str) -> None:
        self.grant_id = grant_id
        super().__init__(
            f"no break-glass grant has id {grant_id!r}; `tillage grant list` lists the grants."
        )


class GrantRequestError(InputError):
    """A break-glass request without a purpose, or with a scope that is not one."""

    code = "grant_request"

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        super().__init__(f"{problem}; nothing was requested. {fix}")


class GrantRefusedError(TillageError):
    """A break-glass grant may not be approved, revoked or read by this principal now; the
    refusal itself is an entry of the audit log."""

    code = "grant_refused"

    def __init__(self, principal: str, action: str, grant_id: str, reason: str, fix: str) -> None:
        self.principal = principal
        self.action = action
        self.grant_id = grant_id
        self.reason = reason
        super().__init__(
            f"{principal} may not {action} grant {grant_id}: {reason}; nothing was "
            f"{'read' if action == 'read' else 'changed'} (the refusal is in the audit log). {fix}"
        )


class DPQueryError(InputError):
    """A differentially private query that cannot run as asked: ε not a number > 0, no
    public bounds or categories, a column that does not fit the kind."""

    code = "dp_query"

    def __init__(self, problem: str, fix: str, *, spent: float = 0.0) -> None:
        self.problem = problem
        self.fix = fix
        self.spent = spent
        cost = (
            f"its ε={spent:g} stays spent, since the query read the data"
            if spent
            else "nothing was spent"
        )
        super().__init__(f"{problem}; {cost}. {fix}")


class NoBudgetError(InputError):
    """A DP query on a dataset for which the policy sets no privacy budget."""

    code = "no_budget"

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        super().__init__(
            f"dataset {dataset!r} has no privacy budget, so DP queries on it are refused; "
            f"nothing was spent. Set `datasets.{dataset}.budget` (ε per principal) in "
            ".tillage/policy.yaml."
        )


class BudgetExhaustedError(TillageError):
    """A DP query that would take a principal past the dataset's privacy budget; nothing
    was spent and nothing was released."""

    code = "budget_exhausted"

    def __init__(
        self, principal: str, dataset: str, epsilon: float, spent: float, budget: float
    ) -> None:
        self.principal = principal
        self.dataset = dataset
        self.epsilon = epsilon
        self.spent = spent
        self.budget = budget
        left = max(budget - spent, 0.0)
        super().__init__(
            f"{principal} has spent ε={spent:g} of the budget ε={budget:g} on {dataset!r}; "
            f"this query asks ε={epsilon:g} and only ε={left:g} is left, so it was refused "
            "and nothing was released. Ask for a smaller ε, or use aggregates "
            "(`tillage privacy aggregate`)."
        )


# The one table from error code to CLI exit status and to HTTP status. Every
# class above has a row (a test checks); a class without one (an error raised by
# a plugin, say) takes its nearest base's. Exit statuses 2 (usage), 3 (`check`
# found a blocking rule) and 4 (a run failed) mean outcomes other than errors,
# so errors keep 1 until a status of their own is worth a release note.
EXIT_STATUS: dict[str, int] = {
    "tillage_error": 1,
    "not_a_repository": 1,
    "repository_exists": 1,
    "no_such_name": 1,
    "no_such_dataset": 1,
    "no_such_ref": 1,
    "no_such_model": 1,
    "no_such_labelset": 1,
    "no_such_taxonomy": 1,
    "no_such_task": 1,
    "no_such_schedule": 1,
    "no_such_alert": 1,
    "no_such_run": 1,
    "invalid_ref": 1,
    "ref_exists": 1,
    "invalid_name": 1,
    "bad_input": 1,
    "unreadable_file": 1,
    "invalid_filter": 1,
    "bad_encoding": 1,
    "csv_value": 1,
    "export_failed": 1,
    "schema_mismatch": 1,
    "key_violation": 1,
    "schema_file": 1,
    "alert_not_acceptable": 1,
    "label_set_not_data": 1,
    "quality_block": 1,
    "concurrent_update": 1,
    "lock_timeout": 1,
    "merge_conflict": 1,
    "catalog_error": 1,
    "catalog_missing": 1,
    "catalog_damaged": 1,
    "corrupt_data": 1,
    "storage_error": 1,
    "disk_full": 1,
    "read_only": 1,
    "run_state": 1,
    "stored_value_changed": 1,
    "nondeterministic_run": 1,
    "sink_failed": 1,
    "no_such_strategy": 1,
    "no_such_selection": 1,
    "no_such_action": 1,
    "no_predictions": 1,
    "empty_pool": 1,
    "missing_features": 1,
    "no_model_artifact": 1,
    "corrupt_model": 1,
    "fidelity_gate": 1,
    "no_such_generator": 1,
    "bad_transform": 1,
    "strategy_input": 1,
    "annotation_conflict": 1,
    "policy_file": 1,
    "private_data": 1,
    "no_such_grant": 1,
    "grant_request": 1,
    "grant_refused": 1,
    "dp_query": 1,
    "no_budget": 1,
    "budget_exhausted": 1,
    "privacy_parameter": 1,
    "synthesis_domain": 1,
    "synthetic_fidelity": 1,
    "usage_error": 2,
}

HTTP_STATUS: dict[str, int] = {
    "tillage_error": 500,
    "not_a_repository": 404,
    "repository_exists": 409,
    "no_such_name": 404,
    "no_such_dataset": 404,
    "no_such_ref": 404,
    "no_such_model": 404,
    "no_such_labelset": 404,
    "no_such_taxonomy": 404,
    "no_such_task": 404,
    "no_such_schedule": 404,
    "no_such_alert": 404,
    "no_such_run": 404,
    "invalid_ref": 400,
    "ref_exists": 409,
    "invalid_name": 400,
    "bad_input": 422,
    "unreadable_file": 422,
    "invalid_filter": 400,
    "bad_encoding": 422,
    "csv_value": 422,
    "export_failed": 422,
    "schema_mismatch": 422,
    "key_violation": 422,
    "schema_file": 422,
    "alert_not_acceptable": 409,
    "label_set_not_data": 422,
    "quality_block": 422,
    "concurrent_update": 409,
    "lock_timeout": 423,
    "merge_conflict": 409,
    "catalog_error": 500,
    "catalog_missing": 500,
    "catalog_damaged": 500,
    "corrupt_data": 500,
    "storage_error": 500,
    "disk_full": 507,
    "read_only": 503,
    "run_state": 409,
    "stored_value_changed": 409,
    "nondeterministic_run": 409,
    "sink_failed": 502,
    "no_such_strategy": 404,
    "no_such_selection": 404,
    "no_such_action": 404,
    "no_predictions": 409,
    "empty_pool": 422,
    "missing_features": 422,
    "no_model_artifact": 409,
    "corrupt_model": 500,
    "fidelity_gate": 422,
    "no_such_generator": 404,
    "bad_transform": 422,
    "strategy_input": 422,
    "annotation_conflict": 409,
    "policy_file": 422,
    "private_data": 403,
    "no_such_grant": 404,
    "grant_request": 422,
    "grant_refused": 403,
    "dp_query": 422,
    "no_budget": 409,
    "budget_exhausted": 403,
    "privacy_parameter": 422,
    "synthesis_domain": 422,
    "synthetic_fidelity": 422,
    "usage_error": 400,
}


def _status(table: dict[str, int], cls: type[TillageError]) -> int:
    """``cls``'s row in ``table``, or its nearest base's."""
    for base in cls.__mro__:
        code = getattr(base, "code", None)
        if isinstance(code, str) and code in table:
            return table[code]
    return table["tillage_error"]  # pragma: no cover - TillageError has a row
