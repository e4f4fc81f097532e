"""The course secret (gradbook_grader.secret): a submission's hidden seed is HMAC(secret, key), computed
where the secret is (the process that submits the batch), handed to local and Dask workers as a number,
and the secret never reaches a sandbox."""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

import fake_grading
from conftest import require
from fake_grading import CH02, honest, small_course
from gradbook_grader import sandbox
from gradbook_grader.batch import grade_assignment, journal
from gradbook_grader.course import Course, GraderError
from gradbook_grader.export import export_csv
from gradbook_grader.journal import JOURNAL_NAME
from gradbook_grader.secret import SECRET_BYTES, course_secret, ensure_secret, hidden_seed, secret_path
from gradbook_grader.types import Limits, Manifest, SubmissionGrade


def seed_of(secret: bytes, key: str) -> int:
    """The documented formula, written out here: the first 8 bytes of HMAC-SHA256, big-endian, in 1 .. 2**31-2."""
    return int.from_bytes(hmac.new(secret, key.encode(), hashlib.sha256).digest()[:8], "big") % (2**31 - 2) + 1


def recording_grade(submission: Any, source_nb: nbformat.NotebookNode, manifest: Manifest, *,
                    limits: Limits = Limits(), seed: int | None = None, **options: Any) -> SubmissionGrade:
    """The fake execution side, saying which seed it was given (run in the batch's workers, by name)."""
    graded = fake_grading.grade_submission(submission, source_nb, manifest, limits=limits, seed=seed)
    graded.events.append(f"seed {seed!r}")
    return graded


def seeds(course: Course) -> dict[str, tuple[str, int]]:
    return {r.student: (r.key, int(next(e for e in r.events if e.startswith("seed ")).split()[1]))
            for r in journal(course, CH02)}


def set_secret(course: Course, secret: bytes) -> None:
    secret_path(course).unlink(missing_ok=True)
    secret_path(course).write_bytes(secret)


@pytest.fixture
def course(tmp_path: Path) -> Course:
    course = small_course(tmp_path)
    folder = tmp_path / "submitted" / "ann" / CH02
    folder.mkdir(parents=True)
    nbformat.write(honest(nbformat.read(course.source(CH02), as_version=4)), folder / f"{CH02}.ipynb")
    return course


def test_hidden_seeds_are_never_the_visible_seed_and_depend_on_every_bit_of_the_key() -> None:
    secret = bytes(range(SECRET_BYTES))
    values = [hidden_seed(secret, f"{n:064x}") for n in range(2000)]
    assert all(1 <= v < 2**31 - 1 for v in values) and len(set(values)) == len(values)
    assert values == [seed_of(secret, f"{n:064x}") for n in range(2000)]


def test_the_first_grading_of_a_new_course_makes_the_secret_private_and_says_so(
        course: Course, capsys: pytest.CaptureFixture) -> None:
    assert not secret_path(course).exists()
    secret = course_secret(course)
    assert len(secret) == SECRET_BYTES and secret_path(course).read_bytes() == secret
    assert stat.S_IMODE(secret_path(course).stat().st_mode) == 0o600
    assert "made the course secret" in capsys.readouterr().err
    assert course_secret(course) == secret and ensure_secret(course) is False  # made once, then read
    assert subprocess.run(["git", "check-ignore", "-q", "autograder/.gradbook-secret"],
                          cwd=fake_grading.ROOT).returncode == 0, "the course secret must be git-ignored"


def test_a_course_that_graded_and_lost_its_secret_refuses_and_says_how_to_recover(course: Course) -> None:
    entry = course.autograded("ann", CH02) / JOURNAL_NAME
    entry.parent.mkdir(parents=True)
    entry.write_text("{}")
    with pytest.raises(GraderError, match=r"(?s)missing.*back from your backup.*gradbook-grader release"):
        course_secret(course)
    assert not secret_path(course).exists()  # nothing made behind the instructor's back
    secret_path(course).write_bytes(b"short")
    with pytest.raises(GraderError, match="damaged"):
        course_secret(course)
    secret_path(course).write_bytes(b"k" * SECRET_BYTES)
    secret_path(course).chmod(0o644)
    assert course_secret(course) == b"k" * SECRET_BYTES
    assert stat.S_IMODE(secret_path(course).stat().st_mode) == 0o600  # a restored copy is made private again


def test_release_makes_the_secret(course: Course, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture) -> None:
    from gradbook_grader import cli, course as course_module

    monkeypatch.setattr(course_module, "release", lambda *args: [])  # the command's wiring, not nbgrader's release
    assert cli.main(["release", CH02, "--no-manifests", "--course", str(course.root)]) == 0
    assert len(secret_path(course).read_bytes()) == SECRET_BYTES
    assert "made the course secret" in capsys.readouterr().err


@pytest.mark.sandbox
def test_the_secret_is_not_in_the_sandbox(course: Course) -> None:
    """Not in the runner's arguments or environment, not under anything bound into it, not readable in it:
    for a scratch course and for this repository's own autograder/ (beside the .venv the sandbox binds)."""
    require(sandbox.bwrap_problem() is None, f"the sandbox is needed: {sandbox.bwrap_problem()}")
    secret = course_secret(course)
    command = sandbox.build_command(Limits())
    try:
        argv, env = command.argv, command.env
        words = argv + [f"{k}={v}" for k, v in env.items()]
        assert not any(secret.hex() in w or secret.decode("latin-1") in w for w in words)
        bound = [Path(argv[i + 1]) for i, a in enumerate(argv) if a in ("--bind", "--ro-bind", "--dev-bind")]
        for path in (secret_path(course), fake_grading.ROOT / "autograder" / ".gradbook-secret"):
            assert not [b for b in bound if b == path or b in path.parents], f"{path} is under a bound directory"
        probe = ("import os, sys; paths = sys.argv[1:]; "
                 "print(any(os.path.exists(p) for p in paths) or any(os.path.exists(os.path.dirname(p)) for p in paths))")
        shell = argv[: argv.index("--") + 1] + [sys.executable, "-c", probe, str(secret_path(course)),
                                                 str(fake_grading.ROOT / "autograder" / ".gradbook-secret")]
        seen = subprocess.run(shell, env=env, capture_output=True, text=True, timeout=120)
        assert seen.returncode == 0 and seen.stdout.strip() == "False", seen.stdout + seen.stderr
    finally:
        command.finished()


@pytest.mark.slow
@pytest.mark.sandbox
def test_two_secrets_give_a_submission_two_hidden_seeds_and_workers_get_only_the_seed(
        course: Course, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    """Local worker processes with one secret, then a Dask cluster with another, twice (a regrade): the seed is
    HMAC(secret, key) each time. On the cluster path every task's arguments and the shared context are
    pickled as Dask ships them and searched for the secret."""
    require(sandbox.bwrap_problem() is None, f"a Dask worker refuses to grade without a sandbox: {sandbox.bwrap_problem()}")
    import cloudpickle  # how Dask ships what pickle cannot
    from distributed import Client, Future, LocalCluster

    from gradbook_grader.cluster import DaskEngine

    submitted = course.root.parent / "submitted"
    one, two = os.urandom(SECRET_BYTES), os.urandom(SECRET_BYTES)
    set_secret(course, one)
    grade_assignment(course, CH02, submitted, workers=1, progress=False, grade=recording_grade)
    key, first = seeds(course)["ann"]
    assert first == seed_of(one, key)

    set_secret(course, two)
    sent: list[tuple] = []
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        submit = client.submit
        monkeypatch.setattr(client, "submit", lambda fn, *args, **kw: (sent.append(args), submit(fn, *args, **kw))[1])
        for _ in range(2):  # a regrade gets the same seed
            grade_assignment(course, CH02, submitted, progress=False, grade=recording_grade, force=True,
                             engine=DaskEngine(client))
            assert seeds(course)["ann"] == (key, seed_of(two, key)) and seed_of(two, key) != first
    tasks = [args for args in sent if len(args) == 3]
    assert len(tasks) == 2 and all(type(t[1]) is bytes and t[2] == seed_of(two, key) for t in tasks)
    for args in sent:
        for value in args:
            if not isinstance(value, Future):  # the shared context's handle: its value is one of `sent`
                blob = cloudpickle.dumps(value)
                assert two not in blob and two.hex().encode() not in blob, type(value)
    assert "made the course secret" not in capsys.readouterr().err
    export_csv(course, course.root.parent / "grades.csv", "long")
    written = [p for p in course.root.parent.rglob("*") if p.is_file() and p != secret_path(course)]
    assert len(written) > 5 and not [p for p in written for s in (one, two)
                                     if s in p.read_bytes() or s.hex().encode() in p.read_bytes().lower()]
