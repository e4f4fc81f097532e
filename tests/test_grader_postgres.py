"""The gradebook on a real PostgreSQL server: two workers, one writer, every grade stored."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import nbformat
import pytest

from conftest import require
from gradbook_grader.batch import grade_assignment
from gradbook_grader.course import Course
from gradbook_grader.gradebook import open_gradebook

from grader_helpers import CH02, answered, scratch_course, student_notebook

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_server_user(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run it as the `postgres` account then."""
    if os.geteuid() == 0:
        require(shutil.which("runuser") is not None, "runuser is needed to start PostgreSQL as root")
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    require((PG_BIN / "postgres").exists() and (PG_BIN / "initdb").exists(), f"PostgreSQL server binaries not in {PG_BIN}")
    base = Path(tempfile.mkdtemp(prefix="gradbook-pg-"))  # not pytest's tmp: that is private to root
    data = base / "data"
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    port = _free_port()
    run = lambda *cmd: subprocess.run(_as_server_user(list(cmd)), check=True, capture_output=True, text=True)  # noqa: E731
    run(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
    run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(base / "log"), "-w", "-o",
        f"-h 127.0.0.1 -p {port} -k {base}", "start")
    try:
        import psycopg2

        admin = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        admin.autocommit = True
        admin.cursor().execute("CREATE DATABASE gradebook")
        admin.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        run(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


def test_two_workers_store_every_grade_in_postgres(postgres_url: str, tmp_path: Path) -> None:
    course = scratch_course(tmp_path / "course", db_url=postgres_url)
    folder = tmp_path / "flat"
    folder.mkdir()
    expected = {}
    for n in range(3):
        nbformat.write(answered(course, CH02), folder / f"full{n}.ipynb")
        expected[f"full{n}"] = 10.0
    nbformat.write(student_notebook(course, CH02), folder / "empty.ipynb")
    expected["empty"] = 0.0

    report = grade_assignment(course, CH02, folder, workers=2, progress=False)
    assert {r.student: r.score for r in report.results} == expected

    with open_gradebook(course) as gb:
        assert course.gradebook_url.startswith("postgresql")
        stored = {s.student_id: s.score for s in gb.find_assignment(CH02).submissions}
        assert stored == expected
        assert gb.find_submission(CH02, "full0").notebooks[0].max_score == 10

    # A second course object over the same database (e.g. another instructor's machine) sees them too.
    again = grade_assignment(Course(course.root, course.solutions, course.notebooks, postgres_url), CH02, folder,
                             workers=2, progress=False)
    assert again.reused == 4 and again.graded == 0
