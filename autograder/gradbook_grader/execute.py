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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import nbformat
from nbformat import NotebookNode

from gradbook.i18n import _, normalize, notebook_language, using
from gradbook_grader.answers import chapters_graded
from gradbook_grader.integrity import asked as asked_evidence, scan as integrity_scan
from gradbook_grader.nbcells import grade_id, is_graded, is_test_cell, strip_hidden_tests
from gradbook_grader.process import RunnerProcess
from gradbook_grader.restore import SubmissionError, parse_submission, restore
from gradbook_grader.running import STOPPED, Run, run_notebook
from gradbook_grader.types import CellGrade, Limits, Manifest, SubmissionGrade
from gradbook_grader.questions import source_digest
from gradbook_grader.text import printable
from gradbook_grader.verdict import FAIL, Answer, cap, judge_cell, manual_cell, verdict_outputs

MAX_MESSAGE = 4000  # a cell's verdict text (the student's exception text can be long)
MAX_EVENTS = 100
MAX_ANSWER_BYTES = 16 * 1024 * 1024  # plain data of one question's answers, decoded
MAX_SUBMISSION_ANSWER_BYTES = 64 * 1024 * 1024  # all answers of one submission, held until judged
MAX_CALLS = 20  # framework functions named per question (the runner sends no more: `watch.MAX_NAMES`)


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
    answer.frameworks, answer.replaced = _read_calls(reply.get("calls"))
    return answer


def _read_calls(calls: Any) -> tuple[list[str], list[str]]:
    """The reply's record of the framework functions the answer called (`watch`), untrusted: short printable
    names; a record that is not the runner's shape is itself evidence (student code changed the reply)."""
    if calls is None:
        return [], []
    lists = [calls.get(key, []) for key in ("frameworks", "replaced")] if isinstance(calls, dict) else None
    if (lists is None or set(calls) - {"frameworks", "replaced"}
            or not all(isinstance(v, list) and len(v) <= MAX_CALLS and all(isinstance(n, str) for n in v) for v in lists)):
        return [], ["the reply's record of its framework calls (it was not the runner's: student code changed it)"]
    return [[printable(cap(name, 200)) for name in names] for names in lists]  # type: ignore[return-value]


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
    grading.calls()
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
        unfinished = False
        try:
            judgement = judge_cell(self.manifest.expected.get(gid, []),
                                   [a for a in self.answers.values() if a.gid == gid], self.registry, self.language)
            message, passed = judgement.message, judgement.passed
            message += "" if passed else self.unfinished()
            exercise, mistake, unfinished = judgement.exercise, judgement.mistake, judgement.unfinished
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
                         mistake=mistake, unfinished=unfinished)

    def calls(self) -> None:
        """Evidence seen while the answers were asked: framework functions they called, recorders they replaced."""
        try:
            self.integrity += asked_evidence(self.answers.values())
        except Exception as exc:  # noqa: BLE001 - the grade stands; a person looks
            self.events.append(internal_error("reading what the answers called", exc))

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
