"""Chapter 10's public half: the helper it gives students (`block_params`, a transformer block's random weights).

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch10.answers` holds its
answers). Its exercises use the shared drivers; nothing here computes an answer.
"""

from __future__ import annotations

import numpy as np

Params = dict[str, np.ndarray]
HELPERS = ("block_params",)  # what the chapter gives students: the notebook imports it from `gradbook.checks.ch10`


def block_params(rng: np.random.Generator, D: int, heads: int, dk: int, ff: int) -> Params:
    """A transformer block's weights, random (gains and shifts too, so that each one matters)."""
    def w(*shape: int) -> np.ndarray:
        return rng.normal(size=shape) / np.sqrt(shape[0])
    return {"ln1_gamma": 1 + 0.3 * rng.normal(size=D), "ln1_beta": 0.3 * rng.normal(size=D),
            "Wq": w(D, heads * dk), "Wk": w(D, heads * dk), "Wv": w(D, heads * dk), "Wo": w(heads * dk, D),
            "ln2_gamma": 1 + 0.3 * rng.normal(size=D), "ln2_beta": 0.3 * rng.normal(size=D),
            "W1": w(D, ff), "b1": 0.3 * rng.normal(size=ff), "W2": w(ff, D), "b2": 0.3 * rng.normal(size=D)}
