#!/usr/bin/env python3
"""Seconds per 60,000-image epoch: the torch path vs a hand-written PyTorch loop vs the NumPy engine.

    python bench/bench_torch_path.py                  # device "auto" (CUDA when present)
    python bench/bench_torch_path.py --device cpu --quick

Two models, each at batch 128 and 1024, trained on MNIST-sized images (the real
10,000 test images tiled to 60,000; random images, with a note, if they are not
found):

* MLP: Dense 512 relu -> Dense 10 softmax, RMSprop (chapter 5);
* CNN: Conv 8@3x3 relu -> MaxPool -> Conv 16@3x3 relu -> MaxPool -> Flatten ->
  Dense 10 softmax, Adam (chapter 7).

Per configuration it prints the median over the timed epochs of

* the torch path (`gradbook.torch_path` Sequential.fit, with accuracy);
* a hand-written PyTorch loop of the same model on the same device: nn modules,
  torch.optim (Keras' epsilon), data already on the device, device-side
  shuffling, loss and accuracy summed on the device: the best plain PyTorch;
* the NumPy reference engine on the CPU, timed on a slice of the epoch and
  scaled to 60,000 images (a full epoch of the CNN takes minutes).

Then, per model, the host side of one training step, which is what a GPU waits
on at small batches: the kernels a step launches (operators reaching the device,
counted on PyTorch's meta device) and the microseconds Python and the dispatcher
take to issue them (on the CPU with the layers at a negligible size). Both are
measurable without a GPU; on a machine without one they are the best evidence of
how the two loops compare when the GPU is launch-bound.

Targets: torch path <= 1.2x the hand-written loop; the CNN >= 15x faster than
the NumPy engine on a GPU. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils._pytree import tree_leaves
from torch.utils._python_dispatch import TorchDispatchMode

from gradbook.reference import layers as R
from gradbook.reference import model as reference
from gradbook.torch_path import devices, layers as T, models

EPOCH = 60_000
SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def mnist_images() -> tuple[np.ndarray, np.ndarray, str]:
    """The real MNIST test images and labels, (n, 1, 28, 28) float32 in [0, 1], and where they came from."""
    try:
        from gradbook.datasets import mnist

        _, (x, y) = mnist.load_data(source="cache", verbose=False)
        source = "MNIST test set from the gradbook cache"
    except Exception:  # noqa: BLE001 - any failure means: try the shared copy, then random data
        try:
            from gradbook.datasets.idx import read_idx

            x = read_idx(SHARED_MNIST / "t10k-images-idx3-ubyte.gz")
            y = read_idx(SHARED_MNIST / "t10k-labels-idx1-ubyte.gz")
            source = f"MNIST test set from {SHARED_MNIST}"
        except Exception as error:  # noqa: BLE001
            rng = np.random.default_rng(0)
            x, y = rng.integers(0, 256, (10_000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 10_000)
            source = f"RANDOM images (MNIST not found: {error}); timings hold, accuracies mean nothing"
    return (x[:, None] / np.float32(255)).astype(np.float32), y.astype(np.int64), source


def tiled(x: np.ndarray, y: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    reps = -(-n // len(x))
    return np.concatenate([x] * reps)[:n], np.concatenate([y] * reps)[:n]


# ---------------------------------------------------------------- the models, three ways

def gradbook_layers(L, kind: str, hidden: int = 512) -> list:
    if kind == "mlp":
        return [L.Flatten(input_shape=(1, 28, 28)), L.Dense(hidden, activation="relu"),
                L.Dense(10, activation="softmax")]
    return [L.Conv2D(8, 3, activation="relu", input_shape=(1, 28, 28)), L.MaxPool2D(),
            L.Conv2D(16, 3, activation="relu"), L.MaxPool2D(), L.Flatten(), L.Dense(10, activation="softmax")]


OPTIMIZER = {"mlp": "rmsprop", "cnn": "adam"}


def torch_module(kind: str, hidden: int = 512) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    return nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 5 * 5, 10))


class HandWritten:
    """The plain PyTorch loop a practitioner would write: nn modules, torch.optim (multi-tensor, Keras' epsilon),
    data already on the device, device-side shuffling, loss and accuracy summed on the device."""

    def __init__(self, kind: str, device: torch.device, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                 hidden: int = 512) -> None:
        self.net = torch_module(kind, hidden).to(device)
        # foreach=True is what torch.optim picks on a GPU anyway; on the CPU it is the faster choice too.
        if kind == "mlp":
            self.opt = torch.optim.RMSprop(self.net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7, foreach=True)
        else:
            self.opt = torch.optim.Adam(self.net.parameters(), lr=1e-3, eps=1e-7, foreach=True)
        self.device, self.x, self.y, self.batch_size = device, x, y, batch_size

    def epoch_loop(self, order: torch.Tensor, totals: torch.Tensor) -> None:
        """One pass over the data in ``order``; sums loss and hits into ``totals`` without reading them."""
        for start in range(0, len(self.x), self.batch_size):
            index = order[start:start + self.batch_size]
            xb, yb = self.x[index], self.y[index]
            logits = self.net(xb)
            loss = F.cross_entropy(logits, yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            with torch.no_grad():
                totals[0] += loss * len(yb)
                totals[1] += (logits.argmax(1) == yb).sum()

    def epoch(self) -> float:
        """One epoch; returns the mean loss (the one read per epoch, as in the torch path)."""
        totals = torch.zeros(2, device=self.device, dtype=torch.float64)
        self.epoch_loop(torch.randperm(len(self.x), device=self.device), totals)
        return float(totals[0] / len(self.x))


def median_seconds(runs: dict[str, Callable[[], object]], repeats: int, device: torch.device) -> dict[str, float]:
    """Median seconds of each run; the runs take turns, so a change in machine load hits them alike."""
    for run in runs.values():
        run()  # warm-up: allocator, cuDNN algorithm choice, lazy initialisation
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            run()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


# ---------------------------------------------------------------- the host side of a step

class DeviceOps(TorchDispatchMode):
    """Counts the operators that reach tensors on ``device`` and do work there: on a GPU each one is a
    kernel launch. Views launch nothing and are not counted, nor is host-only bookkeeping (such as
    torch.optim's step counters, which live on the CPU)."""

    def __init__(self, device: str) -> None:
        super().__init__()
        self.device, self.count = device, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        out = func(*args, **(kwargs or {}))
        tensors = [t for t in tree_leaves((args, kwargs, out)) if isinstance(t, torch.Tensor)]
        if not func.is_view and any(t.device.type == self.device for t in tensors):
            self.count += 1
        return out


def step_loops(kind: str, device: torch.device, batch_size: int, steps: int,
               hidden: int = 512) -> dict[str, Callable[[], None]]:
    """One epoch of ``steps`` training steps of each contender on ``device``, reading nothing back."""
    n = steps * batch_size
    x = torch.rand(n, 1, 28, 28, device=device)
    model = models.Sequential(gradbook_layers(T, kind, hidden), seed=0, device=device)
    model.compile(OPTIMIZER[kind], "sparse_categorical_crossentropy", ["accuracy"])
    x, labels = model._data(x, np.random.default_rng(0).integers(0, 10, n))
    params = model._named()
    hand = HandWritten(kind, device, x, labels, batch_size, hidden)
    totals = torch.zeros(2, dtype=torch.float64, device=device)
    return {
        "ours": lambda: model._train_epoch(params, x, labels, batch_size, torch.randperm(n, device=device), totals),
        "hand": lambda: hand.epoch_loop(torch.randperm(n, device=device), totals),
    }


def kernels_per_step(kind: str, steps: int = 20) -> dict[str, float]:
    """Operators reaching the device per training step, counted on PyTorch's "meta" device.

    There each operator runs only its shape logic, so every one on a device tensor is seen and
    host-side bookkeeping is not. On a GPU each is a kernel launch.
    """
    counts = {}
    for name, run in step_loops(kind, torch.device("meta"), 128, steps).items():
        counter = DeviceOps("meta")
        with counter:
            run()
        counts[name] = counter.count / steps
    return counts


def host_microseconds_per_step(kind: str, steps: int = 200, repeats: int = 5) -> dict[str, float]:
    """Microseconds to issue one training step: on the CPU, one thread, with the same layers at a
    negligible size (batch 4, the MLP 16 units wide), so that issuing the step is nearly all there is."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cpu = torch.device("cpu")
        seconds = median_seconds(step_loops(kind, cpu, 4, steps, hidden=16), repeats, cpu)
    finally:
        torch.set_num_threads(threads)
    return {name: s / steps * 1e6 for name, s in seconds.items()}


# ---------------------------------------------------------------- main

def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help='"auto" (default), "cpu" or "cuda"')
    parser.add_argument("--quick", action="store_true",
                        help="time torch on 6,000 images and NumPy on 2,048, 2 repeats, scaled to 60,000")
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per figure (median); default 3")
    parser.add_argument("--numpy-images", type=int, default=None,
                        help="images the NumPy engine is timed on (then scaled to 60,000); default 6,000")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's choice); 1 is steadier on a busy machine")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = devices.resolve(args.device)
    repeats = args.repeats or (2 if args.quick else 3)
    torch_images = 6_000 if args.quick else EPOCH
    numpy_images = args.numpy_images or (2_048 if args.quick else 6_000)
    x_all, y_all, source = mnist_images()
    x_np, y_np = tiled(x_all, y_all, torch_images)
    x_dev = torch.as_tensor(x_np, device=device)  # on the device once, for both torch contenders
    y_dev = torch.as_tensor(y_np, device=device)
    x_ref, y_ref = tiled(x_all, y_all, numpy_images)
    y_onehot = np.eye(10, dtype=np.float32)[y_ref]

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {torch.get_num_threads()} threads"
    print(f"device: {device} ({name}); torch {torch.__version__}, numpy {np.__version__}")
    if hasattr(os, "getloadavg"):
        print(f"load average before the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"data: {source}, tiled")
    print(f"torch timings: median of {repeats} epochs of {torch_images:,} images"
          + (f", scaled x{EPOCH / torch_images:g} to {EPOCH:,} (--quick)" if torch_images != EPOCH else ""))
    print(f"NumPy engine (CPU): median of {repeats} runs on {numpy_images:,} images, scaled x{EPOCH / numpy_images:.1f} "
          f"to {EPOCH:,} (a full NumPy epoch of the CNN would take minutes)")
    print()
    header = (f"{'model':<5} {'batch':>5} | {'torch path':>10} {'hand torch':>10} {'ratio':>6} | "
              f"{'NumPy CPU':>10} {'speed-up':>8}")
    print(header)
    print("-" * len(header))
    scale_torch, scale_numpy = EPOCH / torch_images, EPOCH / numpy_images
    for kind in ("mlp", "cnn"):
        for batch_size in args.batch_sizes:
            model = models.Sequential(gradbook_layers(T, kind), seed=0, device=device)
            model.compile(OPTIMIZER[kind], "sparse_categorical_crossentropy", ["accuracy"])
            timed = median_seconds({
                "ours": lambda: model.fit(x_dev, y_np, batch_size=batch_size, verbose=0),
                "hand": HandWritten(kind, device, x_dev, y_dev, batch_size).epoch,
            }, repeats, device)
            ours, hand = timed["ours"] * scale_torch, timed["hand"] * scale_torch
            ref = reference.Sequential(gradbook_layers(R, kind), seed=0)
            ref.compile(OPTIMIZER[kind], "categorical_crossentropy", ["accuracy"])
            numpy_s = median_seconds({"numpy": lambda: ref.fit(x_ref, y_onehot, batch_size=batch_size, verbose=0)},
                                     repeats, torch.device("cpu"))["numpy"] * scale_numpy
            print(f"{kind:<5} {batch_size:>5} | {ours:>9.3f}s {hand:>9.3f}s {ours / hand:>5.2f}x | "
                  f"{numpy_s:>9.2f}s {numpy_s / ours:>7.1f}x", flush=True)
    print()
    print("ratio = torch path / hand-written torch (target <= 1.2); "
          "speed-up = NumPy engine on CPU / torch path (target for the CNN on a GPU: >= 15)")
    print()
    print("The host side of one training step, which bounds a GPU at small batches (launch-bound):")
    print("kernels = operators reaching the device per step (counted on the meta device); "
          "host = microseconds to issue a step (CPU, 1 thread, layers at negligible size)")
    header = f"{'model':<5} | {'kernels: ours':>13} {'hand':>5} {'ratio':>6} | {'host: ours':>10} {'hand':>7} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for kind in ("mlp", "cnn"):
        (ops, hand_ops), (us, hand_us) = kernels_per_step(kind).values(), host_microseconds_per_step(kind).values()
        print(f"{kind:<5} | {ops:>13.1f} {hand_ops:>5.1f} {ops / hand_ops:>5.2f}x | "
              f"{us:>8.0f}us {hand_us:>5.0f}us {us / hand_us:>5.2f}x", flush=True)


if __name__ == "__main__":
    sys.exit(main())
