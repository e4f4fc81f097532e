"""What a test cell asks: read from the instructor's source, never run in the student's process.

A graded test cell holds the chapter's checks import and one check call per line,

    from gradbook.checks import ch02 as check
    check.naive_relu(naive_relu)
    check.naive_relu(naive_relu, hidden=True)      (inside nbgrader's hidden-tests region)

and nothing else (`release` refuses anything else, with the line). Each call becomes a
`Question`: which exercise, which expression names the student's answer (`naive_relu`,
`(W1, b1)`, ...), and whether the hidden cases are meant. The grader asks the sandboxed
notebook these questions after it has run; the cell's text never enters the sandbox, so
neither do the hidden tests.
"""

from __future__ import annotations

import ast
import hashlib
import json
from types import ModuleType

from nbformat import NotebookNode

from gradbook_grader.nbcells import grade_id, is_graded, is_test_cell, points
from gradbook_grader.types import Manifest, Question

CHECKS_PACKAGE = "gradbook.checks"
IMPORT_HINT = (
    "a test cell may hold only `from gradbook.checks import chNN as check` and lines "
    "`check.NAME(answer)` / `check.NAME(answer, hidden=True)`"
)


class TestCellError(ValueError):
    """A test cell that is not a list of check calls; the message names the line."""


def read_test_cell(source: str) -> list[Question]:
    """The questions of one test cell (hidden ones included); `TestCellError` for anything else."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise TestCellError(f"line {error.lineno}: not valid Python ({error.msg})") from None
    modules: dict[str, str] = {}  # local alias -> chapter module name
    questions = [_question(node, source, modules) for node in tree.body if not _checks_import(node, modules)]
    if not questions:
        raise TestCellError(f"it makes no check; {IMPORT_HINT}")
    return questions


def _checks_import(node: ast.stmt, modules: dict[str, str]) -> bool:
    """Is `node` an import of chapter check modules? Their local names go to `modules`."""
    if isinstance(node, ast.ImportFrom) and node.module == CHECKS_PACKAGE and node.level == 0:
        modules.update((alias.asname or alias.name, alias.name) for alias in node.names)
        return True
    if isinstance(node, ast.Import) and all(a.name.startswith(CHECKS_PACKAGE + ".") and a.asname for a in node.names):
        modules.update((str(alias.asname), alias.name.rsplit(".", 1)[1]) for alias in node.names)
        return True
    return False


def _chapter_module(name: str, where: str) -> ModuleType:
    """The chapter's check module a test cell imports, through the registry (`gradbook.checks.registry`)."""
    from gradbook.checks import chapter_module
    from gradbook.checks.registry import UnknownChapter, chapter

    try:
        return chapter_module(chapter(name))
    except UnknownChapter as unknown:
        raise TestCellError(f"{where}: {unknown}") from None


def _question(node: ast.stmt, source: str, modules: dict[str, str]) -> Question:
    """The question of one check call `check.NAME(answer[, hidden=True])`; `TestCellError` for anything else."""
    from gradbook.checks.core import Exercise

    where = f"line {node.lineno}: `{ast.get_source_segment(source, node)}`"
    call = node.value if isinstance(node, ast.Expr) else None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name) and call.func.value.id in modules):
        raise TestCellError(f"{where} is not a check call; {IMPORT_HINT}")
    if len(call.args) != 1 or any(k.arg != "hidden" for k in call.keywords):
        raise TestCellError(f"{where}: a check takes the answer and, optionally, hidden=True")
    if not all(isinstance(k.value, ast.Constant) and isinstance(k.value.value, bool) for k in call.keywords):
        raise TestCellError(f"{where}: hidden= must be True or False")
    hidden = bool(call.keywords[-1].value.value) if call.keywords else False  # type: ignore[attr-defined]
    module = _chapter_module(modules[call.func.value.id], where)
    exercise = getattr(module, call.func.attr, None)
    if not isinstance(exercise, Exercise):
        raise TestCellError(f"{where}: {module.__name__} has no check named {call.func.attr!r}")
    return Question(exercise.name, ast.get_source_segment(source, call.args[0]) or "", hidden)


def source_digest(source_nb: NotebookNode) -> str:
    parts = [
        json.dumps([c.get("cell_type"), c.get("source"), c.get("metadata", {}).get("nbgrader")], sort_keys=True)
        for c in source_nb.cells
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def static_manifest(source_nb: NotebookNode) -> Manifest:
    """Questions and points of every graded cell, read from the source without running anything."""
    manifest = Manifest(source_digest=source_digest(source_nb))
    for cell in source_nb.cells:
        gid = grade_id(cell)
        if not gid or not is_graded(cell):
            continue
        manifest.points[gid] = points(cell)
        if not is_test_cell(cell):
            continue
        try:
            manifest.expected[gid] = read_test_cell(cell.source)
        except TestCellError as error:
            manifest.expected[gid] = []
            manifest.problems.append(f"test cell {gid}: {error}. It would score 0 for everyone.")
    return manifest
