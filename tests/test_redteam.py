"""Red team: hostile and broken submissions graded together with honest ones, on the real chapter 2.

Every submission is the instructor's solution (hidden tests removed, as the student gets
it) with some cells replaced or added. Each attack must score 0 on what it attacked and
be reported (an event or the cell's message); every honest cell must keep its true
grade, and no hidden test ever appears in anything the grader returns.
"""

from __future__ import annotations

import base64
import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from conftest import ROOT, require
from gradbook_grader import sandbox
from gradbook_grader.execute import grade_submission
from gradbook_grader.restore import grade_id, is_test_cell, strip_hidden_tests, student_version
from gradbook_grader.types import Limits, SubmissionGrade, is_host_event
from gradbook_grader.manifests import build_manifest
from gradbook_grader.answers import chapters_graded
from gradbook_grader.warm import ForkPool, preloads

SOURCE = ROOT / "solutions" / "02-tensor-operations.ipynb"
LIMITS = Limits(cell_timeout=8, total_timeout=120, memory_mb=1024, max_output_bytes=200_000,
                max_file_mb=50, max_processes=32)
ALL = ("test-naive-relu", "test-naive-add", "test-naive-add-matrix-and-vector", "test-naive-vector-dot",
       "test-naive-matrix-vector-dot", "test-naive-matrix-dot", "test-naive-transpose")

WRONG_RELU = "def naive_relu(x):\n    return x.copy()"
WRONG_ADD = "def naive_add(x, y):\n    return x - y"
WRONG_VDOT = "def naive_vector_dot(x, y):\n    return 0.0"


def honest(source: Path = SOURCE) -> nbformat.NotebookNode:
    """What a student who solved everything submits: the source without hidden tests."""
    nb = nbformat.read(source, as_version=4)
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
          edit=None, source: Path = SOURCE) -> bytes:  # noqa: ANN001
    nb = honest(source)
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
    integrity: tuple[str, ...] = ()  # substrings of the integrity evidence (and none when empty)


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
SEED_CHANGE = "import os\nos.environ['GRADBOOK_SEED'] = '0'  # once, the hidden seed was read from here"
STUB = "def {name}(*args, **kwargs):\n    raise NotImplementedError()\n"
STUBS = {gid[5:]: STUB.format(name=gid[5:].replace("-", "_")) for gid in ALL}
MONKEYPATCH_COLLECT = (  # the check, run in the student's process, made to observe the reference
    "import gradbook.checks.core as core\n"
    "orig = core.collect\n"
    "core.collect = lambda ex, s, seed, h: orig(ex, ex.reference, seed, h)\n"
)
FORGE_MAKEDIRS = (  # fill every record directory the runner makes with the references' observations
    "import os, numpy as np\n"
    "real = os.makedirs\n"
    "def makedirs(path, *a, **k):\n"
    "    real(path, *a, **k)\n"
    "    from gradbook.checks import core, load_all, plain\n"
    "    for ex in load_all().values():\n"
    "        for seed in (0, int(os.environ.get('GRADBOOK_SEED', 1))):\n"
    "            for hidden in (False, True):\n"
    "                plain.save(f'{path}/{ex.name}-{seed}-{hidden}.npz', core.collect(ex, ex.reference, seed, hidden))\n"
    "os.makedirs = makedirs\n"
)
FORGE_CHMOD = (  # write forged records where the checks once wrote theirs, then make the place read-only
    "import os, stat\n"
    "d = os.environ.get('GRADBOOK_RECORD_DIR', '/run/gradbook')\n"
    "print('RECORD DIR', os.environ.get('GRADBOOK_RECORD_DIR'), 'SEED', os.environ.get('GRADBOOK_SEED'))\n"
    "try:\n"
    "    os.makedirs(d, exist_ok=True); os.chmod(d, stat.S_IRUSR | stat.S_IXUSR)\n"
    "except OSError as e:\n"
    "    print('denied', type(e).__name__)\n"
)
COPY_CHECK_REFERENCE = (
    "from gradbook.checks import ch02 as check\n"
    "naive_relu = check.naive_relu.reference\n"
)
IMPORT_CHECK_ANSWERS = "from gradbook.checks.ch02 import naive_add as check_of_add\nnaive_add = check_of_add.reference\n"
LIBRARY_REFERENCE = "from gradbook.reference.activations import relu as naive_relu\n"
INDIRECT_IMPORT = (
    "import importlib\n"
    "m = importlib.import_module('gradbook.' + 'refer' + 'ence.activations')\n"
    "def naive_relu(x):\n"
    "    return m.relu(x)\n"
)
SNOOP = (
    "import glob, os, sys\n"
    "found = []\n"
    # the course's files wherever the checkout lives (under /home without root: its venv's folders are bound there)
    f"for pattern in ['/work/**/solutions/*', '/work/**/autograder/**', '/work/**/*.db', {f'{ROOT}/solutions/*'!r},\n"
    f"                {f'{ROOT}/autograder/**'!r}, '/root/*', '/home/*/.*', '/scratch/**/*.ipynb', '/tmp/**/*.ipynb']:\n"
    "    found += glob.glob(pattern, recursive=True)\n"
    # (exists: Python 3.11's glob gives 'd/' for 'd/**' whether or not d exists)
    "print('FOUND', [f for f in found if 'site-packages' not in f and os.path.exists(f)])\n"
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
STEAL_HIDDEN = (  # look for the hidden tests wherever they could be while being checked; send them back
    "import inspect, linecache, os, sys, base64\n"
    "stolen = []\n"
    "def naive_relu(x):\n"
    "    for frame in inspect.stack():\n"
    "        stolen.extend(frame.code_context or [])\n"
    "        stolen.extend(repr(v)[:5000] for v in frame.frame.f_locals.values())\n"
    "    stolen.extend(line for entry in list(linecache.cache.values()) if isinstance(entry[2], list) for line in entry[2])\n"
    "    stolen.extend(str(get_ipython().user_ns.get('In', [])).split('\\\\n'))\n"
    "    stolen.extend(f'{k}={v}' for k, v in os.environ.items())\n"
    "    raise ValueError(base64.b64encode(''.join(stolen).encode()).decode()[:3500] + '|' + ''.join(stolen)[:3500])\n"
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


FORGED_DONE = (  # answer "done" for every cell through the runner's own pipe, then stall it
    "import os, sys, time\n"
    "lines = b''.join(('{\"type\": \"done\", \"status\": \"ok\", \"outputs\": [], \"cell\": %d}\\n' % i).encode() for i in range(100))\n"
    "for fd in os.listdir('/proc/self/fd'):\n"
    "    if int(fd) > 2:\n"
    "        try:\n"
    "            os.write(int(fd), lines)\n"
    "        except OSError:\n"
    "            pass\n"
    "time.sleep(10**6)\n"
)


# round 5: an answer that reaches past chapter 2's loops-only rule (kept in the student's process by its driver)
PRIVATE_ARRAY = "import numpy as np\ndef naive_relu(x):\n    return np.maximum(getattr(x, '_array', x), 0)\n"
GC_ARRAY = (
    "import gc, numpy as np\n"
    "def naive_relu(x):\n"
    "    seen = gc.get_referents(x)  # the instance's values, or its dict\n"
    "    seen += [v for d in seen if isinstance(d, dict) for v in d.values()]\n"
    "    found = [r for r in seen if isinstance(r, np.ndarray)]\n"
    "    return np.maximum(found[0], 0)\n"
)
# a numpy scalar whose `item` lies: once its 9,543-digit number (or a list holding itself) ended the runner as it replied
LYING_SCALAR = (
    "import numpy as np\n"
    "class Big(np.float64):\n"
    "    def item(self, *args):\n"
    "        return 3 ** 20000\n"
    "def naive_vector_dot(x, y):\n"
    "    return Big(1.0)\n"
)
# a BaseException past the driver's catch: once the runner's end, a fresh run of the whole notebook (twice)
INTERRUPT = "def naive_add(x, y):\n    raise KeyboardInterrupt('stop')\n"
# the driver's copy of the case made to hold itself (its digest once recursed in the runner, outside any catch)
SELF_HOLDING_INPUT = (
    "import sys\n"
    "def naive_transpose(x):\n"
    "    frame = sys._getframe(1)\n"
    "    while frame is not None and 'given' not in frame.f_locals:\n"
    "        frame = frame.f_back\n"
    "    loop = []\n"
    "    loop.append(loop)\n"
    "    object.__setattr__(frame.f_locals['given'], 'args', (loop,))\n"
    "    return 0\n"
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


def _tests_first(nb: nbformat.NotebookNode) -> None:
    """Every test cell moved to the top, above the imports the answers need."""
    tests = [c for c in nb.cells if is_test_cell(c)]
    nb.cells = tests + [c for c in nb.cells if not is_test_cell(c)]


def _delete_solution(nb: nbformat.NotebookNode) -> None:
    del nb.cells[index_of(nb, "naive-relu")]


def _solution_written_again(nb: nbformat.NotebookNode) -> None:
    """The solution cell deleted and its answer written again in a new cell in its place, above a scratch cell:
    nbgrader's metadata does not follow pasted text (nbgrader issue 424). Its stub must not replace the answer."""
    at = index_of(nb, "naive-relu")
    answer = nb.cells.pop(at).source
    nb.cells[at:at] = [new_code_cell("# my answer, written again\n" + answer), new_code_cell("print(naive_relu(-1.0))")]


def _solution_copied(nb: nbformat.NotebookNode) -> None:
    """A solution cell copied and pasted below itself (Jupyter copies its nbgrader metadata too), the first attempt
    left above: the copy is the student's own cell, the answer graded, and no tampering."""
    at = index_of(nb, "naive-add")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[at])))
    copy["id"] = "pasted-copy"
    nb.cells[at].source = WRONG_ADD
    nb.cells.insert(at + 1, copy)


def _test_cell_copied(nb: nbformat.NotebookNode) -> None:
    """A locked test cell copied, the copy made to print a pass: that is tampering, and the copy earns nothing."""
    at = index_of(nb, "test-naive-relu")
    copy = nbformat.from_dict(json.loads(json.dumps(nb.cells[at])))
    copy["id"] = "pasted-copy"
    copy.source = "print('\\u2714 naive_relu: all 6 checks passed')"
    nb.cells.insert(at + 1, copy)
    nb.cells[index_of(nb, "naive-relu")].source = WRONG_RELU


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
    # a number returned as a 0-d array or a long double: right in the student's kernel, so right when graded
    Case("honest-0d-array-and-long-double", build(replace={
        "naive-vector-dot": solution_source("naive-vector-dot") + "\n_dot = naive_vector_dot\n"
        "naive_vector_dot = lambda x, y: np.array(_dot(x, y))\n",
        "naive-matrix-vector-dot": solution_source("naive-matrix-vector-dot") + "\n_mv = naive_matrix_vector_dot\n"
        "naive_matrix_vector_dot = lambda x, y: np.asarray(_mv(x, y), dtype=np.longdouble)\n"})),
    # attacks
    Case("patch-np-allclose", build(replace={"naive-relu": PATCH_ALLCLOSE}), zero=("test-naive-relu",)),
    Case("patch-np-testing", build(replace={"naive-add": PATCH_TESTING}), zero=("test-naive-add",)),
    Case("ndarray-eq-subclass", build(replace={"naive-add": PATCH_NDARRAY_EQ}), zero=("test-naive-add",)),
    # patching Exercise.__call__ disables every later check: all of them score 0
    # patching the checks in the student's process changes nothing: the verdict is made outside
    Case("patch-judge-and-exercise", build(replace={"naive-vector-dot": PATCH_JUDGE}),
         zero=("test-naive-vector-dot",), messages={"test-naive-vector-dot": "naive_vector_dot"}),
    Case("replace-check-helper", build(replace={"naive-relu": REPLACE_CHECK}), zero=("test-naive-relu",),
         messages={"test-naive-relu": "naive_relu"}),
    Case("fake-checks-module", build(replace={"naive-relu": FAKE_MODULE}), zero=("test-naive-relu",)),
    Case("patch-ipython", build(replace={"naive-add": PATCH_IPYTHON}), zero=("test-naive-add",)),
    Case("always-yes-object", build(replace={"naive-vector-dot": ALWAYS_YES}), zero=("test-naive-vector-dot",)),
    Case("sys-exit", build(replace={"naive-add": SYS_EXIT}), zero=("test-naive-add",),
         messages={"test-naive-add": "naive_add"}),
    # a cell that kills its process costs only what it defines: the notebook runs again without it
    Case("os-exit", build(replace={"naive-matrix-dot": OS_EXIT}), zero=("test-naive-matrix-dot",),
         events=("process ended in cell", "ran the notebook again"), messages={"test-naive-matrix-dot": "did not finish"}),
    Case("fake-pass-print", build(replace={"naive-relu": FAKE_PRINT}, after={"test-naive-relu": "print('\\u2714 naive_relu: all 6 checks passed')"}),
         zero=("test-naive-relu",)),
    Case("forged-records", build(replace={"naive-relu": FORGE_RECORDS}), zero=("test-naive-relu",)),
    Case("denied-hidden-seed-changed", build(first=SEED_CHANGE)),
    # issue 18: full marks without doing the exercise, each now earning nothing
    Case("monkeypatch-collect", build(replace=STUBS, last=MONKEYPATCH_COLLECT), zero=ALL),
    Case("forge-other-cells", build(replace=STUBS, first=FORGE_MAKEDIRS), zero=ALL),
    Case("forge-chmod", build(replace=STUBS, first=FORGE_CHMOD), zero=ALL, output_has=("RECORD DIR None SEED None",)),
    Case("copy-check-reference", build(replace={"naive-relu": COPY_CHECK_REFERENCE}), zero=("test-naive-relu",),
         integrity=("reaches into a check's own code (gradbook.checks.ch02.naive_relu.reference)",)),
    Case("import-check-answers", build(replace={"naive-add": IMPORT_CHECK_ANSWERS}), zero=("test-naive-add",),
         integrity=("reaches into a check's own code (gradbook.checks.ch02.naive_add.reference)",)),
    Case("library-reference", build(replace={"naive-relu": LIBRARY_REFERENCE}), zero=("test-naive-relu",),
         messages={"test-naive-relu": "not available while chapter 2 is graded"}),
    Case("indirect-import", build(replace={"naive-relu": INDIRECT_IMPORT}), zero=("test-naive-relu",),
         messages={"test-naive-relu": "not available while chapter 2 is graded"}),
    Case("honest-tests-moved-to-the-top", build(edit=_tests_first), events=("moved",)),
    Case("denied-snoop-files-and-memory", build(first=SNOOP),
         output_has=("FOUND []", "denied /etc/passwd", "denied /etc/shadow", f"denied {SOURCE}", "LEAKED [] []")),
    Case("steal-hidden-test-source", build(replace={"naive-relu": STEAL_HIDDEN}, after={"test-naive-relu": PRINT_STOLEN}),
         zero=("test-naive-relu",), output_has=("STOLEN",), messages={"test-naive-relu": "ValueError"}),
    Case("html-injection", build(first=HTML_INJECTION, edit=_markdown_script), events=(),
         output_has=("plain",), output_lacks=("fetch(1)", "fetch(2)", "fetch(3)", "onerror"),
         anywhere_lacks=("<script", "<img src=x onerror=fetch(5)")),
    # the supervisor must not block writing the next (large) cell to a runner that stopped reading
    Case("forged-done-then-stall", build(replace={"naive-matrix-dot": FORGED_DONE},
                                         before={"test-naive-matrix-dot": "# padding\n" + "#" * 200_000}),
         zero=("test-naive-matrix-dot",), events=("stopped answering",)),
    # a wrong answer no JSON reader takes whole (a loop gone wrong with Python's integers): that answer is wrong, said
    # so; it once crashed the runner as it replied ("the notebook's process ended") and ran the notebook twice again
    Case("huge-whole-number", build(replace={"naive-vector-dot": "def naive_vector_dot(x, y):\n    return 3 ** 20000"}),
         zero=("test-naive-vector-dot",), messages={"test-naive-vector-dot": "whole number of about 9,543 digits"},
         output_lacks=("process ended",)),
    Case("huge-exception-message", build(replace={"naive-relu": "def naive_relu(x):\n    raise ValueError('x' * 200_000)"}),
         zero=("test-naive-relu",), messages={"test-naive-relu": "[shortened]"}),
    Case("loops-rule-private-array", build(replace={"naive-relu": PRIVATE_ARRAY}), zero=("test-naive-relu",),
         messages={"test-naive-relu": "you used x._array"}),
    Case("loops-rule-gc-referents", build(replace={"naive-relu": GC_ARRAY}),
         integrity=("called gc.get_referents (an inspection of objects it was not given)",)),
    Case("lying-numpy-scalar", build(replace={"naive-vector-dot": LYING_SCALAR}), zero=("test-naive-vector-dot",),
         messages={"test-naive-vector-dot": "not right yet"}, output_lacks=("process ended", "ran the notebook again")),
    Case("keyboard-interrupt-in-answer", build(replace={"naive-add": INTERRUPT}), zero=("test-naive-add",),
         messages={"test-naive-add": "raised KeyboardInterrupt: stop"}, output_lacks=("process ended", "ran the notebook again")),
    Case("self-holding-input", build(replace={"naive-transpose": SELF_HOLDING_INPUT}), zero=("test-naive-transpose",),
         output_lacks=("process ended", "ran the notebook again"),
         integrity=("called sys._getframe (an inspection of objects it was not given)",)),
    Case("memory-bomb", build(replace={"naive-add": MEMORY_BOMB}), zero=("test-naive-add",), events=("memory limit hit",)),
    # the bomb's parent may keep forking as children die: contained either by the limit or the timeout
    Case("fork-bomb", build(last=FORK_BOMB), events=("process limit hit|timed out after 8 s",)),
    Case("denied-network", build(first=NETWORK), output_has=("blocked",), output_lacks=("CONNECTED",)),
    Case("disk-fill", build(first=DISK_FILL), events=("disk limit hit",)),
    Case("huge-output", build(first=HUGE_OUTPUT), events=("output truncated",)),
    Case("infinite-loop-ignoring-sigint", build(replace={"naive-transpose": LOOP}), zero=("test-naive-transpose",),
         events=("timed out after 8 s",), messages={"test-naive-transpose": "timed out after 8 s"}),
    Case("invalid-json", b'{"cells": [', zero=ALL, error=True),
    Case("not-a-notebook", b"[1, 2, 3]", zero=ALL, error=True),
    Case("binary-garbage", bytes(range(256)) * 40, zero=ALL, error=True),
    Case("tampered-test-cells", build(edit=_tamper_tests), zero=("test-naive-add", "test-naive-vector-dot"),
         events=("test-naive-relu was deleted", "test-naive-add was edited", "points of cell test-naive-transpose changed",
                 "flag 'grade' of cell test-naive-vector-dot changed")),
    Case("reordered-cells", build(edit=_reorder), events=("moved",)),
    Case("deleted-solution", build(edit=_delete_solution), zero=("test-naive-relu",), events=("naive-relu is missing",)),
    Case("honest-solution-cell-copied", build(edit=_solution_copied), events=("solution cell naive-add appears more than once",)),
    Case("test-cell-copied", build(edit=_test_cell_copied), zero=("test-naive-relu",),
         integrity=("tampering: cell test-naive-relu appears more than once",)),
    Case("honest-solution-written-again", build(edit=_solution_written_again), events=("naive-relu is missing",)),
]


@pytest.fixture(scope="module")
def graded() -> dict[str, SubmissionGrade]:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    source = nbformat.read(SOURCE, as_version=4)
    manifest = build_manifest(source, LIMITS, sandbox_mode="bwrap")
    assert not manifest.problems, manifest.problems

    # As the batch grades them: runners forked from the chapter's fork server (each in namespaces of its own, with
    # its own control group and uid), two at once. (A sandbox of its own per submission, where a host refuses the fork
    # server, is what tests/test_sandbox.py runs.)
    runners = ForkPool(LIMITS, preloads(source), sandbox_mode="bwrap", chapters=chapters_graded(manifest))

    def one(case: Case) -> SubmissionGrade:
        return grade_submission(case.submission, source, manifest, limits=LIMITS, runners=runners.take)

    try:
        with ThreadPoolExecutor(2) as pool:
            return dict(zip([c.name for c in CASES], pool.map(one, CASES)))
    finally:
        runners.close()


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
    for needle in case.events:  # "a|b": either
        assert any(n in e for e in g.events for n in needle.split("|")), f"{needle!r} not in {g.events}"
    for gid, needle in case.messages.items():
        assert needle in g.cells[gid].message, g.cells[gid].message
    for needle in case.integrity:
        assert any(needle in line for line in g.integrity), f"{needle!r} not in {g.integrity}"
    if not case.integrity and case.name.startswith("honest"):
        assert g.integrity == [], g.integrity
    reported = said(g)
    for needle in case.output_has:
        assert needle in reported, needle
    for needle in case.output_lacks:
        assert needle not in reported, needle
    text = everything(g)
    for needle in case.anywhere_lacks:
        assert needle not in text, needle
    # hidden tests never leave the grader, in any encoding
    for secret in ("hidden=True", "HIDDEN TESTS"):
        assert secret not in text and base64.b64encode(secret.encode()).decode()[:12] not in text
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
    """Every attack leaves a trace of its own: a lost cell with a reason, an error, or an event about the
    submission (not about the host: without control groups every grade says so, attack or not)."""
    for case in CASES:
        if case.name.startswith(("honest", "denied", "html")):
            continue
        g = graded[case.name]
        own_events = [e for e in g.events if not is_host_event(e)]
        lost = [gid for gid, c in g.cells.items() if not c.passed and c.message]
        assert own_events or g.error or lost or g.integrity, f"{case.name}: no trace (events: {g.events})"


BATCH = ("honest-full", "honest-partial", "honest-stub", "patch-np-allclose", "forged-records", "monkeypatch-collect",
         "library-reference", "os-exit", "fork-bomb", "invalid-json", "tampered-test-cells", "denied-snoop-files-and-memory")


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
            assert any(n in e for e in result.events for n in needle.split("|")), (name, needle, result.events)
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


def _array(dtype: str, shape: list, data: bytes) -> dict:
    return {"__nd__": [dtype, shape, base64.b64encode(data).decode()]}


@pytest.mark.parametrize("name, wire", [
    ("object dtype", _array("|O", [1], b"\0" * 8)),
    ("structured dtype", _array("[('a', '<f8')]", [1], b"\0" * 8)),
    ("header bigger than the data", _array("<f8", [10**11], b"\0" * 64)),
    ("data bigger than the header", _array("<f8", [1], b"\0" * 64)),
    ("negative shape", _array("<f8", [-1], b"")),
    ("not base64", {"__nd__": ["<f8", [1], "!!!!"]}),
    ("unknown marker", {"__pickle__": "x"}),
    ("two keys", {"__tuple__": [], "__dict__": {}}),
    ("deep nesting", json.loads("[" * 500 + "]" * 500)),
    ("over the budget", _array("<f8", [2_000_000], b"\0" * 16_000_000)),
])
def test_hostile_answers_are_refused_before_anything_is_allocated(name: str, wire: object) -> None:
    from gradbook.checks.plain import WireError, from_wire

    with pytest.raises(WireError):
        from_wire(wire, max_bytes=8_000_000)


def test_answers_round_trip_as_plain_data() -> None:
    import numpy as np

    from gradbook.checks.plain import from_wire, to_plain, to_wire

    value = to_plain({"a": np.arange(6.0).reshape(2, 3), "b": (1, 2.5, float("nan"), "x", None, True),
                      "c": [np.array(["u", "v"]), np.array([1 + 2j])], "d": np.float32(3)})
    back = from_wire(json.loads(json.dumps(to_wire(value))))
    assert back["b"][:2] == (1, 2.5) and np.isnan(back["b"][2]) and back["b"][3:] == ("x", None, True)
    np.testing.assert_array_equal(back["a"], value["a"])
    assert back["a"].dtype == np.float64 and back["c"][0].tolist() == ["u", "v"] and back["d"] == 3.0


def test_a_whole_number_no_json_reader_takes_is_an_unsupported_answer() -> None:
    from gradbook.checks.plain import Unsupported, dumps, loads, to_plain

    sent = loads(dumps(to_plain([3 ** 20000, -(2 ** 63), 2 ** 63])))
    assert sent == [Unsupported("whole number of about 9,543 digits"), -(2 ** 63), Unsupported("whole number of about 20 digits")]


def test_a_numpy_scalar_is_read_by_numpy_not_by_its_own_methods() -> None:
    """A subclass of a numpy scalar may override `item`; what crosses is numpy's value, checked as any value is (a
    lying `item` once sent a 9,543-digit number that ended the runner as it replied)."""
    import numpy as np

    from gradbook.checks.plain import Unsupported, dumps, loads, to_plain

    class Lies(np.float64):
        def item(self, *args):  # noqa: ANN002, ANN202
            return 3 ** 20000

    class Huge(np.uint64):
        pass

    assert loads(dumps(to_plain([Lies(1.5), np.int8(-3), Huge(2 ** 64 - 1), np.str_("a")]))) == [
        1.5, -3, Unsupported("whole number of about 20 digits"), "a"]
    assert isinstance(to_plain(np.array([None], dtype=object)), Unsupported)


def test_what_an_answer_returns_reaches_the_judge_as_it_is_in_the_students_kernel() -> None:
    """The student's kernel judges `to_plain` of the answer; the grader judges it after the wire. They must be the
    same value, or a ✔ in the notebook is a 0 in the grade: a 0-d array (`np.array(total)`) once crossed as shape
    (1,) ("expected shape (), got (1,)"), and a long double, whose `item` is itself, as "too deeply nested"."""
    import numpy as np

    from gradbook.checks.plain import dumps, loads, to_plain

    values = [np.array(2.5), np.array(True), np.array(b"ab"), np.longdouble(1.5), np.clongdouble(2 + 1j),
              np.float16(3), np.arange(6.0).reshape(2, 3).T, np.arange(12)[::3], np.asfortranarray(np.eye(2))]
    for value in values:
        local = to_plain(value)
        sent = loads(dumps(local))
        assert type(sent) is type(local) and np.shape(sent) == np.shape(local), (value, local, sent)
        assert np.asarray(sent).dtype == np.asarray(local).dtype and np.array_equal(sent, local), (value, sent)


def test_the_students_kernel_judges_the_values_the_grader_gets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The class behind the test above: a check in the student's kernel sends the cases and the answers through the
    wire, as the grader and its sandbox do, so whatever the wire does to a value the ✔ shows it too. A wire that
    makes a 0-d array one of shape (1,), as it once did, fails the check here as it failed the grade."""
    import numpy as np

    from gradbook.checks import CheckFailed, ch02, core, plain

    def dot(x, y):  # noqa: ANN001, ANN202 - loops, the chapter's rule; its number as a 0-d array
        total = 0.0
        for i in range(len(x)):
            total += x[i] * y[i]
        return np.array(total)

    ch02.naive_vector_dot(dot, quiet=True)
    monkeypatch.setattr(core, "to_wire", lambda v: plain.to_wire(np.atleast_1d(v) if isinstance(v, np.ndarray) else v))
    with pytest.raises(CheckFailed, match=r"expected shape \(\), got \(1,\)"):
        ch02.naive_vector_dot(dot, quiet=True)


def test_the_digest_of_inputs_an_answer_made_hold_themselves_ends() -> None:
    """An answer may replace its (copied) inputs with anything: a list holding itself, an array subclass whose shape
    raises. The digest says they changed; it never recurses without end or runs their code."""
    import numpy as np

    from gradbook.checks.plain import digest

    class Raises(np.ndarray):
        @property
        def shape(self):  # noqa: ANN202
            raise RuntimeError("no")

    loop: list = []
    loop.append(loop)
    given = (np.arange(3.0),)
    assert digest((loop,)) != digest(given) and digest((np.arange(3.0).view(Raises),)) != digest(given)


def test_a_flood_of_answer_data_is_dropped_by_the_supervisor_without_parsing_it() -> None:
    """A line of millions of tiny JSON items would cost the grader far more memory than its bytes."""
    import io

    from gradbook_grader.process import MAX_JSON_ITEMS, Garbage, _Reader

    flood = b'{"type": "answers", "id": 0, "results": [' + b"0," * (MAX_JSON_ITEMS + 10) + b'0]}\n'
    fine = b'{"type": "answers", "id": 1, "results": []}\n'
    reader = _Reader(io.BytesIO(flood + fine), line_cap=64 * 1024 * 1024)
    reader.run()
    messages = []
    while (m := reader.messages.get()) is not None:
        messages.append(m)
    assert [m["id"] for m in messages if isinstance(m, dict)] == [1] and reader.dropped == 1
    assert isinstance(messages[0], Garbage) and "millions of JSON items" in messages[0].what  # the wait ends at once


def test_a_cell_verdict_needs_every_question_answered_and_right() -> None:
    import numpy as np

    from gradbook.checks import load_all
    from gradbook.checks.ask import answer
    from gradbook.checks.registry import driver
    from gradbook_grader.types import Question
    from gradbook_grader.verdict import Answer, judge_cell

    registry = load_all()
    relu = registry["ch02.naive_relu"]

    def loops(x):  # noqa: ANN001, ANN202 - the chapter's rule: one number at a time
        return np.array([[max(v, 0.0) for v in row] for row in x])

    visible, hidden = Question(relu.name, "naive_relu", False), Question(relu.name, "naive_relu", True)

    def answered(question: Question, student, seed: int) -> Answer:  # noqa: ANN001
        cases = relu.make_cases(seed, question.hidden)
        return Answer("g", question, seed, answer(driver(relu.run), student, cases))

    right = judge_cell([visible, hidden], [answered(visible, loops, 0), answered(hidden, loops, 77)], registry)
    assert right.passed and len(right.lines) == 2
    wrong = judge_cell([visible, hidden], [answered(visible, loops, 0), answered(hidden, lambda x: np.asarray(x) * 0, 77)], registry)
    assert not wrong.passed and "not right yet" in wrong.message
    missing = judge_cell([visible, hidden], [answered(visible, loops, 0), Answer("g", hidden, 77, problem="it timed out")], registry)
    assert not missing.passed and "it timed out" in missing.message
    assert not judge_cell([], [], registry).passed


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


def test_test_cells_hold_only_check_calls_and_release_says_which_line_is_not() -> None:
    from gradbook_grader.questions import TestCellError, read_test_cell
    from gradbook_grader.types import Question

    cell = "from gradbook.checks import ch02 as check\ncheck.naive_relu(naive_relu)\n### BEGIN HIDDEN TESTS\ncheck.naive_relu(naive_relu, hidden=True)\n### END HIDDEN TESTS"
    assert read_test_cell(cell) == [Question("ch02.naive_relu", "naive_relu", False), Question("ch02.naive_relu", "naive_relu", True)]
    assert read_test_cell("import gradbook.checks.ch03 as c\nc.xor_weights((W1, b1))")[0].expr == "(W1, b1)"
    for bad, says in [("from gradbook.checks import ch02 as check\nassert naive_relu(1) == 1", "line 2"),
                      ("from gradbook.checks import ch02 as check\ncheck.nothing(f)", "no check named 'nothing'"),
                      ("from gradbook.checks import ch02 as check\ncheck.naive_relu(f, hidden=h)", "True or False"),
                      ("x = 1", "not a check call"), ("", "makes no check"), ("check.naive_relu(", "not valid Python")]:
        with pytest.raises(TestCellError, match=says):
            read_test_cell(bad)


# --- round 4: answers forged in the sandbox, judged outside ------------------------------------------------

def _forged(expected: object) -> list[tuple[str, object]]:
    """Plain values a process the student controls can send for a case (a driver replaced there sends anything)."""
    import numpy as np

    forms: list[tuple[str, object]] = [
        ("nothing", ()), ("an empty dict", {}), ("None", None), ("nan", float("nan")),
        ("a whole number no float holds", 10**4000), ("text", "x"), ("no rows of a billion columns", np.zeros((0, 10**9))),
    ]
    if isinstance(expected, (tuple, list)) and expected:
        forms += [("all but the last part", type(expected)(expected[:-1])), ("an extra part", type(expected)([*expected, 0])),
                  ("huge whole numbers for every part", tuple(10**4000 for _ in expected))]
    if isinstance(expected, list) and expected and all(type(k) is int for k in expected):  # numbers that index
        forms += [("negative numbers", [-k - 2 for k in expected]), ("halves", [k + 0.5 for k in expected]),
                  ("True and False", [bool(k) for k in expected])]
    if isinstance(expected, dict) and expected:
        forms += [("a key missing", dict(list(expected.items())[:-1])), ("an extra key", {**expected, "extra": 1.0})]
    if isinstance(expected, np.ndarray) and expected.size:
        forms += [("its numbers as text", expected.astype(str)), ("its numbers as bytes", np.full(expected.shape, b"1"))]
    return forms


@pytest.mark.slow(seconds=9)  # loaded 2-core machine: 7-11 s; chapter 8's graph cases are most of it
def test_forged_answers_are_wrong_for_every_exercise_and_never_a_grader_error() -> None:
    """Whatever plain value comes back for every case, the judge calls it wrong, says why, and does not raise: once
    `perceptron_train` passed with an empty list (its compare zipped the parts, and zip stops at the shorter), so a
    student who replaced the chapter's driver in the notebook got full marks for a stub; and None, a huge whole
    number or an array of text raised in chapters' compares ("internal grader error while judging")."""
    import copy

    from gradbook.checks import load_all
    from gradbook.checks.core import judge
    from gradbook.checks.plain import digest, to_plain

    for name, exercise in load_all().items():
        cases = exercise.make_cases(0, False)
        forged = [_forged(to_plain(exercise.answer(exercise.reference, copy.deepcopy(case)))) for case in cases]
        for number, (what, _) in enumerate(forged[0]):
            sent = [forms[number][1] if len(forms) > number else None for forms in forged]
            results = [{"out": out, "error": None, "inputs": digest((c.args, c.kwargs))} for out, c in zip(sent, cases)]
            verdict = judge(exercise, {"exercise": name, "seed": 0, "hidden": False, "results": results}, "en")
            assert not verdict.passed and verdict.message, (name, what)


@pytest.mark.slow(seconds=10)
@pytest.mark.sandbox
def test_a_driver_replaced_in_the_notebook_sends_nothing_and_earns_nothing() -> None:
    """The attack the judge test above closes, end to end: chapter 3's `perceptron_train` left a stub, and the
    chapter's driver replaced in the student's cell so that every case is answered with an empty list. The grader's
    answers are what that process sends; before, this earned the exercise's 2 points."""
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    chapter3 = ROOT / "solutions" / "03-perceptron-and-xor.ipynb"
    forge = ("import gradbook.checks.ch03.public as public\n"
             "public.DRIVERS['ch03.perceptron_train'] = lambda student, case: []\n"
             "def perceptron_train(X, y, epochs=10, lr=1.0):\n    raise NotImplementedError()\n")
    limits = Limits(cell_timeout=30, total_timeout=200, memory_mb=2048)
    source = nbformat.read(chapter3, as_version=4)
    manifest = build_manifest(source, limits, sandbox_mode="bwrap")
    grade = grade_submission(build(replace={"perceptron-train": forge}, source=chapter3), source, manifest,
                             limits=limits, sandbox_mode="bwrap")
    cell = grade.cells["test-perceptron-train"]
    assert cell.points == 0 and "expected a tuple of 3 items, got a list of 0 items" in cell.message, cell.message
    assert grade.cells["test-dense"].points == grade.cells["test-dense"].max_points  # the others keep their points


def test_a_solution_written_again_in_a_new_cell_is_the_answer_graded() -> None:
    """A missing solution cell's stub stands before the student's own cells in its place, never after the answer
    they wrote there again (it once replaced it: an honest answer scored 0 as 'not implemented yet')."""
    from gradbook_grader.restore import parse_submission, restore

    restored = restore(parse_submission(build(edit=_solution_written_again)), nbformat.read(SOURCE, as_version=4))
    sources = [c.source for c in restored.notebook.cells]
    stub = next(i for i, s in enumerate(sources) if "def naive_relu" in s and "NotImplementedError" in s)
    assert stub < sources.index("# my answer, written again\n" + solution_source("naive-relu"))
    assert any("naive-relu is missing: the stub the student was given stands in its place" in e for e in restored.events)


def test_a_locked_cell_is_edited_when_what_it_does_changes_not_its_spacing_or_comments() -> None:
    """An editor that ignores nbgrader's lock (VS Code) lets a student add a blank line, a comment or a space to a test
    cell; that was reported as tampering (and flagged). What the cell does is its syntax tree."""
    from gradbook_grader.restore import parse_submission, restore

    source = nbformat.read(SOURCE, as_version=4)
    for edit, tampering in [(lambda s: s.replace("\n", "\n\n", 1), False), (lambda s: s + "\n# passed!", False),
                            (lambda s: s.replace("(naive_relu)", "( naive_relu )"), False),
                            (lambda s: s.replace("(naive_relu)", "(naive_add)"), True),
                            (lambda s: s + "\nprint('\\u2714 all passed')", True)]:
        nb = honest()
        cell = nb.cells[index_of(nb, "test-naive-relu")]
        cell.source = edit(cell.source)
        restored = restore(parse_submission(nbformat.writes(nb).encode()), source)
        assert bool(restored.tamper) == tampering, (cell.source, restored.tamper)
