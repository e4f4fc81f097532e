"""Control groups for sandboxes (autograder/gradbook_grader/cgroups.py): which hierarchy is used and what is
written, against a fake cgroup2 tree in a temporary folder (this machine mounts cgroup v1), and the v1
delegation for real where this machine allows it.

The fake tree stands for the kernel in the two ways the code meets it: a new group's folder is filled with the
interface files the kernel makes (`_make_group`), and a write to cgroup.subtree_control turns "+memory ..." into
the enabled set. Every other write is recorded as it is made, so the order (processes out of a group before its
controllers go to its children: cgroup v2's "no internal processes" rule) is checked too.
"""

from __future__ import annotations

import logging
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest

from gradbook_grader import cgroups

ALL = "cpuset cpu io memory hugetlb pids rdma misc"
SERVICE = "system.slice/gradbook-hub.service"


class FakeCgroup2:
    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root, self.writes, self.chowns = root, [], {}
        self.proc_self = root.parent / "proc-self-cgroup"
        for name, text in {"cgroup.controllers": ALL, "cgroup.subtree_control": "", "cgroup.procs": "1\n"}.items():
            (root / name).write_text(text)  # the real root: no cgroup.type
        monkeypatch.setattr(cgroups, "ROOT", root)
        monkeypatch.setattr(cgroups, "PROC_SELF", self.proc_self)
        monkeypatch.setattr(cgroups, "_make_group", self.make_group)
        monkeypatch.setattr(cgroups, "_write", self.write)
        monkeypatch.setattr(cgroups.os, "chown", lambda path, uid, gid: self.chowns.__setitem__(Path(path), (uid, gid)))
        monkeypatch.setattr(cgroups, "_warned", False)

    def make_group(self, path: Path, controllers: str | None = None) -> None:
        path.mkdir(exist_ok=True)
        given = controllers if controllers is not None else (path.parent / "cgroup.subtree_control").read_text()
        for name, text in {"cgroup.type": "domain", "cgroup.procs": "", "cgroup.threads": "",
                           "cgroup.subtree_control": "", "cgroup.controllers": given, "memory.max": "max",
                           "pids.max": "max", "cpu.max": "max 100000"}.items():
            if not (path / name).exists():
                (path / name).write_text(text)

    def write(self, path: Path, value: str) -> None:
        self.writes.append((path.relative_to(self.root).as_posix(), value))
        if path.name == "cgroup.subtree_control":  # the kernel enables what "+name" asks for
            value = " ".join(sorted(set(path.read_text().split()) | {v.lstrip("+") for v in value.split()}))
        path.write_text(value)

    def live_in(self, group: str, procs: str = "") -> Path:
        """This process's group is `group` (made, with `procs` in it, the controllers given to it)."""
        path = self.root
        for part in group.split("/"):
            path = path / part
            self.make_group(path, controllers="cpu memory pids")
        if procs:
            (path / "cgroup.procs").write_text(procs)
        self.proc_self.write_text(f"0::/{group}\n")
        return path


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeCgroup2:
    root = tmp_path / "cgroup"
    root.mkdir()
    return FakeCgroup2(root, monkeypatch)


def test_v2_sandbox_groups_go_beside_the_managers_leaf_in_its_own_group(fake: FakeCgroup2) -> None:
    own = fake.live_in(SERVICE, procs="4242\n4343\n")
    group, why = cgroups.create(256 << 20, 40, 0.5)
    assert why == "" and group is not None and group.version == 2
    assert group.dirs == [group.memory_dir] and group.memory_dir.parent == own
    assert (group.memory_dir / "memory.max").read_text() == str(256 << 20)
    assert (group.memory_dir / "pids.max").read_text() == "40"
    assert (group.memory_dir / "cpu.max").read_text() == "50000 100000"  # half a CPU per 100 ms
    leaf = f"{SERVICE}/{cgroups.SUPERVISOR}/cgroup.procs"
    enable = (f"{SERVICE}/cgroup.subtree_control", "+cpu +memory +pids")
    assert fake.writes.index((leaf, "4242")) < fake.writes.index(enable)  # every process out first
    assert fake.writes.index((leaf, "4343")) < fake.writes.index(enable)
    # the kernel moved us: the next sandbox's group is made beside the leaf, nothing moved or enabled again
    fake.proc_self.write_text(f"0::/{SERVICE}/{cgroups.SUPERVISOR}\n")
    fake.writes.clear()
    second, _ = cgroups.create(128 << 20, 8, 1.0)
    assert second is not None and second.memory_dir.parent == own and second.memory_dir != group.memory_dir
    assert [path for path, _ in fake.writes] == [f"{second.memory_dir.relative_to(fake.root)}/{f}"
                                                 for f in ("memory.max", "pids.max", "cpu.max")]


def test_v2_in_the_real_root_uses_a_child_of_its_own(fake: FakeCgroup2) -> None:
    fake.proc_self.write_text("0::/\n")
    group, _ = cgroups.create(64 << 20, 8, 2.0)
    assert group is not None and group.memory_dir.parent == fake.root / "gradbook"
    assert fake.writes[:2] == [("cgroup.subtree_control", "+cpu +memory +pids"),
                               ("gradbook/cgroup.subtree_control", "+cpu +memory +pids")]
    assert (group.memory_dir / "cpu.max").read_text() == "200000 100000"
    assert not any(path.endswith("cgroup.procs") for path, _ in fake.writes)  # no process moved out of the root


def test_v2_without_the_controllers_falls_back_and_says_so_once(fake: FakeCgroup2,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    own = fake.live_in("user.slice/user-1000.slice/session-3.scope")
    (own / "cgroup.controllers").write_text("pids")  # not delegated: what a login session gets
    with caplog.at_level(logging.WARNING, logger=cgroups.__name__):
        group, why = cgroups.create(64 << 20, 8, 1.0)
        again, _ = cgroups.create(64 << 20, 8, 1.0)
    assert group is None and again is None
    assert "cpu, memory are not delegated" in why and "Delegate=yes" in why
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and "fall back to rlimits" in warned[0] and "per process only" in warned[0]
    assert fake.writes == []  # nothing changed in a group that was not given to us


def test_a_hybrid_host_without_v2_controllers_is_left_to_v1(fake: FakeCgroup2) -> None:
    (fake.root / "cgroup.controllers").unlink()  # v1 controllers at the top, an empty unified tree beside them
    unified = fake.root / "unified"
    unified.mkdir()
    (unified / "cgroup.controllers").write_text("hugetlb")  # this machine's
    assert cgroups.unified_root() is None
    (unified / "cgroup.controllers").write_text("cpu memory pids")
    assert cgroups.unified_root() == unified


def test_v2_delegation_to_the_grader_account(fake: FakeCgroup2) -> None:
    own = fake.live_in(SERVICE, procs="4242\n")
    (dirs, why) = cgroups.delegate("gradbook-hub-x", 10001, 10002)
    assert why == "" and dirs == [own / "gradbook-hub-x"]
    group = dirs[0]
    given = {path.relative_to(group).as_posix() for path, ids in fake.chowns.items() if ids == (10001, 10002)}
    assert given == {".", "cgroup.procs", "cgroup.threads", "cgroup.subtree_control"}  # cgroup-v2.rst's list
    # the hub (root) puts the formgrader in the group's leaf before it becomes the account
    group.chmod(0o755)
    fake.chowns.clear()
    os_stat = group.stat()
    cgroups.enter(dirs, 5151)
    assert (group / cgroups.SUPERVISOR / "cgroup.procs").read_text() == "5151"
    assert fake.chowns[group / cgroups.SUPERVISOR] == (os_stat.st_uid, os_stat.st_gid)
    # as the account, from that leaf: its sandboxes' groups are made in the delegated group
    fake.proc_self.write_text(f"0::/{SERVICE}/gradbook-hub-x/{cgroups.SUPERVISOR}\n")
    sandbox, _ = cgroups.create(512 << 20, 16, 1.0)
    assert sandbox is not None and sandbox.memory_dir.parent == group
    assert (group / "cgroup.subtree_control").read_text().split() == ["cpu", "memory", "pids"]


V1_AS_ACCOUNT = """
import os, sys
from pathlib import Path
from gradbook_grader import cgroups
dirs = [Path(d) for d in sys.argv[2:]]
cgroups.enter(dirs, os.getpid())
os.setgid(int(sys.argv[1])); os.setuid(int(sys.argv[1]))
group, why = cgroups.create(64 << 20, 8, 1.0)
print(group.version, *[d.parent for d in group.dirs]) if group else print("none", why)
group and group.destroy()
"""


def test_v1_delegation_for_real() -> None:
    """Where this machine has cgroup v1 and root: an account given the hub's delegated groups makes its
    sandbox's groups inside them (the formgrader's path), with no privilege of its own."""
    if os.geteuid() != 0 or cgroups.unified_root() is not None or not (cgroups.ROOT / "memory" / "cgroup.procs").exists():
        pytest.skip("needs root and cgroup v1 (the fake tree above covers v2)")
    nobody = pwd.getpwnam("nobody")
    dirs, why = cgroups.delegate(f"gradbook-test-{os.getpid()}", nobody.pw_uid, nobody.pw_gid)
    assert dirs, why
    try:
        ran = subprocess.run([sys.executable, "-c", V1_AS_ACCOUNT, str(nobody.pw_uid), *map(str, dirs)],
                             capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.split() == ["1", *map(str, dirs)]
    finally:
        for d in dirs:
            d.rmdir()
