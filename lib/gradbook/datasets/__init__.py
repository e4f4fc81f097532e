"""Datasets: real MNIST (IDX files, cached, downloaded with checksums, offline fallback)
and small generated sets for the early chapters.

    from gradbook.datasets import mnist
    (x_train, y_train), (x_test, y_test) = mnist.load_data()   # like keras.datasets.mnist

    from gradbook.datasets import toy
    X, y = toy.logic_gate("xor")
"""

from __future__ import annotations

from gradbook.datasets import mnist, toy
from gradbook.datasets.download import DownloadError
from gradbook.datasets.idx import parse_idx, read_idx
from gradbook.datasets.mnist import MNISTFallbackWarning
from gradbook.datasets.mnist import load_data as load_mnist
from gradbook.datasets.toy import blobs, logic_gate, moons, spirals, xor

__all__ = [
    "DownloadError", "MNISTFallbackWarning", "blobs", "load_mnist", "logic_gate", "mnist",
    "moons", "parse_idx", "read_idx", "spirals", "toy", "xor",
]
