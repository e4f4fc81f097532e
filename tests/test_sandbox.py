"""The grader's sandbox: what a submission's code can and cannot do (needs bubblewrap).

Each test runs small notebooks through `gradbook_grader.running.run_notebook`, the same
path `grade_submission` uses, and looks at what came back.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT, require
from gradbook_grader import sandbox
from gradbook_grader.execute import grade_submission
from gradbook_grader.running import run_notebook
from gradbook_grader.types import Limits
from gradbook_grader.manifests import build_manifest

LIMITS = Limits(cell_timeout=10, total_timeout=60, memory_mb=1024, max_output_bytes=100_000, max_file_mb=50)
SOURCE = ROOT / "solutions" / "02-tensor-operations.ipynb"



def needs_bwrap() -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    problem = sandbox.bwrap_problem()
    require(problem is None, f"bwrap does not work here: {problem}")


def run(*sources: str, limits: Limits = LIMITS):
    needs_bwrap()
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    result = run_notebook(nb, limits, sandbox_mode="bwrap")
    assert result.sandboxed
    return result


def text(result, index: int) -> str:
    cell = result.cells[index]
    parts = []
    for out in cell.outputs:
        parts.append(out.get("text", "") + out.get("evalue", "") + out.get("ename", ""))
        parts.extend(out.get("data", {}).values())
    return "".join(parts) + cell.reason


@pytest.mark.sandbox
def test_runs_as_unprivileged_user_with_numpy_and_gradbook() -> None:
    r = run("import os, numpy, gradbook.checks\nprint(os.getuid(), os.getcwd())")
    uid, cwd = text(r, 0).split()
    assert int(uid) != 0
    assert cwd == "/scratch"


@pytest.mark.sandbox
def test_network_is_blocked() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    try:
        r = run(
            "import socket\n"
            "for host in [('127.0.0.1', %d), ('1.1.1.1', 80)]:\n"
            "    try:\n"
            "        socket.create_connection(host, timeout=3); print('CONNECTED', host)\n"
            "    except OSError as e:\n"
            "        print('blocked', type(e).__name__)\n" % port
        )
    finally:
        server.close()
    out = text(r, 0)
    assert "CONNECTED" not in out
    assert out.count("blocked") == 2


@pytest.mark.sandbox
def test_sensitive_files_are_not_readable(tmp_path: Path) -> None:
    r = run(
        "import os\n"
        f"for p in ['/etc/passwd', '/etc/shadow', {str(SOURCE)!r}, {str(ROOT / 'pyproject.toml')!r}, '/root/.bashrc']:\n"
        "    try:\n"
        "        open(p).read(1); print('READ', p)\n"
        "    except OSError as e:\n"
        "        print('denied', type(e).__name__)\n"
        f"print(sorted(os.listdir('/')))\n"
        f"print(os.path.exists({str(ROOT / 'solutions')!r}))\n"
        # Any file in a home directory but what the grader binds there on purpose (a checkout's venv under /home)
        f"bound = {[str(b) for b in sandbox._python_roots()]!r}\n"  # noqa: SLF001
        "homes = []\n"
        "for top in ('/home', '/root'):\n"
        "    for d, dirs, files in os.walk(top):\n"
        "        dirs[:] = [x for x in dirs if os.path.join(d, x) not in bound]\n"
        "        homes += [os.path.join(d, f) for f in files]\n"
        "print('HOMES', sorted(homes)[:20])"
    )
    out = text(r, 0)
    assert "READ" not in out, out
    assert out.count("denied") == 5
    assert "\nFalse\n" in out
    assert "HOMES []" in out, out


@pytest.mark.sandbox
def test_writes_outside_scratch_fail() -> None:
    r = run(
        "import os\n"
        f"for p in ['/usr/x', '/etc/x', {str(ROOT / 'lib' / 'x')!r}, '/x', '/proc/x']:\n"
        "    try:\n"
        "        open(p, 'w').write('x'); print('WROTE', p)\n"
        "    except OSError as e:\n"
        "        print('denied', type(e).__name__)\n"
        "open('/scratch/ok.txt', 'w').write('fine'); open('/tmp/ok.txt', 'w').write('fine'); print('scratch ok')"
    )
    out = text(r, 0)
    assert "WROTE" not in out, out
    assert out.count("denied") == 5 and "scratch ok" in out
    assert not (ROOT / "lib" / "x").exists()


# Where a submission tries to write: the sandbox's own tmpfs mounts, then the rest of its tree (bwrap's root and its
# /dev are tmpfs owned by whoever started bwrap).
WRITE_PROBE = (
    "import json\n"
    "wrote = []\n"
    "for p in ['/scratch/x', '/tmp/x', '/dev/shm/x', '/x', '/etc/x', '/dev/x', '/run/x', '/usr/x']:\n"
    "    try:\n"
    "        open(p, 'w').write('x'); wrote.append(p)\n"
    "    except OSError:\n"
    "        pass\n"
    "print(json.dumps(wrote))\n"
)
OWN_TMPFS = ["/scratch/x", "/tmp/x", "/dev/shm/x"]


def _probe_as_nobody() -> list[str]:
    """WRITE_PROBE in a sandbox that an account without root started (as root: `nobody`, through setpriv)."""
    import json
    import os
    import pwd
    import sys

    if os.geteuid() != 0:
        return json.loads(text(run(WRITE_PROBE), 0))
    nobody = pwd.getpwnam("nobody")
    script = (
        "import json, sys\n"
        "from nbformat.v4 import new_code_cell, new_notebook\n"
        "from gradbook_grader import sandbox\n"
        "from gradbook_grader.running import run_notebook\n"
        "from gradbook_grader.types import Limits\n"
        "if sandbox.bwrap_problem():\n"
        "    print(json.dumps({'problem': sandbox.bwrap_problem()})); sys.exit()\n"
        "r = run_notebook(new_notebook(cells=[new_code_cell(sys.argv[1])]), Limits(), sandbox_mode='bwrap')\n"
        "print(json.dumps({'sandboxed': r.sandboxed, 'out': ''.join(o.get('text', '') for o in r.cells[0].outputs)}))\n"
    )
    done = subprocess.run(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", "--",
                           sys.executable, "-c", script, WRITE_PROBE], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir(), "LANG": "C.UTF-8"})
    assert done.returncode == 0, done.stderr[-3000:]
    said = json.loads(done.stdout.splitlines()[-1])
    if "problem" in said:  # this host lets no unprivileged account use namespaces: nothing to grade without root
        pytest.skip(f"bwrap does not work without root here: {said['problem']}")
    assert said["sandboxed"], said
    return json.loads(said["out"])


@pytest.mark.sandbox
def test_graded_without_root_a_submission_writes_only_its_own_tmpfs() -> None:
    """An instructor who grades without root (a laptop) gets the same sandbox: bwrap's root and /dev belong to
    the sandbox's own user there, and were writable (memory without a size limit; a file left for the next
    submission forked from the same server)."""
    needs_bwrap()
    assert _probe_as_nobody() == OWN_TMPFS


@pytest.mark.sandbox
def test_memory_bomb_is_stopped_and_reported() -> None:
    r = run("x = bytearray(3 * 1024**3)", "print('after')")
    assert r.cells[0].status == "error"
    assert "MemoryError" in text(r, 0)
    assert any("memory limit hit in cell 0" in e for e in r.events)
    assert "after" in text(r, 1)  # the notebook goes on


@pytest.mark.sandbox
def test_fork_bomb_is_stopped() -> None:
    import os

    # As root the sandbox's fresh uid has 32 processes. Without root (and without a control group) the limit is 32
    # more than the instructor's own processes and threads when the sandbox starts, which a busy machine changes
    # while the bomb runs: bounded, not exact.
    limit = 32 if os.geteuid() == 0 else 2 * (32 + sandbox._nproc_now(os.geteuid()))  # noqa: SLF001
    r = run(
        "import os\n"
        "n = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            import time; time.sleep(30); os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('stopped after', n, type(e).__name__)",
        limits=Limits(cell_timeout=10, total_timeout=30, memory_mb=1024, max_processes=32),
    )
    out = text(r, 0)
    assert "stopped after" in out, out
    assert int(out.split("stopped after")[1].split()[0]) <= limit
    assert r.cells[0].status == "ok"  # the process limit stopped it, not a time limit (no wall clock: busy CI)


@pytest.mark.sandbox
def test_infinite_loop_ignoring_sigint_is_killed_and_costs_only_its_own_cell() -> None:
    needs_bwrap()
    source = nbformat.read(SOURCE, as_version=4)
    # Each cell's limit must outlast the chapter's slowest honest cell on a busy machine (imports of
    # numpy and matplotlib); 20 s is over ten times what that cell takes on a quiet one.
    limits = Limits(cell_timeout=20, total_timeout=240, memory_mb=1024)
    manifest = build_manifest(source, limits)
    sub = nbformat.from_dict(source)
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in sub.cells]
    at = ids.index("naive-add")
    sub.cells[at].source = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"
    g = grade_submission(sub, source, manifest, limits=limits, sandbox_mode="bwrap")
    # the notebook ran again without the looping cell: only what it defines is missing
    assert g.cells["test-naive-add"].points == 0
    assert "timed out after 20 s" in g.cells["test-naive-add"].message
    assert "naive_add" in g.cells["test-naive-add"].message
    for gid in ("test-naive-relu", "test-naive-transpose", "test-naive-matrix-dot"):
        assert g.cells[gid].points == g.cells[gid].max_points, g.cells[gid].message
    assert any(f"cell {at} timed out after 20 s" in e for e in g.events), g.events
    assert any("ran the notebook again" in e for e in g.events), g.events


@pytest.mark.sandbox
def test_huge_output_is_truncated() -> None:
    # 10 MB, 100 times the cap: the cap is what is tested, so the cell must not run into its time limit
    # (10**6 lines took over 10 s on a busy 2-core machine).
    r = run("for i in range(10**4):\n    print('x' * 1000)", "print('y' * 10**7)", "print('still running')")
    total = sum(len(text(r, i)) for i in r.cells)
    assert total < 2 * LIMITS.max_output_bytes
    assert "truncated" in text(r, 0)
    assert any("output truncated" in e for e in r.events)


@pytest.mark.sandbox
def test_disk_filling_is_stopped() -> None:
    r = run(
        "chunk = b'x' * 2**20\n"
        "n = 0\n"
        "try:\n"
        "    with open('/scratch/big', 'wb') as f:\n"
        "        while True:\n"
        "            f.write(chunk); f.flush(); n += 1\n"
        "except OSError as e:\n"
        "    print('stopped at', n, 'MB:', e)\n"
        "import os\n"
        "try:\n"
        "    for i in range(10**6):\n"
        "        open(f'/tmp/f{i}', 'wb').write(chunk)\n"
        "except OSError as e:\n"
        "    print('tmp stopped at', i, e)"
    )
    out = text(r, 0)
    assert "stopped at" in out and "tmp stopped at" in out, out
    assert int(out.split("stopped at ")[1].split()[0]) <= LIMITS.max_file_mb
    assert any("disk limit hit" in e for e in r.events)


def test_unsandboxed_only_when_asked_and_it_says_so(tmp_path: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("print('hello')")])
    with pytest.warns(sandbox.UnsandboxedWarning):
        r = run_notebook(nb, LIMITS, sandbox_mode="none", workdir=tmp_path)
    assert not r.sandboxed
    assert any("WITHOUT a sandbox" in e and "--unsafe-no-sandbox" in e for e in r.events)
    assert "hello" in text(r, 0)


def test_without_a_working_sandbox_grading_refuses_and_says_how_to_fix_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail closed: no bwrap (or bwrap that cannot start) means no student code runs at all."""
    monkeypatch.setattr(sandbox, "bwrap_problem", lambda: "bwrap: setting up uid map: Permission denied")
    marker = Path(tempfile.mkdtemp()) / "ran"
    nb = new_notebook(cells=[new_code_cell(f"open({str(marker)!r}, 'w').write('x')\nprint('ran')")])
    with pytest.raises(sandbox.SandboxUnavailable) as refused:
        sandbox.build_command(LIMITS, mode=None, host_scratch=marker.parent)
    for advice in ("bubblewrap", "user namespaces", "--unsafe-no-sandbox", "Permission denied"):
        assert advice in str(refused.value)
    for mode in (None, "auto", "bwrap"):  # no mode silently means "unsandboxed"
        r = run_notebook(nb, LIMITS, sandbox_mode=mode)
        assert not marker.exists() and r.cells[0].status == "not run"
        assert "cannot grade" in r.cells[0].reason and "--unsafe-no-sandbox" in r.cells[0].reason


@pytest.mark.sandbox
def test_extra_files_and_data_are_read_only_inside(tmp_path: Path) -> None:
    needs_bwrap()
    helper = tmp_path / "helper.py"
    helper.write_text("VALUE = 42\n")
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("dataset")
    nb = new_notebook(cells=[new_code_cell(
        "import os, helper\n"
        "print('helper', helper.VALUE, open(os.environ['GRADBOOK_DATA'] + '/x.txt').read())\n"
        "for p in ['helper.py', os.environ['GRADBOOK_DATA'] + '/x.txt']:\n"
        "    try:\n"
        "        open(p, 'a').write('x'); print('WROTE', p)\n"
        "    except OSError as e:\n"
        "        print('read-only', type(e).__name__)\n"
    )])
    r = run_notebook(nb, LIMITS, sandbox_mode="bwrap", extra_files={"helper.py": helper}, data_dir=data)
    out = text(r, 0)
    assert "helper 42 dataset" in out and "WROTE" not in out and out.count("read-only") == 2, out
    assert helper.read_text() == "VALUE = 42\n"


def test_a_datasets_folder_closed_to_the_sandbox_is_said_once_with_the_fix(tmp_path: Path,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    """Run as root, each sandbox has a uid of its own: a private datasets folder (mkdtemp's 0700, a umask of 077)
    failed every dataset cell of every submission with PermissionError, said nowhere. Now the run's events say
    why (without the host's paths: students read them), and the instructor's log says once what to run; opened as
    it says, the same cell reads the data. A private file beside the datasets is left alone. Not root, the
    sandbox keeps the grader's uid and reads a private folder as its owner."""
    import logging
    import os

    from gradbook.datasets.mnist import TEST_FILES

    needs_bwrap()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    dataset = data / TEST_FILES[1]
    dataset.write_text("dataset")
    dataset.chmod(0o600)
    nb = new_notebook(cells=[new_code_cell(
        f"import os\ntry:\n    print('read', open(os.environ['GRADBOOK_DATA'] + '/{dataset.name}').read())\n"
        "except OSError as e:\n    print('refused', type(e).__name__)")])
    said = "not readable by the sandbox"
    with caplog.at_level(logging.WARNING, logger="gradbook_grader"):
        closed = [run_notebook(nb, LIMITS, sandbox_mode="bwrap", data_dir=data) for _ in range(2)]
    if os.geteuid() != 0:
        assert all("read dataset" in text(r, 0) and not any(said in e for e in r.events) for r in closed)
        return
    for r in closed:
        assert "refused PermissionError" in text(r, 0) and any(said in e for e in r.events), r.events
        assert not any(str(tmp_path) in e for e in r.events), r.events
    warnings = [rec.getMessage() for rec in caplog.records if said in rec.getMessage()]
    assert len(warnings) == 1 and "0700" in warnings[0] and f"chmod -R o+rX {data}" in warnings[0], warnings
    subprocess.run(["sh", "-c", warnings[0].split("readable: ")[1].split(" (or")[0]], check=True)  # as it says
    (data / "progress.json").write_text("{}")
    (data / "progress.json").chmod(0o600)  # someone's private file: not a dataset
    opened = run_notebook(nb, LIMITS, sandbox_mode="bwrap", data_dir=data)
    assert "read dataset" in text(opened, 0) and not any(said in e for e in opened.events), opened.events
