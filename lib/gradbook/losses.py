"""Keras-style facade: ``from gradbook import losses``; loss classes and Keras' function names."""

from gradbook.reference.losses import (
    BinaryCrossentropy, CategoricalCrossentropy, Loss, MeanSquaredError, SparseCategoricalCrossentropy,
    binary_crossentropy, categorical_crossentropy, get, mean_squared_error, mse, sparse_categorical_crossentropy,
)

__all__ = [
    "BinaryCrossentropy", "CategoricalCrossentropy", "Loss", "MeanSquaredError", "SparseCategoricalCrossentropy",
    "binary_crossentropy", "categorical_crossentropy", "get", "mean_squared_error", "mse",
    "sparse_categorical_crossentropy",
]
