"""A simulated annotator: answers an annotation task from a gold column, right with a chosen
probability, for demos, tests and benchmarks of the loops.

Its answer for a record depends only on its seed, its name and the record, never on
the order records are handed out, so a loop killed and resumed gets the same
answers as one that ran straight through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tillage.errors import InputError


@dataclass(frozen=True)
class SimulatedAnnotator:
    """Answers from ``gold`` (record id -> label), right with probability ``accuracy``.

    A wrong answer is one of the other ``classes``, chosen the same way every time.

    Attributes:
        gold: the true label of each record it may be asked about.
        classes: the classes it may answer.
        accuracy: the chance its answer is the gold label (1.0: always).
        seed: makes its mistakes repeatable.
        name: the annotator's name in label events (``sim:`` marks it as simulated).
    """

    gold: Mapping[str, str]
    classes: Sequence[str]
    accuracy: float = 1.0
    seed: int = 0
    name: str = "sim:annotator"

    def __post_init__(self) -> None:
        if not 0.0 <= self.accuracy <= 1.0:
            raise InputError(f"accuracy must be between 0 and 1, not {self.accuracy}.")
        if len(set(self.classes)) < 2:
            raise InputError("a simulated annotator needs at least two classes.")
        unknown = sorted(set(self.gold.values()) - set(self.classes))
        if unknown:
            raise InputError(
                f"gold labels {', '.join(map(repr, unknown[:5]))} are not among the classes "
                f"{', '.join(map(repr, self.classes))}."
            )

    def _draw(self, record: str, salt: str) -> float:
        """A number in [0, 1) fixed by seed, name, record and salt."""
        digest = hashlib.sha256(f"{self.seed}\0{self.name}\0{salt}\0{record}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    def answer(self, record: str) -> str:
        """The label it gives ``record``.

        Raises:
            InputError: ``record`` has no gold label.
        """
        truth = self.gold.get(record)
        if truth is None:
            raise InputError(
                f"the simulated annotator has no gold label for record {record!r}; give it "
                "gold for every record of the pool."
            )
        if self._draw(record, "right") < self.accuracy:
            return truth
        others = [c for c in self.classes if c != truth]
        return others[int(self._draw(record, "which") * len(others))]

    def answers(self, records: Sequence[str]) -> dict[str, str]:
        """Its label for each of ``records``."""
        return {r: self.answer(r) for r in records}
