"""`Sequential`: a Keras-style model on the NumPy layers (compile / fit / evaluate / predict / save).

    model = Sequential([Dense(512, activation="relu", input_shape=(784,)),
                        Dense(10, activation="softmax")], seed=0)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=128)
    loss, acc = model.evaluate(x_test, y_test)

Also ``train_on_batch(x, y)``, ``loss_and_gradients(x, y) -> (loss, grads)``
(grads keyed ``"layers.{i}.{param}"``, no update), ``summary()``,
``get_weights()/set_weights()``, ``save(path)`` and `load_model`.

Determinism: weights are drawn from ``Sequential(seed=...)``; when that is
None and the model is first built inside ``fit``, from ``fit(seed=...)``;
shuffling uses ``fit(seed=...)``. Same seeds, same data: same weights and
history. Parameters are float32 by default, ``dtype="float64"`` for gradient
checks; inputs are cast to the model's dtype (not scaled: divide by 255 yourself).

When the last layer ends in softmax (sigmoid) and the loss is categorical or
sparse (binary) cross-entropy on probabilities, the loss is computed from the
logits and backward starts from ``p - y``: no log 0, no 0/0.

Save format (shared with ``gradbook.torch_path``, so models move between
engines): ONE ``.npz`` file, read with ``allow_pickle=False``, holding

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
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from gradbook.reference import layers as layers_module
from gradbook.reference import losses as losses_module
from gradbook.reference import optimizers as optimizers_module
from gradbook.reference.layers import Layer
from gradbook.reference.losses import Loss
from gradbook.reference.optimizers import Optimizer

Array = np.ndarray
FORMAT, VERSION = "gradbook-model", 1
DTYPES = ("float32", "float64")


# ---------------------------------------------------------------- metrics

def categorical_accuracy(y_true: Array, y_pred: Array) -> float:
    return float(np.mean(np.argmax(y_pred, axis=-1) == np.argmax(y_true, axis=-1)))


def sparse_categorical_accuracy(y_true: Array, y_pred: Array) -> float:
    labels = np.asarray(y_true).reshape(y_pred.shape[:-1])
    return float(np.mean(np.argmax(y_pred, axis=-1) == labels))


def binary_accuracy(y_true: Array, y_pred: Array, threshold: float = 0.5) -> float:
    y_true = np.asarray(y_true).reshape(y_pred.shape)
    return float(np.mean((y_pred > threshold) == (y_true > 0.5)))


METRICS: dict[str, Callable[[Array, Array], float]] = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
}
_ACCURACY = ("accuracy", "acc")


def _resolve_metric(name: str, loss: Loss, output_shape: tuple[int, ...] | None) -> Callable[[Array, Array], float]:
    """'accuracy' means the accuracy that fits the loss, as in Keras."""
    if name in METRICS:
        return METRICS[name]
    if name not in _ACCURACY:
        raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join((*_ACCURACY, *METRICS))}")
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        return sparse_categorical_accuracy
    if isinstance(loss, losses_module.BinaryCrossentropy) or (output_shape is not None and output_shape[-1] == 1):
        threshold = 0.0 if loss.from_logits else 0.5  # a logit of 0 is p = 0.5
        return lambda y_true, y_pred: binary_accuracy(y_true, y_pred, threshold)
    return categorical_accuracy


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
                 name: str = "sequential") -> None:
        if str(np.dtype(dtype)) not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}; got {dtype!r}")
        self.dtype = np.dtype(dtype)
        self.seed = seed
        self.name = name
        self.layers: list[Layer] = []
        self.optimizer: Optimizer | None = None
        self.loss: Loss | None = None
        self.metrics: list[str] = []
        self._metric_fns: list[Callable[[Array, Array], float]] = []
        self.input_shape: tuple[int, ...] | None = None
        for layer in layers or []:
            self.add(layer)

    # -- building

    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a layer (e.g. layers.Dense(10)); got {layer!r}")
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
        shape = self.input_shape
        for layer in self.layers[:count]:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        return self.output_shape_of(len(self.layers)) if self.built else None

    def _prepare_input(self, x: Array, seed: int | None = None) -> Array:
        x = np.asarray(x)
        if x.dtype != self.dtype:
            x = x.astype(self.dtype)
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(...)")
        if not self.built:
            self.build(x.shape[1:], seed)
        elif x.shape[1:] != self.input_shape:
            raise ValueError(f"{self.layers[0].where} expects input of shape (n, "
                             f"{', '.join(map(str, self.input_shape))}); got {x.shape}")
        return x

    # -- compile

    def compile(self, optimizer: str | Optimizer = "rmsprop", loss: str | Loss | None = None,
                metrics: Sequence[str] | None = None) -> None:
        if loss is None:
            raise ValueError(f"compile needs a loss; valid losses: {', '.join(losses_module.LOSSES)}")
        resolved_loss = losses_module.get(loss)
        metric_fns = [_resolve_metric(m, resolved_loss, self.output_shape) for m in metrics or []]
        self.optimizer = optimizers_module.get(optimizer)  # only now: a failed compile changes nothing
        self.loss, self.metrics, self._metric_fns = resolved_loss, list(metrics or []), metric_fns

    def _fused(self) -> bool:
        last = self.layers[-1]
        activation = getattr(last, "activation", None)
        return (self.loss is not None and not self.loss.from_logits and self.loss.link is not None
                and activation is not None and activation.name == self.loss.link)

    # -- the three passes

    def _forward(self, x: Array, training: bool) -> Array:
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def _loss_and_backward(self, targets: Array, out: Array, backward: bool) -> float:
        """The batch loss of the last forward; with ``backward``, every layer's ``grads`` too."""
        last = self.layers[-1]
        if self._fused():
            value, dz = self.loss.value_and_gradient_from_logits(targets, last.logits, prepared=True)
            if not backward:
                return value
            d = last.backward_preactivation(dz, input_grad=len(self.layers) > 1)
        else:
            value, dout = self.loss.value_and_gradient(targets, out, prepared=True)
            if not backward:
                return value
            d = last.backward(dout, input_grad=len(self.layers) > 1)
        for i in range(len(self.layers) - 2, -1, -1):
            d = self.layers[i].backward(d, input_grad=i > 0)
        return value

    def _parameters(self) -> tuple[dict[str, Array], dict[str, Array]]:
        params, grads = {}, {}
        for i, layer in enumerate(self.layers):
            for k, p in layer.params.items():
                params[f"layers.{i}.{k}"] = p
                grads[f"layers.{i}.{k}"] = layer.grads[k]
        return params, grads

    def _targets(self, x: Array, y: Array) -> Array:
        if len(x) != len(y):
            raise ValueError(f"x and y have different numbers of samples: {len(x)} and {len(y)}")
        prepared = self.loss.prepare_target(y, (len(y), *self.output_shape))
        return prepared.astype(self.dtype) if prepared.dtype != self.dtype else prepared

    def _require_compiled(self, what: str) -> None:
        if self.loss is None:
            raise RuntimeError(f"call model.compile(optimizer=..., loss=...) before model.{what}(...)")

    # -- one batch

    def loss_and_gradients(self, x: Array, y: Array) -> tuple[float, dict[str, Array]]:
        """The loss on one batch and its gradients, keyed ``"layers.{i}.{param}"`` (no update)."""
        self._require_compiled("loss_and_gradients")
        x = self._prepare_input(x)
        value = self._loss_and_backward(self._targets(x, y), self._forward(x, training=True), backward=True)
        return value, {k: g.copy() for k, g in self._parameters()[1].items()}

    def train_on_batch(self, x: Array, y: Array) -> float | list[float]:
        """One optimiser step on one batch; the loss (and metrics) before the step, as in Keras."""
        self._require_compiled("train_on_batch")
        x = self._prepare_input(x)
        y = np.asarray(y)
        values = self._train_step(x, y, self._targets(x, y))
        return values if self.metrics else values[0]

    def _train_step(self, x: Array, y: Array, targets: Array) -> list[float]:
        out = self._forward(x, training=True)
        values = [self._loss_and_backward(targets, out, backward=True)]
        values += [metric(y, out) for metric in self._metric_fns]
        self.optimizer.step(*self._parameters())
        return values

    # -- fit / evaluate / predict

    def fit(self, x: Array, y: Array, epochs: int = 1, batch_size: int = 32,
            validation_data: tuple[Array, Array] | None = None, shuffle: bool = True,
            seed: int | None = None, verbose: int = 1) -> History:
        """Train for ``epochs`` passes over (x, y) in mini-batches; a tqdm bar per epoch unless verbose=0."""
        from tqdm.auto import tqdm

        self._require_compiled("fit")
        x = self._prepare_input(x, seed)
        y = np.asarray(y)
        targets = self._targets(x, y)
        rng = np.random.default_rng(seed)
        n = len(x)
        steps = -(-n // batch_size)
        names, history = self._new_history(epochs, steps, batch_size, validation_data is not None)
        for epoch in range(epochs):
            order = rng.permutation(n) if shuffle else None
            totals = np.zeros(len(names))
            seen = 0
            bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="batch",
                       disable=not verbose, leave=True)
            for start in range(0, n, batch_size):
                index = order[start:start + batch_size] if shuffle else slice(start, start + batch_size)
                xb = x[index]
                values = self._train_step(xb, y[index], targets[index])
                totals += np.multiply(values, len(xb))
                seen += len(xb)
                if verbose:
                    bar.set_postfix({k: f"{v / seen:.4f}" for k, v in zip(names, totals)}, refresh=False)
                    bar.update()
            self._end_epoch(history, epoch, totals / seen, validation_data, batch_size, bar, verbose)
        return history

    def _new_history(self, epochs: int, steps: int, batch_size: int, validation: bool) -> tuple[list[str], History]:
        """The names `fit` tracks (loss, then metrics) and an empty Keras-style history for them."""
        names = ["loss", *self.metrics]
        history = History({k: [] for k in names}, [], {"epochs": epochs, "steps": steps, "batch_size": batch_size})
        if validation:
            history.history.update({f"val_{k}": [] for k in names})
        return names, history

    def _end_epoch(self, history: History, epoch: int, means: Sequence[float],
                   validation_data: tuple[Array, Array] | None, batch_size: int, bar: Any, verbose: int) -> None:
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

    def evaluate(self, x: Array, y: Array, batch_size: int = 32, verbose: int = 0) -> float | list[float]:
        """The loss over (x, y), or [loss, *metrics] when compiled with metrics (Keras' return value)."""
        from tqdm.auto import tqdm

        self._require_compiled("evaluate")
        x = self._prepare_input(x)
        y = np.asarray(y)
        targets = self._targets(x, y)
        totals = np.zeros(1 + len(self._metric_fns))
        for start in tqdm(range(0, len(x), batch_size), disable=not verbose, desc="evaluate", unit="batch"):
            xb, yb, tb = x[start:start + batch_size], y[start:start + batch_size], targets[start:start + batch_size]
            out = self._forward(xb, training=False)
            values = [self._loss_and_backward(tb, out, backward=False)]
            values += [metric(yb, out) for metric in self._metric_fns]
            totals += np.multiply(values, len(xb))
        results = [float(v / len(x)) for v in totals]
        return results if self.metrics else results[0]

    def predict(self, x: Array, batch_size: int = 32, verbose: int = 0) -> Array:
        """The model's outputs for ``x``, computed ``batch_size`` samples at a time."""
        from tqdm.auto import tqdm

        x = self._prepare_input(x)
        out = np.empty((len(x), *self.output_shape), self.dtype)
        for start in tqdm(range(0, len(x), batch_size), disable=not verbose, desc="predict", unit="batch"):
            out[start:start + batch_size] = self._forward(x[start:start + batch_size], training=False)
        return out

    # -- weights, summary, save

    def count_params(self) -> int:
        return sum(layer.count_params() for layer in self.layers)

    def get_weights(self) -> list[Array]:
        """Copies of every parameter, layer by layer (Dense: W, b), as in Keras."""
        return [p.copy() for layer in self.layers for p in layer.params.values()]

    def set_weights(self, weights: Sequence[Array]) -> None:
        params = [(layer, k, p) for layer in self.layers for k, p in layer.params.items()]
        if len(weights) != len(params):
            raise ValueError(f"set_weights expects {len(params)} arrays; got {len(weights)}")
        for (layer, k, p), w in zip(params, weights):
            w = np.asarray(w)
            if w.shape != p.shape:
                raise ValueError(f"{layer.where} weight {k!r} has shape {p.shape}; got {w.shape}")
            p[...] = w  # in place: the optimiser's state stays attached to the same arrays

    def summary(self, print_fn: Callable[[str], None] = print) -> None:
        if not self.built:
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
            "input_shape": list(self.input_shape) if self.built else None,
            "layers": [{"class": layers_module.layer_class_name(layer), "config": layer.get_config()}
                       for layer in self.layers],
        }
        if self.loss is not None:
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
        arrays = {f"layers.{i}.{k}": p for i, layer in enumerate(self.layers) for k, p in layer.params.items()}
        with open(path, "wb") as f:  # a file object, so numpy does not append '.npz' to the name
            np.savez(f, __config__=np.array(json.dumps(self.get_config())), **arrays)


def load_model(path: str | os.PathLike) -> Sequential:
    """Read a model written by ``Sequential.save`` (either engine)."""
    with np.load(path, allow_pickle=False) as data:
        if "__config__" not in data.files:
            raise ValueError(f"{path} is not a gradbook model: it has no __config__ entry")
        config = json.loads(str(data["__config__"]))
        if config.get("format") != FORMAT or config.get("version") != VERSION:
            raise ValueError(f"{path}: expected format {FORMAT!r} version {VERSION}; "
                             f"got {config.get('format')!r} version {config.get('version')!r}")
        model = Sequential([layers_module.from_config(entry) for entry in config["layers"]], dtype=config["dtype"])
        if not model.built and config.get("input_shape") is not None:
            model.build(config["input_shape"])
        for i, layer in enumerate(model.layers):
            for k, p in layer.params.items():
                saved = data[f"layers.{i}.{k}"]
                if saved.shape != p.shape:
                    raise ValueError(f"{path}: {layer.where} weight {k!r} has shape {saved.shape}; expected {p.shape}")
                p[...] = saved
    if "compile" in config:
        c = config["compile"]
        model.compile(optimizers_module.from_config(c["optimizer"]), losses_module.from_config(c["loss"]),
                      c.get("metrics"))
    return model
