"""Integrity evidence: answers that call or copy the library's reference or check code.

The library students use contains answers (the engine's `softmax`, `Conv2D`, optimisers; the
checks' references, in the student's own kernel). Using them can be legitimate in a demo and is
copying in an exercise; a person decides. This module only gathers evidence, statically, from
the code the student wrote (solution cells and their own cells; the instructor's cells are
recognised by their text and skipped):

* imports of the answer-bearing modules, however spelled (`from gradbook import reference`,
  `import gradbook.reference.activations as a`, `gradbook.reference...` through an alias);
* strings that name them (a module written to disk, an import built from text);
* dynamic code that could hide either (`exec`, `eval`, `compile`, `__import__`, `importlib`,
  `sys.modules`, `getattr` on the library with a computed name);
* reaching into a check (`check.softmax.reference`, `.mistakes`, `.cases`);
* torch in a solution cell (the exercises are NumPy);
* pasted code: a docstring or comments of the library's or the checks' code, or a long function
  or class whose code is the same as one of theirs (names aside). Short ones are not compared:
  the natural way to write `relu` or `softmax` looks like the reference's by necessity.

Every line of evidence says which cell, which line and what; the score is never changed.
"""

from __future__ import annotations

import ast
import importlib.util
import io
import re
import tokenize
from functools import lru_cache
from pathlib import Path

from nbformat import NotebookNode

from gradbook_grader.nbcells import is_solution, is_test_cell
from gradbook_grader.answers import ANSWER_MODULE

ANSWER_MODULES = (
    "gradbook.reference", "gradbook.checks", "gradbook.torch_path", "gradbook.activations",
    "gradbook.losses", "gradbook.layers", "gradbook.optimizers", "gradbook.models", "gradbook_grader",
)
CHECK_INTERNALS = {"reference", "mistakes", "cases", "make_cases", "compare", "REGISTRY", "load_all"}
DYNAMIC_CALLS = {"exec", "eval", "compile", "__import__"}
_NAMED = re.compile(r"gradbook[./\\](reference|checks|torch_path|activations|losses|layers|optimizers|models)|gradbook_grader")
_CHECKS_IMPORT = re.compile(r"gradbook\.checks\.ch\d\d")
MIN_COPY_NODES = 100  # smaller functions look alike by necessity (softmax is ~50 nodes)
MIN_TEXT = 20  # a docstring or comment shorter than this proves nothing
MAX_EVIDENCE = 20


def scan(nb: NotebookNode, source: NotebookNode) -> list[str]:
    """Evidence lines for the instructor (empty when there is nothing to look at)."""
    given = {_norm(c.source) for c in source.cells if c.get("cell_type") == "code"}
    evidence: list[str] = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        text = cell.get("source", "")
        if not is_solution(cell) and _norm(text) in given:
            continue  # the instructor's own cell, unchanged
        where = f"cell {index}" + (" (a solution cell)" if is_solution(cell) else " (the student's own cell)")
        evidence.extend(_scan_cell(text, where, is_solution(cell)))
        if len(evidence) >= MAX_EVIDENCE:
            return evidence[:MAX_EVIDENCE] + ["... and more"]
    return evidence


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _python(text: str) -> str:
    """IPython's magics and shell escapes as `pass`, so the rest parses."""
    return "\n".join("pass" if line.lstrip().startswith(("%", "!")) else line for line in text.splitlines())


def _scan_cell(text: str, where: str, solution: bool) -> list[str]:
    try:
        tree = ast.parse(_python(text))
    except (SyntaxError, ValueError, RecursionError):
        return [f"{where}: does not parse, so it was not analysed"] if _NAMED.search(text) else []
    found: list[str] = []
    library_names: set[str] = set()  # local names bound to the gradbook package or its modules

    def say(node: ast.AST, what: str) -> None:
        line = getattr(node, "lineno", 0)
        snippet = (ast.get_source_segment(text, node) or "").splitlines()[0][:80] if hasattr(node, "lineno") else ""
        found.append(f"{where}, line {line}: {what}" + (f": {snippet!r}" if snippet else ""))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _answer_module(alias.name):
                    say(node, f"imports {alias.name}")
                if alias.name.split(".")[0] in ("gradbook", "gradbook_grader"):
                    library_names.add(alias.asname or alias.name.split(".")[0])
                if solution and alias.name.split(".")[0] == "torch":
                    say(node, "uses torch in a solution cell (the exercise is to write it in NumPy)")
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if _CHECKS_IMPORT.fullmatch(full):
                    continue  # the checks a test cell runs: innocent in a student's own cell
                if _answer_module(node.module) or _answer_module(full):
                    say(node, f"imports {full}")
                if node.module in ("gradbook", "gradbook_grader"):
                    library_names.add(alias.asname or alias.name)
            if solution and node.module.split(".")[0] == "torch":
                say(node, "uses torch in a solution cell (the exercise is to write it in NumPy)")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _NAMED.search(node.value):
            say(node, "a string names the library's answer code")
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            if name in DYNAMIC_CALLS or name.startswith(("importlib.", "import_module")):
                say(node, f"dynamic code ({name}) can hide what it imports")
            elif (name == "getattr" and len(node.args) >= 2 and not isinstance(node.args[1], ast.Constant)
                  and isinstance(node.args[0], ast.Name) and node.args[0].id in library_names):
                say(node, "getattr with a computed name on the library")
        elif isinstance(node, ast.Attribute):
            if node.attr in CHECK_INTERNALS:
                say(node, f"reaches into a check (.{node.attr})")
            elif node.attr == "modules" and isinstance(node.value, ast.Name) and node.value.id == "sys":
                say(node, "reads sys.modules (can reach any loaded module)")
            elif _attribute_path(node).split(".")[0] in library_names and _answer_module(_attribute_path(node)):
                say(node, f"uses {_attribute_path(node)}")
    found.extend(_copies(tree, text, where))
    return _dedupe(found)


def _answer_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in ANSWER_MODULES)


def _call_name(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return _attribute_path(func)
    return ""


def _attribute_path(node: ast.AST) -> str:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _dedupe(lines: list[str]) -> list[str]:
    seen: set[str] = set()
    return [line for line in lines if not (line in seen or seen.add(line))]  # type: ignore[func-returns-value]


# --- copies ---------------------------------------------------------------------------------


def _copies(tree: ast.AST, text: str, where: str) -> list[str]:
    shapes, texts = _library_code()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            shape = _shape(node)
            if shape is not None and shape in shapes:
                found.append(f"{where}, line {node.lineno}: `{node.name}` has the same code as {shapes[shape]} (names aside)")
    for line, words in _texts(text, tree):
        if words in texts:
            found.append(f"{where}, line {line}: the same text as in {texts[words]}: {words[:60]!r}")
    return found


def _texts(text: str, tree: ast.AST) -> list[tuple[int, str]]:
    """Docstrings and comments (whitespace normalised) long enough to say where code came from."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and len(doc) >= MIN_TEXT:
                found.append((node.lineno, " ".join(doc.split())))
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                words = " ".join(token.string.lstrip("#").split())
                if len(words) >= MIN_TEXT:
                    found.append((token.start[0], words))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return found


def _shape(node: ast.AST) -> str | None:
    """The code of a function or class with its names, docstring and annotations taken out."""
    if sum(1 for _ in ast.walk(node)) < MIN_COPY_NODES:
        return None
    names: dict[str, str] = {}

    def rename(name: str) -> str:
        return names.setdefault(name, f"v{len(names)}")

    class Strip(ast.NodeTransformer):
        def visit_Name(self, n: ast.Name) -> ast.AST:
            return ast.Name(id=rename(n.id), ctx=n.ctx)

        def visit_arg(self, n: ast.arg) -> ast.AST:
            return ast.arg(arg=rename(n.arg), annotation=None)

        def visit_FunctionDef(self, n: ast.FunctionDef) -> ast.AST:
            n.name, n.returns, n.decorator_list = "f", None, []
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(getattr(n.body[0], "value", None), ast.Constant):
                n.body = n.body[1:] or [ast.Pass()]
            self.generic_visit(n)
            return n

        def visit_ClassDef(self, n: ast.ClassDef) -> ast.AST:
            n.name = "C"
            if n.body and isinstance(n.body[0], ast.Expr) and isinstance(getattr(n.body[0], "value", None), ast.Constant):
                n.body = n.body[1:] or [ast.Pass()]
            self.generic_visit(n)
            return n

    copy = ast.parse(ast.unparse(node)).body[0]
    return ast.dump(Strip().visit(copy), annotate_fields=False, include_attributes=False)


@lru_cache(maxsize=1)
def _library_code() -> tuple[dict[str, str], dict[str, str]]:
    """Shapes and texts (docstrings, comments) of the answer-bearing code -> "gradbook/…/file.py `name`"."""
    shapes: dict[str, str] = {}
    texts: dict[str, str] = {}
    for package in ("gradbook.checks", "gradbook.reference"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for path in sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.py")):
            if package == "gradbook.checks" and not ANSWER_MODULE.fullmatch(path.name):
                continue  # no answers there (the sandbox has these modules); the notebooks share their text
            try:
                code = path.read_text(encoding="utf-8")
                tree = ast.parse(code)
            except (OSError, SyntaxError):
                continue
            where = f"{package.replace('.', '/')}/{path.name}"
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    shape = _shape(node)
                    if shape is not None:
                        shapes.setdefault(shape, f"{where} `{node.name}`")
            for _, words in _texts(code, tree):
                texts.setdefault(words, where)
    return shapes, texts
