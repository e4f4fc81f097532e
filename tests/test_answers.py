"""No answers in a chapter's grading sandbox (docs/architecture.md, "What a grade guarantees").

The grader declares, per exercise, which of the library's code computes its answer
(`Exercise.library_answers`) and stubs it in that chapter's sandbox (`gradbook_grader.answers`).
The proof does not trust those declarations: in each chapter's real grading sandbox,
`answers_probe.py` tries every function, class, method and callable attribute reachable from
every module of `gradbook` (and every function of the package `gc` knows) as the answer to every
exercise of the chapter, through its driver, on its visible cases; the candidates are judged here
by the real checks, and none may pass. A control run without stubs shows the probe finds the
library's answers when they are there. That honest solutions still get full marks in their
sandbox is shown by the end-to-end grading tests (tests/test_grading_end_to_end.py, every chapter).
"""

from __future__ import annotations

import ast
import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT
from gradbook.checks.registry import chapters
from gradbook_grader import answers
from gradbook_grader.running import run_notebook
from gradbook_grader.process import Stop
from gradbook_grader.types import Limits
from test_trust import needs_bwrap

CHAPTERS = tuple(c.key for c in chapters())
PROBE = Path(__file__).with_name("answers_probe.py")
# Exercises whose compare accepts answers that differ from the reference's values (any topological
# order, any valid shuffle, Keras's Adam); for the others the plain comparison is a necessary condition.
ORDER_FREE = {"ch08.topological_order", "ch06.minibatches", "ch06.adam"}
LIMITS = Limits(cell_timeout=400, total_timeout=420, memory_mb=3072, max_output_bytes=60_000_000)


def test_every_declared_answer_is_a_definition_of_the_library() -> None:
    from gradbook.checks import load_all

    paths = answers.declared(CHAPTERS)
    assert len(paths) >= 40, paths  # every chapter with library code that computes an answer declares it
    for path, exercise in paths.items():
        target = answers.resolve(path)
        source = (ROOT / "lib" / "gradbook" / target.file).read_text()
        stubbed = answers.rewrite(source, [target], (exercise[:4],))
        assert "is not available while chapter" in stubbed, path
    assert all(isinstance(exercise.library_answers, tuple)
               for exercise in load_all().values())
    with pytest.raises(answers.AnswerDeclarationError, match="no such attribute"):
        answers.resolve("gradbook.reference.activations.no_such_function")


# Kernels that compute no exercise's answer: every other kernel of the library (a layer's arithmetic, on either
# engine) is some chapter's answer, withheld while that chapter is graded (an exercise's `library_answers`, or
# its chapter's `registry.Chapter.library` when the answer is the kernel wrapped: a SimpleRNN with its weights set).
NOT_ANSWERS = {
    "gradbook.reference.numpy_engine._Flatten": "a reshape",
    "gradbook.reference.numpy_engine._Identity": "the identity",
    "gradbook.reference.sequence.TokenAndPositionKernel": "learned positions: no exercise writes them",
    "gradbook.torch_path.engine.AutogradKernel": "torch's autograd around an op: the ops are declared one by one",
}


def test_every_kernel_of_the_library_is_a_chapters_answer_or_said_not_to_be() -> None:
    """A new layer's kernel must be declared where a chapter teaches it, or listed above: forgetting to is how
    chapters 9 and 10 once let a library SimpleRNN, LSTM or attention answer their exercises."""
    import importlib
    import inspect
    import pkgutil

    import gradbook
    from gradbook.reference.engine import LayerKernel, SequenceOps

    kernels = {}
    for module in pkgutil.walk_packages(gradbook.__path__, "gradbook."):
        if module.name.startswith(("gradbook.checks", "gradbook.widgets", "gradbook.fonts")):
            continue
        for obj in vars(importlib.import_module(module.name)).values():
            if (inspect.isclass(obj) and obj.__module__ == module.name
                    and (issubclass(obj, (LayerKernel, SequenceOps)) or obj.__name__.endswith("Kernel"))):
                kernels[f"{obj.__module__}.{obj.__qualname__}"] = obj
    bases = {b for k in kernels.values() for b in k.__mro__[1:]}
    declared = answers.declared(CHAPTERS)
    missing = [path for path, kernel in sorted(kernels.items()) if kernel not in bases and path not in NOT_ANSWERS
               and not any(d == path or d.startswith(path + ".") for d in declared)]
    assert not missing, f"declare each as its chapter's answer (registry.Chapter.library) or add it to NOT_ANSWERS: {missing}"
    assert {"gradbook.reference.sequence.LSTMKernel", "gradbook.reference.sequence.AttentionKernel"} <= set(declared)


def test_the_view_is_the_package_without_bytecode_and_with_stubs() -> None:
    view = answers.package_view(("ch05",))
    real = ROOT / "lib" / "gradbook"
    files = {p.relative_to(view) for p in view.rglob("*") if p.is_file()}
    assert files == {p.relative_to(real) for p in real.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                     and p.suffix not in (".pyc", ".pyo") and p.name != "answers.py"}  # no chapter's answers half
    activations = (view / "reference" / "activations.py").read_text()
    assert "np.exp(x - np.max" not in activations  # softmax's code is gone...
    assert "gradbook.reference.activations.softmax is not available while chapter 5 is graded" in activations
    assert "np.maximum(x, 0)" in activations  # ...relu's (an earlier chapter's) stays
    assert (view / "reference" / "layers.py").read_text() == (real / "reference" / "layers.py").read_text()
    engine = {n.name: ast.dump(n) for n in ast.parse((view / "reference" / "numpy_engine.py").read_text()).body
              if isinstance(n, ast.ClassDef)}
    assert engine["_Dense"] == ast.dump(next(n for n in ast.parse((real / "reference" / "numpy_engine.py").read_text()).body
                                             if isinstance(n, ast.ClassDef) and n.name == "_Dense"))  # chapter 3's, kept
    for chapter in ("ch02", "ch05"):
        text = (view / "checks" / chapter / "__init__.py").read_text()
        assert "GradedOutside" in text and "Mistake" not in text and "reference" not in text
        assert not (view / "checks" / chapter / "answers.py").exists() and (real / "checks" / chapter / "answers.py").exists()
    assert (view / "checks" / "core.py").read_text() == (real / "checks" / "core.py").read_text()
    assert answers.package_view(("ch05",)) == view  # one per chapter per process


def _payload(chapters: tuple[str, ...]) -> list[dict]:
    from gradbook.checks import load_all
    from gradbook.checks.core import VISIBLE_SEED
    from gradbook.checks.plain import to_plain, to_wire

    out = []
    for name, exercise in sorted(load_all().items()):
        if name[:4] not in chapters or exercise.value:
            continue  # a value exercise takes no code
        cases = exercise.make_cases(VISIBLE_SEED, False)
        expected = [to_plain(exercise.answer(exercise.reference, copy.deepcopy(c))) for c in cases]
        out.append({"name": name, "driver": exercise.run, "cases": to_wire([(c.args, c.kwargs) for c in cases]),
                    "expected": to_wire(expected), "values_decide": exercise.name not in ORDER_FREE})
    return out


def _probe(tmp: Path, chapters: tuple[str, ...], payload_chapters: tuple[str, ...]) -> tuple[dict, list[dict]]:
    """Run the probe in the grading sandbox of `chapters`: its summary, and what it found."""
    data = tmp / f"probe-{'-'.join(payload_chapters)}-{'-'.join(chapters) or 'none'}.json"
    data.write_text(json.dumps(_payload(payload_chapters)))
    cell = new_code_cell("exec(compile(open('/scratch/answers_probe.py').read(), 'answers_probe.py', 'exec'))")
    run = run_notebook(new_notebook(cells=[cell]), LIMITS, chapters=chapters,
                       extra_files={"answers_probe.py": PROBE, "probe.json": data})
    text = "".join(o.get("text", "") for o in run.cells[0].outputs)
    done = re.search(r"^PROBE-DONE (.*)$", text, re.M)
    assert done, (run.cells[0].status, run.events, text[-3000:], run.cells[0].outputs[-1:])
    found = [json.loads(line[len("PROBE-FOUND "):]) for line in text.splitlines() if line.startswith("PROBE-FOUND ")]
    return json.loads(done.group(1)), found


def _judged_right(found: list[dict]) -> list[str]:
    from gradbook.checks import load_all
    from gradbook.checks.core import VISIBLE_SEED, digest, judge
    from gradbook.checks.plain import from_wire

    right = []
    for item in found:
        exercise = load_all()[item["exercise"]]
        cases = exercise.make_cases(VISIBLE_SEED, False)
        results = [{"out": out, "error": None, "inputs": digest((c.args, c.kwargs))}
                   for out, c in zip(from_wire(item["outs"]), cases)]
        observation = {"exercise": exercise.name, "seed": VISIBLE_SEED, "hidden": False, "results": results}
        if judge(exercise, observation).passed:
            right.append(f"{item['exercise']}: {item['candidate']}")
    return right


@pytest.fixture(scope="module")
def probes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict, list[str]]]:
    """Each chapter's sandbox probed (and one control without stubs), two sandboxes at a time."""
    needs_bwrap()
    tmp = tmp_path_factory.mktemp("probes")
    jobs = {ch: ((ch,), (ch,)) for ch in CHAPTERS}
    jobs["control"] = ((), ("ch00", "ch01", "ch03", "ch04", "ch05"))
    with ThreadPoolExecutor(2) as pool:
        futures = {key: pool.submit(_probe, tmp, *job) for key, job in jobs.items()}
        results = {key: future.result() for key, future in futures.items()}
    return {key: (summary, _judged_right(found)) for key, (summary, found) in results.items()}


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_probe_finds_the_library_s_answers_where_they_are_not_withheld(probes) -> None:  # noqa: ANN001
    summary, right = probes["control"]
    assert summary["candidates"] > 500 and not summary["import_failed"], summary
    for expected in ("ch05.softmax: gradbook.activations.softmax", "ch01.to_categorical: gradbook.utils.to_categorical",
                     "ch04.relative_error: gradbook.reference.gradcheck.relative_error",
                     "ch03.perceptron_predict: gradbook.widgets.perceptron.step_rule",
                     "ch05.categorical_crossentropy: gradbook.losses.categorical_crossentropy"):
        assert expected in right, right


@pytest.mark.slow
@pytest.mark.sandbox
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_code_in_a_chapter_s_grading_sandbox_is_its_answer(chapter: str, probes) -> None:  # noqa: ANN001
    summary, right = probes[chapter]
    assert summary["candidates"] > 500 and not summary["import_failed"], summary  # every module was searched
    assert summary["bytecode"] == [], summary  # no .pyc, no other copy of the package
    assert right == [], right


class _Runner:
    """A stand-in for a warm pool's runner, started for `chapters`."""

    def __init__(self, chapters: tuple[str, ...]) -> None:
        self.chapters, self.sandboxed, self.events, self.stopped, self.asked = chapters, True, [], None, []
        self.stop: Stop | None = None  # how it stopped (process.Stop), as the real runner says it

    def __enter__(self) -> "_Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def refuse(self, reason: str) -> None:
        self.stopped, self.stop = reason, Stop.UNAVAILABLE
        self.events.append(reason)

    def request(self, message: dict, answers: object, what: str) -> tuple[dict | None, str]:
        if self.stopped:
            return None, "not run"
        self.asked.append(message)
        return {"type": "done", "status": "ok", "outputs": []}, "ok"


def test_a_runner_started_for_another_chapter_is_refused() -> None:
    nb = new_notebook(cells=[new_code_cell("x = 1")])
    wrong = _Runner(("ch02",))
    run = run_notebook(nb, LIMITS, runners=lambda deadline: wrong, chapters=("ch05",))
    assert wrong.asked == [] and run.cells[0].status == "not run", run
    assert any("started for ('ch02',)" in e for e in run.events), run.events
    right = _Runner(("ch05",))
    assert run_notebook(nb, LIMITS, runners=lambda deadline: right, chapters=("ch05",)).cells[0].status == "ok"


def test_the_grader_asks_for_the_chapters_its_manifest_checks() -> None:
    from gradbook_grader.types import Manifest, Question

    manifest = Manifest(expected={"t1": [Question("ch05.softmax", "softmax", False)],
                                  "t2": [Question("ch05.log_softmax", "f", True), Question("ch04.forward", "g", False)]})
    assert answers.chapters_graded(manifest) == ("ch04", "ch05")
    assert answers.chapters_graded(Manifest()) == ()
