"""Verdicts from plain data, computed OUTSIDE the sandbox; and the manifest they are held to.

The manifest says, per graded test cell, which checks (exercise name, hidden or not) the
instructor's solution recorded when it ran in the same sandbox. A submission's cell earns
its points iff every one of those checks was recorded again by the submission's run of
that cell, with the seed the grader chose, and `gradbook.checks.judge` passes each record.
Records are untrusted files: size-checked, read with ``allow_pickle=False`` (never
unpickled), and anything odd is a failed check with a reason, never an exception.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from nbformat import NotebookNode

from gradbook_grader.restore import grade_id, is_graded, is_solution, is_test_cell, points
from gradbook_grader.types import Expectation, Limits, Manifest

MANIFEST_SEED = 20_240_601
MAX_RECORD_BYTES = 16 * 1024 * 1024
MAX_RECORD_ARRAYS = 512
MAX_UNCOMPRESSED = 64 * 1024 * 1024
MAX_RECORDS_PER_CHECK = 8  # a test cell calls each check once; a few more are tolerated


@dataclass
class Record:
    name: str
    exercise: str | None = None
    hidden: bool = False
    seed: int | None = None
    observation: dict | None = None
    problem: str | None = None  # unreadable, forged, ...


@dataclass
class CellJudgement:
    passed: bool
    message: str
    lines: list[str] = field(default_factory=list)  # one "✔ ..." line per passed check
    tampered: list[str] = field(default_factory=list)


def source_digest(source_nb: NotebookNode) -> str:
    parts = [
        json.dumps([c.get("cell_type"), c.get("source"), c.get("metadata", {}).get("nbgrader")], sort_keys=True)
        for c in source_nb.cells
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _check_npz(data: bytes) -> None:
    """Refuse zip/npy bombs before numpy allocates anything."""
    from numpy.lib import format as npy

    if len(data) > MAX_RECORD_BYTES:
        raise ValueError(f"record larger than {MAX_RECORD_BYTES:,} bytes")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_RECORD_ARRAYS:
            raise ValueError("too many arrays in record")
        if sum(i.file_size for i in infos) > MAX_UNCOMPRESSED:
            raise ValueError("record expands too much")
        for info in infos:
            with zf.open(info) as f:
                version = npy.read_magic(f)
                if version == (1, 0):
                    shape, _, dtype = npy.read_array_header_1_0(f, max_header_size=10_000)
                elif version == (2, 0):
                    shape, _, dtype = npy.read_array_header_2_0(f, max_header_size=10_000)
                else:
                    raise ValueError("unsupported array format")
                count = 1
                for n in shape:
                    count *= int(n)
                if dtype.hasobject or count * max(dtype.itemsize, 1) > info.file_size:
                    raise ValueError("array header does not match its data")


def load_record(name: str, data: bytes) -> Record:
    """Untrusted bytes to a `Record`; problems are reported in it, never raised."""
    from gradbook.checks import plain

    rec = Record(name)
    try:
        _check_npz(data)
        value = plain.loads(data)
        if not isinstance(value, dict):
            raise ValueError("not an observation")
        exercise, hidden, seed = value.get("exercise"), value.get("hidden"), value.get("seed")
        if not isinstance(exercise, str) or not isinstance(hidden, bool) or type(seed) is not int:
            raise ValueError("not an observation")
        if not isinstance(value.get("results"), list):
            raise ValueError("not an observation")
        rec.exercise, rec.hidden, rec.seed, rec.observation = exercise, hidden, seed, value
    except Exception as error:  # noqa: BLE001 - anything odd is a failed record
        rec.problem = f"unreadable record {name[:80]!r}: {str(error)[:200]}"
    return rec


def judge_records(
    expected: list[Expectation],
    records: list[Record],
    seed: int,
    registry: dict[str, Any],
    *,
    cell_problem: str | None = None,
) -> CellJudgement:
    """All-or-nothing verdict for one graded test cell."""
    from gradbook.checks.core import VISIBLE_SEED, judge

    if not expected:
        return CellJudgement(False, "this test cell recorded no checks when the solution ran, so it cannot be graded safely")
    tampered: list[str] = []
    lines: list[str] = []
    failures: list[str] = []
    missing: list[str] = []
    for exp in expected:
        exercise = registry.get(exp.exercise)
        label = (exercise.title if exercise is not None else exp.exercise) + (" (hidden tests)" if exp.hidden else "")
        if exercise is None:
            failures.append(f"{label}: the grader does not know this check")
            continue
        mine = [r for r in records if r.problem is None and r.exercise == exp.exercise and r.hidden == exp.hidden]
        if not mine:
            missing.append(label)
            continue
        want_seed = seed if exp.hidden else VISIBLE_SEED
        ok_here = True
        if len(mine) > MAX_RECORDS_PER_CHECK:
            tampered.append(f"{len(mine)} records for {label}: more than the {MAX_RECORDS_PER_CHECK} a test cell makes")
            failures.append(f"{label}: too many records ({len(mine)}); they do not count")
            continue
        for rec in mine:
            if rec.seed != want_seed:
                tampered.append(f"record {rec.name[:80]!r} claims seed {rec.seed}, the grader used {want_seed}")
                failures.append(f"{label}: a record was forged (wrong seed); it does not count")
                ok_here = False
                break
            try:
                verdict = judge(exercise, rec.observation)
            except Exception as error:  # noqa: BLE001 - a crafted record must not crash the grader
                failures.append(f"{label}: the recorded answer could not be judged ({type(error).__name__})")
                ok_here = False
                break
            if not verdict.passed:
                failures.append(verdict.message)
                ok_here = False
                break
        if ok_here:
            lines.append(f"\u2714 {label}: {verdict.message}")
    for rec in records:
        if rec.problem:
            tampered.append(rec.problem)
    if failures:
        return CellJudgement(False, failures[0], lines, tampered)
    if missing:
        why = f"\n{cell_problem}" if cell_problem else ""
        return CellJudgement(False, f"these checks did not run: {', '.join(missing)}{why}", lines, tampered)
    return CellJudgement(True, "\n".join(lines), lines, tampered)


def build_manifest(source_nb: NotebookNode, limits: Limits = Limits(), **run_options: Any) -> "Manifest":
    """Run the instructor's solution once in the same sandbox; record which checks each test cell makes."""
    from gradbook.checks import load_all
    from gradbook_grader.execute import run_notebook, strip_outputs

    registry = load_all()
    nb = strip_outputs(source_nb)
    run = run_notebook(nb, limits, seed=MANIFEST_SEED, **run_options)
    manifest = Manifest(source_digest=source_digest(source_nb))
    # what keeps the solution from being graded is a problem; a long output is not
    manifest.problems.extend(
        f"solution run: {e}" for e in run.events if not e.startswith(("output truncated", "oversized"))
    )
    for index, cell in enumerate(nb.cells):
        gid = grade_id(cell)
        if not gid or not is_graded(cell):
            continue
        manifest.points[gid] = points(cell)
        if not is_test_cell(cell):
            continue
        cell_run = run.cells.get(index)
        records = [load_record(n, d) for n, d in (cell_run.records if cell_run else [])]
        keys: list[Expectation] = []
        for rec in records:
            if rec.problem is None and rec.exercise in registry:
                key = Expectation(rec.exercise, rec.hidden)
                if key not in keys:
                    keys.append(key)
        manifest.expected[gid] = keys
        if not keys:
            manifest.problems.append(f"test cell {gid} recorded no checks: it will score 0 for everyone")
            continue
        judgement = judge_records(keys, records, MANIFEST_SEED, registry)
        if not judgement.passed:
            manifest.problems.append(f"the solution fails its own test cell {gid}: {judgement.message[:300]}")
        if cell_run is not None and cell_run.status not in ("ok",):
            manifest.problems.append(f"the solution's test cell {gid} ended with {cell_run.status}")
    return manifest


def manual_cell(cell: NotebookNode) -> bool:
    """A graded answer cell (solution + grade): nbgrader leaves it to a person."""
    return is_graded(cell) and is_solution(cell)
