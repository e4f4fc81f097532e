"""Integrity evidence an instructor can trust: pasted answer code, and reaching into the checks.

Calling the library's answers needs no evidence: while a chapter is graded its answers are not in
the sandbox (`answers`), so a submission that calls them, however it reaches them, scores nothing
for them. What is left to show a person is what the code the student wrote says by itself, and
only signals that honest code does not give:

* **pasted code**: a run of consecutive statements, together at least `MIN_COPY_NODES` syntax
  nodes, that is the same as a run in the library's answer code (the engine, the torch path, the
  widgets, the chapters' checks: references, mistakes, case generators) or in the instructor's
  solution cells of this chapter. Names, docstrings, comments, annotations and constants are
  ignored, so a copy with renamed variables, a new docstring or changed numbers is still one, and
  an inserted line only splits the run. Code the student was given (the released notebook's
  template cells, the checks' helpers) never counts. Short functions are not evidence: the natural
  way to write `relu` or `softmax` is the reference's by necessity.
* **the checks' internals**: what only a check's own code holds (`check.softmax.reference`,
  `.mistakes`, `.cases`, a chapter's private functions, `REGISTRY`, `load_all`), through a name
  the notebook bound to `gradbook.checks`. A student's own objects may have any attribute names.
* **an answer a framework computes**: a function or lambda of a solution cell that calls into a
  framework (`torch`, `tensorflow`, `jax`, `keras`) through a name the notebook bound to it
  (`F.layer_norm`, `torch.autograd.grad`, `nn.LSTM`): the course's answers are written in NumPy,
  and its demos compare with the frameworks outside the answers. The value is still what is graded
  (docs/architecture.md, "Not guaranteed"); a person decides whether the answer is the student's.
* **what an answer called while it was asked** (`asked`): the framework functions the sandbox saw the answer
  call, however it reached them (`watch`, in the sandbox: an obfuscated import, `sys.modules`, `exec`, a
  `functools.partial`, a tensor a library layer returned, autograd), and the grader's recorders it replaced
  (`sys.setprofile` in an answer). The static scan above still says which line; this says what ran.

Every line says which cell, which line and what; the score is never changed. The scan never
raises: code it cannot read (too deep, not Python) is skipped, and the submission is graded as
usual.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from nbformat import NotebookNode

from gradbook_grader.answers import answer_files, parse
from gradbook_grader.nbcells import is_solution, is_test_cell, stub_solution

if TYPE_CHECKING:
    from gradbook_grader.verdict import Answer

MIN_COPY_NODES = 120  # a natural softmax is ~50 nodes, a natural naive conv2d ~110; a pasted reference section is more
# A copy of an exercise's answer shares at least this many names its author chose: one or two are the field's own
# (`m_hat` and `v_hat` in Adam, `onehot` where the text says "one-hot"); a pasted answer keeps many more.
MIN_CHOSEN_NAMES = 3
MAX_EVIDENCE = 20
MAX_STATEMENTS = 5_000  # per cell: past this, the rest of the cell is not compared
# Statements compared with the answer code, per notebook: a chapter's whole solution needs at most ~14,000; a
# submission of tens of thousands of statements shaped like the library's commonest (`def f(a, b): ...`) once took
# the grader 20 minutes outside any sandbox's time limit. Past it the scan stops and asks a person to look.
MAX_COMPARED = 1_000_000
MAX_CODE = 1_000_000  # characters of code scanned per notebook (a chapter's is ~50,000): parsing is the rest of the cost
CHECK_INTERNALS = {"reference", "mistakes", "cases", "make_cases", "compare", "wrong", "answer"}
REGISTRY_NAMES = {"REGISTRY", "load_all", "collect", "judge", "known_mistake"}
FRAMEWORKS = ("torch", "tensorflow", "jax", "keras")  # what computes a NumPy exercise's answer for the student
ASKED = "while its answer was asked"  # in every line of what the sandbox saw an answer do (`asked`)
# The library's code that computes answers: the engine, the torch path, widgets and facades, the
# chapters' checks. Not the checks' harness (drivers, core, plain, ...): students are given it.
LIBRARY_PACKAGES = ("gradbook.reference", "gradbook.torch_path", "gradbook.widgets")
LIBRARY_MODULES = ("gradbook.surfaces", "gradbook.utils")
_BODIES = ("body", "orelse", "finalbody", "handlers", "cases")
_DROPPED = {"annotation", "returns", "type_comment", "type_params", "ctx"}


@dataclass(frozen=True)
class Statement:
    shape: str  # the statement without its names, constants, docstring and nested statements
    nodes: int  # how many syntax nodes that is
    line: int
    named: str = ""  # the shape with the names the chapter does not dictate written out (`_free`)
    free: frozenset[str] = frozenset()  # those names


class _Stopped(Exception):
    """The scan compared `MAX_COMPARED` statements: what it found so far, and that it stopped."""

    def __init__(self, evidence: list[str]) -> None:
        super().__init__()
        self.evidence = evidence


def scan(nb: NotebookNode, source: NotebookNode) -> list[str]:
    """Evidence lines for the instructor (empty when there is nothing to show)."""
    try:
        return _scan(nb, source)
    except _Stopped as stopped:
        return stopped.evidence + [f"the integrity scan stopped: the notebook has more code than it compares (over "
                                   f"{MAX_CODE:,} characters, or {MAX_COMPARED:,} statements compared with the answer "
                                   "code; a chapter's whole solution is a small part of either): the rest was not "
                                   "compared, so look at this submission's code by hand"]
    except (RecursionError, MemoryError, ValueError, SyntaxError, SystemError):
        return []  # evidence is optional; grading is not


def _scan(nb: NotebookNode, source: NotebookNode) -> list[str]:
    given = {_norm(c.source) for c in source.cells if c.get("cell_type") == "code"}
    dictated = _dictated(source)
    index = _index(_library(), _answers_halves(dictated), _instructor(source, dictated))
    trees = _trees(nb)
    checks = _bound_names(trees, _bound_to_checks)
    frameworks = _bound_names(trees, _bound_to_frameworks)
    answers = _answers_reach(nb, trees, checks)
    evidence: list[str] = []
    budget = [MAX_COMPARED]
    for number, (cell, tree) in enumerate(zip(nb.cells, trees)):
        if tree is None or is_test_cell(cell):
            continue
        if not is_solution(cell) and _norm(cell.get("source", "")) in given:
            continue  # the instructor's own cell, unchanged
        where = f"cell {number}" + (" (a solution cell)" if is_solution(cell) else " (the student's own cell)")
        evidence += [f"{where}, line {line}: {what}" for line, what in _internals(tree, checks)]
        if is_solution(cell):
            evidence += [f"{where}, line {line}: {what}" for line, what in sorted(_framework_calls(tree, frameworks, answers))]
        try:
            evidence += [f"{where}, line {line}: {what}" for line, what in _copies(_statements(tree, dictated), index, budget)]
        except _Stopped:
            raise _Stopped(evidence) from None
        if len(evidence) >= MAX_EVIDENCE:
            return evidence[:MAX_EVIDENCE] + ["... and more"]
    return evidence


def asked(answers: Iterable["Answer"]) -> list[str]:
    """Evidence the sandbox recorded while the answers were asked (`watch`), one line per answer of a cell and
    kind: the framework functions it called, the grader's recorders it replaced. Empty when there is none."""
    seen: dict[tuple[str, str, str], tuple[dict[str, None], dict[str, None]]] = {}
    for answer in answers:
        called, replaced = seen.setdefault((answer.gid, answer.question.expr, answer.question.exercise), ({}, {}))
        called.update(dict.fromkeys(answer.frameworks))
        replaced.update(dict.fromkeys(answer.replaced))
    evidence = []
    for (gid, expr, exercise), (called, replaced) in seen.items():
        if called:
            evidence.append(f"cell {gid}: `{expr}` ({exercise}) called {', '.join(list(called)[:MAX_EVIDENCE])} {ASKED}: "
                            "its value is graded as any answer's; a person decides whether the answer is the student's own")
        if replaced:
            evidence.append(f"cell {gid}: `{expr}` ({exercise}) replaced the grader's recorder {ASKED} "
                            f"({'; '.join(replaced)}): the record of what it called may be incomplete")
    return evidence[:MAX_EVIDENCE] + (["... and more"] if len(evidence) > MAX_EVIDENCE else [])


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _parse(text: str) -> ast.Module | None:
    """The cell's syntax tree (IPython's magics and shell lines as `pass`), or None."""
    code = "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())
    try:
        return parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError, SystemError):
        return None


# --- the checks' internals -------------------------------------------------------------------------


def _trees(nb: NotebookNode) -> list[ast.Module | None]:
    """Each cell's syntax tree (None: not code, or not Python), parsed once; `_Stopped` past `MAX_CODE` characters."""
    code = [str(c.get("source", "")) if c.get("cell_type") == "code" else None for c in nb.cells]
    if sum(len(text) for text in code if text) > MAX_CODE:
        raise _Stopped([])
    return [_parse(text) if text is not None else None for text in code]


def _bound_names(trees: list[ast.Module | None], bound: Callable[[ast.AST], dict[str, str]]) -> dict[str, str]:
    """Names the notebook's cells bind by import (to `gradbook.checks`, a framework), as `bound` reads one import ->
    what each names."""
    names: dict[str, str] = {}
    for tree in trees:
        for node in _walk(tree) if tree is not None else ():
            names.update(bound(node))
    return names


def _bound_to_checks(node: ast.AST) -> dict[str, str]:
    """What one import binds to `gradbook`, `gradbook.checks` or a chapter's checks (a chapter's module, or one
    of its checks)."""
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0]: alias.name if alias.asname else "gradbook"
                for alias in node.names if alias.name == "gradbook" or alias.name.startswith("gradbook.checks")}
    if isinstance(node, ast.ImportFrom) and node.module and (
            node.module in ("gradbook", "gradbook.checks") or re.fullmatch(r"gradbook\.checks\.ch\d\d", node.module)):
        return {alias.asname or alias.name: f"{node.module}.{alias.name}"
                for alias in node.names if node.module != "gradbook" or alias.name == "checks"}
    return {}


def _internals(tree: ast.AST, checks: dict[str, str]) -> Iterator[tuple[int, str]]:
    for node in _walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gradbook.checks"):
            for alias in node.names:
                if alias.name in REGISTRY_NAMES or (re.search(r"\.ch\d\d$", node.module) and _private(alias.name)):
                    yield node.lineno, f"imports the checks' internals ({node.module}.{alias.name})"
        elif isinstance(node, ast.Attribute):
            said = _reached(_dotted(node, checks))
            if said:
                yield node.lineno, said


def _reached(path: str) -> str | None:
    """What an attribute path that starts at the checks reaches into, if it is their internals."""
    if not path.startswith("gradbook.checks"):
        return None
    parts = path.split(".")
    chapter = next((i for i, p in enumerate(parts) if re.fullmatch(r"ch\d\d", p)), None)
    if parts[-1] in REGISTRY_NAMES and chapter is None:
        return f"reaches into the checks ({path})"
    if chapter is not None and len(parts) > chapter + 1 and (
            _private(parts[chapter + 1]) or (len(parts) > chapter + 2 and parts[chapter + 2] in CHECK_INTERNALS)):
        return f"reaches into a check's own code ({path})"
    return None


# --- an answer a framework computes ----------------------------------------------------------------


def _framework(module: str) -> bool:
    return module.split(".")[0] in FRAMEWORKS


def _bound_to_frameworks(node: ast.AST) -> dict[str, str]:
    """What one import binds to a framework: `import torch.nn.functional as F` -> {"F": "torch.nn.functional"}."""
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0]: alias.name if alias.asname else alias.name.split(".")[0]
                for alias in node.names if _framework(alias.name)}
    if isinstance(node, ast.ImportFrom) and node.module and not node.level and _framework(node.module):
        return {alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*"}
    return {}


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)


def _answers_reach(nb: NotebookNode, trees: list[ast.Module | None], checks: dict[str, str]) -> set[str] | None:
    """Every name the checked answers reach in the notebook: the names in the test cells' check calls
    (`check.softmax(softmax)`), and the names each definition of a reached name uses, transitively (a function's
    helpers, a class's methods' helpers, `Value.backward = backward`). None where no check call names one."""
    definitions: dict[str, list[ast.AST]] = {}
    roots: set[str] = set()
    for cell, tree in zip(nb.cells, trees):
        if tree is not None and is_test_cell(cell):
            roots |= _checked_names(tree, checks)
        elif tree is not None:
            for statement in tree.body:
                for name in _defined(statement):
                    definitions.setdefault(name, []).append(statement)
    reached: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += [n.id for node in definitions.get(name, ()) for n in _walk(node) if isinstance(n, ast.Name)]
    return reached or None


def _checked_names(tree: ast.AST, checks: dict[str, str]) -> set[str]:
    """The names in the answers a test cell's check calls are given (`check.xor_weights((W1, b1))`: W1, b1)."""
    calls = [node for node in _walk(tree) if isinstance(node, ast.Call) and node.args
             and _dotted(node.func, checks).startswith("gradbook.checks")]
    return {n.id for call in calls for n in _walk(call.args[0]) if isinstance(n, ast.Name)}


def _defined(statement: ast.AST) -> list[str]:
    """The names a top-level statement defines: a function's or class's, an assignment's (`Value.backward = ...`
    defines more of `Value`), and those of the statements in its blocks."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [statement.name]
    if isinstance(statement, (ast.If, ast.Try, ast.With, ast.For, ast.While)):  # defined in a block: `try: ... except`
        return [name for field in _BODIES for inner in getattr(statement, field, None) or [] for name in _defined(inner)]
    targets = statement.targets if isinstance(statement, ast.Assign) else (
        [statement.target] if isinstance(statement, (ast.AnnAssign, ast.AugAssign)) else [])
    names = []
    for target in targets:
        while isinstance(target, (ast.Attribute, ast.Subscript)):
            target = target.value
        names += [n.id for n in _walk(target) if isinstance(n, ast.Name)]
    return names


def _framework_calls(tree: ast.AST, frameworks: dict[str, str], answers: set[str] | None = None
                     ) -> Iterator[tuple[int, str]]:
    """Each function a solution cell defines (outermost, with what it nests) that uses a framework and that a checked
    answer reaches (`_answers_reach`; every function where none is known): its first line that does, and what it
    reaches. A check of the answer against a framework at the cell's top level, or in a function of the student's
    that no answer uses (a test of their own), is no evidence."""
    statements = getattr(tree, "body", [])
    stack: list[ast.AST] = [s for s in statements if answers is None or set(_defined(s)) & answers]
    while stack:
        node = stack.pop()
        if not isinstance(node, _FUNCTIONS):
            stack.extend(ast.iter_child_nodes(node))
            continue
        used = _framework_uses(node, frameworks)
        if used:
            reached = sorted({p for _, p in used if not any(q.startswith(p + ".") for _, q in used)})
            yield used[0][0], (f"{getattr(node, 'name', 'a lambda')} computes with a framework ({', '.join(reached[:5])}): "
                               "its value is graded as any answer's; a person decides whether the answer is the student's own")


def _framework_uses(function: ast.AST, frameworks: dict[str, str]) -> list[tuple[int, str]]:
    """(line, dotted path) of every use of a framework in `function`, in line order: through the notebook's names
    for one that are not the function's own (its parameters and locals), or what it imports itself."""
    args = function.args  # type: ignore[attr-defined]
    own = {a.arg for a in ast.walk(args) if isinstance(a, ast.arg)}
    own |= {n.id for n in _walk(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
    names = {k: v for k, v in frameworks.items() if k not in own}
    names.update(kv for n in _walk(function) for kv in _bound_to_frameworks(n).items())
    paths = ((n.lineno, _dotted(n, names)) for n in _walk(function) if isinstance(n, (ast.Attribute, ast.Name)))
    return sorted((line, path) for line, path in paths if path)


def _private(name: str) -> bool:
    """A chapter module's own helper (`_softmax`), not Python's (`__name__`)."""
    return name.startswith("_") and not name.startswith("__")


def _dotted(node: ast.AST, checks: dict[str, str]) -> str:
    """`check.softmax.reference` as the module path it names (`gradbook.checks.ch05.softmax.reference`)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in checks:
        return ""
    return ".".join([checks[node.id], *reversed(parts)])


def _walk(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node, without recursion (a 600-term sum is 600 levels deep)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(ast.iter_child_nodes(node))


# --- pasted code -----------------------------------------------------------------------------------


def _statements(tree: ast.AST, dictated: frozenset[str] | None = None) -> list[Statement]:
    """The statements in the order they are written (nested ones after their header), docstrings left out; with
    `dictated`, each also with the names it does not dictate written out (`_shape`)."""
    out: list[Statement] = []
    stack: list[ast.AST] = list(reversed(getattr(tree, "body", [])))
    while stack and len(out) < MAX_STATEMENTS:
        node = stack.pop()
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # a docstring, or a string on its own: text, not code
        shape, nodes, named, free = _shape(node, dictated)
        out.append(Statement(shape, nodes, getattr(node, "lineno", 0), named, free))
        # nested statements (an except clause, a match case: their own header) follow their header
        stack.extend(reversed([s for field in _BODIES for s in (getattr(node, field, None) or [])]))
    return out


def _shape(statement: ast.AST, dictated: frozenset[str] | None = None) -> tuple[str, int, str, frozenset[str]]:
    """A statement's header as text, names numbered by first use, constants as `C`; iterative. Also that text with
    each name not in `dictated` written out (what its author chose, not what the chapter gave), and those names."""
    names: dict[str, str] = {}
    tokens: list[str] = []
    chosen: dict[int, str] = {}  # token index -> the name written out there
    count = 0
    stack: list[object] = [statement]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.append("]")
            stack.extend(reversed(item))
            tokens.append("[")
            continue
        leaf = _leaf(item, names)
        if leaf is not None:
            name = item.id if isinstance(item, ast.Name) else item.arg if isinstance(item, ast.arg) else None
            if dictated is not None and name is not None and name not in dictated:
                chosen[len(tokens)] = name
            tokens.append(leaf)
            count += isinstance(item, ast.AST)
            continue
        count += 1
        tokens.append(type(item).__name__ + "(")
        stack.append(")")
        stack.extend(_fields(item, item is statement))
    named = "".join(f"={chosen[i]}=" if i in chosen else token for i, token in enumerate(tokens))
    return "".join(tokens), count, named, frozenset(chosen.values())


def _leaf(item: object, names: dict[str, str]) -> str | None:
    """The token of an item that has no fields to walk (text, a constant, a name, an argument), or None."""
    if isinstance(item, str):
        return item
    if isinstance(item, ast.Name):
        return "n" + names.setdefault(item.id, str(len(names)))
    if isinstance(item, ast.arg):
        return "a" + names.setdefault(item.arg, str(len(names)))
    value = item.value if isinstance(item, ast.Constant) else item
    if isinstance(item, ast.AST) and not isinstance(item, ast.Constant):
        return None
    return repr(value) if isinstance(value, (bool, type(None))) else "C"


def _fields(item: ast.AST, top: bool) -> list[object]:
    """What of a node's fields its shape shows, last first (a stack); a name a definition gives is dropped."""
    named = isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    shown = [(f, v) for f, v in ast.iter_fields(item)
             if not (f in _DROPPED or (top and f in _BODIES) or (f == "name" and named))]
    # attribute and keyword names are what code does, not what it calls things
    return [f"{f}={v}" if isinstance(v, str) else v for f, v in reversed(shown)]


@dataclass(frozen=True)
class _Source:
    where: str  # "gradbook/checks/ch05/answers.py" or "the instructor's solution (cell 7)"
    statements: tuple[Statement, ...]
    # An exercise's answer (the instructor's solution, a check's reference): the chapter's text and template dictate
    # much of its shape, so a student who follows them writes it too; a copy of it is the same code with the names
    # its author chose (`Statement.named`), `MIN_CHOSEN_NAMES` of them. The engine's code is compared by shape alone.
    exercise: bool = False


def _run(student: list[Statement], i: int, source: _Source, j: int) -> tuple[int, int, set[str]]:
    """(syntax nodes, statements, the chosen names it shares) of the run of `student` from i that is `source`'s from
    j; no nodes for an exercise's answer that shares too few chosen names. A statement the student was given counts
    nothing (the source's count is 0 there)."""
    nodes = length = 0
    chosen: set[str] = set()
    while i + length < len(student) and j + length < len(source.statements):
        mine, theirs = student[i + length], source.statements[j + length]
        if mine.shape != theirs.shape or (source.exercise and mine.named != theirs.named):
            break
        nodes += theirs.nodes
        chosen |= theirs.free
        length += 1
    return (nodes if len(chosen) >= MIN_CHOSEN_NAMES or not source.exercise else 0), length, chosen


def _copies(student: list[Statement], index: dict[str, list[tuple[_Source, int]]], budget: list[int] | None = None
            ) -> Iterator[tuple[int, str]]:
    """Runs of the student's statements that are runs of an answer source, `MIN_COPY_NODES` or more; `_Stopped` once
    `budget` (statements compared, shared by the notebook's cells) is spent."""
    budget = budget if budget is not None else [MAX_COMPARED]
    i = 0
    while i < len(student):
        best: tuple[int, int, _Source | None, set[str]] = (0, 0, None, set())  # (nodes, length, source, names)
        for source, j in index.get(student[i].shape, ()):
            nodes, length, chosen = _run(student, i, source, j)
            budget[0] -= length + 1
            if budget[0] < 0:
                raise _Stopped([])
            if nodes > best[0]:
                best = (nodes, length, source, chosen)
        nodes, length, source, chosen = best
        if source is not None and nodes >= MIN_COPY_NODES:
            end = student[i + length - 1].line
            names = f"the names {', '.join(sorted(chosen)[:8])} as its author chose them, other names" if source.exercise \
                else "names"
            yield student[i].line, (f"lines {student[i].line}-{end} are the same code as in {source.where} "
                                    f"({nodes} syntax nodes; {names}, docstrings and constants aside)")
            i += length
        else:
            i += 1


def _index(*groups: tuple[_Source, ...]) -> dict[str, list[tuple[_Source, int]]]:
    index: dict[str, list[tuple[_Source, int]]] = {}
    for sources in groups:
        for source in sources:
            for j, statement in enumerate(source.statements):
                index.setdefault(statement.shape, []).append((source, j))
    return index


def _instructor(source: NotebookNode, dictated: frozenset[str]) -> tuple[_Source, ...]:
    """The instructor's solution cells of this chapter, one source per stretch between the lines the student was
    given with them (a class's methods are separate answers: the given lines between them join no run)."""
    out = []
    for number, cell in enumerate(source.cells):
        if cell.get("cell_type") != "code" or not is_solution(cell):
            continue
        text = str(cell.get("source", ""))
        tree, template = _parse(text), _parse(stub_solution(text))
        if tree is None:
            continue
        given = {s.shape for s in _statements(template)} if template is not None else set()
        stretch: list[Statement] = []
        for statement in [*_statements(tree, dictated), None]:
            if statement is not None and statement.shape not in given:
                stretch.append(statement)
            elif stretch:
                out.append(_Source(f"the instructor's solution (cell {number})", tuple(stretch), exercise=True))
                stretch = []
    return tuple(out)


_WORD = re.compile(r"[^\W\d]\w*")


def _dictated(source: NotebookNode) -> frozenset[str]:
    """The names a chapter gives its students: every word of its text and of the code they receive (a solution
    cell's template, not its answer), and Python's builtins. What other names an answer uses its author chose."""
    words = set(dir(builtins))
    for cell in source.cells:
        text = str(cell.get("source", ""))
        words.update(_WORD.findall(stub_solution(text) if cell.get("cell_type") == "code" and is_solution(cell) else text))
    return frozenset(words)


@lru_cache(maxsize=1)
def _library() -> tuple[_Source, ...]:
    """The library's engine code (the reference engine, the torch path, widgets), module by module (read from its
    files, never imported), compared by shape alone: the chapters do not dictate it."""
    return tuple(_Source(where, statements) for where, statements in _library_statements(_engine_files(), None))


@lru_cache(maxsize=16)
def _answers_halves(dictated: frozenset[str]) -> tuple[_Source, ...]:
    """The chapters' checks' answers halves (references, mistakes, case generators): exercises' answers."""
    return tuple(_Source(where, statements, exercise=True)
                 for where, statements in _library_statements(_answers_files(), dictated))


def _library_statements(files: list[tuple[Path, str]], dictated: frozenset[str] | None
                        ) -> Iterator[tuple[str, tuple[Statement, ...]]]:
    """Each file's statements, what the checks' harness gives students counting nothing."""
    helpers = _helper_shapes()
    for path, where in files:
        tree = _parse_file(path)
        if tree is not None:
            yield where, tuple(s if s.shape not in helpers else Statement(s.shape, 0, s.line, s.named)
                               for s in _statements(tree, dictated))


@lru_cache(maxsize=None)
def _parse_file(path: Path) -> ast.Module | None:
    try:
        return _parse(path.read_text(encoding="utf-8"))
    except OSError:
        return None


def _engine_files() -> list[tuple[Path, str]]:
    files = []
    for name in (*LIBRARY_PACKAGES, *LIBRARY_MODULES):
        spec = importlib.util.find_spec(name)
        if spec is None:
            continue
        if spec.submodule_search_locations:
            for path in sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.py")):
                files.append((path, f"{name.replace('.', '/')}/{path.name}"))
        elif spec.origin:
            files.append((Path(spec.origin), f"{name.replace('.', '/')}.py"))
    return files


def _answers_files() -> list[tuple[Path, str]]:
    """The checks: only the chapters' answers halves are answer code."""
    spec = importlib.util.find_spec("gradbook")
    if spec is None or not spec.origin:
        return []
    root = Path(spec.origin).parent
    return [(path, path.relative_to(root.parent).as_posix()) for path in answer_files(root)]


def _helper_shapes() -> set[str]:
    """What the checks' harness gives students (the shared drivers, the chapters' public halves: `col2im`,
    `build`, ...): copying it is allowed."""
    from gradbook.checks.registry import chapters

    shapes: set[str] = set()
    for name in ["gradbook.checks.drivers", *(f"{c.module}.public" for c in chapters())]:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            spec = None
        tree = _parse(Path(spec.origin).read_text(encoding="utf-8")) if spec and spec.origin else None
        shapes |= {s.shape for s in _statements(tree)} if tree is not None else set()
    return shapes
