"""Benchmark: the NumPy reference engine against the same models in PyTorch CPU, and against the SGEMM floor.

    .venv/bin/python bench/bench_engine.py [--repeats 9] [--clock cpu|wall]

(1) seconds per epoch of the chapter-5 MLP (784-512-10, relu/softmax, rmsprop,
    batch 128) on 8,000 random images, beside the SGEMM floor: the epoch's own
    matrix products at their exact shapes (forward, dW2, dH, dW1 for each
    batch), timed in the same process. Targets: <= 1.3x the floor, <= 1.0x torch.
(2) one forward+backward of Conv 8@3x3 -> Conv 16@3x3 (padding 1) on a
    batch of 64 1x28x28 images; target <= 1.0x torch.
(3) one epoch of chapter 7's CNN (Conv 8@3x3 relu -> MaxPool 2 -> Flatten -> Dense 10
    softmax; Adam, sparse labels, batch 64) on 5,000 images; target <= 1.0x torch.
(4) one forward+backward of SimpleRNN, LSTM and multi-head self-attention (causal) on
    a batch of sequences (`bench_sequences`), against torch.nn.RNN, LSTM and
    MultiheadAttention with the same weights; target <= 1.5x torch. For the
    recurrent layers, their matrix products at the exact shapes are also timed
    alone in NumPy and torch: how much of the gap is the BLAS, how much the rest.

(2) and (3) also show where the engine's time goes: its phases (patches, GEMM,
pooling, ...) timed on their own at the run's shapes.

Everything runs side by side in this process, alternating, with torch using as
many threads as NumPy's BLAS: ONE unless OPENBLAS_NUM_THREADS (or OMP_NUM_THREADS)
asks for more. With a thread per core each, the two libraries' idle threads spin
on the cores the other one is using: on a quiet 2-core machine the same run's
torch LSTM took 7 ms, 12 ms or 100 ms, its RNN 5 to 85 ms, from run to run, and
the engine's conv 9 to 20 ms; one thread each gave the same figures run after run.
The figures are medians over the repeats, with the best runs as a second opinion
when other work shares the machine.
Both sides allocate from the same heap, kept from page faults the same way for every section: at
start-up, before NumPy or torch allocate anything, glibc's malloc is told (`mallopt`) to keep blocks of up to
32 MiB on its heap instead of mapping each one afresh, and to give memory back to the system only past 64 MiB
free (`quiet_heap`; the header says whether it was done). Without that, how long a call took depended on
the heap's history: glibc maps every block above its mmap threshold (128 KiB at first, raised as blocks
are freed) afresh, and a fresh mapping page-faults on its first touch. In a fresh process each of torch's
conv calls made ~1,500 minor faults (16 ms against 8 ms without), so ``--only conv`` printed 0.71x while
the whole bench, after the MLP section had grown the heap, printed 1.46x for the same code. With the
thresholds fixed, a warmed-up call of either side makes no page faults, and a section times the same alone
or after the others.
``--clock cpu`` (the default) times the process's CPU time, which a busy machine
inflates far less than wall time (nothing here waits on anything but the CPU);
with one thread each it is the fairest figure on a shared machine. ``--clock
wall`` times elapsed seconds. Nothing is asserted: figures and ratios are printed.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import statistics
import sys
import time
from typing import TYPE_CHECKING, Callable

for _threads in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # read when numpy and torch load
    os.environ.setdefault(_threads, os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS") or "1")


def quiet_heap() -> bool:
    """Serve blocks of up to 32 MiB from glibc's heap (reused after they are freed) and give memory back to the
    system only past 64 MiB free, so that no timed call page-faults on freshly mapped memory (see the module's
    docstring); False where the C library has no `mallopt` (not glibc). Called before NumPy or torch allocate."""
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's <malloc.h>
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (AttributeError, OSError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    # mallopt returns 1 on success; 32 MiB is the largest mmap threshold glibc accepts on 64-bit systems
    return bool(mallopt(M_MMAP_THRESHOLD, 32 << 20)) and bool(mallopt(M_TRIM_THRESHOLD, 64 << 20))


QUIET_HEAP = quiet_heap()

import numpy as np  # noqa: E402 - after the thread count and the heap are set

if TYPE_CHECKING:
    from gradbook.reference.layers import Conv2D


def blas_threads() -> int:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    return len(os.sched_getaffinity(0))


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
clock = CLOCKS["cpu"]  # set from --clock in `main`


def run_times(fn: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return times


def alternating(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Each run's times, taken in turn (one of each per round), after one warm-up call of each."""
    for fn in runs.values():  # warm up: allocations, BLAS threads, torch's first-call costs
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):  # alternate, so drifting machine load hits all alike
        for name, fn in runs.items():
            times[name] += run_times(fn, 1)
    return times


def side_by_side(name: str, engine: Callable[[], object], reference: Callable[[], object], repeats: int,
                 target: float, floor: Callable[[], object] | None = None,
                 floor_target: float = 1.3) -> dict[str, list[float]]:
    runs = {"engine": engine, "torch": reference} | ({"floor": floor} if floor else {})
    times = alternating(runs, repeats)
    ours, theirs = times["engine"], times["torch"]
    a, b = statistics.median(ours), statistics.median(theirs)
    verdict = "meets" if a / b <= target else "misses"
    print(f"{name}\n  median  engine {a * 1e3:8.1f} ms   torch {b * 1e3:8.1f} ms   ratio {a / b:.2f}x "
          f"({verdict} the {target:.1f}x target; {repeats} runs each)")
    # On a shared machine the fastest run is the least disturbed one: a second opinion on the ratio.
    print(f"  best    engine {min(ours) * 1e3:8.1f} ms   torch {min(theirs) * 1e3:8.1f} ms   "
          f"ratio {min(ours) / min(theirs):.2f}x")
    if floor is not None:
        f = statistics.median(times["floor"])
        verdict = "meets" if a / f <= floor_target else "misses"
        print(f"  SGEMM floor (the same matrix products alone) median {f * 1e3:8.1f} ms, best "
              f"{min(times['floor']) * 1e3:8.1f} ms: engine / floor {a / f:.2f}x median, "
              f"{min(ours) / min(times['floor']):.2f}x best ({verdict} the {floor_target:.1f}x target)")
    return times


def phases(total: float, parts: dict[str, Callable[[], object]], repeats: int) -> None:
    """Where the engine's time goes: each phase timed on its own (median), and its share of ``total``."""
    times = {name: statistics.median(ts) for name, ts in alternating(parts, repeats).items()}
    shown = "   ".join(f"{name} {t * 1e3:.1f} ms ({t / total:.0%})" for name, t in times.items())
    rest = total - sum(times.values())
    # Timed alone, a phase meets caches the others would have warmed (or an array's address aligned otherwise):
    # the phases can add up to more than the whole. Say so rather than print a negative rest.
    rest_shown = (f"the rest {rest * 1e3:.1f} ms ({rest / total:.0%})" if rest >= 0 else
                  f"(timed alone, the phases add up to {-rest * 1e3:.1f} ms more than the whole)")
    print(f"  where the engine's {total * 1e3:.1f} ms go: {shown}   {rest_shown}")


# ---------------------------------------------------------------- (1) the chapter-5 MLP

def torch_train_epoch(net, opt, tx, ty, batch: int) -> int:  # noqa: ANN001 - torch objects
    """One shuffled epoch of torch mini-batch training with cross-entropy; the correct predictions are counted
    like the engine's accuracy metric, so both sides do the same work."""
    import torch

    order = torch.randperm(len(tx))
    correct = 0
    for start in range(0, len(tx), batch):
        index = order[start:start + batch]
        out = net(tx[index])
        loss = torch.nn.functional.cross_entropy(out, ty[index])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        correct += int((out.argmax(1) == ty[index]).sum())
    return correct


def by_hand(x: np.ndarray, labels: np.ndarray, batch: int, rng: np.random.Generator) -> Callable[[], int]:
    """One epoch of the same MLP written out in NumPy for this one model, as fast as NumPy allows: every buffer
    made once, every operation in place, RMSprop's nine passes on whole arrays, the softmax's gradient in its
    logits' buffer. No engine could do less in NumPy, so its ratio to the floor is NumPy's own bound for the
    1.3x target; it returns the correct predictions, as the engine counts them."""
    n, (lr, rho, eps) = len(x), (1e-3, 0.9, 1e-7)
    params = [rng.standard_normal((784, 512), dtype=np.float32) * np.float32(0.05), np.zeros(512, np.float32),
              rng.standard_normal((512, 10), dtype=np.float32) * np.float32(0.05), np.zeros(10, np.float32)]
    grads, velocities, steps = ([np.zeros_like(p) for p in params] for _ in range(3))
    sizes = {min(batch, n - start) for start in range(0, n, batch)}
    buffers = {size: (np.empty((size, 784), np.float32), np.empty((size, 512), np.float32),
                      np.empty((size, 10), np.float32), np.empty((size, 512), np.float32),
                      np.empty((size, 512), bool)) for size in sizes}
    (w1, b1, w2, b2), (dw1, db1, dw2, db2) = params, grads

    def epoch() -> int:
        order, correct = rng.permutation(n), 0
        for start in range(0, n, batch):
            index = order[start:start + batch]
            xb, h, z, dh, alive = buffers[len(index)]
            np.take(x, index, axis=0, out=xb)
            np.matmul(xb, w1, out=h)
            h += b1
            np.maximum(h, 0, out=h)
            np.matmul(h, w2, out=z)
            z += b2
            correct += int((z.argmax(1) == labels[index]).sum())
            z -= z.max(axis=1, keepdims=True)   # softmax, then its cross-entropy's gradient (p - y) / batch
            np.exp(z, out=z)
            z /= z.sum(axis=1, keepdims=True)
            z[np.arange(len(index)), labels[index]] -= 1
            z *= np.float32(1 / len(index))
            np.matmul(h.T, z, out=dw2)
            z.sum(axis=0, out=db2)
            np.matmul(z, w2.T, out=dh)
            np.greater(h, 0, out=alive)
            dh *= alive
            np.matmul(xb.T, dh, out=dw1)
            dh.sum(axis=0, out=db1)
            for p, g, v, step in zip(params, grads, velocities, steps):
                v *= rho
                np.multiply(g, g, out=step)
                step *= 1 - rho
                v += step
                np.add(v, eps, out=step)
                np.sqrt(step, out=step)
                np.divide(g, step, out=step)
                step *= lr
                p -= step
        return correct

    return epoch


def bench_mlp(repeats: int) -> None:
    import torch

    from gradbook import layers, models

    rng = np.random.default_rng(0)
    n, batch = 8000, 128
    x = rng.random((n, 784), dtype=np.float32)
    labels = rng.integers(0, 10, n)
    y = np.eye(10, dtype=np.float32)[labels]

    model = models.Sequential([layers.Dense(512, activation="relu", input_shape=(784,)),
                               layers.Dense(10, activation="softmax")], seed=0)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])

    net = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    tx, ty = torch.from_numpy(x), torch.from_numpy(labels)

    def torch_epoch() -> None:
        torch_train_epoch(net, opt, tx, ty, batch)

    # The floor: the epoch's matrix products at their exact shapes and layouts, into buffers made once.
    w1, w2 = (rng.random(s, dtype=np.float32) for s in ((784, 512), (512, 10)))
    buffers = {}
    for size in {min(batch, n - start) for start in range(0, n, batch)}:
        buffers[size] = (np.empty((size, 512), np.float32), np.empty((size, 10), np.float32),
                         np.empty((size, 512), np.float32), rng.random((size, 10), dtype=np.float32))
    dw1, dw2 = np.empty_like(w1), np.empty_like(w2)

    def floor_epoch() -> None:
        for start in range(0, n, batch):
            xb = x[start:start + batch]
            h, z, dh, dz = buffers[len(xb)]
            np.matmul(xb, w1, out=h)        # forward, layer 1
            np.matmul(h, w2, out=z)         # forward, layer 2
            np.matmul(h.T, dz, out=dw2)     # dW2
            np.matmul(dz, w2.T, out=dh)     # dH
            np.matmul(xb.T, dh, out=dw1)    # dW1

    times = side_by_side("(1) MLP 784-512-10, rmsprop, batch 128, one epoch of 8,000 images",
                         lambda: model.fit(x, y, epochs=1, batch_size=batch, verbose=0), torch_epoch, repeats, 1.0,
                         floor=floor_epoch)
    bound = alternating({"by hand": by_hand(x, labels, batch, rng), "floor": floor_epoch}, repeats)
    hand, floor = (statistics.median(bound[k]) for k in ("by hand", "floor"))
    engine_to_floor = statistics.median(times["engine"]) / statistics.median(times["floor"])
    print(f"  NumPy's own bound: the epoch written by hand for this model (`by_hand`) {hand * 1e3:.1f} ms, "
          f"{hand / floor:.2f}x the floor beside it; the engine is {engine_to_floor / (hand / floor):.2f}x that")

    # Where the rest goes: each phase of the epoch on its own, once per batch, on the model's own arrays. The optimiser
    # steps with the gradients of one batch (not zeros: RMSprop's velocity would then only decay, into subnormal
    # numbers, which the CPU computes with ~100x slower, and the optimiser would look like most of the epoch); the
    # weights are put back afterwards.
    from gradbook.reference import activations
    from gradbook.reference.numpy_engine import NUMPY

    params = model._named()
    _, grads = model.loss_and_gradients(x[:batch], y[:batch])
    saved = {k: p.copy() for k, p in params.items()}
    steps = range(0, n, batch)
    hidden, last = model.layers
    z1 = x[:batch] @ hidden.params["W"]
    h1 = activations.relu(z1)
    z2 = h1 @ last.params["W"]
    dh = rng.standard_normal(h1.shape, dtype=np.float32)
    metric = model._metric_fns[0]

    def gather() -> None:  # the shuffle and each batch's rows, as fit takes them
        order = model.engine.shuffler(None)(n)
        for start in steps:
            index = order[start:start + batch]
            x[index], y[index]

    def element_wise() -> None:  # biases, ReLU both ways, softmax + cross-entropy + its gradient, bias gradients
        for _ in steps:
            z1 + hidden.params["b"], activations.relu(z1), z2 + last.params["b"]
            _, dz = NUMPY.loss_and_gradient("categorical_crossentropy", y[:batch], z2, True)
            dz.sum(axis=0), activations.relu_backward(dh, h1).sum(axis=0)

    phases(statistics.median(times["engine"]), {
        "matrix products (the floor)": floor_epoch,
        "optimiser": lambda: [model.optimizer.step(params, grads) for _ in steps],
        "shuffle + gather": gather,
        "element-wise": element_wise,
        "metrics": lambda: [metric(y[:batch], z2) for _ in steps],
    }, repeats)
    for k, p in params.items():
        p[...] = saved[k]


# ---------------------------------------------------------------- (2) two convolutions

def bench_conv(repeats: int) -> None:
    import torch
    import torch.nn.functional as F

    from gradbook.reference import numpy_engine
    from gradbook.reference.layers import Conv2D

    rng = np.random.default_rng(0)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    conv1, conv2 = Conv2D(8, 3, padding=1), Conv2D(16, 3, padding=1)
    conv1.build((1, 28, 28), rng), conv2.build((8, 28, 28), rng)
    dout = rng.standard_normal((64, 16, 28, 28), dtype=np.float32)

    def engine() -> None:
        conv2.forward(conv1.forward(x))
        conv1.backward(conv2.backward(dout), input_grad=False)  # the images need no gradient

    w1, b1, w2, b2 = (torch.from_numpy(p.copy()).requires_grad_() for p in
                      (conv1.params["W"], conv1.params["b"], conv2.params["W"], conv2.params["b"]))
    tx, tdout = torch.from_numpy(x), torch.from_numpy(dout)

    def reference() -> None:
        for p in (w1, b1, w2, b2):
            p.grad = None
        out = F.conv2d(F.conv2d(tx, w1, b1, padding=1), w2, b2, padding=1)
        out.backward(tdout)

    times = side_by_side("(2) conv2d forward+backward, batch 64, 1x28x28 -> Conv 8@3x3 -> Conv 16@3x3, padding 1",
                         engine, reference, repeats, 1.0)
    first, second = conv_phases(conv1, x), conv_phases(conv2, conv1.forward(x), dout, input_grad=True)
    phases(statistics.median(times["engine"]), {name: lambda name=name: (first[name](), second[name]())
                                                for name in first}, repeats)


def conv_phases(layer: Conv2D, x: np.ndarray, dout: np.ndarray | None = None,
                input_grad: bool = False) -> dict[str, Callable[[], object]]:
    """One Conv2D layer's forward+backward cut into its phases, each run as the layer's kernel runs it (band by
    band and piece by piece, numpy_engine's `_Conv2D._pieces`) at its shapes: the padded input, the patches
    (made twice, for the forward and again for dW), the matrix products (forward, dW, and dx's for
    ``input_grad``), "dx patches" (``input_grad``: the patches of dz where dx is a convolution of it, else
    col2im's adds), the bias and its gradient, and the dz layout: ``dout`` (NCHW, as torch gets it) laid out
    as the products read it, in its zero border where dx is a convolution of dz; without ``dout``, dz is
    already laid out (it comes from the layer above), and only that border is added. `phases` prints them."""
    from gradbook.reference import numpy_engine as ne

    W, op = layer.params["W"], layer.kernel.op
    kernel = ne._Conv2D(op, layer.kernel.activation)  # its own scratch
    (filters, _, kh, kw), b = W.shape, layer.params["b"]
    g = ne._Geometry.of(x.shape, (kh, kw), op.strides, op.pads)
    xp, W2 = g.padded(x), ne._by_rows(W)
    pieces = list(kernel._pieces(xp, g, filters))  # the last band's patches: the products' speed is the same
    z = np.empty((filters, g.ho, g.wo * g.n), x.dtype)
    dz = np.random.default_rng(0).standard_normal(z.shape, dtype=x.dtype) if dout is None else dout
    dz3 = dz if dout is None else dz.transpose(1, 2, 3, 0).reshape(z.shape)
    border = ne._dz_border(g)
    dz_nchw = dz3.reshape(filters, g.ho, g.wo, g.n).transpose(3, 0, 1, 2) if dout is None else dout
    if border is not None:  # dx: a convolution of dz in a zero border (`_Conv2D._input_gradient`)
        gd = ne._Geometry.of(dz_nchw.shape, (kh, kw), (1, 1), border)
        dzp, Wf = gd.padded(dz_nchw), ne._by_rows(W[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        dz_kernel = ne._Conv2D(op, layer.kernel.activation)
        dz_pieces = list(dz_kernel._pieces(dzp, gd, g.c))
        dx = np.empty((g.c, g.h, g.w * g.n), x.dtype)
    else:  # dx by col2im: dcols = W2.T @ dz, piece by piece, added back onto the pixels
        dx = np.zeros((g.c, g.h, g.w, g.n), x.dtype)
        dcols = [(rows, range(columns.start // g.n, columns.stop // g.n),
                  W2.T @ dz3[:, rows, columns].transpose(1, 0, 2)) for rows, columns, _ in pieces]

    def products() -> None:  # one pass for each, as the kernel makes them
        for rows, columns, cols in pieces:
            np.matmul(W2, cols, out=z[:, rows, columns].transpose(1, 0, 2))  # forward
        for rows, columns, cols in pieces:
            dz_piece = dz3[:, rows, columns].transpose(1, 0, 2)
            (cols @ dz_piece.transpose(0, 2, 1)).sum(axis=0)                  # dW
            if input_grad and border is None:
                W2.T @ dz_piece                                               # dcols, which col2im adds back
        if input_grad and border is not None:
            for rows, columns, cols in dz_pieces:
                np.matmul(Wf, cols, out=dx[:, rows, columns].transpose(1, 0, 2))  # dx, from dz's patches

    def dx_patches() -> object:
        if not input_grad:
            return None
        if border is not None:
            return list(dz_kernel._pieces(dzp, gd, g.c))
        for rows, pixels, d in dcols:
            d6 = d.reshape(len(d), kh, g.c, kw, len(pixels), g.n).transpose(2, 1, 3, 0, 4, 5)
            ne._add_patches(dx, g, range(rows.start, rows.stop), pixels, d6)
        return None

    return {
        "padding": lambda: g.padded(x, reuse=xp),
        "patches": lambda: [list(kernel._pieces(xp, g, filters)) for _ in range(2)],
        "GEMM": products,
        "dx patches": dx_patches,
        "bias": lambda: (np.add(z, b[:, None, None], out=z), np.einsum("fk->f", dz3.reshape(filters, -1))),
        "dz layout": lambda: (gd.padded(dz_nchw, reuse=dzp) if input_grad and border is not None
                              else None if dout is None else dout.transpose(1, 2, 3, 0).reshape(filters, -1)),
    }


# ---------------------------------------------------------------- (3) chapter 7's CNN, one epoch

def bench_cnn_epoch(repeats: int) -> None:
    import torch

    from gradbook.reference import layers, model as model_module, numpy_engine, optimizers

    rng = np.random.default_rng(0)
    n, batch, lr = 5000, 64, 3e-3  # chapter 7's N_TRAIN, BATCH and LR
    x = rng.random((n, 1, 28, 28), dtype=np.float32)
    labels = rng.integers(0, 10, n)

    model = model_module.Sequential([
        layers.Conv2D(8, 3, padding=1, activation="relu", input_shape=(1, 28, 28)), layers.MaxPool2D(2),
        layers.Flatten(), layers.Dense(10, activation="softmax")], seed=0)
    model.compile(optimizer=optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                              torch.nn.Flatten(), torch.nn.Linear(8 * 14 * 14, 10))
    opt = torch.optim.Adam(net.parameters(), lr=lr, eps=1e-7)
    tx, ty = torch.from_numpy(x), torch.from_numpy(labels)

    def torch_epoch() -> None:
        torch_train_epoch(net, opt, tx, ty, batch)

    times = side_by_side("(3) chapter 7's CNN (Conv 8@3x3 relu, MaxPool 2, Dense 10 softmax), Adam, batch 64, "
                         "one epoch of 5,000 images",
                         lambda: model.fit(x, labels, epochs=1, batch_size=batch, verbose=0), torch_epoch,
                         repeats, 1.0)

    # The phases of one epoch, each run once per batch on the model's own layers and arrays.
    conv, pool, _, dense = model.layers
    xb = x[:batch]
    conv_out = conv.forward(xb)
    pooled = pool.forward(conv_out)
    Wd = dense.params["W"]
    dpool = rng.standard_normal(pooled.shape, dtype=np.float32)
    flat, dlogits = pooled.reshape(batch, -1), rng.standard_normal((batch, 10), dtype=np.float32)
    optimizer, params = model.optimizer, model._named()
    grads = {k: np.zeros_like(p) for k, p in params.items()}
    saved = {k: p.copy() for k, p in params.items()}
    relu, dconv = conv.activation, pool.backward(dpool)  # dconv: laid out as the engine's own

    def per_batch(fn: Callable[[], object]) -> Callable[[], None]:
        def epoch() -> None:
            for _ in range(0, n, batch):
                fn()
        return epoch

    conv_parts = conv_phases(conv, xb, None)  # the images need no gradient: no dx patches
    del conv_parts["dx patches"], conv_parts["dz layout"]
    phases(statistics.median(times["engine"]), {
        **{f"conv {name}": per_batch(fn) for name, fn in conv_parts.items()},
        "relu": per_batch(lambda: relu.backward(dconv, relu.forward(conv.logits))),
        "pooling": per_batch(lambda: (pool.forward(conv_out), pool.backward(dpool))),
        "dense GEMM": per_batch(lambda: (flat @ Wd, flat.T @ dlogits, dlogits @ Wd.T)),
        "optimiser": per_batch(lambda: optimizer.step(params, grads)),
    }, repeats)
    for k, p in params.items():  # Adam's momentum moved the weights: leave the model as it was
        p[...] = saved[k]


SEQUENCE = {"batch": 32, "steps": 50, "features": 64, "units": 128}  # a character model's batch
ATTENTION = {"batch": 32, "steps": 64, "features": 64, "heads": 4, "key_dim": 16}


def bench_recurrent(name: str, repeats: int) -> None:
    import torch

    from gradbook.reference import sequence_layers

    n, t, d, u = SEQUENCE["batch"], SEQUENCE["steps"], SEQUENCE["features"], SEQUENCE["units"]
    rng = np.random.default_rng(0)
    layer = getattr(sequence_layers, name)(u, return_sequences=True)
    layer.build((t, d), rng)
    x = rng.standard_normal((n, t, d), dtype=np.float32)
    dout = rng.standard_normal((n, t, u), dtype=np.float32)

    def engine() -> None:
        layer.forward(x)
        layer.backward(dout)

    module = {"SimpleRNN": torch.nn.RNN, "LSTM": torch.nn.LSTM}[name](d, u, batch_first=True)
    with torch.no_grad():  # the same weights: torch keeps them transposed, with a second bias (0 here)
        module.weight_ih_l0.copy_(torch.from_numpy(layer.params["Wx"].T.copy()))
        module.weight_hh_l0.copy_(torch.from_numpy(layer.params["Wh"].T.copy()))
        module.bias_ih_l0.copy_(torch.from_numpy(layer.params["b"]))
        module.bias_hh_l0.zero_()
    tx, tdout = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)

    def reference() -> None:
        module.zero_grad(set_to_none=True)
        tx.grad = None
        module(tx)[0].backward(tdout)

    side_by_side(f"(4) {name}({u}, return_sequences=True) forward+backward, batch {n}, {t} steps of {d} features",
                 engine, reference, repeats, 1.5)
    width = u * (4 if name == "LSTM" else 1)
    gemm_floor(name, [(n * t, d, width, 1),                                  # forward: every step's input term
                      (n, u, width, t), (n, width, u, t),                    # each step's h @ Wh, and dL/da @ Whᵀ
                      (d, n * t, width, 1), (u, n * t, width, 1), (n * t, width, d, 1)],  # dWx, dWh, dx
               engine, repeats)


def gemm_floor(name: str, products: list[tuple[int, int, int, int]], engine: Callable[[], None], repeats: int) -> None:
    """Where the time goes: the layer's matrix products at their exact shapes ((m, k, n, how many)), timed alone in
    NumPy and in torch, beside the whole forward+backward (the rest is the per-step arithmetic and Python)."""
    import torch

    rng = np.random.default_rng(0)
    pairs = [(rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32), count)
             for m, k, n, count in products]
    tensors = [(torch.from_numpy(a), torch.from_numpy(b), count) for a, b, count in pairs]

    def numpy_products() -> None:
        for a, b, count in pairs:
            for _ in range(count):
                a @ b

    def torch_products() -> None:
        for a, b, count in tensors:
            for _ in range(count):
                a @ b

    numpy_products(), torch_products()
    ours = statistics.median(run_times(numpy_products, repeats))
    theirs = statistics.median(run_times(torch_products, repeats))
    whole = statistics.median(run_times(engine, repeats))
    print(f"  its matrix products alone: NumPy {ours * 1e3:.1f} ms, torch {theirs * 1e3:.1f} ms "
          f"({ours / theirs:.2f}x); the engine's whole step is {whole / ours:.2f}x its NumPy products")


def bench_attention(repeats: int) -> None:
    import torch

    from gradbook.reference.sequence_layers import MultiHeadAttention

    n, t, d, h, k = (ATTENTION[key] for key in ("batch", "steps", "features", "heads", "key_dim"))
    rng = np.random.default_rng(0)
    mha = MultiHeadAttention(h, k)
    mha.build((t, d), rng)
    x = rng.standard_normal((n, t, d), dtype=np.float32)
    dout = rng.standard_normal((n, t, d), dtype=np.float32)

    def engine() -> None:
        mha.forward(x, x, use_causal_mask=True)
        mha.backward(dout)

    module = torch.nn.MultiheadAttention(d, h, batch_first=True)
    with torch.no_grad():
        module.in_proj_weight.copy_(torch.from_numpy(np.concatenate([mha.params[w].T for w in ("Wq", "Wk", "Wv")])))
        module.in_proj_bias.zero_()
        module.out_proj.weight.copy_(torch.from_numpy(mha.params["Wo"].T.copy()))
    tx, tdout = torch.from_numpy(x).requires_grad_(), torch.from_numpy(dout)
    causal = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)  # True: may not attend

    def reference() -> None:
        module.zero_grad(set_to_none=True)
        tx.grad = None
        module(tx, tx, tx, attn_mask=causal, need_weights=False)[0].backward(tdout)

    side_by_side(f"(4) MultiHeadAttention({h} heads, key_dim {k}) causal self-attention forward+backward, "
                 f"batch {n}, {t} steps of {d} features", engine, reference, repeats, 1.5)


def bench_sequences(repeats: int) -> None:
    bench_recurrent("SimpleRNN", repeats)
    bench_recurrent("LSTM", repeats)
    bench_attention(repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--only", choices=SECTIONS, help="run one section only (all by default)")
    parser.add_argument("--clock", choices=CLOCKS, default="cpu",
                        help="cpu: the process's CPU time (default; robust to other work on the machine); wall: elapsed")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    sys.stdout.reconfigure(line_buffering=True)  # each figure as it comes: a run on a busy machine is long

    import torch

    threads = blas_threads()
    torch.set_num_threads(threads)
    print(f"numpy {np.__version__}, torch {torch.__version__}, {threads} thread(s) for BLAS and torch, "
          f"{args.clock} time; "
          f"{'glibc heap kept (mmap threshold 32 MiB, trim 64 MiB)' if QUIET_HEAP else 'heap as the C library sets it'}; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())} on {os.cpu_count()} CPU(s)")
    for name, (run, scale) in SECTIONS.items():
        if args.only in (None, name):
            run(args.repeats * scale)


# name -> (the section, how many times --repeats it runs)
SECTIONS: dict[str, tuple[Callable[[int], None], int]] = {
    "mlp": (bench_mlp, 1), "conv": (bench_conv, 3), "cnn": (bench_cnn_epoch, 1), "sequences": (bench_sequences, 3),
}


if __name__ == "__main__":
    main()
