"""Red team: hostile and broken submissions graded together with honest ones, on the real chapter 2.

Every submission is the instructor's solution (hidden tests removed, as the student gets
it) with some cells replaced or added. Each attack must score 0 on what it attacked and
be reported (an event or the cell's message); every honest cell must keep its true
grade, and no hidden test ever appears in anything the grader returns.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from conftest import ROOT, require
from gradbook_grader import sandbox
from gradbook_grader.execute import grade_submission
from gradbook_grader.restore import grade_id, is_test_cell, strip_hidden_tests, student_version
from gradbook_grader.types import Limits, SubmissionGrade
from gradbook_grader.verdict import build_manifest

SOURCE = ROOT / "solutions" / "02-tensor-operations.ipynb"
LIMITS = Limits(cell_timeout=8, total_timeout=120, memory_mb=1024, max_output_bytes=200_000,
                max_file_mb=50, max_processes=32)
ALL = ("test-naive-relu", "test-naive-add", "test-naive-add-matrix-and-vector", "test-naive-vector-dot",
       "test-naive-matrix-vector-dot", "test-naive-matrix-dot", "test-naive-transpose")

WRONG_RELU = "def naive_relu(x):\n    return x.copy()"
WRONG_ADD = "def naive_add(x, y):\n    return x - y"
WRONG_VDOT = "def naive_vector_dot(x, y):\n    return 0.0"


def honest() -> nbformat.NotebookNode:
    """What a student who solved everything submits: the source without hidden tests."""
    nb = nbformat.read(SOURCE, as_version=4)
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.source = strip_hidden_tests(cell.source)
    return nb


def index_of(nb: nbformat.NotebookNode, gid: str) -> int:
    return [grade_id(c) for c in nb.cells].index(gid)


def solution_source(gid: str) -> str:
    nb = honest()
    return nb.cells[index_of(nb, gid)].source


def build(replace: dict[str, str] | None = None, before: dict[str, str] | None = None,
          after: dict[str, str] | None = None, first: str | None = None, last: str | None = None,
          edit=None) -> bytes:  # noqa: ANN001
    nb = honest()
    for gid, src in (replace or {}).items():
        nb.cells[index_of(nb, gid)].source = src
    for gid, src in (after or {}).items():
        nb.cells.insert(index_of(nb, gid) + 1, new_code_cell(src))
    for gid, src in (before or {}).items():
        nb.cells.insert(index_of(nb, gid), new_code_cell(src))
    if first:
        nb.cells.insert(0, new_code_cell(first))
    if last:
        nb.cells.append(new_code_cell(last))
    if edit:
        edit(nb)
    return nbformat.writes(nb).encode()


@dataclass
class Case:
    name: str  # "honest-*" are honest; "denied-*" are attacks the sandbox simply refuses (the output shows it)
    submission: bytes
    zero: tuple[str, ...] = ()  # the cells the attack targets (or the honest student got wrong)
    events: tuple[str, ...] = ()  # substrings that must appear in the events
    messages: dict[str, str] = field(default_factory=dict)  # grade_id -> substring of its message
    output_has: tuple[str, ...] = ()
    output_lacks: tuple[str, ...] = ()
    anywhere_lacks: tuple[str, ...] = ()  # not in the returned notebook at all (sources included)
    error: bool = False


# --- attacks -----------------------------------------------------------------------------

PATCH_ALLCLOSE = (
    "import numpy as np\n"
    "np.allclose = lambda *a, **k: True\n"
    "np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)\n"
    "np.array_equal = lambda *a, **k: True\n" + WRONG_RELU
)
PATCH_TESTING = (
    "import numpy as np, numpy.testing as npt\n"
    "npt.assert_allclose = lambda *a, **k: None\n"
    "npt.assert_array_equal = lambda *a, **k: None\n"
    "np.testing.assert_allclose = npt.assert_allclose\n" + WRONG_ADD
)
PATCH_NDARRAY_EQ = (
    "import numpy as np\n"
    "try:\n"
    "    np.ndarray.__eq__ = lambda self, other: True\n"
    "except TypeError as e:\n"
    "    print('cannot patch ndarray:', e)\n"
    "class Yes(np.ndarray):\n"
    "    def __eq__(self, other): return True\n"
    "    def __ne__(self, other): return False\n"
    "    def __bool__(self): return True\n"
    "    def all(self, *a, **k): return True\n"
    "def naive_add(x, y):\n"
    "    return np.zeros_like(x).view(Yes)\n"
)
PATCH_JUDGE = (
    "import gradbook.checks as checks, gradbook.checks.core as core\n"
    "from gradbook.checks.core import Verdict\n"
    "core.judge = lambda exercise, observation: Verdict(True, 1, 'all 1 checks passed')\n"
    "checks.judge = core.judge\n"
    "core.Exercise.__call__ = lambda self, student, **k: print(f'\\u2714 {self.title}: all checks passed')\n"
    + WRONG_VDOT
)
REPLACE_CHECK = (
    "from gradbook.checks import ch02\n"
    "ch02.naive_relu = lambda f, hidden=False: print('\\u2714 naive_relu: all 6 checks passed')\n" + WRONG_RELU
)
FAKE_MODULE = (
    "import sys, types, gradbook.checks\n"
    "fake = types.ModuleType('gradbook.checks.ch02')\n"
    "fake.__getattr__ = lambda name: (lambda *a, **k: print('\\u2714 all checks passed'))\n"
    "sys.modules['gradbook.checks.ch02'] = fake\n"
    "gradbook.checks.ch02 = fake\n" + WRONG_RELU
)
PATCH_IPYTHON = (
    "ip = get_ipython()\n"
    "ip.showtraceback = lambda *a, **k: None\n"
    "ip._showtraceback = lambda *a, **k: None\n"
    "import IPython.core.interactiveshell as ish\n"
    "ish.ExecutionResult.success = property(lambda self: True)\n"
    "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\n" + WRONG_ADD
)
ALWAYS_YES = (
    "class Yes(float):\n"
    "    def __eq__(self, other): return True\n"
    "    def __ne__(self, other): return False\n"
    "    def __bool__(self): return True\n"
    "    def __sub__(self, other): return 0.0\n"
    "    def __rsub__(self, other): return 0.0\n"
    "    def __abs__(self): return 0.0\n"
    "def naive_vector_dot(x, y):\n"
    "    return Yes(12345.0)\n"
)
SYS_EXIT = "import sys\nsys.exit(0)\n" + solution_source("naive-add")
OS_EXIT = "import os\nos._exit(0)\n" + solution_source("naive-matrix-dot")
FAKE_PRINT = WRONG_RELU.replace("return", "print('\\u2714 naive_relu: all 6 checks passed')\n    return")
FORGE_RECORDS = (
    "import os, numpy as np\n"
    "from gradbook.checks import ch02, plain\n"
    "from gradbook.checks.core import collect\n"
    "def naive_relu(x):\n"
    "    d = os.environ.get('GRADBOOK_RECORD_DIR')\n"
    "    if d and not os.path.exists(d + '/done'):\n"
    "        open(d + '/done', 'w').close()\n"
    "        for i, hidden in enumerate((False, True)):\n"
    "            obs = collect(ch02.naive_relu, lambda x: np.maximum(x, 0), 0, hidden)  # seed 0, known offline\n"
    "            plain.save(f'{d}/9999{i}-ch02.naive_relu.npz', obs)\n"
    "        open(f'{d}/99998-ch02.naive_relu.npz', 'wb').write(b'PK garbage')\n"
    "        np.savez(f'{d}/99997-ch02.naive_relu.npz', __structure__=np.array([object()], dtype=object))\n"
    "        os.makedirs(os.path.dirname(d) + '/guess-99', exist_ok=True)\n"
    "    return x.copy()\n"
)
SEED_CHANGE = "import os\nos.environ['GRADBOOK_SEED'] = '0'  # hidden cases become known ones"
SNOOP = (
    "import glob, os, sys\n"
    "found = []\n"
    "for pattern in ['/work/**/solutions/*', '/work/**/autograder/**', '/work/**/*.db', '/root/*', '/home/*', '/scratch/**/*.ipynb', '/tmp/**/*.ipynb']:\n"
    "    found += glob.glob(pattern, recursive=True)\n"
    "print('FOUND', [f for f in found if 'site-packages' not in f])\n"
    f"for path in [{str(SOURCE)!r}, '/etc/passwd', '/etc/shadow', '/proc/1/environ']:\n"
    "    try:\n"
    "        print('READ', path, open(path).read()[:40])\n"
    "    except OSError as e:\n"
    "        print('denied', path, type(e).__name__)\n"
    "marker = 'HIDDEN' + ' TESTS'\n"
    "frames, f = [], sys._getframe()\n"
    "while f is not None:\n"
    "    frames.append(f); f = f.f_back\n"
    "leak = [k for fr in frames for k, v in fr.f_locals.items() if isinstance(v, str) and marker in v and k != 'marker']\n"
    "leak += [k for k, v in vars(sys.modules['__main__']).items() if isinstance(v, str) and marker in v and k != 'marker']\n"
    "print('LEAKED', leak, [k for k, v in os.environ.items() if '/work' in v or 'solutions' in v])\n"
)
STEAL_HIDDEN = (  # keep the hidden test source seen during a test cell, print it in a later cell
    "import inspect, linecache, sys\n"
    "stolen = []\n"
    "def naive_relu(x):\n"
    "    for frame in inspect.stack():\n"
    "        stolen.extend(frame.code_context or [])\n"
    "    stolen.extend(line for entry in list(linecache.cache.values()) if isinstance(entry[2], list) for line in entry[2])\n"
    "    stolen.extend(str(get_ipython().user_ns.get('In', [])).split('\\\\n'))\n"
    "    return np.maximum(x, 0)\n"
)
PRINT_STOLEN = (
    "stolen = [line for line in stolen if 'check.' in line or 'HID' + 'DEN' in line]\n"
    "print('STOLEN', len(stolen))\n"
    "print(''.join(stolen))\n"
    "print(In)\n"
    "raise ValueError(''.join(stolen))\n"
)
MEMORY_BOMB = "blocks = [bytearray(256 * 1024**2) for _ in range(16)]\n" + solution_source("naive-add")
FORK_BOMB = "import os\nwhile True:\n    os.fork()"
NETWORK = (
    "import socket, urllib.request\n"
    "for host in [('1.1.1.1', 80), ('8.8.8.8', 53)]:\n"
    "    try:\n"
    "        socket.create_connection(host, timeout=3); print('CONNECTED')\n"
    "    except OSError as e:\n"
    "        print('blocked', type(e).__name__)\n"
    "try:\n"
    "    urllib.request.urlopen('http://example.com', timeout=3); print('CONNECTED')\n"
    "except Exception as e:\n"
    "    print('blocked', type(e).__name__)\n"
)
DISK_FILL = (
    "with open('/scratch/fill', 'wb') as f:\n"
    "    while True:\n"
    "        f.write(b'x' * 2**20)\n"
)
HUGE_OUTPUT = "for i in range(10**5):\n    print('spam ' * 200)"
LOOP = "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"


FORGED_DONE = (  # answer "done" for this cell through the runner's own pipe, then stall it
    "import os, sys, time\n"
    "index = int(os.environ['GRADBOOK_RECORD_DIR'].rsplit('-', 1)[1])\n"
    "line = ('{\"type\": \"done\", \"status\": \"ok\", \"outputs\": [], \"records\": [], \"cell\": %d}\\n' % index).encode()\n"
    "for fd in os.listdir('/proc/self/fd'):\n"
    "    if int(fd) > 2:\n"
    "        try:\n"
    "            os.write(int(fd), line)\n"
    "        except OSError:\n"
    "            pass\n"
    "time.sleep(10**6)\n"
)


HTML_INJECTION = (
    "from IPython.display import HTML, Javascript, display\n"
    "display(HTML('<img src=x onerror=\"fetch(1)\">'))\n"
    "display(Javascript('fetch(2)'))\n"
    "display({'text/html': '<scr' + 'ipt>fetch(3)</scr' + 'ipt>', 'text/plain': 'plain'}, raw=True)\n"
)


def _markdown_script(nb: nbformat.NotebookNode) -> None:
    nb.cells.insert(0, nbformat.v4.new_markdown_cell("Notes <script>fetch(4)</script> <img src=x onerror=fetch(5)>"))
    nb.cells.insert(0, nbformat.v4.new_raw_cell("<script>fetch(6)</script>", metadata={"format": "text/html"}))


def _tamper_tests(nb: nbformat.NotebookNode) -> None:
    del nb.cells[index_of(nb, "test-naive-relu")]
    nb.cells[index_of(nb, "test-naive-add")].source = "print('\\u2714 naive_add: all 6 checks passed')"
    nb.cells[index_of(nb, "naive-add")].source = WRONG_ADD
    nb.cells[index_of(nb, "test-naive-transpose")].metadata.nbgrader["points"] = 100
    nb.cells[index_of(nb, "test-naive-vector-dot")].metadata.nbgrader["grade"] = False
    nb.cells[index_of(nb, "naive-vector-dot")].source = WRONG_VDOT


def _reorder(nb: nbformat.NotebookNode) -> None:
    cell = nb.cells.pop(index_of(nb, "test-naive-relu"))
    nb.cells.insert(index_of(nb, "naive-relu"), cell)


def _delete_solution(nb: nbformat.NotebookNode) -> None:
    del nb.cells[index_of(nb, "naive-relu")]


def _v3() -> bytes:
    nb = nbformat.convert(honest(), 3)
    text = nbformat.writes(nb, version=3)
    assert '"nbformat": 3' in text
    return text.encode()


CASES = [
    # honest submissions keep exactly their grade
    Case("honest-full", build()),
    Case("honest-partial", build(replace={"naive-relu": WRONG_RELU, "naive-transpose": "def naive_transpose(x):\n    raise NotImplementedError()"}),
         zero=("test-naive-relu", "test-naive-transpose"),
         messages={"test-naive-relu": "naive_relu is not right yet", "test-naive-transpose": "not implemented yet"}),
    Case("honest-stub", nbformat.writes(student_version(nbformat.read(SOURCE, as_version=4))).encode(), zero=ALL,
         messages={gid: "not implemented yet" for gid in ALL}),
    Case("honest-nbformat-v3", _v3()),
    # attacks
    Case("patch-np-allclose", build(replace={"naive-relu": PATCH_ALLCLOSE}), zero=("test-naive-relu",)),
    Case("patch-np-testing", build(replace={"naive-add": PATCH_TESTING}), zero=("test-naive-add",)),
    Case("ndarray-eq-subclass", build(replace={"naive-add": PATCH_NDARRAY_EQ}), zero=("test-naive-add",)),
    # patching Exercise.__call__ disables every later check: all of them score 0
    Case("patch-judge-and-exercise", build(replace={"naive-vector-dot": PATCH_JUDGE}),
         zero=("test-naive-vector-dot", "test-naive-matrix-vector-dot", "test-naive-matrix-dot", "test-naive-transpose"),
         messages={"test-naive-vector-dot": "did not run"}),
    Case("replace-check-helper", build(replace={"naive-relu": REPLACE_CHECK}), zero=("test-naive-relu",),
         messages={"test-naive-relu": "did not run"}),
    Case("fake-checks-module", build(replace={"naive-relu": FAKE_MODULE}), zero=ALL),
    Case("patch-ipython", build(replace={"naive-add": PATCH_IPYTHON}), zero=("test-naive-add",)),
    Case("always-yes-object", build(replace={"naive-vector-dot": ALWAYS_YES}), zero=("test-naive-vector-dot",)),
    Case("sys-exit", build(replace={"naive-add": SYS_EXIT}), zero=("test-naive-add",),
         messages={"test-naive-add": "naive_add"}),
    Case("os-exit", build(replace={"naive-matrix-dot": OS_EXIT}), zero=("test-naive-matrix-dot", "test-naive-transpose"),
         events=("process ended in cell",), messages={"test-naive-transpose": "not run"}),
    Case("fake-pass-print", build(replace={"naive-relu": FAKE_PRINT}, after={"test-naive-relu": "print('\\u2714 naive_relu: all 6 checks passed')"}),
         zero=("test-naive-relu",)),
    Case("forged-records", build(replace={"naive-relu": FORGE_RECORDS}), zero=("test-naive-relu",),
         events=("claims seed 0", "unreadable record")),
    Case("hidden-seed-changed", build(first=SEED_CHANGE), zero=ALL, events=("claims seed 0",)),
    Case("denied-snoop-files-and-memory", build(first=SNOOP),
         output_has=("FOUND []", "denied /etc/passwd", "denied /etc/shadow", f"denied {SOURCE}", "LEAKED [] []")),
    Case("steal-hidden-test-source", build(replace={"naive-relu": STEAL_HIDDEN}, after={"test-naive-relu": PRINT_STOLEN}),
         output_has=("STOLEN", "[a line of a hidden test was removed]"), events=("printed lines of a hidden test",)),
    Case("html-injection", build(first=HTML_INJECTION, edit=_markdown_script), events=(),
         output_has=("plain",), output_lacks=("fetch(1)", "fetch(2)", "fetch(3)", "onerror"),
         anywhere_lacks=("<script", "<img src=x onerror=fetch(5)")),
    # the supervisor must not block writing the next (large) cell to a runner that stopped reading
    Case("forged-done-then-stall", build(replace={"naive-matrix-dot": FORGED_DONE},
                                         before={"test-naive-matrix-dot": "# padding\n" + "#" * 200_000}),
         zero=("test-naive-matrix-dot", "test-naive-transpose"), events=("exceeded 8 s",)),
    Case("huge-exception-message", build(replace={"naive-relu": "def naive_relu(x):\n    raise ValueError('x' * 200_000)"}),
         zero=("test-naive-relu",), messages={"test-naive-relu": "[shortened]"}),
    Case("memory-bomb", build(replace={"naive-add": MEMORY_BOMB}), zero=("test-naive-add",), events=("memory limit hit",)),
    Case("fork-bomb", build(last=FORK_BOMB), events=("process limit hit",)),
    Case("denied-network", build(first=NETWORK), output_has=("blocked",), output_lacks=("CONNECTED",)),
    Case("disk-fill", build(first=DISK_FILL), events=("disk limit hit",)),
    Case("huge-output", build(first=HUGE_OUTPUT), events=("output truncated",)),
    Case("infinite-loop-ignoring-sigint", build(replace={"naive-transpose": LOOP}), zero=("test-naive-transpose",),
         events=("exceeded 8 s",), messages={"test-naive-transpose": "timed out after 8 s"}),
    Case("invalid-json", b'{"cells": [', zero=ALL, error=True),
    Case("not-a-notebook", b"[1, 2, 3]", zero=ALL, error=True),
    Case("binary-garbage", bytes(range(256)) * 40, zero=ALL, error=True),
    Case("tampered-test-cells", build(edit=_tamper_tests), zero=("test-naive-add", "test-naive-vector-dot"),
         events=("test-naive-relu was deleted", "test-naive-add was edited", "points of cell test-naive-transpose changed",
                 "flag 'grade' of cell test-naive-vector-dot changed")),
    Case("reordered-cells", build(edit=_reorder), events=("moved",)),
    Case("deleted-solution", build(edit=_delete_solution), zero=("test-naive-relu",), events=("naive-relu is missing",)),
]


@pytest.fixture(scope="module")
def graded() -> dict[str, SubmissionGrade]:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    source = nbformat.read(SOURCE, as_version=4)
    manifest = build_manifest(source, LIMITS, sandbox_mode="bwrap")
    assert not manifest.problems, manifest.problems

    def one(case: Case) -> SubmissionGrade:
        return grade_submission(case.submission, source, manifest, limits=LIMITS, sandbox_mode="bwrap")

    with ThreadPoolExecutor(2) as pool:
        return dict(zip([c.name for c in CASES], pool.map(one, CASES)))


def everything(grade: SubmissionGrade) -> str:
    return json.dumps(
        {"nb": grade.notebook, "events": grade.events, "cells": {k: v.message for k, v in grade.cells.items()}},
        ensure_ascii=False,
    )


def said(grade: SubmissionGrade) -> str:
    """What the grader reports: outputs, events, messages (not the submitted sources)."""
    outputs = [c.get("outputs", []) for c in grade.notebook.cells]
    return json.dumps({"outputs": outputs, "events": grade.events, "cells": {k: v.message for k, v in grade.cells.items()}},
                      ensure_ascii=False)


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_submission(case: Case, graded: dict[str, SubmissionGrade]) -> None:
    g = graded[case.name]
    assert g.sandboxed or case.error
    assert (g.error is not None) == case.error, g.error
    assert set(g.cells) == set(ALL)
    assert g.max_score == 10
    for gid, cell in g.cells.items():
        want = 0.0 if gid in case.zero else cell.max_points
        assert cell.points == want, f"{gid}: {cell.points} != {want}: {cell.message}\nevents: {g.events}"
        assert cell.passed == (want > 0)
        assert cell.message and len(cell.message) <= 4000
    assert g.score == sum(c.points for c in g.cells.values())
    for needle in case.events:
        assert any(needle in e for e in g.events), f"{needle!r} not in {g.events}"
    for gid, needle in case.messages.items():
        assert needle in g.cells[gid].message, g.cells[gid].message
    reported = said(g)
    for needle in case.output_has:
        assert needle in reported, needle
    for needle in case.output_lacks:
        assert needle not in reported, needle
    text = everything(g)
    for needle in case.anywhere_lacks:
        assert needle not in text, needle
    # hidden tests never leave the grader
    assert "hidden=True" not in text and "HIDDEN TESTS" not in text
    nbformat.validate(g.notebook)
    # the graded test cells show the trusted verdict, not what the student's process printed
    for cell in g.notebook.cells:
        if is_test_cell(cell):
            gid = grade_id(cell)
            kinds = [o.output_type for o in cell.outputs]
            assert kinds == (["stream"] if g.cells[gid].passed else ["error"]), (gid, kinds)


@pytest.mark.slow
@pytest.mark.sandbox
def test_attacks_are_reported(graded: dict[str, SubmissionGrade]) -> None:
    """Every attack leaves a trace: a lost cell with a reason, or an event."""
    for case in CASES:
        if case.name.startswith(("honest", "denied", "html")):
            continue
        g = graded[case.name]
        assert g.events or g.error or any(not c.passed for c in g.cells.values()), case.name


BATCH = ("honest-full", "honest-partial", "honest-stub", "patch-np-allclose", "forged-records", "hidden-seed-changed",
         "os-exit", "fork-bomb", "invalid-json", "tampered-test-cells", "denied-snoop-files-and-memory")


@pytest.mark.slow
@pytest.mark.sandbox
def test_batch_grades_a_hostile_class_and_the_gradebook_stays_intact(tmp_path) -> None:  # noqa: ANN001
    """The same attacks through the batch layer (parallel workers, nbgrader's gradebook), plus one
    that tries to rewrite everybody's score in the gradebook: grades stored are exactly the true ones."""
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    import sqlite3

    from grader_helpers import CH02, scratch_course, submit

    from gradbook_grader.batch import grade_assignment
    from gradbook_grader.gradebook import open_gradebook

    course = scratch_course(tmp_path)
    db = tmp_path / "gradebook.db"
    rewrite = (
        "import glob, sqlite3\n"
        f"for path in [{str(db)!r}] + glob.glob('/**/gradebook.db'):\n"
        "    try:\n"
        "        con = sqlite3.connect(path)\n"
        "        con.execute('UPDATE grade SET auto_score = 999'); con.commit(); print('REWROTE', path)\n"
        "    except Exception as e:\n"
        "        print('denied', type(e).__name__)\n"
    )
    cases = {c.name: c for c in CASES if c.name in BATCH}
    cases["gradebook-rewrite"] = Case("gradebook-rewrite", build(first=rewrite, replace={"naive-add": WRONG_ADD}),
                                      zero=("test-naive-add",))
    folder = tmp_path / "submitted"
    for name, case in cases.items():
        submit(folder, name, CH02, case.submission)
    report = grade_assignment(course, CH02, folder, workers=2, limits=LIMITS, progress=False)
    results = {r.student: r for r in report.results}
    assert sorted(results) == sorted(cases)
    expected = {name: {gid: (0.0 if gid in case.zero else None) for gid in ALL} for name, case in cases.items()}
    for name, result in results.items():
        case = cases[name]
        assert (result.error is not None) == case.error, (name, result.error)
        for gid in ALL:
            cell = result.cells[gid]
            want = 0.0 if gid in case.zero else cell.max_points
            assert cell.points == want, (name, gid, cell.message, result.events)
            expected[name][gid] = want
        for needle in case.events:
            assert any(needle in e for e in result.events), (name, needle, result.events)
    graded_nb = nbformat.read(course.autograded("gradebook-rewrite", CH02) / f"{CH02}.ipynb", as_version=4)
    printed = json.dumps([c.get("outputs", []) for c in graded_nb.cells])
    assert "denied" in printed and "REWROTE" not in printed
    with open_gradebook(course) as gb:
        stored = {s.student_id: s for s in gb.find_assignment(CH02).submissions}
        assert sorted(stored) == sorted(cases)
        for name, submission in stored.items():
            grades = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
            assert grades == expected[name], name
            assert submission.score == pytest.approx(sum(expected[name].values())), name
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM grade WHERE auto_score > 2").fetchone()[0] == 0


# --- the supervisor's own defences, no sandbox needed --------------------------------------


def _npz(**arrays) -> bytes:  # noqa: ANN003
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_hostile_record_files_are_rejected_not_loaded() -> None:
    import io
    import zipfile

    import numpy as np

    from gradbook.checks import plain
    from gradbook_grader.verdict import load_record

    good = plain.dumps({"exercise": "ch02.naive_relu", "seed": 0, "hidden": False, "results": []})
    assert load_record("ok.npz", good).problem is None
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("__structure__.npy", b"\0" * 200_000_000)
    hostile = {
        "pickle": _npz(__structure__=np.array([object()], dtype=object)),
        "zip bomb": bomb.getvalue(),
        "garbage": b"PK\x03\x04 nothing",
        "not an observation": plain.dumps([1, 2, 3]),
        "deep json": _npz(__structure__=np.array("[" * 100_000 + "]" * 100_000)),
        "wrong types": plain.dumps({"exercise": 3, "seed": "0", "hidden": 1, "results": []}),
    }
    header = b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }"
    header = header.ljust(10 + 118, b" ")[:127] + b"\n"
    huge = io.BytesIO()
    with zipfile.ZipFile(huge, "w") as zf:
        zf.writestr("__structure__.npy", header + b"\0" * 64)
    hostile["huge array header"] = huge.getvalue()
    for name, data in hostile.items():
        assert load_record("x.npz", data).problem, name


def test_records_with_a_foreign_seed_or_a_failing_copy_do_not_pass() -> None:
    from gradbook.checks import load_all, plain
    from gradbook.checks.core import collect
    from gradbook_grader.types import Expectation
    from gradbook_grader.verdict import judge_records, load_record

    import numpy as np

    registry = load_all()
    relu = registry["ch02.naive_relu"]
    right = lambda x: np.maximum(x, 0)  # noqa: E731

    def rec(student, seed: int, hidden: bool):  # noqa: ANN001, ANN202
        return load_record("r.npz", plain.dumps(collect(relu, student, seed, hidden)))

    expected = [Expectation("ch02.naive_relu", False), Expectation("ch02.naive_relu", True)]
    assert judge_records(expected, [rec(right, 0, False), rec(right, 77, True)], 77, registry).passed
    forged = judge_records(expected, [rec(right, 0, False), rec(right, 0, True)], 77, registry)
    assert not forged.passed and "forged" in forged.message and forged.tampered
    wrong_too = judge_records(expected, [rec(right, 0, False), rec(lambda x: x, 0, False), rec(right, 77, True)], 77, registry)
    assert not wrong_too.passed
    missing = judge_records(expected, [rec(right, 0, False)], 77, registry, cell_problem="boom")
    assert not missing.passed and "did not run" in missing.message and "boom" in missing.message
    assert not judge_records([], [], 77, registry).passed


@pytest.mark.parametrize("data", [b"", b"{", b"null", b"[]", b'{"nbformat": 4}', b'{"nbformat": 2, "worksheets": []}',
                                  b"\xff\xfe garbage", b'{"cells": "no"}'])
def test_unreadable_submissions_are_explicit_errors(data: bytes) -> None:
    from gradbook_grader.restore import SubmissionError, parse_submission

    with pytest.raises(SubmissionError):
        parse_submission(data)


def test_restore_puts_back_locked_cells_and_keeps_the_students_work() -> None:
    from gradbook_grader.restore import parse_submission, restore

    source = nbformat.read(SOURCE, as_version=4)
    nb = honest()
    nb.cells.insert(index_of(nb, "test-naive-add") + 1, new_code_cell("my_scratch = 1"))
    nb.cells[index_of(nb, "naive-add")].source = WRONG_ADD
    nb.cells[index_of(nb, "test-naive-relu")].source = "pass"
    nb.cells[index_of(nb, "test-naive-relu")].metadata.nbgrader["points"] = 50
    del nb.cells[index_of(nb, "test-naive-transpose")]
    restored = restore(parse_submission(nbformat.writes(nb).encode()), source)
    out = restored.notebook
    assert out.cells[index_of(out, "naive-add")].source == WRONG_ADD
    assert out.cells[index_of(out, "test-naive-add") + 1].source == "my_scratch = 1"
    for gid in ("test-naive-relu", "test-naive-transpose"):
        assert out.cells[index_of(out, gid)].source == source.cells[index_of(source, gid)].source
    assert out.cells[index_of(out, "test-naive-relu")].metadata.nbgrader["points"] == 1
    text = "\n".join(restored.events)
    assert "test-naive-relu was edited" in text and "points of cell test-naive-relu" in text
    assert "test-naive-transpose was deleted" in text
    assert [grade_id(c) for c in out.cells if grade_id(c)] == [grade_id(c) for c in source.cells if grade_id(c)]
    nbformat.validate(out)
