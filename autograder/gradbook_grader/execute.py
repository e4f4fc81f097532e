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
from gradbook_grader.process import RunnerProcess, Stop
from gradbook_grader.restore import SubmissionError, parse_submission, restore
from gradbook_grader.sanitize import sanitize_outputs
from gradbook_grader.types import CellGrade, Limits, Manifest, SubmissionGrade
from gradbook_grader.questions import source_digest
from gradbook_grader.verdict import FAIL, Answer, cap, judge_cell, manual_cell, verdict_outputs

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
    notices: list[str] = field(default_factory=list)  # of `events`, those that say how it ran, not that it went wrong


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


@dataclass
class _Runs:
    """One notebook's runs (a fresh one after a cell or an answer stopped the last), and what they gave."""

    nb: NotebookNode
    limits: Limits
    code_cells: list[int]
    pending: list[dict]  # the asks not yet answered
    receive: Callable[[int, dict | str], None]
    deadline: float
    language: str
    chapters: tuple[str, ...]
    cells: dict[int, CellRun] = field(default_factory=dict)
    bad: set[int] = field(default_factory=set)  # cells that stopped a run: skipped in the next
    events: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    sandboxed: bool = False
    stopped: str | None = None
    budget: list[int] = field(default_factory=list)  # output bytes left (the runner's own truncation notes fit)
    truncated: list[bool] = field(default_factory=lambda: [False])

    def attempt(self, runner: RunnerProcess) -> tuple[bool, bool]:
        """Run the cells, then ask; (whether the runner stopped, whether it was being asked when it did)."""
        if runner.chapters != self.chapters:
            runner.refuse(f"the sandbox could not be started for chapters {self.chapters}: it was started for "
                          f"{runner.chapters}")
        if runner.sandboxed and runner.stop is None:  # what it says on starting is how it runs (no control group)
            self.notices.extend(e for e in runner.events if e not in self.notices)
        self.sandboxed = runner.sandboxed
        if self.language != "en":
            runner.request({"op": "language", "language": self.language},
                           lambda m: m.get("type") == "language", "setting the language")  # type: ignore[misc]
        if not all(self.run_cell(runner, index) for index in self.code_cells if index not in self.bad):
            return True, False
        asking = bool(self.pending)
        return self.ask(runner), asking

    def run_cell(self, runner: RunnerProcess, index: int) -> bool:
        """Run one cell; False if the runner stopped (in it, or before)."""
        began = time.monotonic()
        reply, status = runner.request(
            {"op": "run", "cell": index, "source": self.nb.cells[index].get("source", "")},
            lambda m: m.get("type") == "done" and m.get("cell") == index,  # type: ignore[misc]
            f"cell {index}",
        )
        if reply is None:
            if status != "not run":
                self.bad.add(index)
                self.cells[index] = CellRun(index, status, reason=runner.stopped or status,
                                            seconds=time.monotonic() - began)
            return False
        if index in self.cells:
            return True  # a re-run: the first run's outputs are what the student's notebook shows
        run = CellRun(index, "ok" if reply.get("status") == "ok" else "error", seconds=time.monotonic() - began)
        run.outputs = sanitize_outputs(reply.get("outputs"), self.budget, self.truncated)
        self.truncated[0] |= reply.get("truncated") is True  # the runner cut the output (its own note is in it)
        self.cells[index] = run
        runner.events.extend(_limit_events(run, self.limits))
        return True

    def ask(self, runner: RunnerProcess) -> bool:
        """Ask what is pending, each reply (or why there is none) to `receive`; True if the runner stopped."""
        while self.pending:
            ask = self.pending.pop(0)
            reply, status = runner.request(
                ask, lambda m: m.get("type") == "answers" and m.get("id") == ask["id"],  # type: ignore[misc]
                f"the check of `{ask['expr']}`",
            )
            self.receive(ask["id"], reply if reply is not None else (runner.stopped or status))
            if reply is not None:
                continue
            if runner.stop is Stop.TIMEOUT:  # the same answer would spin again: one limit per answer
                for same in [a for a in self.pending if a["expr"] == ask["expr"]]:
                    self.pending.remove(same)
                    self.receive(same["id"], f"not asked: {runner.stopped}")
            return True
        return False

    def again(self, runner: RunnerProcess, broke: bool, asking: bool) -> bool:
        """After a run (its runner closed): take its events; whether a fresh run without the cells that stopped
        it is worth it (on the `Stop`, never the words)."""
        self.events.extend(e for e in runner.events if e not in self.events)
        self.stopped = self.stopped or runner.stopped
        if not broke or runner.stop is None or time.monotonic() >= self.deadline - 1:
            return False
        if runner.stop in NO_RESTART or (asking and runner.stop in NOT_ANSWERING):
            return False  # the sandbox is broken, the time is up, or the runner is not answering: it would say the same
        self.events.append(f"ran the notebook again without the cells that stopped it (cells {sorted(self.bad)})")
        return True

    def finish(self, start: float) -> Run:
        for index in self.code_cells:
            self.cells.setdefault(index, CellRun(index, "not run",
                                                 reason=f"not run: {self.stopped}" if self.stopped else "not run"))
        for ask in self.pending:
            self.receive(ask["id"], f"not asked: {self.stopped}" if self.stopped else "not asked")
        if self.truncated[0]:
            self.notices.append(f"output truncated (limit {self.limits.max_output_bytes:,} bytes)")
            self.events.append(self.notices[-1])
        return Run(self.cells, self.events, self.sandboxed, self.stopped, time.monotonic() - start, self.notices)


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
    runs = _Runs(nb, limits, code_cells, list(asks or []), receive, deadline, language, chapters,
                 budget=[limits.max_output_bytes + 4096])

    def runner() -> RunnerProcess:
        if runners is not None:
            return runners(deadline)
        return RunnerProcess(limits, sandbox_mode=sandbox_mode, data_dir=data_dir or _default_data_dir(),
                             extra_files=extra_files, workdir=workdir, deadline=deadline, chapters=chapters)

    for _attempt in range(MAX_RESTARTS + 1):
        with runner() as this:
            broke, asking = runs.attempt(this)
        if not runs.again(this, broke, asking):
            break
    return runs.finish(start)


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
    """The stages, in order: read, restore, scan, run and ask, judge, fill in the outputs."""
    events = []
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
    grading = _Grading(restored.notebook, manifest, language, events + restored.events,
                       [f"tampering: {t}" for t in restored.tamper])
    grading.scan(source_nb)
    grading.run_and_ask(secrets.randbelow(2**31 - 1) + 1 if seed is None else int(seed), options)
    grading.judge()
    grading.fill()
    return grading.grade()


@dataclass
class _Grading:
    """One restored submission through the stages after restore; a grader bug in one is that stage's outcome."""

    nb: NotebookNode  # restored: becomes the graded notebook
    manifest: Manifest
    language: str
    events: list[str]
    integrity: list[str]
    answers: dict[int, Answer] = field(default_factory=dict)
    run: Run | None = None
    cells: dict[str, CellGrade] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from gradbook.checks import load_all

        self.registry = load_all()
        if self.language != "en":  # the source's metadata: the graded notebook says its language again
            self.nb.metadata["gradbook"] = {**self.nb.metadata.get("gradbook", {}), "language": self.language}

    def scan(self, source_nb: NotebookNode) -> None:
        try:
            self.integrity += integrity_scan(self.nb, source_nb)
        except Exception as exc:  # noqa: BLE001 - no evidence either way: a person looks (the grade stands)
            self.events.append(internal_error("scanning the code for copied answers", exc))
            self.integrity.append(f"the integrity scan could not finish ({type(exc).__name__}): nothing was found or "
                                  "ruled out, so look at this submission's code by hand")

    def run_and_ask(self, seed: int, options: dict[str, Any]) -> None:
        asks, self.answers = _questions(self.nb, self.manifest, seed, self.registry)
        tests = frozenset(i for i, c in enumerate(self.nb.cells) if is_test_cell(c))
        budget = [MAX_SUBMISSION_ANSWER_BYTES]
        try:
            self.run = run_notebook(self.nb, skip=tests, asks=asks, language=self.language,
                                    chapters=chapters_graded(self.manifest),
                                    receive=lambda n, reply: _receive(self.answers[n], reply, budget), **options)
            self.events.extend(self.run.events)
        except Exception as exc:  # noqa: BLE001 - the answers received so far are judged; the rest are not
            why = internal_error("running the notebook and asking its questions", exc)
            self.events.append(why)
            for answer in self.answers.values():
                if answer.results is None and answer.problem is None:
                    answer.problem = why

    def judge(self) -> None:
        """Each graded cell's verdict: a written answer is a person's; a test cell is judged from its answers."""
        for cell in self.nb.cells:
            gid = grade_id(cell)
            if not gid or not is_graded(cell):
                continue
            max_points = float(self.manifest.points.get(gid, cell.metadata.nbgrader.get("points", 0) or 0))
            if manual_cell(cell):
                self.cells[gid] = CellGrade(gid, 0.0, max_points, False, "graded by hand", manual=True)
            elif is_test_cell(cell):
                self.cells[gid] = self.judge_test_cell(cell, gid, max_points)
        for gid, pts in self.manifest.points.items():  # never silently: cannot happen after restore
            if gid not in self.cells:
                self.cells[gid] = CellGrade(gid, 0.0, float(pts), False, "this graded cell was not found")

    def judge_test_cell(self, cell: NotebookNode, gid: str, max_points: float) -> CellGrade:
        exercise = mistake = None
        try:
            judgement = judge_cell(self.manifest.expected.get(gid, []),
                                   [a for a in self.answers.values() if a.gid == gid], self.registry, self.language)
            message, passed = judgement.message, judgement.passed
            message += "" if passed else self.unfinished()
            exercise, mistake = judgement.exercise, judgement.mistake
            self.events.extend(f"cell {gid}: {t}" for t in judgement.tampered)
            self.integrity.extend(f"tampering: cell {gid}: {t}" for t in judgement.tampered)
        except Exception as exc:  # noqa: BLE001 - this cell only
            message, passed = internal_error(f"judging cell {gid}", exc), False
            self.events.append(message)
        message = cap(message, MAX_MESSAGE)
        cell.outputs = verdict_outputs(passed, message)
        cell.source = strip_hidden_tests(cell.source)
        cell.metadata["gradbook"] = {"trusted_verdict": True}
        return CellGrade(gid, max_points if passed else 0.0, max_points, passed, message, exercise=exercise,
                         mistake=mistake)

    def unfinished(self) -> str:
        """What a failing verdict adds: the cells of the notebook that did not finish."""
        with using(self.language):
            return "".join("\n" + _("Note: cell {index} of the notebook did not finish ({reason}), so nothing it "
                                     "defines was there.").format(index=c.index, reason=c.reason)
                           for c in (self.run.cells.values() if self.run else []) if c.status in STOPPED)

    def fill(self) -> None:
        try:
            _fill_outputs(self.nb, self.run)
        except Exception as exc:  # noqa: BLE001 - the graded notebook shows less; the grade stands
            self.events.append(internal_error("filling in the graded notebook's outputs", exc))

    def grade(self) -> SubmissionGrade:
        events = [cap(e, 500) for e in self.events[:MAX_EVENTS]] + (
            [f"... and {len(self.events) - MAX_EVENTS} more events"] if len(self.events) > MAX_EVENTS else []
        )
        notices = [cap(e, 500) for e in self.run.notices] if self.run else []
        score = sum(c.points for c in self.cells.values())
        max_score = sum(c.max_points for c in self.cells.values())
        return SubmissionGrade(self.nb, self.cells, events, None, bool(self.run and self.run.sandboxed), score,
                               max_score, self.integrity, notices)


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
