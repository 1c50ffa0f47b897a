"""The privacy policy: which datasets and columns are private, and who may read them raw.

A policy lives in ``.tillage/policy.yaml``, a file meant to be reviewed like
code. A repository without one has no private datasets, and everyone reads
everything (the local single-user default). The file::

    raw_readers: [job]          # roles that may read raw records (default: job only)
    principals:                 # the roles of named principals
      ana: [engineer]
      ben: [engineer, approver]
    datasets:
      loans:                    # a private dataset
        privacy_unit: row       # or a column that names the person (e.g. member_id)
        max_rows_per_unit: 1    # how many rows one unit may contribute
        min_group_size: 10      # smallest group an aggregate view shows
        budget: 3.0             # epsilon per principal over the dataset's lineage
        default_class: sensitive  # the class of columns not listed
        columns:
          emp_title: direct_identifier
          state: {class: quasi_identifier, categories: [CA, NY, TX]}
          annual_income: {class: sensitive, bounds: [0, 500000]}

A principal named ``job:...`` (a pipeline run, a scheduled build) has the role
``job``. Bounds and categories are public facts the policy declares, so that DP
answers never take them silently from the data.

`Policy.parse` checks the file's shape; `Policy.check_names` checks it against
the repository's datasets and columns. Both raise `PolicyFileError` naming the
entry and the fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from tillage.errors import PolicyFileError

POLICY_FILE = "policy.yaml"
JOB_PREFIX = "job:"


class ColumnClass(StrEnum):
    """How sensitive a column is."""

    DIRECT_IDENTIFIER = "direct_identifier"  # names a person by itself: email, phone
    QUASI_IDENTIFIER = "quasi_identifier"  # names a person in combination: zip, birth date
    SENSITIVE = "sensitive"  # private, not identifying: income, diagnosis
    PUBLIC = "public"


class Role(StrEnum):
    """What a principal does; the policy gives roles to principals."""

    OWNER = "owner"
    ENGINEER = "engineer"
    ANNOTATOR = "annotator"
    AUDITOR = "auditor"
    APPROVER = "approver"  # approves break-glass grants
    JOB = "job"  # pipeline runs and scheduled builds


DEFAULT_RAW_READERS = (Role.JOB,)
DEFAULT_MIN_GROUP_SIZE = 10


@dataclass(frozen=True)
class ColumnPolicy:
    """One column's class and the public facts DP answers may use."""

    cls: ColumnClass
    bounds: tuple[float, float] | None = None
    categories: tuple[Any, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The column's policy as JSON-ready values."""
        return {
            "class": self.cls.value,
            "bounds": list(self.bounds) if self.bounds is not None else None,
            "categories": list(self.categories) if self.categories is not None else None,
        }


@dataclass(frozen=True)
class DatasetPolicy:
    """How one private dataset may be read.

    Attributes:
        name: the dataset.
        columns: the declared columns; any other column has ``default_class``.
        privacy_unit: ``"row"``, or the column that names the person a row is about.
        max_rows_per_unit: how many rows one unit may contribute (1 for ``row``).
        min_group_size: the smallest group an aggregate view shows.
        budget: the epsilon each principal may spend over the dataset's lineage
            (None: DP queries are refused until a budget is set).
        default_class: the class of columns the policy does not list.
        derived_from: for a dataset private by derivation, the dataset named in the
            file that it derives from ("" for a dataset the file names).
    """

    name: str
    columns: Mapping[str, ColumnPolicy] = field(default_factory=dict)
    privacy_unit: str = "row"
    max_rows_per_unit: int = 1
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE
    budget: float | None = None
    default_class: ColumnClass = ColumnClass.SENSITIVE
    derived_from: str = ""

    @property
    def lineage(self) -> str:
        """The dataset whose privacy budget this one spends: budgets follow lineage, so
        that a derived copy (a label set, a job's output) gives no fresh budget."""
        return self.derived_from or self.name

    def column(self, name: str) -> ColumnPolicy:
        """``name``'s policy: declared, or the default class with no public facts."""
        return self.columns.get(name) or ColumnPolicy(self.default_class)

    def private_columns(self, names: Sequence[str]) -> list[str]:
        """Those of ``names`` that are not public."""
        return [n for n in names if self.column(n).cls is not ColumnClass.PUBLIC]

    def to_dict(self) -> dict[str, Any]:
        """The dataset's policy as JSON-ready values."""
        return {
            "name": self.name,
            "privacy_unit": self.privacy_unit,
            "max_rows_per_unit": self.max_rows_per_unit,
            "min_group_size": self.min_group_size,
            "budget": self.budget,
            "default_class": self.default_class.value,
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
        }


@dataclass(frozen=True)
class Policy:
    """A repository's privacy policy (empty: no private datasets)."""

    datasets: Mapping[str, DatasetPolicy] = field(default_factory=dict)
    principals: Mapping[str, tuple[Role, ...]] = field(default_factory=dict)
    raw_readers: tuple[Role, ...] = DEFAULT_RAW_READERS
    path: str | None = None  # the file it was read from

    @property
    def empty(self) -> bool:
        return not self.datasets

    def to_dict(self) -> dict[str, Any]:
        """The policy as JSON-ready values."""
        return {
            "path": self.path,
            "raw_readers": [r.value for r in self.raw_readers],
            "principals": {p: [r.value for r in roles] for p, roles in self.principals.items()},
            "datasets": {name: d.to_dict() for name, d in self.datasets.items()},
        }

    def private(self, dataset: str) -> DatasetPolicy | None:
        """``dataset``'s policy if it is private, else None."""
        return self.datasets.get(dataset)

    def roles(self, principal: str) -> tuple[Role, ...]:
        """``principal``'s roles: ``job`` for job principals, else as the policy says."""
        roles = self.principals.get(principal, ())
        if principal.startswith(JOB_PREFIX) and Role.JOB not in roles:
            roles = (Role.JOB, *roles)
        return roles

    def reads_raw(self, principal: str) -> bool:
        """Whether ``principal`` may read raw records of private datasets."""
        return any(r in self.raw_readers for r in self.roles(principal))

    def has_role(self, principal: str, role: Role) -> bool:
        return role in self.roles(principal)

    def with_derived(self, derived: Iterable[tuple[str, str]]) -> Policy:
        """This policy with each ``(dataset, source)`` pair's dataset private as its source is.

        A dataset derived from a private one (a label set of its records, a job's
        write from its raw values) takes the source's policy: columns carry their
        class over by name, the others take the source's ``default_class``. A
        dataset the policy names keeps its own entry. Chains are followed.
        """
        pairs = list(derived)
        datasets = dict(self.datasets)
        changed = True
        while changed:
            changed = False
            for dataset, source in pairs:
                if dataset not in datasets and source in datasets:
                    origin = datasets[source]
                    datasets[dataset] = replace(origin, name=dataset, derived_from=origin.lineage)
                    changed = True
        if len(datasets) == len(self.datasets):
            return self
        return replace(self, datasets=datasets)

    @classmethod
    def load(cls, repo_dir: Path) -> Policy:
        """The policy in ``repo_dir/policy.yaml``, or the empty policy if there is none.

        Raises:
            PolicyFileError: the file does not parse or has the wrong shape.
        """
        import yaml

        path = repo_dir / POLICY_FILE
        if not path.exists():
            return cls()
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
            raise PolicyFileError(str(path), f"it does not parse: {e}") from e
        return cls.parse(raw, str(path))

    @classmethod
    def parse(cls, raw: Any, path: str = POLICY_FILE) -> Policy:
        """A policy from the parsed YAML ``raw``.

        Raises:
            PolicyFileError: unknown keys, classes or roles; bounds, sizes or budgets
                that are not numbers in range.
        """
        if raw is None:
            return cls(path=path)
        top = _mapping(raw, "the file", path)
        _known_keys(top, {"raw_readers", "principals", "datasets"}, "the file", path)
        raw_readers = tuple(
            _role(r, "raw_readers", path)
            for r in _list(top.get("raw_readers", list(DEFAULT_RAW_READERS)), "raw_readers", path)
        )
        principals: dict[str, tuple[Role, ...]] = {}
        for name, roles in _mapping(top.get("principals") or {}, "principals", path).items():
            where = f"principals.{name}"
            principals[str(name)] = tuple(_role(r, where, path) for r in _list(roles, where, path))
        datasets = {
            str(name): _dataset(str(name), spec, path)
            for name, spec in _mapping(top.get("datasets") or {}, "datasets", path).items()
        }
        return cls(datasets, principals, raw_readers, path)

    def check_names(self, columns_of: Mapping[str, Sequence[str]]) -> None:
        """Check that every dataset and column the policy names exists.

        ``columns_of`` maps each dataset of the repository to its columns.

        Raises:
            PolicyFileError: naming the unknown dataset or column and what exists.
        """
        for name, dp in self.datasets.items():
            if name not in columns_of:
                known = ", ".join(sorted(columns_of)) or "none yet"
                raise PolicyFileError(
                    self.path or POLICY_FILE,
                    f"datasets.{name} names no dataset of this repository (datasets: {known})",
                )
            have = set(columns_of[name])
            named = [*dp.columns]
            if dp.privacy_unit != "row":
                named.append(dp.privacy_unit)
            for column in named:
                if column not in have:
                    raise PolicyFileError(
                        self.path or POLICY_FILE,
                        f"datasets.{name} names column {column!r}, which {name!r} does not "
                        f"have (its columns: {', '.join(columns_of[name])})",
                    )


def _dataset(name: str, spec: Any, path: str) -> DatasetPolicy:
    where = f"datasets.{name}"
    d = _mapping(spec or {}, where, path)
    _known_keys(
        d,
        {
            "columns",
            "privacy_unit",
            "max_rows_per_unit",
            "min_group_size",
            "budget",
            "default_class",
        },
        where,
        path,
    )
    columns = {
        str(col): _column(f"{where}.columns.{col}", c, path)
        for col, c in _mapping(d.get("columns") or {}, f"{where}.columns", path).items()
    }
    unit = d.get("privacy_unit", "row")
    if not isinstance(unit, str) or not unit:
        raise PolicyFileError(path, f"{where}.privacy_unit must be 'row' or a column name")
    max_rows = _whole(d.get("max_rows_per_unit", 1), f"{where}.max_rows_per_unit", path)
    if unit == "row" and max_rows != 1:
        raise PolicyFileError(
            path, f"{where}.max_rows_per_unit must be 1 when the privacy unit is a row"
        )
    budget = d.get("budget")
    if budget is not None:
        budget = _positive(budget, f"{where}.budget", path)
    return DatasetPolicy(
        name=name,
        columns=columns,
        privacy_unit=unit,
        max_rows_per_unit=max_rows,
        min_group_size=_whole(
            d.get("min_group_size", DEFAULT_MIN_GROUP_SIZE), f"{where}.min_group_size", path
        ),
        budget=budget,
        default_class=_class(d.get("default_class", "sensitive"), f"{where}.default_class", path),
    )


def _column(where: str, spec: Any, path: str) -> ColumnPolicy:
    if isinstance(spec, str):
        return ColumnPolicy(_class(spec, where, path))
    c = _mapping(spec, where, path)
    _known_keys(c, {"class", "bounds", "categories"}, where, path)
    if "class" not in c:
        raise PolicyFileError(path, f"{where} needs a class ({_classes()})")
    bounds = None
    if c.get("bounds") is not None:
        b = _list(c["bounds"], f"{where}.bounds", path)
        if len(b) != 2 or not all(_is_number(x) for x in b) or not float(b[0]) < float(b[1]):
            raise PolicyFileError(
                path, f"{where}.bounds must be two numbers [lower, upper] with lower < upper"
            )
        bounds = (float(b[0]), float(b[1]))
    categories = None
    if c.get("categories") is not None:
        cats = _list(c["categories"], f"{where}.categories", path)
        if not cats or len(set(map(str, cats))) != len(cats):
            raise PolicyFileError(
                path, f"{where}.categories must be a non-empty list of distinct values"
            )
        categories = tuple(cats)
    return ColumnPolicy(_class(c["class"], f"{where}.class", path), bounds, categories)


def _classes() -> str:
    return ", ".join(c.value for c in ColumnClass)


def _class(value: Any, where: str, path: str) -> ColumnClass:
    try:
        return ColumnClass(value)
    except ValueError:
        raise PolicyFileError(
            path, f"{where} has unknown class {value!r}; classes: {_classes()}"
        ) from None


def _role(value: Any, where: str, path: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise PolicyFileError(path, f"{where} has unknown role {value!r}; roles: {roles}") from None


def _mapping(value: Any, where: str, path: str) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise PolicyFileError(path, f"{where} must be a mapping, not {type(value).__name__}")
    return value


def _list(value: Any, where: str, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise PolicyFileError(path, f"{where} must be a list, not {type(value).__name__}")
    return value


def _known_keys(d: Mapping[Any, Any], known: set[str], where: str, path: str) -> None:
    unknown = sorted(str(k) for k in set(d) - known)
    if unknown:
        raise PolicyFileError(
            path,
            f"{where} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}",
        )


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _whole(value: Any, where: str, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise PolicyFileError(path, f"{where} must be a whole number >= 1, not {value!r}")
    return value


def _positive(value: Any, where: str, path: str) -> float:
    if not _is_number(value) or float(value) <= 0:
        raise PolicyFileError(path, f"{where} must be a number > 0, not {value!r}")
    return float(value)
