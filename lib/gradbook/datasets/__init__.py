"""Datasets: real MNIST (IDX files, cached, downloaded with checksums, offline fallback)
and small generated sets for the early chapters.

    from gradbook.datasets import mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()   # like keras.datasets.mnist

    from gradbook.datasets import toy
    X, y = toy.logic_gate("xor")

    from gradbook.datasets import text
    corpus = text.load_text()      # the course's shipped text (chapters 9 and 10)
"""

from __future__ import annotations

from gradbook.datasets import mnist, text, toy
from gradbook.datasets.download import DownloadError
from gradbook.datasets.idx import parse_idx, read_idx
from gradbook.datasets.mnist import MNISTFallbackWarning
from gradbook.datasets.mnist import load_data as load_mnist
from gradbook.datasets.text import load_text
from gradbook.datasets.toy import blobs, logic_gate, moons, spirals, xor

__all__ = [
    "DownloadError", "MNISTFallbackWarning", "blobs", "load_mnist", "load_text", "logic_gate", "mnist",
    "moons", "parse_idx", "read_idx", "spirals", "text", "toy", "xor",
]
