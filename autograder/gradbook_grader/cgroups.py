"""A control group per sandbox: memory for all its processes together, a process count, one CPU's share.

rlimits are per process: a submission that forks 40 children can still take 40 × the memory cap
from the host, and 40 busy processes take every core from the students graded beside it. A
control group bounds the whole sandbox. cgroup v2 (the unified hierarchy) is used where its
controllers can be enabled; otherwise cgroup v1's memory, pids and cpu hierarchies (what many
container hosts mount). Creating groups needs write access to the hierarchy (root, or a
delegated subtree); where there is none, `create` says why and the caller falls back to rlimits.
"""

from __future__ import annotations

import errno
import itertools
import logging
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
PROC_SELF = Path("/proc/self/cgroup")
CPU_PERIOD_US = 100_000
CONTROLLERS = ("cpu", "memory", "pids")
SUPERVISOR = "gradbook-supervisor"  # v2: the leaf a manager's own processes live in (see the module's docstring)
DELEGATED_FILES = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control")  # the kernel's cgroup-v2.rst
log = logging.getLogger(__name__)
_counter = itertools.count()
_lock = threading.Lock()
_warned = False


def thread_variables(cpus: float) -> dict[str, str]:
    """The environment that gives the math libraries (OpenBLAS, MKL, OpenMP: numpy's and torch's) as many threads as
    a group of ``cpus`` CPUs can run, at least one. Unset, they start one per core of the machine, and in a group
    whose CPU quota is smaller the surplus threads wait on each other inside the quota: on 2 cores with a 1-CPU
    quota, chapters 9 and 10's language models trained 3-5x slower with 2 threads than with 1 (bench/
    bench_language_models.py --quick, 2026-12-06)."""
    threads = str(max(1, int(cpus)))
    return {name: threads for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                       "NUMEXPR_NUM_THREADS")}


@dataclass
class Cgroup:
    """The groups (one per v1 controller, or one v2 group) a sandbox's processes are put in."""

    dirs: list[Path]
    version: int
    memory_dir: Path
    extra: list[Path] = field(default_factory=list)

    def join(self) -> None:
        """Put the calling process in the group(s). Runs in the child between fork and exec."""
        self.add(os.getpid())

    def add(self, pid: int) -> None:
        """Put process `pid` (a host pid) in the group(s): a forked runner, before any student code runs."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        found: set[int] = set()
        for d in self.dirs:
            try:
                found.update(int(p) for p in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return found

    def _memory_number(self, v2_name: str, v1_name: str) -> int | None:
        try:
            return int((self.memory_dir / (v2_name if self.version == 2 else v1_name)).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def memory_peak(self) -> int | None:
        return self._memory_number("memory.peak", "memory.max_usage_in_bytes")

    def memory_limit(self) -> int | None:
        return self._memory_number("memory.max", "memory.limit_in_bytes")

    def hit_memory_limit(self) -> bool:
        """Whether the group's memory reached its limit (the kernel then reclaims, swaps or kills)."""
        try:
            if self.version == 2:
                events = dict(line.split() for line in (self.memory_dir / "memory.events").read_text().splitlines())
                if int(events.get("oom_kill", "0")) > 0 or int(events.get("max", "0")) > 0:
                    return True
            elif int((self.memory_dir / "memory.failcnt").read_text()) > 0:
                return True
        except (OSError, ValueError):
            pass
        peak, limit = self.memory_peak(), self.memory_limit()
        return peak is not None and limit is not None and peak >= limit - (1 << 20)

    def destroy(self) -> None:
        """Kill whatever is left in the group, then remove it."""
        for _ in range(50):
            left = self.pids()
            if not left:
                break
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            threading.Event().wait(0.02)  # the kernel reaps them; the group must be empty to go
        for d in [*self.dirs, *self.extra]:
            try:
                d.rmdir()
            except OSError:
                pass


def _own_path(controller: str) -> str | None:
    """This process's group in a v1 controller's hierarchy ("" for v2's unified line)."""
    try:
        lines = PROC_SELF.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return None


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def _make_group(path: Path) -> None:
    """mkdir in a cgroup hierarchy: the kernel fills the new group with its interface files."""
    path.mkdir(exist_ok=True)


def _controllers(path: Path) -> set[str]:
    return set(path.read_text().split())


def unified_root() -> Path | None:
    """Where cgroup v2 is mounted with the controllers a sandbox needs: /sys/fs/cgroup (unified) or
    /sys/fs/cgroup/unified (hybrid); None where v1 holds them (a hybrid host's unified tree then has none)."""
    for mount in (ROOT, ROOT / "unified"):
        if (mount / "cgroup.controllers").exists():
            return mount if set(CONTROLLERS) <= _controllers(mount / "cgroup.controllers") else None
    return None


def _enable(group: Path) -> None:
    """Hand memory, pids and cpu to the group's children (it then may hold no process itself)."""
    if not set(CONTROLLERS) <= _controllers(group / "cgroup.subtree_control"):
        _write(group / "cgroup.subtree_control", " ".join(f"+{c}" for c in CONTROLLERS))


def v2_home(unified: Path) -> Path:
    """The v2 group this process makes its sandboxes' groups in, ready (controllers enabled for its children):
    * its group's parent, when it already lives in that parent's leaf SUPERVISOR (moved before, or put there by
      `enter`, as the hub does for the formgrader);
    * a child `gradbook` of the hierarchy's real root (which may hold processes and hand out controllers);
    * otherwise its own group (root's, or one delegated to it): every process there moves into the leaf
      SUPERVISOR first, as a container's init does, then the controllers are enabled for the children.
    OSError (with what to do) where the group has not been given the controllers or is not this process's to
    change."""
    own = unified / (_own_path("") or "/").lstrip("/")
    if own.name == SUPERVISOR:  # enabled once already, unless `enter` put it here (a delegated group's first use)
        _enable(own.parent)
        return own.parent
    if not (own / "cgroup.type").exists():  # only the real root group has no type
        home = own / "gradbook"
        _enable(own)
        _make_group(home)
        _enable(home)
        return home
    missing = set(CONTROLLERS) - _controllers(own / "cgroup.controllers")
    if missing:
        raise OSError(errno.EOPNOTSUPP, f"the controllers {', '.join(sorted(missing))} are not delegated to {own} "
                      "(run under `systemd-run --scope -p Delegate=yes`, or enable them in its parent's "
                      "cgroup.subtree_control)")
    leaf = own / SUPERVISOR
    _make_group(leaf)
    for pid in (own / "cgroup.procs").read_text().split():
        try:
            _write(leaf / "cgroup.procs", pid)
        except ProcessLookupError:
            continue  # it ended meanwhile
    _enable(own)
    return own


def create(memory_bytes: int, max_pids: int, cpus: float) -> tuple[Cgroup | None, str]:
    """A fresh group with the limits, or (None, why not): cgroup v2 where its controllers are, else v1."""
    global _warned
    with _lock:
        name = f"gradbook-{os.getpid()}-{next(_counter)}"
    errors: list[str] = []
    for make in (_create_v2, _create_v1):
        try:
            group = make(name, memory_bytes, max_pids, cpus)
        except OSError as error:
            errors.append(f"{make.__name__[-2:]}: {error.strerror or error}")
            continue
        if group is not None:
            return group, ""
    why = "; ".join(errors) or "no cgroup hierarchy with the memory, pids and cpu controllers is mounted"
    if not _warned:  # once per process: every sandbox after this one falls back alike
        _warned = True
        log.warning("no control group for the sandboxes (%s): they fall back to rlimits, which cap memory and CPU "
                    "per process only (a submission's children together may take more)", why)
    return None, why


def _create_v2(name: str, memory_bytes: int, max_pids: int, cpus: float) -> Cgroup | None:
    unified = unified_root()
    if unified is None:
        return None
    group = v2_home(unified) / name
    _make_group(group)
    _write(group / "memory.max", str(memory_bytes))
    if (group / "memory.swap.max").exists():  # no escape into swap (absent where swap accounting is off)
        _write(group / "memory.swap.max", "0")
    _write(group / "pids.max", str(max_pids))
    _write(group / "cpu.max", f"{int(cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")
    return Cgroup([group], 2, group)


def _create_v1(name: str, memory_bytes: int, max_pids: int, cpus: float) -> Cgroup | None:
    dirs: dict[str, Path] = {}
    for controller in ("memory", "pids", "cpu"):
        own = _own_path(controller)
        mount = ROOT / controller
        if own is None or not (mount / "cgroup.procs").exists():
            return None
        dirs[controller] = mount / own.lstrip("/") / name
    made: list[Path] = []
    try:
        for d in dirs.values():
            d.mkdir()
            made.append(d)
        memory = dirs["memory"]
        _write(memory / "memory.limit_in_bytes", str(memory_bytes))
        if (memory / "memory.memsw.limit_in_bytes").exists():
            _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))  # no escape into swap
        _write(dirs["pids"] / "pids.max", str(max_pids))
        _write(dirs["cpu"] / "cpu.cfs_period_us", str(CPU_PERIOD_US))
        _write(dirs["cpu"] / "cpu.cfs_quota_us", str(int(cpus * CPU_PERIOD_US)))
    except OSError:
        for d in made:
            try:
                d.rmdir()
            except OSError:
                pass
        raise
    return Cgroup(list(dirs.values()), 1, dirs["memory"])


def delegate(name: str, uid: int, gid: int) -> tuple[list[Path], str]:
    """Groups the account `uid` may make its own groups in, made under this (root) process's own: its processes
    are put in them (`enter`), and `create` run as the account makes each sandbox's group there. ([], why not)
    where the hierarchy is not writable.

    v2: one group in `v2_home`, given to the account as the kernel's cgroup-v2.rst says (the directory and its
    cgroup.procs, cgroup.threads, cgroup.subtree_control; its limits stay root's). v1: a group per controller
    (memory, pids, cpu), the directory and its cgroup.procs/tasks the account's."""
    unified = unified_root()
    if unified is not None:
        try:
            group = v2_home(unified) / name
            _make_group(group)
            for path in (group, *(group / f for f in DELEGATED_FILES)):
                os.chown(path, uid, gid)
        except OSError as error:
            return [], f"cgroup v2: {error.strerror or error}"
        return [group], ""
    dirs = []
    try:
        for controller in ("memory", "pids", "cpu"):
            own = _own_path(controller)
            if own is None or not (ROOT / controller / "cgroup.procs").exists():
                return [], f"no cgroup v1 {controller} hierarchy"
            group = ROOT / controller / own.lstrip("/") / name
            group.mkdir(exist_ok=True)
            for path in (group, group / "cgroup.procs", group / "tasks"):
                os.chown(path, uid, gid)
            dirs.append(group)
    except OSError as error:
        return [], f"{error.strerror or error}"
    return dirs, ""


def enter(dirs: list[Path], pid: int) -> None:
    """Put process `pid` in groups `delegate` made: in each v1 group itself; in a v2 group's leaf SUPERVISOR,
    the account's like the group (a v2 group that hands controllers to its children holds no process). Run by
    root before the process becomes the account: on v2 the account could not move itself there (moving needs
    write access to the common ancestor's cgroup.procs, which is root's)."""
    for group in dirs:
        if not (group / "cgroup.controllers").exists():  # v1: every v2 group has this file, no v1 group does
            _write(group / "cgroup.procs", str(pid))
            continue
        leaf = group / SUPERVISOR
        _make_group(leaf)
        owner = group.stat()
        for path in (leaf, *(leaf / f for f in DELEGATED_FILES)):
            os.chown(path, owner.st_uid, owner.st_gid)
        _write(leaf / "cgroup.procs", str(pid))
