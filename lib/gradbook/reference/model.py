"""`Sequential`: a Keras-style model on the NumPy layers (compile / fit / evaluate / predict / save).

    model = Sequential([Dense(512, activation="relu", input_shape=(784,)),
                        Dense(10, activation="softmax")], seed=0)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=128)
    loss, acc = model.evaluate(x_test, y_test)

Also ``train_on_batch(x, y)``, ``loss_and_gradients(x, y) -> (loss, grads)``
(grads keyed ``"layers.{i}.{param}"``, no update), ``summary()``,
``get_weights()/set_weights()``, ``save(path)`` and `load_model`.

One class for every engine: the model holds an `engine` (NumPy by default; torch
for ``gradbook.torch_path.models.Sequential`` or ``models.Sequential(..., device=)``)
and so do its layers, loss and optimiser, which it moves onto its own engine.
Everything here is engine-free bookkeeping; the engine computes, and differentiates
a step its own way: NumPy runs each layer's hand-written backward (`_backprop`),
torch takes one autograd pass over the whole batch loss (`_batch_loss`). Data,
targets and the loss and metric sums stay on the engine (a GPU) and are read once
per epoch. ``to(engine or device)`` moves a model; ``to_reference()`` copies it to NumPy.

Determinism: weights are drawn from ``Sequential(seed=...)``; when that is
None and the model is first built inside ``fit``, from ``fit(seed=...)``;
shuffling uses ``fit(seed=...)``. Same seeds, same data: same weights and
history. Parameters are float32 by default, ``dtype="float64"`` for gradient
checks; inputs are cast to the model's dtype (not scaled: divide by 255 yourself).

When the last layer ends in softmax (sigmoid) and the loss is categorical or
sparse (binary) cross-entropy on probabilities, the loss is computed from the
logits and backward starts from ``p - y``: no log 0, no 0/0.

Save format (the same on every engine, so models move between engines): ONE ``.npz`` file, read with ``allow_pickle=False``, holding

* ``__config__``: a 0-d unicode array whose text is JSON::

      {"format": "gradbook-model", "version": 1, "dtype": "float32",
       "input_shape": [784],                        # per sample, no batch axis
       "layers": [{"class": "Dense",
                   "config": {"units": 512, "activation": "relu",
                              "input_shape": [784],
                              "kernel_initializer": "glorot_uniform"}}, ...],
       "compile": {"optimizer": {"class": "RMSprop", "config": {"learning_rate": 0.001, ...}},
                   "loss": {"name": "categorical_crossentropy", "from_logits": false},
                   "metrics": ["accuracy"]}}       # "compile" only if compiled

  Layer classes and their config keys: Dense (units, activation, input_shape,
  kernel_initializer); Conv2D (filters, kernel_size [kh, kw], strides [sh, sw],
  padding "valid" | "same" | int, activation, input_shape, kernel_initializer);
  MaxPool2D (pool_size [ph, pw], strides [sh, sw], input_shape); Flatten
  (input_shape); Activation (activation, input_shape). ``input_shape`` is the
  layer's per-sample input shape (NCHW images: [C, H, W]).
* ``layers.{i}.{param}``: the weights of layer ``i``: Dense ``W`` (in, out) and
  ``b`` (out,); Conv2D ``W`` (out_c, in_c, kh, kw) and ``b`` (out_c,).

Optimiser state (momenta, velocities) is not saved.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from gradbook.i18n import _
from gradbook.reference import layers as layers_module
from gradbook.reference import losses as losses_module
from gradbook.reference import optimizers as optimizers_module
from gradbook.reference.engine import Engine, Params, Step, resolve
from gradbook.reference.layers import Layer
from gradbook.reference.losses import Loss
from gradbook.reference.numpy_engine import NUMPY
from gradbook.reference.optimizers import Optimizer

Array = Any  # the engine's array
FORMAT, VERSION = "gradbook-model", 1
DTYPES = ("float32", "float64")


# ---------------------------------------------------------------- metrics

# (targets, y_pred) -> the metric summed over the batch's samples. Sums: fit adds them up and divides
# once per epoch. Written in the array methods NumPy and torch share (argmax(-1), sum(), reshape,
# comparisons), so they run on either engine's arrays, on its device.
Metric = Callable[[Array, Array], Array]


def _per_sample(hits: Array) -> Array:
    """The sum over samples of each sample's mean hit rate (a count when a sample is one prediction)."""
    total = hits.sum()
    return total if hits.ndim <= 1 else total / (math.prod(hits.shape) // hits.shape[0])


def categorical_accuracy(y_true: Array, y_pred: Array) -> Array:
    return _per_sample(y_pred.argmax(-1) == y_true.argmax(-1))


def sparse_categorical_accuracy(y_true: Array, y_pred: Array) -> Array:
    return _per_sample(y_pred.argmax(-1) == y_true.reshape(y_pred.shape[:-1]))


def binary_accuracy(y_true: Array, y_pred: Array, threshold: float = 0.5) -> Array:
    return _per_sample((y_pred > threshold) == (y_true.reshape(y_pred.shape) > 0.5))


METRICS: dict[str, Metric] = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
}
# Softmax keeps the order of the logits, so these may read the logits and skip the softmax in training.
RANK_METRICS = (categorical_accuracy, sparse_categorical_accuracy)
_ACCURACY = ("accuracy", "acc")


class Perplexity:
    """A language model's perplexity: e to the mean cross-entropy per predicted token (keras_nlp's Perplexity).

    The loss's own cross-entropy (sparse or one-hot, probabilities or logits as compiled), summed over the
    batch like every metric; `finish` turns the epoch's mean into e^mean. A model that always gives the
    right token probability 1 has perplexity 1; one that guesses uniformly among k tokens, k.
    """

    def __init__(self, loss: Loss) -> None:
        if loss.name not in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
            raise ValueError(_("perplexity needs a cross-entropy loss (sparse_categorical_crossentropy or "
                               "categorical_crossentropy); the model is compiled with {loss}").format(loss=loss.name))
        self.loss = loss

    def __call__(self, y_true: Array, y_pred: Array) -> Array:
        return self.loss.value(y_true, y_pred) * y_pred.shape[0]  # the batch's mean cross-entropy, as a sum

    @staticmethod
    def finish(mean_cross_entropy: float) -> float:
        return math.exp(mean_cross_entropy)


def _resolve_metric(name: str, loss: Loss, output_shape: tuple[int, ...] | None) -> Metric:
    """'accuracy' means the accuracy that fits the loss, as in Keras."""
    if name in METRICS:
        return METRICS[name]
    if name == "perplexity":
        return Perplexity(loss)
    if name not in _ACCURACY:
        raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join((*_ACCURACY, *METRICS, 'perplexity'))}")
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        return sparse_categorical_accuracy
    if isinstance(loss, losses_module.BinaryCrossentropy) or (output_shape is not None and output_shape[-1] == 1):
        threshold = 0.0 if loss.from_logits else 0.5  # a logit of 0 is p = 0.5
        return lambda y_true, y_pred: binary_accuracy(y_true, y_pred, threshold)
    return categorical_accuracy


# ---------------------------------------------------------------- padding masks

# Keras' mask propagation: an Embedding(mask_zero=True) makes a padding mask from its token ids
# (`compute_mask`), the sequence layers after it take it (`supports_masking`) and pass it on while they
# keep the time axis; any other layer drops it.

# A layer with no rule of its own (Dense, Dropout, an activation) keeps the mask while its output keeps the
# input's (batch, time) axes, as Keras' Dense does; so the mask reaches the loss and the metrics, which then
# count only the real steps (`_real`).

def _mask_argument(layer: Layer, mask: Array | None) -> dict[str, Array]:
    return {"mask": mask} if mask is not None and getattr(layer, "supports_masking", False) else {}


def _output_mask(layer: Layer, x: Array, out: Array, mask: Array | None) -> Array | None:
    """The padding mask after ``layer`` for its input ``x`` and output ``out``."""
    compute = getattr(layer, "compute_mask", None)
    if compute is not None:
        return compute(x, mask)
    keeps_steps = mask is not None and len(out.shape) >= 3 and tuple(out.shape[:2]) == tuple(mask.shape)
    return mask if keeps_steps else None


def _through(layer: Layer, x: Array, mask: Array | None, forward: bool = False) -> tuple[Array, Array | None]:
    """``layer``'s output for ``x`` (its `call`, or its `forward` keeping the cache) and the mask after it."""
    out = (layer.forward if forward else layer.call)(x, **_mask_argument(layer, mask))
    return out, _output_mask(layer, x, out, mask)


def _padded(mask: Array | None, d: Array, like: Array) -> Array:
    """A gradient over the real steps (from `_real`) back in ``like``'s shape: 0 at the padded steps."""
    if mask is None:
        return d
    full = like * 0
    full[mask != 0] = d
    return full


def _real(mask: Array | None, *arrays: Array) -> tuple[Array, ...]:
    """The arrays' real steps only, ``a[mask]`` (one row per real step), or the arrays as they are without a mask:
    the loss over them is the mean over real steps, and padded steps get no gradient."""
    if mask is None:
        return arrays
    keep = mask != 0
    return tuple(a[keep] for a in arrays)


def _all_padding(mask: Array | None) -> bool:
    """A batch of padding only: the mean over its real steps would be 0/0. Keras' masked loss divides with
    `divide_no_nan`: 0, and no gradient, as nothing in the batch is to be learnt."""
    return mask is not None and not bool((mask != 0).any())


def _nothing_to_learn(out: Array) -> Array:
    """The loss of a batch of padding only: 0, still a function of the output (autograd finds zero gradients)."""
    return (out * 0).sum()


# ---------------------------------------------------------------- History

@dataclass
class History:
    """What ``fit`` returns: ``history["loss"][epoch]`` etc., as in Keras."""

    history: dict[str, list[float]] = field(default_factory=dict)
    epoch: list[int] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- Sequential

class Sequential:
    def __init__(self, layers: Sequence[Layer] | None = None, dtype: str = "float32", seed: int | None = None,
                 name: str = "sequential", *, engine: Engine = NUMPY) -> None:
        if str(np.dtype(dtype)) not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.name = name
        self.engine = engine
        self.layers: list[Layer] = []
        self.optimizer: Optimizer | None = None
        self.loss: Loss | None = None
        self.metrics: list[str] = []
        self._metric_fns: list[Metric] = []
        self._metrics_read_logits = False
        self._last_mask: Array | None = None  # the padding mask at the output of the last batch (see `_real`)
        self.input_shape: tuple[int, ...] | None = None
        for layer in layers or []:
            self.add(layer)

    @property
    def device(self) -> Any:
        """Where the model computes: "cpu" on NumPy, a torch.device on torch."""
        return self.engine.device

    # -- building

    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer (e.g. layers.Dense(10)); got {layer!r}")
        layer.to(self.engine)  # a layer made for another engine or device comes over with its weights
        layer.where = f"layer {len(self.layers)} ({type(layer).__name__})"
        self.layers.append(layer)
        if len(self.layers) == 1 and layer.input_shape is not None:
            self.build(layer.input_shape)
        elif self.built:
            self._build_layer(layer, self.output_shape_of(len(self.layers) - 1), self._rng)

    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def build(self, input_shape: Sequence[int], seed: int | None = None) -> None:
        """Create every layer's weights for per-sample inputs of ``input_shape`` (no batch axis)."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self._rng = np.random.default_rng(self.seed if self.seed is not None else seed)
        shape = self.input_shape
        for layer in self.layers:
            shape = self._build_layer(layer, shape, self._rng)

    def _build_layer(self, layer: Layer, shape: tuple[int, ...], rng: np.random.Generator) -> tuple[int, ...]:
        if not layer.built:
            layer.build(shape, rng, self.dtype)
        elif layer.input_shape != tuple(shape):
            raise ValueError(f"{layer.where} was built for inputs {layer.input_shape}; "
                             f"the layer before it gives {tuple(shape)}")
        return layer.compute_output_shape(shape)

    def output_shape_of(self, count: int) -> tuple[int, ...]:
        """The per-sample output shape after the first ``count`` layers."""
        shape = self.input_shape or ()
        for layer in self.layers[:count]:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.output_shape_of(len(self.layers)) if self.built else None

    def _prepare_input(self, x: Any, seed: int | None = None) -> Array:
        """``x`` as the engine's array in the model's dtype (building the model on its first input)."""
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(...)")
        x = self.engine.array(x)
        if not self.built:
            self.build(tuple(x.shape[1:]), seed)
        layers_module.check_input_shape(self.layers[0].where, self.input_shape, tuple(x.shape))
        return self.engine.array(x, self.dtype)

    # -- compile

    def compile(self, optimizer: str | Optimizer = "rmsprop", loss: str | Loss | None = None,
                metrics: Sequence[str] | None = None) -> None:
        """As Keras; an optimiser or loss object made for another engine is moved onto the model's."""
        if loss is None:
            raise ValueError(f"compile needs a loss; valid losses: {', '.join(losses_module.LOSSES)}")
        resolved_loss = losses_module.get(loss)
        metric_fns = [_resolve_metric(m, resolved_loss, self.output_shape) for m in metrics or []]
        self.optimizer = optimizers_module.get(optimizer, self.engine)  # only now: a failed compile changes nothing
        self.loss, self.metrics, self._metric_fns = resolved_loss.to(self.engine), list(metrics or []), metric_fns
        self._metrics_read_logits = all(fn in RANK_METRICS for fn in metric_fns)

    def _compiled(self, what: str) -> tuple[Loss, Optimizer]:
        if self.loss is None or self.optimizer is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before model.{what}(...)")
        return self.loss, self.optimizer

    def _fused(self) -> bool:
        """Whether the loss is computed from the last layer's logits (softmax or sigmoid + its cross-entropy)."""
        loss = self.loss
        return (loss is not None and not loss.from_logits and loss.link is not None
                and self.layers[-1].activation.name == loss.link)

    # -- one batch: the loss, and its gradients

    def _batch_loss(self, x: Array, targets: Array, want_output: bool) -> tuple[Array, Array | None]:
        """The batch loss and, if wanted, what the metrics read: the output, or the logits when they rank alike.

        Through each layer's `call`: differentiable by an engine with autograd."""
        loss, _ = self._compiled("fit")
        logits_will_do = want_output and self._metrics_read_logits
        *hidden, last = self.layers
        mask = None
        for layer in hidden:
            x, mask = _through(layer, x, mask)
        if not self._fused():
            out, self._last_mask = _through(last, x, mask)
            if _all_padding(self._last_mask):
                return _nothing_to_learn(out), out
            return loss.value(*_real(self._last_mask, targets, out)), out
        z = last.affine(x)
        self._last_mask = _output_mask(last, x, z, mask)
        value = (_nothing_to_learn(z) if _all_padding(self._last_mask)
                 else loss.value_from_logits(*_real(self._last_mask, targets, z)))
        if logits_will_do:
            return value, z
        return value, last.activation(z) if want_output else None

    def _backprop(self, x: Array, targets: Array) -> Step:
        """The batch loss, the output and the gradients, by each layer's own backward pass (the CS231n contract)."""
        loss, _ = self._compiled("fit")
        *hidden, last = self.layers
        out, mask = x, None
        for layer in hidden:
            out, mask = _through(layer, out, mask, forward=True)
        # When the loss starts from the logits and the metrics rank them alike, the last activation (a softmax)
        # would be computed for nothing: for speed, train through the logits. (Not for a layer with its own
        # forward, which may take a mask: the sequence layers.)
        if (self._fused() and self._metrics_read_logits and not _mask_argument(last, mask)
                and type(last).forward is Layer.forward):
            x_last, out = out, last.forward_logits(out)
            mask = _output_mask(last, x_last, out, mask)
        else:
            out, mask = _through(last, out, mask, forward=True)
        self._last_mask = mask
        below = len(self.layers) > 1
        nothing = _all_padding(mask)
        if self._fused():
            value, dz = ((_nothing_to_learn(out), last.logits[mask != 0]) if nothing else
                         loss.value_and_gradient_from_logits(*_real(mask, targets, last.logits), prepared=True))
            d = last.backward_preactivation(_padded(mask, dz, last.logits), input_grad=below)
        else:
            value, dout = ((_nothing_to_learn(out), out[mask != 0]) if nothing else
                           loss.value_and_gradient(*_real(mask, targets, out), prepared=True))
            d = last.backward(_padded(mask, dout, out), input_grad=below)
        for i in range(len(self.layers) - 2, -1, -1):
            d = self.layers[i].backward(d, input_grad=i > 0)
        return value, out, self._named("grads")

    def _gradients(self, params: Params, x: Array, targets: Array, want_output: bool) -> Step:
        return self.engine.gradients(lambda: self._batch_loss(x, targets, want_output),
                                     lambda: self._backprop(x, targets), params)

    def _named(self, what: str = "params") -> dict[str, Array]:
        """Every layer's ``params`` (or ``grads``), keyed ``"layers.{i}.{name}"`` (the save format's keys)."""
        return {f"layers.{i}.{k}": v for i, layer in enumerate(self.layers) for k, v in getattr(layer, what).items()}

    def _data(self, x: Any, y: Any, seed: int | None = None) -> tuple[Array, Array]:
        """Inputs and targets on the engine, once; the loss checks the targets (and keeps labels labels)."""
        loss, _ = self._compiled("fit")
        x = self._prepare_input(x, seed)
        y = self.engine.to_numpy(y)
        if len(x) != len(y):
            raise ValueError(f"x and y have different numbers of samples: {len(x)} and {len(y)}")
        prepared = loss.prepare_target(y, (len(y), *self.output_shape_of(len(self.layers))))
        return x, self.engine.array(prepared, loss.target_dtype(self.dtype))

    def loss_and_gradients(self, x: Any, y: Any) -> tuple[float, dict[str, np.ndarray]]:
        """The loss on one batch and its gradients as NumPy arrays, keyed ``"layers.{i}.{param}"`` (no update)."""
        self._compiled("loss_and_gradients")
        x, targets = self._data(x, y)
        value, _, grads = self._gradients(self._named(), x, targets, want_output=False)
        return float(self.engine.to_numpy(value)), {k: self.engine.to_numpy(g).copy() for k, g in grads.items()}

    def train_on_batch(self, x: Any, y: Any) -> float | list[float]:
        """One optimiser step on one batch; the loss (and metrics) before the step, as in Keras."""
        self._compiled("train_on_batch")
        x, targets = self._data(x, y)
        sums = self.engine.sums(1 + len(self._metric_fns))
        self._train_epoch(self._named(), x, targets, max(len(x), 1), None, sums)
        values = self._means(sums, len(x))
        return values if self.metrics else values[0]

    # -- fit / evaluate / predict

    def fit(self, x: Any, y: Any, epochs: int = 1, batch_size: int = 32,
            validation_data: tuple[Any, Any] | None = None, shuffle: bool = True,
            seed: int | None = None, verbose: int = 1) -> History:
        """Train for ``epochs`` passes over (x, y) in mini-batches; a tqdm bar per epoch unless verbose=0.

        ``seed`` seeds the shuffling (and the weights, when the model is first built here). Each
        engine draws its own orders: the same seed gives the same batches on one engine, not across.
        """
        from tqdm.auto import tqdm

        self._compiled("fit")
        x, targets = self._data(x, y, seed)
        n = len(x)
        steps = -(-n // batch_size)
        names, history = self._new_history(epochs, steps, batch_size, validation_data is not None)
        permutation = self.engine.shuffler(seed)
        params = self._named()
        with self.engine.fitting():
            for epoch in range(epochs):
                sums = self.engine.sums(len(names))
                bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="batch",
                           disable=not verbose, leave=True)
                order = permutation(n) if shuffle else None
                self._train_epoch(params, x, targets, batch_size, order, sums, bar.update)
                means = self._means(sums, n)  # the one read of the epoch
                self._end_epoch(history, epoch, means, validation_data, batch_size, bar, verbose)
        return history

    def _train_epoch(self, params: Params, x: Array, targets: Array, batch_size: int, order: Array | None,
                     sums: Array, progress: Callable[[], object] = lambda: None) -> None:
        """One pass over the data in ``order`` (None: as it lies), adding loss and metric sums to ``sums``.

        Nothing here reads a value back from the engine, so on a GPU Python queues the
        kernels of the next steps while the current one runs.
        """
        _, optimizer = self._compiled("fit")
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
            xb, tb = x[batch], targets[batch]  # a slice is a view; an index gathers on the device
            loss, out, grads = self._gradients(params, xb, tb, bool(self._metric_fns))
            optimizer.step(params, grads)
            with self.engine.inference():
                self._add_batch_sums(sums, loss, tb, out, len(xb))
            progress()

    def _add_batch_sums(self, sums: Array, loss: Array, targets: Array, out: Array | None, size: int) -> None:
        """Add a batch's loss (times its size) and metric sums to ``sums``, on the engine."""
        self.engine.add_to(sums, 0, loss, size)
        mask = self._last_mask
        if self._metric_fns and _all_padding(mask):  # no real step: the metrics, as the loss, count nothing
            return
        for i, metric in enumerate(self._metric_fns, start=1):
            if mask is None:
                self.engine.add_to(sums, i, metric(targets, out))
            else:  # the mean over the batch's real steps, counted ``size`` times like the loss
                self.engine.add_to(sums, i, metric(*_real(mask, targets, out)) * (size / (mask != 0).sum()))

    def _means(self, sums: Array, n: int) -> list[float]:
        """The loss and metrics from their sums over ``n`` samples (read back once); a metric that is not a mean
        (perplexity: e to the mean cross-entropy) is finished from its mean."""
        means = (sums / n).tolist()
        return [means[0], *(getattr(fn, "finish", float)(m) for fn, m in zip(self._metric_fns, means[1:]))]

    def _new_history(self, epochs: int, steps: int, batch_size: int, validation: bool) -> tuple[list[str], History]:
        """The names `fit` tracks (loss, then metrics) and an empty Keras-style history for them."""
        names = ["loss", *self.metrics]
        history = History({k: [] for k in names}, [], {"epochs": epochs, "steps": steps, "batch_size": batch_size})
        if validation:
            history.history.update({f"val_{k}": [] for k in names})
        return names, history

    def _end_epoch(self, history: History, epoch: int, means: Sequence[float],
                   validation_data: tuple[Any, Any] | None, batch_size: int, bar: Any, verbose: int) -> None:
        """Record an epoch's mean loss and metrics (and validation figures), and close its progress bar."""
        names = ["loss", *self.metrics]
        for k, v in zip(names, means):
            history.history[k].append(float(v))
        if validation_data is not None:
            val = self.evaluate(*validation_data, batch_size=batch_size)
            for k, v in zip(names, np.atleast_1d(val)):
                history.history[f"val_{k}"].append(float(v))
        if verbose:
            bar.set_postfix({k: f"{v[-1]:.4f}" for k, v in history.history.items()}, refresh=False)
        bar.close()
        history.epoch.append(epoch)

    def evaluate(self, x: Any, y: Any, batch_size: int = 32, verbose: int = 0) -> float | list[float]:
        """The loss over (x, y), or [loss, *metrics] when compiled with metrics (Keras' return value)."""
        from tqdm.auto import tqdm

        self._compiled("evaluate")
        with self.engine.inference():
            x, targets = self._data(x, y)
            sums = self.engine.sums(1 + len(self._metric_fns))
            for start in tqdm(range(0, len(x), batch_size), disable=not verbose, desc="evaluate", unit="batch"):
                batch = slice(start, start + batch_size)
                loss, out = self._batch_loss(x[batch], targets[batch], bool(self._metric_fns))
                self._add_batch_sums(sums, loss, targets[batch], out, len(x[batch]))
            results = self._means(sums, len(x))
        return results if self.metrics else results[0]

    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs for ``x`` as a NumPy array, computed ``batch_size`` samples at a time."""
        return self.engine.to_numpy(self.predict_tensor(x, batch_size, verbose))

    def predict_tensor(self, x: Any, batch_size: int = 32, verbose: int = 0) -> Array:
        """As `predict`, but the engine's array, left where it is (on the GPU, for the torch path)."""
        from tqdm.auto import tqdm

        with self.engine.inference():
            x = self._prepare_input(x)
            out = self.engine.empty((len(x), *self.output_shape_of(len(self.layers))), self.dtype)
            for start in tqdm(range(0, len(x), batch_size), disable=not verbose, desc="predict", unit="batch"):
                batch, mask = x[start:start + batch_size], None
                for layer in self.layers:
                    batch, mask = _through(layer, batch, mask)
                out[start:start + batch_size] = batch
        return out

    # -- weights, summary, config, engines

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter as NumPy arrays, layer by layer (Dense: W, b), as in Keras."""
        return [self.engine.to_numpy(p).copy() for p in self._named().values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every parameter from arrays, in place (the optimiser's state stays attached)."""
        params = [(layer, k, p) for layer in self.layers for k, p in layer.params.items()]
        if len(weights) != len(params):
            raise ValueError(f"set_weights expects {len(params)} arrays; got {len(weights)}")
        for (layer, k, p), w in zip(params, weights):
            if tuple(np.shape(w)) != tuple(p.shape):
                raise ValueError(f"{layer.where} weight {k!r} has shape {tuple(p.shape)}; got {tuple(np.shape(w))}")
        for (_, _, p), w in zip(params, weights):
            self.engine.assign(p, w)

    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        if self.input_shape is None:
            raise ValueError("the model is not built yet: give the first layer an input_shape, or call fit/predict")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            shape = layer.compute_output_shape(shape)
            rows.append((f"{type(layer).__name__.lower()}_{i} ({type(layer).__name__})",
                         str((None, *shape)), f"{layer.count_params():,}"))
        widths = [max(len(r[c]) for r in rows) + 3 for c in range(3)]
        line = "─" * sum(widths)
        text = [f'Model: "{self.name}"', line, "".join(f"{c:<{w}}" for c, w in zip(rows[0], widths)), line]
        text += ["".join(f"{c:<{w}}" for c, w in zip(r, widths)) for r in rows[1:]]
        text += [line, f"Total params: {self.count_params():,}", line]
        print_fn("\n".join(text))

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "format": FORMAT, "version": VERSION, "dtype": str(self.dtype),
            "input_shape": list(self.input_shape) if self.input_shape is not None else None,
            "layers": [{"class": layers_module.layer_class_name(layer), "config": layer.get_config()}
                       for layer in self.layers],
        }
        if self.loss is not None and self.optimizer is not None:
            config["compile"] = {
                "optimizer": {"class": type(self.optimizer).__name__, "config": self.optimizer.get_config()},
                "loss": self.loss.get_config(),
                "metrics": self.metrics,
            }
        return config

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ONE .npz file (format in this module's docstring)."""
        if not self.built:
            raise ValueError("the model is not built yet, so it has no weights to save")
        arrays = {k: self.engine.to_numpy(p) for k, p in self._named().items()}
        with open(path, "wb") as f:  # a file object, so numpy does not append '.npz' to the name
            np.savez(f, __config__=np.array(json.dumps(self.get_config())), **arrays)

    def to(self, target: Engine | Any) -> Sequential:
        """Move the model (weights, optimiser state) to an engine, or a device of its engine (in place; returns it)."""
        self.engine = resolve(self.engine, target)
        for layer in self.layers:
            layer.to(self.engine)
        for part in (self.optimizer, self.loss):
            if part is not None:
                part.to(self.engine)
        return self

    def to_reference(self) -> Sequential:
        """A copy on the NumPy engine: layers, weights, compile settings (not the optimiser's state)."""
        copy = _assemble(self.get_config(), {k: self.engine.to_numpy(p) for k, p in self._named().items()},
                         NUMPY, "the model")
        copy.seed, copy.name = self.seed, self.name
        return copy


def _assemble(config: dict[str, Any], weights: Any, engine: Engine, source: str) -> Sequential:
    """A model on ``engine`` from its config and its weights by name (the save format)."""
    model = Sequential([layers_module.from_config(entry, engine) for entry in config["layers"]],
                       dtype=config["dtype"], engine=engine)
    if not model.built and config.get("input_shape") is not None:
        model.build(config["input_shape"])
    for i, layer in enumerate(model.layers):
        for k, p in layer.params.items():
            saved = weights[f"layers.{i}.{k}"]
            if saved.shape != tuple(p.shape):
                raise ValueError(f"{source}: {layer.where} weight {k!r} has shape {saved.shape}; "
                                 f"expected {tuple(p.shape)}")
            engine.assign(p, saved)
    if "compile" in config:
        c = config["compile"]
        model.compile(optimizers_module.from_config(c["optimizer"], engine),
                      losses_module.from_config(c["loss"], engine), c.get("metrics"))
    return model


def load_model(path: str | os.PathLike, engine: Engine = NUMPY) -> Sequential:
    """Read a model written by ``Sequential.save`` (on any engine) onto ``engine``."""
    with np.load(path, allow_pickle=False) as data:
        if "__config__" not in data.files:
            raise ValueError(f"{path} is not a gradbook model: it has no __config__ entry")
        config = json.loads(str(data["__config__"]))
        if config.get("format") != FORMAT or config.get("version") != VERSION:
            raise ValueError(f"{path}: expected format {FORMAT!r} version {VERSION}; "
                             f"got {config.get('format')!r} version {config.get('version')!r}")
        return _assemble(config, data, engine, str(path))
