"""Chapter 7's public half: the helpers the chapter gives (`col2im`, `out_size`).

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch07.answers` holds its answers).
No answer is computed here: a driver builds the call the exercise asks for, calls the answer and reads
its result back (`gradbook.checks.drivers`)."""

from __future__ import annotations

import numpy as np

HELPERS = ("col2im",)  # what the chapter gives students: the notebook imports them from `gradbook.checks.ch07`


def out_size(size: int, k: int, stride: int = 1, pad: int = 0) -> int:
    return (size + 2 * pad - k) // stride + 1


def col2im(cols: np.ndarray, x_shape: tuple[int, ...], kh: int, kw: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The adjoint of im2col: add every column back to where its patch came from."""
    N, C, H, Wd = x_shape
    Ho, Wo = out_size(H, kh, stride, pad), out_size(Wd, kw, stride, pad)
    xp = np.zeros((N, C, H + 2 * pad, Wd + 2 * pad), dtype=cols.dtype)
    patches = cols.reshape(C, kh, kw, N, Ho, Wo)
    for i in range(kh):
        for j in range(kw):
            xp[:, :, i : i + stride * Ho : stride, j : j + stride * Wo : stride] += patches[:, i, j].transpose(1, 0, 2, 3)
    return xp[:, :, pad : pad + H, pad : pad + Wd]
