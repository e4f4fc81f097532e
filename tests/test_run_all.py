"""Run All on an untouched chapter: it goes past unfinished exercises, stops at real errors, and
the demos stand in the library's answer for the student's unfinished one, saying so.

The kernel behaviour is checked with nbclient, which stops at the first cell whose reply is an
error, exactly as JupyterLab's Run All does (test_browser.py does it in JupyterLab itself);
nbgrader's own Validator is the independent judge that failing check cells still fail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient.exceptions import CellExecutionError
from nbformat.v4 import new_code_cell, new_notebook
from notebook_helpers import errors, execute, graded_cells, output_text

from gradbook.checks import ch00, ch01, ch03, ch06
from gradbook.notebook import is_check_cell, is_unfinished_exercise_error, unfinished, yours

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- what counts as unfinished


def stub(x):
    # YOUR CODE HERE
    raise NotImplementedError()


def done(x):
    return 2 * x


def nested_stub(x):
    return [(lambda: (_ for _ in ()).throw(NotImplementedError()))() for _ in x]


class StubOptimizer:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        raise NotImplementedError()


class DoneOptimizer:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p -= self.lr * g


def test_unfinished_recognises_the_notebook_stubs() -> None:
    assert unfinished(stub) == "it still raises NotImplementedError"
    assert unfinished(nested_stub) == "it still raises NotImplementedError"  # inside a lambda in a comprehension
    assert unfinished(StubOptimizer) == "`StubOptimizer.step` still raises NotImplementedError"
    assert unfinished(None) == "still None"
    assert unfinished((np.ones(2), None)) == "still None"
    assert unfinished({"spam or not": "sigmoid", "house price": None}) == "still None"
    for finished in (done, DoneOptimizer, np.zeros(3), [0, 1, 2], {"a": (1, 2)}, 0, "relu", lambda x: x):
        assert unfinished(finished) is None, finished


def test_unfinished_sees_a_stub_method_patched_onto_a_finished_class() -> None:
    class Value:  # chapter 8 adds backward to its Value class in a later cell
        def __init__(self, data):
            self.data = data

    assert unfinished(Value) is None
    Value.backward = stub
    assert unfinished(Value) == "`Value.backward` still raises NotImplementedError"


def test_yours_returns_the_students_answer_when_done_and_is_silent(capsys) -> None:
    namespace = {"train": done, "SGD": DoneOptimizer}
    assert yours("train", ch00.train, namespace) is done
    assert yours("SGD", ch06.sgd, namespace) is DoneOptimizer
    assert capsys.readouterr().out == ""


def test_yours_stands_in_the_reference_and_says_so_in_one_line(capsys) -> None:
    namespace = {"train": stub, "SGD": StubOptimizer}
    assert yours("train", ch00.train, namespace) is ch00.train.reference
    assert yours("SGD", ch06.sgd, namespace) is ch06.sgd.reference
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "your `train` isn't done yet (it still raises NotImplementedError)" in lines[0]
    assert "exercise `train`" in lines[0] and "run this cell again" in lines[0]
    assert "your `SGD` isn't done yet (`StubOptimizer.step` still raises NotImplementedError)" in lines[1]
    assert namespace == {"train": stub, "SGD": StubOptimizer}  # the student's names are never rebound


def test_yours_for_value_exercises_gives_the_value(capsys) -> None:
    # ch01's stubs raise before assigning: the name is missing. ch03's leave the weights None.
    assert yours("ndims", ch01.ndims, {}) == ch01.ndims.reference() == [0, 1, 2, 3]
    names = ("W1_xor", "b1_xor", "W2_xor", "b2_xor")
    weights = yours(names, ch03.xor_weights, dict.fromkeys(names))
    for got, expected in zip(weights, ch03.hand_xor_weights()):
        np.testing.assert_array_equal(got, expected)
    out = capsys.readouterr().out
    assert "your `ndims` isn't done yet (not defined yet)" in out
    assert "your `W1_xor`, `b1_xor`, `W2_xor`, `b2_xor` isn't done yet (still None)" in out
    mine = {n: np.zeros(1) for n in names}
    assert yours(names, ch03.xor_weights, mine) == tuple(mine.values())


def test_yours_reads_the_callers_globals_by_default() -> None:
    assert yours("done", ch00.train) is done  # this module's own function


def test_check_cells_and_unfinished_errors() -> None:
    check = "from gradbook.checks import ch05 as check\ncheck.softmax(softmax)\n"
    assert is_check_cell(check) and is_check_cell("\n# the visible checks\n" + check)
    assert not is_check_cell("import numpy as np\nfrom gradbook.checks import ch05 as check\n")
    assert is_unfinished_exercise_error(AssertionError("wrong shape"), check)
    assert is_unfinished_exercise_error(NameError("name 'ndims' is not defined"), check)
    assert is_unfinished_exercise_error(NotImplementedError(), "ndims = None\nraise NotImplementedError()")
    assert not is_unfinished_exercise_error(NameError("x"), "print(x)")
    assert not is_unfinished_exercise_error(KeyboardInterrupt(), check)  # an interrupt always stops
    assert not is_unfinished_exercise_error(None, check)


# ---------------------------------------------------------------- in a real kernel


def run_all(cells: list[str]) -> tuple[nbformat.NotebookNode, CellExecutionError | None]:
    """Execute the cells as Run All does (stop at the first error reply); the notebook and that error."""
    nb = new_notebook(cells=[new_code_cell(source) for source in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    try:
        execute(nb, allow_errors=False)
    except CellExecutionError as error:
        return nb, error
    return nb, None


def test_run_all_goes_past_unfinished_exercises_and_stops_at_a_real_error() -> None:
    nb, stopped = run_all([
        "from gradbook.notebook import start_chapter, yours\nstart_chapter()",
        "def softmax(z):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
        "from gradbook.checks import ch05 as check\ncheck.softmax(softmax)",  # a failing check cell
        "ndims = None\nraise NotImplementedError()",  # a value exercise's stub
        "from gradbook.checks import ch05 as check\n"
        "shown = yours('softmax', check.softmax)\nprint('demo:', shown([0.0, 0.0]))",
        "print(undefined_name)",  # a real mistake: Run All stops here
        "print('never reached')",
    ])
    assert stopped is not None and "NameError" in str(stopped)
    check_cell, value_cell, demo, mistake, last = nb.cells[2:]
    assert errors(check_cell) and "not implemented yet" in output_text(check_cell)  # still shown as failing
    assert errors(value_cell)[0].ename == "NotImplementedError"
    demo_text = "".join(out.get("text", "") for out in demo.outputs)
    assert "your `softmax` isn't done yet" in demo_text and "demo: [0.5 0.5]" in demo_text
    assert errors(mistake)[0].ename == "NameError"
    assert not last.get("outputs") and last.get("execution_count") is None


def test_cells_that_use_what_an_unfinished_cell_could_not_make_wait_and_a_typo_still_stops() -> None:
    nb, stopped = run_all([
        "from gradbook.notebook import start_chapter\nstart_chapter()",
        "def train(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()",
        "times = []\nlosses = train([1, 2])\ntimes.append(1.0)",  # a demo that needs train: makes nothing
        "import numpy as np\nbest = np.random.default_rng(0).choice(times)",  # times is empty: a ValueError
        "print(losses[-1])",  # a NameError of what the demo did not make
        "def curve():\n    return best * 2\nshown = curve()",  # waits through another waiting cell
        "times = [2.0]\nprint('made again:', times)",  # made now: no longer waiting
        "print(np.mean(times) + 1)",
        "print(undefined_name)",  # a real mistake: Run All stops here
        "print('never reached')",
    ])
    assert stopped is not None and "undefined_name" in str(stopped)
    demo, empty, name_error, through, remade, fine, mistake, last = nb.cells[2:]
    assert errors(demo)[0].ename == "NotImplementedError"
    for cell, names in ((empty, "`times`"), (name_error, "`losses`"), (through, "`best`")):
        assert errors(cell), cell.source  # the error is still shown, and one line says why Run All went on
        assert f"it uses {names}, which a cell above could not make yet" in output_text(cell), output_text(cell)
    assert errors(empty)[0].ename == "ValueError" and errors(name_error)[0].ename == "NameError"
    assert "made again: [2.0]" in output_text(remade) and "3.0" in output_text(fine)
    assert errors(mistake)[0].ename == "NameError" and "could not make" not in output_text(mistake)
    assert not last.get("outputs") and last.get("execution_count") is None


def test_without_start_chapter_run_all_stops_at_the_first_failing_check() -> None:
    nb, stopped = run_all([
        "def softmax(z):\n    raise NotImplementedError()",
        "from gradbook.checks import ch05 as check\ncheck.softmax(softmax)",
        "print('after')",
    ])
    assert stopped is not None and "softmax" in str(stopped)  # the hook is what changes this
    assert "not implemented yet" in output_text(nb.cells[1])
    assert not nb.cells[2].get("outputs")


def test_start_chapter_twice_registers_one_hook() -> None:
    nb, stopped = run_all([
        "from gradbook.notebook import start_chapter\nstart_chapter()\nstart_chapter()\n"
        "print(sum(c.__name__ == '_keep_going' for c in get_ipython().events.callbacks['post_run_cell']))",
    ])
    assert stopped is None and nb.cells[0].outputs[0].text.strip() == "1"


@pytest.mark.slow
def test_nbgrader_validate_still_fails_every_check_of_an_untouched_chapter(tmp_path: Path) -> None:
    from nbgrader.validator import Validator

    name = "00-what-is-deep-learning.ipynb"
    shutil.copy(ROOT / "notebooks" / name, tmp_path / name)
    result = Validator().validate(str(tmp_path / name))
    student = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    graded = {cell.metadata.nbgrader["grade_id"] for cell in graded_cells(student)}
    failed = {cell["source"].split("\n")[0] for cell in result.get("failed", [])}
    assert graded and len(result["failed"]) == len(graded), result.keys()
    assert all(line.startswith("from gradbook.checks import ch00") for line in failed)


def test_unfinished_follows_the_notebooks_own_functions_it_calls() -> None:
    namespace: dict = {}
    exec(  # noqa: S102 - a notebook's cells, as the kernel runs them: one namespace
        "def predict(w, b, x):\n    raise NotImplementedError()\n"
        "def train(x, y):\n    return [predict(1, 0, v) for v in x]\n"
        "def topological_order(root):\n    raise NotImplementedError()\n"
        "class Value:\n    def __init__(self, data):\n        self.data = data\n"
        "def backward(self):\n    return topological_order(self)\n"
        "Value.backward = backward\n"
        "def uses_numpy(x):\n    return np.mean(x)\nimport numpy as np\n",
        namespace)
    assert unfinished(namespace["train"]) == "`predict` still raises NotImplementedError"
    assert unfinished(namespace["Value"]) == "`topological_order` still raises NotImplementedError"
    assert unfinished(namespace["uses_numpy"]) is None  # library code is never searched
    exec("def predict(w, b, x):\n    return w * x + b\n", namespace)  # the student finishes predict
    assert unfinished(namespace["train"]) is None


def test_offline_mnist_notice_is_one_friendly_line_in_a_chapter(data_dir: Path) -> None:
    nb, stopped = run_all([
        "from gradbook.notebook import start_chapter\nstart_chapter()",
        f"from gradbook.datasets import mnist\n(x_train, y_train), _ = mnist.load_data(data_dir={str(data_dir)!r})\n"
        "print(len(x_train))",
    ])
    assert stopped is None
    outputs = nb.cells[1].outputs
    assert [o.get("name") for o in outputs if o.output_type == "stream"] == ["stdout"] * len(outputs)  # no red
    notice, count = "".join(o.text for o in outputs).splitlines()
    assert int(count) in (4000, 5000)  # the offline digits were used: the notice had something to say
    assert notice.startswith("MNIST: ") and "5,000 real MNIST digits" in notice
    for technical in (str(data_dir), "http", "Errno", "Warning", ".gz", "GRADBOOK_"):
        assert technical not in notice, technical


def test_while_grading_only_cells_that_run_code_needing_what_a_withheld_cell_did_not_make_are_skipped() -> None:
    """A demo cell that reaches a withheld answer (here raised as the sandbox's stub raises it) did not make what it
    binds from the failing line on; a later cell is skipped only if it reads one of those names as it runs. A solution
    cell that only defines functions runs (its parameters are its own names), and a name made again is usable."""
    stub = "from gradbook.withheld import Withheld\nraise Withheld('withheld here', 'gradbook.reference.sequence.LSTMKernel')"
    nb, stopped = run_all([
        "from gradbook.notebook import start_chapter\nstart_chapter()",
        "import numpy as np\nfrom gradbook import layers\nmade_before, filled = 2, {}\n"
        "for name in ['a']:\n    filled[name] = 1\n    " + stub.replace("\n", "\n    ") + "\nmodel = 1\nx = 2",
        "print('before', made_before, np.ones(1))",  # bound before the failing statement, and not in it: made
        "def layer_norm(x, model=None):\n    return np.asarray(x) * 2",  # a solution: params named as the lost names
        "from gradbook import layers\ndef mha(q):\n    return layers.Dense",  # imports what it uses again
        "def train():\n    return model + 1",  # defines code that needs what is missing: runs, train is not usable
        "print('demo', train())",  # skipped
        "print('answer', layer_norm([1.0]), mha(0).__name__)",
        "model = 5\nprint('remade')",
        "print('model + 1 =', model + 1)",
        "print(filled)",  # filled in the failing statement: not made
        "from gradbook.checks.ask import GradedOutside\nfrom gradbook.notebook import yours\n"  # a check while graded
        "attention_fn = yours('attention', GradedOutside('ch10.attention', 'attention'))",  # the exercise unfinished
    ])
    assert stopped is None, stopped
    texts = [output_text(c) for c in nb.cells]
    assert "Not run while grading: it uses the library's `gradbook.reference.sequence.LSTMKernel`" in texts[1]
    assert "before 2 [1.]" in texts[2]
    for solution in (3, 4, 5):
        assert not nb.cells[solution].get("outputs"), texts[solution]
    assert "Not run while grading: it uses `train`" in texts[6]
    assert "answer [2.] Dense" in texts[7] and "model + 1 = 6" in texts[9]
    assert "Not run while grading: it uses `filled`" in texts[10]
    assert "Not run while grading: it uses the library's `gradbook.checks.ch10.attention`" in texts[11], texts[11]
