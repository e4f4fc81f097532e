"""The sequence layers' specifications: Embedding, SimpleRNN, LSTM, LayerNormalization, MultiHeadAttention.

Like every layer (`gradbook.reference.layers`) a specification holds the arguments and their
checks, shapes, initialisation (drawn in NumPy: the same rng, the same weights on every engine),
config and Keras name; the arithmetic is `gradbook.reference.sequence`, written once in the
engine's `SequenceOps`. Sequences are ``(batch, time, features)``.

    model = models.Sequential([layers.Embedding(50, 16), layers.LSTM(32), layers.Dense(2, activation="softmax")])
    mha = layers.MultiHeadAttention(num_heads=2, key_dim=8)
    out = mha(query, value, use_causal_mask=True)            # Keras' call form

Weight layouts (also the save format): Embedding ``embeddings`` (input_dim, output_dim);
SimpleRNN ``Wx`` (features, units), ``Wh`` (units, units), ``b`` (units,); LSTM the same with
4·units columns, gates in Keras' (and torch's) order ``[i, f, c, o]``; LayerNormalization ``gamma``,
``beta`` (features,); MultiHeadAttention ``Wq``/``Wk`` (features, heads·key_dim), ``Wv``
(features, heads·value_dim), ``Wo`` (heads·value_dim, query features) and their biases ``bq``,
``bk``, ``bv``, ``bo``. Initialisation as Keras: Glorot-uniform inputs, orthogonal recurrent
weights, an LSTM's forget-gate bias 1, embeddings uniform in [-0.05, 0.05].

Masks: a recurrent layer's (and a TransformerBlock's) ``forward(x, mask=...)``/``call(x, mask=...)`` takes a
padding mask ``(batch, time)`` (1/True where the step is real); ``Embedding(mask_zero=True).compute_mask(ids)``
(and TokenAndPositionEmbedding's) makes one from token 0, and a `Sequential` model hands it to the layers
after the embedding and masks the loss and metrics with it (`gradbook.reference.model`).
MultiHeadAttention takes Keras 3's ``query_mask``, ``value_mask``, ``key_mask`` and ``attention_mask``.

States: ``layer(x, initial_state=[h0(, c0)], return_state=True)`` (Keras), and in the CS231n form
``forward(x, initial_state=..., return_state=True)`` then ``backward(dout, d_state=[dh(, dc)])``, with the
initial state's gradients in ``initial_state_grads``.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from gradbook.i18n import _
from gradbook.reference import sequence
from gradbook.reference.engine import Engine, LayerKernel, Op
from gradbook.reference.layers import LAYERS, Layer, Shape, _initializer, _positive, _shape, check_input_shape
from gradbook.reference.numpy_engine import NUMPY

Array = Any  # an engine's array
PaddingMasks = tuple[Any | None, Any | None, Any | None]  # MultiHeadAttention's query_mask, value_mask, key_mask


def orthogonal(shape: Shape, rng: np.random.Generator) -> np.ndarray:
    """Keras' orthogonal initializer: the Q of a QR factorisation of a normal matrix (signs fixed by R's diagonal)."""
    rows, cols = shape
    q, r = np.linalg.qr(rng.standard_normal((max(rows, cols), min(rows, cols))))
    q *= np.sign(np.diag(r))
    return q if rows >= cols else q.T


class SequenceLayer(Layer):
    """A layer whose kernel comes from `gradbook.reference.sequence`; it takes a padding mask."""

    supports_masking = True  # a padding mask from an Embedding(mask_zero=True) is handed to it

    def _make_kernel(self) -> LayerKernel:
        return self._sequence_kernel(self.engine.sequence_ops())

    def _sequence_kernel(self, ops: Any) -> sequence.SequenceKernel:
        raise NotImplementedError

    def compute_mask(self, x: Any, mask: Any | None) -> Any | None:
        """The padding mask of the output, given the input's (Keras' rule: kept while the time axis is)."""
        return mask

    def _mask(self, mask: Any | None, x: Any) -> Any | None:
        if mask is None:
            return None
        mask = self.engine.array(mask)
        if tuple(mask.shape) != tuple(x.shape[:2]):
            raise ValueError(_("{where}: a padding mask has one entry per sequence and step, shape {want}; "
                               "got {got}").format(where=self.where, want=_shape(tuple(x.shape[:2])),
                                                   got=_shape(tuple(mask.shape))))
        return self.engine.array(mask, self.dtype)

    def _input(self, x: Any) -> Any:
        """As every layer's, but a sequence of any length will do: the time axis is not checked."""
        x = self.engine.array(x)
        shape = tuple(x.shape)
        if len(shape) >= 2 and self.input_shape is not None and len(self.input_shape) >= 1:
            check_input_shape(self.where, self.input_shape[1:], shape[:1] + shape[2:])
        else:
            check_input_shape(self.where, self.input_shape, shape)
        return self.engine.array(x, self.dtype)

    def _prepared(self, x: Any) -> Any:
        if not self.built:
            x = self.engine.array(x)
            self.build(tuple(x.shape[1:]), dtype=self.engine.float_dtype(x))
        return self._input(x)

    def call(self, x: Any, mask: Any | None = None) -> Any:  # type: ignore[override]
        """The differentiable forward (torch's autograd trains through it)."""
        return self.kernel.call(x, self.params, self._mask(mask, x))

    def forward(self, x: Any, training: bool = True, mask: Any | None = None) -> Any:  # type: ignore[override]
        """The output for ``x`` (and an optional padding mask), keeping what `backward` needs."""
        x = self._prepared(x)
        with self.engine.inference():  # the backward pass is the hand-written one, on every engine
            self.logits, out = self.kernel.forward(x, self.params, self._mask(mask, x))
        return out

    def backward_preactivation(self, dz: Any, input_grad: bool = True) -> Any:
        with self.engine.inference():
            return super().backward_preactivation(dz, input_grad)

    def __call__(self, x: Any, mask: Any | None = None) -> Any:
        """Keras' ``layer(x)``: the output (differentiable on torch); builds the layer on its first input."""
        x = self._prepared(x)
        return self.call(x, mask)


# ---------------------------------------------------------------- Embedding

def _check_ids(layer: Layer, x: Any, size: int) -> None:
    """Token ids must be integers in [0, size): checked where reading them is free (a GPU is not waited for)."""
    if str(layer.engine.device) != "cpu":
        return
    values = layer.engine.to_numpy(x)
    if values.size and (np.any(values != np.round(values)) or values.min() < 0 or values.max() >= size):
        raise ValueError(_("{where} expects integer token ids in [0, {size}); got values in [{low}, {high}]. "
                           "Make input_dim the vocabulary size (the largest id + 1).").format(
            where=layer.where, size=size, low=values.min(), high=values.max()))


class Embedding(SequenceLayer):
    """Token ids (any shape, integers in [0, input_dim)) -> one learned row of ``output_dim`` numbers per id."""

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False,
                 input_shape: Sequence[int] | None = None, *, engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        self.input_dim = _positive(input_dim, "Embedding input_dim")
        self.output_dim = _positive(output_dim, "Embedding output_dim")
        self.mask_zero = bool(mask_zero)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return (*input_shape, self.output_dim)

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"embeddings": rng.uniform(-0.05, 0.05, size=(self.input_dim, self.output_dim))}

    def _sequence_kernel(self, ops: Any) -> sequence.SequenceKernel:
        return sequence.EmbeddingKernel(ops)

    def compute_mask(self, x: Any, mask: Any | None = None) -> Any | None:
        """``x != 0`` with ``mask_zero=True`` (id 0 is padding), else None."""
        return (self.engine.array(x) != 0) if self.mask_zero else None

    def _input(self, x: Any) -> Any:
        x = super()._input(x)
        _check_ids(self, x, self.input_dim)
        return x

    def get_config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero,
                **super().get_config()}


# ---------------------------------------------------------------- SimpleRNN and LSTM

class _Recurrent(SequenceLayer):
    """What SimpleRNN and LSTM share: units, return_sequences, Keras' initialisers, ``(batch, time, features)`` input."""

    gates = 1  # how many blocks of ``units`` columns the weights have

    def __init__(self, units: int, activation: str = "tanh", return_sequences: bool = False,
                 input_shape: Sequence[int] | None = None, kernel_initializer: str = "glorot_uniform",
                 *, engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        self.units = _positive(units, f"{type(self).__name__} units")
        self.recurrent_activation_name = activation
        if activation not in engine.activations:
            raise ValueError(_("unknown activation {name!r}; valid activations: {names}").format(
                name=activation, names=", ".join(engine.activations)))
        self.return_sequences = bool(return_sequences)
        self.kernel_initializer = kernel_initializer
        _initializer(kernel_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 2:
            raise ValueError(_("{where} expects sequences, per-sample shape (time, features); got {got}. "
                               "An Embedding before it makes them from token ids.").format(
                where=self.where, got=_shape(input_shape)))
        return (input_shape[0], self.units) if self.return_sequences else (self.units,)

    def compute_mask(self, x: Any, mask: Any | None) -> Any | None:
        return mask if self.return_sequences else None

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        width = self.gates * self.units
        recurrent = np.concatenate([orthogonal((self.units, self.units), rng) for _ in range(self.gates)], axis=1)
        return {"Wx": _initializer(self.kernel_initializer)((input_shape[-1], width), rng),
                "Wh": recurrent, "b": np.zeros(width)}

    def __call__(self, x: Any, mask: Any | None = None, initial_state: Sequence[Any] | None = None,  # type: ignore[override]
                 return_state: bool = False) -> Any:
        """Keras' ``layer(x, initial_state=[h0(, c0)])``; ``return_state=True`` gives ``[output, h(, c)]``, the
        state after the last step (to carry on from it, as when sampling one character at a time)."""
        x = self._prepared(x)
        kernel = self.kernel
        out = kernel.run(x, self.params, self._mask(mask, x), keep=False,  # type: ignore[attr-defined]
                         initial_state=self._initial_state(initial_state))
        return [out, *kernel.final_state] if return_state else out  # type: ignore[attr-defined]

    def forward(self, x: Any, training: bool = True, mask: Any | None = None,  # type: ignore[override]
                initial_state: Sequence[Any] | None = None, return_state: bool = False) -> Any:
        """The CS231n contract with Keras' arguments: the output (``[output, h(, c)]`` with ``return_state``),
        keeping what `backward` needs; `backward` then also takes the returned states' gradients."""
        x = self._prepared(x)
        state = self._initial_state(initial_state)
        with self.engine.inference():  # the backward pass is the hand-written one, on every engine
            self.logits = self.kernel.run(x, self.params, self._mask(mask, x), keep=True,  # type: ignore[attr-defined]
                                          initial_state=state)
        return [self.logits, *self.kernel.final_state] if return_state else self.logits  # type: ignore[attr-defined]

    def backward(self, dout: Any, input_grad: bool = True, d_state: Sequence[Any] | None = None) -> Any:  # type: ignore[override]
        """dL/dx from dL/dout and, after ``forward(..., return_state=True)``, ``d_state = [dL/dh(, dL/dc)]``
        of the returned states (None where a state is not used); fills ``grads``, and ``initial_state_grads``
        with ``[dL/dh0(, dL/dc0)]`` (the gradients into ``initial_state``)."""
        dz = self._gradient(dout)
        width = len(self.kernel.final_state)  # type: ignore[attr-defined]
        given = list(d_state or [])
        if len(given) > width:
            raise ValueError(_("{where}: d_state has one gradient per returned state, at most {most}; got {got}").format(
                where=self.where, most=width, got=len(given)))
        zero = self.engine.array(self.kernel.final_state[0], self.dtype) * 0  # type: ignore[attr-defined]
        states = tuple(self._state_gradient(i, d, tuple(zero.shape)) if d is not None else zero
                       for i, d in enumerate(given))
        with self.engine.inference():
            dx, grads = self.kernel.gradients(dz, self.params, states)  # type: ignore[call-arg]
        self.grads.update(grads)
        self.initial_state_grads = list(self.kernel.initial_state_gradients)  # type: ignore[attr-defined]
        return dx if input_grad else None

    def _initial_state(self, initial_state: Sequence[Any] | None) -> Any:
        """``initial_state`` as the kernel takes it: None, ``h0``, or ``(h0, c0)``."""
        if initial_state is None:
            return None
        state = tuple(self._input_state(s) for s in initial_state)
        return state if len(state) > 1 else state[0]

    def _state_gradient(self, i: int, d: Any, shape: tuple[int, ...]) -> Any:
        """``d_state[i]``, the gradient of the i-th returned state: exactly that state's shape (a gradient of
        another batch size would broadcast into wrong numbers)."""
        d = self.engine.array(d)
        if tuple(d.shape) != shape:
            raise ValueError(_("{where}: d_state[{i}] is the gradient of the returned state {name}, shaped like it: "
                               "{shape}; got {got}").format(where=self.where, i=i, name="hc"[i], shape=_shape(shape),
                                                            got=_shape(tuple(d.shape))))
        return self.engine.array(d, self.dtype)

    def _input_state(self, state: Any) -> Any:
        state = self.engine.array(state)
        if len(state.shape) != 2 or state.shape[1] != self.units:
            raise ValueError(_("{where}: an initial state is (batch, units) = (n, {units}); got {got}").format(
                where=self.where, units=self.units, got=_shape(tuple(state.shape))))
        return self.engine.array(state, self.dtype)

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.recurrent_activation_name,
                "return_sequences": self.return_sequences, **super().get_config(),
                "kernel_initializer": self.kernel_initializer}


class SimpleRNN(_Recurrent):
    """``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)`` over the time axis; the last ``h`` (or all, ``return_sequences``)."""

    def _sequence_kernel(self, ops: Any) -> sequence.SequenceKernel:
        return sequence.SimpleRNNKernel(ops, self.recurrent_activation_name, self.return_sequences)


class LSTM(_Recurrent):
    """Keras' LSTM (gates i, f, c, o; ``unit_forget_bias``: the forget gate's bias starts at 1)."""

    gates = 4

    def __init__(self, units: int, activation: str = "tanh", recurrent_activation: str = "sigmoid",
                 return_sequences: bool = False, input_shape: Sequence[int] | None = None,
                 kernel_initializer: str = "glorot_uniform", *, engine: Engine = NUMPY) -> None:
        super().__init__(units, activation, return_sequences, input_shape, kernel_initializer, engine=engine)
        if recurrent_activation not in engine.activations:
            raise ValueError(_("unknown activation {name!r}; valid activations: {names}").format(
                name=recurrent_activation, names=", ".join(engine.activations)))
        self.gate_activation_name = recurrent_activation

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        params = super()._initial_params(input_shape, rng)
        params["b"][self.units:2 * self.units] = 1.0  # Keras' unit_forget_bias: remember by default at first
        return params

    def _sequence_kernel(self, ops: Any) -> sequence.SequenceKernel:
        return sequence.LSTMKernel(ops, self.recurrent_activation_name, self.gate_activation_name,
                                   self.return_sequences)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "recurrent_activation": self.gate_activation_name}


# ---------------------------------------------------------------- LayerNormalization

class LayerNormalization(SequenceLayer):
    """Normalise each sample (each step of a sequence) over its last axis, then scale by ``gamma`` and shift by ``beta``.
    ``epsilon`` defaults to Keras' 1e-3 (torch's LayerNorm uses 1e-5)."""

    def __init__(self, epsilon: float = 1e-3, input_shape: Sequence[int] | None = None, *,
                 engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ValueError(_("LayerNormalization epsilon must be a positive number; got {value!r}").format(
                value=epsilon))
        self.epsilon = float(epsilon)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) < 1:
            raise ValueError(_("{where} needs inputs with a feature axis; got per-sample shape {got}").format(
                where=self.where, got=_shape(input_shape)))
        return tuple(input_shape)

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"gamma": np.ones(input_shape[-1]), "beta": np.zeros(input_shape[-1])}

    def _sequence_kernel(self, ops: Any) -> sequence.SequenceKernel:
        return sequence.LayerNormKernel(ops, self.epsilon)

    def _mask(self, mask: Any | None, x: Any) -> Any | None:
        return None  # each step is normalised alone: padding changes nothing

    def get_config(self) -> dict[str, Any]:
        return {"epsilon": self.epsilon, **super().get_config()}


# ---------------------------------------------------------------- MultiHeadAttention

def _same_sequence_shape(layer: Layer, input_shape: Shape) -> Shape:
    """The output shape of a layer that maps sequences to sequences of the same shape (after checking it)."""
    if len(input_shape) != 2:
        raise ValueError(_("{where} expects sequences, per-sample shape (time, features); got {got}").format(
            where=layer.where, got=_shape(input_shape)))
    return tuple(input_shape)


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    try:
        return len(shape) <= len(to) and np.broadcast_shapes(shape, to) == to
    except ValueError:
        return False


class MultiHeadAttention(Layer):
    """Keras' MultiHeadAttention, called as Keras does::

        out = mha(query, value, key=None, attention_mask=None, use_causal_mask=False)   # (batch, T, query features)
        out, scores = mha(query, value, return_attention_scores=True)                  # scores (batch, heads, T, S)
        out = mha(x, x, query_mask=pad, value_mask=pad)                                # padding masks (batch, T)

    ``query`` is (batch, T, features), ``value`` and ``key`` (batch, S, features) (``key`` defaults to
    ``value``; self-attention is ``mha(x, x)``). ``attention_mask`` (batch, T, S), or a shape that broadcasts to it, is True where
    a query may attend to a key; ``use_causal_mask=True`` also hides every later key. Padding masks, as Keras
    3 takes them (1/True where a step is real): ``value_mask``/``key_mask`` (batch, S) hide padded keys (they
    get no attention weight, torch's ``key_padding_mask``); ``query_mask`` (batch, T) hides every key from a
    padded query (its weights are then uniform and its output meaningless: a masked loss ignores it). All the
    masks combine by AND. The CS231n contract:
    ``forward(query, value, key=None, attention_mask=None, use_causal_mask=False)`` keeps a cache and
    ``backward(dout)`` fills ``grads`` and returns ``(dquery, dvalue, dkey)``, with ``dkey`` None when no
    key was given (its gradient is then part of ``dvalue``).
    """

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None,
                 kernel_initializer: str = "glorot_uniform", *, engine: Engine = NUMPY) -> None:
        super().__init__(None, engine=engine)
        self.num_heads = _positive(num_heads, "MultiHeadAttention num_heads")
        self.key_dim = _positive(key_dim, "MultiHeadAttention key_dim")
        self.value_dim = _positive(value_dim if value_dim is not None else key_dim, "MultiHeadAttention value_dim")
        self.kernel_initializer = kernel_initializer
        _initializer(kernel_initializer)
        self.value_shape: Shape | None = None
        self._attention: sequence.AttentionKernel | None = None
        self._key_given = False

    def build(self, input_shape: Sequence[int], rng: np.random.Generator | None = None,  # type: ignore[override]
              dtype: str | np.dtype = "float32", value_shape: Sequence[int] | None = None) -> None:
        """Weights for queries of per-sample shape ``input_shape`` (T, features) and values of ``value_shape``."""
        self.value_shape = tuple(int(d) for d in (value_shape if value_shape is not None else input_shape))
        super().build(input_shape, rng, dtype)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return _same_sequence_shape(self, input_shape)

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        init = _initializer(self.kernel_initializer)
        d_query, d_value = input_shape[-1], (self.value_shape or input_shape)[-1]
        hk, hv = self.num_heads * self.key_dim, self.num_heads * self.value_dim
        return {"Wq": init((d_query, hk), rng), "bq": np.zeros(hk), "Wk": init((d_value, hk), rng), "bk": np.zeros(hk),
                "Wv": init((d_value, hv), rng), "bv": np.zeros(hv), "Wo": init((hv, d_query), rng),
                "bo": np.zeros(d_query)}

    def _make_kernel(self) -> LayerKernel:
        self._attention = sequence.AttentionKernel(self.engine.sequence_ops(), self.num_heads, self.key_dim,
                                                   self.value_dim)
        # The layer's `kernel` is only a placeholder that says whether it is built: three inputs do not fit a
        # LayerKernel, so forward, backward and call use `attention`.
        return self.engine.layer_kernel(self._op(self.input_shape or ()), self.activation)

    def _op(self, input_shape: Shape) -> Op:
        return Op("identity")

    def _inputs(self, query: Any, value: Any, key: Any | None) -> tuple[Any, Any, Any]:
        query, value = self.engine.array(query), self.engine.array(value)
        key = value if key is None else self.engine.array(key)
        if not self.built:
            self.build(tuple(query.shape[1:]), dtype=self.engine.float_dtype(query), value_shape=tuple(value.shape[1:]))
        for name, x in (("query", query), ("value", value), ("key", key)):
            want = self.input_shape if name == "query" else self.value_shape
            if len(x.shape) != 3 or x.shape[-1] != want[-1] or x.shape[0] != query.shape[0]:  # type: ignore[index]
                raise ValueError(_("{where}: {name} must be (batch, time, {features}); got {got}").format(
                    where=self.where, name=name, features=want[-1], got=_shape(tuple(x.shape))))  # type: ignore[index]
        if key.shape[1] != value.shape[1]:
            raise ValueError(_("{where}: key and value need the same number of steps; got {key} and {value}").format(
                where=self.where, key=key.shape[1], value=value.shape[1]))
        return tuple(self.engine.array(x, self.dtype) for x in (query, value, key))  # type: ignore[return-value]

    def _attention_mask(self, attention_mask: Any | None, causal: bool, batch: int, t: int, s: int,
                        padding: PaddingMasks = (None, None, None)) -> Any | None:
        """Keras' rule: True where a query may attend to a key, from ``attention_mask``, the causal lower triangle and
        the padding masks (a padded query attends to nothing, a padded key or value is attended to by nothing)."""
        mask = None
        if attention_mask is not None:
            mask = self.engine.to_numpy(attention_mask)
            if not _broadcasts(mask.shape, (batch, t, s)):
                raise ValueError(_("{where}: attention_mask must be (batch, queries, keys) = {want}; got {got}").format(
                    where=self.where, want=_shape((batch, t, s)), got=_shape(mask.shape)))
            mask = np.broadcast_to(mask != 0, (batch, t, s))
        for name, given, steps, axis in zip(("query_mask", "value_mask", "key_mask"), padding, (t, s, s), (2, 1, 1)):
            if given is None:
                continue
            given = self.engine.to_numpy(given)
            if given.shape != (batch, steps):
                raise ValueError(_("{where}: {name} is one entry per sequence and step, shape {want}; got {got}").format(
                    where=self.where, name=name, want=_shape((batch, steps)), got=_shape(given.shape)))
            given = np.expand_dims(given != 0, axis)  # a query's row, or a key's column
            mask = given if mask is None else mask & given
        if causal:
            lower = np.tril(np.ones((t, s), bool))  # query i sees keys 0..i
            mask = lower[None] if mask is None else mask & lower
        # A copy: torch refuses to share a read-only NumPy array (broadcast_to's views are).
        return None if mask is None else self.engine.array(np.broadcast_to(mask, (batch, t, s)).copy(), self.dtype)

    def forward(self, query: Any, value: Any, key: Any | None = None, attention_mask: Any | None = None,  # type: ignore[override]
                use_causal_mask: bool = False, training: bool = True, query_mask: Any | None = None,
                value_mask: Any | None = None, key_mask: Any | None = None) -> Any:
        self._key_given = key is not None
        q, v, k = self._inputs(query, value, key)
        mask = self._attention_mask(attention_mask, use_causal_mask, q.shape[0], q.shape[1], v.shape[1],
                                    (query_mask, value_mask, key_mask))
        with self.engine.inference():
            self.logits = self.attention.run(q, v, k, mask, self.params, keep=True)
        return self.logits

    def backward(self, dout: Any, input_grad: bool = True) -> Any:  # type: ignore[override]
        """``(dquery, dvalue, dkey)`` of the last forward (``dkey`` None when the key was the value), filling ``grads``."""
        with self.engine.inference():
            dq, dv, dk, grads = self.attention.gradients(self._gradient(dout), self.params)
        self.grads.update(grads)
        return (dq, dv, dk) if self._key_given else (dq, dv + dk, None)

    def call(self, query: Any, value: Any | None = None, key: Any | None = None,  # type: ignore[override]
             attention_mask: Any | None = None, use_causal_mask: bool = False, query_mask: Any | None = None,
             value_mask: Any | None = None, key_mask: Any | None = None) -> Any:
        """The differentiable forward; ``value`` defaults to ``query`` (self-attention)."""
        q, v, k = self._inputs(query, query if value is None else value, key)
        mask = self._attention_mask(attention_mask, use_causal_mask, q.shape[0], q.shape[1], v.shape[1],
                                    (query_mask, value_mask, key_mask))
        return self.attention.run(q, v, k, mask, self.params, keep=False)

    def __call__(self, query: Any, value: Any, key: Any | None = None, query_mask: Any | None = None,
                 value_mask: Any | None = None, key_mask: Any | None = None, attention_mask: Any | None = None,
                 return_attention_scores: bool = False, use_causal_mask: bool = False) -> Any:
        """Keras 3's call form (its keyword arguments, in its order)."""
        out = self.call(query, value, key, attention_mask, use_causal_mask, query_mask, value_mask, key_mask)
        return (out, self.attention.scores) if return_attention_scores else out

    @property
    def attention(self) -> sequence.AttentionKernel:
        self.kernel  # noqa: B018 -- the error that says to build first
        assert self._attention is not None
        return self._attention

    def get_config(self) -> dict[str, Any]:
        return {"num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
                "kernel_initializer": self.kernel_initializer}


# ---------------------------------------------------------------- a transformer in Sequential

class TokenAndPositionEmbedding(SequenceLayer):
    """keras_nlp's TokenAndPositionEmbedding: each token's learned embedding plus a learned embedding of its
    position (0 .. sequence_length - 1), so that attention, which ignores order, can see it. ``mask_zero=True``:
    id 0 is padding, and the layers after it get the padding mask (as `Embedding`'s)."""

    supports_masking = False

    def __init__(self, vocabulary_size: int, sequence_length: int, embedding_dim: int,
                 input_shape: Sequence[int] | None = None, mask_zero: bool = False, *,
                 engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        self.mask_zero = bool(mask_zero)
        self.vocabulary_size = _positive(vocabulary_size, "TokenAndPositionEmbedding vocabulary_size")
        self.sequence_length = _positive(sequence_length, "TokenAndPositionEmbedding sequence_length")
        self.embedding_dim = _positive(embedding_dim, "TokenAndPositionEmbedding embedding_dim")

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if len(input_shape) != 1 or input_shape[0] > self.sequence_length:
            raise ValueError(_("{where} expects sequences of at most {most} token ids, per-sample shape (time,); "
                               "got {got}").format(where=self.where, most=self.sequence_length,
                                                   got=_shape(input_shape)))
        return (input_shape[0], self.embedding_dim)

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"token_embeddings": rng.uniform(-0.05, 0.05, size=(self.vocabulary_size, self.embedding_dim)),
                "position_embeddings": rng.uniform(-0.05, 0.05, size=(self.sequence_length, self.embedding_dim))}

    def _sequence_kernel(self, ops: Any) -> sequence.SequenceKernel:
        return sequence.TokenAndPositionKernel(ops)

    def _input(self, x: Any) -> Any:
        x = super()._input(x)
        _check_ids(self, x, self.vocabulary_size)
        if x.shape[1] > self.sequence_length:
            raise ValueError(_("{where} expects sequences of at most {most} token ids, per-sample shape (time,); "
                               "got {got}").format(where=self.where, most=self.sequence_length,
                                                   got=_shape(tuple(x.shape[1:]))))
        return x

    def get_config(self) -> dict[str, Any]:
        return {"vocabulary_size": self.vocabulary_size, "sequence_length": self.sequence_length,
                "embedding_dim": self.embedding_dim, "mask_zero": self.mask_zero, **super().get_config()}

    compute_mask = Embedding.compute_mask


class TransformerBlock(SequenceLayer):
    """A pre-norm transformer block for `Sequential` (GPT-2's layout; `sequence.TransformerBlockKernel`)::

        y   = x + MultiHeadAttention(num_heads, key_dim)(LN(x), LN(x), use_causal_mask=causal)
        out = y + Dense(features)(Dense(ff_dim, activation="relu")(LN(y)))

    Input and output (batch, time, features); ``causal=True`` (the default, for a language model) lets each
    step attend only to itself and the steps before it. Weights: ``ln1_gamma``, ``ln1_beta``, the attention's
    ``attention_Wq`` ... ``attention_bo`` (as MultiHeadAttention's), ``ln2_gamma``, ``ln2_beta``, ``W1``
    (features, ff_dim), ``b1``, ``W2`` (ff_dim, features), ``b2``. A padding mask (batch, time), from an
    ``Embedding``/``TokenAndPositionEmbedding(mask_zero=True)`` before it in a `Sequential` or given as
    ``block(x, mask=...)``, hides the padded steps as keys (they get no attention weight) and is passed on.
    """

    def __init__(self, num_heads: int, key_dim: int, ff_dim: int, causal: bool = True, epsilon: float = 1e-3,
                 input_shape: Sequence[int] | None = None, kernel_initializer: str = "glorot_uniform", *,
                 engine: Engine = NUMPY) -> None:
        super().__init__(input_shape, engine=engine)
        self.num_heads = _positive(num_heads, "TransformerBlock num_heads")
        self.key_dim = _positive(key_dim, "TransformerBlock key_dim")
        self.ff_dim = _positive(ff_dim, "TransformerBlock ff_dim")
        self.causal, self.epsilon = bool(causal), float(epsilon)
        self.kernel_initializer = kernel_initializer
        _initializer(kernel_initializer)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return _same_sequence_shape(self, input_shape)

    def _initial_params(self, input_shape: Shape, rng: np.random.Generator) -> dict[str, np.ndarray]:
        d, init = input_shape[-1], _initializer(self.kernel_initializer)
        attention = MultiHeadAttention(self.num_heads, self.key_dim, kernel_initializer=self.kernel_initializer)
        params = {"ln1_gamma": np.ones(d), "ln1_beta": np.zeros(d)}
        params.update({f"attention_{k}": v for k, v in attention._initial_params(input_shape, rng).items()})
        params.update({"ln2_gamma": np.ones(d), "ln2_beta": np.zeros(d), "W1": init((d, self.ff_dim), rng),
                       "b1": np.zeros(self.ff_dim), "W2": init((self.ff_dim, d), rng), "b2": np.zeros(d)})
        return params

    def _sequence_kernel(self, ops: Any) -> sequence.SequenceKernel:
        return sequence.TransformerBlockKernel(ops, self.num_heads, self.key_dim, self.epsilon)

    def _mask(self, mask: Any | None, x: Any) -> Any | None:
        """The attention mask the block's kernel takes, from the padding mask (batch, time): the causal one (1, time,
        time) and/or the padded keys hidden (batch, 1, time) -- their product where both -- or none."""
        padding = super()._mask(mask, x)  # checked, in the layer's dtype
        steps = x.shape[1]
        causal = self.engine.array(np.tril(np.ones((1, steps, steps))), self.dtype) if self.causal else None
        keys = None if padding is None else padding[:, None, :]
        if causal is None or keys is None:
            return causal if keys is None else keys
        return causal * keys

    def get_config(self) -> dict[str, Any]:
        return {"num_heads": self.num_heads, "key_dim": self.key_dim, "ff_dim": self.ff_dim, "causal": self.causal,
                "epsilon": self.epsilon, **super().get_config(), "kernel_initializer": self.kernel_initializer}


# Saved models name these classes too (see `gradbook.reference.layers.LAYERS`): registered on import,
# and `gradbook.reference` imports this module, so any model module sees them.
LAYERS.update({"Embedding": Embedding, "SimpleRNN": SimpleRNN, "LSTM": LSTM,
               "LayerNormalization": LayerNormalization, "MultiHeadAttention": MultiHeadAttention,
               "TokenAndPositionEmbedding": TokenAndPositionEmbedding, "TransformerBlock": TransformerBlock})
