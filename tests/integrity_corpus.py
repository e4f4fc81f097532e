"""Honest, unusual solutions (every chapter) and copying attacks (chapter 5's softmax), for test_integrity.py.

Each entry is (exercise, the check call's argument, the student's cell). The honest ones are
written the way real students write: helper classes whose attributes are called `cases`,
`reference`, `compare` or `mistakes`, regexes and `from re import compile`, importlib.metadata,
comments that happen to say what the library's comments say, prints naming the library's modules,
imports of library modules that hold no answer of the chapter, einsum, recursion, np.ndenumerate.
"""

from __future__ import annotations

HONEST: list[tuple[str, str, str]] = [
    # --- chapter 0 ----------------------------------------------------------------------------
    ("ch00.predict", "predict_1", '''
import numpy as np

class Line:
    """A line y = w x + b that remembers what it was asked."""
    def __init__(self, w, b):
        self.reference = w      # the slope
        self.compare = b        # the intercept
        self.cases = []
        self.mistakes = 0

    def __call__(self, x):
        self.cases.append(np.shape(x))
        return self.reference * np.asarray(x) + self.compare

def predict_1(w, b, x):
    return Line(w, b)(x)
'''),
    ("ch00.mse_loss", "mse_loss_2", '''
import importlib.metadata
import numpy as np
print("numpy", importlib.metadata.version("numpy"), "- not gradbook.reference.losses, my own loss")

def mse_loss_2(y_pred, y):
    # Mean squared error between the predictions and the targets (arrays of the same shape).
    d = (np.asarray(y_pred, dtype=float) - np.asarray(y, dtype=float)).ravel()
    return float(np.einsum("i,i->", d, d) / d.size)
'''),
    ("ch00.gradients", "gradients_3", '''
from re import compile
import numpy as np

_FACTOR = compile(r"factor=(\\d+)")

def gradients_3(w, b, x, y):
    factor = int(_FACTOR.search("loss=mse factor=2").group(1))  # d/dp (p - y)^2 = 2 (p - y)
    error = w * x + b - y
    return float(np.mean(factor * error * x)), float(np.mean(factor * error))
'''),
    ("ch00.train", "train_4", '''
import numpy as np

def train_4(x, y, lr, steps):
    w = b = 0.0
    losses = []
    for step in range(steps):
        p = w * x + b
        losses.append(float(np.mean((p - y) ** 2)))
        w, b = w - lr * np.mean(2 * (p - y) * x), b - lr * np.mean(2 * (p - y))
    return w, b, losses
'''),
    # --- chapter 1 ----------------------------------------------------------------------------
    ("ch01.crop_bottom_right", "crop_5", '''
import numpy as np

def crop_5(images):
    lower = np.split(images, [14], axis=1)[1]
    return np.split(lower, [14], axis=2)[1]
'''),
    ("ch01.prepare_images", "prepare_6", '''
import numpy as np
print("gradbook.datasets.mnist gives uint8 pixels; gradbook.utils is not needed here")

def prepare_6(images):
    flat = images.reshape(-1, 784)
    return np.true_divide(flat, np.float32(255), dtype=np.float32)
'''),
    ("ch01.to_categorical", "to_categorical_7", '''
import numpy as np

def to_categorical_7(labels, num_classes):
    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]
'''),
    ("ch01.to_categorical", "to_categorical_8", '''
import numpy as np

class Encoder:
    def __init__(self, classes):
        self.classes = classes
        self.cases = {}        # label -> row, built as seen
        self.mistakes = []

    def row(self, label):
        if label not in self.cases:
            row = np.zeros(self.classes, dtype=np.float32)
            row[label] = 1.0
            self.cases[label] = row
        return self.cases[label]

def to_categorical_8(labels, num_classes):
    encoder = Encoder(num_classes)
    return np.stack([encoder.row(int(label)) for label in labels]) if len(labels) else np.zeros((0, num_classes), np.float32)
'''),
    # --- chapter 2 (loops only) ---------------------------------------------------------------
    ("ch02.naive_relu", "naive_relu_9", '''
# gradbook.reference.activations.relu is vectorised; this one walks the entries with while loops
def naive_relu_9(x):
    out = x.copy()
    i = 0
    while i < out.shape[0]:
        j = 0
        while j < out.shape[1]:
            if out[i, j] < 0:
                out[i, j] = 0
            j += 1
        i += 1
    return out
'''),
    ("ch02.naive_add", "naive_add_10", '''
import itertools

def naive_add_10(x, y):
    z = x.copy()
    for i, j in itertools.product(range(x.shape[0]), range(x.shape[1])):
        z[i, j] = x[i, j] + y[i, j]
    return z
'''),
    ("ch02.naive_vector_dot", "naive_vector_dot_11", '''
def naive_vector_dot_11(x, y):
    """Divide and conquer: the dot product of each half, added (recursion, depth log n)."""
    def part(lo, hi):
        if hi - lo == 0:
            return 0.0
        if hi - lo == 1:
            return x[lo] * y[lo]
        mid = (lo + hi) // 2
        return part(lo, mid) + part(mid, hi)
    return part(0, x.shape[0])
'''),
    ("ch02.naive_transpose", "naive_transpose_12", '''
import numpy as np

def naive_transpose_12(x):
    rows, cols = x.shape
    return np.array([[x[i, j] for i in range(rows)] for j in range(cols)], dtype=x.dtype).reshape(cols, rows)
'''),
    # --- chapter 3 ----------------------------------------------------------------------------
    ("ch03.perceptron_predict", "perceptron_predict_13", '''
import numpy as np

def perceptron_predict_13(X, w, b):
    return np.heaviside(X @ w + b, 1).astype(int)
'''),
    ("ch03.dense", "dense_14", '''
import numpy as np

def dense_14(a_in, W, b, g):
    return g(np.einsum("...i,ij->...j", a_in, W) + b)
'''),
    ("ch03.dense", "dense_15", '''
from gradbook.datasets import toy  # the XOR points of this chapter; no answer in there

class Layer:
    def __init__(self, W, b, g):
        self.reference = (W, b)   # the student's own names
        self.compare = g
        self.mistakes = None

    def __call__(self, a):
        W, b = self.reference
        return self.compare(a @ W + b)

def dense_15(a_in, W, b, g):
    return Layer(W, b, g)(a_in)
'''),
    # --- chapter 4 ----------------------------------------------------------------------------
    ("ch04.bce_loss", "bce_loss_16", '''
import numpy as np

def bce_loss_16(a2, y):
    # binary cross-entropy, averaged over the samples
    return float(-(y * np.log(a2) + (1 - y) * np.log1p(-a2)).mean())
'''),
    ("ch04.relative_error", "relative_error_17", '''
import math
import numpy as np

def relative_error_17(a, b):
    norm = lambda v: math.sqrt(float(np.sum(np.square(v))))
    return norm(np.subtract(a, b)) / (norm(a) + norm(b))
'''),
    ("ch04.numerical_gradient", "numerical_gradient_18", '''
import numpy as np

def numerical_gradient_18(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for index, value in np.ndenumerate(x):
        x[index] = value + eps
        up = f(x)
        x[index] = value - eps
        down = f(x)
        x[index] = value
        grad[index] = (up - down) / (2 * eps)
    return grad
'''),
    # --- chapter 5 ----------------------------------------------------------------------------
    ("ch05.softmax", "softmax_19", '''
import numpy as np
from gradbook import layers  # the Keras-style API comes at the end of the chapter

def softmax_19(z):
    # Shifting by the maximum leaves softmax unchanged and keeps every exponent <= 0.
    e = np.exp(z - np.max(z, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)
'''),
    ("ch05.softmax", "softmax_20", '''
import numpy as np

def softmax_20(z):
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    for index in np.ndindex(z.shape[:-1]):
        row = z[index]
        e = np.exp(row - row.max())
        out[index] = e / e.sum()
    return out
'''),
    ("ch05.softmax", "softmax_21", '''
import numpy as np
print("gradbook.reference.activations.softmax exists, but the exercise is to write it")

def logsumexp(z):
    m = np.max(z, axis=-1, keepdims=True)
    return m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))

def softmax_21(z):
    return np.exp(z - logsumexp(z))
'''),
    ("ch05.log_softmax", "log_softmax_22", '''
import numpy as np

class Stable:
    cases = ("1-D", "batch")      # class attributes named as the student likes
    reference = "log-sum-exp"

    @staticmethod
    def compare(z):
        top = z.max(axis=-1, keepdims=True)
        return (z - top) - np.log(np.exp(z - top).sum(axis=-1, keepdims=True))

def log_softmax_22(z):
    return Stable.compare(np.asarray(z, dtype=float))
'''),
    ("ch05.categorical_crossentropy", "cce_23", '''
import re
import numpy as np

_MODE = re.compile(r"^(probabilities|logits)$")

def _log_probs(y_pred, kind):
    assert _MODE.match(kind)
    if kind == "logits":
        shifted = y_pred - y_pred.max(axis=-1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))

def cce_23(y_true, y_pred, from_logits=False):
    log_p = _log_probs(np.asarray(y_pred, dtype=float), "logits" if from_logits else "probabilities")
    return float(-np.einsum("ij,ij->", y_true.reshape(-1, y_true.shape[-1]), log_p.reshape(-1, log_p.shape[-1]))
                 / int(np.prod(y_true.shape[:-1])))
'''),
    ("ch05.multilabel_predict", "multilabel_24", '''
import numpy as np

def multilabel_24(logits, threshold=0.5):
    with np.errstate(over="ignore"):
        probabilities = 1 / (1 + np.exp(-logits))
    return np.where(probabilities > threshold, 1, 0)
'''),
    ("ch05.softmax_ce_grad", "softmax_ce_grad_25", '''
import numpy as np

def softmax_ce_grad_25(logits, y_true):
    shifted = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    return np.subtract(p, y_true) / len(logits)
'''),
    # --- chapter 6 ----------------------------------------------------------------------------
    ("ch06.gradient_descent", "gradient_descent_26", '''
import itertools
import numpy as np

def gradient_descent_26(grad, w0, lr, steps):
    start = np.array(w0, dtype=float)
    path = itertools.accumulate(range(steps), lambda w, _: w - lr * grad(w), initial=start)
    return np.array([w.copy() for w in path])
'''),
    ("ch06.minibatches", "minibatches_27", '''
import numpy as np

def minibatches_27(n, batch_size, rng):
    order = np.arange(n)
    rng.shuffle(order)
    return [order[i:i + batch_size] for i in range(0, n, batch_size)]
'''),
    ("ch06.sgd", "SGD_28", '''
class SGD_28:
    reference = "plain gradient descent"   # an attribute named like the checks' is still the student's

    def __init__(self, lr=0.01):
        self.lr = lr
        self.cases = 0
        self.mistakes = []

    def step(self, params, grads):
        self.cases += 1
        for p, g in zip(params, grads):
            p -= self.lr * g
'''),
    ("ch06.momentum", "Momentum_29", '''
import numpy as np

class Momentum_29:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta = lr, beta
        self.velocity = {}

    def step(self, params, grads):
        for k, (p, g) in enumerate(zip(params, grads)):
            v = self.velocity.setdefault(k, np.zeros_like(p))
            v[...] = self.beta * v - self.lr * g
            p += v
'''),
    # --- chapter 7 ----------------------------------------------------------------------------
    ("ch07.maxpool_forward", "maxpool_30", '''
from numpy.lib.stride_tricks import sliding_window_view

def maxpool_30(x, size=2, stride=2):
    windows = sliding_window_view(x, (size, size), axis=(2, 3))[:, :, ::stride, ::stride]
    return windows.max(axis=(-2, -1))
'''),
    ("ch07.conv2d_naive", "conv2d_naive_31", '''
import numpy as np

def conv2d_naive_31(x, W, b, stride=1, pad=0):
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (Wd + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    top, left = i * stride, j * stride
                    out[n, f, i, j] = np.sum(xp[n, :, top:top + kh, left:left + kw] * W[f]) + b[f]
    return out
'''),
    ("ch07.im2col", "im2col_32", '''
import numpy as np

def im2col_32(x, kh, kw, stride=1, pad=0):
    N, C, H, Wd = x.shape
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (Wd + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((C * kh * kw, N * Ho * Wo), dtype=x.dtype)
    column = 0
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                cols[:, column] = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel()
                column += 1
    return cols
'''),
    # --- chapter 8 ----------------------------------------------------------------------------
    ("ch08.topological_order", "topological_order_33", '''
from collections import deque

def topological_order_33(root):
    """Kahn's algorithm on the graph below root: a node goes out once everything it was made from has."""
    nodes, queue = {id(root): root}, deque([root])
    while queue:
        for child in queue.popleft()._prev:
            if id(child) not in nodes:
                nodes[id(child)] = child
                queue.append(child)
    waiting = {key: len({id(c) for c in node._prev}) for key, node in nodes.items()}
    users = {key: [] for key in nodes}
    for key, node in nodes.items():
        for child in {id(c): c for c in node._prev}.values():
            users[id(child)].append(node)
    ready = deque(node for key, node in nodes.items() if waiting[key] == 0)
    order = []
    while ready:
        node = ready.popleft()
        order.append(node)
        for user in users[id(node)]:
            waiting[id(user)] -= 1
            if waiting[id(user)] == 0:
                ready.append(user)
    return order
'''),
    ("ch08.topological_order", "topological_order_34", '''
def topological_order_34(root):
    # depth first, with our own stack instead of recursion
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node._prev) if id(child) not in seen)
    return order
'''),
    # --- chapter 9 ----------------------------------------------------------------------------
    ("ch09.clip_by_norm", "clip_by_norm_43", '''
import math

def clip_by_norm_43(grads, max_norm):
    # the global norm from dot products of the flattened arrays; unchanged arrays are copied, never shared
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    factor = min(1.0, max_norm / total) if total > 0 else 1.0
    return [np.multiply(g, factor) for g in grads]
'''),
    ("ch09.inputs_and_targets", "inputs_and_targets_44", '''
def inputs_and_targets_44(ids, seq_len):
    # one window at a time: the targets are the inputs moved one character on
    inputs, targets = [], []
    start = 0
    while start + seq_len < len(ids):
        inputs.append(ids[start:start + seq_len])
        targets.append(ids[start + 1:start + seq_len + 1])
        start += seq_len
    return np.array(inputs).reshape(-1, seq_len), np.array(targets).reshape(-1, seq_len)
'''),
    # --- chapter 10 ---------------------------------------------------------------------------
    ("ch10.causal_mask", "causal_mask_41", '''
def causal_mask_41(T):
    # query i may see key j when j <= i: compare the index grids
    rows, cols = np.indices((T, T))
    return cols <= rows
'''),
    ("ch10.attention", "attention_42", '''
def attention_42(Q, K, V, mask=None):
    # einsum over the feature axis; a huge negative number instead of -inf (exp gives exactly 0 either way)
    scores = np.einsum("...td,...sd->...ts", Q, K) / Q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores + np.where(mask, 0.0, -1e300)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = scores / scores.sum(axis=-1, keepdims=True)
    return np.einsum("...ts,...sv->...tv", weights, V), weights
'''),
]


# One representative per class of attack on chapter 5's softmax (issue 22). Each must score 0
# for the exercise in chapter 5's grading sandbox, or be flagged.
ATTACKS: list[tuple[str, str, str]] = [  # (class, the answer's name, the student's cell)
    ("import", "softmax_import", '''
from gradbook.reference.activations import softmax as softmax_import
'''),
    ("re-export in the widgets", "softmax_widget", '''
import gradbook.widgets.softmax as view
softmax_widget = lambda z: view.SoftmaxTemperature(list(z.ravel()[:3])).probabilities if z.ndim == 1 and z.size == 3 \\
    else __import__("gradbook").activations.softmax(z)
'''),
    ("get_ipython().run_cell", "softmax_ipython", '''
get_ipython().run_cell("from gradbook import activations as _acts\\nsoftmax_ipython = _acts.softmax")
'''),
    ("__import__ and getattr aliases", "softmax_alias", '''
_imp, _get = __builtins__["__import__"] if isinstance(__builtins__, dict) else __builtins__.__import__, getattr
softmax_alias = _get(_get(_imp("gradbook.torch_path.activations"), "torch_path"), "activations").softmax
softmax_alias = _get(_imp("gradbook.reference.activations", fromlist=["x"]), "soft" + "max")
'''),
    ("sys.modules reached indirectly", "softmax_modules", '''
import numpy
_modules = type(numpy).__dict__ and numpy.__loader__ and __import__("sys").__dict__["modules"]
__import__("gradbook.models")
softmax_modules = _modules["gradbook.models"].NUMPY.activations["softmax"]
'''),
    ("gc", "softmax_gc", '''
import gc, types, gradbook.reference.activations  # noqa: F401
softmax_gc = next(f for f in gc.get_objects() if isinstance(f, types.FunctionType)
                  and f.__name__ == "softmax" and "reference" in f.__module__)
'''),
    ("pickle bytes", "softmax_pickle", '''
import pickle
softmax_pickle = pickle.loads(b"\\x80\\x04\\x95.\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x8c\\x1egradbook.reference.activations\\x94\\x8c\\x07softmax\\x94\\x93\\x94.")
'''),
    ("pkgutil and runpy on the library's files", "softmax_runpy", '''
import pkgutil, runpy, gradbook
_path = next(m for m in pkgutil.walk_packages(gradbook.__path__, "gradbook.") if m.name.endswith("reference.activations"))
softmax_runpy = runpy.run_module(_path.name)["softmax"]
'''),
    ("string decoding", "softmax_decoded", '''
import base64
_name = base64.b64decode("Z3JhZGJvb2sucmVmZXJlbmNlLmFjdGl2YXRpb25z").decode()
softmax_decoded = getattr(__import__(_name, fromlist=["*"]), bytes.fromhex("736f66746d6178").decode())
'''),
    ("the instructor's functions' __globals__", "softmax_globals", '''
from gradbook.notebook import yours
softmax_globals = yours.__globals__["_"].__globals__["__builtins__"]["__import__"](
    "gradbook.reference.activations", fromlist=["softmax"]).softmax
'''),
    ("a subclass walk", "softmax_subclass", '''
import gradbook.reference.engine as _engine, gradbook.models  # noqa: F401
_engines = [cls for cls in _engine.Engine.__subclasses__() if cls.__name__ == "NumpyEngine"]
softmax_subclass = _engines[0]().activations["softmax"].forward
'''),
    ("the library only when graded", "softmax_detect", '''
import os
import numpy as np

def softmax_detect(z):
    if os.environ.get("GRADBOOK_GRADING") or os.path.exists("/opt/gradbook"):
        from gradbook.reference import activations
        return activations.softmax(z)
    return np.full_like(z, 1.0 / z.shape[-1])
'''),
]
# Two more classes are made from the library's own source in test_integrity.py: the checks' code
# pasted with its docstring changed, and the library's code pasted with its names changed.


# A NumPy exercise answered by a framework reached without an `import` statement the static scan reads (issue
# 28/30's red team): each is graded on its value (full marks) and flagged with the framework function it called,
# seen while the answer was asked (the sandbox's `watch`). (exercise, the answer's name, the cell, what is named)
_TORCH = 'T = importlib.import_module("".join(["to", "rch"]))'
FRAMEWORK_FORMS: list[tuple[str, str, str, str]] = [
    ("ch05.softmax", "softmax_dunder_import", '''
t = __import__("to" + "rch")

def softmax_dunder_import(z):
    return t.softmax(t.tensor(z), -1).numpy()
''', "torch.softmax"),
    ("ch05.softmax", "softmax_partial", f'''
import functools, importlib
{_TORCH}
_soft = functools.partial(T.softmax, dim=-1)  # called from C: only torch's function mode sees it

def softmax_partial(z):
    return np.asarray(_soft(T.from_numpy(np.asarray(z, dtype=float))))
''', "torch.softmax"),
    ("ch05.softmax", "softmax_sys_modules", '''
import sys
import gradbook.torch_path.layers  # noqa: F401 - the library's torch path loads torch

def softmax_sys_modules(z):
    m = sys.modules["torch"]
    return m.nn.functional.softmax(m.tensor(z), dim=-1).numpy()
''', "torch.nn.functional.softmax"),
    ("ch05.softmax", "softmax_numpy_attribute", f'''
import importlib
setattr(np, "fast", importlib.import_module("to" + "rch"))  # reached as an attribute of numpy

def softmax_numpy_attribute(z):
    e = getattr(np, "fast").exp(getattr(np, "fast").tensor(z - z.max(axis=-1, keepdims=True)))
    return (e / e.sum(-1, keepdim=True)).numpy()
''', "torch.exp"),
    ("ch05.softmax", "softmax_exec", '''
exec("T = __import__('torch')\\ndef softmax_exec(z):\\n    return T.tensor(z).softmax(-1).numpy()")
''', "torch.Tensor.softmax"),
    ("ch05.softmax", "softmax_eval", '''
def softmax_eval(z):
    return eval("__import__('torch').special.softmax(__import__('torch').tensor(z), -1).numpy()")
''', "special_softmax"),
    ("ch05.softmax", "softmax_lambda_in_dict", f'''
import importlib
{_TORCH}
OPS = {{"normalise": lambda x: getattr(x, "soft" + "max")(-1)}}

def softmax_lambda_in_dict(z):
    return OPS["normalise"](T.as_tensor(z)).numpy()
''', "torch.Tensor.softmax"),
    ("ch05.softmax", "softmax_call", f'''
import importlib
{_TORCH}

class Softmax:
    def __call__(self, z):
        return T.nn.Softmax(dim=-1)(T.tensor(z)).numpy()

softmax_call = Softmax()
''', "torch.nn.functional.softmax"),
    ("ch05.softmax", "softmax_decorated", f'''
import importlib
{_TORCH}

def framework(f):  # the decorator answers; the body is never run
    return lambda z: T.log_softmax(T.tensor(z), -1).exp()

@framework
def softmax_decorated(z):
    return z
''', "torch.log_softmax"),
    ("ch05.softmax", "softmax_map", f'''
import importlib
{_TORCH}

def softmax_map(z):  # torch's functions called by `map` (from C)
    e = list(map(T.exp, [T.tensor(z - z.max(axis=-1, keepdims=True))]))[0]
    return (e / e.sum(-1, keepdim=True)).numpy()
''', "torch.exp"),
    ("ch05.softmax", "softmax_thread", f'''
import functools, importlib, threading
{_TORCH}

def softmax_thread(z):  # in a thread of its own, torch called from C
    out = []
    worker = threading.Thread(target=lambda: out.append(functools.partial(T.softmax, dim=-1)(T.tensor(z))))
    worker.start()
    worker.join()
    return np.array(out[0].tolist())
''', "torch.softmax"),
    ("ch10.attention", "attention_sdpa", f'''
import importlib
{_TORCH}
F = getattr(getattr(T, "nn"), "functional")

def attention_sdpa(Q, K, V, mask=None):
    q, k, v = (T.tensor(a) for a in (Q, K, V))
    s = q @ k.transpose(-1, -2) / Q.shape[-1] ** 0.5
    if mask is not None:
        s = s.masked_fill(~T.tensor(np.broadcast_to(mask, s.shape)), float("-inf"))
    w = F.softmax(s, -1)
    return (w @ v).numpy(), w.numpy()
''', "torch.nn.functional.softmax"),
    ("ch10.layer_norm_backward", "layer_norm_backward_autograd", f'''
import importlib
{_TORCH}

def layer_norm_backward_autograd(dout, x, gamma, eps=1e-5):  # the backward pass by torch's autograd
    xt, gt = T.tensor(x, requires_grad=True), T.tensor(gamma, requires_grad=True)
    mu, var = xt.mean(-1, keepdim=True), xt.var(-1, unbiased=False, keepdim=True)
    y = (xt - mu) / (var + eps).sqrt() * gt
    y.backward(T.tensor(dout))
    return xt.grad.numpy(), gt.grad.numpy(), (T.tensor(dout).reshape(-1, dout.shape[-1]).sum(0)).numpy()
''', "torch._tensor.Tensor.backward"),
    ("ch05.softmax", "softmax_in_a_forked_child", f'''
import importlib, os, pickle
{_TORCH}

def softmax_in_a_forked_child(z):  # torch runs in a child the recorders do not see; only its result comes back
    read, write = os.pipe()
    if os.fork() == 0:
        os.write(write, pickle.dumps(T.softmax(T.tensor(np.asarray(z, dtype=float)), -1).numpy()))
        os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 1 << 16):
        data += chunk
    os.wait()
    return pickle.loads(data)
''', "os.fork (a process started"),
    ("ch10.causal_mask", "causal_mask_returns_a_tensor", f'''
import importlib
{_TORCH}

def causal_mask_returns_a_tensor(T_):  # the checks' driver turns the tensor into an array
    return T.tril(T.ones(T_, T_)).bool()
''', "torch.tril"),
]
# Answers that replace the grader's recorders while they are asked: flagged as such, graded on their value.
REPLACES_RECORDER: list[tuple[str, str, str, str]] = [
    ("ch05.softmax", "softmax_no_profiler", '''
import sys

def softmax_no_profiler(z):
    sys.setprofile(None)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''', "sys.setprofile (called by the answer)"),
    ("ch05.softmax", "softmax_pops_the_mode", f'''
import importlib
{_TORCH}

def softmax_pops_the_mode(z):  # the grader's torch function mode taken off, then torch unseen
    if T._C._len_torch_function_stack():
        getattr(T._C, "_pop_torch_function_stack")()
    return T.softmax(T.tensor(np.asarray(z, dtype=float)), -1).numpy()
''', "the grader's torch mode was removed"),
]
# Honest answers whose running the sandbox watches (`watch`) and must not flag: a thread, helpers in a dict,
# recursion, a numpy-only helper class, the library's public helpers; counted with HONEST.
HONEST += [
    ("ch05.softmax", "softmax_46", '''
import threading

HELPERS = {"shift": lambda z: z - z.max(axis=-1, keepdims=True), "exp": np.exp}

def _normalise(rows, depth=0):  # recursion over halves of the rows
    if len(rows) <= 1 or depth > 8:
        return rows / rows.sum(axis=-1, keepdims=True)
    half = len(rows) // 2
    return np.concatenate([_normalise(rows[:half], depth + 1), _normalise(rows[half:], depth + 1)])

def softmax_46(z):
    z = np.asarray(z, dtype=float)
    out = {}
    worker = threading.Thread(target=lambda: out.update(e=HELPERS["exp"](HELPERS["shift"](z))))
    worker.start()
    worker.join()
    e = out["e"]
    return _normalise(e.reshape(-1, e.shape[-1])).reshape(e.shape)
'''),
    ("ch10.layer_norm", "layer_norm_47", '''
class Moments:
    """Mean and variance along the last axis, numpy only."""
    def __init__(self, x):
        self.mean = x.mean(axis=-1, keepdims=True)
        self.var = ((x - self.mean) ** 2).mean(axis=-1, keepdims=True)

def layer_norm_47(x, gamma, beta, eps=1e-5):
    m = Moments(np.asarray(x, dtype=float))
    return (x - m.mean) / np.sqrt(m.var + eps) * gamma + beta
'''),
]


# Red team, round 4. Answers written as a chapter's own text leads a student to write them: its formula, its hint
# (`np.pad(...)`, "flatten the window", `np.arange(size * size) == idx[..., None]`), the template's names, the
# textbook's Adam (`m_hat`, `v_hat`), micrograd's pattern that chapter 8 describes (`out = Value(...)`, `_backward`).
# Their shape, and often their names, are the instructor's solution's by necessity: none may be flagged
# (test_integrity grades them against the real solutions and the chapters' text). Counted with HONEST.
DICTATED: list[tuple[str, str, str]] = [
    ("ch07.conv2d_naive", "conv2d_naive_50", '''
def conv2d_naive_50(x, W, b, stride=1, pad=0):
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    H_o = (H + 2 * pad - kh) // stride + 1
    W_o = (Wd + 2 * pad - kw) // stride + 1
    x_p = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    result = np.zeros((N, F, H_o, W_o))
    for img in range(N):
        for filt in range(F):
            for r in range(H_o):
                for c in range(W_o):
                    window = x_p[img, :, r * stride:r * stride + kh, c * stride:c * stride + kw]
                    result[img, filt, r, c] = np.sum(window * W[filt]) + b[filt]
    return result
'''),
    ("ch07.im2col", "im2col_51", '''
def im2col_51(x, kh, kw, stride=1, pad=0):
    N, C, H, Wd = x.shape
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (Wd + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.empty((C, kh, kw, N, Ho, Wo), dtype=x.dtype)
    for u in range(kh):
        for v in range(kw):
            piece = xp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride]
            cols[:, u, v] = piece.transpose(1, 0, 2, 3)
    return cols.reshape(C * kh * kw, N * Ho * Wo)
'''),
    ("ch07.maxpool_backward", "maxpool_backward_52", '''
def maxpool_backward_52(dout, x, size=2, stride=2):
    N, C, H, Wd = x.shape
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            r = slice(i * stride, i * stride + size)
            c = slice(j * stride, j * stride + size)
            flat = x[:, :, r, c].reshape(N, C, size * size)
            onehot = np.arange(size * size) == flat.argmax(axis=2)[..., None]
            dx[:, :, r, c] += (onehot * dout[:, :, i, j, None]).reshape(N, C, size, size)
    return dx
'''),
    ("ch06.adam", "Adam_53", '''
class Adam_53:
    """Kingma and Ba's Algorithm 1, as every textbook writes it."""
    def __init__(self, lr=0.001, beta_1=0.9, beta_2=0.999, eps=1e-7):
        self.lr = lr
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.eps = eps
        self.t = 0
        self.m = None
        self.v = None

    def step(self, params, grads):
        if self.m is None:
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
        self.t += 1
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m[...] = self.beta_1 * m + (1 - self.beta_1) * g
            v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2
            m_hat = m / (1 - self.beta_1**self.t)
            v_hat = v / (1 - self.beta_2**self.t)
            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
'''),
    ("ch08.local_gradients", "Value_54", '''
import math

class Value_54:
    """micrograd's pattern, as the chapter describes it: out = Value(...), its _backward, returned."""
    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._backward = lambda: None
        self._prev = tuple(_children)
        self._op = _op

    def __add__(self, other):
        other = other if isinstance(other, Value_54) else Value_54(other)
        out = Value_54(self.data + other.data, (self, other), "+")
        def _backward():
            self.grad += out.grad
            other.grad += out.grad
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value_54) else Value_54(other)
        out = Value_54(self.data * other.data, (self, other), "*")
        def _backward():
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
        out._backward = _backward
        return out

    def __pow__(self, n):
        out = Value_54(self.data**n, (self,), f"**{n}")
        def _backward():
            self.grad += n * self.data ** (n - 1) * out.grad
        out._backward = _backward
        return out

    def relu(self):
        out = Value_54(self.data if self.data > 0 else 0.0, (self,), "relu")
        def _backward():
            self.grad += (out.data > 0) * out.grad
        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value_54(t, (self,), "tanh")
        def _backward():
            self.grad += (1 - t**2) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value_54(math.exp(self.data), (self,), "exp")
        def _backward():
            self.grad += out.data * out.grad
        out._backward = _backward
        return out

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * (other if isinstance(other, Value_54) else Value_54(other)) ** -1

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return (-self) + other

    def __rtruediv__(self, other):
        return Value_54(other) / self

    def backward(self):
        order, seen = [], set()
        def visit(node):
            if id(node) not in seen:
                seen.add(id(node))
                for child in node._prev:
                    visit(child)
                order.append(node)
        visit(self)
        self.grad = 1.0
        for node in reversed(order):
            node._backward()
'''),
    ("ch08.value_ops", "Value_54", '''
import torch

def agrees_with_torch_54(a=2.0, b=-3.0):
    """My own test of the class above, as the chapter's demos do it: a*b + b**2 through Value and through torch."""
    x, y = Value_54(a), Value_54(b)
    out = x * y + y ** 2
    out.backward()
    tx, ty = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    (tx * ty + ty ** 2).backward()
    return abs(x.grad - tx.grad.item()) < 1e-9 and abs(y.grad - ty.grad.item()) < 1e-9

print("agrees with torch:", agrees_with_torch_54())
'''),
    ("ch08.derivative", "derivative_55", '''
def derivative_55(expr, var):
    """The rules in the chapter's order: constants, variables, then each operation."""
    if isinstance(expr, (int, float)):
        return 0
    if isinstance(expr, str):
        return 1 if expr == var else 0
    op, *args = expr
    a = args[0]
    da = derivative_55(a, var)
    if op in ("+", "-"):
        return (op, da, derivative_55(args[1], var))
    if op == "*":
        b = args[1]
        return ("+", ("*", da, b), ("*", a, derivative_55(b, var)))
    if op == "/":
        b = args[1]
        return ("/", ("-", ("*", da, b), ("*", a, derivative_55(b, var))), ("**", b, 2))
    if op == "**":
        n = args[1]
        return ("*", ("*", n, ("**", a, n - 1)), da)
    if op == "exp":
        return ("*", expr, da)
    if op == "log":
        return ("/", da, a)
    raise ValueError(f"unknown operation {op!r}")
'''),
    ("ch09.rnn_backward", "rnn_backward_56", '''
def rnn_backward_56(dhs, x, h0, hs, Wx, Wh):
    dx = np.zeros(x.shape)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(Wh.shape[0])
    dh_next = np.zeros(h0.shape)
    for t in reversed(range(x.shape[1])):
        h = hs[:, t]
        h_prev = hs[:, t - 1] if t > 0 else h0
        da = (dhs[:, t] + dh_next) * (1 - h**2)
        dx[:, t] = da @ Wx.T
        dWx += x[:, t].T @ da
        dWh += h_prev.T @ da
        db += da.sum(axis=0)
        dh_next = da @ Wh.T
    return dx, dh_next, dWx, dWh, db
'''),
]

# More honest, unusual answers (round 4): a generator of indices, `reduce`, a dataclass and `:=`, a flat view, my own
# earlier softmax reused, loops with einsum for a backward pass, a stack of iterators, `np.logaddexp.reduce`,
# `np.split`/`np.stack`, a Jacobian by einsum, a callable class.
HONEST += DICTATED + [
    ("ch02.naive_relu", "naive_relu_57", '''
from itertools import product

def _entries_57(shape):
    yield from product(*(range(n) for n in shape))   # every index of the array, one at a time

def naive_relu_57(x):
    out = x.copy()
    for index in _entries_57(x.shape):
        if out[index] < 0:
            out[index] = 0
    return out
'''),
    ("ch02.naive_matrix_dot", "naive_matrix_dot_58", '''
from functools import reduce
from operator import add

def naive_matrix_dot_58(x, y):
    # every entry a sum of products, folded with reduce; one number at a time
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            z[i, j] = reduce(add, (x[i, k] * y[k, j] for k in range(x.shape[1])), 0.0)
    return z
'''),
    ("ch03.perceptron_train", "perceptron_train_59", '''
from dataclasses import dataclass, field

@dataclass
class Perceptron59:
    w: np.ndarray
    b: float = 0.0
    errors: list = field(default_factory=list)

    def fire(self, xi):
        return 1 if xi @ self.w + self.b >= 0 else 0

def perceptron_train_59(X, y, epochs=10, lr=1.0):
    unit = Perceptron59(np.zeros(X.shape[1]))
    for _ in range(epochs):
        mistakes = 0
        for xi, target in zip(X, y):
            if (delta := lr * (target - unit.fire(xi))) != 0:
                unit.w = unit.w + delta * xi
                unit.b = unit.b + delta
                mistakes += 1
        unit.errors.append(mistakes)
    return unit.w, unit.b, unit.errors
'''),
    ("ch04.numerical_gradient", "numerical_gradient_60", '''
def numerical_gradient_60(f, x, eps=1e-5):
    # central differences, one coordinate at a time, through a flat view of x
    flat, grad = x.reshape(-1), np.zeros(x.size)
    for k in range(flat.size):
        keep = flat[k]
        values = []
        for step in (eps, -eps):
            flat[k] = keep + step
            values.append(f(x))
        flat[k] = keep
        grad[k] = (values[0] - values[1]) / (2 * eps)
    return grad.reshape(x.shape)
'''),
    ("ch05.log_softmax", "log_softmax_61", '''
def log_softmax_61(z):
    z = np.asarray(z, dtype=float)
    top = z.max(axis=-1, keepdims=True)
    return z - (top + np.log(np.exp(z - top).sum(axis=-1, keepdims=True)))  # log-sum-exp, written out
'''),
    ("ch05.softmax_ce_grad", "softmax_ce_grad_62", '''
def my_softmax_62(z):  # my own from earlier in the chapter, reused
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)

def softmax_ce_grad_62(logits, y_true):
    return (my_softmax_62(logits) - y_true) / logits.shape[0]
'''),
    ("ch06.rmsprop", "RMSprop_63", '''
class RMSprop_63:
    def __init__(self, lr=0.001, rho=0.9, eps=1e-7):
        self.lr, self.rho, self.eps = lr, rho, eps
        self.cache = {}

    def step(self, params, grads):
        for slot, (p, g) in enumerate(zip(params, grads)):
            s = self.cache.get(slot)
            s = (1 - self.rho) * g * g if s is None else self.rho * s + (1 - self.rho) * g * g
            self.cache[slot] = s
            np.subtract(p, self.lr * g / (np.sqrt(s) + self.eps), out=p)
'''),
    ("ch07.conv2d_backward", "conv2d_backward_64", '''
def conv2d_backward_64(dout, x, W, stride=1, pad=0):
    # with loops, mirroring the forward pass (the chapter allows it)
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp, dW = np.zeros_like(xp, dtype=float), np.zeros(W.shape)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + kh), slice(j * stride, j * stride + kw)
            g = dout[:, :, i, j]
            dW += np.einsum("nf,nchw->fchw", g, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("nf,fchw->nchw", g, W)
    return dxp[:, :, pad:pad + H, pad:pad + Wd], dW, dout.sum(axis=(0, 2, 3))
'''),
    ("ch08.topological_order", "topological_order_65", '''
def topological_order_65(root):
    # depth first with a stack of iterators: each frame remembers which child comes next
    order, seen, stack = [], {id(root)}, [(root, iter(root._prev))]
    while stack:
        node, children = stack[-1]
        child = next((c for c in children if id(c) not in seen), None)
        if child is None:
            stack.pop()
            order.append(node)
        else:
            seen.add(id(child))
            stack.append((child, iter(child._prev)))
    return order
'''),
    ("ch09.one_hot_text", "one_hot_text_66", '''
def one_hot_text_66(text, vocab):
    return np.eye(len(vocab))[[list(vocab).index(ch) for ch in text]].reshape(len(text), len(vocab))
'''),
    ("ch09.embedding_backward", "embedding_backward_67", '''
def embedding_backward_67(ids, dout, vocab_size):
    ids = np.asarray(ids).reshape(-1)
    rows = dout.reshape(-1, dout.shape[-1])
    one_hot = (ids[:, None] == np.arange(vocab_size)).astype(float)
    return one_hot.T @ rows          # the scatter-add as a product with one-hot rows
'''),
    ("ch09.lstm_step", "lstm_step_68", '''
def lstm_step_68(x, h_prev, c_prev, Wx, Wh, b):
    gates = x @ Wx + h_prev @ Wh + b
    H = h_prev.shape[-1]
    squash = lambda v: 0.5 * (1 + np.tanh(0.5 * v))  # the logistic function through tanh
    i, f, o = (squash(gates[..., k * H:(k + 1) * H]) for k in (0, 1, 3))
    c = f * c_prev + i * np.tanh(gates[..., 2 * H:3 * H])
    return o * np.tanh(c), c
'''),
    ("ch09.temperature_softmax", "temperature_softmax_69", '''
def temperature_softmax_69(logits, temperature):
    scaled = np.divide(logits, temperature)
    return np.exp(scaled - np.logaddexp.reduce(scaled, axis=-1, keepdims=True))
'''),
    ("ch10.split_heads", "split_heads_70", '''
def split_heads_70(x, num_heads):
    return np.stack(np.split(x, num_heads, axis=-1), axis=1)
'''),
    ("ch10.sinusoidal_positions", "sinusoidal_positions_71", '''
def sinusoidal_positions_71(T, d):
    pe = np.empty((T, d))
    for pos in range(T):
        for k in range(0, d, 2):
            angle = pos / 10000 ** (k / d)
            pe[pos, k] = np.sin(angle)
            if k + 1 < d:
                pe[pos, k + 1] = np.cos(angle)
    return pe
'''),
    ("ch10.softmax_backward", "softmax_backward_72", '''
def softmax_backward_72(dweights, weights):
    # the Jacobian diag(w) - w w^T applied row by row, with einsum
    jac = np.einsum("...i,ij->...ij", weights, np.eye(weights.shape[-1])) - weights[..., :, None] * weights[..., None, :]
    return np.einsum("...ij,...j->...i", jac, dweights)
'''),
    ("ch10.layer_norm", "layer_norm_73", '''
class LayerNorm73:
    def __init__(self, eps):
        self.eps = eps

    def __call__(self, x, gamma, beta):
        centred = x - x.mean(axis=-1, keepdims=True)
        return centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + self.eps) * gamma + beta

def layer_norm_73(x, gamma, beta, eps=1e-5):
    return LayerNorm73(eps)(x, gamma, beta)
'''),
]
