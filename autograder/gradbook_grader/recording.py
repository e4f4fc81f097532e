"""The student edition's check modules: each chapter's exercises recorded as data, not shipped as code.

A chapter's answers half (``lib/gradbook/checks/chNN/answers.py``) holds every exercise's model answer
and the implementations of its known mistakes. The edition ships the chapter's public half
(``chNN/public.py``: its drivers and helpers) as it is, no answers half, and in place of the chapter's
``__init__.py`` a generated one (titles, names, drivers, tolerances, hints, its compare functions) with
``chNN/recorded.json``: the visible cases and, on each, what the reference and each mistake gave
(`gradbook.checks.recorded`). Plain data in the wire format of `gradbook.checks.plain`: JSON, never pickle.

A compare function is copied with what it uses from its module (`_closure`), never a reference or a
mistake (the build stops if one is reached). Where it runs a class or function of its module on the
case through a driver (an answer the chapter also accepts, such as Keras's Adam), that call's result
is recorded too, and the copy looks it up (`_Alternatives`).
"""

from __future__ import annotations

import ast
import copy
import importlib
import inspect
import json
import pkgutil
import warnings
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import numpy as np

from gradbook.checks import load_all, registry
from gradbook.checks.core import VISIBLE_SEED, Exercise, collect, judge
from gradbook.checks.meaning import Output
from gradbook.checks.plain import to_plain, to_wire
from gradbook.checks.recorded import QUIET, RAISE, WARN, case_key
from gradbook_grader.course import GraderError

ALTERNATIVES = "_ALTERNATIVES"  # the generated module's recorded driver calls, by the name of what was run


ANSWERS = "answers.py"  # a chapter's answers half: never in the edition
RECORDING = "recorded.json"  # beside the generated module (`recorded.read`)


def answers_module(chapter: registry.Chapter) -> ModuleType:
    """The chapter's answers half (its exercises, references and mistakes)."""
    load_all()
    return importlib.import_module(f"{chapter.module}.answers")


def edition_checks() -> dict[str, bytes]:
    """Every chapter's files in the edition, by path: its generated ``__init__.py`` and ``recorded.json``; its
    ``answers.py`` maps to None (left out); its public half ships from the library's tree as it is."""
    files: dict[str, bytes] = {}
    for chapter in registry.chapters():
        files.update(_chapter_files(chapter))
    return files


def answer_paths() -> set[str]:
    """The edition-relative paths of the chapters' answers halves: never shipped."""
    return {f"lib/{_folder(chapter)}/{ANSWERS}" for chapter in registry.chapters()}


def _folder(chapter: registry.Chapter) -> str:
    return chapter.module.replace(".", "/")


@lru_cache(maxsize=None)
def _chapter_files(chapter: registry.Chapter) -> dict[str, bytes]:
    """Once per process: a mistake may keep state between calls (a generator of its own), so a second
    recording in the same process could differ, and an unchanged rebuild would not be the same commit."""
    source, data = recorded_module(chapter)
    folder = f"lib/{_folder(chapter)}"
    # Keys in their order, not sorted: a case's dict is digested in its order (core.digest, mutation).
    return {f"{folder}/__init__.py": source.encode("utf-8"), f"{folder}/{RECORDING}": json.dumps(data).encode("utf-8")}


def exercises_of(module: ModuleType, chapter: registry.Chapter) -> dict[str, Exercise]:
    """The module's exercises by attribute name, in the order they are defined."""
    return {attr: value for attr, value in vars(module).items()
            if isinstance(value, Exercise) and value.name.startswith(chapter.key + ".")}


# ---------------------------------------------------------------- recording


@contextmanager
def _replayed(how: str) -> Iterator[None]:
    """The context `core._reproduces` replays a mistake in, for each of its modes."""
    with warnings.catch_warnings(), np.errstate(all="raise" if how == RAISE else "warn"):
        warnings.simplefilter("error" if how == WARN else "ignore")
        yield


def _outcome(run: Callable[[], Any]) -> dict[str, Any]:
    """What `run` gave, or the error it raised. An answer that draws from numpy's global generator (a
    mistake that ignores the rng it is given) draws from a fixed seed: a rebuild records the same."""
    from gradbook.checks.diagnose import describe_exception

    state = np.random.get_state()
    np.random.seed(0)
    try:
        return {"out": to_plain(run())}
    except Exception as error:  # what it raised: the judge only needs to know that it did
        return {"error": describe_exception(error) or type(error).__name__}
    finally:
        np.random.set_state(state)


def _outcomes(run: Callable[[Any, Any], Any], answer: Any, cases: list, modes: tuple[str, ...]) -> dict[str, dict]:
    """What `run(answer, case)` gave on each case, in each of `modes` where it differs from `QUIET`."""
    recorded: dict[str, dict] = {}
    for case in cases:
        with warnings.catch_warnings(record=True) as warned, np.errstate(all="warn"):
            warnings.simplefilter("always")
            by_mode: dict[str, Any] = {QUIET: _outcome(lambda: run(answer, copy.deepcopy(case)))}
        for how in modes[1:] if warned else ():  # no warning: raising or erring on them changes nothing
            with _replayed(how):
                by_mode[how] = _outcome(lambda: run(answer, copy.deepcopy(case)))
        quiet = by_mode[QUIET]
        same = json.dumps(to_wire(quiet), sort_keys=True)
        recorded[case_key(case)] = {how: o for how, o in by_mode.items()
                                    if how == QUIET or json.dumps(to_wire(o), sort_keys=True) != same}
    return recorded


def visible_cases(exercise: Exercise) -> list:
    """The visible cases as the edition holds them: through the wire and back (what a recording is keyed on)."""
    from gradbook.checks.plain import from_wire

    cases = exercise.make_cases(VISIBLE_SEED, False)
    keys = [case_key(case) for case in cases]
    if len(set(keys)) != len(keys) or "__unsupported__" in json.dumps(to_wire([c.args for c in cases])):
        raise GraderError(f"{exercise.name}: its visible cases cannot be recorded as plain data (an input that is "
                          "not an array, number, string, list, tuple or dict, or two equal cases)")
    return [type(case)(tuple(from_wire(to_wire(case.args))), dict(from_wire(to_wire(case.kwargs))), case.label,
                       case.label_values) for case in cases]


def record(exercise: Exercise) -> dict[str, Any]:
    """An exercise as plain data: its visible cases, and what its reference and each mistake gave on them."""
    cases = visible_cases(exercise)
    try:
        parameters = [n for n in inspect.signature(exercise.reference).parameters if n != "self"]
    except (TypeError, ValueError):
        parameters = []
    return {
        "title": exercise.title,
        "seed": VISIBLE_SEED,
        "parameters": parameters,
        "cases": [{"args": c.args, "kwargs": c.kwargs, "label": c.label, "label_values": c.label_values} for c in cases],
        "reference": _outcomes(exercise.answer, exercise.reference, cases, (QUIET,)),
        "mistakes": [_outcomes(exercise.answer, m.wrong, cases, (QUIET, RAISE, WARN)) for m in exercise.mistakes],
        "library": library_fallback(exercise),
    }


def library_fallback(exercise: Exercise) -> str | None:
    """The first of the exercise's `library_answers` that passes its visible checks as a student's answer
    would: what a demo cell's fallback (`notebook.yours`) runs in the edition, where the reference is a
    recording. The public library is the students' (issue #22 forbids solution text, not the library)."""
    for path in exercise.library_answers:
        try:
            answer = pkgutil.resolve_name(path)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if judge(exercise, collect(exercise, answer, VISIBLE_SEED, False), "en").passed:
                    return path
        except Exception:  # not importable here (torch absent), or not a drop-in answer: the next one
            continue
    return None


# ---------------------------------------------------------------- the generated module


def recorded_module(chapter: registry.Chapter, module: ModuleType | None = None) -> tuple[str, dict[str, Any]]:
    """The edition's source of a chapter's module (its ``__init__.py``), and its data (JSON-able). `module`:
    the answers half to record (default: the chapter's)."""
    module = module or answers_module(chapter)
    exercises = exercises_of(module, chapter)
    data = {exercise.name: to_wire(record(exercise)) for exercise in exercises.values()}
    _check_copied_functions(module, exercises)
    compares = {exercise.compare.__name__ for exercise in exercises.values() if exercise.compare is not None}
    compares |= {e.outputs.__name__ for e in exercises.values() if callable(e.outputs) and not isinstance(e.outputs, Output)}
    copied, alternatives = _closure(module, compares, _answers(module, exercises))
    data.update(_recorded_alternatives(alternatives, exercises))
    lines = _header(chapter, sorted(alternatives), copied)
    for attr, exercise in exercises.items():
        lines += _exercise_source(attr, exercise)
    return "\n".join(lines) + "\n", data


def _check_copied_functions(module: ModuleType, exercises: dict[str, Exercise]) -> None:
    """Each compare function, and each function that declares the outputs of a case, is the module's own, by its
    own name (not a lambda): the edition copies it from there."""
    for exercise in exercises.values():
        outputs = exercise.outputs if callable(exercise.outputs) and not isinstance(exercise.outputs, Output) else None
        for what, function in (("compare", exercise.compare), ("outputs", outputs)):
            if function is not None and getattr(module, function.__name__, None) is not function:
                raise GraderError(f"{exercise.name}: its {what} function is not a function of {module.__name__} by "
                                  "its own name (a lambda cannot be copied); the student edition copies it from there")


def _recorded_alternatives(alternatives: dict[str, tuple[Any, Any]], exercises: dict[str, Exercise]) -> dict[str, Any]:
    """What each accepted alternative answer a compare function runs gave on every exercise's visible cases."""
    data = {}
    for name, (driver, answer) in alternatives.items():
        recording: dict[str, dict] = {}
        for exercise in exercises.values():
            recording.update(_outcomes(driver, answer, visible_cases(exercise), (QUIET,)))
        data[f"{ALTERNATIVES}.{name}"] = to_wire({"title": name, "seed": VISIBLE_SEED, "parameters": [],
                                                  "cases": [], "reference": recording, "mistakes": [], "library": None})
    return data


def _header(chapter: registry.Chapter, alternatives: list[str], copied: str) -> list[str]:
    """The generated module up to its exercises: docstring, imports, the data, what the compares use."""
    lines = [
        f'"""{chapter.module}, as the student edition holds it: recorded, not computed.',
        "",
        "Written by `gradbook-grader release --student-edition`. Each exercise's visible cases, and what the",
        f"model answer and each known mistake gave on them, are data in {RECORDING};",
        "the checks judge a student's answer with them exactly as the instructor's do (gradbook.checks.recorded).",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from gradbook.checks import recorded",
        "from gradbook.checks.core import Exercise, Mistake",
        "from gradbook.checks.meaning import Axis, Output  # noqa: F401 - the outputs' declarations",
    ]
    if registry.public(chapter) is not None:
        lines.append(f"from {chapter.module}.public import *  # noqa: F403 - its drivers and the helpers it gives")
    lines += ["", "_DATA = recorded.read(__file__)"]
    if alternatives:
        lines.append(f"{ALTERNATIVES} = {{name: recorded.reference(_DATA, f'{ALTERNATIVES}.{{name}}') "
                     f"for name in {alternatives!r}}}")
    if copied:
        lines += ["", "", "# --- what the compare functions use, copied from the chapter's checks", "", copied]
    return lines


def _exercise_source(attr: str, exercise: Exercise) -> list[str]:
    """One exercise of the generated module: its declaration with recorded answers in place of code."""
    lines = ["", f"{attr} = Exercise(", f"    {exercise.name!r},", f"    title={exercise.title!r},",
             f"    reference=recorded.reference(_DATA, {exercise.name!r}),",
             f"    cases=recorded.cases(_DATA, {exercise.name!r}),", f"    run={exercise.run!r},"]
    if exercise.compare is not None:
        lines.append(f"    compare={exercise.compare.__name__},")
    lines += [f"    rtol={exercise.rtol!r},", f"    atol={exercise.atol!r},", f"    scale_tol={exercise.scale_tol!r},",
              f"    value={exercise.value!r},"]
    lines += _declarations(exercise)
    if exercise.mistakes:
        lines.append("    mistakes=[")
        lines += [f"        Mistake(recorded.mistake(_DATA, {exercise.name!r}, {i}), {m.hint!r}),"
                  for i, m in enumerate(exercise.mistakes)]
        lines.append("    ],")
    return lines + [")"]


def _declarations(exercise: Exercise) -> list[str]:
    """What an exercise declares about its outputs and arguments (`gradbook.checks.meaning`): a function of the
    case is copied (above), a declaration written as it is."""
    lines = []
    if exercise.outputs is not None:
        declared = exercise.outputs
        lines.append(f"    outputs={declared.__name__ if callable(declared) and not isinstance(declared, Output) else repr(declared)},")
    if exercise.arguments:
        lines.append(f"    arguments={tuple(exercise.arguments)!r},")
    return lines


def _answers(module: ModuleType, exercises: dict[str, Exercise]) -> set[str]:
    """The module's names that are (or wrap, or are named where an exercise gives) a reference or a mistake."""
    answers = {id(e.reference) for e in exercises.values()} | {id(m.wrong) for e in exercises.values() for m in e.mistakes}
    names = {name for name, value in vars(module).items() if id(value) in answers}
    return (names | _declared_answers(ast.parse(inspect.getsource(module)))) - {"Mistake", "N_"}


def _declared_answers(tree: ast.AST) -> set[str]:
    """The names in each `Exercise(reference=...)` and each `Mistake(wrong, ...)`'s implementation (not its
    hint, which the edition keeps)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("Exercise", "Mistake")):
            continue
        given = [k.value for k in node.keywords if k.arg == "reference"] + (node.args[:1] if node.func.id == "Mistake" else [])
        names |= {n.id for expr in given for n in ast.walk(expr) if isinstance(n, ast.Name)}
    return names


def _definitions(tree: ast.Module) -> dict[str, ast.stmt]:
    """Each module-level name and the statement that defines it."""
    defined: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update({n.id: node for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)})
    return defined


def _closure(module: ModuleType, roots: set[str], answers: set[str]) -> tuple[str, dict[str, tuple[Any, Any]]]:
    """The source of `roots` and every module-level definition they use, in the module's order, and the
    driver calls in it that run one of the module's own answers (recorded instead: name -> (driver, answer))."""
    tree = ast.parse(inspect.getsource(module))
    defined = _definitions(tree)
    runners = {id(driver) for driver in registry.all_drivers().values()}  # (answer, case) -> what it gives
    driver_names = {name for name, value in vars(module).items() if id(value) in runners}
    needed, alternatives = _needed(module, roots, answers, defined, driver_names)
    body = [node for node in tree.body if any(defined.get(name) is node for name in needed)]
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)) and
               not (isinstance(node, ast.ImportFrom) and node.module == "__future__")]
    copied = _Alternatives(driver_names, defined).visit(ast.Module(body=imports + body, type_ignores=[]))
    return (ast.unparse(ast.fix_missing_locations(copied)) if body else ""), alternatives


def _needed(module: ModuleType, roots: set[str], answers: set[str], defined: dict[str, ast.stmt],
            driver_names: set[str]) -> tuple[set[str], dict[str, tuple[Any, Any]]]:
    """The definitions `roots` use, transitively (never an answer), and the answers they run through a driver."""
    alternatives: dict[str, tuple[Any, Any]] = {}
    needed: set[str] = set()
    todo = sorted(roots)
    while todo:
        name = todo.pop()
        if name in needed or name not in defined:
            continue
        if name in answers:
            raise GraderError(f"{module.__name__}: its compare functions use {name}, a reference or a mistake; the "
                              "student edition cannot hold it: compare with `expected` instead")
        needed.add(name)
        node = defined[name]
        runs = [(call, ran) for call in ast.walk(node) if (ran := _driver_run(call, driver_names, defined))]
        alternatives.update({ran: (getattr(module, call.func.id), getattr(module, ran)) for call, ran in runs})
        skip = {id(call.args[0]) for call, _ran in runs}  # what a driver runs there is recorded, not copied
        todo += [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and id(n) not in skip]
    return needed, alternatives


def _driver_run(node: ast.AST, driver_names: set[str], defined: dict[str, ast.stmt]) -> str | None:
    """The name of the module's function or class that `node` runs on a case through a driver
    (``run_optimizer(_AdamKeras, case)``), or None."""
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in driver_names
            and len(node.args) == 2 and isinstance(node.args[0], ast.Name)
            and isinstance(defined.get(node.args[0].id), (ast.FunctionDef, ast.ClassDef))):
        return node.args[0].id
    return None


class _Alternatives(ast.NodeTransformer):
    """``driver(Answer, case)`` -> ``_ALTERNATIVES["Answer"].output(case)``: the recorded run."""

    def __init__(self, driver_names: set[str], defined: dict[str, ast.stmt]) -> None:
        self.driver_names, self.defined = driver_names, defined

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if _driver_run(node, self.driver_names, self.defined):
            lookup = ast.Subscript(ast.Name(ALTERNATIVES, ast.Load()), ast.Constant(node.args[0].id), ast.Load())
            return ast.Call(ast.Attribute(lookup, "output", ast.Load()), [node.args[1]], [])
        return node
