"""The privacy policy file: its shape, its names, and who reads raw."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

import tillage
from tillage.core.policy import ColumnClass, Policy, Role
from tillage.errors import PolicyFileError

GOOD = """
raw_readers: [job, owner]
principals:
  ana: [engineer]
  ben: [engineer, approver]
datasets:
  loans:
    min_group_size: 5
    budget: 2.0
    columns:
      email: direct_identifier
      state: {class: quasi_identifier, categories: [CA, NY]}
      income: {class: sensitive, bounds: [0, 500000]}
      grade: public
"""


def test_a_policy_says_what_is_private_and_who_reads_raw(tmp_path: Path) -> None:
    (tmp_path / "policy.yaml").write_text(GOOD)
    policy = Policy.load(tmp_path)
    loans = policy.private("loans")
    assert loans is not None and policy.private("flights") is None
    assert loans.column("income").bounds == (0.0, 500000.0)
    assert loans.column("state").categories == ("CA", "NY")
    assert loans.column("grade").cls is ColumnClass.PUBLIC
    assert loans.column("unlisted").cls is ColumnClass.SENSITIVE
    assert loans.private_columns(["email", "grade", "x"]) == ["email", "x"]
    assert loans.min_group_size == 5 and loans.budget == 2.0
    assert policy.reads_raw("job:run-1") and not policy.reads_raw("ana")
    assert policy.has_role("ben", Role.APPROVER) and not policy.has_role("ana", Role.APPROVER)


def test_no_policy_file_means_nothing_is_private(tmp_path: Path) -> None:
    policy = Policy.load(tmp_path)
    assert policy.empty and policy.private("loans") is None


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("datasets: [loans]", "datasets must be a mapping"),
        ("datasets: {loans: {colums: {}}}", "unknown key(s) colums"),
        ("datasets: {loans: {columns: {a: secret}}}", "unknown class 'secret'"),
        ("datasets: {loans: {columns: {a: {class: sensitive, bounds: [5, 1]}}}}", "lower < upper"),
        ("datasets: {loans: {columns: {a: {bounds: [0, 1]}}}}", "needs a class"),
        ("datasets: {loans: {budget: 0}}", "budget must be a number > 0"),
        ("datasets: {loans: {budget: -1}}", "budget must be a number > 0"),
        ("datasets: {loans: {min_group_size: 0}}", "min_group_size must be a whole number"),
        ("principals: {ana: [boss]}", "unknown role 'boss'"),
        ("raw_readers: job", "raw_readers must be a list"),
        ("datasets: {loans: [", "does not parse"),
    ],
)
def test_a_malformed_policy_names_the_entry(tmp_path: Path, text: str, fragment: str) -> None:
    (tmp_path / "policy.yaml").write_text(text)
    with pytest.raises(PolicyFileError) as e:
        Policy.load(tmp_path)
    assert fragment in str(e.value) and "Fix the file" in str(e.value)


def test_a_policy_naming_unknown_datasets_or_columns_is_refused(tmp_path: Path) -> None:
    repo = tillage.init(tmp_path)
    repo.ingest("loans", pa.table({"id": [1, 2], "income": [1.0, 2.0]}), key="id")
    policy_file = repo.repo_dir / "policy.yaml"
    policy_file.write_text("datasets: {loan: {}}")
    with pytest.raises(PolicyFileError, match=r"datasets.loan names no dataset.*datasets: loans"):
        tillage.open(tmp_path).privacy.policy()
    policy_file.write_text("datasets: {loans: {columns: {incme: sensitive}}}")
    with pytest.raises(PolicyFileError, match=r"column 'incme'.*its columns: id, income"):
        tillage.open(tmp_path).privacy.policy()
    policy_file.write_text("datasets: {loans: {privacy_unit: member}}")
    with pytest.raises(PolicyFileError, match=r"column 'member'"):
        tillage.open(tmp_path).privacy.policy()
    policy_file.write_text(
        "datasets: {loans: {columns: {income: {class: sensitive, bounds: [0, 9]}}}}"
    )
    assert tillage.open(tmp_path).privacy.policy().private("loans") is not None
