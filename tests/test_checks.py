"""Every exercise in every chapter: the stub fails, and each has a plausible mistake (each mistake, and the
reference, are judged on every seed in test_check_seeds.py); the core's diagnoses, its plain data, and how a
verdict is shown."""

from __future__ import annotations

import os
import numpy as np
import pytest

from gradbook.checks import REGISTRY, Case, CheckFailed, Exercise, Mistake, collect, judge, load_all
from gradbook.checks import plain
from gradbook.checks.core import NOT_IMPLEMENTED

EXERCISES = load_all()
NAMES = sorted(EXERCISES)


def stub(*args, **kwargs):
    raise NotImplementedError()


def verdict_of(exercise: Exercise, student, hidden: bool = False):
    observation = collect(exercise, student, seed=1 if hidden else 0, hidden=hidden)
    return judge(exercise, plain.loads(plain.dumps(observation)))


@pytest.mark.parametrize("name", NAMES)
def test_stub_fails_with_not_implemented(name: str) -> None:
    exercise = EXERCISES[name]
    verdict = verdict_of(exercise, stub)
    assert not verdict.passed
    assert NOT_IMPLEMENTED in verdict.message


@pytest.mark.parametrize("name", NAMES)
def test_has_a_plausible_mistake(name: str) -> None:
    assert EXERCISES[name].mistakes, f"{name} needs at least one Mistake (a plausible wrong answer and its hint)"


# The core itself, on an exercise defined here.
def _relu_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    return [Case((np.array([-1.0, 0.0, 2.0]),)), Case((rng.normal(size=(3, 4)),))]


RELU = Exercise(
    "test.relu",
    reference=lambda x: np.maximum(x, 0),
    cases=_relu_cases,
    mistakes=[Mistake(lambda x: np.maximum(x, 1), "compared with 1 instead of 0")],
)
REGISTRY.pop("test.relu")  # keep the chapter registry to real exercises


def _in_place(x: np.ndarray) -> np.ndarray:
    x[x < 0] = 0
    return x


@pytest.mark.parametrize(
    ("student", "phrase"),
    [
        (lambda x: None, "forget the `return`"),
        (lambda x: np.maximum(x, 0).T, "transposed"),
        (_in_place, "changed its input array in place"),
        (lambda x: -np.maximum(x, 0), "opposite sign"),
        (lambda x: object(), "returned <object>"),
        (lambda x: np.exp(np.maximum(x, 0) * 1e6), "overflow"),
        (lambda x: np.maximum(x, 1), "compared with 1 instead of 0"),
        (lambda x: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_core_diagnoses(student, phrase: str) -> None:
    with np.errstate(over="ignore"):
        verdict = verdict_of(RELU, student)
    assert not verdict.passed
    assert phrase in verdict.message


def test_objects_that_claim_equality_do_not_pass() -> None:
    class Liar(np.ndarray):
        def __eq__(self, other):  # noqa: D105
            return True

        def __bool__(self):
            return True

    verdict = verdict_of(RELU, lambda x: np.zeros_like(x).view(Liar))
    assert not verdict.passed


def test_plain_data_never_unpickles() -> None:
    import pickle

    for evil in (pickle.dumps({"x": 1}), b'{"__nd__": ["|O", [1], "AAAAAAAAAAA="]}', b"[" * 10_000):
        with pytest.raises(ValueError):
            plain.loads(evil)


# --- test inputs reach the student's code as copies ------------------------------------------


def _digests(name: str) -> list[str]:
    from gradbook.checks.core import digest

    return [digest((case.args, case.kwargs)) for case in EXERCISES[name].make_cases(0, False)]


def test_an_in_place_answer_cannot_corrupt_the_cases_or_the_message() -> None:
    from gradbook.checks import ch02

    before = _digests("ch02.naive_add")
    square = ch02.SQUARE.copy()

    def add_in_place(x, y):
        for i in range(x.shape[0]):
            for j in range(x.shape[1]):
                x[i, j] += y[i, j]
        return x

    verdict = verdict_of(EXERCISES["ch02.naive_add"], add_in_place)
    assert not verdict.passed and "changed its input array in place" in verdict.message
    assert "the values are right, but" in verdict.message  # judged against the inputs as given
    assert f"  x        = {np.array2string(square, separator=', ').splitlines()[0]}" in verdict.message
    assert _digests("ch02.naive_add") == before and np.array_equal(ch02.SQUARE, square)
    assert verdict_of(EXERCISES["ch02.naive_transpose"], ch02.answers._naive_transpose).passed  # later checks see SQUARE

    def softmax_in_place(z):
        z -= np.max(z, axis=-1, keepdims=True)
        np.exp(z, out=z)
        z /= np.sum(z, axis=-1, keepdims=True)
        return z

    before = _digests("ch05.softmax")
    verdict = verdict_of(EXERCISES["ch05.softmax"], softmax_in_place)
    assert not verdict.passed and "changed its input array in place" in verdict.message
    assert _digests("ch05.softmax") == before


def test_an_input_put_back_to_float_rounding_is_unchanged_and_a_changed_value_is_not() -> None:
    """numerical_gradient moves x[i] and puts it back: by arithmetic (+eps, -2 eps, +eps) it can come back an ulp off,
    which changes nothing for the caller; a value left moved by much less than eps itself is still a change."""
    def by_arithmetic(f, x, eps=1e-5):
        grad = np.zeros_like(x, dtype=float)
        for i in np.ndindex(x.shape):
            x[i] += eps
            f_plus = f(x)
            x[i] -= 2 * eps
            f_minus = f(x)
            x[i] += eps
            grad[i] = (f_plus - f_minus) / (2 * eps)
        return grad

    def nudged(f, x, eps=1e-5):
        grad = by_arithmetic(f, x, eps)
        x.flat[0] += 1e-9  # a real change, far below eps, far above rounding
        return grad

    with np.errstate(all="ignore"):
        moved = [np.array(x, dtype=float) for case in EXERCISES["ch04.numerical_gradient"].make_cases(0, False)
                 for x in case.args if isinstance(x, np.ndarray)]
        restored = []
        for x in moved:
            y = x.copy()
            by_arithmetic(lambda v: float(np.sum(v)), y)
            restored.append(np.array_equal(x, y))
    assert not all(restored)  # the arithmetic does leave some x off by a rounding: the test tests something
    assert verdict_of(EXERCISES["ch04.numerical_gradient"], by_arithmetic).passed
    verdict = verdict_of(EXERCISES["ch04.numerical_gradient"], nudged)
    assert not verdict.passed and "changed its input array in place" in verdict.message


# --- what the student sees: a plain terminal, and IPython (JupyterLab's kernel) ----------------

WRONG_RELU = "def naive_relu(x):\n    z = x.copy()\n    for i in range(x.shape[0]):\n        for j in range(x.shape[1]):\n            z[i, j] = abs(x[i, j])\n    return z\n"
RIGHT_RELU = WRONG_RELU.replace("abs(x[i, j])", "max(x[i, j], 0)")


def test_in_a_terminal_a_pass_is_one_line_and_a_failure_raises_the_lesson(capsys) -> None:
    from gradbook.checks import CheckFailed, ch01, ch02

    namespace: dict = {}
    exec(RIGHT_RELU, namespace)
    assert ch02.naive_relu(namespace["naive_relu"]) is None  # no Verdict for a notebook to echo
    assert capsys.readouterr().out == f"\u2714 naive_relu: {len(EXERCISES['ch02.naive_relu'].make_cases(0, False))} cases passed\n"
    ch01.ndims([0, 1, 2, 3])
    assert capsys.readouterr().out == "\u2714 ndims: 1 case passed\n"  # one case, singular

    exec(WRONG_RELU, namespace)
    with pytest.raises(CheckFailed) as failed:
        ch02.naive_relu(namespace["naive_relu"])
    assert isinstance(failed.value, AssertionError)  # nbgrader and plain asserts see a failure
    assert str(failed.value) == verdict_of(EXERCISES["ch02.naive_relu"], namespace["naive_relu"]).message
    assert "Hint: this is the absolute value |x|" in str(failed.value)


def test_in_a_python_process_the_failure_is_the_lesson_as_text(tmp_path) -> None:
    import subprocess
    import sys

    script = tmp_path / "student.py"
    script.write_text("from gradbook.checks import ch02 as check\n" + WRONG_RELU + "check.naive_relu(naive_relu)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "CheckFailed: naive_relu is not right yet:" in run.stderr
    assert "  expected = [[1., 0.]," in run.stderr and "Hint: this is the absolute value |x|" in run.stderr


@pytest.fixture
def ipython():
    """An IPython shell in this process, with gradbook's handlers installed as a notebook import would."""
    from IPython.core.interactiveshell import InteractiveShell

    from gradbook.checks import display

    shell = InteractiveShell.instance()
    display.install_in_ipython()
    shell.run_cell("from gradbook.checks import ch02 as check")
    yield shell
    InteractiveShell.clear_instance()


def run_cell(shell, source: str):
    from IPython.utils.capture import capture_output

    with capture_output() as captured:
        result = shell.run_cell(source)
    return result, captured


def test_in_ipython_a_failure_is_a_panel_and_one_line_not_a_traceback(ipython) -> None:
    from gradbook.checks import CheckFailed

    result, captured = run_cell(ipython, WRONG_RELU + "check.naive_relu(naive_relu)")
    assert isinstance(result.error_in_exec, CheckFailed)  # the cell fails
    assert result.result is None
    (panel,) = captured.outputs
    html, text = panel.data["text/html"], panel.data["text/plain"]
    assert 'class="gb-check gb-check-failed"' in html
    assert "\u2718 naive_relu is not right yet:" in html and "<b>Hint:</b> this is the absolute value |x|" in html
    assert "<pre" in html and "expected = [[1., 0.]," in html  # the case, whole
    assert text.startswith("\u2718 naive_relu is not right yet:") and "Hint: this is the absolute value |x|" in text
    assert "\u2718 naive_relu" in captured.stdout and "shown above" in captured.stdout
    assert "Traceback" not in captured.stdout and "core.py" not in captured.stdout and "CheckFailed" not in captured.stdout


def test_in_ipython_a_pass_is_one_line_and_no_verdict_repr(ipython) -> None:
    result, captured = run_cell(ipython, RIGHT_RELU + "check.naive_relu(naive_relu)")
    assert result.success and result.result is None
    assert captured.stdout == f"\u2714 naive_relu: {len(EXERCISES['ch02.naive_relu'].make_cases(0, False))} cases passed\n"
    assert not captured.outputs and "Verdict" not in captured.stdout


def test_in_ipython_a_stub_cell_says_not_implemented_yet_and_fails(ipython) -> None:
    result, captured = run_cell(ipython, "# YOUR CODE HERE\nraise NotImplementedError()")
    assert isinstance(result.error_in_exec, NotImplementedError)
    assert NOT_IMPLEMENTED in captured.stdout and "Traceback" not in captured.stdout

    result, captured = run_cell(ipython, "def relu(x):\n    raise NotImplementedError()\nrelu(1)")
    assert isinstance(result.error_in_exec, NotImplementedError) and NOT_IMPLEMENTED in captured.stdout

    # A NotImplementedError from a library is not the student's stub: its traceback stays.
    result, captured = run_cell(ipython, "import numbers\nnumbers.Complex.real.fget(1.0)")
    assert isinstance(result.error_in_exec, NotImplementedError)
    assert NOT_IMPLEMENTED not in captured.stdout and "numbers.py" in captured.stdout


@pytest.mark.parametrize("allow_stdin, one_line", [(True, True), (False, False), (None, False)])
def test_a_validate_that_leaked_nbgrader_environment_changes_nothing_in_a_notebook(
        ipython, monkeypatch: pytest.MonkeyPatch, allow_stdin: bool | None, one_line: bool) -> None:
    """nbgrader's `setenv` (validate, autograde) has no try/finally: a Validate that raised inside a JupyterLab
    server leaves NBGRADER_EXECUTION set, and every kernel the server starts later inherits it. A notebook's
    kernel (its execute requests allow input) still shows the panel and one line; a headless run (nbclient:
    no input) and a process without a kernel under nbgrader print the whole lesson."""
    from types import SimpleNamespace

    import nbgrader.utils

    with pytest.raises(RuntimeError):  # the leak itself, through nbgrader's own API
        with nbgrader.utils.setenv(NBGRADER_VALIDATING="1", NBGRADER_EXECUTION="validate"):
            raise RuntimeError("a validation that failed")
    assert os.environ.get("NBGRADER_EXECUTION") == "validate"
    if allow_stdin is not None:
        monkeypatch.setattr(ipython, "kernel", SimpleNamespace(_allow_stdin=allow_stdin), raising=False)
    result, captured = run_cell(ipython, WRONG_RELU + "check.naive_relu(naive_relu)")
    assert isinstance(result.error_in_exec, CheckFailed)
    assert ("shown above" in captured.stdout) is one_line
    assert ("Hint: this is the absolute value |x|" in captured.stdout) is not one_line


def test_a_sequence_returned_as_an_array_is_judged_on_its_items_and_its_length() -> None:
    """The judge asks an answer for the reference's tuples and lists (a forged shorter one passed a compare that
    zips); an array of as many items is a sequence too: chapter 0's `train` returning its losses as
    np.array(losses) is right, one loss short (or one too many) is not, as an array or as a list."""
    train = EXERCISES["ch00.train"]

    def reference(x, y, lr, steps):
        return train.reference(x, y, lr, steps)

    def as_array(x, y, lr, steps):
        w, b, losses = reference(x, y, lr, steps)
        return w, b, np.array(losses)

    assert verdict_of(train, reference).passed
    assert verdict_of(train, as_array).passed, verdict_of(train, as_array).message
    for cut in (lambda losses: np.array(losses[:-1]), lambda losses: list(losses) + [0.0]):
        verdict = verdict_of(train, lambda x, y, lr, steps, cut=cut: (*reference(x, y, lr, steps)[:2],
                                                                      cut(reference(x, y, lr, steps)[2])))
        assert not verdict.passed
