"""The fork server of one chapter: a sandbox started and loaded once, a fresh isolated runner forked per submission.

Starting a sandboxed Python and importing numpy, IPython and the library costs more than grading a
short chapter (issue 30: ~2.4 core-seconds per submission for a 0.9 s grade). `ForkServer` pays it
once per worker and chapter: it starts `zygote.py` in the chapter's sandbox (the same bubblewrap
command, library view, rlimits and control group as a runner's) and has it import what the
notebook imports. Per submission, `ForkedRunner` asks it to fork: the child sets itself up in
namespaces of its own (zygote.py says how) and becomes the runner, spoken to exactly as a runner
started for it (`process.RunnerProcess`: the same protocol, caps, deadlines and stall detection).

Why namespaces per child and not a nested bubblewrap: bubblewrap would exec a new interpreter, which
is the cost being removed. `unshare` of a user, mount, IPC, pid and network namespace (what bubblewrap itself
does) needs no privilege, keeps the forked memory, and gives each child fresh writable filesystems,
SysV IPC and sockets of its own and a pid namespace that dies with it. Where the kernel refuses them, the fork
server's probe child fails and the pool falls back to a sandbox per submission (`warm.ForkPool`).

What the grader adds per child, outside the sandbox:

* its own control group (`cgroups`), the child's processes moved into it before any cell is sent;
* its own rlimits and, when the grader runs as root, its own fresh uid (`sandbox.next_uid`);
* its kill: every process of its tree, found from the host's /proc (its pid namespace ends with it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
from typing import IO, Any, Sequence

from gradbook_grader import cgroups, sandbox
from gradbook_grader.process import STARTUP_TIMEOUT, RunnerProcess, Stop, _Drain, _kill, describe_exit, descendants
from gradbook_grader.types import Limits, no_control_group

MAX_REPLY = 1 << 16


class ForkServerError(RuntimeError):
    """The fork server did not answer, or refused: the submission needs a sandbox of its own."""


class ForkServer:
    """The sandboxed fork server (zygote.py) of one chapter; `problem` says why it is not usable."""

    def __init__(self, limits: Limits, modules: tuple[str, ...] = (), *, data_dir: Any = None,
                 chapters: tuple[str, ...] = ()) -> None:
        self.limits, self.chapters = limits, chapters
        self.problem: str | None = None
        self.events: list[str] = []
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._cmd: sandbox.Command | None = None
        self._sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._cmd = sandbox.build_command(limits, data_dir=data_dir, chapters=chapters, fork_fd=theirs.fileno())
            self._proc = subprocess.Popen(
                self._cmd.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=self._cmd.env, cwd=self._cmd.cwd, preexec_fn=self._cmd.preexec, start_new_session=True,  # noqa: PLW1509
                pass_fds=(theirs.fileno(),))
        except (sandbox.SandboxUnavailable, ValueError, OSError, SyntaxError, subprocess.SubprocessError) as error:
            self.problem = f"the fork server's sandbox could not be started: {error}"
            return
        finally:
            theirs.close()
        self.events = list(self._cmd.events)
        self._drain = _Drain(self._proc.stderr)
        self._drain.start()
        try:
            reply = self._call({"op": "import", "modules": list(modules)}, timeout=STARTUP_TIMEOUT + limits.cell_timeout)
        except ForkServerError as error:
            try:  # what it said before it ended is why
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self._drain.join(timeout=5)
            detail = self._drain.head.decode("utf-8", "replace").strip()[-1500:]
            self.problem = f"the fork server did not start ({error}; {describe_exit(self._proc.poll(), limits)}): {detail}"
            return
        if reply.get("type") != "imported":
            self.problem = f"the fork server did not load the notebook's imports: {str(reply)[:300]}"

    def _call(self, message: dict, fds: Sequence[int] = (), timeout: float = 30.0) -> dict:
        with self._lock:
            try:
                self._sock.settimeout(timeout)
                socket.send_fds(self._sock, [json.dumps(message).encode()], list(fds))
                data = self._sock.recv(MAX_REPLY)
            except OSError as error:  # socket.timeout included
                raise ForkServerError(f"no reply to {message['op']!r}: {error or 'timed out'}") from error
        if not data:
            raise ForkServerError(f"it ended before answering {message['op']!r}")
        try:
            reply = json.loads(data)
        except ValueError as error:
            raise ForkServerError(f"a reply that is not JSON to {message['op']!r}") from error
        if not isinstance(reply, dict):
            raise ForkServerError(f"a reply that is no object to {message['op']!r}")
        return reply

    def alive(self) -> bool:
        return self.problem is None and self._proc is not None and self._proc.poll() is None

    def fork(self, request: dict) -> tuple[int | None, object, IO[bytes], IO[bytes], IO[bytes]]:
        """A child for one submission: (its host pid, its pid in the sandbox, its stdin, stdout and stderr), or
        ForkServerError. Children may run side by side (a Dask worker with several threads)."""
        if not self.alive():
            raise ForkServerError(self.problem or "the fork server has ended")
        assert self._proc is not None
        pipes = [os.pipe() for _ in range(3)]  # stdin, stdout, stderr: (read end, write end)
        theirs = [pipes[0][0], pipes[1][1], pipes[2][1]]
        ours = [os.fdopen(pipes[0][1], "wb"), os.fdopen(pipes[1][0], "rb"), os.fdopen(pipes[2][0], "rb")]
        try:
            reply = self._call({"op": "fork", **request}, theirs)
        except ForkServerError:
            for stream in ours:
                stream.close()
            raise
        finally:
            for fd in theirs:
                os.close(fd)
        if reply.get("type") != "forked":
            for stream in ours:
                stream.close()
            raise ForkServerError(str(reply.get("why") or reply)[:300])
        inner = reply.get("pid")
        found = [pid for pid in descendants(self._proc.pid) if inner is not None and _ns_pids(pid)[1:] == [inner]]
        return (found[0] if len(found) == 1 else None), inner, ours[0], ours[1], ours[2]

    def wait(self, child: object, timeout: float) -> int | None:
        """Child `child`'s (its pid in the sandbox) exit code once it has ended within `timeout` (None: still running)."""
        try:
            status = self._call({"op": "wait", "pid": child, "timeout": timeout}, timeout=timeout + 10).get("status")
        except ForkServerError:
            return None
        return status if isinstance(status, int) and not isinstance(status, bool) else None

    def close(self) -> None:
        self._sock.close()  # the server reads EOF and ends
        if self._proc is not None:
            try:  # ended, not killed: its processes are reaped, so their CPU time is counted (getrusage, the bench)
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            _kill(self._proc)
            self._proc.stderr.close()  # type: ignore[union-attr]
            self._proc = None
        if self._cmd is not None:
            self.events.extend(self._cmd.finished())
            self._cmd = None


def _ns_pids(pid: int) -> list[int]:
    """A process's pid in each pid namespace it is in, the host's first (NSpid of /proc/PID/status)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("NSpid:"):
                    return [int(x) for x in line.split()[1:]]
    except (OSError, ValueError):
        pass
    return []


class _Child:
    """A forked runner where `RunnerProcess` expects a `subprocess.Popen`: its pipes, its host pid, its exit."""

    def __init__(self, server: ForkServer, pid: int | None, inner: object, stdin: IO[bytes], stdout: IO[bytes],
                 stderr: IO[bytes]) -> None:
        self.server, self.inner, self.stdin, self.stdout, self.stderr = server, inner, stdin, stdout, stderr
        self.pid = pid if pid is not None else 0  # 0: unknown (no CPU to measure, nothing to kill by pid)
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.wait(self.inner, 0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self.server.wait(self.inner, 10.0 if timeout is None else timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired("the forked runner", timeout or 0)
        return self.returncode


class ForkedRunner(RunnerProcess):
    """One submission's runner, forked by the chapter's `ForkServer`: its own namespaces, group, rlimits, uid."""

    def __init__(self, server: ForkServer, deadline: float | None = None) -> None:
        limits = server.limits
        self._setup(limits, deadline, server.chapters)
        self.sandboxed = True
        group, why = cgroups.create(limits.memory_mb * 1024 * 1024, limits.max_processes + 8, limits.cpus)
        self._group: cgroups.Cgroup | None = group
        if group is None:
            self.events.append(no_control_group(why))
        uid = sandbox.next_uid() if os.geteuid() == 0 else None
        size = limits.max_file_mb * 1024 * 1024
        request = {"uid": uid, "rlimits": sandbox.rlimit_values(limits, uid), "tmpfs": size,
                   "shm": min(64 * 1024 * 1024, size)}
        try:
            pid, inner, *streams = server.fork(request)
        except ForkServerError as error:
            self._stop(f"the fork server could not start this submission's runner: {error}", Stop.UNAVAILABLE)
            return
        self._proc = _Child(server, pid, inner, *streams)
        self._attach(sandboxed=True)
        if self.stopped is None and pid is None:
            self._stop("the fork server's child could not be found on the host (to cap and kill it)", Stop.UNAVAILABLE)
        elif self.stopped is None and group is not None:
            try:  # before any cell is sent: whatever the submission starts is in its group
                for member in descendants(pid):  # type: ignore[arg-type]
                    group.add(member)
            except OSError as error:
                self._stop(f"the forked runner could not be put in its control group: {error}", Stop.UNAVAILABLE)

    def _kill_proc(self) -> None:
        for pid in descendants(self._proc.pid) if self._proc.pid else {}:
            try:
                os.kill(pid, signal.SIGKILL)  # the child's pid 1 among them: its namespace's processes go too
            except OSError:
                pass
        if self._group is not None:
            for pid in self._group.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        try:
            self._proc.wait(10)  # the server reaps it
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        super().close()
        if self._group is not None:
            self.events.extend(sandbox.group_finished(self._group))
            self._group = None
