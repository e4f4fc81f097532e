"""The course hub on this machine: memory of a student server idle and working, and how many concurrent student
servers it holds with checks answering within 2 s (docs/course-hub.md). Root only (it makes accounts); 127.0.0.1 only.

    sudo .venv/bin/python bench/bench_hub.py [--step 8] [--limit 2.0] [--rounds 5] [--reserve-gb 3] [--most N]

A student here is a real hub account: it logs in (PAM), its server starts in its own control group, a kernel
starts and imports the student edition, and each round runs the chapter-2 check `naive_relu` on a right answer
(the same cell tests/test_browser_checks.py runs). Servers are added `--step` at a time (started at once); at each
level every working student runs `--rounds` checks at once, and the level holds when the 95th percentile of the
check's round trip (request to result over the kernel's websocket) is within `--limit` seconds. Memory is the
control group's (`memory.usage_in_bytes`: the server, its kernel and their page cache): idle just after it
started, working after its kernel ran a first check, busy at its peak while the level's checks ran (the group's
`memory.max_usage_in_bytes`, reset before them). CPU per check is the CPU time all the students' processes
(servers and kernels) used during a level, divided by the checks run.

It goes on until a bound stops it, and says which: the check's latency (a level's p95 over `--limit`), the
memory reserve (the machine's available memory would fall under `--reserve-gb` with the next level's servers,
counted at the largest working server seen, or has fallen under it: the machine is shared), or `--most` (200 by
default, more than 24 GB holds). Figures printed, never asserted; the last line is the held level's summary.
Everything it made (accounts, homes, its hub folder) is removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import json
import pwd
import secrets
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from test_browser_checks import CELLS  # noqa: E402 - the check a student runs, from the browser test

from gradbook_grader import cgroups, hub  # noqa: E402
from gradbook_grader.course import find_course  # noqa: E402
from gradbook_grader.hub_checkout import reopen_recorded  # noqa: E402

CHECK = CELLS[0] + "\n" + CELLS[1]


def login(base: str, name: str, password: str) -> tuple[requests.Session, str]:
    """A logged-in session and an API token of that person's (their own scopes only)."""
    session = requests.Session()
    session.get(f"{base}/hub/login", timeout=60)
    token = next(c.value for c in session.cookies if c.name == "_xsrf")
    session.post(f"{base}/hub/login", data={"username": name, "password": password, "_xsrf": token}, timeout=300)
    session.get(f"{base}/hub/token", timeout=60)  # the XSRF token of the logged-in session (it changes at login)
    token = next(c.value for c in session.cookies if c.name == "_xsrf" and c.path == "/hub/")
    reply = session.post(f"{base}/hub/api/users/{name}/tokens", json={"note": "bench"},
                         headers={"X-XSRFToken": token}, timeout=60)
    reply.raise_for_status()
    return session, reply.json()["token"]


def start_server(base: str, person: hub.Person) -> str:
    """Log the person in and start their server; their API token once it answers."""
    _, token = login(base, person.name, person.password)
    wait_for_server(base, person.name, token, time.monotonic() + 900)
    return token


def wait_for_server(base: str, name: str, token: str, deadline: float) -> None:
    headers = {"Authorization": f"token {token}"}
    requests.post(f"{base}/hub/api/users/{name}/server", headers=headers, timeout=300)
    while time.monotonic() < deadline:
        reply = requests.get(f"{base}/user/{name}/api/status", headers=headers, timeout=60)
        if reply.status_code == 200:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{name}'s server did not start")


def memory_file(name: str, v1: str, v2: str) -> Path:
    """A memory file of the control group of the person's server (server and kernels)."""
    pids = subprocess.run(["pgrep", "-u", name, "-f", "jupyterhub-singleuser"], capture_output=True,
                          text=True).stdout.split()
    for line in Path(f"/proc/{pids[0]}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return Path(f"/sys/fs/cgroup/memory{path}") / v1
    return (cgroups.unified_root() or cgroups.ROOT) / path.lstrip("/") / v2


def cgroup_memory(name: str, peak: bool = False) -> int:
    """Bytes charged to the person's server's group now, or at most since `reset_peak`."""
    names = ("memory.max_usage_in_bytes", "memory.peak") if peak else ("memory.usage_in_bytes", "memory.current")
    return int(memory_file(name, *names).read_text().split()[0])


def reset_peak(name: str) -> None:
    try:  # v1: writing 0 resets it; v2's memory.peak takes a write from Linux 6.12 on
        memory_file(name, "memory.max_usage_in_bytes", "memory.peak").write_text("0")
    except OSError:
        pass


class Kernel:
    """A kernel in a person's server, driven over its websocket as JupyterLab drives it."""

    def __init__(self, base: str, name: str, token: str) -> None:
        self.base, self.name, self.token = base, name, token
        self.headers = {"Authorization": f"token {token}"}

    async def open(self) -> None:
        reply = await asyncio.to_thread(requests.post, f"{self.base}/user/{self.name}/api/kernels",
                                        headers=self.headers, json={"name": "python3"}, timeout=300)
        reply.raise_for_status()
        url = f"{self.base.replace('http', 'ws')}/user/{self.name}/api/kernels/{reply.json()['id']}/channels"
        # many kernels starting at once on a busy machine answer well after tornado's default 20 s
        request = HTTPRequest(url, headers=self.headers, connect_timeout=300, request_timeout=300)
        self.socket = await websocket_connect(request, max_message_size=1 << 26)

    async def run(self, code: str) -> tuple[float, str]:
        """Seconds from the request to the cell's end, and what it printed."""
        msg_id = uuid.uuid4().hex
        message = {"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": self.name, "session": msg_id,
                              "version": "5.3", "date": ""}, "parent_header": {}, "metadata": {}, "channel": "shell",
                   "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                               "allow_stdin": False, "stop_on_error": True}}
        started, printed = time.perf_counter(), []
        await self.socket.write_message(json.dumps(message))
        while True:
            reply = json.loads(await asyncio.wait_for(self.socket.read_message(), timeout=300))
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = reply["msg_type"], reply["content"]
            if kind == "stream":
                printed.append(content["text"])
            elif kind in ("display_data", "execute_result"):
                printed.append(content["data"].get("text/plain", ""))
            elif kind == "error":
                printed.append("\n".join(content["traceback"]))
            elif kind == "status" and content["execution_state"] == "idle":
                return time.perf_counter() - started, "".join(printed)


def cpu_seconds(uids: set[int]) -> float:
    """CPU time (user + system) used so far by the live processes of these accounts."""
    total, tick = 0, os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or proc.stat().st_uid not in uids:
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
    return total / tick


def meminfo(field: str = "MemAvailable") -> int:
    """Bytes of a /proc/meminfo field (the machine's available memory by default)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    return 0


def machine() -> str:
    """The machine as `uptime` and `free` see it, for the figures' record."""
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"load average {load}; memory total {meminfo('MemTotal') / 2**30:.1f} GiB, free "
            f"{meminfo('MemFree') / 2**30:.1f} GiB, available {meminfo() / 2**30:.1f} GiB")


async def level(kernels: list[Kernel], rounds: int) -> list[float]:
    times: list[float] = []
    for _ in range(rounds):  # every student checks at once, `rounds` times
        results = await asyncio.gather(*(k.run(CHECK) for k in kernels))
        for seconds, printed in results:
            assert "\u2714 naive_relu" in printed, printed[-500:]
            times.append(seconds)
    return times


async def bench(args: argparse.Namespace) -> None:
    why = hub.why_not_here()
    if why:
        sys.exit(f"bench_hub: {why}")
    people = [hub.Person(f"bh{secrets.token_hex(2)}i", "instructor", secrets.token_urlsafe(9))]
    people += [hub.Person(f"{people[0].name[:6]}s{i}", "student", secrets.token_urlsafe(9)) for i in range(args.most)]
    root = Path(f"/srv/gradbook-hub-bench-{secrets.token_hex(3)}")
    process, settings = None, None
    try:
        settings = hub.prepare(find_course(ROOT / "autograder"), people, root, hub.free_ports(1)[0])
        process = hub.start(settings, stdout=subprocess.DEVNULL, stderr=open(root / "state" / "hub.log", "w"))
        base = f"http://127.0.0.1:{settings.port}"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/hub/health", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        kernels: list[Kernel] = []
        students = [p for p in people if p.role == "student"]
        uids: set[int] = set()
        held, largest, bound = None, 0, f"--most {args.most}"
        print(f"start: {machine()}", flush=True)
        while len(kernels) < len(students):
            joining = students[len(kernels):len(kernels) + args.step]
            need = len(joining) * (largest or 256 << 20)  # before the first level: a guess above the last measured
            if meminfo() - need < args.reserve_gb * 2**30:
                bound = (f"memory: {len(joining)} more servers (~{need / 2**30:.2f} GiB) would leave under "
                         f"{args.reserve_gb} GiB available ({meminfo() / 2**30:.1f} GiB now)")
                break
            started = time.monotonic()
            tokens = await asyncio.gather(*(asyncio.to_thread(start_server, base, p) for p in joining))
            idle = [cgroup_memory(p.name) for p in joining]
            joined = [Kernel(base, p.name, t) for p, t in zip(joining, tokens)]
            await asyncio.gather(*(k.open() for k in joined))
            await asyncio.gather(*(k.run(CHECK) for k in joined))  # imports the edition's library: the working server
            kernels += joined
            uids |= {pwd.getpwnam(p.name).pw_uid for p in joining}
            working = [cgroup_memory(p.name) for p in joining]
            largest = max(largest, *working)
            print(f"{len(joining)} servers started in {time.monotonic() - started:.0f} s; each idle (just started) "
                  f"{statistics.median(idle) / 2**20:.0f} MiB median, working (a kernel that ran a check) "
                  f"{statistics.median(working) / 2**20:.0f} MiB median, largest {max(working) / 2**20:.0f} MiB",
                  flush=True)
            for k in kernels:
                reset_peak(k.name)
            cpu = cpu_seconds(uids)
            times = await level(kernels, args.rounds)
            cpu = (cpu_seconds(uids) - cpu) / len(times)
            p95 = statistics.quantiles(times, n=20)[-1] if len(times) > 1 else times[0]
            memory = sum(cgroup_memory(k.name) for k in kernels)
            busy = statistics.median(cgroup_memory(k.name, peak=True) for k in kernels)
            figures = (f"{len(kernels):3d} servers: check round trip median {statistics.median(times):.2f} s, p95 "
                       f"{p95:.2f} s; CPU {cpu:.3f} s per check; a server's peak while checking (busy) "
                       f"{busy / 2**20:.0f} MiB median; their memory {memory / 2**30:.2f} GiB; {machine()}")
            print(figures, flush=True)
            if p95 > args.limit:
                bound = f"latency: at {len(kernels)} servers the check's p95 {p95:.2f} s is over {args.limit} s"
                break
            held = figures
            if meminfo() < args.reserve_gb * 2**30:
                bound = f"memory: under {args.reserve_gb} GiB available ({meminfo() / 2**30:.1f} GiB)"
                break
        print(f"-> stopped by {bound}\n-> held: {held or 'no level'}", flush=True)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=120)
        for person in people:
            subprocess.run(["pkill", "-KILL", "-u", person.name], capture_output=True)
        hub.remove_accounts(people)
        reopen_recorded(root / "state")
        for group in settings.formgrader_cgroups if settings is not None else []:
            for folder in sorted(Path(group).glob("**/"), key=lambda f: len(f.parts), reverse=True):
                try:
                    folder.rmdir()  # the formgrader's delegated group, empty once the hub stopped
                except OSError:
                    pass
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--most", type=int, default=200,
                        help="at most this many student servers (their accounts are made first; 200 are more than 24 GB holds)")
    parser.add_argument("--step", type=int, default=4, help="servers added per level")
    parser.add_argument("--limit", type=float, default=2.0, help="seconds a check may take (95th percentile)")
    parser.add_argument("--rounds", type=int, default=5, help="checks each student runs per level, all at once")
    parser.add_argument("--reserve-gb", type=float, default=3.0,
                        help="memory the machine keeps available: no level may take it below this")
    asyncio.run(bench(parser.parse_args()))


if __name__ == "__main__":
    main()
