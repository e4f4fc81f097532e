"""The reference engine's element-wise work on several threads (gradbook.reference.parallel) gives the same numbers
as on one. The suite itself runs with one BLAS thread per process (tests/conftest.py: two pytest workers on two
cores), so here the threads are asked for: a convolution's patches (im2col and its adjoint, shared by channels)
and an optimiser's blocks, trained both ways."""

from __future__ import annotations

from typing import Callable

import numpy as np

from gradbook import layers, models
from gradbook.reference import parallel


def _trained(threads: int, blas_threads: Callable[[int], None]) -> list[np.ndarray]:
    blas_threads(threads)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 6, 12, 12)).astype("float32"), rng.integers(0, 10, 8)
    model = models.Sequential([layers.Conv2D(8, 3, activation="relu", input_shape=(6, 12, 12)), layers.Flatten(),
                               layers.Dense(200), layers.Dense(10, activation="softmax")], seed=0)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert threads == 1 or parallel._pool, "the threads were not started"  # noqa: SLF001
    return model.get_weights()


def test_many_threads_give_the_numbers_of_one(blas_threads: Callable[[int], None]) -> None:
    one = _trained(1, blas_threads)
    many = _trained(3, blas_threads)
    assert any(w.size > 1 << 16 for w in one), [w.shape for w in one]  # several optimiser blocks (numpy_engine.BLOCK)
    for a, b in zip(one, many):
        np.testing.assert_array_equal(a, b)
