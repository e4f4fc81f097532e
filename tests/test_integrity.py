"""Evidence an instructor can trust (docs/architecture.md, "What a grade guarantees").

Graded in real sandboxes, one notebook each: every honest, unusual solution of the corpus
(integrity_corpus.HONEST, every chapter) gets full marks and no integrity evidence; every
representative of a class of copying attacks on chapter 5's softmax (integrity_corpus.ATTACKS)
scores nothing for it or is flagged. The source each is graded against holds the instructor's
real solution cells, so pasting them, or writing what they say, is judged as in a real course.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT
from gradbook.checks.registry import chapter, chapters
from gradbook_grader.execute import grade_submission
from gradbook_grader.integrity import MIN_COPY_NODES, scan
from gradbook_grader.nbcells import is_solution, stub_solution
from gradbook_grader.types import Limits, SubmissionGrade
from gradbook_grader.questions import static_manifest
from integrity_corpus import ATTACKS, DICTATED, FRAMEWORK_FORMS, HONEST, REPLACES_RECORDER
from test_trust import needs_bwrap

LIMITS = Limits(cell_timeout=60, total_timeout=400, memory_mb=2048, max_output_bytes=2_000_000)
SETUP = "import numpy as np\nfrom gradbook.checks.ch07 import col2im\n"


def _meta(gid: str, solution: bool, grade: bool, points: int = 0) -> dict:
    meta = {"grade_id": gid, "solution": solution, "grade": grade, "locked": not solution, "schema_version": 3}
    return {"nbgrader": {**meta, "points": points} if grade else meta}


def _instructor_cells(chapters: list[str]) -> list:
    """The chapters' real solution cells (not graded here): what a student might paste or happen to write; and
    their text (Markdown), which leads students to write much of it."""
    cells = []
    for key in chapters:  # the registry's chapters ("ch05")
        path = ROOT / "solutions" / f"{chapter(key).notebook}.ipynb"
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code" and is_solution(cell):
                cells.append(new_code_cell(cell.source, metadata=_meta(f"real-{key}-{cell.metadata.nbgrader.grade_id}", True, False)))
            elif cell.cell_type == "markdown" and not is_solution(cell):
                cells.append(nbformat.v4.new_markdown_cell(cell.source))
    return cells


def _pair(answers: list[tuple[str, str, str]], chapters: list[str]) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(source, submission): each answer a solution cell with its own one-point test cell."""
    real = _instructor_cells(chapters)
    cells, stubs = [new_code_cell(SETUP)], []
    for number, (exercise, name, code) in enumerate(answers):
        module, check = exercise.split(".")
        cells.append(new_code_cell(code.strip() + "\n", metadata=_meta(f"answer-{number}", True, False)))
        cells.append(new_code_cell(f"from gradbook.checks import {module} as check\ncheck.{check}({name})",
                                   metadata=_meta(f"test-{number}", False, True, 1)))
    submission = copy.deepcopy(new_notebook(cells=[cells[0], *real, *cells[1:]]))
    source = copy.deepcopy(submission)
    for cell in source.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("answer-"):
            cell.source = "### BEGIN SOLUTION\nraise NotImplementedError()\n### END SOLUTION\n"
    for cell in submission.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("real-"):
            cell.source = stub_solution(cell.source)  # the student's template of the instructor's cell
    return source, submission


def _pasted_attacks() -> list[tuple[str, str, str]]:
    checks = (ROOT / "lib" / "gradbook" / "checks" / "ch05" / "answers.py").read_text()
    section = checks[checks.index("def _softmax(z"):checks.index("BATCH_MAX = ")]
    section = section.replace('"""Rows of very different scales', '"""My own rows of different scales')
    library = (ROOT / "lib" / "gradbook" / "reference" / "activations.py").read_text()
    engine = library[library.index("def sigmoid(x"):library.index("ACTIVATIONS: dict")]
    for old, new in (("sigmoid", "sig"), ("softmax", "soft"), ("dout", "upstream"), ("Array", "object")):
        engine = engine.replace(old, new)
    section = "from __future__ import annotations\n" + section.replace("_softmax", "softmax_pasted_checks")
    return [("ch05.softmax", "softmax_pasted_checks", section),
            ("ch05.softmax", "softmax_pasted_library", "import numpy as np\n" + engine + "softmax_pasted_library = soft\n")]


def _attacks() -> list[tuple[str, str, str]]:
    return [("ch05.softmax", name, code) for _, name, code in ATTACKS] + _pasted_attacks()


@pytest.fixture(scope="module")
def graded() -> dict[str, tuple[nbformat.NotebookNode, SubmissionGrade]]:
    needs_bwrap()
    forms = [(exercise, name, code) for exercise, name, code, _ in [*FRAMEWORK_FORMS, *REPLACES_RECORDER]]
    jobs = {"honest": _pair(HONEST, [c.key for c in chapters()]), "attacks": _pair(_attacks() + forms, ["ch05"])}

    def grade(pair: tuple) -> tuple[nbformat.NotebookNode, SubmissionGrade]:
        source, submission = pair
        return submission, grade_submission(submission, source, static_manifest(source), limits=LIMITS, seed=7)

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(jobs, pool.map(grade, jobs.values())))


def _cell_of(nb: nbformat.NotebookNode, gid: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == gid)


@pytest.mark.slow
@pytest.mark.sandbox
def test_honest_unusual_solutions_get_full_marks_and_no_flag(graded) -> None:  # noqa: ANN001
    assert len(HONEST) >= 30 and {e[:4] for e, _, _ in HONEST} == {c.key for c in chapters()}
    _, grade = graded["honest"]
    assert grade.error is None and grade.sandboxed
    failed = {gid: c.message[:300] for gid, c in grade.cells.items() if gid.startswith("test-") and not c.passed}
    assert failed == {}, failed
    assert grade.integrity == [], grade.integrity


@pytest.mark.slow
@pytest.mark.sandbox
def test_every_class_of_copying_scores_nothing_or_is_flagged(graded) -> None:  # noqa: ANN001
    submission, grade = graded["attacks"]
    assert grade.error is None and grade.sandboxed
    results = {}
    for number, (_, name, _) in enumerate(_attacks()):
        cell = _cell_of(submission, f"answer-{number}")
        flagged = [line for line in grade.integrity if line.startswith(f"cell {cell} ")]
        results[name] = ("flagged" if flagged else "") + ("" if grade.cells[f"test-{number}"].passed else " scored 0")
        assert results[name], (name, grade.cells[f"test-{number}"].message)
    assert results["softmax_pasted_checks"].startswith("flagged"), results
    assert results["softmax_pasted_library"].startswith("flagged"), results
    withheld = [c.message for gid, c in grade.cells.items() if gid.startswith("test-") and "not available while chapter 5" in c.message]
    assert withheld, "the stubs say why"  # a student who called the library reads why it failed


@pytest.mark.slow
@pytest.mark.sandbox
def test_a_framework_however_reached_is_seen_while_the_answer_is_asked(graded) -> None:  # noqa: ANN001
    """An obfuscated import, `sys.modules`, an attribute of numpy, `exec`, `eval`, a lambda in a dict, `__call__`, a
    decorator, `map` and `functools.partial` (called from C), autograd, a returned tensor: each answer keeps its
    points (its value is judged) and is flagged with the framework function it called; so is an answer that
    replaces the grader's profiler or takes its torch mode off. The honest corpus above (threads, helpers in a
    dict, recursion) is not."""
    assert len(FRAMEWORK_FORMS) >= 8 and len({exercise[:4] for exercise, *_ in FRAMEWORK_FORMS}) >= 2
    _, grade = graded["attacks"]
    for number, (_, name, _, called) in enumerate([*FRAMEWORK_FORMS, *REPLACES_RECORDER], start=len(_attacks())):
        cell = grade.cells[f"test-{number}"]
        assert cell.passed, (name, cell.message[:300])
        lines = [line for line in grade.integrity if line.startswith(f"cell test-{number}: `{name}`")]
        assert len(lines) == 1 and called in lines[0], (name, called, lines)
        replaced = (name, called) in [(n, c) for _, n, _, c in REPLACES_RECORDER]
        assert ("replaced the grader's recorder" in lines[0]) == replaced, lines


def test_answers_a_chapter_s_text_dictates_are_not_the_instructor_s_code() -> None:
    """Each chapter's honest answers against its own solutions and text, as graded: none is evidence, those the text
    dictates included (a natural conv2d_naive, maxpool_backward or Adam has the solution's shape, and a micrograd
    `Value` once matched across its methods, joined by the lines the template gives between them). The instructor's
    own cells pasted whole, with their names, still are, where they hold enough names their author chose."""
    assert len(DICTATED) >= 8
    for key in sorted({exercise[:4] for exercise, _, _ in HONEST}):
        source, submission = _pair([entry for entry in HONEST if entry[0].startswith(key)], [key])
        assert scan(submission, source) == [], key
    pasted = nbformat.read(ROOT / "solutions" / f"{chapter('ch10').notebook}.ipynb", as_version=4)
    assert any("the same code as in the instructor's solution" in line for line in scan(pasted, copy.deepcopy(pasted)))


def test_a_deep_expression_is_scanned_without_an_error() -> None:
    """A function with a 600-term sum once crashed the scan (RecursionError) and left the submission ungraded."""
    deep = "def total(x):\n    return " + " + ".join(f"x[{i}]" for i in range(600)) + "\n"
    nested = "y = " + "(" * 180 + "1" + ")" * 180 + "\n"
    too_deep = "def big(x):\n    return " + " + ".join(["x"] * 5000) + "\n"  # Python's own parser gives up
    source = new_notebook(cells=[])
    for code in (deep + nested, too_deep):
        assert scan(new_notebook(cells=[new_code_cell(code, metadata=_meta("a", True, False))]), source) == []


def test_a_notebook_of_more_code_than_the_scan_compares_is_left_to_a_person() -> None:
    """Thousands of statements shaped like the library's commonest (`def f(a, b): ...`, which the answer code has
    hundreds of) once cost the grader 20 minutes for a 50 MB notebook, outside every sandbox's time limit; past a
    budget of statements compared, or of characters of code, the scan stops and says so (the submission is flagged
    for a person: the rest of its code was not compared)."""
    from gradbook_grader.integrity import MAX_CODE

    commonest = "\n".join(["def f(a, b): pass"] * 5000)
    long_comment = "# " + "x" * MAX_CODE
    for code in (commonest, long_comment):
        source, submission = _pair([("ch05.softmax", "softmax", code)], [])
        evidence = scan(submission, source)
        assert evidence and evidence[-1].startswith("the integrity scan stopped"), evidence[-1:]


def test_copy_threshold_keeps_natural_short_answers_out() -> None:
    """A softmax written the natural way is the reference's code by necessity: it is far below the threshold."""
    natural = "def softmax(z):\n    e = np.exp(z - np.max(z, axis=-1, keepdims=True))\n    return e / np.sum(e, axis=-1, keepdims=True)\n"
    from gradbook_grader.integrity import _parse, _statements

    assert sum(s.nodes for s in _statements(_parse(natural))) < MIN_COPY_NODES / 2


@pytest.mark.slow  # the runpy and pkgutil attacks import the whole library, torch included
@pytest.mark.filterwarnings("ignore:.*found in sys.modules after import:RuntimeWarning")  # runpy's, on the attack
def test_the_attacks_work_where_the_answers_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each attack really is one: with the whole library (here, outside any sandbox) it gives softmax."""
    import numpy as np

    monkeypatch.setenv("GRADBOOK_GRADING", "1")  # what the sandbox says; one attack only cheats then
    z = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])
    expected = np.exp(z - z.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    for _, name, code in _attacks():
        if "get_ipython" in code:
            continue  # needs a notebook's shell; graded in one above
        space: dict = {"np": np}
        exec(compile(code, name, "exec"), space)  # noqa: S102 - the test's own attack code
        assert np.allclose(space[name](z), expected), name


def test_an_answer_a_framework_computes_is_evidence_and_a_check_against_one_is_not() -> None:
    """Only a solution's function that calls a framework through a name bound to it, and that a checked answer
    reaches, is flagged, once, with what it reaches; a parameter or local of the same name, a comparison at the cell's
    top level, or a test function of the student's own that no answer uses (chapter 8's demos compare with torch the
    same way) is the student's own."""
    honest = ("def layer_norm(x, gamma, beta, F=None, eps=1e-5):\n    torch = x.mean(axis=-1, keepdims=True)\n"
              "    return (x - torch) / np.sqrt(x.var(axis=-1, keepdims=True) + eps) * gamma + beta\n"
              "import torch\nprint(torch.allclose(torch.tensor(layer_norm(np.ones((2, 3)), 1, 0)), torch.zeros(2, 3)))\n"
              "def agrees_with_torch(x):\n    return torch.allclose(torch.tensor(layer_norm(x, 1, 0)), F.layer_norm(\n"
              "        torch.tensor(x), x.shape[-1:]))\nprint(agrees_with_torch(np.eye(3)))\n")
    framework = ("def attention(Q, K, V, mask=None):\n    w = torch.softmax(torch.tensor(Q) @ torch.tensor(K).T, -1)\n"
                 "    return (w @ torch.tensor(V)).numpy(), normalise(w.numpy())\n"
                 "normalise = lambda w: F.normalize(torch.tensor(w), p=1.0, dim=-1).numpy()\n")
    source, submission = _pair([("ch10.layer_norm", "layer_norm", honest), ("ch10.attention", "attention", framework)], [])
    submission.cells.insert(0, new_code_cell("import torch\nimport torch.nn.functional as F"))
    evidence = scan(submission, source)
    assert len(evidence) == 2, evidence
    assert "line 2: attention computes with a framework (torch.softmax, torch.tensor)" in evidence[0]
    assert "line 4: a lambda computes with a framework (torch.nn.functional.normalize, torch.tensor)" in evidence[1]


WATCHED = """
import json, sys, threading
sys.path[:0] = [{grader!r}, {fake!r}]
import watch
w = watch.Watch()  # before the framework is loaded, as in the sandbox
import numpy as np

def imports_it():
    return __import__("ker" + "as").softmax(np.ones(3))

def in_a_thread():
    out = []
    worker = threading.Thread(target=lambda: out.append(sys.modules["keras"].softmax(np.ones(3))))
    worker.start()
    worker.join()
    return out[0]

def replaces_the_profiler():
    sys.setprofile(None)
    return np.ones(3)

def imports_in_a_thread():
    worker = threading.Thread(target=lambda: __import__("jax").exp(1.0))
    worker.start()
    worker.join()
    return np.ones(3)

asked = {{"numpy": lambda: np.exp(np.ones(3)).sum(), "imports": imports_it,
         "loaded": lambda: getattr(sys.modules["keras"], "soft" + "max")(np.ones(3)),
         "library": lambda: sys.modules["keras"].helper(), "thread": in_a_thread, "profiler": replaces_the_profiler}}
seen = {{name: w.ask(call)[1] for name, call in asked.items()}}
del sys.modules["keras"]  # no framework loaded: the profiler is off until the thread imports one
seen["thread-imports"] = w.ask(imports_in_a_thread)[1]
print(json.dumps(seen))
"""


def test_the_profiler_sees_a_framework_without_a_function_mode(tmp_path: Path) -> None:
    """Where a loaded framework has no function mode (here a stand-in `keras`, pure Python, in its own folder), the
    profiler sees its functions entered, also in a thread the answer starts and after an import while asked; numpy
    alone is nothing, and replacing the profiler is said. Outside the sandbox, in a process of its own."""
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "__init__.py").write_text(
        "import numpy as np\n\ndef softmax(x):\n    e = np.exp(x - x.max())\n    return e / e.sum()\n\n"
        "def helper():\n    return softmax(np.ones(2))\n")
    (tmp_path / "jax").mkdir()
    (tmp_path / "jax" / "__init__.py").write_text("import math\n\ndef exp(x):\n    return math.exp(x)\n")
    grader = ROOT / "autograder" / "gradbook_grader"
    done = subprocess.run([sys.executable, "-c", WATCHED.format(grader=str(grader), fake=str(tmp_path))],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["numpy"] == {}, seen
    assert seen["imports"]["frameworks"][:2] == ["import keras", "keras.softmax"], seen
    assert seen["loaded"] == {"frameworks": ["keras.softmax"]} and seen["thread"] == seen["loaded"], seen
    assert seen["library"] == {"frameworks": ["keras.helper"]}, seen  # its entry, not what it calls itself
    assert any("sys.setprofile (called by the answer)" in r for r in seen["profiler"]["replaced"]), seen
    assert seen["thread-imports"] == {"frameworks": ["import jax", "jax.exp"]}, seen  # nothing replaced


def test_what_the_sandbox_says_was_called_is_read_as_untrusted_data() -> None:
    """The reply's record is short printable names, merged per answer of a cell; any other shape is evidence."""
    from gradbook_grader.execute import _read_calls
    from gradbook_grader.integrity import asked
    from gradbook_grader.types import Question
    from gradbook_grader.verdict import Answer

    assert _read_calls(None) == ([], [])
    (long,) = _read_calls({"frameworks": ["torch." + "x" * 500]})[0]
    assert len(long) <= 200 and long.endswith("[shortened]"), long
    names, replaced = _read_calls({"frameworks": ["torch.softmax\x1b[2J"]})
    assert names == ["torch.softmax\\x1b[2J"] and replaced == []
    for forged in ("x", {"frameworks": "torch"}, {"frameworks": [1]}, {"other": []}, {"frameworks": ["a"] * 500}):
        assert "student code changed it" in _read_calls(forged)[1][0], forged
    question = Question("ch05.softmax", "softmax", False)
    answers = [Answer("test-softmax", question, 0, frameworks=["torch.tensor", "torch.softmax"]),
               Answer("test-softmax", Question("ch05.softmax", "softmax", True), 7, frameworks=["torch.softmax"]),
               Answer("test-other", Question("ch05.relu", "relu", False), 0)]
    lines = asked(answers)
    assert len(lines) == 1 and lines[0].startswith(
        "cell test-softmax: `softmax` (ch05.softmax) called torch.tensor, torch.softmax while its answer was asked"), lines


def test_the_sandbox_s_recorder_and_the_grader_agree_on_what_it_sends() -> None:
    """watch.py runs alone in the sandbox and keeps its own constants: they must not drift apart from the grader's
    (a record longer than the grader reads is taken for one student code changed)."""
    from gradbook_grader import execute, integrity, watch

    assert watch.FRAMEWORKS == integrity.FRAMEWORKS
    assert watch.MAX_NAMES == execute.MAX_CALLS
