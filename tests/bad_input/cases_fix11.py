"""Selection actions that fail after making their branch leave no branch behind.

``selection apply --action augment`` makes the branch ``selection/ID`` before its
transforms run; a transform that fails takes the branch away again, so the
repository (its refs included) is as it was.
"""

from __future__ import annotations

from bad_input.cases_select import SELECTION, selected
from bad_input.harness import Case

CASES = [
    Case(
        "selection-apply-augment-transform-fails",
        [
            "selection",
            "apply",
            SELECTION,
            "--action",
            "augment",
            "--transform",
            "word-dropout:dep_delay",
        ],
        says=["transform 'word-dropout' failed", "not text", "Nothing was written"],
        error="bad_transform",
        damage=selected(),
    ),
]
