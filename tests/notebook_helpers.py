"""Shared by the chapter tests: read a solution notebook, run it in a fresh kernel, and the checks
made of each chapter's solution notebook and of its untouched student version."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

from gradbook.checks import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
CHECK_CALL = re.compile(r"^check\.(\w+)\((.*)\)$")


def nbgrader(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def load(name: str) -> nbformat.NotebookNode:
    """The solution notebook solutions/<name>.ipynb."""
    return nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4)


def graded_cells(nb: nbformat.NotebookNode) -> list:
    """The autograded (test) cells; a written answer (graded and a solution) is a person's to grade."""
    return [cell for cell in nb.cells if nbgrader(cell).get("grade") and not nbgrader(cell).get("solution")]


def execute(nb: nbformat.NotebookNode, *, allow_errors: bool) -> float:
    """Run the notebook in a fresh python3 kernel (this venv's ipykernel) from solutions/; the seconds it took."""
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", allow_errors=allow_errors, resources={"metadata": {"path": str(SOLUTIONS)}}
    )
    start = time.perf_counter()
    client.execute()
    return time.perf_counter() - start


def errors(cell: nbformat.NotebookNode) -> list:
    """The cell's error outputs (each has .ename and .evalue)."""
    return [out for out in cell.get("outputs", []) if out.output_type == "error"]


def output_text(cell: nbformat.NotebookNode) -> str:
    """Everything the cell printed or raised, as text (streams, plain-text results, error values)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}")
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


# --- chapters 3-8: every graded cell calls one exercise's checks, visible and hidden ----------


def check_calls(text: str) -> list[re.Match | None]:
    lines = [line.strip() for line in text.splitlines()]
    return [CHECK_CALL.match(line) for line in lines if line and not line.startswith(("from ", "#"))]


def assert_each_exercise_graded_once(chapter: str, name: str) -> None:
    """solutions/<name>.ipynb grades each of the chapter's exercises in exactly one locked cell."""
    nb = load(name)
    exercises = sorted(exercise.split(".")[1] for exercise in REGISTRY if exercise.startswith(chapter + "."))
    graded = []
    for cell in graded_cells(nb):
        meta = cell.metadata["nbgrader"]
        assert meta["locked"] and meta["points"] > 0 and not meta["solution"], meta
        assert "assert " not in cell.source and not cell.get("outputs"), "checks only, no stored outputs"
        visible, rest = cell.source.split("### BEGIN HIDDEN TESTS")
        hidden, after = rest.split("### END HIDDEN TESTS")
        assert f"from gradbook.checks import {chapter} as check" in visible and not after.strip()
        visible_calls, hidden_calls = check_calls(visible), check_calls(hidden)
        assert visible_calls and hidden_calls and all(visible_calls + hidden_calls), f"checks only:\n{cell.source}"
        assert all("hidden=True" not in m.group(2) for m in visible_calls)
        assert all(m.group(2).endswith(", hidden=True") for m in hidden_calls)
        names = {m.group(1) for m in visible_calls + hidden_calls}
        assert len(names) == 1, names
        graded.append(names.pop())
    assert sorted(graded) == exercises, "each exercise of the chapter is graded exactly once"


def assert_solution_runs_and_learns(name: str, least: dict[str, float], record_property) -> None:
    """Run solutions/<name>.ipynb: every graded cell prints a passing check, and each expression
    in `least` (evaluated in the kernel at the end) reaches at least its value."""
    nb = load(name)
    exprs = sorted(least)
    nb.cells.append(new_code_cell("import json; print(json.dumps({%s}))" % ", ".join(f"{e!r}: float({e})" for e in exprs)))
    seconds = execute(nb, allow_errors=False)
    # A kernel may send one print as several stream messages (the text, then its newline): join them.
    stdout = "".join(out.get("text", "") for out in nb.cells[-1].outputs if out.get("name") == "stdout")
    reached = json.loads(stdout)
    record_property("seconds", round(seconds, 2))
    record_property("accuracies", reached)
    print(f"\n{name}.ipynb: executed in {seconds:.1f} s; accuracies {reached}")
    for cell in graded_cells(nb):
        assert "\u2714" in "".join(out.get("text", "") for out in cell.outputs), cell.source
    stand_ins = [cell.source for cell in nb.cells if "isn't done yet" in output_text(cell)]
    assert not stand_ins, f"a finished chapter's demos must use its own answers:\n{stand_ins}"
    for expr, value in least.items():
        assert reached[expr] >= value, f"{expr} = {reached[expr]:.3f}, expected at least {value}"


def assert_untouched_chapter_ran(nb: nbformat.NotebookNode, name: str, *, demos_say_so: bool) -> None:
    """`nb`, a chapter as students receive it, was run untouched as JupyterLab's Run All runs it (stopping at
    the first cell whose reply is an error): it reached its last code cell, every graded cell failed with
    "not implemented yet" (nbgrader reads that error output; a value never assigned is a NameError), and,
    where `demos_say_so`, its demos said that they cannot use the student's answers ("isn't done yet")."""
    assert "### BEGIN SOLUTION" not in "".join(cell.source for cell in nb.cells), name
    graded = graded_cells(nb)
    assert graded, f"{name} has no graded cell"
    for cell in graded:
        assert errors(cell), f"{name}: this graded cell passed in the unfilled notebook:\n{cell.source}"
        text = output_text(cell)
        assert "not implemented yet" in text or "NameError" in text, f"{name}: {text}"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code[-1].get("execution_count") is not None, f"{name}: Run All stopped before its last cell"
    if demos_say_so:
        notes = [output_text(cell) for cell in code if "isn't done yet" in output_text(cell)]
        assert notes, f"{name}: an untouched chapter's demos say that they cannot use the student's answers"
