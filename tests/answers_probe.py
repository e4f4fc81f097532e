"""Runs INSIDE a grading sandbox (as a notebook cell): is any of the library's code a chapter's answer?

Independent of the grader's declarations of what the answers are: it imports every module of
`gradbook`, gathers every function, class, method and callable attribute reachable from them
(instances' bound methods, containers' items, `gc.get_objects()` functions defined in the
package), and tries each as the student's answer to every exercise of the payload, through the
exercise's driver, on its visible cases. Each call is bounded in time and quiet.

A candidate that runs on every case without an error and (for an exercise judged by the plain
comparison) agrees with the expected outputs is printed, with its outputs, as a line
``PROBE-FOUND {json}``; the test judges those outside with the real checks. A summary line
``PROBE-DONE {json}`` ends the run. The payload (``/scratch/probe.json``) holds, per exercise,
its name, driver, visible cases and expected outputs (wire format) and whether outputs that the
plain comparison rejects can be right (then every candidate whose outputs have the expected
structure goes out to be judged).
"""

from __future__ import annotations

import contextlib
import copy
import gc
import importlib
import inspect
import io
import json
import os
import pkgutil
import signal
import sys
import time
import types
import warnings

import numpy as np

import gradbook
from gradbook.checks.core import compare_values
from gradbook.checks.drivers import Case
from gradbook.checks.registry import driver as _driver
from gradbook.checks.plain import from_wire, to_plain, to_wire

ROOT = os.path.dirname(os.path.abspath(gradbook.__file__))
CALL_SECONDS = 2.0
MAX_OUT = 2_000_000  # bytes of outputs sent back per candidate


class _Timeout(BaseException):
    pass


def _alarm(signum, frame):  # noqa: ANN001, ANN202
    raise _Timeout()


def _ours(obj) -> bool:  # noqa: ANN001
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and module.startswith("gradbook"):
        return True
    code = getattr(obj, "__code__", None)
    return isinstance(code, types.CodeType) and code.co_filename.startswith(ROOT)


def gather() -> tuple[dict[int, tuple[str, object]], list[str]]:
    candidates: dict[int, tuple[str, object]] = {}
    seen: set[int] = set()
    failed: list[str] = []
    modules = []
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        names = ["gradbook"] + [m.name for m in pkgutil.walk_packages(gradbook.__path__, "gradbook.", onerror=lambda n: None)]
        for name in names:
            try:
                modules.append(importlib.import_module(name))
            except BaseException as error:  # noqa: BLE001 - what does not import is reported
                failed.append(f"{name}: {type(error).__name__}: {error}"[:200])

    def add(label: str, obj: object) -> None:
        if callable(obj) and id(obj) not in candidates:
            candidates[id(obj)] = (label, obj)

    def visit(label: str, obj: object, depth: int) -> None:
        if id(obj) in seen or depth > 4 or isinstance(obj, types.ModuleType):
            return
        seen.add(id(obj))
        if inspect.isclass(obj):
            add(label, obj)
            for cls in obj.__mro__:
                if not _ours(cls):
                    continue
                for name, raw in list(vars(cls).items()):
                    for item in (raw, getattr(raw, "__func__", None), getattr(raw, "fget", None)):
                        if item is not None:
                            add(f"{label}.{name}", item)
                    try:
                        bound = getattr(obj, name)
                    except BaseException:  # noqa: BLE001
                        continue
                    add(f"{label}.{name}", bound)
            return
        if callable(obj):
            add(label, obj)
        if isinstance(obj, dict):
            for key, value in list(obj.items())[:500]:
                visit(f"{label}[{key!r}]", value, depth + 1)
        elif isinstance(obj, (list, tuple, set, frozenset)):
            for i, value in enumerate(list(obj)[:500]):
                visit(f"{label}[{i}]", value, depth + 1)
        if _ours(type(obj)) and not inspect.isroutine(obj):
            for name in dir(obj):
                if name.startswith("__") and name != "__call__":
                    continue
                try:
                    value = getattr(obj, name)
                except BaseException:  # noqa: BLE001
                    continue
                visit(f"{label}.{name}", value, depth + 1)
        for name in ("__wrapped__", "func", "__func__"):
            inner = getattr(obj, name, None) if not isinstance(obj, (dict, list, tuple)) else None
            if inner is not None and callable(inner):
                visit(f"{label}.{name}", inner, depth + 1)

    for module in modules:
        for name, value in list(vars(module).items()):
            visit(f"{module.__name__}.{name}", value, 0)
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__code__.co_filename.startswith(ROOT):
            visit(f"gc:{obj.__module__}.{obj.__qualname__}", obj, 0)
    return candidates, failed


def _call(driver, candidate, case: Case):  # noqa: ANN001, ANN202
    signal.setitimer(signal.ITIMER_REAL, CALL_SECONDS)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), \
                warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            return to_plain(driver(candidate, copy.deepcopy(case)))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _like(expected, got) -> bool:  # noqa: ANN001
    """The same structure (kinds, shapes, lengths, keys): what any comparison of the outputs needs first."""
    if isinstance(expected, np.ndarray) or isinstance(got, np.ndarray):
        return (isinstance(expected, np.ndarray) and isinstance(got, np.ndarray) and expected.shape == got.shape
                and (expected.dtype.kind in "biuf") == (got.dtype.kind in "biuf"))
    if isinstance(expected, (list, tuple)):
        return isinstance(got, (list, tuple)) and len(got) == len(expected) and all(map(_like, expected, got))
    if isinstance(expected, dict):
        return isinstance(got, dict) and set(got) == set(expected) and all(_like(expected[k], got[k]) for k in expected)
    if isinstance(expected, (bool, int, float)):
        return isinstance(got, (bool, int, float))
    return type(expected) is type(got)


def _size(value) -> int:  # noqa: ANN001
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value) + 8
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values()) + 8
    return 8


def bytecode() -> list[str]:
    """Bytecode under the package, and any other `gradbook` directory on the path (a stale copy)."""
    found = [os.path.join(d, f) for d, dirs, files in os.walk(ROOT) for f in files + dirs
             if f == "__pycache__" or f.endswith((".pyc", ".pyo"))]
    found += [p for p in sys.path if os.path.isdir(os.path.join(p or ".", "gradbook"))
              and os.path.realpath(os.path.join(p or ".", "gradbook")) != os.path.realpath(ROOT)]
    return found


def probe(payload: list[dict]) -> None:
    signal.signal(signal.SIGALRM, _alarm)
    candidates, failed = gather()
    tried = found = 0
    seconds: dict[str, float] = {}
    slow: list[str] = []  # candidates stopped at the time limit (judged wrong: listed, so a test can see them)
    for exercise in payload:
        began = time.monotonic()
        driver = _driver(exercise["driver"])
        cases = [Case(tuple(args), dict(kwargs)) for args, kwargs in from_wire(exercise["cases"])]
        expected = from_wire(exercise["expected"])
        order = sorted(range(len(cases)), key=lambda i: _size(list(cases[i].args)) + _size(cases[i].kwargs))
        for label, candidate in list(candidates.values()):
            tried += 1
            outs: dict[int, object] = {}
            for i in order:  # the smallest case first: most candidates fail there, cheaply
                try:
                    out = _call(driver, candidate, cases[i])
                except _Timeout:
                    slow.append(f"{exercise['name']}: {label}")
                    break
                except BaseException:  # noqa: BLE001 - a wrong candidate: errors, exits
                    break
                if not _like(expected[i], out) or (
                        exercise["values_decide"] and compare_values(expected[i], out, rtol=1e-3, atol=1e-5) is not None):
                    break
                outs[i] = out
            if len(outs) == len(cases) and _size(list(outs.values())) <= MAX_OUT:
                found += 1
                print("PROBE-FOUND " + json.dumps({"exercise": exercise["name"], "candidate": label,
                                                   "outs": to_wire([outs[i] for i in range(len(cases))])}))
        seconds[exercise["name"]] = round(time.monotonic() - began, 1)
    print("PROBE-DONE " + json.dumps({"candidates": len(candidates), "tried": tried, "found": found,
                                      "import_failed": failed, "bytecode": bytecode(), "seconds": seconds, "slow": slow}))


if __name__ == "__main__":
    with open(sys.argv[1] if len(sys.argv) > 1 else "/scratch/probe.json") as handle:
        probe(json.load(handle))
