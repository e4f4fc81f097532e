"""The Canvas and Moodle exports import without editing: each file is read back with `csv` and checked against
the LMS's documented import rules (issue 26).

* Canvas (its gradebook export/import, Grades › Import): the columns Student, ID, SIS User ID, SIS Login ID,
  Section, then one column per assignment named "Assignment name (id)", where the id is Canvas's assignment id
  (a header without one creates a new assignment); `ID` is Canvas's user id, i.e. nbgrader's `lms_user_id`.
* Moodle ("Import grades from CSV", grade/import/grade_import_form.php): "Map from" is preset to the first column
  whose header is the label of a "Map to" option (User ID, Username, ID number, Email address), and a column
  "<grade item> (Real)" / "<grade item> (Feedback)" is preset to that item's grade / feedback. `moodle_presets`
  below is that rule, written from Moodle's form, not from our exporter.
"""

from __future__ import annotations

import csv
import re
import textwrap
from pathlib import Path

import nbformat
import pytest

from fake_grading import CH02, ROOT, small_course
from gradbook_grader.course import Course, GraderError
from gradbook_grader.export import export_csv
from gradbook_grader.gradebook import graded_cells, open_gradebook, register_assignment, store
from gradbook_grader.journal import Result, write_journal
from gradbook_grader.types import CellGrade
from lifecycle_helpers import configure

CANVAS_IDENTITY = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]  # Canvas's gradebook CSV, in order
CANVAS_ASSIGNMENT = re.compile(r"^(?P<name>.+) \((?P<id>\d+)\)$")
MOODLE_MAP_TO = {"userid": "User ID", "username": "Username", "useridnumber": "ID number", "useremail": "Email address"}
ROSTER = {  # id: (first, last, email, lms_user_id)
    "ann": ("Ann", "Lee", "ann@uni.example", "81001"),
    "bob": ("Bob", "Ng", "bob@uni.example", "81002"),
    "cy": ("Cy", "Ortiz", "cy@uni.example", "81003"),  # no submission: 0, "missing"
}
ITEM = "Assignment: Tensor operations"  # how Moodle names an assignment activity's grade item


def doc_blocks(language: str) -> list[str]:
    """The code blocks of docs/lifecycle.md's "Exports" section in `language` (python: settings; text: samples)."""
    section = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8").split("## Exports", 1)[1].split("\n## ", 1)[0]
    return [textwrap.dedent(b) for b in re.findall(rf"^ *```{language}\n(.*?)^ *```$", section, re.M | re.S)]


def moodle_presets(header: list[str], grade_items: list[str]) -> tuple[str | None, dict[str, str]]:
    """What Moodle's mapping form preselects for this header: the identity ("Map to" option) and, per column,
    "grade:<item>" or "feedback:<item>" (a column it leaves on "ignore" is absent)."""
    identity = next((key for key, label in MOODLE_MAP_TO.items() if label in header), None)
    mapped = {}
    for h in (h.strip() for h in header):
        for kind, suffix in (("grade", "(Real)"), ("feedback", "(Feedback)")):
            if suffix in h and h.split(suffix)[0].strip() in grade_items:
                mapped[h] = f"{kind}:{h.split(suffix)[0].strip()}"
    return identity, mapped


def rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Course:
    """Chapter 2 of a class of three, stored as the batch stores it: ann full marks, bob one cell wrong, cy
    nothing submitted."""
    course = small_course(tmp_path_factory.mktemp("lms") / "course")
    source = nbformat.read(course.source(CH02), as_version=4)
    with open_gradebook(course) as gb:
        register_assignment(gb, CH02, source)
        for student, (first, last, email, lms) in ROSTER.items():
            gb.update_or_create_student(student, first_name=first, last_name=last, email=email, lms_user_id=lms)
        for student, wrong in (("ann", set()), ("bob", {"test-naive-relu"})):
            cells = {gid: CellGrade(gid, 0.0 if gid in wrong else points, points, gid not in wrong, "")
                     for gid, points, _ in graded_cells(source)}
            result = Result(student, CH02, f"k-{student}", "t", sum(c.points for c in cells.values()),
                            sum(c.max_points for c in cells.values()), cells, [], None, True, "/x")
            store(gb, result)
            write_journal(course, result)
    settings = doc_blocks("python")  # the course settings exactly as docs/lifecycle.md shows them
    assert [b for b in settings if "GradbookExport.canvas_assignments" in b] and \
        [b for b in settings if "GradbookExport.moodle_items" in b], settings
    configure(course, *settings)
    return course


def scores(course: Course) -> dict[str, str]:
    """Each student's score as nbgrader's own gradebook API gives it (no late penalty here)."""
    with open_gradebook(course) as gb:
        return {s.student_id: f"{s.score:g}" for s in gb.find_assignment(CH02).submissions}


def test_canvas_file_has_canvas_columns_and_assignment_ids(graded: Course, tmp_path: Path) -> None:
    export_csv(graded, tmp_path / "canvas.csv", "canvas")
    header, points, *people = rows(tmp_path / "canvas.csv")
    assert header[:5] == CANVAS_IDENTITY
    assignments = [CANVAS_ASSIGNMENT.match(h) for h in header[5:]]
    assert [(m["name"], m["id"]) for m in assignments if m] == [(CH02, "4521")] and len(header) == 6
    assert points[:5] == ["Points Possible", "", "", "", ""] and float(points[5]) > 0
    by_login = {r[3]: r for r in people}
    # Canvas's user id is nbgrader's lms_user_id; nbgrader has no SIS user id, so that column stays empty.
    assert {login: (r[0], r[1], r[2], r[4]) for login, r in by_login.items()} == {
        s: (f"{last}, {first}", lms, "", "") for s, (first, last, _, lms) in ROSTER.items()}
    assert {login: r[5] for login, r in by_login.items()} == {**scores(graded), "cy": "0"}


def test_canvas_refuses_an_assignment_without_its_canvas_id(graded: Course, tmp_path: Path) -> None:
    configure(graded, "c.GradbookExport.canvas_assignments = {}")
    try:
        with pytest.raises(GraderError, match=rf"no Canvas assignment id for {CH02}.*canvas_assignments"):
            export_csv(graded, tmp_path / "canvas.csv", "canvas")
        assert not (tmp_path / "canvas.csv").exists()
    finally:
        configure(graded, f"c.GradbookExport.canvas_assignments = {{{CH02!r}: 4521}}")


@pytest.mark.parametrize("match, map_to, field", [("username", "username", 0), ("email", "useremail", 3),
                                                   ("idnumber", "useridnumber", 4)])
def test_moodle_file_maps_itself(graded: Course, tmp_path: Path, match: str, map_to: str, field: int) -> None:
    export_csv(graded, tmp_path / "moodle.csv", "moodle", match=match)
    header, *people = rows(tmp_path / "moodle.csv")
    identity, mapped = moodle_presets(header, [ITEM])
    assert identity == map_to and header[0] == MOODLE_MAP_TO[map_to]
    assert mapped == {f"{ITEM} (Real)": f"grade:{ITEM}", f"{ITEM} (Feedback)": f"feedback:{ITEM}"}
    assert len(header) == 1 + len(mapped), "every column is the identity or preset by Moodle: nothing to map by hand"
    by_id = {r[0]: r for r in people}
    key = {s: ([s, *ROSTER[s]])[field] for s in ROSTER}
    assert set(by_id) == set(key.values())
    assert {s: by_id[k][1] for s, k in key.items()} == {**scores(graded), "cy": "0"}
    assert by_id[key["cy"]][2] == "missing: 0" and by_id[key["ann"]][2] == ""


def test_moodle_refuses_students_without_the_match_field(graded: Course, tmp_path: Path) -> None:
    with open_gradebook(graded) as gb:
        gb.update_or_create_student("dee", first_name="Dee", email="")
    try:
        with pytest.raises(GraderError, match=r"1 student\(s\) of the gradebook have no e-mail address: dee"):
            export_csv(graded, tmp_path / "moodle.csv", "moodle", match="email")
    finally:
        with open_gradebook(graded) as gb:
            gb.remove_student("dee")


def test_the_docs_samples_are_what_the_exports_write(graded: Course, tmp_path: Path) -> None:
    canvas, moodle = doc_blocks("text")
    export_csv(graded, tmp_path / "canvas.csv", "canvas")
    export_csv(graded, tmp_path / "moodle.csv", "moodle", match="idnumber")
    assert (tmp_path / "canvas.csv").read_text(encoding="utf-8") == canvas
    assert (tmp_path / "moodle.csv").read_text(encoding="utf-8") == moodle
