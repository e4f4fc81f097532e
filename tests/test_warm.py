"""Warm sandboxed runners (gradbook_grader.warm): started and loaded ahead, used for exactly one submission."""

from __future__ import annotations

import time

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from conftest import require
from gradbook_grader.running import run_notebook
from gradbook_grader.sandbox import bwrap_problem
from gradbook_grader.types import Limits, is_host_event
from gradbook_grader.warm import WarmPool, preloads

LIMITS = Limits(cell_timeout=120, total_timeout=300)


def _graded(source: str, points: int = 1) -> nbformat.NotebookNode:
    return new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                                                        "grade_id": "test-x", "points": points}})


def test_preloads_are_the_imports_of_the_instructors_cells_but_never_of_a_test_cell() -> None:
    source = new_notebook(cells=[
        new_markdown_cell("import markdown_is_not_code"),
        new_code_cell("%matplotlib inline\nimport numpy as np, os.path\nfrom gradbook import models, layers as L\n"
                      "from . import relative\nfrom math import *\n!pip install nothing"),
        new_code_cell("def f():\n    import json\n    return json"),
        new_code_cell("this is not python ("),
        _graded("from gradbook.checks import ch02 as check\nimport hidden_secret_module\ncheck.relu(f)"),
    ])
    assert preloads(source) == ("numpy", "os.path", "gradbook", "gradbook.models", "gradbook.layers", "math", "json")


@pytest.fixture
def pool():  # noqa: ANN201
    require(bwrap_problem() is None, f"the sandbox is needed: {bwrap_problem()}")
    pools: list[WarmPool] = []

    def make(modules: tuple[str, ...]) -> WarmPool:
        pools.append(WarmPool(LIMITS, modules))
        return pools[-1]

    yield make
    for made in pools:
        made.close()


def _printed(run, index: int = 0) -> str:  # noqa: ANN001
    cell = run.cells[index]
    assert cell.status == "ok", (cell.status, cell.reason, cell.outputs)
    return "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_warm_runner_has_the_modules_loaded_and_serves_one_submission_only(pool) -> None:  # noqa: ANN001
    warm = pool(("numpy", "no_such_module_anywhere"))
    probe = "import sys\nprint('numpy' in sys.modules, 'SECRET' in globals(), __import__('os').path.exists('/tmp/mark'))"
    first = run_notebook(new_notebook(cells=[new_code_cell(probe + "\nSECRET = 1\nopen('/tmp/mark', 'w').write('x')"),
                                             new_code_cell("print(SECRET, open('/tmp/mark').read())")]),
                         LIMITS, runners=warm.take)
    assert _printed(first) == "True False False\n"  # numpy before any cell; a module that does not exist is no error
    assert _printed(first, 1) == "1 x\n"
    # The next submission gets another sandbox: nothing the first defined or wrote is there.
    second = run_notebook(new_notebook(cells=[new_code_cell(probe)]), LIMITS, runners=warm.take)
    assert _printed(second) == "True False False\n"
    assert warm.warm == 2 and warm.started >= 2
    # Without a pool (or before a module is asked for) the notebook starts empty: the preload is what loaded numpy.
    cold = run_notebook(new_notebook(cells=[new_code_cell(probe)]), LIMITS)
    assert _printed(cold) == "False False False\n"


@pytest.mark.sandbox
@pytest.mark.slow
def test_a_runner_that_died_while_waiting_is_replaced_not_blamed(pool) -> None:  # noqa: ANN001
    warm = pool(("numpy",))
    deadline = time.monotonic() + 300

    def idle_sandboxes() -> list[psutil.Process]:
        return [p for p in psutil.Process().children(recursive=True) if p.name() == "bwrap"]

    while not (warm._ready.qsize() and idle_sandboxes()):  # noqa: SLF001 - await the ready runner
        assert time.monotonic() < deadline, "no warm runner became ready"
        time.sleep(0.05)
    for process in idle_sandboxes():
        process.kill()
    psutil.wait_procs(idle_sandboxes(), timeout=30)
    run = run_notebook(new_notebook(cells=[new_code_cell("print(6 * 7)")]), LIMITS, runners=warm.take)
    assert _printed(run) == "42\n" and run.stopped is None and not [e for e in run.events if not is_host_event(e)]
