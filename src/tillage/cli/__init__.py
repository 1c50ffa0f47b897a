"""The ``tillage`` command line: a thin Typer + Rich shell over `tillage.Repo`.

Commands parse their arguments, call the public Python API and render the
result as Rich text, or as exactly one JSON document on stdout with ``--json``.
"""
