"""The NumPy reference engine: readable, vectorised, checked against PyTorch (never imports it).

    from gradbook.reference import Sequential, Dense, Conv2D, MaxPool2D, Flatten
    from gradbook.reference import activations, losses, optimizers, gradcheck

Layers follow the CS231n contract (``forward`` keeps a cache, ``backward(dout)``
returns ``dx`` and fills ``layer.grads``); optimisers update ``params`` dicts in
place with ``opt.step(params, grads)``; `Sequential` is the Keras-style model.

Each of these is a specification that an engine computes (`engine`): the NumPy
engine (`numpy_engine.NUMPY`) by default, torch for `gradbook.torch_path`.
"""

from gradbook.reference import activations, gradcheck, layers, losses, optimizers
from gradbook.reference.layers import Activation, Conv2D, Dense, Flatten, Layer, MaxPool2D, MaxPooling2D
from gradbook.reference.model import History, Sequential, load_model
from gradbook.reference.numpy_engine import NUMPY
from gradbook.reference.optimizers import SGD, Adam, Optimizer, RMSprop
from gradbook.reference.sequence_layers import (
    LSTM, Embedding, LayerNormalization, MultiHeadAttention, SimpleRNN, TokenAndPositionEmbedding, TransformerBlock,
)

__all__ = [
    "activations", "gradcheck", "layers", "losses", "optimizers",
    "Activation", "Conv2D", "Dense", "Flatten", "Layer", "MaxPool2D", "MaxPooling2D",
    "History", "Sequential", "load_model", "NUMPY", "SGD", "Adam", "Optimizer", "RMSprop",
    "Embedding", "LSTM", "LayerNormalization", "MultiHeadAttention", "SimpleRNN", "TokenAndPositionEmbedding",
    "TransformerBlock",
]
