"""Working through a chapter: Run All goes past unfinished exercises, and the demos never wait on them.

    from gradbook.notebook import start_chapter, tr, yours
    start_chapter()                                  # in each chapter's first cell
    softmax_shown = yours("softmax", check.softmax)  # in a demo cell: the student's, or the library's
    ax.set_title(tr("loss curve"))                   # a label in the student's language (gradbook.i18n)

`start_chapter()` changes one thing about the kernel it runs in. A cell that fails only because
an exercise is not finished yet, that is a check cell (its code starts by importing
`gradbook.checks`) or a cell that raised `NotImplementedError`, still shows its error as
before, but reports to the front end that it finished, so JupyterLab's Run All, and nbclient,
go on to the next cell. So does a cell that fails while it uses what such a cell could not make
(a name that cell assigns, directly or through another waiting cell): it waits on the same
unfinished exercise, and says so in one line. Any other error (a typo, a NameError of a name no
unfinished cell makes, an interrupt) stops Run All as it always did. The error *output* is untouched: nbgrader's Validate button and
autograder, which read the outputs, still count a failing check cell as failing.

`yours(name, exercise)` is the student's `name` when it is done, else the exercise's
reference answer, with one line saying so; demos call it so that an untouched chapter still
shows every explanation, plot and widget.
"""

from __future__ import annotations

import ast
import inspect
import json
import linecache
import os
import symtable
import sys
import types
import warnings
from typing import Any

from gradbook import i18n
from gradbook.checks.core import Exercise
from gradbook.i18n import _, tr  # noqa: F401 - tr: the chapters' cells import it from here
from gradbook.withheld import Withheld

CHECK_IMPORT = "from gradbook.checks import"
_MISSING = object()


# ---------------------------------------------------------------- Run All past unfinished exercises


def is_check_cell(source: str) -> bool:
    """A graded test cell: its first line of code imports the chapter's checks."""
    for line in source.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line.startswith(CHECK_IMPORT)
    return False


def is_unfinished_exercise_error(error: BaseException | None, source: str) -> bool:
    """The errors that must not stop Run All: a failed check, or code that is not written yet."""
    if not isinstance(error, Exception):  # nothing failed, or KeyboardInterrupt / SystemExit: stop
        return False
    return isinstance(error, NotImplementedError) or is_check_cell(source)


_WAITING: set[str] = set()  # names that cells could not make because an exercise is unfinished


def _assigned(source: str) -> set[str]:
    """The module-level names a cell's code binds (assignments, loops, imports, defs), or none if it
    does not parse (IPython magics): what later cells may read from it."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)  # its body's names are its own
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        if not isinstance(node, ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
    return names


def _read(source: str) -> set[str]:
    """Every global name the cell's code reads: at its top level, and in the functions, classes and
    comprehensions it defines (they run in the notebook's globals), but not their own names (parameters,
    locals): ``def layer_norm(x, ...)`` reads no global ``x``, whatever a cell above could not make."""
    now, later = _reads(source)
    return now | later


def _reads(source: str) -> tuple[set[str], set[str]]:
    """(what the cell reads as it runs, at its top level; what the code it defines reads when called): global
    names. What it imports itself is not read from the notebook (an import makes the module again)."""
    try:
        table = symtable.symtable(source, "<cell>", "exec")
    except (SyntaxError, ValueError):
        return set(), set()
    imported = {s.get_name() for s in table.get_symbols() if s.is_imported()}
    now = {s.get_name() for s in table.get_symbols() if s.is_referenced()} - imported
    later: set[str] = set()
    scopes = list(table.get_children())
    while scopes:
        scope = scopes.pop()
        later.update(s.get_name() for s in scope.get_symbols() if s.is_referenced() and s.is_global())
        scopes.extend(scope.get_children())
    return now, later - imported


# ---------------------------------------------------------------- demo cells while grading

# A grading sandbox's library holds no answer of the chapter it grades: those functions raise `Withheld`
# there (`gradbook.withheld`). A cell that is not a check (a Keras model, a widget) and reaches one is not run
# while grading: it prints one line that says so and why, and does not fail; nor do the cells after it that
# use what it could not make. Check cells fail as always: there, reaching a withheld answer is the
# student's mistake. Outside a grading sandbox nothing is withheld and none of this happens.

_WITHHELD: set[str] = set()  # names that cells could not make because they used a withheld answer
_SKIPPED: list[bool] = []  # not empty: `_skip_while_grading` just replaced the cell that runs by its one line


def _not_run_line(reason: str) -> str:
    return "\u24d8 " + _("Not run while grading: {reason}. The grader withholds this chapter's answers from the "
                         "library, so that your own code is what it grades; your grade does not depend on this "
                         "cell, which runs in full in JupyterLab.").format(reason=reason)


def _cell_source(shell: Any, tb: Any) -> str:
    """The source of the notebook cell whose code the traceback ``tb`` starts in ("" if none)."""
    while tb is not None and tb.tb_frame.f_globals is not shell.user_global_ns:
        tb = tb.tb_next
    return "" if tb is None else "".join(linecache.getlines(tb.tb_frame.f_code.co_filename))


def _show_withheld_in(shell: Any) -> None:
    """Add `Withheld` to IPython's custom exceptions (keeping the handler already there, the checks' one for
    NotImplementedError): a cell that is not a check shows one line instead of a traceback."""
    if Withheld in shell.custom_exceptions:
        return
    kinds, shown_before = tuple(shell.custom_exceptions), shell.CustomTB

    def handler(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> list[str]:
        if isinstance(value, Withheld) and not is_check_cell(_cell_source(shell, tb)):
            print(_not_run_line(_("it uses the library's `{name}`, one of this chapter's answers").format(
                name=value.path)))
            return []
        if kinds and isinstance(value, kinds):
            return shown_before(etype, value, tb, tb_offset)
        shell._showtraceback(etype, value, shell.InteractiveTB.structured_traceback(etype, value, tb,
                                                                                     tb_offset=tb_offset))
        return []

    shell.set_custom_exc((*kinds, Withheld), handler)


def _skip_while_grading(lines: list[str]) -> list[str]:
    """IPython input transformer: a cell that reads what a withheld cell could not make only prints why it is not run."""
    if not _WITHHELD:
        return lines
    source = "".join(lines)
    now, later = _reads(source)
    names = sorted(now & _WITHHELD)
    if is_check_cell(source):
        return lines
    if not names:  # it runs: its functions are made (a solution's); those that use what is missing are not usable
        if later & _WITHHELD:
            _WITHHELD.update(_assigned(source))
        return lines
    _WITHHELD.update(_assigned(source))
    _SKIPPED[:] = [True]  # `_keep_going` sees it end "ok": what it would have made is still missing
    reason = _("it uses {names}, which a cell above could not make while grading").format(
        names=", ".join(f"`{name}`" for name in names))
    return [f"print({_not_run_line(reason)!r})\n"]


def _not_made(source: str, error: BaseException) -> set[str]:
    """What a cell that raised `error` did not make: the names it binds that its top-level statements from the one that
    raised on mention at all (bound there, or filled there: ``trained[name] = model`` in the loop that failed). The
    statements before it ran, and what only they bind is made (an import, a constant)."""
    line = _failed_line(error)
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    rest = [n for n in tree.body if (n.end_lineno or n.lineno) >= line]
    return _assigned(source) & {n.id for s in rest for n in ast.walk(s) if isinstance(n, ast.Name)}


def _failed_line(error: BaseException) -> int:
    """The line of the cell's own top level that raised `error` (0 if none is found: then all of it failed)."""
    tb = error.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_name != "<module>":
        tb = tb.tb_next
    return tb.tb_lineno if tb is not None else 0


def _keep_going(result: Any) -> None:
    """IPython's post_run_cell hook: runs before ipykernel turns the result into its reply."""
    info = getattr(result, "info", None)
    if result is None or info is None:
        return
    error, source = result.error_in_exec, info.raw_cell or ""
    if isinstance(error, Withheld) and not is_check_cell(source):  # shown as one line (`_show_withheld_in`)
        _WITHHELD.update(_not_made(source, error))
        result.error_in_exec = None
        return
    if error is None:
        if _SKIPPED:  # not run (`_skip_while_grading`): it made nothing
            _SKIPPED.clear()
            return
        if _WITHHELD and not (_reads(source)[1] & _WITHHELD):
            _WITHHELD.difference_update(_assigned(source))  # made again, by code that needs nothing withheld
        if _WAITING:  # parse only while something waits: most cells of most runs never pay for it
            _WAITING.difference_update(_assigned(source))  # made now: no longer waiting
        return
    waits_on = sorted(_read(source) & _WAITING) if isinstance(error, Exception) else []
    if is_unfinished_exercise_error(error, source) or waits_on:
        _WAITING.update(_assigned(source))  # what this cell did not make, later cells wait for too
        result.error_in_exec = None  # the reply says "ok": the kernel does not abort the queued cells
        if waits_on and not is_unfinished_exercise_error(error, source):
            print(_("This cell waits on an unfinished exercise: it uses {names}, which a cell above could not "
                    "make yet. Run it again once that exercise is done.").format(
                        names=", ".join(f"`{name}`" for name in waits_on)))


def start_chapter(language: str | None = None) -> None:
    """Set up this kernel for working through a chapter (see the module docstring); safe to run twice.

    It also speaks the notebook's language: `release` writes a translated chapter's language into
    this call (``start_chapter(language="zh_CN")``, from the notebook's `metadata.gradbook.language`),
    so the chapter speaks it wherever it runs (JupyterLab, nbclient, nbconvert, the grader). Without
    one, the language comes from the file the kernel was started for, where Jupyter says which
    ($JPY_SESSION_NAME); then plots get the fonts that language needs."""
    from gradbook.datasets.mnist import MNISTFallbackWarning

    if language is None:
        language = notebook_file_language(os.environ.get("JPY_SESSION_NAME", ""))
    if language is not None:
        i18n.set_language(language)
    i18n.plot_font()

    # The offline-data notice is printed as one line; its technical details stay out of the notebook.
    warnings.filterwarnings("ignore", category=MNISTFallbackWarning)
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    callbacks = shell.events.callbacks["post_run_cell"]
    for callback in [c for c in callbacks if getattr(c, "__qualname__", "") == _keep_going.__qualname__]:
        shell.events.unregister("post_run_cell", callback)  # a re-run of the first cell, or a reloaded module
    shell.events.register("post_run_cell", _keep_going)
    _show_withheld_in(shell)
    if _skip_while_grading not in shell.input_transformers_post:
        shell.input_transformers_post.append(_skip_while_grading)


# ---------------------------------------------------------------- the student's answer, or the library's


def _names(code: types.CodeType) -> set[str]:
    """The global names the code (and every function, lambda or comprehension inside it) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names(const)
    return names


def _function_of(attribute: Any) -> types.FunctionType | None:
    if isinstance(attribute, (staticmethod, classmethod)):
        attribute = attribute.__func__
    if isinstance(attribute, property):
        attribute = attribute.fget
    return attribute if isinstance(attribute, types.FunctionType) else None


def _functions(value: Any) -> list[tuple[str, types.FunctionType]]:
    """(label, function) for a function, or for each method of a class (not `object`'s)."""
    if isinstance(value, types.FunctionType):
        return [(value.__name__, value)]
    if inspect.isclass(value):
        return [(f"{value.__name__}.{name}", function) for cls in value.__mro__[:-1]
                for name, attribute in vars(cls).items() if (function := _function_of(attribute)) is not None]
    return []


def _stub_in(value: Any, seen: set[int]) -> str | None:
    """The first function in `value`, or in the notebook's own functions and classes it uses, that
    still raises NotImplementedError (as label), or None."""
    for label, function in _functions(value):
        if id(function) in seen:
            continue
        seen.add(id(function))
        names = _names(function.__code__)
        if "NotImplementedError" in names:
            return label
        for name in sorted(names):  # follow what it calls, but only what this notebook defined
            used = function.__globals__.get(name)
            defined_here = any(f.__globals__ is function.__globals__ for _, f in _functions(used))
            if defined_here and (stub := _stub_in(used, seen)):
                return stub
    return None


def unfinished(value: Any) -> str | None:
    """Why `value` is not a finished answer yet (as the notebook's stubs leave it), or None if it is."""
    if value is _MISSING:
        return _("not defined yet")
    if value is None:
        return _("still None")
    if isinstance(value, types.FunctionType) or inspect.isclass(value):
        stub = _stub_in(value, set())
        if stub is None:
            return None
        own = stub == getattr(value, "__name__", None)
        return _("it still raises NotImplementedError") if own else _("`{name}` still raises NotImplementedError").format(
            name=stub)
    items = value.values() if isinstance(value, dict) else value if isinstance(value, (tuple, list)) else ()
    return next((reason for reason in map(unfinished, items) if reason), None)


def yours(names: str | tuple[str, ...], exercise: Exercise, namespace: dict[str, Any] | None = None) -> Any:
    """The notebook's `names` (one name, or a tuple of names for a tuple of values) when finished,
    else `exercise`'s reference answer, saying so in one line. Never rebinds the student's names,
    so their own cells and checks keep seeing their own code."""
    space = namespace if namespace is not None else sys._getframe(1).f_globals
    single = isinstance(names, str)
    value = space.get(names, _MISSING) if single else tuple(space.get(n, _MISSING) for n in names)
    reason = unfinished(value)
    if reason is None:
        return value
    shown = f"`{names}`" if single else ", ".join(f"`{n}`" for n in names)
    print("\u24d8 " + _("your {names} isn't done yet ({reason}), so this cell uses the library's: finish exercise "
                        "`{title}` and run this cell again to see yours.").format(names=shown, reason=reason,
                                                                                 title=exercise.title))
    reference = getattr(exercise, "reference", None)
    if reference is None:  # while graded, the check is a stand-in (`checks.ask.GradedOutside`): no answer in the sandbox
        raise Withheld(_("the answer to {title} is not available while it is graded: write your own").format(
            title=exercise.title), f"gradbook.checks.{exercise.name}")
    return reference() if exercise.value else reference


def notebook_file_language(path: str) -> str | None:
    """The language a notebook file declares in its metadata, or None (no such file, no language)."""
    if not path.endswith(".ipynb"):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            metadata = json.load(handle).get("metadata")
    except (OSError, ValueError, AttributeError):
        return None
    return i18n.notebook_language(metadata if isinstance(metadata, dict) else None)


__all__ = ["is_check_cell", "is_unfinished_exercise_error", "notebook_file_language", "start_chapter", "tr",
           "unfinished", "yours"]
