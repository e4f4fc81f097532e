"""Keras-style facade: ``from gradbook import layers``; ``layers.Dense(512, activation='relu', input_shape=(784,))``."""

from gradbook.reference.layers import (
    Activation, Conv2D, Convolution2D, Dense, Flatten, Layer, MaxPool2D, MaxPooling2D,
)

__all__ = ["Activation", "Conv2D", "Convolution2D", "Dense", "Flatten", "Layer", "MaxPool2D", "MaxPooling2D"]
