"""The sandbox a submission runs in: bubblewrap, rlimits, an unprivileged uid.

What the student's process gets (bwrap available):

* read-only: /usr (and the /bin, /lib* links), the few /etc files the dynamic loader needs,
  the Python installation (sys.base_prefix, sys.prefix) and the gradbook library;
  optionally a data directory and extra files named by the grader;
* writable: /scratch (its cwd and HOME), /tmp, /dev/shm and /run/gradbook (where the checks
  record), each a size-limited tmpfs that lives only as long as the sandbox; nothing on the
  host is writable;
* nothing else: not the course directory, the instructor's sources, the gradebook, other
  submissions, /etc/passwd, /root, /home. No network (own empty network namespace), own
  pid/ipc/uts namespaces, a new session (no TIOCSTI), dies with the supervisor;
* rlimits: address space, CPU seconds, file size, processes; when the grader runs as
  root the runner drops to a fresh unprivileged uid before any student code, so
  RLIMIT_NPROC is enforced and a fork bomb stops.

* no answers: the library is replaced by the graded chapter's view (`answers.package_view`):
  no chapter's reference answers, mistakes or case generators, and stubs in place of the
  library's code that computes the graded chapter's answers; the grader asks its questions
  from outside;
* a control group per sandbox (`cgroups`), where the host allows one: memory for all its
  processes together, a process count and one CPU's share, so one submission cannot take
  more than its share of the host; rlimits stay as the per-process fallback.

Fail closed: when bwrap cannot run here, `build_command` raises `SandboxUnavailable` with what
to do. Student code runs without a sandbox only when the instructor asked for it explicitly
(`mode="none"`, the CLI's `--unsafe-no-sandbox`), and every such grade says so.
"""

from __future__ import annotations

import itertools
import logging
import os
import shlex
import shutil
import subprocess
import sys
import threading
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

from gradbook_grader import cgroups
from gradbook_grader.answers import package_view
from gradbook_grader.types import Limits, no_control_group

log = logging.getLogger("gradbook_grader")

SCRATCH = "/scratch"
DATA = "/data"
RUNNER = Path(__file__).resolve().parent / "runner.py"
RUNNER_IN_SANDBOX = "/opt/gradbook/runner.py"
ZYGOTE = RUNNER.parent / "zygote.py"  # the fork server (`forkserver`), bound beside the runner
ZYGOTE_IN_SANDBOX = "/opt/gradbook/zygote.py"
WATCH = RUNNER.parent / "watch.py"  # what an answer calls in a framework (`watch`), imported by the runner
WATCH_IN_SANDBOX = "/opt/gradbook/watch.py"
FORK_FD_ENV = "GRADBOOK_FORK_FD"
UNSANDBOXED = "none"  # the one mode that runs student code without a sandbox; only when asked for
FIX = (
    "Install bubblewrap (`apt-get install bubblewrap`), allow user namespaces "
    "(`sysctl -w kernel.unprivileged_userns_clone=1`, or `kernel.apparmor_restrict_unprivileged_userns=0` "
    "on Ubuntu 24.04), or run the grader as root or in the container of docs/grading-on-a-cluster.md. "
    "To run student code WITHOUT a sandbox anyway (only for submissions you trust), pass --unsafe-no-sandbox."
)
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives", "mime.types")
_UID_BASE = 1_000_000
_uid_counter = itertools.count()
_uid_lock = threading.Lock()


class UnsandboxedWarning(UserWarning):
    """Student code is about to run without a sandbox (the instructor asked for it)."""


class SandboxUnavailable(RuntimeError):
    """No sandbox can be started here: grading refuses, and the message says how to fix it."""


@dataclass
class Command:
    argv: list[str]
    env: dict[str, str]
    cwd: str
    preexec: object
    sandboxed: bool
    scratch: Path | None  # host scratch dir (unsandboxed only)
    events: list[str] = field(default_factory=list)
    group: cgroups.Cgroup | None = None

    def finished(self) -> list[str]:
        """Whatever the sandbox left running goes; returns events (a memory limit that was hit)."""
        events = group_finished(self.group) if self.group is not None else []
        self.group = None
        return events


def group_finished(group: cgroups.Cgroup) -> list[str]:
    """Kill what is left in a sandbox's control group and remove it; the events (a memory limit hit)."""
    events = []
    if group.hit_memory_limit():
        mb = (group.memory_peak() or 0) // (1 << 20)
        events.append(f"memory limit of the whole sandbox hit (all its processes together: peak {mb:,} MB)")
    group.destroy()
    return events


def _python_roots() -> list[Path]:
    """Directories the runner's Python needs: its installation, the venv, the gradbook library."""
    import gradbook

    roots = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).resolve().parent.parent}
    # the package itself, not its parent: an editable install's parent may be the course repository
    roots.add(Path(gradbook.__file__).resolve().parent)
    for entry in sys.path:
        path = Path(entry or ".").resolve()
        if path.is_dir() and ("site-packages" in path.parts or "dist-packages" in path.parts):
            roots.add(path)
    # keep only the outermost; never bind /, /root, /home, the cwd
    out: list[Path] = []
    for root in sorted(roots, key=lambda p: len(p.parts)):
        if len(root.parts) < 2 or any(root == o or o in root.parents for o in out):
            continue
        out.append(root)
    return out


def _lib_dirs() -> list[str]:
    return [d for d in ("/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin") if os.path.lexists(d)]


@lru_cache(maxsize=1)
def bwrap_problem() -> str | None:
    """None when bwrap works here; otherwise why not (cached)."""
    exe = shutil.which("bwrap")
    if not exe:
        return "bwrap (bubblewrap) is not installed"
    try:
        argv = [exe, *_base_args(exe, Limits(), None, {}), "--", sys.executable, "-s", "-E", "-c",
                "import gradbook.checks.core"]
        proc = subprocess.run(argv, capture_output=True, timeout=30, env=_base_env(Limits()))
    except (OSError, subprocess.SubprocessError) as error:
        return f"bwrap does not run: {error}"
    if proc.returncode != 0:
        said = proc.stderr.decode(errors="replace").strip()
        if "Traceback (most recent call last)" in said:  # the sandbox ran; Python in it could not import the library
            cause = said.splitlines()[-1][:300]
            return (f"the sandbox starts, but its Python cannot import the course's library ({cause}): the sandbox "
                    f"binds {', '.join(str(p) for p in _python_roots())}; install gradbook (pip install -e .) in "
                    f"the Python that runs gradbook-grader ({sys.executable})")
        return f"bwrap does not run: {said[-300:]}"
    return None


def _parents(path: Path) -> list[str]:
    return [str(p) for p in reversed(path.parents) if str(p) != "/"]


def _base_args(exe: str, limits: Limits, data_dir: Path | None, extra_files: dict[str, Path],
               chapters: tuple[str, ...] = (), fork_server: bool = False) -> list[str]:
    root = os.geteuid() == 0
    args = ["--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if root:
        # privileged bwrap: keep only what the runner needs to drop to an unprivileged uid
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        args += ["--unshare-user"]
    args += ["--ro-bind", "/usr", "/usr"]
    for d in _lib_dirs():
        target = os.readlink(d) if os.path.islink(d) else None
        args += ["--symlink", target, d] if target else ["--ro-bind", d, d]
    args += ["--perms", "0755", "--dir", "/etc"]
    for name in _ETC_FILES:
        if os.path.exists(f"/etc/{name}"):
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    # The sandbox's own filesystems come before the Python roots: bwrap mounts in order, and a
    # venv or checkout that lives under /tmp (as a CI clone may) must be bound on top of the
    # fresh /tmp, not hidden beneath it.
    size = str(limits.max_file_mb * 1024 * 1024)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "01777", "--size", str(min(64, limits.max_file_mb) * 1024 * 1024), "--tmpfs", "/dev/shm",
             "--perms", "01777", "--size", size, "--tmpfs", "/tmp",
             "--perms", "01777", "--size", size, "--tmpfs", SCRATCH,
             "--perms", "0755", "--dir", "/run"]
    made: set[str] = {"/etc", "/usr", "/proc", "/dev", "/tmp", SCRATCH, "/run"}
    for root_dir in _python_roots():
        if str(root_dir).startswith("/usr/"):
            continue
        for parent in _parents(root_dir):
            if parent not in made:
                args += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        args += ["--ro-bind", str(root_dir), str(root_dir)]
        made.add(str(root_dir))
    import gradbook

    # The whole package, bound over the real one: no bytecode, no answers of the graded chapters.
    args += ["--ro-bind", str(package_view(chapters)), str(Path(gradbook.__file__).resolve().parent)]
    args += ["--perms", "0755", "--dir", "/opt/gradbook", "--ro-bind", str(RUNNER), RUNNER_IN_SANDBOX,
             "--ro-bind", str(WATCH), WATCH_IN_SANDBOX]
    if fork_server:
        args += ["--ro-bind", str(ZYGOTE), ZYGOTE_IN_SANDBOX]
    if data_dir is not None and data_dir.is_dir():
        args += ["--ro-bind", str(data_dir.resolve()), DATA]
    for name, path in extra_files.items():
        target = f"{SCRATCH}/{_safe_name(name)}"
        args += ["--ro-bind", str(Path(path).resolve()), target]
    # Nothing but its own tmpfs mounts (/tmp, /scratch, /dev/shm) writable, whoever runs the grader: bwrap's root
    # and /dev are tmpfs owned by the user who started bwrap, which without root is the sandbox's own user (as root
    # the runner drops to a fresh uid that owns nothing). Graded by a non-root instructor, a submission could
    # otherwise fill memory with files in / (no size limit there) and, forked from one server, leave files for
    # the next submission.
    args += ["--remount-ro", "/", "--remount-ro", "/dev", "--chdir", SCRATCH]
    return args


def _safe_name(name: str) -> str:
    parts = [p for p in Path(name).parts if p not in ("", ".", "..", "/")]
    if not parts or parts[0] == ".gradbook":
        raise ValueError(f"bad extra file name {name!r}")
    return "/".join(parts)


def _base_env(limits: Limits, home: str = SCRATCH) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "USER": "student",
        "LOGNAME": "student",
        "TMPDIR": "/tmp" if home == SCRATCH else home,
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        **cgroups.thread_variables(limits.threads),
        "GRADBOOK_OFFLINE": "1",
        "GRADBOOK_GRADING": "1",
        "GRADBOOK_OUTPUT_BUDGET": str(limits.max_output_bytes),
    }
    return env


def _nproc_now(uid: int) -> int:
    """Processes and threads the user already has (RLIMIT_NPROC counts them all)."""
    count = 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if entry.stat().st_uid == uid:
                        count += len(os.listdir(f"/proc/{entry.name}/task"))
                except OSError:
                    pass
    except OSError:
        return 0
    return count


def rlimit_values(limits: Limits, sandbox_uid: int | None) -> dict[str, int]:
    """Each process's caps, by resource name (RLIMIT_<name>): what every runner gets, forked ones too."""
    nproc = limits.max_processes
    if sandbox_uid is None and os.geteuid() != 0:
        nproc += _nproc_now(os.geteuid())  # the instructor's own processes count too
    values = {"AS": limits.memory_mb * 1024 * 1024, "CPU": int(limits.cpu_seconds),
              "FSIZE": limits.max_file_mb * 1024 * 1024, "CORE": 0}
    if os.geteuid() != 0 or sandbox_uid is not None:
        values["NPROC"] = nproc
    return values


def _rlimits(limits: Limits, sandbox_uid: int | None):  # noqa: ANN202
    import resource

    values = rlimit_values(limits, sandbox_uid)

    def apply() -> None:
        for name, value in values.items():
            try:
                kind = getattr(resource, f"RLIMIT_{name}")
                soft, hard = resource.getrlimit(kind)
                value = value if hard == resource.RLIM_INFINITY else min(value, hard)
                resource.setrlimit(kind, (value, value))
            except (ValueError, OSError):
                pass

    return apply


def next_uid() -> int:
    """A fresh unprivileged uid per sandbox, so parallel sandboxes don't share RLIMIT_NPROC."""
    with _uid_lock:
        n = next(_uid_counter) % 64
    return _UID_BASE + (os.getpid() % 4_000_000) * 64 + n


def sandbox_mode(requested: str | None = None) -> str:
    """"bwrap" (the default: a sandbox or nothing) or "none" (unsandboxed, only when asked for)."""
    mode = (requested or "bwrap").lower()
    if mode == "auto":
        mode = "bwrap"  # "auto" once meant "unsandboxed when bwrap is missing"; now it fails closed
    if mode not in ("bwrap", UNSANDBOXED):
        raise ValueError(f"unknown sandbox mode {mode!r} (bwrap, or none to run without a sandbox)")
    return mode


def require_sandbox() -> None:
    """Raise `SandboxUnavailable` (with what to do) unless a sandbox can be started here."""
    problem = bwrap_problem()
    if problem:
        raise SandboxUnavailable(f"cannot grade: no sandbox can be started here ({problem}). {FIX}")


def _with_group(apply_rlimits: Callable[[], None], group: cgroups.Cgroup | None) -> Callable[[], None]:
    def preexec() -> None:
        if group is not None:
            group.join()  # before exec: nothing the sandbox starts is ever outside the group
        apply_rlimits()

    return preexec


def build_command(
    limits: Limits,
    *,
    mode: str | None = None,
    data_dir: Path | None = None,
    extra_files: dict[str, Path] | None = None,
    host_scratch: Path | None = None,
    env: dict[str, str] | None = None,
    chapters: tuple[str, ...] = (),
    fork_fd: int | None = None,
) -> Command:
    """The command that starts the runner for one submission in the sandbox.

    `chapters`: those being graded ("ch05"); their answers are stubs in the sandbox's library.
    `fork_fd`: start the chapter's fork server instead (`forkserver`), its requests on this inherited
    socket; when the grader runs as root it stays root in the sandbox (with only CAP_SETUID and
    CAP_SETGID) to give each forked runner a fresh uid, and runs no student code itself.

    Raises `SandboxUnavailable` when there is no sandbox here, unless `mode="none"` asked for
    an unsandboxed run (recorded as an event of the run).
    """
    extra_files = dict(extra_files or {})
    if sandbox_mode(mode) != UNSANDBOXED:
        return _sandboxed(limits, data_dir, extra_files, env, chapters, fork_fd)
    assert host_scratch is not None, "an unsandboxed run needs a host scratch directory"
    return _unsandboxed(limits, data_dir, extra_files, env, host_scratch)


def _sandboxed(limits: Limits, data_dir: Path | None, extra_files: dict[str, Path], env: dict[str, str] | None,
               chapters: tuple[str, ...], fork_fd: int | None) -> Command:
    """bubblewrap around the runner (or the fork server), in a control group of its own."""
    runner = [sys.executable, "-s", "-E", "-B", RUNNER_IN_SANDBOX if fork_fd is None else ZYGOTE_IN_SANDBOX]
    require_sandbox()
    exe = shutil.which("bwrap") or "bwrap"
    uid = next_uid() if os.geteuid() == 0 and fork_fd is None else None
    full_env = {**_base_env(limits), **(env or {})}
    if data_dir is not None:
        full_env["GRADBOOK_DATA"] = DATA
    if uid is not None:
        full_env["GRADBOOK_SANDBOX_UID"] = str(uid)
    if fork_fd is not None:
        full_env[FORK_FD_ENV] = str(fork_fd)
    argv = [exe, *_base_args(exe, limits, data_dir, extra_files, chapters, fork_fd is not None), "--", *runner]
    group, why = cgroups.create(limits.memory_mb * 1024 * 1024, limits.max_processes + 8, limits.cpus)
    events = [] if group else [no_control_group(why)]
    if data_dir is not None and data_closed(data_dir):  # said without the host's paths: students read events
        events.append("the course's datasets folder is not readable by the sandbox: cells that load a dataset fail "
                      "here for that reason, not for the submission's (the grader's log says how to fix it)")
    return Command(argv, full_env, "/", _with_group(_rlimits(limits, uid), group), True, None, events, group)


_data_warned: set[Path] = set()


def data_closed(data_dir: Path) -> bool:
    """Can the sandboxes' users not read the datasets folder mounted at /data?

    Run as root, the grader gives each sandbox a uid of its own, neither the folder's owner nor in its group:
    the folder needs o+rx, the datasets in it (`gradbook.datasets.mnist.CACHED_FILES`) o+r. A private folder
    (mkdtemp's 0700, a umask of 077) made every dataset cell of every submission fail with PermissionError; the
    instructor is told once, with the command that fixes it. Anything else in the folder is left alone."""
    from gradbook.datasets.mnist import CACHED_FILES

    if os.geteuid() != 0 or not data_dir.is_dir():
        return False
    wanted = [(data_dir, 0o005), *((path, 0o004) for name in CACHED_FILES if (path := data_dir / name).is_file())]
    closed = [path for path, need in wanted if path.stat().st_mode & need != need]
    if closed and data_dir not in _data_warned:  # once per folder and process: every sandbox after it meets the same
        _data_warned.add(data_dir)
        log.warning("the datasets folder %s is not readable by the sandboxes' users (%d closed to other users, e.g. "
                    "%s, mode %04o): cells that load a dataset fail while grading. Make it readable: chmod -R o+rX %s "
                    "(or point GRADBOOK_DATA at a readable copy), then grade again.", data_dir, len(closed), closed[0],
                    closed[0].stat().st_mode & 0o777, shlex.quote(str(data_dir)))
    return bool(closed)


def _unsandboxed(limits: Limits, data_dir: Path | None, extra_files: dict[str, Path], env: dict[str, str] | None,
                 host_scratch: Path) -> Command:
    """--unsafe-no-sandbox: the runner with the grader's own rights, said loudly, in a scratch folder."""
    runner = [sys.executable, "-s", "-E", str(RUNNER)]
    message = (
        "NO SANDBOX (--unsafe-no-sandbox): the submission runs with the grader's own rights "
        "(it can read and write what the grader can, and import the checks' answers); only rlimits and timeouts apply."
    )
    warnings.warn(message, UnsandboxedWarning, stacklevel=4)
    log.warning(message)
    print(f"gradbook-grader WARNING: {message}", file=sys.stderr)
    host_scratch.mkdir(parents=True, exist_ok=True)
    full_env = {**_base_env(limits, home=str(host_scratch)), **(env or {})}
    if data_dir is not None:
        full_env["GRADBOOK_DATA"] = str(data_dir)
    for name, path in extra_files.items():
        target = host_scratch / _safe_name(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(path).is_dir():
            shutil.copytree(path, target, dirs_exist_ok=True)
        else:
            shutil.copy2(path, target)
    return Command(runner, full_env, str(host_scratch), _rlimits(limits, None), False, host_scratch,
                   ["graded WITHOUT a sandbox: the instructor passed --unsafe-no-sandbox"])
