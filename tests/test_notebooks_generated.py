"""notebooks/ is exactly what `gradbook-grader release` makes from solutions/: current, no solutions, no outputs."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pytest

from gradbook_grader import comments, translate
from gradbook_grader.course import Course, release
from run_helpers import mistakes_proved_once

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
NAMES = [p.stem for p in SOLUTIONS]
SOLUTION_REGION = re.compile(r"### BEGIN SOLUTION(.*?)### END SOLUTION", re.S)


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh release into a scratch course, from the repository's solutions/."""
    tmp = tmp_path_factory.mktemp("release")
    (tmp / "autograder").mkdir()
    shutil.copy(ROOT / "autograder" / "nbgrader_config.py", tmp / "autograder")
    course = Course(tmp / "autograder", ROOT / "solutions", tmp / "notebooks", f"sqlite:///{tmp / 'gradebook.db'}")
    with mistakes_proved_once():  # the refusal of unrejected mistakes: once a run, shared with the hub (run_helpers)
        release(course)
    return tmp / "notebooks"


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def test_every_solution_has_a_student_notebook_and_nothing_else() -> None:
    assert NAMES, "no notebooks in solutions/"
    assert sorted(p.stem for p in (ROOT / "notebooks").glob("*.ipynb")) == NAMES, (
        "notebooks/ must hold exactly one generated notebook per solutions/ notebook: run `gradbook-grader release`"
    )


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_is_current(name: str, regenerated: Path) -> None:
    committed, fresh = _read(ROOT / "notebooks" / f"{name}.ipynb"), _read(regenerated / f"{name}.ipynb")
    stale = "notebooks/ is out of date with solutions/: run `gradbook-grader release` and commit notebooks/"
    assert [c.cell_type for c in committed.cells] == [c.cell_type for c in fresh.cells], stale
    for mine, theirs in zip(committed.cells, fresh.cells):
        assert mine.source == theirs.source, stale
        assert mine.metadata == theirs.metadata, stale
    assert committed.metadata == fresh.metadata, stale


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_has_no_solutions_hidden_tests_or_outputs(name: str) -> None:
    student = _read(ROOT / "notebooks" / f"{name}.ipynb")
    text = "\n".join(c.source for c in student.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    for cell in student.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "student notebooks are stored without outputs"

    source = _read(ROOT / "solutions" / f"{name}.ipynb")
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in student.cells}
    solution_cells = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert solution_cells, f"{name} has no solution cells"
    for cell in solution_cells:
        generated = by_id[cell.metadata.nbgrader.grade_id].source
        outside = SOLUTION_REGION.sub("", cell.source).splitlines()
        for region in SOLUTION_REGION.findall(cell.source):
            for line in region.splitlines():
                code = line.strip()
                if code and not code.startswith("#") and line not in outside:
                    assert line not in generated.splitlines(), f"solution code left in {name}: {code!r}"
        if cell.cell_type == "code":
            assert "raise NotImplementedError()" in generated


# --- the same chapters in every translated language (notebooks/<lang>/, gradbook_grader.translate) -------------

LANGUAGES = sorted(p.name for p in (ROOT / "solutions" / "i18n").iterdir() if p.is_dir())


def _graded(nb: nbformat.NotebookNode) -> list[tuple]:
    """What grading reads from a notebook: every cell's kind and id, every code cell's code (its comments'
    words are the language's), and the nbgrader metadata (grade ids, points, flags) of every graded cell.
    A checksum is nbgrader's of the cell's own text in its language (checked on its own: `_checksums_hold`)."""
    shape = []
    for cell in nb.cells:
        meta = dict(cell.metadata.get("nbgrader", {}))
        meta.pop("checksum", None)
        code = comments.without_comments(cell.source) if cell.cell_type == "code" else None
        shape.append((cell.cell_type, cell.get("id"), code, meta))
    return shape


def _checksums_hold(nb: nbformat.NotebookNode) -> bool:
    """Every checksum is nbgrader's of the cell as the student receives it (what Validate compares)."""
    from nbgrader.utils import compute_checksum

    return all(compute_checksum(c) == c.metadata.nbgrader.checksum
               for c in nb.cells if "checksum" in c.metadata.get("nbgrader", {}))


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_chapter_is_released_in_every_translated_language_and_nothing_else(language: str) -> None:
    assert sorted(p.stem for p in (ROOT / "notebooks" / language).glob("*.ipynb")) == NAMES, (
        f"notebooks/{language}/ must hold one generated notebook per solutions/ notebook: run `gradbook-grader release`")


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_translated_student_notebook_is_current(name: str, language: str, regenerated: Path) -> None:
    committed, fresh = _read(ROOT / "notebooks" / language / f"{name}.ipynb"), _read(regenerated / language / f"{name}.ipynb")
    stale = f"notebooks/{language}/ is out of date with solutions/: run `gradbook-grader release` and commit notebooks/"
    assert [(c.cell_type, c.source, c.metadata) for c in committed.cells] == [
        (c.cell_type, c.source, c.metadata) for c in fresh.cells], stale
    assert committed.metadata == fresh.metadata and committed.metadata["gradbook"]["language"] == language, stale


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("name", NAMES)
def test_both_languages_have_the_same_exercises_points_grade_ids_and_tests(name: str, language: str,
                                                                             regenerated: Path) -> None:
    english, translated = _read(regenerated / f"{name}.ipynb"), _read(regenerated / language / f"{name}.ipynb")
    assert translate.declare_language(english, language) == 1  # the code as a translated release writes it:
    for cell in english.cells:  # its language in start_chapter(), nbgrader's placeholders in that language
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = translate.localize_placeholders(cell.source, language)
    assert _graded(translated) == _graded(english) and _checksums_hold(translated)
    graded = [c for c in english.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert graded and all(c.metadata.nbgrader.get("points") for c in graded)
    words = [c.source for c in translated.cells if c.cell_type == "markdown"]
    assert words != [c.source for c in english.cells if c.cell_type == "markdown"]  # the Markdown is translated
    said = [comment.text for c in translated.cells if c.cell_type == "code" for comment in comments.comments(c.source)]
    assert any(re.search("[\u4e00-\u9fff]", text) for text in said)  # and the code comments
    text = "\n".join(c.source for c in translated.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
