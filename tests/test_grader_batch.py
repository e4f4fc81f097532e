"""The batch layer's parts that need no notebook: finding submissions, crash isolation, the journal."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradbook_grader.batch import Result, Submission, discover
from gradbook_grader.executors import run_pool
from gradbook_grader.jobs import Job
from gradbook_grader.submissions import load
from gradbook_grader.course import GraderError
from gradbook_grader.types import CellGrade

from grader_helpers import crashing_task


def _jobs(*names: str) -> list[Job]:
    return [Job(Submission(n, "a", Path(f"/nowhere/{n}.ipynb")), f"{i:064x}") for i, n in enumerate(names)]


def test_a_submission_that_kills_its_worker_gets_an_error_and_the_rest_are_graded() -> None:
    graded: dict[str, str] = {}
    errors: dict[str, str] = {}
    run_pool(
        _jobs("s1", "crash", "s2", "bug", "s3", "s4"), (), 2, crashing_task, None,
        lambda job, value: graded.__setitem__(job.submission.student, value),
        lambda job, message: errors.__setitem__(job.submission.student, message),
    )
    assert graded == {f"s{n}": f"graded s{n}.ipynb" for n in range(1, 5)}
    assert set(errors) == {"crash", "bug"}
    assert "worker process died" in errors["crash"]
    assert "internal grader error: RuntimeError: grader bug" in errors["bug"]


def test_discover_both_layouts(tmp_path: Path) -> None:
    nested = tmp_path / "submitted"
    (nested / "ann" / "02-x").mkdir(parents=True)
    (nested / "ann" / "02-x" / "02-x.ipynb").write_text("{}")
    (nested / "ann" / "02-x" / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")
    (nested / "bob" / "02-x").mkdir(parents=True)
    (nested / "bob" / "02-x" / "renamed.ipynb").write_text('{"bob": 1}')
    (nested / "bob" / "99-unknown").mkdir()
    found, skipped = discover(nested, None, ["02-x"])
    loaded = {s.student: load(s) for s in found}
    assert [(s.student, s.problem) for s in found] == [("ann", None), ("bob", None)]
    assert (loaded["ann"].data, loaded["ann"].timestamp) == (b"{}", "2026-11-20 10:00:00.000000 UTC")
    assert (loaded["bob"].data, loaded["bob"].timestamp) == (b'{"bob": 1}', None)  # a renamed notebook is graded
    assert skipped == ["bob/99-unknown/: no assignment '99-unknown' in solutions/"]

    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("carl", "dora", ".hidden", "bad name", "<b>x"):
        (flat / f"{name}.ipynb").write_text("{}")
    with pytest.raises(GraderError, match="--assignment"):
        discover(flat, None, ["02-x"])
    found, skipped = discover(flat, "02-x", ["02-x"])
    assert {s.student: s.problem for s in found if s.problem is None} == {n: None for n in ("carl", "dora", ".hidden", "bad name")}
    refused = {s.student: s.problem for s in found if s.problem}
    assert list(refused) == ["<b>x"] and "'<'" in refused["<b>x"] and "'>'" in refused["<b>x"]
    assert skipped == []


def test_journal_entry_round_trips() -> None:
    result = Result("ann", "02-x", "k" * 64, "2026-11-22T00:00:00+00:00", 1.0, 2.0,
                    {"t": CellGrade("t", 1.0, 2.0, False, "why")}, ["event"], None, True, "/x.ipynb")
    assert Result.from_json(result.to_json()) == result


def test_feedback_html_never_runs_what_the_student_wrote() -> None:
    import nbformat

    from gradbook_grader.feedback import render

    source = nbformat.v4.new_notebook()
    source.cells.append(nbformat.v4.new_markdown_cell("# Chapter <b>two</b>"))
    graded = nbformat.v4.new_notebook()
    graded.cells.append(nbformat.v4.new_markdown_cell("# Chapter <b>two</b>"))  # the instructor's: rendered
    graded.cells.append(nbformat.v4.new_markdown_cell("<script>alert(1)</script> [x](javascript:alert(2))"))
    cell = nbformat.v4.new_code_cell("show()")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "<img src=x onerror=alert(3)>"})]
    graded.cells.append(cell)
    result = Result("ann", "02-x", "k", "t", 0.0, 1.0, {"t": CellGrade("t", 0.0, 1.0, False, "got <script>alert(4)</script>")},
                    ["<b>event</b>"], None, True, "/x.ipynb")
    page = render(result, graded, source)
    assert "<b>two</b>" in page
    for attack in ("<script>alert", 'href="javascript:', "<img src=x onerror", "<b>event</b>"):
        assert attack not in page
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in page  # the reason is shown, as text


def test_a_hosts_missing_control_groups_is_told_to_the_instructor_once_and_never_to_students() -> None:
    """Graded where no control group can be made (not root, a container without cgroup delegation), every grade
    says so: the instructor's report says it once at the top, a student's feedback not at all (nothing the
    student did); what happened to the submission itself stays on both."""
    from gradbook_grader.feedback import report_text, summary_html, visible_text
    from gradbook_grader.types import no_control_group

    host = no_control_group("v1: Permission denied")
    results = [Result(name, "02-x", "k", "t", 1.0, 1.0, {"t": CellGrade("t", 1.0, 1.0, True, "")}, [host, *own],
                      None, True, "/x.ipynb") for name, own in (("ann", []), ("bob", ["output truncated (limit 10 bytes)"]))]
    for result in results:
        page = visible_text(summary_html(result))
        assert "control group" not in page and "capped per process" not in page
    assert "output truncated (limit 10 bytes)" in visible_text(summary_html(results[1]))
    report = report_text(results)
    assert report.count("control group") == 1 and report.splitlines()[0] == f"grading host: {host}"
    assert "  event: output truncated (limit 10 bytes)" in report.splitlines()
