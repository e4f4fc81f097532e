"""How a check's verdict reaches the student: a ✔ line, or a ✘ panel and a failed cell.

A check that passes prints one line, ``✔ naive_relu: 3 cases passed``. A check that
fails raises `CheckFailed` (an `AssertionError`, so nbgrader's Validate and autograde see
a failed cell) whose text is the lesson. Inside IPython the lesson is first shown as a
panel (HTML in JupyterLab, text in a terminal) and the exception's traceback, which
would only show the checker's own code, is replaced by one line through IPython's
``_render_traceback_`` hook. A stub's bare ``raise NotImplementedError()`` at the top of a
cell gets the same friendly "not implemented yet" line through a custom exception
handler, installed when `gradbook.checks` is imported inside IPython.
"""

from __future__ import annotations

import html
import os
import re
import sys
from typing import Any, Protocol

import numpy as np

from gradbook.checks.drivers import NOT_IMPLEMENTED
from gradbook.i18n import _
RED, BOLD, RESET = "\x1b[31m", "\x1b[1m", "\x1b[0m"
_PANEL = (
    "border-left: 4px solid {edge}; background: {back}; color: #1f1f1f; padding: 6px 12px; margin: 4px 0; "
    "font-family: var(--jp-content-font-family, sans-serif); font-size: var(--jp-content-font-size1, 14px); "
    "line-height: 1.45"
)
_FAILED = {"edge": "#c62828", "back": "#fdecea"}
_TODO = {"edge": "#ef6c00", "back": "#fff3e0"}


class VerdictLike(Protocol):
    passed: bool
    cases: int
    message: str


class CheckFailed(AssertionError):
    """A check that did not pass; ``str()`` is the lesson, as in the grader's feedback."""

    def __init__(self, message: str, title: str = "", *, shown: bool = False) -> None:
        super().__init__(message)
        self.title = title
        self.shown = shown  # the panel is already on screen: the traceback only has to say so

    def _render_traceback_(self) -> list[str]:
        """IPython's hook: what the student sees instead of a traceback through the checker.

        Where the panel is on a person's screen, one line that points at it; where only the error is read
        (nbgrader's Validate lists each failing cell's traceback, and nothing else), the whole lesson."""
        if self.shown and _panel_is_read():
            said = _("{title}: not accepted yet (what is wrong is shown above)").format(title=f"{self.title}{RESET}{RED}")
            return [f"{RED}{BOLD}✘ {said}{RESET}"]
        return [f"{RED}{line}{RESET}" for line in text_panel(str(self)).splitlines()]


def hint(text: str) -> str:
    """A hint's line in a lesson: ``Hint: ...`` (translated; `text` is already in the student's language)."""
    return _("Hint: {hint}").format(hint=text)


def hint_label() -> str:
    """``Hint:`` in the current language: how a hint's line begins."""
    return _("Hint: {hint}").split("{hint}")[0].rstrip()


def is_hint(line: str) -> bool:
    return line.startswith(hint_label())


def not_implemented() -> str:
    """The "not implemented yet" line, translated (`NOT_IMPLEMENTED` is its English text on the wire)."""
    return _(NOT_IMPLEMENTED)


def passed_line(title: str, message: str) -> str:
    return f"\u2714 {title}: {message}"


def text_panel(message: str) -> str:
    return f"\u2718 {message}"


def html_panel(message: str) -> str:
    """The lesson as an HTML panel: the first line as a heading, indented blocks as code, hints set apart."""
    first, *rest = message.splitlines() or [""]
    colours = _TODO if NOT_IMPLEMENTED in message or not_implemented() in message else _FAILED
    parts = [f'<div style="font-weight: 600; color: {colours["edge"]}">\u2718 {_inline(first)}</div>']
    block: list[str] = []
    for line in rest + [""]:
        if line.startswith("  "):
            block.append(line)
            continue
        if block:
            parts.append(f'<pre style="margin: 4px 0; background: none; color: inherit">{html.escape(_dedent(block))}</pre>')
            block = []
        if is_hint(line):
            label = hint_label()
            parts.append(f'<div style="margin-top: 4px"><b>{html.escape(label)}</b>{_inline(line[len(label):])}</div>')
        elif line.strip():
            parts.append(f"<div>{_inline(line)}</div>")
    style = _PANEL.format(**colours)
    return f'<div class="gb-check gb-check-failed" style="{style}">{"".join(parts)}</div>'


def report(title: str, verdict: VerdictLike, *, quiet: bool = False) -> None:
    """Show a verdict: print the ✔ line, or show the panel and raise `CheckFailed`."""
    if verdict.passed:
        if not quiet:
            print(passed_line(title, verdict.message))
        return
    shown = show_panel(verdict.message)
    raise CheckFailed(verdict.message, title, shown=shown)


def show_panel(message: str) -> bool:
    """Display the ✘ panel when running inside IPython; False elsewhere (the exception carries the text)."""
    if _shell() is None:
        return False
    from IPython.display import display

    display({"text/plain": text_panel(message), "text/html": html_panel(message)}, raw=True)
    return True


def install_in_ipython() -> None:
    """Inside IPython, show a stub's bare ``raise NotImplementedError()`` as "not implemented yet"."""
    shell = _shell()
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return
    if shell.custom_exceptions not in ((), (NotImplementedError,)):
        return  # someone else's handler: leave it
    shell.set_custom_exc((NotImplementedError,), _not_implemented)


def _not_implemented(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: int | None = None) -> list[str]:
    """IPython custom exception handler: the friendly line for a student's stub, the usual traceback otherwise.

    IPython records the exception (the cell fails) but leaves showing it to the handler, so it is
    shown here through the shell's own `_showtraceback`: the kernel sends it as the cell's error."""
    if _raised_in_notebook(shell, tb):
        stb = [f"{RED}\u2718 {not_implemented()}{RESET}"]
    else:
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
    shell._showtraceback(etype, value, stb)
    return []


def _raised_in_notebook(shell: Any, tb: Any) -> bool:
    """The innermost frame runs code written in the notebook (a cell, or a function a cell defined)."""
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    return tb.tb_frame.f_globals is shell.user_global_ns


def show_value(value: Any) -> str:
    """A small value in full, as numpy prints it (several lines for a matrix)."""
    if isinstance(value, np.ndarray):
        return np.array2string(value, precision=4, suppress_small=True, separator=", ", max_line_width=72)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, tuple) and value:
        return "(" + ", ".join(show_value(v) for v in value) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list) and value:
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {show_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def number(value: float) -> str:
    """A float as Python writes it when that is short (``1.0``, ``0.125``), else to six significant digits."""
    text = repr(value)
    return text if len(text) <= 9 else f"{value:.6g}"


def _panel_is_read() -> bool:
    """Does a person's front end show this cell's display outputs? In a kernel, its execute request says so:
    JupyterLab's notebook allows input, while every headless client (nbgrader's validate and autograde run the
    notebook through nbclient) never does. NBGRADER_EXECUTION, which nbgrader sets for its runs, is read only
    outside a kernel: nbgrader sets it in the process that runs Validate (`nbgrader.utils.setenv`, with no
    try/finally), so a Validate that raised inside a JupyterLab server leaves it set for every kernel the
    server starts later, where it would say nothing true."""
    kernel = getattr(_shell(), "kernel", None)
    if kernel is not None:
        return bool(getattr(kernel, "_allow_stdin", True))
    return not os.environ.get("NBGRADER_EXECUTION")


def _shell() -> Any:
    """The running IPython shell, or None; never imports IPython when it is not already loaded."""
    ipython = sys.modules.get("IPython")
    get = getattr(ipython, "get_ipython", None)
    return get() if get else None


def _inline(text: str) -> str:
    """Escape HTML; `code` in backticks becomes <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def _dedent(lines: list[str]) -> str:
    indent = min((len(line) - len(line.lstrip()) for line in lines if line.strip()), default=0)
    return "\n".join(line[indent:] for line in lines)
