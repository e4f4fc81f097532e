"""Runs INSIDE the sandbox: the fork server of one chapter (`gradbook_grader.forkserver` is its grader side).

    python -s -E /opt/gradbook/zygote.py      (bound beside runner.py, alone)

It starts the interpreter and imports IPython, the runner and the notebook's modules ONCE, runs no
student code ever, and forks a fresh runner per submission. Requests come as datagrams on the
SOCK_SEQPACKET socket whose fd is $GRADBOOK_FORK_FD, each fork request carrying the child's stdin/stdout/stderr as fds:

    -> {"op": "import", "modules": [...]}                <- {"type": "imported", "failed": [...]}
    -> {"op": "fork", "uid": n | null, "rlimits": {...}, "tmpfs": bytes, "shm": bytes} + 3 fds
                                                         <- {"type": "forked", "pid": n}  or  {"type": "refused", "why": ...}
    -> {"op": "wait", "pid": n, "timeout": s}            <- {"type": "exited", "status": n | null}

Each submission's process tree is separated from the server and from every other submission:

    server ─ C1 (own user, mount, IPC and network namespaces; rlimits; the fresh uid when root)
              └ C2  pid 1 of its own pid namespace: when it ends, every process of the submission ends
                  └ C3  the runner (`runner.serve`), no capabilities, fresh /scratch /tmp /dev/shm /run

* memory: a fork copies the server's memory; whatever the submission changes (module globals, numpy's
  random state, patched functions, os.environ, threads it starts) lives and dies in its own copy;
* files: every place a sandbox can write is a fresh tmpfs in the child's own mount namespace, so no file
  of one submission is ever visible to the next (nor the server's: it writes nothing);
* fds: the child keeps only its own three pipes; the server's socket is closed before anything runs;
* processes: the child's pid namespace dies with C2; SysV IPC lives in the child's IPC namespace;
* sockets: the child's own network namespace (its loopback up, as bubblewrap's): an abstract Unix socket or a
  loopback port of one submission is not another's, though two are graded at once from one server (a Dask
  worker of several threads);
* the server is not dumpable and holds no capability a child could use: a child cannot ptrace it.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import socket
import sys
import threading
import time

import runner  # the sandboxed runner (bound beside this file); imports IPython once, here

CLONE_NEWNS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x08000000, 0x10000000, 0x20000000, 0x40000000
SIOCSIFFLAGS, IFF_UP = 0x8914, 0x1
MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x4000, 0x40000
PR_SET_DUMPABLE = 4
WRITABLE = ("/scratch", "/tmp", "/run")  # with /dev/shm: where a sandbox can write (tests/test_forkserver.py walks them)
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount_tmpfs(target: str, size: int) -> None:
    data = f"size={size},mode=1777".encode()
    _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, data), f"mount {target}")


def _drop_capabilities() -> None:
    """No capability left in any namespace (the child's own included): nothing to unmount or trace with."""
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this thread
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def _loopback_up() -> None:
    """The child's network namespace's loopback up, as bubblewrap leaves the sandbox's (a notebook may talk to
    itself on 127.0.0.1); it reaches nothing else."""
    import fcntl
    import struct

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", IFF_UP))


def _rlimits(limits: dict) -> None:
    import resource

    for name, value in limits.items():  # as `sandbox._rlimits` sets them for a runner of its own
        try:
            kind = getattr(resource, f"RLIMIT_{name}")
            soft, hard = resource.getrlimit(kind)
            value = value if hard == resource.RLIM_INFINITY else min(int(value), hard)
            resource.setrlimit(kind, (value, value))
        except (ValueError, OSError, AttributeError):
            pass


def _mirror(status: int) -> int:
    """A child's wait status as an exit code (a signal as 128 + n, as bwrap says it)."""
    return 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _wait_for(pid: int) -> int:
    """Reap every child (pid 1 adopts orphans) until `pid` ends; its status."""
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            return 0
        if done == pid:
            return status


def _child(request: dict, fds: list[int], server: socket.socket) -> None:
    """C1: everything the submission needs set up before any of its code, then C2 and C3. Never returns."""
    try:
        server.close()
        for n, fd in enumerate(fds[:3]):
            os.dup2(fd, n)
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the server's fds, the imports' files: none is the submission's
        uid = request.get("uid")
        if isinstance(uid, int):  # a root-run sandbox: a fresh uid per submission (RLIMIT_NPROC counts per uid)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
        _rlimits(request.get("rlimits") or {})
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # its own /proc/self, to write the maps below
        uid, gid = os.getuid(), os.getgid()
        _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET), "unshare")
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # C1 and C2 hold capabilities in the child's namespaces
        init = os.fork()
        if init:
            os.closerange(0, 3)
            os._exit(_mirror(_wait_for(init)))
        # C2: pid 1 of the submission's pid namespace
        _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
        for target in WRITABLE:
            _mount_tmpfs(target, int(request["tmpfs"]))
        _mount_tmpfs("/dev/shm", int(request["shm"]))
        os.chdir("/scratch")
        os.makedirs("/run/gradbook", exist_ok=True)
        _loopback_up()
        _drop_capabilities()
        runner_pid = os.fork()
        if runner_pid:
            os.closerange(0, 3)
            os._exit(_mirror(_wait_for(runner_pid)))
        # C3: the runner
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        if "numpy" in sys.modules:  # a fresh process's numpy draws fresh entropy; `random` reseeds itself at fork
            sys.modules["numpy"].random.seed()
    except BaseException as error:  # noqa: BLE001 - said on the child's stderr; the grader sees no "ready"
        os.write(2, f"the fork server's child could not be set up: {error}\n".encode(errors="replace"))
        os._exit(70)
    try:
        runner.serve()
    finally:
        os._exit(1)


def _wait(child: object, timeout: object) -> dict:
    """Child `child`'s exit code once it has ended (within `timeout`), else None (the grader kills it).

    Awaits the exit itself (a pidfd becomes readable when the process ends) rather than polling with sleeps:
    on a busy machine each sleep costs a wake-up and a time slice, and the grader waits here for every
    submission's runner to end."""
    until = time.monotonic() + max(0.0, min(float(timeout), 30.0))  # type: ignore[arg-type]
    pidfd = -2  # not opened yet; -1: this kernel has no pidfd
    try:
        while isinstance(child, int) and child > 0:
            try:
                done, status = os.waitpid(child, os.WNOHANG)
            except ChildProcessError:  # not ours, or reaped already
                break
            if done:
                return {"type": "exited", "status": _mirror(status)}
            left = until - time.monotonic()
            if left <= 0:
                break
            if pidfd == -2:
                try:
                    pidfd = os.pidfd_open(child)
                except (OSError, AttributeError):  # an older kernel: short sleeps, as before
                    pidfd = -1
            if pidfd >= 0:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(0.005, left))
    finally:
        if pidfd >= 0:
            os.close(pidfd)
    return {"type": "exited", "status": None}


def serve() -> None:
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no child may read or trace the server's memory
    server = socket.socket(fileno=int(os.environ.pop("GRADBOOK_FORK_FD")))
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(server, 1 << 16, 3)
        except OSError:
            return
        if not data:
            return
        request = json.loads(data)
        op = request.get("op")
        if op == "import":
            reply = runner.preload(request.get("modules"))
        elif op == "fork":
            threads = len(os.listdir("/proc/self/task"))
            if threading.active_count() > 1 or threads > 1:  # a fork copies one thread: the others' state would be torn
                reply = {"type": "refused", "why": f"the fork server runs {threads} threads (an import started them)"}
            elif len(fds) != 3:
                reply = {"type": "refused", "why": f"a fork request needs 3 fds, not {len(fds)}"}
            else:
                child = os.fork()
                if child == 0:
                    _child(request, fds, server)
                reply = {"type": "forked", "pid": child}
        elif op == "wait":
            reply = _wait(request.get("pid"), request.get("timeout", 0))
        else:
            reply = {"type": "unknown"}
        for fd in fds:
            os.close(fd)
        server.send(json.dumps(reply).encode())


if __name__ == "__main__":
    serve()
