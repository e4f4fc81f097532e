"""The batch layer fails closed: no submission costs another student anything (issues 13 and 18).

Grading here uses `fake_grading.grade_submission`, a stand-in for the sandboxed execution side
that passes whatever the student sent straight through (the worst an execution side could
do), so these tests show what the batch layer alone guarantees: submissions are read, never
followed; every submission found gets a row; a failure at any stage is that submission's; what
is stored and rendered cannot run in a browser; evidence flags a submission without touching
its score; and the report never drives the instructor's terminal. `test_grading_end_to_end.py`
runs the same attacks through the real sandbox.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import random
import re
import socket
import stat
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest

from fake_grading import CH02, PNG, expected_score, honest, hostile_graded, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import BatchReport, grade_assignment
from gradbook_grader.course import Course, GraderError
from gradbook_grader.export import export_csv
from gradbook_grader.feedback import report_text, run_feedback, visible_text
from gradbook_grader.gradebook import open_gradebook
from gradbook_grader.journal import Result, journal
from gradbook_grader.sanitize import safe_notebook
from gradbook_grader.text import printable

WRONG = {"naive-relu": "def naive_relu(x):\n    return abs(x)", "naive-add": "def naive_add(x, y):\n    return x - y"}
# Markup that runs script in a page: an on* handler in a tag, a javascript: URL in one, or a tag that
# carries script of its own. (Escaped text, "&lt;img onerror=...", is no tag and does not match.)
ACTIVE = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=|<[a-z][^>]*=\s*[\"']?\s*javascript:|<(svg|iframe|object|embed)\b"
                    r"|<script>[^<]*__pwned", re.I)
SAFE_MIME = {"text/plain", "image/png", "image/jpeg"}


def source() -> nbformat.NotebookNode:
    from fake_grading import ROOT

    return nbformat.read(ROOT / "solutions" / f"{CH02}.ipynb", as_version=4)


def put(folder: Path, student: str | bytes, files: dict[str, Any]) -> None:
    """Lay out submitted/<student>/<CH02>/...: bytes (a file), "fifo", "socket", "device", "dir",
    ("link", target); "" as the path means the assignment folder itself (a link to it)."""
    base = Path(os.fsdecode(os.path.join(os.fsencode(folder), os.fsencode(student))))
    sub = base / CH02
    for rel, content in files.items():
        path = sub / rel if rel else sub
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, tuple):
            path.symlink_to(content[1])
        elif content == "fifo":
            os.mkfifo(path)
        elif content == "dir":
            path.mkdir(parents=True, exist_ok=True)
        elif content == "socket":  # bound at a short path (AF_UNIX allows ~100 bytes), then moved
            short = Path(tempfile.mkdtemp(prefix="s", dir="/tmp")) / "s"
            with socket.socket(socket.AF_UNIX) as s:
                s.bind(str(short))
            short.rename(path)
            short.parent.rmdir()
        elif content == "device":
            try:
                os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
            except PermissionError:  # no CAP_MKNOD here: the other kinds still make the point
                pass


def nb_bytes(nb: nbformat.NotebookNode) -> bytes:
    """The notebook as a file: ASCII JSON, so a lone surrogate travels as an escape, as JSON allows."""
    return json.dumps(nb, indent=1).encode()


def grade(course: Course, folder: Path, **kwargs: Any) -> BatchReport:
    return grade_assignment(course, CH02, folder, workers=2, progress=False, grade=fake_grade, **kwargs)


def by_student(results: list[Result]) -> dict[str, Result]:
    return {r.student: r for r in results}


def stored(course: Course) -> dict[str, dict[str, Any]]:
    """What nbgrader's gradebook holds, by student, read with nbgrader's own API."""
    with open_gradebook(course) as gb:
        return {s.student_id: {"score": s.score, "flagged": any(nb.flagged for nb in s.notebooks),
                               "grades": {g.name: g.score for nb in s.notebooks for g in nb.grades}}
                for s in gb.find_assignment(CH02).submissions}


def exported(course: Course, path: Path) -> dict[str, dict[str, str]]:
    export_csv(course, path)
    with path.open(newline="", encoding="utf-8") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}  # nbgrader's export columns


def terminal_safe(text: str) -> bool:
    """Nothing in `text` acts on a terminal: no control or format character but newline and tab."""
    return all(c in "\n\t" or unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") for c in text)


def assert_inert(path: Path, source_nb: nbformat.NotebookNode) -> None:
    """A stored graded notebook holds nothing that a browser would run (checked independently of sanitize)."""
    raw = path.read_bytes().decode("utf-8")  # strict: no lone surrogate could be encoded
    nb = nbformat.reads(raw, as_version=4)
    nbformat.validate(nb)
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, nb.metadata
    trusted = {c.source for c in source_nb.cells if c.cell_type == "markdown"}
    for cell in nb.cells:
        assert set(cell.metadata) <= {"nbgrader", "gradbook"}, cell.metadata
        assert cell.cell_type in ("code", "markdown"), cell.cell_type
        if cell.cell_type == "markdown" and cell.source not in trusted:
            inner = cell.source.removeprefix('<pre class="gradbook-text tex2jax_ignore" style="white-space: pre-wrap">')
            inner = inner.removesuffix("</pre>")
            assert not set(inner) & set("<>\"'`[]()\n:"), cell.source[:200]
            assert "attachments" not in cell
        for out in cell.get("outputs", []):
            assert set(out.get("data", {})) <= SAFE_MIME and not out.get("metadata"), out


# ---------------------------------------------------------------- 1. read, never followed


@pytest.mark.slow  # spawns grading workers
@pytest.mark.timeout(300)  # a FIFO opened for reading would block here forever
def test_submissions_are_read_never_followed(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    src = source()
    good = nb_bytes(honest(src))
    folder = tmp_path / "submitted"
    put(folder, "ann", {f"{CH02}.ipynb": good, "timestamp.txt": b"2026-11-20 10:00:00.000000 UTC"})
    put(folder, "dir-link", {"": ("link", str(course.solutions))})  # the instructor's solutions/, graded 10/10 before
    (folder / "student-link").symlink_to(folder / "ann")
    put(folder, "nb-link", {f"{CH02}.ipynb": ("link", "/etc/passwd")})
    put(folder, "nb-fifo", {f"{CH02}.ipynb": "fifo"})  # hung the whole batch before
    put(folder, "nb-socket", {f"{CH02}.ipynb": "socket"})
    put(folder, "nb-device", {f"{CH02}.ipynb": "device"})
    put(folder, "side-fifo", {f"{CH02}.ipynb": good, "data/pipe": "fifo"})
    put(folder, "nested-link", {f"{CH02}.ipynb": good, "a/b/c/etc": ("link", "/etc")})
    put(folder, "timestamp-link", {f"{CH02}.ipynb": good, "timestamp.txt": ("link", "/etc/hostname")})
    put(folder, "deep", {f"{CH02}.ipynb": good, "/".join(["d"] * 12) + "/x": b""})
    put(folder, "many", {f"{CH02}.ipynb": good, **{f"f/{n}": b"" for n in range(2_100)}})
    big = folder / "huge" / CH02 / f"{CH02}.ipynb"
    big.parent.mkdir(parents=True)
    with big.open("wb") as f:
        f.truncate(60_000_000)  # sparse: over the cap, refused by its size, never read

    results = by_student(grade(course, folder).results)
    device = os.path.lexists(folder / "nb-device" / CH02 / f"{CH02}.ipynb")  # made where the kernel allows mknod
    refused = {"dir-link": "symbolic link", "student-link": "symbolic link", "nb-link": "symbolic link",
               "nb-fifo": "FIFO", "nb-socket": "socket", "side-fifo": "FIFO", "nested-link": "symbolic link",
               "timestamp-link": "symbolic link", "deep": "nested more than", "many": "more than 2,000 entries",
               "huge": "over the grader's limit of 50,000,000. Its outputs are not graded", **({"nb-device": "character device"} if device else {})}
    assert results["ann"].error is None and results["ann"].score == 10
    assert results["ann"].claimed == "2026-11-20 10:00:00.000000 UTC"  # the student's claim; no collect receipt:
    assert results["ann"].timestamp and "arrival not observed" in results["ann"].dating[0]  # dated by submitted/
    assert results["ann"].dating[0] in results["ann"].shown_notes and not results["ann"].notes  # typed, not by its words
    for student, why in refused.items():
        r = results[student]
        assert r.error and why in r.error and r.score == 0 and r.max_score == 10, (student, r.error)
        assert not r.transient and r.notebook is None
    in_gradebook = stored(course)
    assert set(refused) | {"ann"} <= set(in_gradebook)
    assert all(in_gradebook[s]["score"] == 0 for s in refused)
    # Nothing outside a submission was read on its behalf: nothing of the instructor's solution
    # (its markers are in no student's notebook), nothing of /etc/passwd, anywhere.
    for path in (course.root / "autograded").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert "root:x:0:0" not in text and "BEGIN SOLUTION" not in text, path
    assert f"dir-link/{CH02} is a symbolic link to {course.solutions}" in results["dir-link"].error  # says where it points


def test_a_submission_changed_after_it_was_read_is_not_graded_as_something_else(tmp_path: Path) -> None:
    """The worker gets the bytes that were hashed; a notebook swapped for a link meanwhile is refused."""
    from gradbook_grader.jobs import Job
    from gradbook_grader.files import Refused
    from gradbook_grader.submissions import Submission, load

    folder = tmp_path / "submitted"
    put(folder, "ann", {f"{CH02}.ipynb": b"{}"})
    sub = Submission("ann", CH02, folder / "ann" / CH02 / f"{CH02}.ipynb", folder, ("ann", CH02))
    loaded = load(sub)
    job = Job(sub, "k" * 64, loaded, hashlib.sha256(loaded.data or b"").hexdigest())
    assert job.payload() == b"{}"
    sub.path.write_bytes(b'{"cells": []}')
    with pytest.raises(Refused, match="changed while the batch was running"):
        job.payload()
    sub.path.unlink()
    sub.path.symlink_to(source_path := tmp_path / "other.ipynb")
    source_path.write_bytes(b"{}")
    with pytest.raises(Refused, match="symbolic link"):
        job.payload()


# ---------------------------------------------------------------- 2. every submission accounted for

ODD_NAMES: dict[str | bytes, str | None] = {  # folder name -> why it is no student id (None: graded)
    "ann": None,
    "with space": None,
    "José": None,
    "Jose\u0301": None,  # the same name, decomposed (as macOS writes it)
    ".hidden": None,
    "..evil": None,
    "a" * 200: "at most 128",
    "<img src=x onerror=alert(1)>": "'<'",
    "esc\x1b]0;owned\x07": "\\x1b",
    "trailing ": "white space",
    "=HYPERLINK(\"x\")": "'='",
    b"\xff\xfe-latin1": "not valid UTF-8",
}


@pytest.mark.slow  # spawns grading workers
def test_every_submission_found_has_a_row_in_journal_report_and_export(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    folder = tmp_path / "submitted"
    good = nb_bytes(honest(source()))
    for name in ODD_NAMES:
        put(folder, name, {f"{CH02}.ipynb": good})
    (folder / "README.txt").write_text("not a submission")
    report = grade(course, folder)
    assert report.skipped == ["README.txt: a file, not a student's folder: ignored"]
    names = {os.fsdecode(n) if isinstance(n, bytes) else n: why for n, why in ODD_NAMES.items()}
    rows = by_student(journal(course, CH02))
    assert set(rows) == set(names) == set(by_student(report.results))
    in_gradebook = stored(course)
    for name, why in names.items():
        r = rows[name]
        if why is None:
            assert r.error is None and r.score == 10 and r.in_gradebook, name
            assert in_gradebook[name]["score"] == 10, name
        else:
            assert r.error and why in r.error and r.score == 0 and not r.in_gradebook, (name, r.error)
            assert name not in in_gradebook
    text = report_text(journal(course, CH02))
    assert terminal_safe(text)
    for name in names:
        assert f"{printable(name)} / {CH02}: " in text, name
    csv_rows = exported(course, tmp_path / "grades.csv")
    assert len(csv_rows) == len(names)
    assert csv_rows["esc\\x1b]0;owned\\x07"]["error"] and csv_rows["'=HYPERLINK(\"x\")"]["score"] == "0"
    assert csv_rows["José"]["score"] == "10" and csv_rows["..evil"]["error"] == ""
    assert all(terminal_safe(v) for row in csv_rows.values() for v in row.values())


# ---------------------------------------------------------------- 3. per-submission failure, fuzzed

NASTY = ["\ud800", "\udfff", "\x00", "\x1b[2J\x1b[H", "\x1b]0;pwned\x07", "\x9b31m", "\r", "\u202e", "\u2028",
         "<script>window.__pwned=1</script>", "<img src=x onerror=window.__pwned=2>", "[x](javascript:alert(1))",
         "\"><svg onload=alert(1)>", "$\\href{javascript:alert(1)}{x}$", "=cmd|' /C calc'!A0", "💥", "\ufeff",
         "### BEGIN HIDDEN TESTS", "check.naive_relu(naive_relu, hidden=True)", "A" * 5_000, "José", ""]
MIMES = ["text/plain", "text/html", "image/svg+xml", "application/javascript", "text/markdown", "text/latex",
         "image/png", "image/jpeg", "application/json", "application/vnd.jupyter.widget-view+json", "x/" + "y" * 300]


def nasty(rng: random.Random) -> str:
    return "".join(rng.choice(NASTY) for _ in range(rng.randint(1, 4)))


def anything(rng: random.Random, depth: int = 0) -> Any:
    """A random JSON value, hostile strings included."""
    kind = rng.randrange(7 if depth < 4 else 4)
    if kind == 0:
        return nasty(rng)
    if kind == 1:
        return rng.choice([0, -1, 2**70, 1e308, -0.0, True, None])
    if kind == 2:
        return rng.choice([float("nan"), float("inf")])
    if kind == 3:
        return rng.choice(["cells", "metadata", "nbgrader", "test-naive-relu", "naive-relu"])
    if kind in (4, 5):
        return {rng.choice([nasty(rng), "nbgrader", "tags", "widgets", "grade_id", "points", "title"]): anything(rng, depth + 1)
                for _ in range(rng.randint(0, 4))}
    return [anything(rng, depth + 1) for _ in range(rng.randint(0, 4))]


def output(rng: random.Random) -> Any:
    kind = rng.choice(["stream", "display_data", "execute_result", "error", "junk", "weird"])
    if kind == "stream":
        return {"output_type": "stream", "name": rng.choice(["stdout", "stderr", nasty(rng)]), "text": rng.choice([nasty(rng), [nasty(rng)], 3])}
    if kind in ("display_data", "execute_result"):
        data: dict[str, Any] = {}
        for mime in rng.sample(MIMES, rng.randint(1, 4)):
            data[mime] = rng.choice([nasty(rng), PNG, PNG + '" onerror="window.__pwned=3', anything(rng)])
        return {"output_type": kind, "data": data, "metadata": rng.choice([{}, {"image/png": {"width": '1" onload="x'}}, anything(rng)]),
                "execution_count": rng.choice([1, "1", None, 2**70])}
    if kind == "error":
        return {"output_type": "error", "ename": nasty(rng), "evalue": nasty(rng), "traceback": rng.choice([[nasty(rng)], nasty(rng), None])}
    return anything(rng) if kind == "junk" else {"output_type": nasty(rng)}


def hostile_notebook(rng: random.Random, src: nbformat.NotebookNode) -> bytes:
    """A notebook (mostly the honest one, so the hostile parts ride along a real submission) with
    random hostile cells, outputs, metadata; or just random bytes or JSON."""
    roll = rng.random()
    if roll < 0.1:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
    if roll < 0.2:
        return json.dumps(anything(rng)).encode()
    if roll < 0.25:
        return b"[" * 100_000 + b"]" * 100_000
    nb = json.loads(json.dumps(honest(src)))
    for _ in range(rng.randint(1, 6)):
        cell = {"cell_type": rng.choice(["code", "markdown", "raw", nasty(rng)]), "source": rng.choice([nasty(rng), [nasty(rng)], 7]),
                "metadata": rng.choice([{}, anything(rng), {"nbgrader": {"grade_id": "test-naive-relu", "grade": True, "points": 100}},
                                        {"tags": ['"><img src=x onerror=window.__pwned=4>']}]),
                "id": rng.choice(["x", nasty(rng), "a" * 100]),
                "outputs": [output(rng) for _ in range(rng.randint(0, 4))],
                "attachments": rng.choice([{}, {"x.svg": {"image/svg+xml": "<svg onload=alert(1)/>"}}])}
        nb["cells"].insert(rng.randint(0, len(nb["cells"])), cell)
    for cell in rng.sample(nb["cells"], min(3, len(nb["cells"]))):
        if cell.get("cell_type") == "code":
            cell["outputs"] = [output(rng) for _ in range(rng.randint(1, 3))]
    nb["metadata"] = rng.choice([anything(rng), {"widgets": anything(rng), "title": nasty(rng)}, nb["metadata"]])
    return json.dumps(nb).encode()


def side_files(rng: random.Random) -> dict[str, Any]:
    choice = rng.randrange(9)
    files: dict[str, Any] = {}
    if choice == 0:
        files["timestamp.txt"] = rng.choice([b"0001-01-01 00:00:00+01:00", b"9999-12-31 23:59:59-01:00", b"\x00",
                                             b"\xff\xfe", b"yesterday", b"2026-13-45 99:99", b"9" * 10_000])
    elif choice == 1:
        files["timestamp.txt"] = rng.choice(["fifo", "dir", ("link", "/etc/passwd")])
    elif choice == 2:  # nested folders with odd names, invalid UTF-8 included
        parts = (nasty(rng).replace("/", "_").replace("\x00", "_")[:40] or "x" for _ in range(3))
        files["/".join(os.fsdecode(p.encode("utf-8", "surrogatepass")) for p in parts) + "/f"] = b"x"
    elif choice == 3:
        files["data/link"] = ("link", "/")
    return files


FAKE = [{"raise": "grader bug \ud800 \x1b[2J"}, {"exit": 70}, {"cells": "garbage"}, {"error": "boom \x1b[31m <b>"},
        {"events": ["\x1b[2J cleared", 3, None, "<script>x</script>"]}, {"integrity": ["copied \x1b]0;t\x07 reference"]},
        {"unsandboxed": True}]
HONEST = {"h-full-1": {}, "h-full-2": {}, "h-partial": WRONG, "Zoë Ng": {}, "h-timestamped": {}}


def many_cells(src: nbformat.NotebookNode, n: int = 5_000) -> nbformat.NotebookNode:
    """A notebook of `n` cells of its own (the red team's 20,000 took 388 s to render, one page at a time; 5,000
    take the same path past the budget, and keep the suite fast: storing a graded notebook sanitises every cell)."""
    nb = honest(src)
    nb.cells.extend(nbformat.from_dict({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                                        "source": f"x{k} = {k}  # {'~' * 40}"}) for k in range(n))
    return nb


def huge_page(src: nbformat.NotebookNode, mb: int = 2) -> nbformat.NotebookNode:
    """Megabytes of the student's own text and output (the red team's page was 46 MB and took 349 s)."""
    nb = honest(src)
    text = "<b>&amp;</b> \x1b[31m" * (mb * 1_000_000 // 40)
    cell = nbformat.v4.new_code_cell("print(text)")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
    nb.cells[1:1] = [nbformat.v4.new_markdown_cell(text), cell]
    return nb


HOSTILE_PAGES: dict[str, Callable[[nbformat.NotebookNode], nbformat.NotebookNode]] = {
    "page-many-cells": many_cells, "page-huge": huge_page}


def lay_out_honest(folder: Path, src: nbformat.NotebookNode) -> None:
    for name, wrong in HONEST.items():
        files: dict[str, Any] = {f"{CH02}.ipynb": nb_bytes(honest(src, wrong))}
        if name == "h-timestamped":
            files["timestamp.txt"] = b"2026-11-20 10:00:00.000000 UTC"
        put(folder, name, files)


def everything_of(course: Course, tmp: Path, workers: int = 1) -> tuple[dict[str, Result], dict[str, str], dict[str, dict[str, str]], dict, Any]:
    """Journal, feedback (visible text), export rows, gradebook rows and the feedback run of a graded course."""
    run = run_feedback(course, CH02, workers=workers)
    pages = {p.parent.parent.name: visible_text(p.read_text(encoding="utf-8")) for p in run.written}
    return by_student(journal(course, CH02)), pages, exported(course, tmp / "grades.csv"), stored(course), run


@pytest.mark.slow
def test_fuzzed_hostile_class_costs_no_honest_student_anything(tmp_path: Path) -> None:
    rng = random.Random(13)  # fixed: a failure reproduces; change it to explore
    src = source()
    alone = small_course(tmp_path / "alone")
    lay_out_honest(tmp_path / "alone-submitted", src)
    grade(alone, tmp_path / "alone-submitted")
    base_rows, base_pages, base_csv, base_db, _ = everything_of(alone, tmp_path / "alone")

    course = small_course(tmp_path / "course")
    folder = tmp_path / "submitted"
    lay_out_honest(folder, src)
    for n in range(30):
        put(folder, odd_name(n, rng), {f"{CH02}.ipynb": hostile_notebook(rng, src), **side_files(rng)})
    fakes: dict[str, dict] = {}  # folder name -> how the execution side misbehaves for it
    for n, fake in enumerate(FAKE):
        nb = honest(src, WRONG if n % 2 else {})
        nb.metadata["fake"] = fake
        fakes[f"fake-{n}"] = fake
        put(folder, f"fake-{n}", {f"{CH02}.ipynb": nb_bytes(nb)})
    for name, nb in HOSTILE_PAGES.items():  # feedback: one page must not cost anyone else theirs
        put(folder, name, {f"{CH02}.ipynb": nb_bytes(nb(src))})
    report = grade(course, folder)
    rows, pages, csv_rows, db, run = everything_of(course, tmp_path / "course", workers=2)  # the batch's pool

    # Every honest student: the same grade, gradebook row, export row and feedback as when graded alone.
    for name, wrong in HONEST.items():
        r, b = rows[name], base_rows[name]
        assert (r.score, r.error, r.events, r.cells, r.notes, r.claimed) == (b.score, b.error, b.events, b.cells, b.notes,
                                                                             b.claimed)
        assert r.score == expected_score(src, wrong)
        assert db[name] == base_db[name]
        when = "timestamp"  # when each copy reached its submitted/ (no collect receipt: arrival.py), else equal
        assert {k: v for k, v in csv_rows[name].items() if k != when} == {k: v for k, v in base_csv[name].items() if k != when}
        assert pages[name] == base_pages[name]
    # Every submission found has its row, in the journal, the report, the export; feedback or a reason.
    found = {p.name for p in folder.iterdir()}
    assert set(rows) == found == {r.student for r in report.results}
    assert len(csv_rows) == len(found)
    text = report_text(list(rows.values()))
    assert terminal_safe(text) and all(f"{printable(s)} / {CH02}: " in text for s in found)
    assert {p.parent.parent.name for p in run.written} | {s for s, _ in run.failed} == set(rows)
    # What is stored and rendered is inert.
    for path in (course.root / "autograded").glob(f"*/{CH02}/{CH02}.ipynb"):
        assert_inert(path, src)
    for path in run.written:
        assert not ACTIVE.search(path.read_text(encoding="utf-8")), (path, ACTIVE.search(path.read_text(encoding="utf-8")))
    assert_feedback_budgets(course, src, run, pages, rows)
    # The misbehaving execution side: each its own row, the batch went on.
    for name, fake in fakes.items():
        r = rows[name]
        if "raise" in fake or "cells" in fake:
            assert r.error and r.error.startswith("internal grader error") and r.transient, (name, r.error)
        elif "exit" in fake:
            assert r.error and "worker process died" in r.error, (name, r.error)
        elif "error" in fake:
            assert r.error == "boom \x1b[31m <b>" and r.score == 0
        elif "events" in fake:
            assert not r.evidence and r.events, name  # events alone are reported, not flagged
        else:
            assert r.evidence and db.get(name, {"flagged": True})["flagged"], name


def assert_feedback_budgets(course: Course, src: nbformat.NotebookNode, run: Any, pages: dict[str, str],
                            rows: dict[str, Result]) -> None:
    """Issue 23: a notebook of thousands of cells and a huge page cost no one else their page, say what was left out of
    theirs, take a time derived from the honest pages of the same run (never a fixed number), and resume."""
    from statistics import median

    from gradbook_grader.pagebudget import PageBudget

    for name in HOSTILE_PAGES:
        assert "Left out of this page" in pages[name] and rows[name].score == expected_score(src, {}), name
        assert "Score: 10 / 10" in pages[name], name
    assert re.search(r"[\d,]{5} of the notebook's 5,[\d,]+ own cells \(beyond the first 200\) are summarised",
                     pages["page-many-cells"])
    page_of = {p.parent.parent.name: p for p in run.written}
    honest_page = median(run.seconds[page_of[name]] for name in HONEST)  # the calibration
    assert max(run.seconds[page_of[name]] for name in HOSTILE_PAGES) < 10 * honest_page + 1, (run.seconds, honest_page)
    # Resumable: nothing changed, nothing rendered again (but the pages that could not be written); a lost
    # page, and only it, is.
    again = run_feedback(course, CH02)
    assert again.reused == len(run.written) and {p.parent.parent.name for p in again.seconds} <= {s for s, _ in run.failed}
    page_of["h-full-1"].unlink()
    once_more = run_feedback(course, CH02, student="h-full-1")
    assert once_more.reused == 0 and list(once_more.seconds) == [page_of["h-full-1"]]
    assert visible_text(page_of["h-full-1"].read_text(encoding="utf-8")) == pages["h-full-1"]
    # The time budget: a page that still takes too long (here every cell is let in) is replaced, as soon as its
    # time is up, by a short page that says so.
    everything = PageBudget(seconds=2 * honest_page, max_cells=10**6, max_cell_chars=10**9, max_output_chars=10**9,
                            max_outputs_chars=10**9, max_bytes=10**10)
    slow = run_feedback(course, CH02, student="page-many-cells", budget=everything)
    page = visible_text(page_of["page-many-cells"].read_text(encoding="utf-8"))
    assert slow.short == [page_of["page-many-cells"]] and "took longer than" in page and "Score: 10 / 10" in page
    assert slow.seconds[page_of["page-many-cells"]] < everything.seconds + 5 * honest_page


def odd_name(n: int, rng: random.Random) -> str | bytes:
    """The n-th hostile folder name: the odd names first (made unique), then generated ones."""
    names = [name for name in ODD_NAMES if name != "ann"]
    if n >= len(names):
        return f"hostile-{n}{rng.choice(['', '.', ' x', 'é', '-', '@b'])}"
    name = names[n]
    if isinstance(name, bytes):
        return name + str(n).encode()
    return f"{n}{name}" if name.endswith(" ") else f"{name}{n}"


# ---------------------------------------------------------------- 3b. stages after grading


@pytest.mark.slow  # spawns grading workers
def test_timestamps_out_of_range_are_ignored_with_a_note_and_the_batch_goes_on(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    folder = tmp_path / "submitted"
    good = nb_bytes(honest(source()))
    stamps = {"overflow": b"0001-01-01 00:00:00+01:00", "far": b"9999-12-31 23:59:59-01:00", "nul": b"\x00",
              "latin1": b"\xff", "words": b"last tuesday", "ok": b"2026-11-20 11:00:00+01:00"}
    for name, stamp in stamps.items():
        put(folder, name, {f"{CH02}.ipynb": good, "timestamp.txt": stamp})
    results = by_student(grade(course, folder).results)
    assert all(r.score == 10 and r.error is None for r in results.values())
    assert results["ok"].claimed == "2026-11-20 10:00:00.000000 UTC" and not results["ok"].notes  # how it was dated is `dating`
    for name in set(stamps) - {"ok"}:
        assert results[name].claimed is None and "timestamp.txt ignored" in results[name].notes[0], name
        assert results[name].timestamp, "no readable time is never no date (arrival.py: dated by submitted/)"
    assert stored(course).keys() == stamps.keys()


@pytest.mark.slow  # spawns grading workers
def test_a_row_the_gradebook_refuses_is_noted_and_retried_and_a_dead_gradebook_stops(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gradbook_grader import gradebook

    course = small_course(tmp_path / "course")
    folder = tmp_path / "submitted"
    for name in ("ann", "bob", "cy"):
        put(folder, name, {f"{CH02}.ipynb": nb_bytes(honest(source()))})
    real = gradebook.store

    def store(gb: Any, result: Result, **kwargs: Any) -> None:
        if result.student == "bob":
            raise ValueError("value too long for type character varying(128)")
        real(gb, result, **kwargs)

    monkeypatch.setattr(gradebook, "store", store)
    results = by_student(grade(course, folder).results)
    assert results["bob"].transient and not results["bob"].in_gradebook and "not stored" in results["bob"].notes[-1]
    assert results["bob"].score == 10  # the grade stands; only storing it failed
    assert set(stored(course)) == {"ann", "cy"}, {k: (r.in_gradebook, r.notes) for k, r in results.items()}
    monkeypatch.setattr(gradebook, "store", real)
    again = grade(course, folder)
    assert (again.reused, again.graded) == (2, 1) and set(stored(course)) == {"ann", "bob", "cy"}

    def dead(gb: Any, result: Result, **kwargs: Any) -> None:
        gb.db.close()
        gb.db.bind.dispose()
        monkeypatch.setattr(gb.db, "execute", lambda *a, **k: (_ for _ in ()).throw(OSError("server closed the connection")))
        raise OSError("server closed the connection")

    monkeypatch.setattr(gradebook, "store", dead)
    with pytest.raises(GraderError, match="fix the database and run the same command again"):
        grade(course, folder, force=True)


@pytest.mark.slow  # spawns grading workers
def test_feedback_failing_for_one_student_is_written_for_all_others(tmp_path: Path) -> None:
    """The innocent extra cell `check.naive_relu(naive_relu, hidden=True)` stopped feedback for a whole
    batch; a real leak (a hidden line in a test cell of the graded notebook) refuses that page only."""
    course = small_course(tmp_path / "course")
    folder = tmp_path / "submitted"
    src = source()
    innocent = honest(src)
    innocent.cells.append(nbformat.v4.new_code_cell("check.naive_relu(naive_relu, hidden=True)"))
    for name in ("ann", "bob", "cy", "dee", "eve", "fay"):
        put(folder, name, {f"{CH02}.ipynb": nb_bytes(honest(src))})
    put(folder, "innocent", {f"{CH02}.ipynb": nb_bytes(innocent)})
    grade(course, folder)
    leaky = course.autograded("eve", CH02) / f"{CH02}.ipynb"
    nb = nbformat.read(leaky, as_version=4)
    test_cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "test-naive-relu")
    test_cell.outputs = [nbformat.v4.new_output("stream", text="check.naive_relu(naive_relu, hidden=True)\n")]
    nbformat.write(nb, leaky)
    (course.feedback_dir("eve", CH02)).mkdir(parents=True)
    (course.feedback_dir("eve", CH02) / f"{CH02}.html").write_text("stale")
    run = run_feedback(course, CH02)
    assert sorted(p.parent.parent.name for p in run.written) == ["ann", "bob", "cy", "dee", "fay", "innocent"]
    assert list(run.failed) == [("eve", CH02)] and "hidden tests" in run.failed[("eve", CH02)]
    assert not (course.feedback_dir("eve", CH02) / f"{CH02}.html").exists(), "no stale page goes out"
    page = visible_text((course.feedback_dir("innocent", CH02) / f"{CH02}.html").read_text())
    assert "check.naive_relu(naive_relu, hidden=True)" in page  # the student's own line, shown to them


# ---------------------------------------------------------------- 3c. the real sandbox: stalls and grader bugs

# Student code reaches the runner's own functions (its module is not the notebook's) through the garbage collector.
RUNNER = ("import gc\n_g = next(o.__globals__ for o in gc.get_objects()\n"
          "          if getattr(o, '__name__', '') == 'answer_question' and hasattr(o, '__globals__'))\n"
          "_orig = _g['answer_question']\n")
STALLS = {  # each takes over the first question, naive_relu's; a real answer would pass
    "sleeps-forever": "import time\ndef naive_relu(x):\n    time.sleep(10**6)\n",
    "drops-its-reply": RUNNER + "class _Mute:\n    loads = staticmethod(_g['json'].loads)\n    dumps = staticmethod(lambda *a, **k: '')\n"
                       "def _drop(shell, request):\n    _g['json'] = _Mute\n    return _orig(shell, request)\n"
                       "_g['answer_question'] = _drop\n",
    "answers-another-id": RUNNER + "def _other(shell, request):\n    reply = _orig(shell, request)\n"
                          "    reply['id'] = request['id'] + 1000\n    return reply\n_g['answer_question'] = _other\n",
    "prints-garbage": "import os, time\ndef naive_relu(x):\n    for fd in os.listdir('/proc/self/fd'):\n"
                      "        try:\n            os.write(int(fd), b'garbage, not a reply\\n') if int(fd) > 2 else None\n"
                      "        except OSError:\n            pass\n    time.sleep(10**6)\n",
}
SAID = {"sleeps-forever": "stalled", "drops-its-reply": "stalled", "answers-another-id": "another question (id 1000, not 0",
        "prints-garbage": "stopped answering"}


@pytest.fixture(scope="module")
def real_grading() -> Callable[..., tuple[Any, float]]:
    """Grade with the real sandbox (no batch): (grade, worker seconds)."""
    from conftest import require
    from gradbook_grader import sandbox
    from gradbook_grader.execute import grade_submission
    from gradbook_grader.questions import static_manifest

    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    src = source()
    manifest = static_manifest(src)

    def graded(submission: nbformat.NotebookNode | bytes, **limits: Any) -> tuple[Any, float]:
        from gradbook_grader.types import Limits

        data = submission if isinstance(submission, bytes) else nb_bytes(submission)
        began = time.monotonic()
        grade = grade_submission(data, src, manifest, limits=Limits(**limits), sandbox_mode="bwrap")
        return grade, time.monotonic() - began

    return graded


@pytest.mark.slow  # grades nine submissions in the sandbox, five of them honest
def test_a_stalling_submission_costs_a_small_factor_of_an_honest_one(real_grading: Callable) -> None:
    """Issue 23: dropped, mismatched or garbage replies, or an answer that sleeps, once cost the full cell
    limit per question and restarted the notebook (165-250 s against ~3 s). Now the runner is seen not to
    answer at once (or after `stall_seconds` without computing) and its remaining questions fail saying
    so: worker seconds within a small factor of an honest submission's, graded here, now."""
    src = source()

    def honest_seconds() -> float:  # the calibration: this machine, at this moment
        grade, seconds = real_grading(honest(src))
        assert grade.score == grade.max_score == 10
        return seconds

    before = honest_seconds()
    stall = max(1.0, before / 2)  # stall detection scaled to this machine's pace
    for name, answer in STALLS.items():
        grade, seconds = real_grading(honest(src, {"naive-relu": answer}), stall_seconds=stall)
        # An honest submission graded just before and just after each stalling one: on a busy machine its pace
        # changes from one grade to the next, and the slower of the two is the pace this one ran at, or near it.
        after = honest_seconds()
        honest_pace, before = max(before, after), after
        relu = grade.cells["test-naive-relu"]
        assert grade.error is None and relu.points == 0 and SAID[name] in relu.message, (name, relu.message)
        rest = [c for gid, c in grade.cells.items() if gid != "test-naive-relu"]
        assert all(c.points == 0 and "not asked" in c.message and SAID[name] in c.message for c in rest), name
        assert not any("ran the notebook again" in e for e in grade.events), (name, grade.events)  # no restarts
        assert seconds < 3 * honest_pace + stall, (name, seconds, honest_pace)


@pytest.mark.slow  # grades in the sandbox
def test_what_trips_the_grader_is_graded_and_said_as_what_happened(real_grading: Callable) -> None:
    """A 600-term expression once crashed the integrity scan (RecursionError: never graded); a 100,000-digit
    integer was refused, rightly, but reported as 'cell deleted' tampering."""
    src = source()
    digits = "1" + "0" * 100_000
    both = honest(src)  # a 600-term sum, and a 100,000-digit literal (Python refuses it: that cell fails)
    both.cells.append(nbformat.v4.new_code_cell("def f(a):\n    return " + " + ".join(["a"] * 600)))
    both.cells.append(nbformat.v4.new_code_cell(f"x = {digits}"))
    grade, _ = real_grading(both)
    assert grade.error is None and grade.score == 10  # graded, whatever the scan made of it
    assert not any(line.startswith("tampering") for line in grade.integrity), grade.integrity
    scan_failed = [e for e in grade.events if "scanning the code" in e]
    assert all("internal grader error" in e for e in scan_failed)
    assert [line for line in grade.integrity if "could not finish" in line] == grade.integrity  # a person looks
    assert bool(scan_failed) == bool(grade.integrity)

    raw = nb_bytes(honest(src)).replace(b'"execution_count": null', b'"execution_count": ' + digits.encode(), 1)
    refused, _ = real_grading(raw)
    assert refused.error and "100001 digits" in refused.error and refused.score == 0
    assert not refused.integrity and not any("deleted" in e for e in refused.events), (refused.integrity, refused.events)


def test_a_grader_bug_in_any_stage_is_that_stages_outcome(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every stage's exception ends as a grade that says which stage and what (the fake runner answers
    nothing, so this needs no sandbox): cells judged before it keep their verdicts."""
    from gradbook_grader import execute
    from gradbook_grader.questions import static_manifest

    src = source()
    manifest = static_manifest(src)
    data = nb_bytes(honest(src))

    def run_nothing(nb: Any, limits: Any, **kwargs: Any) -> Any:
        for ask in kwargs["asks"]:
            kwargs["receive"](ask["id"], "not asked")
        return execute.Run({}, [], True)

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(execute, "run_notebook", run_nothing)
    for stage, target, says in [("restore", "restore", "restoring the submission"),
                                ("integrity", "integrity_scan", "scanning the code"),
                                ("judge", "judge_cell", "judging cell"),
                                ("outputs", "_fill_outputs", "filling in the graded notebook"),
                                ("run", "run_notebook", "running the notebook")]:
        with monkeypatch.context() as patch:
            patch.setattr(execute, target, boom)
            grade = execute.grade_submission(data, src, manifest)
        said = [e for e in grade.events + [grade.error or ""] if says in e and "RecursionError" in e]
        assert said and all("internal grader error" in e for e in said), (stage, grade.events, grade.error)
        assert set(grade.cells) == set(manifest.points) and grade.max_score == 10, stage
        assert (grade.error is not None) == (stage == "restore"), stage  # only without a notebook is nothing graded
        if stage == "integrity":
            assert any("could not finish" in line for line in grade.integrity)


# ---------------------------------------------------------------- 4. nothing runs in a browser


def test_safe_notebook_keeps_the_instructors_and_shows_the_students_as_text(tmp_path: Path) -> None:
    src = source()
    nb = hostile_graded(src)
    safe = safe_notebook(nb, src)
    path = tmp_path / "safe.ipynb"
    nbformat.write(safe, path)
    assert_inert(path, src)
    assert safe_notebook(safe, src) == safe, "idempotent: a stored notebook renders the same again"
    assert [c.source for c in safe.cells if c.cell_type == "markdown"][0] == src.cells[0].source  # the instructor's, as is
    shown = visible_text(safe.cells[1].source)
    assert "<script>window.__pwned=5</script>" in shown and "[click](javascript:window.__pwned=7)" in shown  # as text
    outputs = safe.cells[3].outputs
    assert outputs[0].data == {"text/plain": "<HTML object>"}
    assert outputs[1].data == {"text/plain": "<svg xmlns='http://www.w3.org/2000/svg' onload='window.__pwned=3'/>"}
    assert outputs[4].data == {"image/png": PNG} and outputs[5].data == {"text/plain": "42"}
    assert outputs[6].evalue == "<script>window.__pwned=15</script>"  # rendered through ansi2html: escaped
    assert [c.metadata.get("nbgrader", {}).get("grade_id") for c in safe.cells if c.metadata] == [
        c.metadata["nbgrader"]["grade_id"] for c in src.cells if c.metadata.get("nbgrader")]


def test_the_safe_notebook_is_checked_by_nbformats_schema_and_written_as_nbformat_writes_it() -> None:
    """The sanitiser builds its notebook as plain dicts and checks it once with nbformat's schema compiled by
    fastjsonschema (issue 30: nbformat's helpers checked every cell and output again with jsonschema). Judged by
    nbformat's own jsonschema validator and its own helpers: what they refuse (a negative execution count, in a
    cell or in an output leaving the sandbox) is refused, what they accept is valid, written byte for byte as
    `nbformat.writes` writes it."""
    from nbformat import ValidationError
    from nbformat.validator import get_validator

    from gradbook_grader.sanitize import safe_json, sanitize_outputs

    reference = get_validator(4, nbformat.v4.nbformat_minor, name="jsonschema")
    src = source()
    for nb in (honest(src), hostile_graded(src)):
        safe = safe_notebook(nb, src)
        reference.validate(safe)
        assert safe_json(nb, src) == nbformat.writes(safe)
    with pytest.raises(ValidationError):  # nbformat's own helper refuses a negative execution count
        nbformat.v4.new_output("execute_result", data={"text/plain": "1"}, execution_count=-1)
    for count in (-1, 0, 7, "7", None):
        outputs = [{"output_type": "execute_result", "data": {"text/plain": "1"}, "execution_count": count}]
        graded = {"cells": [{"cell_type": "code", "source": "x", "execution_count": count, "outputs": outputs}]}
        if count == -1:
            with pytest.raises(ValidationError):
                safe_notebook(graded, src)
            with pytest.raises(ValidationError):
                sanitize_outputs(outputs, [10_000], [False])
            continue
        safe = safe_notebook(graded, src)
        reference.validate(safe)
        assert safe.cells[0].outputs == sanitize_outputs(outputs, [10_000], [False])


# ---------------------------------------------------------------- 5. integrity flags


@pytest.mark.slow  # spawns grading workers
def test_evidence_flags_the_submission_in_nbgrader_and_never_changes_the_score(tmp_path: Path) -> None:
    course = small_course(tmp_path / "course")
    folder = tmp_path / "submitted"
    src = source()
    cases: dict[str, tuple[dict, dict]] = {
        "copied": ({"integrity": ["naive-relu calls gradbook.reference.activations.relu (line 3)"]}, {}),
        "unsandboxed": ({"unsandboxed": True}, WRONG),
        "tampered": ({"integrity": ["tampering: cell test-naive-add was edited: restored from source"]}, WRONG),
        "reordered": ({"events": ["graded cells were moved: the source's order is restored"]}, {}),  # not a reason to look
        "honest": ({}, {}),
        "partial": ({}, WRONG),
    }
    for name, (fake, wrong) in cases.items():
        nb = honest(src, wrong)
        nb.metadata["fake"] = fake
        put(folder, name, {f"{CH02}.ipynb": nb_bytes(nb)})
    grade(course, folder)
    db = stored(course)
    rows = by_student(journal(course, CH02))
    for name, (fake, wrong) in cases.items():
        assert rows[name].score == db[name]["score"] == expected_score(src, wrong), name  # the score is the grade's
        assert db[name]["flagged"] == bool(fake.get("integrity") or fake.get("unsandboxed")), name
    text = report_text(list(rows.values()))
    assert "copied / 02-tensor-operations: 10 / 10  [FLAGGED]" in text
    assert "  integrity: naive-relu calls gradbook.reference.activations.relu (line 3)" in text
    assert "unsandboxed / 02-tensor-operations: 8 / 10  [NOT SANDBOXED]  [FLAGGED]" in text
    assert "honest / 02-tensor-operations: 10 / 10\n" in text
    csv_rows = exported(course, tmp_path / "grades.csv")
    assert csv_rows["copied"]["flagged"] == "yes" and "gradbook.reference.activations.relu" in csv_rows["copied"]["evidence"]
    assert csv_rows["tampered"]["flagged"] == "yes" and csv_rows["honest"]["flagged"] == "" == csv_rows["honest"]["evidence"]
    # A person's flag is theirs: a regrade without evidence does not clear it.
    with open_gradebook(course) as gb:
        gb.find_submission_notebook(CH02, CH02, "honest").flagged = True
        gb.db.commit()
    grade(course, folder, force=True)
    assert stored(course)["honest"]["flagged"]


# ---------------------------------------------------------------- 6. the terminal


def test_report_escapes_what_a_student_controls(tmp_path: Path) -> None:
    from gradbook_grader.types import CellGrade

    attack = "\x1b[2J\x1b[H\x1b]0;owned\x07\x9b2J\r\u202eevil\u2028x\x00"
    result = Result(f"s{attack}", CH02, "k", "t", 0.0, 1.0, {"t": CellGrade("t", 0.0, 1.0, False, f"line1\n{attack}")},
                    [attack], attack, True, "/x", integrity=[attack], notes=[attack])
    text = report_text([result])
    assert terminal_safe(text)
    assert "\\x1b[2J\\x1b[H\\x1b]0;owned\\x07\\x9b2J\\x0d\\u202eevil\\u2028x\\x00" in text  # shown, not acted on
    assert text.count("\n") == len(text.splitlines()) - 1  # no field starts a line of its own
    assert all(line.startswith(("s\\x1b", "  ")) for line in text.splitlines())


def test_cli_prints_only_escaped_student_text(tmp_path: Path) -> None:
    """`gradbook-grader report` from the command line, over a journal holding escapes."""
    import subprocess
    import sys

    from gradbook_grader.journal import write_journal
    from gradbook_grader.types import CellGrade

    course = small_course(tmp_path / "course")
    write_journal(course, Result("eve\x1b[2J", CH02, "k", "t", 0.0, 1.0, {"t": CellGrade("t", 0.0, 1.0, False, "\x1b]0;x\x07")},
                                 ["\x1b[31mred"], "\r\x1b[Kerror", True, "/x"))
    cli = str(Path(sys.executable).parent / "gradbook-grader")
    out = subprocess.run([cli, "report", "--course", str(course.root)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert terminal_safe(out.stdout) and "eve\\x1b[2J" in out.stdout
