"""The trust model's claims (docs/architecture.md, "What a grade guarantees"), one test each.

The attacks of issue 18 graded on the real chapter 2 are in test_redteam.py; here are the
claims about the sandbox's contents, the integrity evidence and the share of the host a
submission gets.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT, require
from gradbook_grader import cgroups, sandbox
from gradbook_grader.running import run_notebook
from gradbook_grader.integrity import scan
from gradbook_grader.types import Limits

LIMITS = Limits(cell_timeout=30, total_timeout=120, memory_mb=1024, max_processes=32)


def needs_bwrap() -> None:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")


def outputs(run, index: int) -> str:  # noqa: ANN001
    return "".join(o.get("text", "") + str(o.get("evalue", "")) for o in run.cells[index].outputs)


# --- no answers in the sandbox ------------------------------------------------------------------


@pytest.mark.sandbox
def test_the_sandbox_has_no_answers_and_no_secrets() -> None:
    """The chapters' checks are names there; their references, mistakes and cases are not on any path."""
    needs_bwrap()
    probe = (
        "import os, sys, glob, gradbook.checks as checks\n"
        "from gradbook.checks import ch02, ch05, load_all\n"
        "print('CHECK', repr(ch02.naive_relu), hasattr(ch02.naive_relu, 'reference'), hasattr(ch02.naive_relu, 'mistakes'))\n"
        "print('REGISTRY', len(load_all()))\n"
        "here = os.path.dirname(checks.__file__)\n"
        "files = [p for p in glob.glob(here + '/**/*', recursive=True) if '__pycache__' not in p]\n"
        "text = ''.join(open(p).read() for p in files if p.endswith('.py'))\n"
        "print('FILES', sorted(os.path.relpath(p, here) for p in files))\n"
        "print('ANSWERS', 'def _softmax' in text, 'Mistake(' in text, 'ACTIVATION_ANSWERS' in text)\n"
        "print('SEED', [k for k in os.environ if k.startswith('GRADBOOK') and ('SEED' in k or 'RECORD' in k)])\n"
        "print('GRADER', [p for p in sys.path if 'autograder' in p], os.path.exists('/opt/gradbook/runner.py'))\n"
        "try:\n"
        "    import gradbook_grader; print('GRADER IMPORTED')\n"
        "except ImportError:\n"
        "    print('no grader package')\n"
        "from gradbook.checks.ch07 import col2im; from gradbook.checks.ch08 import build, random_program\n"
        "print('HELPERS', callable(col2im), callable(build), callable(random_program))\n"
        "ch02.naive_relu(lambda x: x)\n"
    )
    run = run_notebook(new_notebook(cells=[new_code_cell(probe)]), LIMITS)
    out = outputs(run, 0)
    assert "CHECK <check ch02.naive_relu, run by the grader> False False" in out, out
    assert "REGISTRY 0" in out and "ANSWERS False False False" in out, out
    # the chapters' modules (stubs) and public halves, and the harness; no answers half
    assert "'ch02/__init__.py'" in out and "'ch02/public.py'" in out and "core.py" in out and "drivers.py" in out, out
    assert "answers.py" not in out and "recorded.json" not in out, out
    assert "SEED []" in out and "GRADER [] True" in out and "no grader package" in out, out
    assert "HELPERS True True True" in out and "checked by the grader" in out, out


def test_the_sandbox_view_is_every_module_but_the_chapters() -> None:
    import gradbook.checks

    from gradbook.checks.registry import chapters
    from gradbook_grader.answers import package_view

    checks = ROOT / "lib" / "gradbook" / "checks"
    real = {p.relative_to(checks).as_posix() for p in checks.rglob("*.py")}
    view = package_view() / "checks"  # no chapter graded: only the checks' answers are withheld
    got = {p.relative_to(view).as_posix() for p in view.rglob("*.py")}
    answers = {f"{c.key}/answers.py" for c in chapters()}
    stubs = {f"{c.key}/__init__.py" for c in chapters()}
    assert answers <= real and got == real - answers  # no answers half; every other module as it is
    for name in got:
        text = (view / name).read_text()
        if name in stubs:
            assert "GradedOutside" in text and "Mistake" not in text and "reference" not in text, name
        else:
            assert text == (checks / name).read_text(), name
    assert gradbook.checks.__file__  # the real package stays whole outside


# --- integrity evidence ---------------------------------------------------------------------------


def _nb(*solution_sources: str, own: str = "") -> nbformat.NotebookNode:
    cells = [new_code_cell(src, metadata={"nbgrader": {"grade_id": f"s{i}", "solution": True, "grade": False}})
             for i, src in enumerate(solution_sources)]
    if own:
        cells.append(new_code_cell(own))
    return new_notebook(cells=cells)


SOURCE = new_notebook(cells=[new_code_cell("import numpy as np\nfrom gradbook.reference.gradcheck import numerical_gradient")])


def test_pasted_reference_code_is_evidence_and_honest_code_is_not() -> None:
    code = (ROOT / "lib" / "gradbook" / "checks" / "ch05" / "answers.py").read_text()
    section = code[code.index("def _softmax(z"):code.index("BATCH_MAX = ")]  # the reference and its cases, pasted
    pasted = section.replace("_softmax", "my_softmax").replace('"""', '"""Mine. ', 1) + "softmax = my_softmax\n"
    found = scan(_nb(pasted), SOURCE)
    assert any("the same code as in gradbook/checks/ch05/answers.py" in line and "cell 0 (a solution cell), line 1" in line
               for line in found), found
    honest = (
        "import numpy as np\n"
        "def softmax(z):\n"
        "    e = np.exp(z - z.max(axis=1, keepdims=True))\n"
        "    return e / e.sum(axis=1, keepdims=True)\n"
    )
    assert scan(_nb(honest, own="from gradbook.checks import ch05 as check\ncheck.softmax(softmax)"), SOURCE) == []
    # the instructor's own cells, unchanged in the submission, are not the student's evidence
    assert scan(nbformat.from_dict(json.loads(json.dumps(SOURCE))), SOURCE) == []


# --- a fair share of the host ---------------------------------------------------------------------


FORK_AND_ALLOCATE = (
    "import os, time\n"
    "r, w = os.pipe()\n"
    "kids = []\n"
    "for _ in range(6):\n"
    "    pid = os.fork()\n"
    "    if pid == 0:\n"
    "        block = bytearray(300 * 1024 * 1024)\n"
    "        block[::4096] = b'x' * len(block[::4096])  # touch every page: real memory\n"
    "        os.write(w, b'+'); time.sleep(20); os._exit(0)\n"
    "    kids.append(pid)\n"
    "os.close(w)\n"
    "got = b''\n"
    "import select\n"
    "deadline = time.monotonic() + 20\n"
    "while len(got) < 6 and time.monotonic() < deadline:\n"
    "    ready, _, _ = select.select([r], [], [], 1)\n"
    "    if ready:\n"
    "        chunk = os.read(r, 16)\n"
    "        if not chunk: break\n"
    "        got += chunk\n"
    "print('HELD', len(got))\n"
)


def run_in_a_group(code: str):  # noqa: ANN201
    """Run one cell in the sandbox; None when this host makes no control groups (and the run said so)."""
    needs_bwrap()
    group, why = cgroups.create(64 * 1024 * 1024, 8, 1.0)
    # The cell waits, idle, for children that the memory limit may have killed: no stall detection.
    run = run_notebook(new_notebook(cells=[new_code_cell(code)]), replace(LIMITS, stall_seconds=0))
    if group is None:  # no control groups on this host: the grade must say so
        assert any("capped per process only" in e for e in run.events), run.events
        return None
    group.destroy()
    return run


@pytest.mark.sandbox
def test_memory_is_capped_for_the_whole_sandbox() -> None:
    """Six children of 300 MB each stay under the 1,024 MB of one sandbox (each alone is under its cap)."""
    run = run_in_a_group(FORK_AND_ALLOCATE)
    if run is None:
        return
    assert "HELD" in outputs(run, 0)  # the cell ran to its end; the kernel kept the sandbox within its limit
    hit = [e for e in run.events if "memory limit of the whole sandbox hit" in e]
    assert hit, run.events
    peak = int(hit[0].split("peak ")[1].split()[0].replace(",", ""))
    assert peak <= LIMITS.memory_mb, peak  # the kernel's own count, for all six processes together


BUSY = (
    "import os, time\n"
    "start = time.monotonic()\n"
    "for _ in range(4):\n"
    "    if os.fork() == 0:\n"
    "        while time.monotonic() - start < 4: pass\n"
    "        os._exit(0)\n"
    "for _ in range(4): os.wait()\n"
    "t = os.times()\n"
    "print('SHARE', (t.children_user + t.children_system) / (time.monotonic() - start))\n"
)


@pytest.mark.sandbox
def test_a_busy_submission_gets_one_cpu_at_most() -> None:
    run = run_in_a_group(BUSY)
    if run is None:
        return
    share = float(outputs(run, 0).split("SHARE")[1].split()[0])
    assert share <= 1.0 * 1.15, share  # four busy processes, one CPU's worth (the kernel's quota period allows a little over)


# --- nothing the sandbox returns can hurt the grader ----------------------------------------------


@pytest.mark.sandbox
def test_answer_bombs_cost_the_grader_bounded_memory() -> None:
    """Every answer a few MB of data (once: thirty 60 MB records took a worker to 1.8 GB)."""
    import tracemalloc

    from gradbook_grader.execute import grade_submission
    from gradbook_grader.questions import static_manifest

    needs_bwrap()
    source = nbformat.read(ROOT / "solutions" / "02-tensor-operations.ipynb", as_version=4)
    bomb = nbformat.from_dict(json.loads(json.dumps(source)))
    for cell in bomb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            name = cell.source.split("def ", 1)[1].split("(", 1)[0]
            cell.source = f"import numpy as np\ndef {name}(*args):\n    return np.random.random(60_000 * len(args))\n"
    tracemalloc.start()
    try:
        grade = grade_submission(bomb, source, static_manifest(source), limits=LIMITS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert grade.score == 0 and grade.error is None
    assert peak < 200 * 1024 * 1024, peak
    # each cell says why its answer failed: too large for the wire, or (small enough to return) the wrong shape
    for grade_id, cell in grade.cells.items():
        assert "too large to check" in cell.message or "expected shape" in cell.message, (grade_id, cell.message)
