"""A control group per sandbox: memory for all its processes together, a process count, one CPU's share.

rlimits are per process: a submission that forks 40 children can still take 40 × the memory cap
from the host, and 40 busy processes take every core from the students graded beside it. A
control group bounds the whole sandbox. cgroup v2 (the unified hierarchy) is used where its
controllers can be enabled; otherwise cgroup v1's memory, pids and cpu hierarchies (what many
container hosts mount). Creating groups needs write access to the hierarchy (root, or a
delegated subtree); where there is none, `create` says why and the caller falls back to rlimits.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
_counter = itertools.count()
_lock = threading.Lock()


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
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return path
    return None


def _write(path: Path, value: str) -> None:
    path.write_text(value)


def create(memory_bytes: int, max_pids: int, cpus: float) -> tuple[Cgroup | None, str]:
    """A fresh group with the limits, or (None, why not)."""
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
    return None, "; ".join(errors) or "no cgroup hierarchy is mounted"


def _create_v2(name: str, memory_bytes: int, max_pids: int, cpus: float) -> Cgroup | None:
    unified = ROOT if (ROOT / "cgroup.controllers").exists() else ROOT / "unified"
    if not (unified / "cgroup.controllers").exists():
        return None
    own = _own_path("") or "/"
    base = unified / own.lstrip("/")
    wanted = {"memory", "pids", "cpu"}
    if not wanted <= set((base / "cgroup.controllers").read_text().split()):
        return None
    # v2 lets only leaf groups hold processes: keep ours in a parent that enables the controllers
    parent = base / "gradbook"
    parent.mkdir(exist_ok=True)
    enabled = set((parent / "cgroup.subtree_control").read_text().split())
    if not wanted <= enabled:
        _write(base / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted)))
        _write(parent / "cgroup.subtree_control", " ".join(f"+{c}" for c in sorted(wanted)))
    group = parent / name
    group.mkdir()
    _write(group / "memory.max", str(memory_bytes))
    _write(group / "memory.swap.max", "0") if (group / "memory.swap.max").exists() else None
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
    """A group per v1 controller (memory, pids, cpu) under this process's own, given to the account `uid`: its
    processes join it and `create` their own groups inside it (cgroup v1 delegation: the directory and its
    cgroup.procs/tasks owned by the account). ([], why not) on cgroup v2 (delegation there needs the process
    outside the groups it manages, which one service process cannot be) or where the hierarchy is not writable."""
    if (ROOT / "cgroup.controllers").exists():
        return [], "cgroup v2: no delegation to a single service process"
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
