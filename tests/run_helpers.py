"""What a test run computes once and shares with every test that needs it, on any xdist worker.

The controller (conftest.pytest_configure) makes a folder for the run and names it in RUN_ENV; its
workers inherit it. `once` computes a result in the first process that asks for it, under a lock (one
that asks meanwhile waits for it instead of computing it again), and every later caller reads it
there. Only what a run cannot change belongs here: results of the repository's own, unmodified
code and sources (a test that changes them computes its own).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Callable, Iterator

import pytest

from conftest import RUN_ENV
from gradbook.checks.registry import Chapter
from gradbook_grader import mistakes, recording


def once(name: str, compute: Callable[[], bytes]) -> bytes:
    """`compute()`'s bytes, computed once a run under `name` (a file name); every call when no run folder is set."""
    folder = os.environ.get(RUN_ENV)
    if not folder or not Path(folder).is_dir():
        return compute()
    path = Path(folder) / name
    with open(path.with_name(f"{name}.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if compute() raises
        if not path.exists():
            written = path.with_name(f"{name}.{os.getpid()}.tmp")
            written.write_bytes(compute())
            os.replace(written, path)
        return path.read_bytes()


_record = recording._chapter_files  # the real ones: the contexts below put this module's functions in their place
_prove = mistakes.mistake_problems


def mistake_problems(sources: dict[str, Path]) -> list[str]:
    """`mistakes.mistake_problems`, each assignment's proved once a run for its source notebook's content: `release`
    proves every known mistake of every chapter rejected (a minute or more for the course on a busy machine), and
    the test that compares a fresh release with notebooks/, the course hub's and the grader's scratch courses would
    each do it again for the same notebooks."""
    problems = []
    for name, source in sources.items():
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16]
        found = once(f"mistakes-{name}-{digest}.json",
                     lambda one={name: source}: json.dumps(_prove(one)).encode("utf-8"))
        problems += json.loads(found)
    return problems


@contextlib.contextmanager
def mistakes_proved_once() -> Iterator[None]:
    """While it lasts, `release` takes its refusal of unrejected mistakes from `mistake_problems`. Only while the
    checks are the repository's own, as they are: a test that changes an exercise or its mistakes releases without
    it (the result is keyed by the notebook, not by the checks)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mistakes, "mistake_problems", mistake_problems)
        yield



def chapter_files(chapter: Chapter) -> dict[str, bytes]:
    """The student edition's files of a chapter's checks (`recording._chapter_files`: the generated module and its
    recording), recorded once a run: recording every chapter takes half a minute or more, and the recorded-checks
    test, the student edition's and the course hub's would each do it (the same function on the same code)."""
    def compute() -> bytes:
        files = _record(chapter)
        return json.dumps({name: data.decode("utf-8") for name, data in files.items()}).encode("utf-8")

    recorded = json.loads(once(f"recorded-{chapter.key}.json", compute))
    return {name: text.encode("utf-8") for name, text in recorded.items()}


@contextlib.contextmanager
def chapters_recorded_once() -> Iterator[None]:
    """While it lasts, the student edition's build (`recording.edition_checks`) takes each chapter's recorded
    checks from `chapter_files`. Only for the repository's own chapters, as they are: a test that changes a
    chapter's checks or answers records it itself (`recording.recorded_module`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recording, "_chapter_files", chapter_files)
        yield
