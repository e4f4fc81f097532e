"""The layers on the torch engine: `gradbook.reference.layers`, computed by torch on a device.

    layers.Dense(512, activation="relu", input_shape=(784,), device="cuda")

Each name takes the reference's arguments plus ``device=`` ("auto", the default: CUDA
when present, else the CPU; "cpu"; "cuda") and makes the reference's layer, on the
torch engine: the same checks, shapes, initialisation (same rng, same weights),
config and weight layouts (Dense W (in, out), Conv2D W (out_c, in_c, kh, kw)).
Parameters are leaf tensors that require grad; backward passes come from autograd.
"""

from __future__ import annotations

from gradbook.reference import layers as spec
from gradbook.reference import sequence_layers as sequence_spec
from gradbook.reference.layers import Layer
from gradbook.torch_path import devices
from gradbook.torch_path.engine import on_torch, torch_dtype, torch_engine

__all__ = ["Activation", "Conv2D", "Convolution2D", "Dense", "Flatten", "Layer", "MaxPool2D", "MaxPooling2D",
           "from_config", "from_reference", "torch_dtype",
           "Embedding", "LSTM", "LayerNormalization", "MultiHeadAttention", "SimpleRNN", "TokenAndPositionEmbedding",
           "TransformerBlock"]

Dense = on_torch(spec.Dense)
Conv2D = Convolution2D = on_torch(spec.Conv2D)
MaxPool2D = MaxPooling2D = on_torch(spec.MaxPool2D)
Flatten = on_torch(spec.Flatten)
Activation = ActivationLayer = on_torch(spec.ActivationLayer)
from_config = on_torch(spec.from_config)
Embedding = on_torch(sequence_spec.Embedding)
SimpleRNN = on_torch(sequence_spec.SimpleRNN)
LSTM = on_torch(sequence_spec.LSTM)
LayerNormalization = on_torch(sequence_spec.LayerNormalization)
MultiHeadAttention = on_torch(sequence_spec.MultiHeadAttention)
TokenAndPositionEmbedding = on_torch(sequence_spec.TokenAndPositionEmbedding)
TransformerBlock = on_torch(sequence_spec.TransformerBlock)


def from_reference(layer: Layer, device: devices.DeviceLike = "auto") -> Layer:
    """A copy of ``layer`` (its settings, and its weights if built) on the torch engine."""
    return spec.clone(layer, torch_engine(device))
