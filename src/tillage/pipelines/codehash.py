"""What a step's cache key knows of its code: its source and the project code it calls.

A step's result may be reused by a later run only if the code that computed
it is the same. The code is the step function's source and, transitively, the
source of every function and class it reaches that is defined in the user's
project: names its code objects load from the module globals (``helper(x)``,
``helpers.clean(x)`` through an imported module), its closure cells, default
arguments and the function a decorator wrapped, and the same again for what
those reach. "In the project" means defined in a file
that is not part of the Python installation (standard library,
site-packages) nor of tillage itself, so editing a helper in another module
of the project invalidates the cache, while upgrading a library does not
(pin library versions in the environment instead; or give the step a
``code_version``).

What this cannot see: code reached only through ``getattr`` with computed
names, methods called on objects passed in as arguments (their values are in
the key through the inputs, their classes are not), and data files the code
reads. For those, set ``@tillage.step(code_version="...")``, which replaces
the automatic hash.
"""

from __future__ import annotations

import dis
import functools
import hashlib
import inspect
import site
import sys
import sysconfig
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_OBJECTS = 2000
"""Walk at most this many project functions and classes for one step (a guard
against pathological graphs; a project this large should set ``code_version``)."""


def code_hash(fn: Any) -> str:
    """SHA-256 of ``fn``'s source and of the project functions and classes it reaches.

    Equal for equal code; changes when ``fn`` or anything it reaches in the
    project changes, and not when code it does not reach changes.
    """
    digest = hashlib.sha256()
    for name, text in sorted(_sources(fn)):
        digest.update(name.encode() + b"\0" + text + b"\0")
    return digest.hexdigest()


def _sources(fn: Any) -> Iterator[tuple[str, bytes]]:
    """(qualified name, source) of ``fn`` and of each project object it reaches, once each."""
    root = _unwrap(fn)
    seen: set[int] = {id(root)}
    todo: list[Any] = [root]
    while todo and len(seen) <= MAX_OBJECTS:
        obj = todo.pop()
        yield f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}", _source(obj)
        for found in _reached(obj):
            target = _unwrap(found)
            if id(target) not in seen and _in_project(target):
                seen.add(id(target))
                todo.append(target)


def _unwrap(obj: Any) -> Any:
    """The function behind a step or pipeline (``__wrapped__``), a partial, a method or
    a library's wrapper (``functools.lru_cache``)."""
    for _ in range(100):  # wrappers of wrappers, never a cycle
        if isinstance(obj, types.FunctionType):
            return obj  # a project's own wrapper is code too: `_reached` follows __wrapped__
        inner: Any = None
        if isinstance(obj, functools.partial):
            inner = obj.func
        if inner is None and isinstance(obj, types.MethodType):
            inner = obj.__func__
        if inner is None and isinstance(obj, staticmethod | classmethod):
            inner = obj.__func__
        if inner is None:
            inner = getattr(obj, "__wrapped__", None) if callable(obj) else None
        if inner is None or inner is obj:
            return obj
        obj = inner
    return obj


def _source(obj: Any) -> bytes:
    """``obj``'s source text, or its bytecode when the source cannot be read."""
    try:
        # A function's own code: `inspect.getsource` of the function would follow
        # ``__wrapped__`` and give a decorator's wrapper the source of what it wraps.
        target = obj.__code__ if isinstance(obj, types.FunctionType) else obj
        return inspect.getsource(target).encode()
    except Exception:  # no file, a class inspect cannot find, a C function
        code = getattr(obj, "__code__", None)
        return code.co_code if code is not None else repr(obj).encode()


def _reached(obj: Any) -> Iterator[Any]:
    """The objects ``obj``'s code names: globals, attributes of imported modules, closures."""
    if isinstance(obj, type):
        yield from vars(obj).values()
        yield from obj.__bases__
        return
    code = getattr(obj, "__code__", None)
    namespace = getattr(obj, "__globals__", None)
    if not isinstance(code, types.CodeType) or not isinstance(namespace, dict):
        return
    yield from (getattr(obj, "__defaults__", None) or ())
    yield from (getattr(obj, "__kwdefaults__", None) or {}).values()
    wrapped = getattr(obj, "__wrapped__", None)
    if wrapped is not None:
        yield wrapped
    for cell in getattr(obj, "__closure__", None) or ():
        try:
            yield cell.cell_contents
        except ValueError:  # an empty cell: a name assigned later
            continue
    names = _names(code)
    for name in names:
        if name in namespace:
            value = namespace[name]
            if isinstance(value, types.ModuleType):
                # ``helpers.clean(x)``: the attribute names are among the code's names.
                yield from (getattr(value, n) for n in names if n in vars(value))
            else:
                yield value
                if not isinstance(value, types.FunctionType | type):
                    yield type(value)  # an instance: its class's methods may run too


def _names(code: types.CodeType) -> set[str]:
    """Global and attribute names that ``code`` and the code nested in it load."""
    names: set[str] = set()
    for instr in dis.get_instructions(code):
        if instr.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR", "LOAD_METHOD"):
            names.add(str(instr.argval))
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _in_project(obj: Any) -> bool:
    """Whether ``obj`` is a function or class defined in a file of the user's project."""
    if not isinstance(obj, types.FunctionType | type):
        return False
    if isinstance(obj, types.FunctionType):
        file = obj.__code__.co_filename
    else:
        file = getattr(sys.modules.get(obj.__module__), "__file__", None) or ""
    if not file or file.startswith("<"):
        return False
    return _is_project_file(file)


@functools.lru_cache(maxsize=4096)
def _is_project_file(file: str) -> bool:
    path = Path(file).resolve()
    return not any(path.is_relative_to(p) for p in _installed())


@functools.cache
def _installed() -> tuple[Path, ...]:
    """Folders whose code belongs to the installation, not to the project."""
    paths = {Path(p) for p in sysconfig.get_paths().values()}
    paths |= {Path(p) for p in site.getsitepackages()}
    paths.add(Path(site.getusersitepackages()))
    paths.add(Path(sys.base_prefix) / "lib")
    paths.add(Path(__file__).resolve().parents[1])  # tillage itself
    return tuple(p.resolve() for p in paths)
