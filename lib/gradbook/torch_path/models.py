"""`Sequential` on the torch path: the reference model's API, trained on the device without host syncs.

    from gradbook.torch_path import models, layers
    model = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10, activation="softmax")], seed=0, device="auto")
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=5, batch_size=128)

It subclasses the reference `Sequential`, so building, seeds (the same seed gives
the same initial weights on both engines), the fused softmax/sigmoid
cross-entropy, metrics and the save format are the reference's; only the
arithmetic moves to torch. ``save`` writes the reference's file, ``load_model``
reads either engine's, and ``to_reference()`` / ``from_reference(model)`` move a
model between engines.

Why `fit` is fast on a GPU: the whole dataset and its targets go to the device
once; each epoch's order is a device-side `randperm`; a step is forward, one
``autograd.grad`` for the whole model and a multi-tensor optimiser update, with
the loss and metrics summed on the device and read once per epoch. Nothing in
the step loop waits for the GPU, so Python runs ahead and queues the kernels.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Callable, Iterator, Sequence

import numpy as np
import torch

from gradbook.reference import model as reference
from gradbook.reference.model import History
from gradbook.torch_path import devices, layers as layers_module, losses as losses_module
from gradbook.torch_path import optimizers as optimizers_module
from gradbook.torch_path.layers import Layer, torch_dtype

Tensor = torch.Tensor
# (y, y_pred) -> the metric summed over the batch's samples, a tensor on the device. Sums, not means:
# fit adds them up and divides once per epoch, which saves a kernel or two per step on a GPU.
Metric = Callable[[Tensor, Tensor], Tensor]

__all__ = ["History", "Sequential", "from_reference", "load_model"]


# ---------------------------------------------------------------- metrics (the reference's, on tensors)

def _per_sample(hits: Tensor) -> Tensor:
    """The sum over samples of each sample's mean hit rate (a count when a sample is one prediction)."""
    total = hits.sum()
    return total if hits.ndim <= 1 else total / (hits.numel() // hits.shape[0])


def categorical_accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return _per_sample(y_pred.argmax(dim=-1) == y_true.argmax(dim=-1))


def sparse_categorical_accuracy(y_true: Tensor, y_pred: Tensor) -> Tensor:
    return _per_sample(y_pred.argmax(dim=-1) == y_true.reshape(y_pred.shape[:-1]))


def binary_accuracy(y_true: Tensor, y_pred: Tensor, threshold: float = 0.5) -> Tensor:
    return _per_sample((y_pred > threshold) == (y_true.reshape(y_pred.shape) > 0.5))


METRICS: dict[str, Metric] = {
    "categorical_accuracy": categorical_accuracy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "binary_accuracy": binary_accuracy,
}
# Softmax keeps the order of the logits, so these may read the logits and skip the softmax in training.
RANK_METRICS = (categorical_accuracy, sparse_categorical_accuracy)


def _resolve_metric(name: str, loss: losses_module.Loss, output_shape: tuple[int, ...] | None) -> Metric:
    """'accuracy' means the accuracy that fits the loss, as in Keras (and the reference)."""
    if name in METRICS:
        return METRICS[name]
    if name not in reference._ACCURACY:
        raise ValueError(f"unknown metric {name!r}; valid metrics: {', '.join((*reference._ACCURACY, *METRICS))}")
    if isinstance(loss, losses_module.SparseCategoricalCrossentropy):
        return sparse_categorical_accuracy
    if isinstance(loss, losses_module.BinaryCrossentropy) or (output_shape is not None and output_shape[-1] == 1):
        threshold = 0.0 if loss.from_logits else 0.5  # a logit of 0 is p = 0.5
        return lambda y_true, y_pred: binary_accuracy(y_true, y_pred, threshold)
    return categorical_accuracy


@contextlib.contextmanager
def _cudnn_benchmark(device: torch.device) -> Iterator[None]:
    """Let cuDNN pick the fastest convolution algorithm for the (few, fixed) batch shapes of a fit."""
    if device.type != "cuda":
        yield
        return
    before = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = True
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark = before


# ---------------------------------------------------------------- Sequential

class Sequential(reference.Sequential):
    """The reference `Sequential` with torch-path layers, plus ``device=`` ("auto", "cpu", "cuda")."""

    layers: list[Layer]

    def __init__(self, layers: Sequence[Layer] | None = None, dtype: str = "float32", seed: int | None = None,
                 name: str = "sequential", device: devices.DeviceLike = "auto") -> None:
        self.device = devices.resolve(device)
        self._metrics_read_logits = False
        super().__init__(layers, dtype=dtype, seed=seed, name=name)

    # -- building

    def add(self, layer: Layer) -> None:
        if not isinstance(layer, Layer):
            hint = (" — this is a NumPy reference layer: build it from gradbook.torch_path.layers, or convert "
                    "a whole model with gradbook.torch_path.models.from_reference(model)"
                    if isinstance(layer, reference.Layer) else "")
            raise TypeError(f"Sequential.add expects a torch-path layer (e.g. layers.Dense(10)); got {layer!r}{hint}")
        if layer.device != self.device:
            layer.to(self.device)
        super().add(layer)

    def _prepare_input(self, x: Any, seed: int | None = None) -> Tensor:
        """``x`` as a tensor in the model's dtype on its device (built on the first input, as in the reference)."""
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if not self.layers:
            raise ValueError("the model has no layers; add some with model.add(...)")
        if not self.built:
            self.build(tuple(x.shape[1:]), seed)
        elif tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{self.layers[0].where} expects input of shape (n, "
                             f"{', '.join(map(str, self.input_shape))}); got {tuple(x.shape)}")
        return x.to(device=self.device, dtype=torch_dtype(self.dtype))

    # -- compile

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Sequence[str] | None = None) -> None:
        """As the reference; ``optimizer`` and ``loss`` may also be reference objects (their settings are copied)."""
        if loss is None:
            raise ValueError(f"compile needs a loss; valid losses: {', '.join(losses_module.LOSSES)}")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = losses_module.get(loss)
        self.metrics = list(metrics or [])
        self._metric_fns = [_resolve_metric(m, self.loss, self.output_shape) for m in self.metrics]
        self._metrics_read_logits = all(fn in RANK_METRICS for fn in self._metric_fns)

    # -- the differentiable pass

    def _outputs(self, x: Tensor, want_output: bool) -> tuple[Tensor | None, Tensor | None]:
        """(z, out): the last layer's logits when the loss is fused with its activation, and its output."""
        for layer in self.layers[:-1]:
            x = layer.call(x)
        last = self.layers[-1]
        if self._fused():
            z = last.affine(x) if hasattr(last, "affine") else x  # an Activation layer's logits are its input
            return z, (last.activation(z) if want_output else None)
        return None, last.call(x)

    def _batch_loss(self, targets: Tensor, x: Tensor, want_output: bool) -> tuple[Tensor, Tensor | None]:
        """The batch loss and, if wanted, what the metrics read: the output, or the logits when they rank alike."""
        logits_will_do = want_output and self._metrics_read_logits
        z, out = self._outputs(x, want_output and not logits_will_do)
        if z is not None:
            return self.loss.value_from_logits(targets, z), (z if logits_will_do else out)
        return self.loss.value(targets, out), out

    def _named_parameters(self) -> dict[str, Tensor]:
        return {f"layers.{i}.{k}": p for i, layer in enumerate(self.layers) for k, p in layer.params.items()}

    def _data(self, x: Any, y: Any, seed: int | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Inputs, raw labels (for the metrics) and prepared targets, each on the device once.

        When the prepared targets are the labels themselves (integer labels for the sparse loss),
        the same tensor is returned twice, so that `fit` gathers it once per step.
        """
        x = self._prepare_input(x, seed)
        y_host = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        if len(x) != len(y_host):
            raise ValueError(f"x and y have different numbers of samples: {len(x)} and {len(y_host)}")
        prepared = self.loss.prepare_target(y_host, (len(y_host), *self.output_shape))
        targets = torch.as_tensor(prepared).to(device=self.device,
                                               dtype=self.loss.target_dtype(torch_dtype(self.dtype)))
        if prepared.shape == y_host.shape and np.array_equal(prepared, y_host):
            return x, targets, targets
        return x, torch.as_tensor(y_host).to(self.device), targets

    # -- fit / evaluate / predict

    def fit(self, x: Any, y: Any, epochs: int = 1, batch_size: int = 32,
            validation_data: tuple[Any, Any] | None = None, shuffle: bool = True,
            seed: int | None = None, verbose: int = 1) -> History:
        """Train for ``epochs`` passes over (x, y) in mini-batches; a tqdm bar per epoch unless verbose=0.

        As the reference, except that the shuffling order comes from torch's generator on the device
        (seeded by ``seed``), so with ``shuffle=True`` the batches differ from the reference's.
        """
        from tqdm.auto import tqdm

        self._require_compiled("fit")
        x, y, targets = self._data(x, y, seed)
        n = len(x)
        steps = -(-n // batch_size)
        names, history = self._new_history(epochs, steps, batch_size, validation_data is not None)
        generator = torch.Generator(device=self.device)
        if seed is not None:
            generator.manual_seed(seed)
        else:
            generator.seed()
        params = self._named_parameters()
        with _cudnn_benchmark(self.device):
            for epoch in range(epochs):
                order = torch.randperm(n, device=self.device, generator=generator) if shuffle else None
                totals = torch.zeros(len(names), dtype=torch.float64, device=self.device)
                bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="batch",
                           disable=not verbose, leave=True)
                self._train_epoch(params, x, y, targets, batch_size, order, totals, bar.update)
                means = (totals / n).tolist()  # the one read of the epoch
                self._end_epoch(history, epoch, means, validation_data, batch_size, bar, verbose)
        return history

    def _train_epoch(self, params: dict[str, Tensor], x: Tensor, y: Tensor, targets: Tensor, batch_size: int,
                     order: Tensor | None, totals: Tensor, progress: Callable[[], object] = lambda: None) -> None:
        """One pass over the data in ``order`` (None: as it lies); adds loss and metric sums to ``totals``.

        Nothing here reads a value back from the device, so on a GPU Python queues the
        kernels of the next steps while the current one runs.
        """
        for start in range(0, len(x), batch_size):
            batch = order[start:start + batch_size] if order is not None else slice(start, start + batch_size)
            xb, yb = x[batch], y[batch]  # a slice is a view; an index gathers on the device
            tb = yb if targets is y else targets[batch]
            loss, out = self._batch_loss(tb, xb, bool(self._metric_fns))
            grads = torch.autograd.grad(loss, list(params.values()))
            self.optimizer.step(params, dict(zip(params, grads)))
            with torch.no_grad():
                self._add_batch_sums(totals, loss, yb, out, len(xb))
            progress()

    def _add_batch_sums(self, totals: Tensor, loss: Tensor, y: Tensor, out: Tensor | None, size: int) -> None:
        """Add a batch's loss (times its size) and metric sums to ``totals``, on the device."""
        totals[0].add_(loss.detach(), alpha=size)
        for i, metric in enumerate(self._metric_fns, start=1):
            totals[i] += metric(y, out)

    @torch.no_grad()
    def evaluate(self, x: Any, y: Any, batch_size: int = 32, verbose: int = 0) -> float | list[float]:
        """The loss over (x, y), or [loss, *metrics] when compiled with metrics (Keras' return value)."""
        from tqdm.auto import tqdm

        self._require_compiled("evaluate")
        x, y, targets = self._data(x, y)
        totals = torch.zeros(1 + len(self._metric_fns), dtype=torch.float64, device=self.device)
        for start in tqdm(range(0, len(x), batch_size), disable=not verbose, desc="evaluate", unit="batch"):
            batch = slice(start, start + batch_size)
            xb = x[batch]
            loss, out = self._batch_loss(targets[batch], xb, bool(self._metric_fns))
            self._add_batch_sums(totals, loss, y[batch], out, len(xb))
        results = (totals / len(x)).tolist()
        return results if self.metrics else results[0]

    @torch.no_grad()
    def predict(self, x: Any, batch_size: int = 32, verbose: int = 0) -> np.ndarray:
        """The model's outputs for ``x`` as a NumPy array (like the reference), ``batch_size`` at a time."""
        return self.predict_tensor(x, batch_size).cpu().numpy()

    @torch.no_grad()
    def predict_tensor(self, x: Any, batch_size: int = 32) -> Tensor:
        """The outputs as a tensor on the model's device (no copy to the host)."""
        x = self._prepare_input(x)
        outputs = []
        for start in range(0, len(x), batch_size):
            out = x[start:start + batch_size]
            for layer in self.layers:
                out = layer.call(out)
            outputs.append(out)
        return torch.cat(outputs) if outputs else torch.empty((0, *self.output_shape), device=self.device)

    # -- weights, conversion, save

    def get_weights(self) -> list[np.ndarray]:
        """Copies of every parameter as NumPy arrays, layer by layer (Dense: W, b), as in Keras."""
        return [p.detach().cpu().numpy().copy() for layer in self.layers for p in layer.params.values()]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set every parameter from arrays or tensors, in place (the optimiser's state stays attached)."""
        params = [(layer, k, p) for layer in self.layers for k, p in layer.params.items()]
        if len(weights) != len(params):
            raise ValueError(f"set_weights expects {len(params)} arrays; got {len(weights)}")
        for (layer, k, p), w in zip(params, weights):
            if tuple(np.shape(w)) != tuple(p.shape):
                raise ValueError(f"{layer.where} weight {k!r} has shape {tuple(p.shape)}; got {tuple(np.shape(w))}")
        with torch.no_grad():
            for (layer, _, p), w in zip(params, weights):
                p.copy_(layer._tensor(w))

    def get_config(self) -> dict[str, Any]:
        return self.to_reference().get_config()

    def to_reference(self) -> reference.Sequential:
        """The same model (layers, weights, compile settings) on the NumPy engine; optimiser state is not copied."""
        # Each layer comes over built and with its weights, so the new model builds on them as they are.
        model = reference.Sequential([layer.to_reference() for layer in self.layers], dtype=str(self.dtype),
                                     seed=self.seed, name=self.name)
        if self.loss is not None:
            model.compile(self.optimizer.to_reference(), self.loss.to_reference(), self.metrics)
        return model

    def save(self, path: str | os.PathLike) -> None:
        """Write the model to ONE .npz file in the shared format (the reference's writer, so they cannot differ)."""
        if not self.built:
            raise ValueError("the model is not built yet, so it has no weights to save")
        self.to_reference().save(path)

    def to(self, device: devices.DeviceLike) -> "Sequential":
        """Move the model to ``device`` (in place; returns it). Optimiser state is moved too."""
        self.device = devices.resolve(device)
        for layer in self.layers:
            layer.to(self.device)
        if self.optimizer is not None:
            for state in self.optimizer.state.values():
                for k, v in state.items():
                    state[k] = v.to(self.device)
        return self


def from_reference(model: reference.Sequential, device: devices.DeviceLike = "auto") -> Sequential:
    """The torch-path twin of a reference model: same layers, weights, compile settings."""
    twin = Sequential([layers_module.from_reference(layer, device) for layer in model.layers],
                      dtype=str(model.dtype), seed=model.seed, name=model.name, device=device)
    if model.loss is not None:
        twin.compile(model.optimizer, model.loss, model.metrics)
    return twin


def load_model(path: str | os.PathLike, device: devices.DeviceLike = "auto") -> Sequential:
    """Read a model written by ``Sequential.save`` of either engine, onto ``device``."""
    return from_reference(reference.load_model(path), device)
