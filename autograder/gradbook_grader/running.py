"""One notebook's run in the sandbox: its code cells, then the grader's questions; a fresh run without a cell
that stopped the last.

The sandboxed runner (`process.RunnerProcess`, or a warm one from `warm`) runs each cell and answers
each question; what a cell printed leaves the sandbox through the one output allow-list (`sanitize`).
A cell that kills its process or never finishes costs what depends on it, not the rest; whether a
fresh run is worth it is decided on how the runner stopped (`process.Stop`), never on its words.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from nbformat import NotebookNode

from gradbook_grader.process import RunnerProcess, Stop
from gradbook_grader.sanitize import sanitize_outputs
from gradbook_grader.types import Limits


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


def default_data_dir() -> Path | None:
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
        return RunnerProcess(limits, sandbox_mode=sandbox_mode, data_dir=data_dir or default_data_dir(),
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
