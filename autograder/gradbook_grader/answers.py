"""The library as a chapter's grading sandbox sees it: that chapter's answers are not in it.

When chapter N is graded, the sandbox's `gradbook` package is a copy of the real one (bound
read-only over it, no bytecode) in which:

* every chapter's answers half (`checks/chNN/answers.py`: references, mistakes, case generators) is
  gone, and the chapter's module (`checks/chNN/__init__.py`) is a stub whose checks are names
  (`GradedOutside`), re-exporting the helpers the chapter gives from its public half, kept as it is;
* every function, method or class that chapter N's exercises declare as computing their answer
  (`Exercise.library_answers`, dotted paths) is rewritten at its definition, in the syntax tree,
  into a stub that raises "not available while chapter N is graded: write your own". A class's
  methods all become stubs. Re-exports and aliases (the facades, the torch path, the widgets)
  are the same objects, so they find the stub too, however they are reached.

Earlier chapters' answers stay: a chapter-5 network may use the library's `Dense`. One view is
built per set of chapters per process (`package_view`), on first use.
"""

from __future__ import annotations

import ast
import atexit
import importlib
import inspect
import re
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from gradbook_grader.types import Manifest

ANSWERS = "answers.py"  # a chapter's answers half (checks/chNN/answers.py): references, mistakes, case generators
CHAPTER = re.compile(r"ch\d\d")
_LOCK = threading.Lock()
_PARSING = threading.Lock()


def parse(source: str) -> ast.Module:
    """`ast.parse`, one at a time in this process: CPython 3.11 keeps the AST constructor's recursion
    depth per interpreter, and two threads parsing at once can fail with "AST constructor recursion
    depth mismatch" (a SystemError) on valid code."""
    with _PARSING:
        return ast.parse(source)


class AnswerDeclarationError(ValueError):
    """An exercise's `library_answers` names something that is not a function or class of the library."""


@dataclass(frozen=True)
class Target:
    """Where a declared answer is defined: a file of the package and a dotted name in it."""

    path: str  # as declared
    file: Path  # relative to the package directory
    qualname: str


def chapters_of(exercises: Iterable[str]) -> tuple[str, ...]:
    """The chapters ("ch05") of exercise names ("ch05.softmax"), sorted, each once."""
    return tuple(sorted({name.split(".")[0] for name in exercises if CHAPTER.fullmatch(name.split(".")[0])}))


def chapters_graded(manifest: Manifest) -> tuple[str, ...]:
    """The chapters whose exercises the manifest's test cells check."""
    return chapters_of(q.exercise for questions in manifest.expected.values() for q in questions)


def declared(chapters: Iterable[str]) -> dict[str, str]:
    """The declared answers of `chapters`: dotted path -> the exercise that declares it (its `library_answers`),
    or the chapter ("ch09") for the library code the chapter teaches (`registry.Chapter.library`)."""
    from gradbook.checks import load_all
    from gradbook.checks.registry import chapter

    wanted = set(chapters)
    found = {path: key for key in sorted(wanted) for path in chapter(key).library}
    found.update({path: name for name, exercise in sorted(load_all().items())
                  if name.split(".")[0] in wanted for path in exercise.library_answers})
    return found


def resolve(path: str) -> Target:
    """The definition a dotted path names (through re-exports, `functools.wraps` and properties).

    Read from the package's files when the path leads to a definition through plain imports (no
    module is imported: the torch path's would import torch); imported otherwise."""
    return _read(path, path, 0) or _imported(path)


def _read(path: str, declared: str, hops: int) -> Target | None:
    """`path`'s definition found in the package's source files, following `from m import name`."""
    import gradbook

    root = Path(gradbook.__file__).resolve().parent
    parts = path.split(".")
    if parts[0] != "gradbook" or hops > 5:
        return None
    for split in range(len(parts) - 1, 0, -1):
        base = root.joinpath(*parts[1:split])
        file = base.with_suffix(".py") if split > 1 else root / "__init__.py"
        file = file if file.is_file() else base / "__init__.py"
        if not file.is_file():
            continue
        tree = parse(file.read_text(encoding="utf-8"))
        qualname = ".".join(parts[split:])
        if _find(tree.body, qualname):
            return Target(declared, file.relative_to(root), qualname)
        for node in tree.body:  # a re-export: follow it
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    if (alias.asname or alias.name) == parts[split]:
                        return _read(".".join([node.module, alias.name, *parts[split + 1:]]), declared, hops + 1)
        return None
    return None


def _imported(path: str) -> Target:
    import gradbook

    parts = path.split(".")
    obj: Any = None
    for split in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:split]))
            break
        except ImportError:
            continue
    else:
        raise AnswerDeclarationError(f"{path}: no module of it can be imported")
    try:
        for attr in parts[split:]:
            obj = inspect.getattr_static(obj, attr) if inspect.isclass(obj) else getattr(obj, attr)
    except AttributeError:
        raise AnswerDeclarationError(f"{path}: there is no such attribute") from None
    obj = getattr(obj, "fget", None) or getattr(obj, "__func__", None) or obj  # property, static/classmethod
    obj = inspect.unwrap(obj)
    if not (inspect.isfunction(obj) or inspect.isclass(obj)) or "<" in obj.__qualname__:
        raise AnswerDeclarationError(f"{path}: not a function, method or class defined at a module's top level ({obj!r})")
    root = Path(gradbook.__file__).resolve().parent
    try:
        file = Path(inspect.getsourcefile(obj) or "").resolve().relative_to(root)
    except (TypeError, ValueError):
        raise AnswerDeclarationError(f"{path}: not defined in the gradbook package") from None
    return Target(path, file, obj.__qualname__)


def _raise(message: str, path: str) -> list[ast.stmt]:
    """`raise Withheld(message, path)`: a RuntimeError the notebook recognises (a demo cell that reaches it is not
    run while grading, instead of failing; see `gradbook.withheld`)."""
    return parse(f"from gradbook.withheld import Withheld\nraise Withheld({message!r}, {path!r})").body


def _stub(node: ast.AST, message: str, path: str) -> None:
    """A function's body, or every method of a class, becomes `raise Withheld(message, path)`."""
    for child in ast.walk(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            child.body = _raise(message, path)


def _find(body: list[ast.stmt], qualname: str) -> list[ast.AST]:
    name, _, rest = qualname.partition(".")
    found = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.name == name]
    if not rest:
        return list(found)
    return [deeper for n in found for deeper in _find(n.body, rest)]


def withheld(chapters: tuple[str, ...], path: str) -> str:
    """What a stub says."""
    numbers = " and ".join(str(int(c[2:])) for c in chapters)
    return f"{path} is not available while chapter {numbers} is graded: write your own"


def rewrite(source: str, targets: list[Target], chapters: tuple[str, ...]) -> str:
    """`source` with each target's definition stubbed (raises `AnswerDeclarationError` if one is not in it)."""
    tree = parse(source)
    for target in targets:
        nodes = _find(tree.body, target.qualname)
        if not nodes:
            raise AnswerDeclarationError(f"{target.path}: no definition of {target.qualname} in {target.file}")
        for node in nodes:
            _stub(node, withheld(chapters, target.path), target.path)
    return ast.unparse(tree) + "\n"


def answer_files(root: Path) -> list[Path]:
    """The chapters' answers halves in the `gradbook` package at `root` (chapters of other packages are not in
    the sandbox's library at all)."""
    from gradbook.checks.registry import chapters

    prefix = "gradbook."
    return [root.joinpath(*c.module.split(".")[1:], ANSWERS) for c in chapters() if c.module.startswith(prefix)
            and root.joinpath(*c.module.split(".")[1:], ANSWERS).is_file()]


def _checks_stub(chapter: Any) -> str:
    """A chapter's module while graded: names, and the helpers the chapter gives students (from its public half)."""
    from gradbook.checks import exercises_of
    from gradbook.checks.registry import helpers

    lines = [f'"""{chapter.module} while a submission is graded: the grader checks from outside."""',
             "from gradbook.checks.ask import GradedOutside"]
    given = helpers(chapter)
    if given:
        lines.append(f"from {chapter.module}.public import {', '.join(given)}")
    exercises = {id(exercise) for exercise in exercises_of(chapter).values()}
    for attr, value in sorted(vars(sys.modules[chapter.module]).items()):
        if id(value) in exercises:
            lines.append(f"{attr} = GradedOutside({value.name!r}, {value.title!r})")
    return "\n".join(lines) + "\n"


def package_view(chapters: tuple[str, ...] = ()) -> Path:
    """The `gradbook` package directory a sandbox grading `chapters` gets (built once per process)."""
    with _LOCK:
        return _package_view(tuple(sorted(set(chapters))))


@lru_cache(maxsize=None)
def _package_view(chapters: tuple[str, ...]) -> Path:
    import gradbook
    from gradbook.checks import load_all

    load_all()
    real = Path(gradbook.__file__).resolve().parent
    top = Path(tempfile.mkdtemp(prefix=f"gradbook-view-{'-'.join(chapters) or 'checks'}-"))
    atexit.register(shutil.rmtree, top, True)
    view = top / "gradbook"
    # No bytecode: a stale .pyc of the real package would hold the answers the sources no longer do.
    shutil.copytree(real, view, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))
    from gradbook.checks import registry

    answers = {path.relative_to(real) for path in answer_files(real)}
    for chapter in registry.chapters():
        if chapter.module.startswith("gradbook."):
            package = view.joinpath(*chapter.module.split(".")[1:])
            (package / ANSWERS).unlink(missing_ok=True)
            (package / "__init__.py").write_text(_checks_stub(chapter), encoding="utf-8")
    by_file: dict[Path, list[Target]] = {}
    for path in declared(chapters):
        target = resolve(path)
        by_file.setdefault(target.file, []).append(target)
    for file, targets in sorted(by_file.items()):
        if file in answers:
            continue  # not in the view at all
        (view / file).write_text(rewrite((real / file).read_text(encoding="utf-8"), targets, chapters), encoding="utf-8")
    for path in [view, *view.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return view
