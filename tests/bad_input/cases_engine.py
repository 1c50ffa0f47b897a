"""Pipeline files whose steps ask for what the engine cannot do: bad retry and cache arguments.

Each damage writes a pipeline file beside the project copy; `tillage run`
imports it, and the step decorator refuses the argument before any run is
recorded.
"""

from __future__ import annotations

from pathlib import Path

from bad_input.harness import Case, Damage

FLOW = """
import tillage


@tillage.step({args})
def fetch(n: int) -> int:
    return n


@tillage.pipeline
def flow(n: int) -> int:
    return fetch(n)
"""


def flow_with(args: str) -> Damage:
    """A damage that writes ``flow_engine.py`` whose step is decorated with ``args``."""

    def damage(project: Path) -> None:
        (project.parent / "flow_engine.py").write_text(FLOW.format(args=args))

    return damage


RUN = ["run", "{project}/../flow_engine.py:flow", "-p", "n=1"]

CASES = [
    Case(
        "step-negative-retries",
        RUN,
        says=["flow_engine.py", "retries= must be a whole number of 0 or more, not -1"],
        error="bad_input",
        damage=flow_with("retries=-1"),
    ),
    Case(
        "step-retry-on-without-retries",
        RUN,
        says=["retry_on=", "needs retries= too", "retries=3"],
        error="bad_input",
        damage=flow_with("retry_on=(OSError,)"),
    ),
    Case(
        "step-retry-on-not-a-class",
        RUN,
        says=["retry_on= takes exception classes", "'OSError'"],
        error="bad_input",
        damage=flow_with("retries=2, retry_on='OSError'"),
    ),
    Case(
        "step-backoff-below-one",
        RUN,
        says=["backoff= must be a number of 1 or more, not 0.5"],
        error="bad_input",
        damage=flow_with("retries=2, backoff=0.5"),
    ),
    Case(
        "step-empty-code-version",
        RUN,
        says=["code_version= must be a non-empty string"],
        error="bad_input",
        damage=flow_with('code_version=""'),
    ),
]
