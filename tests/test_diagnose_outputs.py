"""Messages that say where an answer is wrong in the exercise's own terms (issue 25): chapter 8's graphs by their
nodes' names (a topological order's violated dependency, every wrong gradient, where gradients first go wrong
counting back from the output), chapters 1-5's arrays by what their axes count ("sample 3, hidden unit 2"), and
a part's name said the same way in every language. The wrong answers are written here as a student would; what
each message must name is worked out here from the graph, the arrays or by hand, not copied from a message."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from gradbook.checks import load_all, plain
from gradbook.checks.core import _compare, collect, judge
from gradbook.i18n import using
from gradbook.checks.meaning import Axis, Output, where

EXERCISES = load_all()
ch08 = EXERCISES["ch08.value_ops"].reference.__module__  # the chapter's answers module, by its name
answers8 = __import__(ch08, fromlist=["Value"])


def lesson(name: str, student, language: str = "en") -> str:
    exercise = EXERCISES[name]
    with np.errstate(all="ignore"):
        observation = collect(exercise, student, seed=0, hidden=False)
    verdict = judge(exercise, plain.loads(plain.dumps(observation)), language)
    assert not verdict.passed, f"{name}: a wrong answer passed"
    return verdict.message


def problem(name: str, student, label: str, language: str = "en") -> str:
    """What the check says is wrong on one visible case (chapter 8's visible cases end with a 10,000-operation
    chain, seconds to run: the cases named here are the small ones)."""
    exercise = EXERCISES[name]
    case = next(c for c in exercise.make_cases(0, False) if c.label.startswith(label))
    with using(language):
        return _compare(exercise)(exercise.answer(exercise.reference, case), exercise.answer(student, case), case) or ""


# --- chapter 8: nodes by name ----------------------------------------------------------------


def _preorder(root):  # parents before their inputs: a node listed as soon as it is reached
    order, seen, stack = [], {id(root)}, [root]
    while stack:
        node = stack.pop()
        order.append(node)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return order


def test_a_topological_order_names_the_dependency_it_breaks() -> None:
    # The first case is x * x with x = 1.5: nodes x0 and v1 = x0 * x0, and a pre-order lists v1 first.
    message = problem("ch08.topological_order", _preorder, "x * x")
    assert "v1 (v1 = x0 * x0) comes before x0, which it is computed from" in message
    assert "at position 0, its input at 1" in message
    assert "index" not in message and "node 1" not in message
    chinese = problem("ch08.topological_order", _preorder, "x * x", "zh_CN")
    assert "v1 (v1 = x0 * x0) 排在了计算它所用的 x0 之前" in chinese


def test_nodes_made_inside_a_result_are_named_by_what_they_compute() -> None:
    # a - b is a + (-b): the graph has a node -b = b * -1 that the program never named
    graph = answers8.plain_graph([2.0, 0.5], [("sub", 0, 1)])
    names = [answers8.graph_node(graph, k) for k in range(len(graph["data"]))]
    assert names[-1] == "v2 (v2 = x0 - x1)"
    assert {"x0", "x1"} <= set(names)
    hidden = [n for n in names if "inside" in n]
    assert hidden and all(n.endswith("(inside v2 (v2 = x0 - x1))") for n in hidden)
    assert any(n.startswith("(x1 * -1)") for n in hidden), names


class _ExpRuleWrong(answers8.Value):
    """exp's rule sends x's own value, not exp(x), back: d exp(x) / dx taken as x."""

    def exp(self):
        out = _ExpRuleWrong(math.exp(self.data), (self,), "exp")

        def _backward() -> None:
            self.grad += self.data * out.grad

        out._backward = _backward
        return out


def test_local_gradients_point_at_the_operation_whose_rule_is_wrong() -> None:
    exercise = EXERCISES["ch08.local_gradients"]
    for case in exercise.make_cases(0, False):
        leaves, program = case.args
        right = exercise.answer(exercise.reference, case)
        wrong = exercise.answer(_ExpRuleWrong, case)
        if np.allclose(right, wrong):
            continue
        # Worked out here: the wrong result nearest the output; what it feeds must include an exp.
        bad = max(i for i in range(len(right)) if not np.isclose(right[i], wrong[i]))
        names = answers8.node_names(leaves, program)
        users = [names[len(leaves) + j] for j, (op, *args) in enumerate(program)
                 if bad in (args if op not in ("radd", "rmul", "rsub", "rdiv") else args[1:])]
        assert any(".exp()" in u for u in users), (names[bad], users)
    message = lesson("ch08.local_gradients", _ExpRuleWrong)
    users = message.split("every result computed from")[1].split("has the right gradient")[0]
    assert ".exp()" in users and "Wrong at: " in message, message


def _backward_forwards(self) -> None:
    """The rules called in topological order, leaves first: a node's rule runs before its gradient is complete."""
    order = answers8._topological_order(self)
    self.grad = 1.0
    for node in order:
        node._backward()


def test_backward_lists_every_wrong_node_and_where_it_first_goes_wrong() -> None:
    exercise = EXERCISES["ch08.backward"]
    case = next(c for c in exercise.make_cases(0, False) if c.label.startswith("a diamond"))
    right, got = exercise.answer(exercise.reference, case), exercise.answer(_backward_forwards, case)
    names = list(case.args[0]["results"])
    wrong = [names[i] for i in range(len(names)) if not np.isclose(right[i], got[i])]
    message = problem("ch08.backward", _backward_forwards, "a diamond")
    assert "Wrong at: " + ", ".join(wrong) + "." in message, (wrong, message)
    # the diamond y = x * 2; z = (y + 1) * (y * y): y (v1) is the wrong result nearest the output, used by v2, v3
    assert "the first wrong gradient is at v1 (v1 = x0 * 2)" in message
    assert "(v2 (v2 = v1 + 1), v3 (v3 = v1 * v1))" in message


# --- chapters 1-5: axes --------------------------------------------------------------------


def test_a_forward_cache_says_which_sample_and_unit() -> None:
    exercise = EXERCISES["ch04.forward"]
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731

    def forward_tanh(X, params):  # tanh where the network has a sigmoid
        a1 = np.tanh(X @ params["W1"] + params["b1"])
        Z2 = a1 @ params["W2"] + params["b2"]
        return sig(Z2), {"Z1": X @ params["W1"] + params["b1"], "a1": a1, "Z2": Z2, "a2": sig(Z2)}

    X, params = exercise.make_cases(0, False)[0].args
    right = exercise.reference(X, params)[1]["a1"]
    got = forward_tanh(X, params)[1]["a1"]
    sample, unit = np.unravel_index(np.argmax(np.abs(right - got)), right.shape)
    # The cache is compared in the order it is computed: the first wrong part (a1, the hidden layer) is named, not
    # the output every later part inherits the mistake into.
    message = lesson("ch04.forward", forward_tanh)
    assert "`a1`:" in message and f"at sample {sample}, hidden unit {unit}:" in message, message
    assert "index" not in message and "`a2`" not in message
    chinese = lesson("ch04.forward", forward_tanh, "zh_CN")
    assert f"第 {sample} 个样本、第 {unit} 个隐藏单元" in chinese


def test_one_sample_has_only_its_last_axis() -> None:
    classes = Output(axes=(Axis("samples"), Axis("classes")), last=True)
    assert where(classes, (2,)) == "class 2"
    assert where(classes, (1, 2)) == "sample 1, class 2"
    assert where(Output(axes=(Axis("samples"), Axis("classes"))), (2,)) == "sample 2"


def test_a_dense_layer_names_samples_and_units() -> None:
    def dense_first_unit_off(a_in, W, b, g):  # right on one sample; on a batch, unit 0 has no bias
        out = g(a_in @ W + b)
        if out.ndim == 2:
            out[:, 0] = g(a_in @ W + b)[:, 0] - g(a_in @ W + b)[:, 0] + g(a_in @ W)[:, 0]
        return out

    message = lesson("ch03.dense", dense_first_unit_off)
    assert ", unit 0:" in message and "sample " in message and "index" not in message, message


def test_a_part_is_named_the_same_way_in_every_language() -> None:
    def gradients_summed(w, b, x, y):  # sum where the mean belongs
        error = w * x + b - y
        return float(2 * np.sum(error * x)), float(2 * np.sum(error))

    assert lesson("ch00.gradients", gradients_summed).splitlines()[1].startswith("`dw`: ")
    chinese = lesson("ch00.gradients", gradients_summed, "zh_CN")
    assert chinese.splitlines()[1].startswith("`dw`：")
    assert "而 3 是 `x` 的长度" in chinese  # the lead's size, set off from the Chinese around it
    assert not re.search(r"[\u3400-\u9fff]`|`[\u3400-\u9fff]", chinese), chinese

    def train_lr_ignored(X, y, epochs=10, lr=1.0):  # perceptron: the learning rate never used
        w, b, errors = np.zeros(X.shape[1]), 0.0, []
        for _ in range(epochs):
            wrong = 0
            for xi, target in zip(X, y):
                update = target - int(xi @ w + b >= 0)
                w, b, wrong = w + update * xi, b + update, wrong + int(update != 0)
            errors.append(wrong)
        return w, b, errors

    chinese = lesson("ch03.perceptron_train", train_lr_ignored, "zh_CN")
    assert "`权重`：" in chinese and "权重:" not in chinese


def test_one_hot_rows_are_samples_and_columns_classes() -> None:
    def reversed_classes(labels, num_classes):
        out = np.zeros((len(labels), num_classes), dtype=np.float32)
        out[np.arange(len(labels)), num_classes - 1 - np.asarray(labels)] = 1
        return out

    message = lesson("ch01.to_categorical", reversed_classes)
    assert "at sample " in message and ", class " in message and "index" not in message


@pytest.mark.parametrize("name", ["ch05.multilabel_predict"])
def test_a_probability_of_exactly_the_threshold_is_not_above_it(name: str) -> None:
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    message = lesson(name, lambda logits, threshold=0.5: (sig(logits) >= threshold).astype(int))
    assert "exactly 0.5" in message
