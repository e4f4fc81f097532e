"""Grade one submission: restore it, run it in the sandbox, ask it the checks' questions, judge outside.

The trust model (docs/architecture.md, "What a grade guarantees"):

1. The notebook runs in the sandbox, cell by cell, except its graded test cells: their text
   (hidden tests included) never enters the student's process.
2. Then the grader asks. For every check of every test cell (read from the instructor's
   source by `questions`), it builds the cases here, from a seed the sandbox never sees, and
   sends only their inputs; the sandboxed process calls the student's answer on them through
   the exercise's driver and sends back plain outputs.
3. Here, `gradbook.checks.judge` compares those outputs with the reference, which the sandbox
   does not have. A cell earns its points iff every one of its checks passes.

So the grade depends only on what the student's code computes on inputs it could not know in
advance. `grade_submission` never raises for a bad submission: invalid JSON, a notebook that
kills its own process, loops forever, eats memory or disk, prints gigabytes or answers
nonsense all end as a `SubmissionGrade` with reasons.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import nbformat
from nbformat import NotebookNode

from gradbook.i18n import _, normalize, notebook_language, using
from gradbook_grader.answers import chapters_graded
from gradbook_grader.integrity import scan as integrity_scan
from gradbook_grader.nbcells import grade_id, is_graded, is_test_cell, strip_hidden_tests
from gradbook_grader.outputs import FAIL, cap, sanitize_outputs, verdict_outputs
from gradbook_grader.process import RunnerProcess, Stop
from gradbook_grader.restore import SubmissionError, parse_submission, restore
from gradbook_grader.types import CellGrade, Limits, Manifest, SubmissionGrade
from gradbook_grader.verdict import Answer, judge_cell, manual_cell, source_digest

MAX_MESSAGE = 4000  # a cell's verdict text (the student's exception text can be long)
MAX_EVENTS = 100
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # plain data of one question's answers, decoded
MAX_SUBMISSION_ANSWER_BYTES = 64 * 1024 * 1024  # all answers of one submission, held until judged


@dataclass
class CellRun:
    index: int
    status: str  # ok | error | not run | how the runner stopped in it (a `Stop`'s value: timeout, died, ...)
    outputs: list[dict] = field(default_factory=list)
    reason: str = ""  # why it did not finish / did not run
    seconds: float = 0.0


@dataclass
class Run:
    cells: dict[int, CellRun]
    events: list[str]
    sandboxed: bool
    stopped: str | None = None  # why execution stopped early
    seconds: float = 0.0


def strip_outputs(nb: NotebookNode) -> NotebookNode:
    copy = nbformat.from_dict(json.loads(json.dumps(nb)))
    for cell in copy.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return copy


def _default_data_dir() -> Path | None:
    """The datasets cache ($GRADBOOK_DATA or the user cache), mounted read-only at /data."""
    try:
        from gradbook.datasets.mnist import data_directory

        candidate = data_directory()
        return candidate if candidate.is_dir() else None
    except Exception:  # noqa: BLE001 - no datasets: notebooks fall back or say what is missing
        return None


MAX_RESTARTS = 3
# How a runner stopped decides whether a fresh run is worth it (`process.Stop`, never the message's words):
NO_RESTART = frozenset({Stop.UNAVAILABLE, Stop.BUDGET})  # another sandbox would say the same; no time is left
# While questions are asked, a runner that stalls or breaks the protocol is not answering: the rest of its
# questions fail with that reason at once (a cell that does so is skipped in a fresh run, as one that times out).
NOT_ANSWERING = frozenset({Stop.STALLED, Stop.PROTOCOL})
STOPPED = frozenset(stop.value for stop in Stop)  # a cell's status when it did not finish


def run_notebook(
    nb: NotebookNode,
    limits: Limits = Limits(),
    *,
    skip: frozenset[int] | set[int] = frozenset(),
    asks: list[dict] | None = None,
    receive: Callable[[int, dict | str], None] = lambda n, reply: None,
    sandbox_mode: str | None = None,
    data_dir: Path | None = None,
    extra_files: dict[str, Path] | None = None,
    workdir: Path | None = None,
    runners: Callable[[float], RunnerProcess] | None = None,
    language: str = "en",
    chapters: tuple[str, ...] = (),
) -> Run:
    """Execute the code cells of `nb` (except `skip`) in a sandboxed runner, then send `asks`.

    Each ask's reply (or why there is none) goes to `receive` as it arrives, so the grader
    holds at most one raw reply at a time.

    A cell that kills its process or never finishes costs what depends on it, not the rest:
    the notebook is run again in a fresh sandbox without that cell (at most `MAX_RESTARTS`
    times, within the submission's total time), and the remaining questions are asked there.
    A question whose answer kills the process is answered by that, and the others are asked
    in a fresh run.

    `runners(deadline)`, when given, supplies each run's runner (a fresh one every time: a warm
    pool's, `gradbook_grader.warm`, started with the same sandbox options) instead of starting it here.

    `chapters`: those being graded; their answers are stubs in the sandbox's library (a runner from
    `runners` started for other chapters is refused).

    `language`: the runner is asked to speak it before any cell runs (`gradbook.i18n`), so the notebook's
    own messages and the drivers' come back in the submission's language.
    """
    start = time.monotonic()
    deadline = start + limits.total_timeout
    code_cells = [i for i, c in enumerate(nb.cells) if c.get("cell_type") == "code" and i not in skip]
    cells: dict[int, CellRun] = {}
    budget = [limits.max_output_bytes + 4096]  # the runner's own truncation notes fit
    truncated = [False]
    pending = list(asks or [])
    bad: set[int] = set()
    events: list[str] = []
    sandboxed, stopped = False, None
    for attempt in range(MAX_RESTARTS + 1):
        with runners(deadline) if runners is not None else RunnerProcess(
                limits, sandbox_mode=sandbox_mode, data_dir=data_dir or _default_data_dir(),
                extra_files=extra_files, workdir=workdir, deadline=deadline, chapters=chapters) as runner:
            if runner.chapters != chapters:
                runner.refuse(f"the sandbox could not be started for chapters {chapters}: it was started for {runner.chapters}")
            sandboxed = runner.sandboxed
            broke = asking = False
            if language != "en":
                runner.request({"op": "language", "language": language},
                               lambda m: m.get("type") == "language", "setting the language")  # type: ignore[misc]
            for index in code_cells:
                if index in bad:
                    continue
                began = time.monotonic()
                reply, status = runner.request(
                    {"op": "run", "cell": index, "source": nb.cells[index].get("source", "")},
                    lambda m, i=index: m.get("type") == "done" and m.get("cell") == i,  # type: ignore[misc]
                    f"cell {index}",
                )
                if reply is None:
                    if status != "not run":
                        bad.add(index)
                        cells[index] = CellRun(index, status, reason=runner.stopped or status, seconds=time.monotonic() - began)
                    broke = True
                    break
                if index in cells:
                    continue  # a re-run: the first run's outputs are what the student's notebook shows
                run = CellRun(index, "ok" if reply.get("status") == "ok" else "error", seconds=time.monotonic() - began)
                run.outputs = sanitize_outputs(reply.get("outputs"), budget, truncated)
                cells[index] = run
                runner.events.extend(_limit_events(run, limits))
            while pending and not broke:
                ask = pending.pop(0)
                asking = True
                reply, status = runner.request(
                    ask, lambda m, n=ask["id"]: m.get("type") == "answers" and m.get("id") == n,  # type: ignore[misc]
                    f"the check of `{ask['expr']}`",
                )
                receive(ask["id"], reply if reply is not None else (runner.stopped or status))
                broke = reply is None
                if broke and runner.stop is Stop.TIMEOUT:  # the same answer would spin again: one limit per answer
                    for same in [a for a in pending if a["expr"] == ask["expr"]]:
                        pending.remove(same)
                        receive(same["id"], f"not asked: {runner.stopped}")
        events.extend(e for e in runner.events if e not in events)
        stopped = stopped or runner.stopped
        if not broke or runner.stop is None or time.monotonic() >= deadline - 1:
            break
        if runner.stop in NO_RESTART or (asking and runner.stop in NOT_ANSWERING):
            break  # the sandbox is broken, the time is up, or the runner is not answering: asking again says the same
        events.append(f"ran the notebook again without the cells that stopped it (cells {sorted(bad)})")
    for index in code_cells:
        cells.setdefault(index, CellRun(index, "not run", reason=f"not run: {stopped}" if stopped else "not run"))
    for ask in pending:
        receive(ask["id"], f"not asked: {stopped}" if stopped else "not asked")
    if truncated[0]:
        events.append(f"output truncated (limit {limits.max_output_bytes:,} bytes)")
    return Run(cells, events, sandboxed, stopped, time.monotonic() - start)


def _limit_events(run: CellRun, limits: Limits) -> list[str]:
    """Name the limit a cell ran into, from what it printed, for the instructor's report."""
    errors = [o for o in run.outputs if o["output_type"] == "error"]
    said = " ".join(f"{o.get('ename')} {o.get('evalue')}" for o in errors)
    said += " ".join(o.get("text", "") for o in run.outputs if o["output_type"] == "stream")[-4000:]
    events = []
    if any(o.get("ename") == "MemoryError" for o in errors) or "Cannot allocate memory" in said:
        events.append(f"memory limit hit in cell {run.index} ({limits.memory_mb} MB)")
    if "No space left on device" in said or "File too large" in said:
        events.append(f"disk limit hit in cell {run.index} ({limits.max_file_mb} MB)")
    if any(o.get("ename") == "BlockingIOError" for o in errors) or "can't start new thread" in said:
        events.append(f"process limit hit in cell {run.index} ({limits.max_processes} processes)")
    return events


def _questions(nb: NotebookNode, manifest: Manifest, seed: int, registry: dict[str, Any]) -> tuple[list[dict], dict[int, Answer]]:
    """The asks for every check of every graded test cell, with the cases made here from `seed`."""
    from gradbook.checks.core import VISIBLE_SEED
    from gradbook.checks.plain import to_wire

    asks: list[dict] = []
    pending: dict[int, Answer] = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if not gid or not is_test_cell(cell):
            continue
        for question in manifest.expected.get(gid, []):
            exercise = registry.get(question.exercise)
            if exercise is None:
                continue  # judge_cell says so
            case_seed = seed if question.hidden else VISIBLE_SEED
            n = len(pending)
            pending[n] = Answer(gid, question, case_seed)
            try:
                cases = exercise.make_cases(case_seed, question.hidden)
                ask = {"op": "ask", "id": n, "expr": question.expr, "driver": exercise.run,
                       "value": bool(exercise.value), "cases": to_wire([(case.args, case.kwargs) for case in cases])}
            except Exception as exc:  # noqa: BLE001 - the grader's bug: this question's outcome
                pending[n].problem = internal_error(f"making the cases of {exercise.name}", exc)
                continue
            asks.append(ask)
    return asks, pending


def _read_reply(answer: Answer, reply: Any, left: list[int]) -> Answer:
    """The runner's untrusted reply to one ask, as plain results, or the reason there are none.

    `left` is what the submission may still send in all (bytes of plain data): past it, answers
    are refused, so one submission's answers never hold more than that of the grader's memory.
    """
    from gradbook.checks.plain import WireError, from_wire

    if isinstance(reply, str):
        answer.problem = reply
        return answer
    results = reply.get("results") if isinstance(reply, dict) else None
    if not isinstance(results, list):
        answer.problem = "the sandbox sent no answers"
        return answer
    budget = min(MAX_ANSWER_BYTES, left[0])
    clean = []
    try:
        for item in results[:1000]:
            if not isinstance(item, dict):
                raise WireError("an answer is not an object")
            out = from_wire(item.get("out"), max_bytes=budget)
            budget -= _size(out)
            left[0] -= _size(out)
            error = item.get("error")
            inputs = item.get("inputs")
            clean.append({"out": out, "error": error[:4000] if isinstance(error, str) else None,
                          "inputs": inputs[:128] if isinstance(inputs, str) else ""})
    except (WireError, RecursionError) as error:
        answer.problem = f"the answer could not be read: {str(error)[:200]}"
        answer.tampered = True
        return answer
    answer.results = clean
    return answer


def _size(value: Any) -> int:
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    if isinstance(value, (list, tuple)):
        return sum(_size(v) for v in value) + 8
    if isinstance(value, dict):
        return sum(_size(v) for v in value.values()) + 8
    return 8


def grade_submission(
    submission: Path | bytes | NotebookNode,
    source_nb: NotebookNode,
    manifest: Manifest,
    *,
    limits: Limits = Limits(),
    seed: int | None = None,
    workdir: Path | None = None,
    extra_files: dict[str, Path] | None = None,
    sandbox_mode: str | None = None,
    data_dir: Path | None = None,
    runners: Callable[[float], RunnerProcess] | None = None,
    language: str | None = None,
) -> SubmissionGrade:
    """Restore, run in the sandbox, ask, judge outside. Never raises for a bad submission.

    Nor for a bug of the grader's own: an exception in any stage is that stage's outcome, named in
    the events (and on the cells it cost), and the rest is graded as far as it can be: cells judged
    before it keep their verdicts, the others score 0 with the reason. Only when nothing could be
    graded is it the submission's `error`.

    `runners`: see `run_notebook` (a warm pool's `take`, which then owns the sandbox options).
    `language`: of the verdicts and the graded notebook; by default the submission's own
    (`metadata.gradbook.language`, as `release` writes it into a translated chapter), else English.
    The language changes only the words: the questions, the answers and the points are the same.
    """
    options = dict(limits=limits, workdir=workdir, extra_files=extra_files, sandbox_mode=sandbox_mode,
                   data_dir=data_dir, runners=runners)
    try:
        return _grade(submission, source_nb, manifest, seed, language, options)
    except Exception as exc:  # noqa: BLE001 - a grader bug outside every stage's guard: still an outcome
        return _not_graded(source_nb, manifest, internal_error("grading", exc))


def internal_error(stage: str, exc: BaseException) -> str:
    """A grader bug, said as what it is (the instructor's report; the student sees it on the cells it cost)."""
    return f"internal grader error while {stage}: {type(exc).__name__}: {cap(str(exc), 300)}"


def _not_graded(source_nb: NotebookNode, manifest: Manifest, error: str, language: str = "en") -> SubmissionGrade:
    """Nothing of the submission could be graded: every graded cell 0, saying why; the graded notebook is
    the released one (solutions stubbed, hidden tests gone), or an empty one if even that cannot be made."""
    with using(language):
        message = cap(_("not graded: {error}").format(error=error), MAX_MESSAGE)
    cells = {gid: CellGrade(gid, 0.0, float(pts), False, message) for gid, pts in manifest.points.items()}
    try:
        nb = restore(nbformat.v4.new_notebook(), source_nb).notebook
        for cell in nb.cells:
            if is_test_cell(cell):
                cell.source = strip_hidden_tests(cell.source)
                cell.outputs = verdict_outputs(False, message)
                cell.metadata["gradbook"] = {"trusted_verdict": True}
    except Exception:  # noqa: BLE001 - restoring is what failed: the page shows the summary alone
        nb = nbformat.v4.new_notebook()
    return SubmissionGrade(nb, cells, [], error, False, 0.0, sum(c.max_points for c in cells.values()), [])


def _grade(submission: Path | bytes | NotebookNode, source_nb: NotebookNode, manifest: Manifest, seed: int | None,
           language: str | None, options: dict[str, Any]) -> SubmissionGrade:
    from gradbook.checks import load_all

    limits: Limits = options["limits"]
    registry = load_all()
    seed = secrets.randbelow(2**31 - 1) + 1 if seed is None else int(seed)
    events: list[str] = []
    if manifest.source_digest and manifest.source_digest != source_digest(source_nb):
        events.append("the manifest was built from a different version of the source notebook")
    try:
        submitted = parse_submission(submission)
    except SubmissionError as exc:
        return _not_graded(source_nb, manifest, str(exc))
    language = normalize(language) if language is not None else (notebook_language(submitted.get("metadata")) or "en")
    try:
        restored = restore(submitted, source_nb)
    except Exception as exc:  # noqa: BLE001 - without the restored notebook nothing can be graded
        return _not_graded(source_nb, manifest, internal_error("restoring the submission against the source", exc),
                           language)
    events.extend(restored.events)
    nb = restored.notebook
    if language != "en":  # the source's metadata: the graded notebook says its language again
        nb.metadata["gradbook"] = {**nb.metadata.get("gradbook", {}), "language": language}
    integrity = [f"tampering: {t}" for t in restored.tamper]
    try:
        integrity += integrity_scan(nb, source_nb)
    except Exception as exc:  # noqa: BLE001 - no evidence either way: a person looks (the grade stands)
        events.append(internal_error("scanning the code for copied answers", exc))
        integrity.append(f"the integrity scan could not finish ({type(exc).__name__}): nothing was found or ruled "
                         "out, so look at this submission's code by hand")

    answers: dict[int, Answer] = {}
    asks, answers = _questions(nb, manifest, seed, registry)
    tests = frozenset(i for i, c in enumerate(nb.cells) if is_test_cell(c))
    budget = [MAX_SUBMISSION_ANSWER_BYTES]
    run: Run | None = None
    try:
        run = run_notebook(nb, limits, skip=tests, asks=asks, sandbox_mode=options["sandbox_mode"],
                           data_dir=options["data_dir"], extra_files=options["extra_files"], workdir=options["workdir"],
                           runners=options["runners"], language=language,
                           chapters=chapters_graded(manifest),
                           receive=lambda n, reply: _receive(answers[n], reply, budget))
        events.extend(run.events)
    except Exception as exc:  # noqa: BLE001 - the answers received so far are judged; the rest are not
        why = internal_error("running the notebook and asking its questions", exc)
        events.append(why)
        for answer in answers.values():
            if answer.results is None and answer.problem is None:
                answer.problem = why

    with using(language):
        stops = ["\n" + _("Note: cell {index} of the notebook did not finish ({reason}), so nothing it defines was "
                          "there.").format(index=c.index, reason=c.reason)
                 for c in (run.cells.values() if run else []) if c.status in STOPPED]
    cells: dict[str, CellGrade] = {}
    for cell in nb.cells:
        gid = grade_id(cell)
        if not gid or not is_graded(cell):
            continue
        max_points = float(manifest.points.get(gid, cell.metadata.nbgrader.get("points", 0) or 0))
        if manual_cell(cell):
            cells[gid] = CellGrade(gid, 0.0, max_points, False, "graded by hand")
            continue
        if not is_test_cell(cell):
            continue
        try:
            judgement = judge_cell(manifest.expected.get(gid, []), [a for a in answers.values() if a.gid == gid],
                                   registry, language)
            message, passed = judgement.message, judgement.passed
            message += "" if passed else "".join(stops)
            events.extend(f"cell {gid}: {t}" for t in judgement.tampered)
            integrity.extend(f"tampering: cell {gid}: {t}" for t in judgement.tampered)
        except Exception as exc:  # noqa: BLE001 - this cell only
            message, passed = internal_error(f"judging cell {gid}", exc), False
            events.append(message)
        message = cap(message, MAX_MESSAGE)
        cells[gid] = CellGrade(gid, max_points if passed else 0.0, max_points, passed, message)
        cell.outputs = verdict_outputs(passed, message)
        cell.source = strip_hidden_tests(cell.source)
        cell.metadata["gradbook"] = {"trusted_verdict": True}

    for gid, pts in manifest.points.items():  # never silently: cannot happen after restore
        if gid not in cells:
            cells[gid] = CellGrade(gid, 0.0, float(pts), False, "this graded cell was not found")

    try:
        _fill_outputs(nb, run)
    except Exception as exc:  # noqa: BLE001 - the graded notebook shows less; the grade stands
        events.append(internal_error("filling in the graded notebook's outputs", exc))
    sandboxed = bool(run and run.sandboxed)
    events = [cap(e, 500) for e in events[:MAX_EVENTS]] + (
        [f"... and {len(events) - MAX_EVENTS} more events"] if len(events) > MAX_EVENTS else []
    )
    score = sum(c.points for c in cells.values())
    max_score = sum(c.max_points for c in cells.values())
    return SubmissionGrade(nb, cells, events, None, sandboxed, score, max_score, integrity)


def _receive(answer: Answer, reply: Any, left: list[int]) -> None:
    """`_read_reply`, guarded: a reply the grader fails to read is that question's outcome."""
    try:
        _read_reply(answer, reply, left)
    except Exception as exc:  # noqa: BLE001
        answer.results, answer.problem = None, internal_error("reading the answer", exc)


def _fill_outputs(nb: NotebookNode, run: Run | None) -> None:
    """The graded notebook: each executed cell's (sanitised) outputs and a count; test cells keep their verdict."""
    count = 0
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        count += 1
        cell_run = run.cells.get(index) if run else None
        if is_test_cell(cell):
            cell.execution_count = count if run else None
            continue
        if cell_run is None:
            continue
        if cell_run.status != "not run":
            cell.execution_count = count
        outputs = list(cell_run.outputs)
        if cell_run.status in STOPPED or cell_run.status == "not run":
            outputs.append(nbformat.v4.new_output("error", ename="GraderStop", evalue=cell_run.reason,
                                                  traceback=[f"{FAIL} {cell_run.reason}"]))
        cell.outputs = outputs
    if run is not None and not run.sandboxed:
        first = next((c for c in nb.cells if c.get("cell_type") == "code"), None)
        if first is not None:
            first.outputs.insert(0, nbformat.v4.new_output(
                "stream", name="stderr", text="WARNING: this submission was graded WITHOUT a sandbox.\n"))
