"""A catalog that lives elsewhere: a `catalog_url` that is wrong or names no server.

The contract suite (``tests/contract/``) shows the repository behaving alike on
SQLite and PostgreSQL; these cases show what a user sees when the configured
catalog cannot be used at all. A URL's password never appears in the message.
"""

from __future__ import annotations

from pathlib import Path

from bad_input.harness import Case, Damage

#: A PostgreSQL URL whose server cannot exist: its socket folder does not.
NO_SERVER = "postgresql+psycopg://tillage:s3cret@/catalog?host=/nonexistent-tillage&port=5"


def catalog_url(url: str) -> Damage:
    """Point the project's configuration at ``url`` (its SQLite catalog stays as it was)."""

    def damage(project: Path) -> None:
        config = project / ".tillage" / "config.yaml"
        config.write_text(config.read_text() + f"catalog_url: '{url}'\n")

    return damage


CASES = [
    Case(
        "catalog-url-unknown-driver",
        ["status"],
        says=["nosuchdb://", "catalog_url", "config.yaml"],
        error="catalog_error",
        damage=catalog_url("nosuchdb://host/db"),
    ),
    Case(
        "catalog-url-not-a-url",
        ["log"],
        says=["not a url", "catalog_url", "config.yaml"],
        error="catalog_error",
        damage=catalog_url("not a url"),
    ),
    Case(
        "catalog-url-no-server",
        ["head", "flights"],
        says=[
            "cannot reach the catalog",
            "/catalog",
            "is the database server running",
            "catalog_url",
        ],
        error="catalog_error",
        damage=catalog_url(NO_SERVER),
    ),
]
