"""Annotation on every catalog backend: concurrent annotators, no lost or doubled answer."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest
import yaml

import tillage
from test_annotation_index import TAXONOMY, assert_exact, task, work
from tillage import Repo


@pytest.mark.slow
def test_eight_annotators_at_once_answer_each_record_exactly_overlap_times(repo: Repo) -> None:
    (repo.path / "taxonomies").mkdir()
    (repo.path / "taxonomies" / "side.yaml").write_text(yaml.safe_dump(TAXONOMY))
    (repo.path / "tasks").mkdir()
    (repo.path / "tasks" / "sides.yaml").write_text(yaml.safe_dump(task(2)))
    ids = [f"r{i:04d}" for i in range(40)]
    repo.ingest("items", pa.table({"id": ids, "text": ids}), key="id")
    repo.labels.create("sides", records="items", taxonomy="side")
    repo.annotation.enqueue("sides", ids)
    answered: list[int] = []
    errors: list[BaseException] = []

    def annotator(n: int) -> None:
        try:
            answered.append(work(repo.path, f"a{n}", batch=1 if n % 2 else 3))
        except BaseException as e:  # surfaced below, with the counts
            errors.append(e)

    threads = [threading.Thread(target=annotator, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(answered) == 80
    assert_exact(repo, 40, 2)
    with pytest.raises(tillage.AnnotationConflictError):
        repo.annotation.submit("sides", "a0", ids[0], "left")
