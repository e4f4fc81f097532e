"""Toy datasets: exact truth tables, and noise-free points that lie exactly on their shapes."""

from __future__ import annotations

import operator

import numpy as np
import pytest

from gradbook.datasets import toy

# Each gate written with Python's own operators, independently of toy.GATES.
GATE_FUNCTIONS = {
    "and": operator.and_,
    "or": operator.or_,
    "nand": lambda a, b: 1 - (a & b),
    "nor": lambda a, b: 1 - (a | b),
    "xor": operator.xor,
}


@pytest.mark.parametrize("name", sorted(GATE_FUNCTIONS))
def test_two_input_gates_are_their_truth_tables(name: str) -> None:
    X, y = toy.logic_gate(name)
    assert X.dtype == np.float32 and X.shape == (4, 2)
    assert y.dtype == np.int64 and y.shape == (4,)
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    assert y.tolist() == [GATE_FUNCTIONS[name](int(a), int(b)) for a, b in X]


def test_xor_truth_table_exactly() -> None:
    X, y = toy.logic_gate("XOR")  # names are case-insensitive
    assert list(zip(X.tolist(), y.tolist())) == [([0, 0], 0), ([0, 1], 1), ([1, 0], 1), ([1, 1], 0)]


def test_not_gate_has_one_input() -> None:
    X, y = toy.logic_gate("not")
    assert X.shape == (2, 1) and X.dtype == np.float32
    assert X.ravel().tolist() == [0, 1] and y.tolist() == [1, 0]


def test_gates_return_fresh_arrays() -> None:
    X, _ = toy.logic_gate("and")
    X[0, 0] = 42  # a student's in-place edit must not change the next call's data
    assert toy.logic_gate("or")[0][0, 0] == 0


def test_unknown_gate_lists_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown logic gate 'xnor'.*'and'.*'not'"):
        toy.logic_gate("xnor")


GENERATORS = {
    "xor": lambda seed: toy.xor(200, 0.1, seed),
    "moons": lambda seed: toy.moons(200, 0.1, seed),
    "spirals": lambda seed: toy.spirals(300, 3, 0.2, seed),
    "blobs": lambda seed: toy.blobs(300, 3, 1.0, seed),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_generated_sets_are_typed_and_deterministic(name: str) -> None:
    X, y = GENERATORS[name](7)
    assert X.dtype == np.float32 and X.ndim == 2 and X.shape[1] == 2
    assert y.dtype == np.int64 and y.shape == (len(X),)
    again_X, again_y = GENERATORS[name](7)
    np.testing.assert_array_equal(X, again_X)
    np.testing.assert_array_equal(y, again_y)
    assert not np.array_equal(X, GENERATORS[name](8)[0]), "a different seed should give different points"
    # Shuffled: the labels are not in sorted blocks.
    assert np.count_nonzero(np.diff(y)) > len(np.unique(y))


def test_xor_without_noise_sits_on_the_corners_with_xor_labels() -> None:
    X, y = toy.xor(n=203, noise=0.0, seed=3)
    assert X.shape == (203, 2)
    assert set(map(tuple, X.tolist())) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    assert y.tolist() == [int(a) ^ int(b) for a, b in X]
    assert sorted(np.unique(X, axis=0, return_counts=True)[1].tolist()) == [50, 51, 51, 51]


def test_noisy_xor_keeps_labels_and_spreads_points() -> None:
    X, y = toy.xor(n=4000, noise=0.1, seed=0)
    corners = np.round(X).clip(0, 1).astype(int)
    # At noise 0.1 a point leaves its corner's quadrant with probability ~1e-6 per axis.
    assert (y == corners[:, 0] ^ corners[:, 1]).all()
    assert 0.09 < float(np.std(X - corners)) < 0.11


def test_moons_without_noise_lie_on_their_half_circles() -> None:
    X, y = toy.moons(n=101, noise=0.0, seed=1)
    assert np.bincount(y).tolist() == [50, 51]
    upper, lower = X[y == 0].astype(np.float64), X[y == 1].astype(np.float64)
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()


def test_spirals_without_noise_follow_the_arm_equation() -> None:
    classes = 4
    X, y = toy.spirals(n=402, classes=classes, noise=0.0, seed=2)
    assert np.bincount(y).tolist() == [101, 101, 100, 100]
    points = X.astype(np.float64)
    r = np.hypot(points[:, 0], points[:, 1])
    assert r.max() <= 1.0 + 1e-6
    # Arm k: (r sin a, r cos a) with a = 4k + 4r, so the angle pins down the arm.
    far = r > 0.05
    angle = np.arctan2(points[far, 0], points[far, 1])
    error = (angle - (4.0 * y[far] + 4.0 * r[far]) + np.pi) % (2 * np.pi) - np.pi
    assert np.abs(error).max() < 1e-4


def test_blobs_with_given_centres() -> None:
    centres = np.array([[0.0, 0.0], [5.0, -3.0], [-4.0, 8.0]])
    X, y = toy.blobs(n=7, centers=centres, std=0.0, seed=0)
    np.testing.assert_array_equal(X, centres[y].astype(np.float32))
    assert np.bincount(y).tolist() == [3, 2, 2]
    X, y = toy.blobs(n=3000, centers=centres, std=0.5, seed=0)
    for k, centre in enumerate(centres):
        # The sample mean of 1,000 points is within 4 standard errors of the centre.
        np.testing.assert_allclose(X[y == k].mean(axis=0), centre, atol=4 * 0.5 / np.sqrt(1000))


def test_blobs_with_a_count_draws_centres_in_the_box() -> None:
    X, y = toy.blobs(n=50, centers=5, std=0.0, seed=4)
    assert sorted(np.unique(y).tolist()) == [0, 1, 2, 3, 4]
    for k in range(5):
        assert len(np.unique(X[y == k], axis=0)) == 1  # std 0: every point on its centre
    assert np.abs(X).max() <= 10.0


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: toy.xor(n=0), "n must be an integer >= 1"),
        (lambda: toy.xor(n=2.5), "n must be an integer"),
        (lambda: toy.moons(noise=-0.1), "noise must be a finite number >= 0"),
        (lambda: toy.moons(noise=float("nan")), "noise must be a finite number"),
        (lambda: toy.spirals(classes=1), "classes must be an integer >= 2"),
        (lambda: toy.spirals(n=2, classes=3), "n must be an integer >= 3"),
        (lambda: toy.blobs(centers=np.zeros((3, 3))), r"shape \(k, 2\)"),
        (lambda: toy.blobs(std=-1), "std must be"),
    ],
)
def test_bad_arguments_say_what_is_wrong(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
