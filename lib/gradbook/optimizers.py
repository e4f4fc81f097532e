"""Keras-style facade: ``from gradbook import optimizers``; ``optimizers.RMSprop(learning_rate=1e-3)``."""

from gradbook.reference.optimizers import SGD, Adam, Optimizer, RMSprop, get

__all__ = ["SGD", "Adam", "Optimizer", "RMSprop", "get"]
