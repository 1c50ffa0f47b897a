"""Error codes: every error has a CLI exit status and an HTTP status, and the CLI uses them."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

import tillage
from tillage import errors
from tillage.cli.app import app
from tillage.errors import EXIT_STATUS, HTTP_STATUS

ERRORS = [
    cls
    for _, cls in inspect.getmembers(errors, inspect.isclass)
    if issubclass(cls, tillage.TillageError)
]
NOT_ERRORS = {"usage_error"}  # a code the CLI gives Click's errors


def test_every_error_has_one_row_in_each_table() -> None:
    codes = {cls.code for cls in ERRORS}
    assert len(codes) == len(ERRORS), "each error class needs its own code"
    assert set(EXIT_STATUS) == codes | NOT_ERRORS
    assert set(HTTP_STATUS) == codes | NOT_ERRORS
    assert all(status >= 1 for status in EXIT_STATUS.values())
    assert all(400 <= status < 600 for status in HTTP_STATUS.values())


def test_every_no_such_error_is_a_no_such_name_error_and_a_404() -> None:
    no_such = [cls for cls in ERRORS if cls.__name__.startswith("NoSuch")]
    assert len(no_such) == 15
    for cls in no_such:
        assert issubclass(cls, tillage.NoSuchNameError), cls
        assert cls.__name__ in tillage.__all__, cls
        assert HTTP_STATUS[cls.code] == 404, cls
    err = tillage.NoSuchScheduleError(7, [3, 1])
    assert (err.exit_status, err.http_status) == (1, 404)
    assert err.attrs() == {"schedule_id": 7, "known": [1, 3]}


def test_an_error_without_a_row_takes_its_nearest_bases() -> None:
    class PluginLookupError(tillage.NoSuchNameError):
        code = "plugin_lookup"

    class PluginInputError(tillage.UnreadableFileError):
        code = "plugin_input"

    assert PluginLookupError("x").http_status == 404
    assert PluginInputError("f", "empty", "fix it").http_status == HTTP_STATUS["unreadable_file"]
    assert PluginInputError("f", "empty", "fix it").exit_status == EXIT_STATUS["unreadable_file"]


@pytest.fixture
def repo_path(tmp_path: Path) -> Path:
    path = tmp_path / "proj"
    with tillage.init(path) as repo:
        repo.ingest("flights", pa.table({"id": [1, 2], "carrier": ["AA", "UA"]}), key="id")
        repo.record_model("delay-model", "flights")
    return path


def _cli(repo_path: Path, *args: str) -> tuple[int, dict[str, str]]:
    result = CliRunner().invoke(app, ["--repo", str(repo_path), *args, "--json"])
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, json.loads(result.stdout)["error"]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["labels", "show", "nope"], "no_such_labelset"),
        (["drift", "flights", "--against", "model:nope"], "no_such_model"),
        (["schedule", "remove", "3"], "no_such_schedule"),
        (["log", "nope"], "no_such_ref"),
        (["head", "nope"], "no_such_dataset"),
    ],
)
def test_the_cli_exits_with_the_tables_status(
    repo_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: str
) -> None:
    status, err = _cli(repo_path, *args)
    assert (status, err["code"]) == (EXIT_STATUS[code], code)
    # The handler reads the table when it exits, so a change to a row is what it does.
    monkeypatch.setitem(EXIT_STATUS, code, 7)
    status, err = _cli(repo_path, *args)
    assert (status, err["code"]) == (7, code)


def test_the_python_api_names_the_models_it_has(repo_path: Path) -> None:
    with tillage.open(repo_path) as repo, pytest.raises(tillage.NoSuchModelError) as caught:
        repo.models.set_feature_importance("nope", {"carrier": 1.0})
    assert caught.value.known == ["delay-model"]
    assert "models: delay-model" in str(caught.value)
