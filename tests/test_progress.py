"""The progress page: every check a student runs in their kernel records how it ended (never graded from),
and `gradbook.progress` shows each chapter's exercises as ✔ / ✘ / not started with nbgrader's points and
what comes next, in English and Chinese."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT
from gradbook import progress
from gradbook.checks import REGISTRY, CheckFailed, load_all
from gradbook.i18n import using

NOTEBOOKS = ROOT / "notebooks"
CH00, CH03 = "00-what-is-deep-learning.ipynb", "03-perceptron-and-xor.ipynb"


def nbgrader_points(path: Path) -> dict[str, float]:
    """Each graded cell's points, read with nbformat (the page reads the JSON itself)."""
    nb = nbformat.read(path, as_version=4)
    return {c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"])
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture
def record_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "progress.json"
    monkeypatch.setenv(progress.ENV, str(path))
    return path


def test_a_check_run_in_the_students_kernel_records_passed_failed_and_not_started(record_file: Path) -> None:
    from gradbook.checks import ch00 as check

    check.predict(lambda w, b, x: w * x + b)
    with pytest.raises(CheckFailed):
        check.mse_loss(lambda y_pred, y: ((y_pred - y) ** 2).sum())  # the sum, not the mean

    def gradients(w, b, x, y):  # noqa: ANN001, ANN202 - as released: the stub
        raise NotImplementedError()

    with pytest.raises(CheckFailed):
        check.gradients(gradients)
    recorded = progress.load(record_file)
    assert {name: entry["status"] for name, entry in recorded.items()} == {
        "ch00.predict": progress.PASSED, "ch00.mse_loss": progress.FAILED, "ch00.gradients": progress.NOT_STARTED}
    check.mse_loss(lambda y_pred, y: ((y_pred - y) ** 2).mean())  # fixed: the last run is what counts
    assert progress.load(record_file)["ch00.mse_loss"]["status"] == progress.PASSED


def test_the_page_shows_status_points_and_what_comes_next_in_both_languages(tmp_path: Path) -> None:
    for name in (CH00, CH03):
        shutil.copy(NOTEBOOKS / name, tmp_path / name)
    outcomes = {"ch00.predict": {"status": progress.PASSED}, "ch00.mse_loss": {"status": progress.FAILED}}
    found = progress.chapters(tmp_path, outcomes)
    assert [c.file for c in found] == [CH00, CH03]
    for chapter in found:  # every graded cell, with nbgrader's points
        assert {i.grade_id: i.points for i in chapter.items} == nbgrader_points(tmp_path / chapter.file)
    ch00, ch03 = found
    assert [(i.grade_id, i.status) for i in ch00.items] == [
        ("test-predict", progress.PASSED), ("test-mse-loss", progress.FAILED),
        ("test-gradients", progress.NOT_STARTED), ("test-train", progress.NOT_STARTED)]
    assert ch00.points(progress.PASSED) == 1 and ch00.points() == 6
    written = [i for i in ch03.items if i.status == progress.WRITTEN]
    assert [i.grade_id for i in written] == ["xor-why"] and ch03.points(written=True) == 2
    english = progress.as_text(found)
    assert "✔ predict" in english and "✘ mse_loss" in english and "1 of 6 points" in english
    assert english.rstrip().endswith("exercise `mse_loss`: its check fails.")
    with using("zh_CN"):
        chinese, page = progress.as_text(found), progress.as_html(found)
    assert "你的进度" in chinese and "通过的检查得 1 分，共 6 分" in chinese and "下一步" in chinese
    assert "✘" in page and "<table>" in page and "还没开始" in page


def test_every_check_a_test_cell_calls_is_one_of_the_librarys_exercises() -> None:
    load_all()
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                names = progress.cell_checks(cell.source)
                assert names and set(names) <= set(REGISTRY), (path.name, meta["grade_id"], names)


def test_recording_never_fails_and_everything_passing_says_where_to_go_next(tmp_path: Path) -> None:
    progress.record("ch00.predict", progress.PASSED, tmp_path / "missing-folder" / "progress.json")  # no error
    with pytest.raises(ValueError, match="unknown status"):
        progress.record("ch00.predict", "great", tmp_path / "p.json")
    shutil.copy(NOTEBOOKS / CH00, tmp_path / CH00)
    passed = {n: {"status": progress.PASSED} for n in ("ch00.predict", "ch00.mse_loss", "ch00.gradients", "ch00.train")}
    assert "Where to go next" in progress.next_step(progress.chapters(tmp_path, passed))


def test_the_command_prints_the_page(tmp_path: Path, record_file: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copy(NOTEBOOKS / "zh_CN" / CH00, tmp_path / CH00)
    progress.record("ch00.train", progress.FAILED)
    assert progress.main([str(tmp_path), "--lang", "zh"]) == 0
    out = capsys.readouterr().out
    assert "✘ train" in out and "下一步" in out and "第 0 章" in out  # the chapter's own title, from the notebook
    assert progress.main([str(tmp_path / "nowhere")]) == 2
