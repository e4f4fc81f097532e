"""Build nbgrader source notebooks from Python, for authoring chapters in `solutions/`.

    from tools.nbbuild import Notebook
    nb = Notebook("02-tensor-operations")
    nb.md("# Tensor operations (张量运算)")
    nb.code("import numpy as np")                               # plain, read-only context
    nb.solution("naive-relu", '''
        def naive_relu(x):
            ### BEGIN SOLUTION
            ...
            ### END SOLUTION
        ''')
    nb.tests("test-naive-relu", points=2, source='''
        from gradbook.checks import ch02 as check
        check.naive_relu(naive_relu)
        ### BEGIN HIDDEN TESTS
        check.naive_relu(naive_relu, hidden=True)
        ### END HIDDEN TESTS
        ''')
    nb.write()                                                   # solutions/02-tensor-operations.ipynb

The notebook file is the source of truth once written; this only saves typing the
nbgrader cell metadata by hand. Outputs are never stored.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _meta(grade_id: str, *, solution: bool, grade: bool, locked: bool, points: float | None = None) -> dict:
    meta: dict = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


class Notebook:
    def __init__(self, name: str) -> None:
        self.name = name
        self.nb = new_notebook(metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
        self._ids: set[str] = set()

    def _id(self, grade_id: str) -> str:
        if grade_id in self._ids:
            raise ValueError(f"duplicate grade_id {grade_id!r} in {self.name}")
        self._ids.add(grade_id)
        return grade_id

    def md(self, text: str, *, locked_id: str | None = None) -> None:
        cell = new_markdown_cell(textwrap.dedent(text).strip())
        if locked_id:
            cell.metadata.update(_meta(self._id(locked_id), solution=False, grade=False, locked=True))
        self.nb.cells.append(cell)

    def code(self, source: str) -> None:
        """Context code the student runs but does not edit (not graded, not locked)."""
        self.nb.cells.append(new_code_cell(textwrap.dedent(source).strip()))

    def solution(self, grade_id: str, source: str) -> None:
        """A cell the student fills in; the part between the SOLUTION markers becomes a stub."""
        cell = new_code_cell(textwrap.dedent(source).strip())
        cell.metadata.update(_meta(self._id(grade_id), solution=True, grade=False, locked=False))
        self.nb.cells.append(cell)

    def tests(self, grade_id: str, source: str, *, points: float) -> None:
        """A locked, graded test cell: visible checks, then hidden ones between the HIDDEN markers."""
        cell = new_code_cell(textwrap.dedent(source).strip())
        cell.metadata.update(_meta(self._id(grade_id), solution=False, grade=True, locked=True, points=points))
        self.nb.cells.append(cell)

    def write(self, directory: Path | None = None) -> Path:
        path = (directory or ROOT / "solutions") / f"{self.name}.ipynb"
        nbformat.validate(self.nb)
        nbformat.write(self.nb, path)
        return path
