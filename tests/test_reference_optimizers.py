"""Optimisers of the reference engine: Keras' update formulas by hand, and agreement with torch.optim."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gradbook.reference import optimizers as O

# (ours, torch class name, torch kwargs). Torch puts epsilon elsewhere in RMSprop (sqrt(v) + eps) and
# Adam (added to the bias-corrected sqrt(v)), so those cases use an epsilon of ~0 in both.
CASES = [
    (lambda: O.SGD(0.1), "SGD", {"lr": 0.1}),
    (lambda: O.SGD(0.1, momentum=0.9), "SGD", {"lr": 0.1, "momentum": 0.9}),
    (lambda: O.SGD(0.1, momentum=0.9, nesterov=True), "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (lambda: O.RMSprop(0.01, epsilon=1e-14), "RMSprop", {"lr": 0.01, "alpha": 0.9, "eps": 1e-14}),
    (lambda: O.RMSprop(0.01, rho=0.8, momentum=0.5, epsilon=1e-14), "RMSprop",
     {"lr": 0.01, "alpha": 0.8, "momentum": 0.5, "eps": 1e-14}),
    (lambda: O.Adam(0.01, epsilon=1e-12), "Adam", {"lr": 0.01, "eps": 1e-12}),
    (lambda: O.Adam(0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-12), "Adam",
     {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-12}),
]


@pytest.mark.parametrize("make,torch_name,torch_kwargs", CASES)
def test_steps_match_torch_optim(make, torch_name, torch_kwargs) -> None:
    import torch

    rng = np.random.default_rng(0)
    params = {"layers.0.W": rng.standard_normal((4, 3)), "layers.0.b": rng.standard_normal(3)}
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params.values()]
    topt = getattr(torch.optim, torch_name)(tparams, **torch_kwargs)
    opt = make()
    for _ in range(4):
        grads = {k: rng.standard_normal(p.shape) for k, p in params.items()}
        for tp, g in zip(tparams, grads.values()):
            tp.grad = torch.tensor(g)
        topt.step()
        opt.step(params, grads)
    for p, tp in zip(params.values(), tparams):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-9, atol=1e-12)
    assert opt.iterations == 4


@pytest.mark.parametrize("make,torch_name,torch_kwargs", CASES)
def test_large_parameters_updated_block_by_block_match_torch_optim(make, torch_name, torch_kwargs) -> None:
    """Parameters of several cache-sized blocks (the last one partial), updated on every BLAS thread,
    and a gradient that is a transposed view (updated whole): the same steps as torch.optim."""
    import torch

    rng = np.random.default_rng(1)

    def gradient(*shape: int) -> np.ndarray:  # |g| >= 0.1: where epsilon goes (torch's or Keras') makes no difference
        return rng.uniform(0.1, 2, shape) * rng.choice([-1, 1], shape)

    params = {"W": rng.standard_normal((300, 257)), "V": rng.standard_normal((90, 70)), "b": rng.standard_normal(257)}
    tparams = [torch.tensor(p.copy(), requires_grad=True) for p in params.values()]
    topt = getattr(torch.optim, torch_name)(tparams, **torch_kwargs)
    opt = make()
    for _ in range(3):
        grads = {"W": gradient(300, 257), "V": gradient(70, 90).T, "b": gradient(257)}
        for tp, g in zip(tparams, grads.values()):
            tp.grad = torch.tensor(g)
        topt.step()
        opt.step(params, grads)
    for p, tp in zip(params.values(), tparams):
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-9, atol=1e-10)  # some weights pass near 0


def test_rmsprop_step_by_hand_with_keras_epsilon() -> None:
    p, g = np.array([1.0, -2.0]), np.array([2.0, 0.0])
    O.RMSprop().step({"p": p}, {"p": g})
    # v = 0.1 g^2, p -= 0.001 g / sqrt(v + 1e-7)
    np.testing.assert_allclose(p, [1.0 - 0.001 * 2 / math.sqrt(0.4 + 1e-7), -2.0], rtol=1e-15)


def test_adam_steps_by_hand_with_bias_correction() -> None:
    p, g1, g2 = np.array([0.5]), np.array([3.0]), np.array([-1.0])
    opt = O.Adam()
    opt.step({"p": p}, {"p": g1})
    m, v = 0.1 * 3.0, 0.001 * 9.0
    expected = 0.5 - 0.001 * math.sqrt(1 - 0.999) / (1 - 0.9) * m / (math.sqrt(v) + 1e-7)
    np.testing.assert_allclose(p, [expected], rtol=1e-14)
    opt.step({"p": p}, {"p": g2})
    m, v = 0.9 * m + 0.1 * -1.0, 0.999 * v + 0.001 * 1.0
    expected -= 0.001 * math.sqrt(1 - 0.999**2) / (1 - 0.9**2) * m / (math.sqrt(v) + 1e-7)
    np.testing.assert_allclose(p, [expected], rtol=1e-14)


def test_sgd_momentum_by_hand() -> None:
    p = np.array([1.0])
    opt = O.SGD(learning_rate=0.1, momentum=0.5)
    opt.step({"p": p}, {"p": np.array([1.0])})  # m = -0.1
    opt.step({"p": p}, {"p": np.array([1.0])})  # m = 0.5 * -0.1 - 0.1 = -0.15
    np.testing.assert_allclose(p, [1.0 - 0.1 - 0.15])


def test_keras_defaults_and_strings() -> None:
    assert O.get("rmsprop").get_config() == {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-7}
    assert O.get("adam").get_config() == {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    assert O.get("SGD").get_config() == {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
    opt = O.Adam(0.1)
    assert O.get(opt) is opt
    with pytest.raises(ValueError, match=r"unknown optimizer 'adagrad'; valid optimizers: sgd, rmsprop, adam"):
        O.get("adagrad")


def test_float32_parameters_stay_float32_and_are_updated_in_place() -> None:
    p = np.ones(3, np.float32)
    same = p
    O.Adam().step({"p": p}, {"p": np.ones(3, np.float32)})
    assert same is p and p.dtype == np.float32 and np.all(p < 1)


def test_mismatched_gradients_are_reported() -> None:
    with pytest.raises(ValueError, match=r"gradient of 'w' has shape \(2,\); the parameter has \(3,\)"):
        O.SGD().step({"w": np.zeros(3)}, {"w": np.zeros(2)})
    with pytest.raises(ValueError, match="same keys"):
        O.SGD().step({"w": np.zeros(3)}, {"v": np.zeros(3)})


@pytest.mark.parametrize("make", [lambda: O.RMSprop(), lambda: O.Adam(), lambda: O.SGD(momentum=0.9),
                                  lambda: O.RMSprop(momentum=0.5), lambda: O.SGD(momentum=0.05),
                                  lambda: O.RMSprop(rho=0.2), lambda: O.Adam(beta_1=0.1, beta_2=0.3)])
def test_the_state_of_a_parameter_whose_gradient_stopped_never_turns_subnormal(make) -> None:
    # A dead ReLU unit's weights: one real gradient, then zeros. Their momenta and velocities only decay, and
    # subnormal floats make every later step ~100x slower; the NumPy engine sets them to 0 before that.
    opt, tiny = make(), np.finfo(np.float32).tiny
    params = {"w": np.ones(64, np.float32)}
    opt.step(params, {"w": np.full(64, 0.5, np.float32)})
    zero = {"w": np.zeros(64, np.float32)}
    for step in range(1200):
        opt.step(params, zero)
        for name, state in opt.state["w"].items():
            assert not ((state != 0) & (np.abs(state) < tiny)).any(), f"{name} subnormal at step {step + 2}"
    np.testing.assert_array_equal(params["w"], params["w"][0])  # every weight moved alike, none went astray


@pytest.mark.parametrize("decay", [0.9, 0.999, 0.5, 0.1, 0.01, 1e-4])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_flush_comes_before_decaying_state_turns_subnormal_and_not_much_sooner(decay: float, dtype: str) -> None:
    # Counted in the floats themselves: how many multiplications by ``decay`` take a number just above TINY
    # below the smallest normal float. The flush must come before that (the number is still normal when it is
    # set to 0), and, so that it costs nothing it need not, not much sooner than float32's margin allows.
    from gradbook.reference import numpy_engine

    def steps_to_subnormal(dt: np.dtype) -> int:
        value, factor, steps = dt.type(numpy_engine.TINY[dt] * 1.0001), dt.type(decay), 0
        while value >= np.finfo(dt).tiny:
            value, steps = value * factor, steps + 1
        return steps

    every = numpy_engine.flush_interval([0.999999, decay, 1.0, 0.0])  # the fastest decay decides; 0 and 1 never
    assert every < steps_to_subnormal(np.dtype(dtype))
    assert every >= 0.99 * steps_to_subnormal(np.dtype(np.float32)) - 1
    assert numpy_engine.flush_interval([0.0, 1.0]) is None and numpy_engine.flush_interval([]) is None


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
def test_flush_tiny_zeroes_exactly_the_tiny_numbers_in_every_block(dtype: str, layout: str) -> None:
    # The flush runs one cache-sized block at a time (`numpy_engine.BLOCK`): numbers in the first, a middle and
    # the last, partial block, in an array that is not contiguous too, are all flushed, and nothing else moves.
    from gradbook.reference import numpy_engine

    rng = np.random.default_rng(0)
    shape = (3, numpy_engine.BLOCK + 7)  # three arrays' worth of blocks, the last one partial
    state = rng.standard_normal(shape).astype(dtype)
    tiny = numpy_engine.TINY[np.dtype(dtype)]
    cells = [(0, 0), (1, numpy_engine.BLOCK // 2), (2, shape[1] - 1), (2, 5)]
    for i, (r, c) in enumerate(cells):
        state[r, c] = (-1) ** i * tiny * 0.5  # below TINY in size, either sign
    state[0, 1], state[1, 2], state[2, 3] = tiny * 2, -tiny * 2, np.nan  # above TINY, or not a number: kept
    array = state if layout == "contiguous" else np.asfortranarray(state)  # the same numbers, column-major
    assert array.flags.c_contiguous == (layout == "contiguous")
    expected = array.copy()
    for r, c in cells:
        expected[r, c] = 0
    small = state.copy()  # a second, small array flushed in the same call
    small_tiny = small[:1, :3].copy()
    small_tiny[0, 0] = tiny / 4
    numpy_engine.flush_tiny([array, small_tiny])
    np.testing.assert_array_equal(array, expected)
    assert small_tiny[0, 0] == 0 and (small_tiny[0, 1:] == small[0, 1:3]).all()
