"""The ``tillage`` command line: a thin Typer + Rich shell over `tillage.Repo`.

Commands parse their arguments, call the public Python API and render the
result as Rich text, or as exactly one JSON document on stdout with ``--json``.

Every command module is imported to build the command line, even for
``--version``, so each imports only Typer at module level: Rich, the
repository and the data libraries are imported inside the functions that use
them (`tests/test_cli_startup.py`). The command modules do not postpone
annotations (no ``from __future__ import annotations``): Typer reads every
command's annotations, and evaluating them from strings took about a third of
the time to build the command line.
"""
