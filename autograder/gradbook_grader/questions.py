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

from gradbook_grader.types import Question

CHECKS_PACKAGE = "gradbook.checks"
IMPORT_HINT = (
    "a test cell may hold only `from gradbook.checks import chNN as check` and lines "
    "`check.NAME(answer)` / `check.NAME(answer, hidden=True)`"
)


class TestCellError(ValueError):
    """A test cell that is not a list of check calls; the message names the line."""


def read_test_cell(source: str) -> list[Question]:
    """The questions of one test cell (hidden ones included); `TestCellError` for anything else."""
    from gradbook.checks import chapter_module
    from gradbook.checks.core import Exercise
    from gradbook.checks.registry import UnknownChapter, chapter

    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise TestCellError(f"line {error.lineno}: not valid Python ({error.msg})") from None
    modules: dict[str, str] = {}  # local alias -> chapter module name
    questions: list[Question] = []
    for node in tree.body:
        where = f"line {node.lineno}: `{ast.get_source_segment(source, node)}`"
        if isinstance(node, ast.ImportFrom) and node.module == CHECKS_PACKAGE and node.level == 0:
            for alias in node.names:
                modules[alias.asname or alias.name] = alias.name
            continue
        if isinstance(node, ast.Import) and all(a.name.startswith(CHECKS_PACKAGE + ".") and a.asname for a in node.names):
            for alias in node.names:
                modules[str(alias.asname)] = alias.name.rsplit(".", 1)[1]
            continue
        call = node.value if isinstance(node, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                and isinstance(call.func.value, ast.Name) and call.func.value.id in modules):
            raise TestCellError(f"{where} is not a check call; {IMPORT_HINT}")
        if len(call.args) != 1 or any(k.arg != "hidden" for k in call.keywords):
            raise TestCellError(f"{where}: a check takes the answer and, optionally, hidden=True")
        hidden = False
        for keyword in call.keywords:
            if not (isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, bool)):
                raise TestCellError(f"{where}: hidden= must be True or False")
            hidden = keyword.value.value
        try:  # the chapter's module, through the registry (`gradbook.checks.registry`)
            module = chapter_module(chapter(modules[call.func.value.id]))
        except UnknownChapter as unknown:
            raise TestCellError(f"{where}: {unknown}") from None
        exercise = getattr(module, call.func.attr, None)
        if not isinstance(exercise, Exercise):
            raise TestCellError(f"{where}: {module.__name__} has no check named {call.func.attr!r}")
        questions.append(Question(exercise.name, ast.get_source_segment(source, call.args[0]) or "", hidden))
    if not questions:
        raise TestCellError(f"it makes no check; {IMPORT_HINT}")
    return questions
