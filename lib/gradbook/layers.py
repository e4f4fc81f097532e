"""Keras-style facade: ``from gradbook import layers``; ``layers.Dense(512, activation='relu', input_shape=(784,))``."""

from gradbook.reference.layers import (
    Activation, Conv2D, Convolution2D, Dense, Flatten, Layer, MaxPool2D, MaxPooling2D,
)
from gradbook.reference.sequence_layers import (
    LSTM, Embedding, LayerNormalization, MultiHeadAttention, SimpleRNN, TokenAndPositionEmbedding, TransformerBlock,
)

__all__ = ["Activation", "Conv2D", "Convolution2D", "Dense", "Flatten", "Layer", "MaxPool2D", "MaxPooling2D",
           "Embedding", "LSTM", "LayerNormalization", "MultiHeadAttention", "SimpleRNN", "TokenAndPositionEmbedding",
           "TransformerBlock"]
