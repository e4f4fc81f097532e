"""One submission's runner process: started in the sandbox, spoken to in JSON lines, never trusted.

`RunnerProcess` starts `gradbook_grader.runner` under the sandbox's command, sends one request
at a time and waits for the reply that answers it, under a deadline. Everything the process
writes is untrusted: lines are capped before they are parsed, floods are dropped, chatter that
does not answer the request in flight ends it, and a process that stops answering is killed.
When it stops, `stop` says how (a `Stop`, for the grader's decisions) and `stopped` says why, in
words for the instructor.

The protocol is strict: one reply per request, nothing else. The runner itself never says
anything but replies (student code gets /dev/null and stderr), so any other line (garbage, a
forged or stale message, an answer to another question) means student code took over the
runner's pipe: it is not answering, and waiting longer buys nothing (`Stop.PROTOCOL`, at once).
A runner that is alive but neither replies nor computes (it sleeps, or its reply was swallowed)
is stalled: `Limits.stall_seconds` without using CPU ends the wait (`Stop.STALLED`), long before
the cell limit, while a slow computation on a busy machine keeps using CPU and is never cut short
by this.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from enum import Enum
from pathlib import Path
from typing import Any, Callable

from gradbook_grader import sandbox
from gradbook_grader.types import Limits

STARTUP_TIMEOUT = 60.0
MAX_MESSAGES = 100_000
MAX_ANSWER_LINE = 8 * 1024 * 1024  # an answer line; real answers are a few hundred kB
MAX_JSON_ITEMS = 400_000  # separators in one line: parsing more would cost the grader memory
CPU_SAMPLE_SECONDS = 0.5  # how often a waiting request looks at the sandbox's CPU time
IDLE_CPU_SECONDS = 0.02  # less CPU than this since the last sample is no progress


class Stop(Enum):
    """How a runner stopped: what the grader decides on (restart, stop asking), never the message text."""

    UNAVAILABLE = "unavailable"  # the sandbox could not be built or started, or would run as root
    TIMEOUT = "timeout"  # a request ran past the cell limit
    BUDGET = "budget"  # the submission's total time was reached
    STALLED = "stalled"  # alive, but neither replying nor computing for `Limits.stall_seconds`
    PROTOCOL = "protocol"  # said something that answers nothing asked (garbage, a wrong id, forged)
    DIED = "died"  # the process ended
    DISK = "disk"  # an unsandboxed run wrote too much


class Garbage:
    """A line from the runner that is no message (dropped by the reader): the protocol is broken."""

    def __init__(self, what: str) -> None:
        self.what = what


class _Reader(threading.Thread):
    """Reads the runner's JSON lines with a cap on every line; untrusted input."""

    def __init__(self, stream: Any, line_cap: int) -> None:
        super().__init__(daemon=True)
        self.stream = stream
        self.line_cap = line_cap
        self.messages: queue.Queue = queue.Queue()
        self.dropped = 0
        self.count = 0

    def run(self) -> None:
        buf = bytearray()
        skipping = False
        try:
            while True:
                chunk = self.stream.read1(1 << 16) if hasattr(self.stream, "read1") else self.stream.read(1 << 16)
                if not chunk:
                    break
                start = 0
                while True:
                    nl = chunk.find(b"\n", start)
                    piece = chunk[start:] if nl < 0 else chunk[start:nl]
                    if not skipping:
                        buf += piece
                        if len(buf) > self.line_cap:
                            buf.clear()
                            skipping = True
                            self._drop(f"a line of more than {self.line_cap:,} bytes (too large to read)")
                    if nl < 0:
                        break
                    if not skipping and buf:
                        self._parse(bytes(buf))
                    buf.clear()
                    skipping = False
                    start = nl + 1
        except (OSError, ValueError):
            pass
        finally:
            self.messages.put(None)  # EOF

    def _parse(self, line: bytes) -> None:
        if line.count(b",") + line.count(b"[") + line.count(b"{") > MAX_JSON_ITEMS:
            self._drop("a line of millions of JSON items")  # refused before json builds them
            return
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            self._drop("a line that is not JSON (the runner writes only JSON: student code wrote to its pipe)")
            return
        if not isinstance(message, dict):
            self._drop("a JSON line that is not an object (student code wrote to the runner's pipe)")
            return
        self.count += 1
        if self.count > MAX_MESSAGES:
            self._drop("a flood of messages")
            return
        self.messages.put(message)

    def _drop(self, what: str) -> None:
        """Count it, and tell the request in flight once: the pipe carries something that is no reply."""
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            self.messages.put(Garbage(what))


class _Drain(threading.Thread):
    """Keeps the head of the sandbox's stderr (diagnostics), discards the rest."""

    def __init__(self, stream: Any, keep: int = 16_384) -> None:
        super().__init__(daemon=True)
        self.stream, self.keep, self.head = stream, keep, bytearray()

    def run(self) -> None:
        try:
            while True:
                chunk = self.stream.read(1 << 16)
                if not chunk:
                    break
                if len(self.head) < self.keep:
                    self.head += chunk[: self.keep - len(self.head)]
        except (OSError, ValueError):
            pass


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        pass
    try:
        proc.kill()
    except OSError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _dir_usage(path: Path, max_entries: int = 20_000) -> tuple[int, int]:
    total, entries = 0, 0
    stack = [str(path)]
    while stack and entries < max_entries:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    entries += 1
                    try:
                        st = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += getattr(st, "st_blocks", 0) * 512 or st.st_size
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            pass
    return total, entries


def _stat_times(pid: str) -> tuple[int, int] | None:
    """(parent pid, CPU ticks of the process and its reaped children) from /proc/PID/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    try:  # after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 0-based from state
        return int(fields[1]), sum(int(x) for x in fields[11:15])
    except (ValueError, IndexError):
        return None


_CHILDREN_LISTED = os.path.exists(f"/proc/self/task/{os.getpid()}/children")  # CONFIG_PROC_CHILDREN


def _children(pid: int) -> list[int]:
    """The children of `pid` (those of each of its threads), from /proc/PID/task/*/children."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            continue
    return found


def descendants(root: int) -> dict[int, int]:
    """pid -> CPU ticks of process `root` and every process under it (walks only that tree where it can:
    a busy machine has thousands of processes, and the stall check asks twice a second)."""
    if not _CHILDREN_LISTED:
        return _descendants_by_scan(root)
    ticks: dict[int, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        stat = _stat_times(str(pid))
        if stat is not None and pid not in ticks:
            ticks[pid] = stat[1]
            todo.extend(_children(pid))
    return ticks


def _descendants_by_scan(root: int) -> dict[int, int]:
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return {}
    for name in names:
        if name.isdigit():
            stat = _stat_times(name)
            if stat is not None:
                children.setdefault(stat[0], []).append(int(name))
                ticks[int(name)] = stat[1]
    found, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in ticks:
            found[pid] = ticks[pid]
            todo.extend(children.get(pid, ()))
    return found


def tree_cpu_seconds(root: int) -> float | None:
    """CPU seconds used by process `root` and every process under it (what a sandbox has computed so far)."""
    ticks = descendants(root)
    if root not in ticks:
        return None
    return sum(ticks.values()) / os.sysconf("SC_CLK_TCK")


def describe_exit(code: int | None, limits: Limits) -> str:
    if code is None:
        return "it did not exit"
    sig = -code if code < 0 else (code - 128 if code > 128 else 0)
    if sig:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        hint = {
            "SIGXCPU": f" (CPU time limit of {limits.cpu_seconds} s)",
            "SIGKILL": f" (killed; a memory limit of {limits.memory_mb} MB or a time limit is the likely cause)",
            "SIGSEGV": " (crashed; running out of memory is a likely cause)",
            "SIGABRT": " (aborted; running out of memory is a likely cause)",
            "SIGXFSZ": f" (file size limit of {limits.max_file_mb} MB)",
        }.get(name, "")
        return f"it was ended by {name}{hint}"
    return f"it exited with status {code}"


class RunnerProcess:
    """The sandboxed runner of one submission. Use as a context manager; it is killed on exit."""

    def __init__(
        self,
        limits: Limits,
        *,
        sandbox_mode: str | None = None,
        data_dir: Path | None = None,
        extra_files: dict[str, Path] | None = None,
        workdir: Path | None = None,
        deadline: float | None = None,
        chapters: tuple[str, ...] = (),
    ) -> None:
        self._setup(limits, deadline, chapters)
        self._own_tmp = Path(tempfile.mkdtemp(prefix="gradbook-run-")) if workdir is None else None
        self.scratch = Path(workdir or self._own_tmp) / "scratch"  # type: ignore[arg-type]
        try:
            self._cmd = sandbox.build_command(limits, mode=sandbox_mode, data_dir=data_dir,
                                              extra_files=extra_files, host_scratch=self.scratch, chapters=chapters)
        except (sandbox.SandboxUnavailable, ValueError, OSError, SyntaxError) as error:
            self._stop(str(error), Stop.UNAVAILABLE)
            return
        self.sandboxed = self._cmd.sandboxed
        self.events.extend(self._cmd.events)
        self._start()

    def _setup(self, limits: Limits, deadline: float | None, chapters: tuple[str, ...]) -> None:
        self.limits = limits
        self.chapters = chapters  # whose answers its library holds only as stubs (`answers`)
        self.start_time = time.monotonic()
        self.deadline = deadline if deadline is not None else self.start_time + limits.total_timeout
        self.events: list[str] = []
        self.stopped: str | None = None  # why nothing more can be asked of it, for the instructor
        self.stop: Stop | None = None  # the same, for the grader's decisions
        self.sandboxed = False
        self._own_tmp: Path | None = None
        self._proc: Any = None  # a subprocess.Popen, or what stands for one (`forkserver`)
        self._outbox: queue.Queue = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._cmd: sandbox.Command | None = None

    def __enter__(self) -> "RunnerProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- life cycle -----------------------------------------------------------------------------

    def _start(self) -> None:
        cmd = self._cmd
        assert cmd is not None
        try:
            self._proc = subprocess.Popen(
                cmd.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=cmd.env, cwd=cmd.cwd, preexec_fn=cmd.preexec, start_new_session=True, close_fds=True,  # noqa: PLW1509
            )
        except (OSError, ValueError, subprocess.SubprocessError) as error:
            self._stop(f"the sandbox could not be started: {error}", Stop.UNAVAILABLE)
            return
        self._attach(cmd.sandboxed)

    def _attach(self, sandboxed: bool) -> None:
        """Speak to the started process (`_proc`): readers, the writer, and its "ready" within the start-up time."""
        self._reader = _Reader(self._proc.stdout, max(MAX_ANSWER_LINE, self.limits.max_output_bytes + 65_536))
        self._drain = _Drain(self._proc.stderr)
        writer = threading.Thread(target=self._write_loop, daemon=True)
        self._threads = [self._reader, self._drain, writer]
        for thread in self._threads:
            thread.start()
        ready = self._next(min(self.deadline, self.start_time + STARTUP_TIMEOUT))
        if not isinstance(ready, dict) or ready.get("type") != "ready":
            detail = self._drain.head.decode("utf-8", "replace").strip()[-1500:]
            self._stop(f"the sandboxed Python did not start ({describe_exit(self._proc.poll(), self.limits)}): {detail}",
                       Stop.UNAVAILABLE)
        elif sandboxed and os.geteuid() == 0 and ready.get("uid") == 0:
            self._stop("the sandboxed runner still runs as root: refusing to run student code", Stop.UNAVAILABLE)

    def _write_loop(self) -> None:
        # writes go through a thread: a runner that stops reading must never block the supervisor
        assert self._proc is not None and self._proc.stdin is not None
        while True:
            data = self._outbox.get()
            try:
                if data is None:
                    self._proc.stdin.close()
                    return
                self._proc.stdin.write(data)
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                return

    def refuse(self, reason: str) -> None:
        """Ask nothing more of this runner (it is not the one this submission needs), saying why."""
        self._stop(reason, Stop.UNAVAILABLE)

    def _stop(self, reason: str, kind: Stop) -> None:
        if self.stopped is None:
            self.stopped, self.stop = reason, kind
            self.events.append(reason)
        if self._proc is not None:
            self._kill_proc()

    def _kill_proc(self) -> None:
        """Kill the runner and everything it started (the sandbox's pid namespace ends with it)."""
        _kill(self._proc)

    def close(self) -> None:
        if self._proc is not None:
            if self.stopped is None:
                self._outbox.put(b'{"op": "exit"}\n')
            self._outbox.put(None)
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
            self._kill_proc()
            for thread in self._threads:
                thread.join(timeout=5)
            for stream in (self._proc.stdin, self._proc.stdout, self._proc.stderr):
                try:
                    stream.close()  # type: ignore[union-attr]
                except (OSError, ValueError, AttributeError):
                    pass
            if self._reader.dropped:
                self.events.append(f"{self._reader.dropped} oversized or malformed message(s) from the sandbox were dropped")
            self._proc = None
        if self._cmd is not None:
            self.events.extend(self._cmd.finished())  # idempotent: the group is gone after the first
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
            self._own_tmp = None

    # --- requests -------------------------------------------------------------------------------

    def _next(self, until: float) -> dict | Garbage | str | None:
        """A message (or a `Garbage` line), None at EOF, 'timeout' at the deadline, 'disk' when an
        unsandboxed scratch overflows, 'stalled' when `stall_seconds` pass without the sandbox using CPU."""
        last_check = idle_since = time.monotonic()
        cpu_then: float | None = None  # sampled from the first check on: most requests end before it
        while True:
            now = time.monotonic()
            if now >= until:
                return "timeout"
            if now - last_check >= CPU_SAMPLE_SECONDS:
                last_check = now
                if not self.sandboxed:
                    used, entries = _dir_usage(self.scratch)
                    if used > self.limits.max_file_mb * 1024 * 1024 or entries >= 20_000:
                        return "disk"
                cpu = self.cpu_seconds() if self.limits.stall_seconds > 0 else None
                if cpu is None or cpu_then is None or abs(cpu - cpu_then) >= IDLE_CPU_SECONDS:
                    idle_since, cpu_then = now, cpu  # computing (or not measurable): not stalled
                elif now - idle_since >= self.limits.stall_seconds:
                    return "stalled"
            try:  # blocks until a message, the next CPU sample or the deadline: no busy polling
                message = self._reader.messages.get(timeout=max(min(until, last_check + CPU_SAMPLE_SECONDS) - now, 0.01))
            except queue.Empty:
                continue
            return message

    def cpu_seconds(self) -> float | None:
        """CPU seconds the sandbox's processes have used so far (None when it cannot be measured)."""
        return tree_cpu_seconds(self._proc.pid) if self._proc is not None else None

    def request(self, message: dict, answers: Callable[[dict], bool], what: str) -> tuple[dict | None, str]:
        """Send `message` and wait for the reply `answers` accepts, within the cell and total limits.

        Returns (reply, "ok"), or (None, status): "not run" when the runner had stopped before, else
        the value of the `Stop` it stopped by now, with `stopped` saying why. Anything but the reply
        (a line that is no message, a stale or forged message, an answer to another question) stops it
        at once; so does a runner that stalls (see the module).
        """
        if self.stopped is not None:
            return None, "not run"
        began = time.monotonic()
        until = min(self.deadline, began + self.limits.cell_timeout)
        # A fresh nonce per request, echoed in the reply: code running now cannot answer a request
        # that has not been sent yet (it could once forge "done" for every later cell in advance).
        nonce = secrets.token_hex(8)
        self._outbox.put((json.dumps({**message, "nonce": nonce}) + "\n").encode())
        reply = self._next(until)
        if isinstance(reply, dict) and reply.get("nonce") == nonce and answers(reply):
            return reply, "ok"
        if isinstance(reply, (dict, Garbage)):
            self._stop(f"{what}: the runner stopped answering: instead of the reply it sent "
                       f"{_unexpected(reply, message, nonce)}", Stop.PROTOCOL)
        elif reply == "timeout":
            if time.monotonic() >= self.deadline - 1e-3 and self.deadline < began + self.limits.cell_timeout:
                self._stop(f"{what} timed out: the submission's total time limit of {self.limits.total_timeout:g} s "
                           "was reached", Stop.BUDGET)
            else:
                self._stop(f"{what} timed out after {self.limits.cell_timeout:g} s", Stop.TIMEOUT)
        elif reply == "stalled":
            self._stop(f"{what} stalled: no reply and no computing for {self.limits.stall_seconds:g} s "
                       "(it slept, or waited for something that never came, or its reply was swallowed)", Stop.STALLED)
        elif reply == "disk":
            self._stop(f"{what} wrote more than {self.limits.max_file_mb} MB to disk", Stop.DISK)
        else:
            assert self._proc is not None
            self._kill_proc()  # EOF: the process ended
            self._stop(f"the notebook's process ended in {what}: {describe_exit(self._proc.returncode, self.limits)}",
                       Stop.DIED)
        assert self.stop is not None
        return None, self.stop.value


def _unexpected(reply: dict | Garbage, message: dict, nonce: str) -> str:
    """What came instead of the reply, in words (the reply is untrusted: only its shape is described)."""
    if isinstance(reply, Garbage):
        return reply.what
    if reply.get("nonce") != nonce:
        return "a message that answers no request in flight (forged by student code)"
    if message.get("op") == "ask" and reply.get("type") == "answers":
        theirs = reply.get("id")
        shown = theirs if isinstance(theirs, int) and not isinstance(theirs, bool) else type(theirs).__name__
        return f"the answers to another question (id {shown}, not {message.get('id')}: student code changed them)"
    kind = reply.get("type")
    shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
    return f"a reply of another kind ({shown!r}: student code changed it)"
