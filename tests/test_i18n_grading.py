"""A Chinese submission and an English submission of the same answers get the same grade, through the
sandboxed grader; the Chinese one's verdicts and its notebook's own messages are in Chinese, and its
own Markdown is kept."""

from __future__ import annotations

import re

import nbformat
import pytest

from conftest import ROOT
from gradbook_grader import comments
from gradbook_grader.execute import grade_submission
from gradbook_grader.types import Limits
from gradbook_grader.questions import static_manifest
from test_sandbox import needs_bwrap

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

CH00 = "00-what-is-deep-learning"
LIMITS = Limits(cell_timeout=60, total_timeout=300, memory_mb=2048)
SEED = 20_240_601
SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)
# mse_loss sums instead of averaging (a listed mistake, whose hint the verdict names); train is left as the
# stub, so the notebook's own demo cells say that it is not done yet (printed inside the sandbox).
WRONG_LOSS = "import numpy as np\n\ndef mse_loss(y_pred, y):\n    return np.sum((y_pred - y) ** 2)\n"
OWN_NOTE = "我的笔记：先做 predict，再做 train。<b>x < y</b>"  # the student's own cell, with raw HTML


# A comment in a locked test cell, as an author may write one; the Chinese release translates it
# (gradbook_grader.translate), and the grader restores the cell from the English source.
TEST_COMMENT = {"every case of the table, then random ones": "先查表中的每个用例，再查随机的用例"}


def submission(folder: str, solved: tuple[str, ...] = ("predict", "gradients"), wrong_loss: bool = True,
               ) -> nbformat.NotebookNode:
    """The released notebook of `folder` (notebooks/ or notebooks/zh_CN/) answered alike."""
    source = nbformat.read(ROOT / "solutions" / f"{CH00}.ipynb", as_version=4)
    model = {c.metadata.nbgrader.grade_id: SOLUTION.sub("", c.source)
             for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(ROOT / folder / f"{CH00}.ipynb", as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in solved:
            cell.source = model[gid]
        elif gid == "mse-loss" and wrong_loss:
            cell.source = WRONG_LOSS
    return nb


def with_test_comment(nb: nbformat.NotebookNode, translations: dict[str, str] | None = None) -> nbformat.NotebookNode:
    """`nb` whose first test cell starts with TEST_COMMENT's comment, in English or translated."""
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test-predict")
    cell.source = comments.replace(f"# {next(iter(TEST_COMMENT))}\n{cell.source}", translations or {})
    return nb


@pytest.fixture(scope="module")
def grades() -> dict:
    needs_bwrap()
    source = nbformat.read(ROOT / "solutions" / f"{CH00}.ipynb", as_version=4)
    manifest = static_manifest(source)
    english, chinese = submission("notebooks"), submission("notebooks/zh_CN")
    chinese.cells.insert(1, nbformat.v4.new_markdown_cell(OWN_NOTE))
    grades = {language: grade_submission(nb, source, manifest, limits=LIMITS, seed=SEED, sandbox_mode="bwrap")
              for language, nb in (("en", english), ("zh", chinese))}
    # the whole solution, in the Chinese release whose test cell has a translated comment, left untouched
    solved = with_test_comment(submission("notebooks/zh_CN", ("predict", "mse-loss", "gradients", "train"), False),
                               TEST_COMMENT)
    commented = with_test_comment(source)
    grades["zh-solved"] = grade_submission(solved, commented, static_manifest(commented), limits=LIMITS, seed=SEED,
                                           sandbox_mode="bwrap")
    return grades


def test_the_same_answers_get_the_same_grade_in_either_language(grades: dict) -> None:
    english, chinese = grades["en"], grades["zh"]
    assert english.error is None and chinese.error is None and english.sandboxed and chinese.sandboxed
    assert {g: (c.points, c.max_points, c.passed) for g, c in english.cells.items()} == {
        g: (c.points, c.max_points, c.passed) for g, c in chinese.cells.items()}
    assert (chinese.score, chinese.max_score) == (english.score, english.max_score)
    passed = {g for g, c in english.cells.items() if c.passed}
    assert passed == {"test-predict", "test-gradients"}, {g: c.message for g, c in english.cells.items()}
    assert chinese.integrity == english.integrity == []


def test_the_solution_in_chinese_gets_full_marks_and_its_translated_test_cell_is_not_tampering(grades: dict) -> None:
    solved = grades["zh-solved"]
    assert solved.error is None and solved.sandboxed and solved.integrity == [] and not any(
        "tamper" in e or "edited" in e for e in solved.events), solved.events
    assert solved.max_score == 6 and solved.score == solved.max_score, {g: c.message for g, c in solved.cells.items()}
    graded = next(c for c in solved.notebook.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test-predict")
    assert graded.source.startswith(f"# {next(iter(TEST_COMMENT))}\n")  # restored from the English source


def test_each_verdict_is_in_its_submissions_language(grades: dict) -> None:
    english, chinese = grades["en"].cells, grades["zh"].cells
    assert english["test-mse-loss"].message.startswith("mse_loss is not right yet")
    assert "Hint: this is the sum of the squared errors" in english["test-mse-loss"].message
    assert chinese["test-mse-loss"].message.startswith("mse_loss 还不对")
    assert "提示：这是误差平方和" in chinese["test-mse-loss"].message and "期望" in chinese["test-mse-loss"].message
    assert "not implemented yet" in english["test-train"].message
    assert "还没有实现" in chinese["test-train"].message
    assert "个用例全部通过" in chinese["test-predict"].message and "cases passed" in english["test-predict"].message


def test_the_chinese_notebook_keeps_its_own_text_language_and_prints_in_chinese(grades: dict) -> None:
    graded = grades["zh"].notebook
    assert graded.metadata["gradbook"]["language"] == "zh_CN"
    markdown = "\n".join(c.source for c in graded.cells if c.cell_type == "markdown")
    assert "我的笔记：先做 predict，再做 train。" in markdown and "<b>" not in markdown  # kept, its HTML shown as text
    assert "训练循环的五个步骤" in markdown  # the chapter's own Chinese text
    outputs = "\n".join(o.get("text", "") for c in graded.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "你的 `train` 还没完成" in outputs  # printed inside the sandbox, which was asked to speak Chinese
    english = "\n".join(o.get("text", "") for c in grades["en"].notebook.cells if c.cell_type == "code"
                        for o in c.get("outputs", []))
    assert "your `train` isn't done yet" in english and "gradbook" not in grades["en"].notebook.metadata
