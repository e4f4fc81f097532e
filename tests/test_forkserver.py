"""The fork server (gradbook_grader.forkserver, zygote.py): one sandbox per chapter and worker, a fresh,
isolated runner forked from it per submission. Whatever one submission does to its process, its files,
its fds, its IPC or its processes, the next one forked from the same server sees none of it."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import require
from gradbook_grader import forkserver, sandbox
from gradbook_grader.running import run_notebook
from gradbook_grader.process import Stop, descendants
from gradbook_grader.types import Limits
from gradbook_grader.warm import ForkPool

LIMITS = Limits(cell_timeout=60, total_timeout=300, stall_seconds=3, memory_mb=1024, max_file_mb=50)
pytestmark = [pytest.mark.sandbox]

# Everything a submission could leave behind for the next one, as one JSON line. Writable places are found
# by walking the mount table (not from a list), and each gets a marker file from the hostile submission.
OBSERVE = textwrap.dedent('''
    import builtins, glob, json, os, sys, threading, ctypes
    import numpy, gradbook.i18n
    def writable_dirs():
        found = set()
        for line in open('/proc/self/mountinfo'):
            point = line.split()[4]
            for d in [point] + glob.glob(point.rstrip('/') + '/*/'):
                if os.path.isdir(d) and os.access(d, os.W_OK) and not d.startswith(('/proc', '/sys')):
                    found.add(d.rstrip('/') or '/')
        return sorted(found)
    libc = ctypes.CDLL(None, use_errno=True)
    seen = {
        "globals": sorted(k for k in globals() if not k.startswith('_') and k not in ('In', 'Out', 'exit', 'quit', 'get_ipython')),
        "markers": sorted(p for d in writable_dirs() for p in glob.glob(d.rstrip('/') + '/leak-*')),
        "writable": writable_dirs(),
        "cwd": os.getcwd(), "env": os.environ.get('LEAK'), "builtin": hasattr(builtins, 'LEAKED'),
        "dot": repr(numpy.dot(numpy.eye(2), [1, 2])), "language": gradbook.i18n.current(),
        "module": 'xml.dom.minidom' in sys.modules, "path": sys.path[-1],
        "fds": sorted(os.listdir('/proc/self/fd')), "threads": threading.active_count(),
        "tasks": len(os.listdir('/proc/self/task')), "shm": libc.shmget(0x6b1d, 0, 0) != -1,
        "random": numpy.random.rand(),
    }
    print(json.dumps(seen))
''')

HOSTILE = textwrap.dedent('''
    import builtins, os, subprocess, sys, threading, time, ctypes
    import numpy, gradbook.i18n, xml.dom.minidom
    STOLEN = 1
    for d in writable_dirs():
        try:
            open(d.rstrip('/') + '/leak-' + str(os.getpid()), 'w').write('x')
        except OSError:
            pass
    os.environ['LEAK'] = '1'; builtins.LEAKED = 1; sys.path.append('/scratch/evil')
    numpy.random.seed(1234)
    numpy.dot = lambda *a, **k: 'patched'
    gradbook.i18n.current = lambda: 'pwned'
    fd = os.open('/dev/null', os.O_RDONLY); os.dup2(fd, 77)
    threading.Thread(target=time.sleep, args=(1000,), daemon=False).start()
    libc.shmget(0x6b1d, 4096, 0o1000 | 0o666)  # IPC_CREAT: SysV memory outlives its processes
    subprocess.Popen(['sleep', '1000'], start_new_session=True)
    if os.fork() == 0:
        os.setsid(); time.sleep(1000)
    os.chdir('/tmp')
    print('left behind')
''')


@pytest.fixture(scope="module")
def pool():  # noqa: ANN201
    require(sandbox.bwrap_problem() is None, f"the sandbox is needed: {sandbox.bwrap_problem()}")
    made = ForkPool(LIMITS, ("numpy", "gradbook.i18n"))
    yield made
    made.close()


def _seen(pool: ForkPool, *sources: str) -> list[dict]:
    run = run_notebook(new_notebook(cells=[new_code_cell(s) for s in sources]), LIMITS, runners=pool.take)
    assert not any("fork server" in e for e in run.events), run.events
    out = []
    for cell in run.cells.values():
        assert cell.status == "ok", (cell.reason, cell.outputs)
        text = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
        out.append(json.loads(text) if text.startswith("{") else text)
    return out


def test_no_state_of_one_submission_reaches_the_next_one_forked_from_the_same_server(pool: ForkPool) -> None:
    before = _seen(pool, OBSERVE)[0]
    server = pool.server()
    assert server is not None and pool.reason is None
    tree = set(descendants(server._proc.pid))  # noqa: SLF001 - the sandbox and the server, nothing else
    hostile = _seen(pool, OBSERVE, HOSTILE, OBSERVE)
    assert hostile[1] == "left behind\n"
    changed = hostile[2]
    assert changed["markers"] and changed["env"] == "1" and changed["dot"] == "'patched'" and changed["shm"]
    assert changed["threads"] >= 2 and "77" in changed["fds"] and changed["language"] == "pwned"
    assert pool.server() is server  # the same server forked both
    assert set(descendants(server._proc.pid)) == tree  # noqa: SLF001 - its processes, threads and forks are gone
    after = _seen(pool, OBSERVE)[0]
    assert after["random"] != np.random.RandomState(1234).rand()  # its own fresh entropy, not the seed left behind
    assert after["random"] != before["random"]
    for key in ("random",):
        before.pop(key), after.pop(key)
    assert after == before
    assert {"/scratch", "/tmp", "/dev/shm"} <= set(before["writable"])
    assert before["dot"] == "array([1., 2.])" and before["cwd"] == "/scratch" and not before["markers"]


def test_a_forked_runner_has_its_caps_group_and_uid_and_is_stopped_as_one_started_for_it(pool: ForkPool) -> None:
    server = pool.server()
    assert server is not None, pool.reason
    with forkserver.ForkedRunner(server) as runner:
        assert runner.stopped is None, runner.stopped
        reply, status = runner.request({"op": "run", "cell": 0, "source": (
            "import os, resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0], os.getuid(), os.getpid())")},
            lambda m: m.get("type") == "done", "cell 0")
        address_space, uid, pid = reply["outputs"][0]["text"].split()
        assert int(address_space) == LIMITS.memory_mb * 1024 * 1024
        assert int(uid) != 0 and pid != "1"  # pid 1 of its namespace is its init, not the runner
        if runner._group is not None:  # noqa: SLF001 - where the host allows control groups
            assert set(descendants(runner._proc.pid)) <= runner._group.pids()  # noqa: SLF001
        with forkserver.ForkedRunner(server) as beside:  # two at once (a Dask worker with several threads)
            write = "open('/scratch/mine', 'w').write('{}')\nprint(open('/scratch/mine').read())"
            for n, each in enumerate((runner, beside)):
                reply, _ = each.request({"op": "run", "cell": 5, "source": write.format(n)},
                                        lambda m: m.get("type") == "done", "cell 5")
                assert reply["outputs"][0]["text"] == f"{n}\n"
            assert beside._proc.pid != runner._proc.pid and beside._proc.pid  # noqa: SLF001
        # A runner that sleeps is stalled, as one started for the submission (process.py)
        reply, status = runner.request({"op": "run", "cell": 1, "source": "import time\ntime.sleep(600)"},
                                       lambda m: m.get("type") == "done", "cell 1")
        assert reply is None and runner.stop is Stop.STALLED, runner.stopped
    with forkserver.ForkedRunner(server) as runner:
        reply, status = runner.request({"op": "run", "cell": 0, "source": "x = bytearray(2 * 1024**3)"},
                                       lambda m: m.get("type") == "done", "cell 0")
        assert "MemoryError" in json.dumps(reply) or runner.stop is Stop.DIED


LISTEN = ("import socket\n"
          "unix = socket.socket(socket.AF_UNIX); unix.bind('\\0gradbook-leak'); unix.listen(1)\n"
          "tcp = socket.socket(); tcp.bind(('127.0.0.1', 0)); tcp.listen(1)\n"
          "print(tcp.getsockname()[1])")
CONNECT = ("import socket\n"
           "for address, family in (('\\0gradbook-leak', socket.AF_UNIX), (('127.0.0.1', {port}), socket.AF_INET)):\n"
           "    try:\n"
           "        socket.socket(family).connect(address); print('reached', family.name)\n"
           "    except OSError as error:\n"
           "        print('refused', family.name, error.errno)")


def test_two_submissions_forked_at_once_cannot_talk_to_each_other(pool: ForkPool) -> None:
    """Forked from one server at once (a Dask worker of several threads), two submissions shared its network
    namespace: one listened on an abstract Unix socket or a loopback port, the other connected and sent it anything
    (round 5). Each child has a network namespace of its own, its loopback up for itself."""
    server = pool.server()
    assert server is not None, pool.reason

    def run(runner: forkserver.ForkedRunner, source: str) -> str:
        reply, _ = runner.request({"op": "run", "cell": 0, "source": source}, lambda m: m.get("type") == "done", "cell 0")
        return "".join(o.get("text", "") for o in reply["outputs"]) if reply else str(runner.stopped)

    with forkserver.ForkedRunner(server) as first, forkserver.ForkedRunner(server) as second:
        port = int(run(first, LISTEN))
        assert run(second, CONNECT.format(port=port)).split("\n")[:2] == ["refused AF_UNIX 111", "refused AF_INET 111"]
        assert run(first, CONNECT.format(port=port)).split("\n")[:2] == ["reached AF_UNIX", "reached AF_INET"]


def test_without_a_fork_server_each_submission_gets_its_own_sandbox_and_says_why(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    require(sandbox.bwrap_problem() is None, f"the sandbox is needed: {sandbox.bwrap_problem()}")
    broken = tmp_path / "zygote.py"
    broken.write_text("raise SystemExit('no fork server here')\n")
    monkeypatch.setattr(sandbox, "ZYGOTE", broken)
    pool = ForkPool(LIMITS, ("numpy",))
    try:
        run = run_notebook(new_notebook(cells=[new_code_cell("print(6 * 7)")]), LIMITS, runners=pool.take)
    finally:
        pool.close()
    assert run.cells[0].outputs[0]["text"] == "42\n" and run.sandboxed
    assert "no fork server here" in (pool.reason or "")
    assert any(e.startswith("no fork server (") and "started for it" in e for e in run.events), run.events


def test_a_chapters_fork_server_holds_its_answers_only_as_stubs(pool: ForkPool) -> None:
    require(pool.server() is not None, f"no fork server: {pool.reason}")
    chapter = ForkPool(LIMITS, ("numpy", "gradbook.reference.activations"), chapters=("ch05",))
    probe = ("import numpy as np\nfrom gradbook.reference import activations\n"
             "try:\n    print(activations.softmax(np.zeros((1, 3))))\nexcept Exception as e:\n    print(e)")
    try:
        server = chapter.server()
        assert server is not None and server.chapters == ("ch05",), chapter.reason
        run = run_notebook(new_notebook(cells=[new_code_cell(probe)]), LIMITS, runners=chapter.take, chapters=("ch05",))
    finally:
        chapter.close()
    printed = run.cells[0].outputs[0]["text"]
    assert "not available while chapter 5 is graded" in printed, printed
    # the same code in a server for another chapter computes it (the stub is the chapter's, not an accident)
    run = run_notebook(new_notebook(cells=[new_code_cell(probe)]), LIMITS, runners=pool.take)
    assert "0.333" in run.cells[0].outputs[0]["text"], run.cells[0].outputs
