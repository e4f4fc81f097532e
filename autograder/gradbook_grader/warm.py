"""Warm sandboxed runners: started, with the notebook's imports loaded, before the submission arrives.

A submission's fixed cost is its sandbox's start (bubblewrap, the interpreter, IPython) and the
notebook's imports (numpy, matplotlib, the gradbook library; torch in two chapters): 1-5 s of a
3-40 s grade. A `WarmPool` pays it ahead of need: while one submission is graded, the next
runner starts and imports the modules the instructor's notebook imports (`preloads`).

The trust model is unchanged:

* a warm runner is started exactly as `execute` starts one (same command, limits, control group);
* no student code runs in it before it is handed out, and only module names enter it early, read
  from the instructor's cells that are not graded tests (hidden tests never);
* each runner serves ONE submission: `take` hands it over and forgets it, and the grader's `with`
  kills it afterwards. No sandbox is ever used for two students.

A runner dies with the thread that started it (bubblewrap's --die-with-parent follows the thread),
so the pool's own thread, which starts them, outlives every runner it started.

`ForkPool` is what the batch and the cluster use: one fork server per kind of submission
(`forkserver`), started and loaded once, a fresh isolated runner forked from it per submission, so
the start-up is paid once per worker and chapter instead of once per submission. Where the fork
server cannot start or its probe child cannot set itself up, it falls back to a `WarmPool` (a
sandbox per submission), and every grade made so says why in its events.
"""

from __future__ import annotations

import ast
import atexit
import os
import queue
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable

from nbformat import NotebookNode

from gradbook_grader import sandbox
from gradbook_grader.forkserver import ForkedRunner, ForkServer
from gradbook_grader.nbcells import is_test_cell
from gradbook_grader.process import STARTUP_TIMEOUT, RunnerProcess, Stop
from gradbook_grader.types import Limits

FORK_SERVER_ENV = "GRADBOOK_FORK_SERVER"  # "0": a sandbox per submission (warm runners), as before the fork server
MAX_PRELOADS = 100  # the runner imports at most this many
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def preloads(source: NotebookNode) -> tuple[str, ...]:
    """The modules the instructor's notebook imports (absolute imports of its code cells, test cells excluded).

    `from a import b` gives `a` and `a.b` (b may be a submodule: `from gradbook import models`);
    a name that is no module fails to import in the runner, harmlessly.
    """
    names: dict[str, None] = {}
    for cell in source.cells:
        if cell.get("cell_type") != "code" or is_test_cell(cell):
            continue
        code = "\n".join(line for line in str(cell.get("source", "")).splitlines()
                         if not line.lstrip().startswith(("%", "!")))  # IPython magics and shell lines
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names.update(dict.fromkeys(_imported(node)))
    return tuple(name for name in names if _MODULE.fullmatch(name))[:MAX_PRELOADS]


def _imported(node: ast.AST) -> list[str]:
    """The modules an absolute import names (`from a import b`: `a` and `a.b`, which may be a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and not node.level:
        return [node.module, *(f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")]
    return []


class WarmRunner(RunnerProcess):
    """A runner started before its submission is known; `claim` gives it the submission's deadline."""

    def __init__(self, limits: Limits, modules: tuple[str, ...], on_close: Callable[[], None],
                 **options: Any) -> None:
        self._on_close: Callable[[], None] | None = on_close
        # Until it is claimed, its deadline only bounds its own start and imports.
        super().__init__(limits, deadline=time.monotonic() + STARTUP_TIMEOUT + limits.cell_timeout, **options)
        if self.stopped is None and modules:
            self.request({"op": "import", "modules": list(modules)},
                         lambda message: message.get("type") == "imported", "the notebook's imports")

    def alive(self) -> bool:
        """Started, imported, and still running (a runner that died while idle is no one's fault)."""
        return self.stopped is None and self._proc is not None and self._proc.poll() is None

    def claim(self, deadline: float) -> "WarmRunner":
        self.deadline = deadline
        return self

    def close(self) -> None:
        super().close()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            on_close()


class WarmPool:
    """`size` sandboxed runners kept started ahead of need, for one kind of submission.

    `take(deadline)` is what `execute.grade_submission(..., runners=)` asks for: a warm runner if
    one is ready (the next starts at once), else a cold one started as `execute` would.
    """

    def __init__(self, limits: Limits, modules: tuple[str, ...] = (), *, size: int = 1,
                 sandbox_mode: str | None = None, data_dir: Path | None = None, chapters: tuple[str, ...] = ()) -> None:
        from gradbook_grader.running import default_data_dir

        self.limits = limits
        self.modules = modules
        # `chapters`: the graded chapters, whose answers the runners' library holds only as stubs
        self.options: dict[str, Any] = {"sandbox_mode": sandbox_mode, "data_dir": data_dir or default_data_dir(),
                                        "chapters": chapters}
        self.started = self.warm = 0  # runners started ahead, and handed out warm
        self._ready: queue.Queue[WarmRunner] = queue.Queue()
        self._slots = threading.Semaphore(size)
        self._live = 0  # runners this pool's thread started that are not closed yet
        self._changed = threading.Condition()
        self._closed = False
        threading.Thread(target=self._serve, name="gradbook-warm-runners", daemon=True).start()
        atexit.register(self.close)

    def _serve(self) -> None:
        while True:
            self._slots.acquire()
            if self._closed:
                break
            with self._changed:
                self._live += 1
                self.started += 1
            try:
                runner = WarmRunner(self.limits, self.modules, self._one_closed, **self.options)
            except Exception:  # noqa: BLE001 - the pool's bug must not stop grading: take() starts cold
                self._one_closed()
                continue
            self._ready.put(runner)
        self._drain()  # one may have been started while close() ran
        with self._changed:  # outlive every runner this thread started (they die with it)
            self._changed.wait_for(lambda: self._live == 0)

    def _one_closed(self) -> None:
        with self._changed:
            self._live -= 1
            self._changed.notify_all()

    def take(self, deadline: float) -> RunnerProcess:
        """A runner for one submission, never handed out again; the caller closes it."""
        if not self._closed:
            try:
                runner: WarmRunner | None = self._ready.get(timeout=STARTUP_TIMEOUT + self.limits.cell_timeout)
            except queue.Empty:
                runner = None
            else:
                self._slots.release()  # the next one starts now, while this submission is graded
            if runner is not None and runner.alive():
                with self._changed:
                    self.warm += 1
                return runner.claim(deadline)
            if runner is not None:
                runner.close()  # it did not start or died idle: a cold start says why, if there is a why
        return RunnerProcess(self.limits, deadline=deadline, **self.options)

    def close(self) -> None:
        """Kill the runners not handed out and start no more (those handed out are their users')."""
        self._closed = True
        self._slots.release()
        self._drain()

    def _drain(self) -> None:
        while True:
            try:
                self._ready.get_nowait().close()
            except queue.Empty:
                break


class ForkPool:
    """Runners forked from one fork server for one kind of submission; a `WarmPool` where there is none.

    `take(deadline)` is what `execute.grade_submission(..., runners=)` asks for. The server is started
    (and its probe child forked) on the pool's own thread, which outlives it (--die-with-parent).
    """

    def __init__(self, limits: Limits, modules: tuple[str, ...] = (), *, sandbox_mode: str | None = None,
                 data_dir: Path | None = None, chapters: tuple[str, ...] = ()) -> None:
        from gradbook_grader.running import default_data_dir

        self.limits, self.modules = limits, modules
        self.options: dict[str, Any] = {"sandbox_mode": sandbox_mode, "data_dir": data_dir or default_data_dir(),
                                        "chapters": chapters}
        self.reason: str | None = None  # why submissions get a sandbox of their own (no fork server)
        self.forked = 0  # runners handed out forked
        self._server: ForkServer | None = None
        self._fallback: WarmPool | None = None
        self._changed = threading.Condition()
        self._wanted = True  # a (new) server is to be started
        self._closed = False
        self._thread: threading.Thread | None = None
        if sandbox.sandbox_mode(sandbox_mode) == sandbox.UNSANDBOXED:
            self._give_up("the instructor asked for no sandbox (--unsafe-no-sandbox)")
        elif os.environ.get(FORK_SERVER_ENV, "1") == "0":
            self._give_up(f"turned off by ${FORK_SERVER_ENV}=0")
        else:
            self._thread = threading.Thread(target=self._serve, name="gradbook-fork-server", daemon=True)
            self._thread.start()
        atexit.register(self.close)

    def _serve(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._wanted or self._closed)
                old, self._server = self._server, None
            if old is not None:
                old.close()
            if self._closed:
                return
            server = ForkServer(self.limits, self.modules, data_dir=self.options["data_dir"],
                                chapters=self.options["chapters"])
            problem = server.problem
            if problem is None:  # a probe child: can this kernel give a child namespaces of its own?
                with ForkedRunner(server) as probe:
                    problem = probe.stopped and f"its first child did not start: {probe.stopped}"
            if problem is not None:
                server.close()
                self._give_up(problem)
                return
            with self._changed:
                self._server, self._wanted = server, False
                self._changed.notify_all()

    def _give_up(self, reason: str) -> None:
        with self._changed:
            self.reason = reason
            self._fallback = WarmPool(self.limits, self.modules, **self.options)
            self._wanted = False
            self._changed.notify_all()

    def server(self) -> ForkServer | None:
        """The fork server once started (None: it could not start, see `reason`, or it is not up in time)."""
        with self._changed:
            self._changed.wait_for(lambda: not self._wanted or self._closed, timeout=STARTUP_TIMEOUT + self.limits.cell_timeout)
            return self._server

    def take(self, deadline: float) -> RunnerProcess:
        """A runner for one submission, never handed out again; the caller closes it."""
        server = self.server()
        fallback = self._fallback
        if fallback is not None:
            runner = fallback.take(deadline)
            runner.events.append(f"no fork server ({self.reason}): this submission's sandbox was started for it")
            return runner
        why = "the fork server did not start in time"
        if server is not None:
            runner = ForkedRunner(server, deadline)
            if runner.stop is not Stop.UNAVAILABLE:  # before "ready" no student code runs: this is the server's
                self.forked += 1
                return runner
            why = f"the fork server failed ({runner.stopped}); a new one starts for the next submission"
            runner.close()
            with self._changed:
                if self._server is server:
                    self._wanted = True
                    self._changed.notify_all()
        runner = RunnerProcess(self.limits, deadline=deadline, **self.options)
        runner.events.append(f"{why}: this submission's sandbox was started for it")
        return runner

    def close(self) -> None:
        """Stop the server (its processes reaped: their CPU time is counted where the bench looks) and the fallback."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)
        if self._fallback is not None:
            self._fallback.close()


_POOLS: dict[tuple, ForkPool] = {}
_POOLS_LOCK = threading.Lock()
MAX_POOLS = 2  # kinds of submission (assignments) a worker keeps a fork server for: each holds its imports (~0.5 GB)


def pool_for(limits: Limits, modules: tuple[str, ...], **options: Any) -> ForkPool:
    """This process's pool for submissions of one kind (a Dask worker grades several assignments)."""
    key = (limits, modules, tuple(sorted(options.items())))
    with _POOLS_LOCK:
        pool = _POOLS.pop(key, None) or ForkPool(limits, modules, **options)
        _POOLS[key] = pool  # most recently used last
        while len(_POOLS) > MAX_POOLS:
            _POOLS.pop(next(iter(_POOLS))).close()
        return pool
