"""Chapters 6-8: the solution notebooks run and learn (their untouched student versions fail every graded
cell in test_student_edition.py, which runs every chapter as students receive it), and the
chapters' reference answers agree with independent sources (torch.optim, torch's conv2d
and max-pool with autograd, torch autograd on random expressions, central differences).

test_check_seeds.py proves, for every exercise, that the reference passes and every Mistake is
rejected with its hint; test_chapters_00_02.py that each exercise is graded once in its notebook.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from notebook_helpers import assert_solution_runs_and_learns

from gradbook.checks import ch06, ch07, ch08
from gradbook.checks import registry
from gradbook.checks.core import Case

# What each notebook reached (an expression evaluated in its kernel at the end), and the least it must reach.
ACCURACIES = {
    "ch06": {"min(accuracies.values())": 0.8},
    "ch07": {"numpy_accuracy": 0.85, "min(engine_accuracies.values())": 0.85},
    "ch08": {"accuracy": 0.97},
}
NOTEBOOKS = {key: registry.chapter(key).notebook for key in ACCURACIES}  # the registry's notebook names


@pytest.mark.slow
@pytest.mark.parametrize("chapter", sorted(NOTEBOOKS))
def test_solution_notebook_runs_and_learns(chapter: str, record_property) -> None:
    assert_solution_runs_and_learns(NOTEBOOKS[chapter], ACCURACIES[chapter], record_property)


# --- chapter 6: the optimisers against torch.optim -------------------------------------------


def _torch_trajectory(make_optimizer, case: Case) -> np.ndarray:
    """`ch06.run_optimizer` with a torch.optim optimiser: same loss, gradients set by hand."""
    import torch

    starts, curvatures, targets, steps = case.args
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in starts]
    optimizer = make_optimizer(params)
    path = []
    for _ in range(steps):
        for p, c, t in zip(params, curvatures, targets):
            p.grad = torch.tensor(c * (p.detach().numpy() - t))
        optimizer.step()
        path.append(np.concatenate([p.detach().numpy().ravel() for p in params]))
    return np.array(path)


def _torch_optimizer(name: str, kwargs: dict):
    import torch

    if name == "sgd":
        return lambda ps: torch.optim.SGD(ps, lr=kwargs["lr"])
    if name == "momentum":
        return lambda ps: torch.optim.SGD(ps, lr=kwargs["lr"], momentum=kwargs["beta"])
    if name == "rmsprop":
        return lambda ps: torch.optim.RMSprop(ps, lr=kwargs["lr"], alpha=kwargs["rho"], eps=kwargs["eps"])
    return lambda ps: torch.optim.Adam(ps, lr=kwargs["lr"], betas=(kwargs["beta_1"], kwargs["beta_2"]), eps=kwargs["eps"])


@pytest.mark.parametrize("name", ["sgd", "momentum", "rmsprop", "adam"])
@pytest.mark.parametrize("hidden", [False, True])
def test_ch06_optimizers_agree_with_torch_optim(name: str, hidden: bool) -> None:
    pytest.importorskip("torch")
    exercise = getattr(ch06, name)
    for case in exercise.make_cases(3, hidden):
        ours = ch06.run_optimizer(exercise.reference, case)
        theirs = _torch_trajectory(_torch_optimizer(name, case.kwargs), case)
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12, err_msg=case.describe())
        assert not np.allclose(ours[0], ours[-1]), "the parameters must move"


def test_ch06_adam_first_step_has_the_size_of_the_learning_rate() -> None:
    """With bias correction, Adam's first step is lr * sign(g) (up to eps), whatever |g| is."""
    adam = ch06.Adam(lr=0.1)
    w = [np.array([1.0, -2.0, 3.0])]
    adam.step(w, [np.array([1e-2, -50.0, 7.0])])
    np.testing.assert_allclose(w[0], [0.9, -1.9, 2.9], rtol=1e-5)


def test_ch06_gradient_descent_on_the_bowl_matches_the_closed_form() -> None:
    bowl = ch06.surfaces.bowl
    lr, steps = 0.05, 12
    path = ch06.gradient_descent.reference(bowl.grad, np.array(bowl.start), lr, steps)
    k = np.arange(steps + 1)
    x0, y0 = bowl.start
    np.testing.assert_allclose(path[:, 0], x0 * (1 - lr) ** k)
    np.testing.assert_allclose(path[:, 1], y0 * (1 - lr * ch06.surfaces.BOWL_CONDITION) ** k)


def test_ch06_minibatches_reference_partitions_and_reshuffles() -> None:
    rng = np.random.default_rng(5)
    first, second = (ch06.minibatches.reference(103, 25, rng) for _ in range(2))
    assert [len(b) for b in first] == [25, 25, 25, 25, 3]
    np.testing.assert_array_equal(np.sort(np.concatenate(first)), np.arange(103))
    assert not np.array_equal(np.concatenate(first), np.concatenate(second))


# --- chapter 7: convolution and pooling against torch ----------------------------------------


def _conv_case(seed: int, xs, ws, stride: int, pad: int):
    rng = np.random.default_rng(seed)
    return rng.normal(size=xs), rng.normal(size=ws), rng.normal(size=ws[0]), stride, pad


CONV_SETTINGS = [((2, 3, 7, 6), (4, 3, 3, 3), 1, 1), ((3, 2, 9, 8), (5, 2, 3, 2), 2, 2), ((1, 1, 5, 5), (2, 1, 5, 5), 1, 0)]


@pytest.mark.parametrize(("xs", "ws", "stride", "pad"), CONV_SETTINGS)
def test_ch07_conv_forward_and_backward_agree_with_torch(xs, ws, stride, pad) -> None:
    torch = pytest.importorskip("torch")
    x, W, b, stride, pad = _conv_case(0, xs, ws, stride, pad)
    out = ch07.conv2d_forward.reference(x, W, b, stride, pad)
    np.testing.assert_allclose(ch07.conv2d_naive.reference(x, W, b, stride, pad), out, rtol=1e-10, atol=1e-12)

    tx, tW, tb = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    t_out = torch.nn.functional.conv2d(tx, tW, tb, stride=stride, padding=pad)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=1e-10, atol=1e-12)

    dout = np.random.default_rng(1).normal(size=out.shape)
    t_out.backward(torch.tensor(dout))
    dx, dW, db = ch07.conv2d_backward.reference(dout, x, W, stride, pad)
    for ours, theirs in ((dx, tx), (dW, tW), (db, tb)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_ch07_col2im_is_the_adjoint_of_im2col() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 3, 7, 6))
    cols = ch07.im2col.reference(x, 3, 2, 2, 1)
    c = rng.normal(size=cols.shape)
    assert np.sum(cols * c) == pytest.approx(np.sum(x * ch07.col2im(c, x.shape, 3, 2, 2, 1)), rel=1e-12)


@pytest.mark.parametrize(("xs", "size", "stride"), [((2, 3, 8, 8), 2, 2), ((2, 2, 9, 7), 3, 2), ((1, 2, 6, 6), 3, 3)])
def test_ch07_maxpool_agrees_with_torch_on_tied_inputs(xs, size: int, stride: int) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = ch07.tied_images(rng, xs)
    out = ch07.maxpool_forward.reference(x, size, stride)
    tx = torch.tensor(x, requires_grad=True)
    t_out = torch.nn.functional.max_pool2d(tx, size, stride)
    np.testing.assert_array_equal(out, t_out.detach().numpy())

    dout = rng.normal(size=out.shape)
    t_out.backward(torch.tensor(dout))
    dx = ch07.maxpool_backward.reference(dout, x, size, stride)
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-12, atol=1e-15)
    # the inputs really are tied, so the every-tied-cell mistake differs from torch here
    assert not np.allclose(ch07.answers._pool_back_every_tie(dout, x, size, stride), dx)


# --- chapter 8: the reference autograd against torch autograd --------------------------------


def _torch_leaf(v: float):
    import torch

    return torch.tensor(v, dtype=torch.float64, requires_grad=True)


def _torch_grads(leaves, program) -> tuple[float, np.ndarray]:
    nodes = ch08.build(_torch_leaf, leaves, program)
    nodes[-1].backward()
    grads = [0.0 if n.grad is None else n.grad.item() for n in nodes[: len(leaves)]]
    return nodes[-1].item(), np.array(grads)


@pytest.mark.parametrize("seed", range(12))
def test_ch08_reference_value_agrees_with_torch_on_random_expressions(seed: int) -> None:
    pytest.importorskip("torch")
    rng = np.random.default_rng(seed)
    leaves, program = ch08.random_program(rng, n_leaves=int(rng.integers(2, 5)), n_ops=int(rng.integers(10, 40)))
    nodes = ch08.build(ch08.Value, leaves, program)
    nodes[-1].backward()
    value, grads = _torch_grads(leaves, program)
    assert nodes[-1].data == pytest.approx(value, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose([n.grad for n in nodes[: len(leaves)]], grads, rtol=1e-9, atol=1e-12)
    assert np.all(grads != 0), "random_program draws expressions that depend on every input"


@pytest.mark.parametrize("label", [label for label, _, _ in ch08.SMALL_PROGRAMS])
def test_ch08_reference_value_agrees_with_torch_on_the_diamonds(label: str) -> None:
    pytest.importorskip("torch")
    _, leaves, program = next(p for p in ch08.SMALL_PROGRAMS if p[0] == label)
    nodes = ch08.build(ch08.Value, leaves, program)
    nodes[-1].backward()
    _, grads = _torch_grads(leaves, program)
    np.testing.assert_allclose([n.grad for n in nodes[: len(leaves)]], grads, rtol=1e-12)


def test_ch08_reference_handles_a_chain_of_10000_nodes() -> None:
    pytest.importorskip("torch")
    leaves, program = ch08.chain_program(3_400)
    assert len(program) >= 10_000
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # the reference must not recurse at all
    try:
        nodes = ch08.build(ch08.Value, leaves, program)
        nodes[-1].backward()
        order = ch08.topological_order.reference(nodes[-1])
    finally:
        sys.setrecursionlimit(limit)
    listed = {id(node) for node in order}
    assert len(listed) == len(order) and all(id(node) in listed for node in nodes) and order[-1] is nodes[-1]
    value, grads = _torch_grads(leaves, program)
    assert nodes[-1].data == pytest.approx(value, rel=1e-12)
    assert nodes[0].grad == pytest.approx(grads[0], rel=1e-9)
    # and the recursive search is caught there, whatever the recursion limit
    assert ch08.run_topological_order(ch08.answers._topo_recursive, ch08.graph_case(leaves, program)) == ch08.RECURSIVE


def test_ch08_derivative_reference_agrees_with_central_differences() -> None:
    h = 1e-6
    rng = np.random.default_rng(4)
    for expr, var in ch08.EXPRESSIONS + ch08.HIDDEN_EXPRESSIONS:
        d = ch08.derivative.reference(expr, var)
        for x, y in rng.uniform(0.5, 1.5, size=(3, 2)):
            env = {"x": float(x), "y": float(y)}
            plus, minus = dict(env), dict(env)
            plus[var] += h
            minus[var] -= h
            numeric = (ch08.evaluate(expr, plus) - ch08.evaluate(expr, minus)) / (2 * h)
            assert ch08.evaluate(d, env) == pytest.approx(numeric, rel=1e-6, abs=1e-8), (expr, var, env)


# --- the custom comparisons accept every right answer, not just the reference's ---------------


def _verdict(exercise, student, hidden: bool):
    from gradbook.checks.core import collect, judge

    return judge(exercise, collect(exercise, student, seed=1 if hidden else 0, hidden=hidden))


@pytest.mark.parametrize("hidden", [False, True])
def test_ch06_minibatches_accepts_any_valid_shuffle(hidden: bool) -> None:
    def shuffled_differently(n, batch_size, rng):
        order = np.arange(n)
        rng.shuffle(order)
        return np.array_split(order, range(batch_size, n, batch_size))

    assert _verdict(ch06.minibatches, shuffled_differently, hidden).passed


@pytest.mark.parametrize("hidden", [False, True])
def test_ch08_topological_order_accepts_any_valid_order(hidden: bool) -> None:
    from test_check_seeds import _topological_order_last_child_first as last_child_first

    cases = ch08.topological_order.make_cases(0, hidden)
    assert any(ch08.run_topological_order(last_child_first, c) != ch08.run_topological_order(ch08.topological_order.reference, c)
               for c in cases), "the alternative order must really differ somewhere"
    assert _verdict(ch08.topological_order, last_child_first, hidden).passed


def test_a_pool_sized_h_over_stride_fails_the_visible_check() -> None:
    """H // stride windows (the last ones past the edge, which numpy's slice quietly shortens) equal (H - size) // stride
    + 1 on most shapes: a visible case must tell them apart, or a ✔ would be followed by a failing grade."""
    def maxpool(x, size=2, stride=2):  # noqa: ANN001, ANN202
        N, C, H, W = x.shape
        return np.array([[[[x[n, c, i * stride:i * stride + size, j * stride:j * stride + size].max()
                            for j in range(W // stride)] for i in range(H // stride)] for c in range(C)] for n in range(N)])

    verdict = _verdict(ch07.maxpool_forward, maxpool, hidden=False)
    assert not verdict.passed and "(H - size) // stride + 1, not H // stride" in verdict.message, verdict.message


def test_an_optimiser_that_scales_the_gradients_in_place_is_rejected() -> None:
    """The gradients are the caller's: `g *= lr` changes them (a loop that logs or clips them reads changed ones)."""
    class SGD:
        def __init__(self, lr=0.01):  # noqa: ANN001, ANN204
            self.lr = lr

        def step(self, params, grads):  # noqa: ANN001, ANN202
            for p, g in zip(params, grads):
                g *= self.lr
                p -= g

    verdict = _verdict(ch06.sgd, SGD, hidden=False)
    assert not verdict.passed and "read-only" in verdict.message, verdict.message
