"""A held-out set of students' answers, written from each chapter's text and reference solution only (not
from the chapter's list of known mistakes), for tests/test_heldout.py.

WRONG: what real students write wrong, one mistake each, with what the mistake is (`said`: words of which
at least one must appear in the failing message, in English, for it to count as naming the mistake; an
empty tuple where no single word would name it). RIGHT: correct answers written unusually (other loops,
einsum, in-place operations, other dtypes), which must pass.

Each entry is (exercise, the student's cell, the expression the check is called with, said). A cell runs
in a namespace like its chapter's notebook: numpy as `np`, `math`, and the chapter's earlier answers
(the references), as the student's own earlier cells would give them. `edit(chapter, grade id, old, new)`
is the solution's cell with one change, the way a student's whole class differs by one line.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@cache
def _cells(chapter: str) -> dict[str, str]:
    path = next((ROOT / "solutions").glob(f"{chapter}-*.ipynb"))
    cells = json.loads(path.read_text())["cells"]
    return {c["metadata"]["nbgrader"]["grade_id"]: "".join(c["source"]) for c in cells
            if c.get("metadata", {}).get("nbgrader", {}).get("solution")}


def edit(chapter: str, gid: str, old: str, new: str) -> str:
    source = re.sub(r"^\s*### (BEGIN|END) SOLUTION\n", "", _cells(chapter)[gid], flags=re.M)
    assert source.count(old) == 1, (gid, old)
    return source.replace(old, new)


Entry = tuple[str, str, str, tuple[str, ...]]

WRONG: list[Entry] = [
    # --- chapter 0 ----------------------------------------------------------------------------
    ("ch00.predict", "def predict(w, b, x):\n    return w * x\n", "predict", ("b",)),
    ("ch00.predict", "def predict(w, b, x):\n    return b * x + w\n", "predict", ("swap", "w")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.mean(np.abs(y_pred - y))\n", "mse_loss", ("abs", "square")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.sum((y_pred - y) ** 2)\n", "mse_loss", ("sum", "mean", "length", "times")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.mean(y_pred - y) ** 2\n", "mse_loss", ("square", "mean")),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    error = w * x + b - y\n    return np.mean(error * x), np.mean(error)\n",
     "gradients", ("2", "half", "factor")),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    error = y - (w * x + b)\n    return np.mean(2 * error * x), np.mean(2 * error)\n",
     "gradients", ("sign", "negative", "-1", "opposite")),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    error = w * x + b - y\n    return np.mean(2 * error), np.mean(2 * error * x)\n",
     "gradients", ("swap", "order", "dL/dw")),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b = 0.0, 0.0
    losses = []
    dw, db = gradients(w, b, x, y)
    for _ in range(steps):
        losses.append(mse_loss(predict(w, b, x), y))
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses
''', "train", ("gradient", "once", "same step", "every step")),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        losses.append(mse_loss(predict(w, b, x), y))
        dw, db = gradients(w, b, x, y)
        w = w - 2 * lr * dw
        b = b - 2 * lr * db
    return w, b, losses
''', "train", ("twice", "learning rate", "lr", "2")),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        dw, db = gradients(w, b, x, y)
        w = w - lr * dw
        b = b - lr * db
        losses.append(mse_loss(predict(w, b, x), y))
    return w, b, losses
''', "train", ("after", "before", "shifted", "one step")),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        losses.append(mse_loss(predict(w, b, x), y))
        dw, db = gradients(w, b, x, y)
        w = w + lr * dw
        b = b + lr * db
    return w, b, losses
''', "train", ("against", "sign", "ascent", "grows", "opposite")),
    # --- chapter 1 ----------------------------------------------------------------------------
    ("ch01.ndims", "ndims = [x0.size, x1.size, x2.size, x3.size]\n", "ndims", ("size", "number of entries", "ndim")),
    ("ch01.ndims", "ndims = [0, 5, 2, 3]\n", "ndims", ("x1", "second", "axes", "5")),
    ("ch01.shapes", "shapes = [(), (5,), (5, 3), (2, 5, 3)]\n", "shapes", ("rows", "order", "x2", "(3, 5)")),
    ("ch01.shapes", "shapes = [(1,), (5,), (3, 5), (2, 3, 5)]\n", "shapes", ("x0", "scalar", "()")),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[:, :14, :14]\n", "crop_bottom_right", ("top", "left", "corner")),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[:, 14:, :14]\n", "crop_bottom_right", ("left", "column", "corner")),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[14:, 14:]\n", "crop_bottom_right", ("axis", "image", "first")),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.reshape(len(images), 784).astype('float32')\n", "prepare_images", ("255",)),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.reshape(len(images), 784) / 255\n", "prepare_images", ("float32", "dtype", "float64")),
    ("ch01.prepare_images", "def prepare_images(images):\n    return (images.reshape(len(images), 784) // 255).astype('float32')\n",
     "prepare_images", ("//", "integer", "division", "0")),
    ("ch01.to_categorical", '''def to_categorical(labels, num_classes):
    one_hot = np.zeros((len(labels), num_classes), dtype=int)
    for i, label in enumerate(labels):
        one_hot[i, label] = 1
    return one_hot
''', "to_categorical", ("float32", "dtype")),
    ("ch01.to_categorical", '''def to_categorical(labels, num_classes):
    one_hot = np.zeros((len(labels), num_classes), dtype="float32")
    for i, label in enumerate(labels):
        one_hot[i, label - 1] = 1
    return one_hot
''', "to_categorical", ("column", "shift", "one", "-1", "left")),
    ("ch01.data_shapes", 'data_shapes = {"people": (1000, 3), "stocks": (250, 390, 3), "images": (128, 3, 256, 256), '
     '"videos": (4, 240, 144, 256, 3)}\n', "data_shapes", ("channels", "images")),
    ("ch01.data_shapes", 'data_shapes = {"people": (3, 1000), "stocks": (250, 390, 3), "images": (128, 256, 256, 3), '
     '"videos": (4, 240, 144, 256, 3)}\n', "data_shapes", ("people", "samples", "first")),
    # --- chapter 2 ----------------------------------------------------------------------------
    ("ch02.naive_relu", '''def naive_relu(x):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = max(x[i, j], 0)
    return x
''', "naive_relu", ("copy", "changed", "modif", "input")),
    ("ch02.naive_relu", '''def naive_relu(x):
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = min(x[i, j], 0)
    return x
''', "naive_relu", ("min", "negative", "max")),
    ("ch02.naive_add_matrix_and_vector", '''def naive_add_matrix_and_vector(x, y):
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[i]
    return x
''', "naive_add_matrix_and_vector", ("y[i]", "column", "row", "index")),
    ("ch02.naive_vector_dot", '''def naive_vector_dot(x, y):
    z = 0.0
    for i in range(x.shape[0] - 1):
        z += x[i] * y[i]
    return z
''', "naive_vector_dot", ("last", "range", "short")),
    ("ch02.naive_matrix_vector_dot", '''def naive_matrix_vector_dot(x, y):
    z = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i] = x[i, j] * y[j]
    return z
''', "naive_matrix_vector_dot", ("+=", "last", "sum", "overwrit")),
    ("ch02.naive_matrix_dot", '''def naive_matrix_dot(x, y):
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            for k in range(x.shape[1]):
                z[i, j] += x[i, k] * y[j, k]
    return z
''', "naive_matrix_dot", ("y[j, k]", "transpose", "index", "y[k, j]")),
    ("ch02.naive_transpose", '''def naive_transpose(x):
    z = np.zeros(x.shape, dtype=x.dtype)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = x[j, i]
    return z
''', "naive_transpose", ("shape",)),
    ("ch02.naive_add", '''def naive_add(x, y):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[i, j]
    return x
''', "naive_add", ("copy", "changed", "modif", "input")),
    # --- chapter 3 ----------------------------------------------------------------------------
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return (X @ w + b > 0).astype(int)\n", "perceptron_predict", (">=", "0", "exactly")),
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return X @ w + b >= 0\n", "perceptron_predict", ("bool", "int", "dtype", "type")),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    wrong = 0
    for _ in range(epochs):
        for xi, target in zip(X, y):
            update = lr * (target - int(xi @ w + b >= 0))
            w = w + update * xi
            b = b + update
            wrong += int(update != 0)
        errors.append(wrong)
    return w, b, errors
''', "perceptron_train", ("errors", "reset", "cumul", "epoch", "total", "add up")),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            update = lr * (target - int(xi @ w + b >= 0))
            w = w + update * xi
            wrong += int(update != 0)
        errors.append(wrong)
    return w, b, errors
''', "perceptron_train", ("b", "bias")),
    ("ch03.dense", "def dense(a_in, W, b, g):\n    return g(a_in @ W) + b\n", "dense", ("b", "bias", "before", "after")),
    ("ch03.dense", "def dense(a_in, W, b, g):\n    return a_in @ W + b\n", "dense", ("g", "activation")),
    ("ch03.sequential_xor", "def sequential_xor(X, W1, b1, W2, b2):\n    a1 = dense(X, W1, b1, sigmoid)\n    return a1 @ W2 + b2\n",
     "sequential_xor", ("sigmoid", "activation", "second", "output")),
    ("ch03.xor_weights", '''W1_xor = np.array([[20.0, -20.0], [20.0, -20.0]])
b1_xor = np.array([-10.0, 30.0])
W2_xor = np.array([[20.0], [20.0]])
b2_xor = np.array([-10.0])
''', "(W1_xor, b1_xor, W2_xor, b2_xor)", ("b2", "OR", "and", "(1, 1)", "[1, 1]")),
    # --- chapter 4 ----------------------------------------------------------------------------
    ("ch04.forward", edit("04", "forward", "a2 = sigmoid(Z2)", "a2 = Z2"), "forward", ("sigmoid", "a2")),
    ("ch04.forward", edit("04", "forward", "a1 = sigmoid(Z1)", "a1 = np.maximum(Z1, 0)"), "forward", ("a1", "sigmoid", "relu")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return float(np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2)))\n", "bce_loss", ("sign", "minus", "negative", "-1")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return float(-np.sum(y * np.log(a2) + (1 - y) * np.log(1 - a2)))\n", "bce_loss", ("sum", "mean", "times")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return float(-np.mean(y * np.log(a2)))\n", "bce_loss", ("1 - y", "term", "0")),
    ("ch04.backward", edit("04", "backward", "dZ2 = (a2 - y) / m", "dZ2 = a2 - y"), "backward", ("m", "times", "mean", "batch")),
    ("ch04.backward", edit("04", "backward", "dZ1 = da1 * a1 * (1 - a1)", "dZ1 = da1 * (1 - a1 ** 2)"), "backward", ("dW1", "db1", "sigmoid", "derivative")),
    ("ch04.backward", edit("04", "backward", "db2 = dZ2.sum(axis=0)", "db2 = dZ2.mean(axis=0)"), "backward", ("db2",)),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", "        x[i] = old\n", ""), "numerical_gradient", ("restore", "x", "changed", "put back")),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", "(2 * eps)", "eps"), "numerical_gradient", ("2", "twice", "eps")),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.linalg.norm(a - b) / np.linalg.norm(a))\n", "relative_error", ("norm", "b", "denominator")),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.sum(np.abs(a - b)) / (np.sum(np.abs(a)) + np.sum(np.abs(b))))\n",
     "relative_error", ("norm", "abs", "square")),
    ("ch04.train", edit("04", "train", "params[name] = params[name] - lr", "params[name] = params[name] + lr"), "train", ("sign", "against", "ascent", "grows")),
    ("ch04.train", '''def train(X, y, params, epochs=100, lr=0.5):
    params = {name: value.copy() for name, value in params.items()}
    losses = []
    for _ in range(epochs):
        a2, cache = forward(X, params)
        grads = backward(X, y, params, cache)
        for name in ["W1", "b1", "W2", "b2"]:
            params[name] = params[name] - lr * grads["d" + name]
        losses.append(bce_loss(forward(X, params)[0], y))
    return params, losses
''', "train", ("after", "before", "loss")),
    # --- chapter 5 ----------------------------------------------------------------------------
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z)\n    return e / np.sum(e, axis=-1, keepdims=True)\n", "softmax", ("max", "overflow", "large", "nan")),
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - np.max(z))\n    return e / np.sum(e)\n", "softmax", ("axis", "row", "whole", "all")),
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - np.max(z, axis=0, keepdims=True))\n    return e / np.sum(e, axis=0, keepdims=True)\n", "softmax", ("axis", "column")),
    ("ch05.log_softmax", "def log_softmax(z):\n    return np.log(softmax(z))\n", "log_softmax", ("log", "underflow", "-inf", "large")),
    ("ch05.log_softmax", "def log_softmax(z):\n    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))\n", "log_softmax", ("max", "overflow", "large", "nan", "inf")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return float(-np.mean(np.sum(y_true * log_p, axis=-1)))
''', "categorical_crossentropy", ("from_logits", "logits")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return float(-np.sum(y_true * log_p))
''', "categorical_crossentropy", ("sum", "mean", "times", "rows", "batch")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = log_softmax(y_pred) if from_logits else np.log(y_pred)
    return float(-np.mean(np.sum(y_true * log_p, axis=-1)))
''', "categorical_crossentropy", ("clip", "0", "inf", "log")),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return softmax(logits) - y_true\n", "softmax_ce_grad", ("m", "batch", "times", "rows")),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return (y_true - softmax(logits)) / len(logits)\n", "softmax_ce_grad", ("sign", "negative", "-1", "opposite")),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return (softmax(logits) > threshold).astype(int)\n", "multilabel_predict", ("sigmoid", "softmax")),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return (logits > threshold).astype(int)\n", "multilabel_predict", ("sigmoid", "logit", "probab")),
    ("ch05.output_activations", '''output_activations = {"house price": "linear", "spam or not": "sigmoid", "digit 0-9": "softmax",
                      "photo tags": "softmax", "hidden layer": "relu"}
''', "output_activations", ("photo tags",)),
    ("ch05.output_activations", '''output_activations = {"house price": "relu", "spam or not": "softmax", "digit 0-9": "softmax",
                      "photo tags": "sigmoid", "hidden layer": "relu"}
''', "output_activations", ("house price", "spam")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "db1 = dZ1.sum(axis=0)", "db1 = dZ1.mean(axis=0)"), "loss_and_grads", ("db1",)),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", " * (Z1 > 0)", ""), "loss_and_grads", ("relu", "dW1", "db1", "Z1")),
    # --- chapter 6 ----------------------------------------------------------------------------
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = []
    for _ in range(steps):
        w = w - lr * grad(w)
        path.append(w.copy())
    return np.array(path)
''', "gradient_descent", ("w0", "start", "first", "steps + 1")),
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = [w]
    for _ in range(steps):
        w -= lr * grad(w)
        path.append(w)
    return np.array(path)
''', "gradient_descent", ("copy", "same", "every")),
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        w = w + lr * grad(w)
        path.append(w.copy())
    return np.array(path)
''', "gradient_descent", ("sign", "against", "ascent", "opposite")),
    ("ch06.minibatches", '''def minibatches(n, batch_size, rng):
    order = np.arange(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]
''', "minibatches", ("shuffl", "permut", "order")),
    ("ch06.minibatches", '''def minibatches(n, batch_size, rng):
    order = rng.permutation(n)
    return [order[start:start + batch_size] for start in range(0, n - batch_size + 1, batch_size)]
''', "minibatches", ("last", "partial", "smaller", "left out", "missing")),
    ("ch06.sgd", '''class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p = p - self.lr * g
''', "SGD", ("in place", "-=", "place", "unchanged")),
    ("ch06.sgd", '''class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        by_shape = {g.shape: g for g in grads}
        for p in params:
            p -= self.lr * by_shape[p.shape]
''', "SGD", ("shape", "pair", "order", "gradient")),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr = lr
        self.beta = beta
        self.velocities = None

    def step(self, params, grads):
        self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v -= self.lr * g
            p += v
''', "Momentum", ("velocit", "reset", "kept", "state", "previous")),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr = lr
        self.beta = beta
        self.velocities = None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v = self.beta * v - self.lr * g
            p += v
''', "Momentum", ("velocit", "kept", "state", "in place", "previous")),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr = lr
        self.beta = beta
        self.velocities = None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            p += v
            v *= self.beta
            v -= self.lr * g
''', "Momentum", ("before", "after", "order", "velocit")),
    ("ch06.rmsprop", '''class RMSprop:
    def __init__(self, lr=0.001, rho=0.9, eps=1e-7):
        self.lr = lr
        self.rho = rho
        self.eps = eps
        self.squares = None

    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s *= self.rho
            s += g**2
            p -= self.lr * g / (np.sqrt(s) + self.eps)
''', "RMSprop", ("1 - rho", "rho", "average")),
    ("ch06.rmsprop", '''class RMSprop:
    def __init__(self, lr=0.001, rho=0.9, eps=1e-7):
        self.lr = lr
        self.rho = rho
        self.eps = eps
        self.squares = None

    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s = self.rho * s + (1 - self.rho) * g**2
            p -= self.lr * g / (np.sqrt(s) + self.eps)
''', "RMSprop", ("squares", "kept", "state", "in place", "previous")),
    ("ch06.rmsprop", '''class RMSprop:
    def __init__(self, lr=0.001, rho=0.9, eps=1e-7):
        self.lr = lr
        self.rho = rho
        self.eps = eps
        self.squares = None

    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s *= self.rho
            s += (1 - self.rho) * g**2
            p -= self.lr * g / np.sqrt(s + self.eps)
''', "RMSprop", ("eps", "sqrt")),
    ("ch06.adam", edit("06", "adam", "m_hat = m / (1 - self.beta_1**self.t)\n            v_hat = v / (1 - self.beta_2**self.t)\n",
                       "m_hat, v_hat = m, v\n"), "Adam", ("bias", "correct", "1 - beta")),
    ("ch06.adam", edit("06", "adam", "        self.t += 1\n        for p, g, m, v in zip(params, grads, self.m, self.v):\n",
                       "        for p, g, m, v in zip(params, grads, self.m, self.v):\n            self.t += 1\n"), "Adam", ("t", "step", "count")),
    ("ch06.adam", edit("06", "adam", "p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)", "p -= self.lr * m_hat / (v_hat + self.eps)"),
     "Adam", ("sqrt", "square root")),
    ("ch06.adam", edit("06", "adam", "v[...] = self.beta_2 * v + (1 - self.beta_2) * g**2", "v[...] = self.beta_2 * v + (1 - self.beta_2) * g"),
     "Adam", ("g**2", "square", "v")),
    # --- chapter 7 ----------------------------------------------------------------------------
    ("ch07.conv2d_naive", edit("07", "conv2d-naive", "np.sum(patch * W[f]) + b[f]", "np.sum(patch * W[f])"), "conv2d_naive", ("b", "bias")),
    ("ch07.conv2d_naive", edit("07", "conv2d-naive", "np.sum(patch * W[f])", "np.sum(patch * W[f, :, ::-1, ::-1])"), "conv2d_naive", ("flip", "kernel", "rotat")),
    ("ch07.conv2d_naive", edit("07", "conv2d-naive", "patch = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw]",
                               "patch = xp[n, :, i:i + kh, j:j + kw]"), "conv2d_naive", ("stride",)),
    ("ch07.im2col", edit("07", "im2col", "xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))", "xp = x"), "im2col", ("pad",)),
    ("ch07.conv2d_forward", edit("07", "conv2d-forward", "return out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3)", "return out.reshape(N, F, Ho, Wo)"),
     "conv2d_forward", ("reshape", "transpose", "order", "axes")),
    ("ch07.conv2d_backward", edit("07", "conv2d-backward", "db = dout.sum(axis=(0, 2, 3))", "db = dout.mean(axis=(0, 2, 3))"), "conv2d_backward", ("db",)),
    ("ch07.maxpool_forward", edit("07", "maxpool-forward", ".max(axis=(2, 3))", ".mean(axis=(2, 3))"), "maxpool_forward", ("mean", "average", "max")),
    ("ch07.maxpool_backward", edit("07", "maxpool-backward", "dx[:, :, rows, cols] += ", "dx[:, :, rows, cols] = "), "maxpool_backward", ("overlap", "+=", "stride")),
    ("ch07.maxpool_backward", '''def maxpool_backward(dout, x, size=2, stride=2):
    N, C, H, Wd = x.shape
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + size)
            cols = slice(j * stride, j * stride + size)
            dx[:, :, rows, cols] += dout[:, :, i, j, None, None]
    return dx
''', "maxpool_backward", ("max", "every", "all", "window")),
    # --- chapter 8 ----------------------------------------------------------------------------
    ("ch08.local_gradients", edit("08", "value", "self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
                                  "self.grad += other.data\n            other.grad += self.data"), "Value", ("out.grad", "chain", "*")),
    ("ch08.local_gradients", edit("08", "value", "self.grad += (1 - t**2) * out.grad", "self.grad += (1 - t) * out.grad"), "Value", ("tanh",)),
    ("ch08.local_gradients", edit("08", "value", "self.grad += n * self.data ** (n - 1) * out.grad", "self.grad += n * self.data ** n * out.grad"),
     "Value", ("**", "pow", "power", "n - 1")),
    ("ch08.local_gradients", edit("08", "value", "self.grad += out.data * out.grad", "self.grad += self.data * out.grad"), "Value", ("exp",)),
    ("ch08.local_gradients", edit("08", "value", "            self.grad += out.grad\n            other.grad += out.grad",
                                  "            self.grad = out.grad\n            other.grad = out.grad"), "Value", ("+=", "accumul", "twice", "add")),
    ("ch08.autograd", edit("08", "value", "return (-self) + other", "return self - other") + "\nValue.backward = backward\n", "Value", ("rsub", "-", "sign", "other - self")),
    ("ch08.autograd", edit("08", "value", "return Value(other) / self", "return self / other") + "\nValue.backward = backward\n", "Value", ("rtruediv", "/", "other / self")),
    ("ch08.topological_order", '''def topological_order(root):
    order, stack = [], [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        stack.append((node, True))
        for child in reversed(node._prev):
            stack.append((child, False))
    return order
''', "topological_order", ("once", "twice", "visited", "duplicate", "more than")),
    ("ch08.topological_order", '''def topological_order(root):
    order, seen, stack = [], {id(root)}, [root]
    while stack:
        node = stack.pop()
        order.append(node)
        for child in node._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return order
''', "topological_order", ("before", "after", "children", "order", "reverse")),
    ("ch08.backward", '''def backward(self):
    topo = topological_order(self)
    for node in reversed(topo):
        node._backward()
''', "backward", ("1", "grad", "root", "seed")),
    ("ch08.backward", '''def backward(self):
    topo = topological_order(self)
    self.grad = 1.0
    for node in topo:
        node._backward()
''', "backward", ("reverse", "order")),
    ("ch08.derivative", edit("08", "derivative", 'return ("+", ("*", da, b), ("*", a, derivative(b, var)))', 'return ("*", da, derivative(b, var))'),
     "derivative", ("product", "*")),
    ("ch08.derivative", edit("08", "derivative", 'return ("*", ("*", n, ("**", a, n - 1)), da)', 'return ("*", n, ("**", a, n - 1))'),
     "derivative", ("chain", "**", "power")),
    ("ch08.derivative", edit("08", "derivative", 'return ("/", da, a)', 'return ("/", 1, a)'), "derivative", ("log", "chain")),
    # --- chapter 9 ----------------------------------------------------------------------------
    ("ch09.one_hot_text", '''def one_hot_text(text, vocab):
    out = np.zeros((len(vocab), len(text)))
    for t, ch in enumerate(text):
        out[vocab.index(ch), t] = 1.0
    return out
''', "one_hot_text", ("shape", "transpose")),
    ("ch09.embedding_backward", '''def embedding_backward(ids, dout, vocab_size):
    dE = np.zeros((vocab_size, dout.shape[-1]))
    dE[ids] += dout
    return dE
''', "embedding_backward", ("repeat", "twice", "add.at", "more than once", "same")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h0 @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)
''', "rnn_forward", ("h0", "previous", "carried", "state")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
    return h
''', "rnn_forward", ("every", "last", "shape", "all")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh) + b
        hs.append(h)
    return np.stack(hs, axis=1)
''', "rnn_forward", ("b", "tanh", "inside")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "da = (dhs[:, t] + dh_next) * (1 - h**2)", "da = dhs[:, t] * (1 - h**2)"),
     "rnn_backward", ("dh_next", "through time", "later", "future", "carried")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "da = (dhs[:, t] + dh_next) * (1 - h**2)", "da = (dhs[:, t] + dh_next) * (1 - h_prev**2)"),
     "rnn_backward", ("h_prev", "tanh", "previous")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "dWh += h_prev.T @ da", "dWh += h.T @ da"), "rnn_backward", ("dWh", "h_prev", "previous")),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    out = []
    for g in grads:
        norm = np.linalg.norm(g)
        out.append(g * max_norm / norm if norm > max_norm else g)
    return out
''', "clip_by_norm", ("global", "together", "each", "all", "separately")),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * max_norm / norm for g in grads]
''', "clip_by_norm", ("below", "only", "smaller", "unchanged", "already")),
    ("ch09.lstm_step", edit("09", "lstm-step", "zi, zf, zg, zo = np.split(z, 4, axis=-1)", "zi, zf, zo, zg = np.split(z, 4, axis=-1)"), "lstm_step", ("order", "gate")),
    ("ch09.lstm_step", edit("09", "lstm-step", "h = o * np.tanh(c)", "h = o * c"), "lstm_step", ("tanh", "h")),
    ("ch09.lstm_step", edit("09", "lstm-step", "c = f * c_prev + i * g", "c = f * c_prev + g"), "lstm_step", ("input gate", "i", "c")),
    ("ch09.inputs_and_targets", '''def inputs_and_targets(ids, seq_len):
    n = len(ids) // seq_len
    inputs = ids[: n * seq_len].reshape(n, seq_len)
    targets = ids[1 : n * seq_len + 1].reshape(n, seq_len)
    return inputs, targets
''', "inputs_and_targets", ("len(ids) - 1", "one", "last", "divid")),
    ("ch09.inputs_and_targets", '''def inputs_and_targets(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    inputs = ids[: n * seq_len].reshape(n, seq_len)
    return inputs, inputs
''', "inputs_and_targets", ("shift", "next", "targets")),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    z = logits * temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''', "temperature_softmax", ("divide", "multipl", "temperature")),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    e = np.exp(logits / temperature)
    return e / e.sum(axis=-1, keepdims=True)
''', "temperature_softmax", ("max", "overflow", "nan", "large")),
    # --- chapter 10 ---------------------------------------------------------------------------
    ("ch10.attention", edit("10", "attention", "scores = Q @ K.swapaxes(-1, -2) / np.sqrt(Q.shape[-1])", "scores = Q @ K.swapaxes(-1, -2)"),
     "attention", ("sqrt", "scale", "d")),
    ("ch10.attention", edit("10", "attention", "scores = np.where(mask, scores, -np.inf)", "scores = scores * mask"), "attention", ("mask", "-inf", "0")),
    ("ch10.attention", edit("10", "attention", "weights = weights / weights.sum(axis=-1, keepdims=True)", "weights = weights / weights.sum(axis=-2, keepdims=True)"),
     "attention", ("axis", "row", "column", "sum")),
    ("ch10.attention", edit("10", "attention", "/ np.sqrt(Q.shape[-1])", "/ Q.shape[-1]"), "attention", ("sqrt", "square root")),
    ("ch10.causal_mask", "def causal_mask(T):\n    return np.triu(np.ones((T, T), dtype=bool))\n", "causal_mask", ("future", "upper", "lower", "transpose", "triangle")),
    ("ch10.causal_mask", "def causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool), k=-1)\n", "causal_mask", ("diagonal", "itself")),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    B, T, D = x.shape\n    return x.reshape(B, num_heads, T, D // num_heads)\n",
     "split_heads", ("transpose", "reshape", "order")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "return merged @ Wo", "return merged"), "multi_head_attention", ("Wo", "output projection")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "merged = heads.transpose(0, 2, 1, 3).reshape(B, T, -1)", "merged = heads.reshape(B, T, -1)"),
     "multi_head_attention", ("transpose", "merge", "heads")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "causal_mask(T) if causal else None", "None"), "multi_head_attention", ("causal", "mask")),
    ("ch10.sinusoidal_positions", edit("10", "sinusoidal-positions", "pe[:, 0::2] = np.sin(angles)\n    pe[:, 1::2] = np.cos(angles)",
                                       "pe[:, 0::2] = np.cos(angles)\n    pe[:, 1::2] = np.sin(angles)"), "sinusoidal_positions", ("sin", "cos")),
    ("ch10.sinusoidal_positions", '''def sinusoidal_positions(T, d):
    pe = np.zeros((T, d))
    for pos in range(T):
        for i in range(0, d, 2):
            pe[pos, i] = np.sin(pos / 10000 ** (i / d))
            pe[pos, i + 1] = np.cos(pos / 10000 ** ((i + 1) / d))
    return pe
''', "sinusoidal_positions", ("cos", "exponent", "frequenc", "odd")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    return (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + eps) * gamma + beta\n",
     "layer_norm", ("axis", "feature", "last")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(axis=-1, keepdims=True)\n    var = x.var(axis=-1, keepdims=True)\n"
     "    return (x - mean) / (var + eps) * gamma + beta\n", "layer_norm", ("sqrt", "variance", "standard deviation")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(axis=-1, keepdims=True)\n    var = x.var(axis=-1, keepdims=True)\n"
     "    return (x - mean) / np.sqrt(var + eps) * gamma\n", "layer_norm", ("beta",)),
    ("ch10.transformer_block", edit("10", "transformer-block", "causal=True", "causal=False"), "transformer_block", ("causal", "mask", "future")),
    ("ch10.transformer_block", edit("10", "transformer-block", "return y + np.maximum", "return np.maximum"), "transformer_block", ("residual", "y", "skip")),
    ("ch10.transformer_block", '''def transformer_block(x, params, num_heads):
    p = params
    y = layer_norm(x + multi_head_attention(x, p["Wq"], p["Wk"], p["Wv"], p["Wo"], num_heads, causal=True), p["ln1_gamma"], p["ln1_beta"])
    return layer_norm(y + np.maximum(y @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"], p["ln2_gamma"], p["ln2_beta"])
''', "transformer_block", ("pre", "post", "norm", "before")),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return weights * (1 - weights) * dweights\n", "softmax_backward", ("diagonal", "other", "sum", "jacobian")),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return weights * (dweights - (dweights * weights).sum(axis=-2, keepdims=True))\n",
     "softmax_backward", ("axis", "row", "sum")),
    ("ch10.layer_norm_backward", edit("10", "layer-norm-backward", " - xhat * (dxhat * xhat).mean(axis=-1, keepdims=True)", ""),
     "layer_norm_backward", ("dx", "variance", "xhat")),
    ("ch10.layer_norm_backward", edit("10", "layer-norm-backward", "dxhat = dout * gamma", "dxhat = dout"), "layer_norm_backward", ("gamma", "dx")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", "dy = dout + dy_ln", "dy = dy_ln"),
     "transformer_block_backward", ("residual", "dout", "skip")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", "dscores = softmax_backward(dheads @ v.swapaxes(-1, -2), w) / np.sqrt(q.shape[-1])",
                                             "dscores = softmax_backward(dheads @ v.swapaxes(-1, -2), w)"),
     "transformer_block_backward", ("sqrt", "scale", "Wq", "Wk")),
]

RIGHT: list[Entry] = [
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    d = y_pred - y\n    return np.dot(d, d) / len(d)\n", "mse_loss", ()),
    ("ch00.train", '''def train(x, y, lr, steps):
    w = b = 0.0
    losses = []
    while len(losses) < steps:
        error = w * x + b - y
        losses.append(float((error ** 2).mean()))
        w, b = w - lr * 2 * (error * x).mean(), b - lr * 2 * error.mean()
    return w, b, losses
''', "train", ()),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[..., -14:, -14:]\n", "crop_bottom_right", ()),
    ("ch01.to_categorical", "def to_categorical(labels, num_classes):\n    return np.eye(num_classes, dtype=np.float32)[np.asarray(labels)]\n", "to_categorical", ()),
    ("ch01.prepare_images", "def prepare_images(images):\n    out = images.reshape(images.shape[0], -1).astype(np.float32)\n    out /= 255\n    return out\n",
     "prepare_images", ()),
    ("ch02.naive_matrix_dot", '''def naive_matrix_dot(x, y):
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            z[i, j] = naive_vector_dot(x[i, :], y[:, j])
    return z
''', "naive_matrix_dot", ()),
    ("ch02.naive_relu", '''def naive_relu(x):
    z = np.empty_like(x)
    for i, row in enumerate(x):
        for j, v in enumerate(row):
            z[i, j] = v if v > 0 else 0
    return z
''', "naive_relu", ()),
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return np.where(np.einsum('ij,j->i', X, w) + b >= 0, 1, 0)\n", "perceptron_predict", ()),
    ("ch03.dense", "def dense(a_in, W, b, g):\n    return g(np.einsum('...i,ij->...j', a_in, W) + b)\n", "dense", ()),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return -float(np.mean(np.where(y == 1, np.log(a2), np.log1p(-a2))))\n", "bce_loss", ()),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.sqrt(np.sum((a - b) ** 2)) / (np.sqrt(np.sum(a * a)) + np.sqrt(np.sum(b * b))))\n",
     "relative_error", ()),
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - z.max(axis=-1)[..., None])\n    e /= e.sum(axis=-1)[..., None]\n    return e\n", "softmax", ()),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    g = softmax(logits)\n    g -= y_true\n    g /= len(y_true)\n    return g\n", "softmax_ce_grad", ()),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta, self.velocities = lr, beta, None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for k in range(len(params)):
            self.velocities[k] = self.beta * self.velocities[k] + self.lr * grads[k]
            params[k] -= self.velocities[k]
''', "Momentum", ()),
    ("ch06.sgd", '''class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for i in range(len(params)):
            np.subtract(params[i], self.lr * grads[i], out=params[i])
''', "SGD", ()),
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    path = np.empty((steps + 1,) + np.shape(w0))
    path[0] = w0
    for k in range(steps):
        path[k + 1] = path[k] - lr * grad(path[k].copy())
    return path
''', "gradient_descent", ()),
    ("ch07.maxpool_forward", '''def maxpool_forward(x, size=2, stride=2):
    N, C, H, Wd = x.shape
    Ho, Wo = (H - size) // stride + 1, (Wd - size) // stride + 1
    out = np.full((N, C, Ho, Wo), -np.inf, dtype=x.dtype)
    for u in range(size):
        for v in range(size):
            out = np.maximum(out, x[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride])
    return out
''', "maxpool_forward", ()),
    ("ch07.conv2d_naive", '''def conv2d_naive(x, W, b, stride=1, pad=0):
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (Wd + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            patch = xp[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            out[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, W) + b
    return out
''', "conv2d_naive", ()),
    ("ch08.topological_order", '''def topological_order(root):
    order, placed, stack = [], set(), [root]
    while stack:
        node = stack[-1]
        waiting = [c for c in node._prev if c not in placed]
        if waiting:
            stack.extend(waiting)
            continue
        stack.pop()
        if node not in placed:
            placed.add(node)
            order.append(node)
    return order
''', "topological_order", ()),
    ("ch08.local_gradients", edit("08", "value", "return self * -1", "return Value(-self.data, (self,), 'neg')._with(self)")
     .replace("    def __sub__", "    def _with(self, parent):\n        def _backward():\n            parent.grad -= self.grad\n        self._backward = _backward\n"
              "        return self\n\n    def __sub__"), "Value", ()),
    ("ch08.derivative", '''def derivative(expr, var):
    if not isinstance(expr, tuple):
        return 1 if expr == var else 0
    op, a, *rest = expr
    da = derivative(a, var)
    match op:
        case "+" | "-":
            return (op, da, derivative(rest[0], var))
        case "*":
            return ("+", ("*", da, rest[0]), ("*", a, derivative(rest[0], var)))
        case "/":
            b = rest[0]
            return ("-", ("/", da, b), ("/", ("*", a, derivative(b, var)), ("**", b, 2)))
        case "**":
            return ("*", ("*", rest[0], ("**", a, rest[0] - 1)), da)
        case "exp":
            return ("*", ("exp", a), da)
        case "log":
            return ("/", da, a)
''', "derivative", ()),
    ("ch09.embedding_backward", '''def embedding_backward(ids, dout, vocab_size):
    dE = np.zeros((vocab_size, dout.shape[-1]))
    for i, row in zip(np.ravel(ids), dout.reshape(-1, dout.shape[-1])):
        dE[i] += row
    return dE
''', "embedding_backward", ()),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads]))
    return [g * min(1.0, max_norm / norm) for g in grads]
''', "clip_by_norm", ()),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    B, T, _ = x.shape
    hs = np.empty((B, T, Wh.shape[0]))
    h = h0
    for t in range(T):
        h = hs[:, t] = np.tanh(np.einsum("bi,ih->bh", x[:, t], Wx) + h @ Wh + b)
    return hs
''', "rnn_forward", ()),
    ("ch10.causal_mask", "def causal_mask(T):\n    i = np.arange(T)\n    return i[:, None] >= i[None, :]\n", "causal_mask", ()),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    c = x - x.mean(-1, keepdims=True)\n"
     "    return gamma * c / np.sqrt((c * c).mean(-1, keepdims=True) + eps) + beta\n", "layer_norm", ()),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    B, T, D = x.shape\n    return np.stack(np.split(x, num_heads, axis=-1), axis=1)\n", "split_heads", ()),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return np.einsum('...ij,...ij->...ij', weights, dweights) - weights * np.einsum('...ij,...ij->...i', dweights, weights)[..., None]\n",
     "softmax_backward", ()),
]


# --- taa round: chapters 0-5, written from the chapters' text and solutions (one mistake each) ---------------
_PT = '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            update = UPDATE
            w = w + update * xi
            b = b + update
            wrong += COUNT
        errors.append(wrong)
    return w, b, errors
'''

WRONG += [
    ("ch00.predict", "def predict(w, b, x):\n    return w * (x + b)\n", "predict", ("b", "bias", "parenthes")),
    ("ch00.predict", "def predict(w, b, x):\n    return [w * xi + b for xi in x]\n", "predict", ("list", "array")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.mean((y_pred - y) ** 2) / 2\n", "mse_loss", ("half", "2", "factor")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.sqrt(np.mean((y_pred - y) ** 2))\n", "mse_loss", ("sqrt", "root", "square")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.sum((y_pred - y) ** 2) / (len(y) - 1)\n", "mse_loss", ("n - 1", "len", "mean", "one", "count")),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    error = w * x + b - y\n    return 2 * np.mean(error) * np.mean(x), 2 * np.mean(error)\n",
     "gradients", ("mean of", "product", "dw", "dL/dw", "x")),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    error = w * x + b - y\n    return np.sum(2 * error * x), np.sum(2 * error)\n",
     "gradients", ("sum", "mean", "times", "length")),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps - 1):
        losses.append(mse_loss(predict(w, b, x), y))
        dw, db = gradients(w, b, x, y)
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses
''', "train", ("steps", "one", "fewer", "loop", "range")),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b = 0.0, 0.0
    losses = []
    y_pred = predict(w, b, x)
    for _ in range(steps):
        losses.append(mse_loss(y_pred, y))
        dw, db = gradients(w, b, x, y)
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses
''', "train", ("predict", "loss", "once", "same", "every step")),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b = 0.0, 0.0
    losses = []
    for _ in range(steps):
        losses.append(mse_loss(predict(w, b, x), y))
        dw, _ = gradients(w, b, x, y)
        w = w - lr * dw
        _, db = gradients(w, b, x, y)
        b = b - lr * db
    return w, b, losses
''', "train", ("new w", "updated w", "both", "same", "before", "old")),
    # chapter 1 ---
    ("ch01.ndims", "ndims = [1, x1.ndim, x2.ndim, x3.ndim]\n", "ndims", ("x0", "scalar", "0")),
    ("ch01.shapes", "shapes = [(), (5), (3, 5), (2, 3, 5)]\n", "shapes", ("tuple", "comma", "(5,)", "int")),
    ("ch01.shapes", "shapes = [x0.shape, x1.shape, x2.shape, x3.shape[1:]]\n", "shapes", ("x3", "(2, 3, 5)", "first axis", "axes")),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[:, 15:, 15:]\n", "crop_bottom_right", ("13", "14", "one", "off")),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[:][14:][14:]\n", "crop_bottom_right", ("first axis", "images", "[:, 14:, 14:]", "axis", "comma")),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.flatten().astype('float32') / 255\n", "prepare_images", ("flat", "1-D", "(n, 784)", "shape", "sample")),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.reshape(784, -1).T.astype('float32') / 255\n", "prepare_images", ("order", "transpos", "reshape", "(n, 784)")),
    ("ch01.to_categorical", '''def to_categorical(labels, num_classes):
    one_hot = np.zeros((len(labels), num_classes), dtype="float32")
    one_hot[:, labels] = 1
    return one_hot
''', "to_categorical", ("row", "every", "each", "one 1", "i")),
    ("ch01.to_categorical", '''def to_categorical(labels, num_classes):
    one_hot = np.zeros((len(labels), max(labels) + 1), dtype="float32")
    for i, label in enumerate(labels):
        one_hot[i, label] = 1
    return one_hot
''', "to_categorical", ("num_classes", "columns", "max")),
    ("ch01.to_categorical", '''def to_categorical(labels, num_classes):
    one_hot = np.zeros((num_classes, len(labels)), dtype="float32")
    for i, label in enumerate(labels):
        one_hot[label, i] = 1
    return one_hot
''', "to_categorical", ("transpos", "rows", "(n, num_classes)", "swap")),
    ("ch01.data_shapes", 'data_shapes = {"people": (1000, 3), "stocks": (250, 390, 3), "images": (128, 256, 256, 3), '
     '"videos": (4, 240, 256, 144, 3)}\n', "data_shapes", ("videos", "height", "width")),
    ("ch01.data_shapes", 'data_shapes = {"people": (1000, 3), "stocks": (390, 250, 3), "images": (128, 256, 256, 3), '
     '"videos": (4, 240, 144, 256, 3)}\n', "data_shapes", ("stocks", "days", "samples")),
    # chapter 2 ---
    ("ch02.naive_relu", '''def naive_relu(x):
    z = np.zeros(x.shape, dtype=int)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = max(x[i, j], 0)
    return z
''', "naive_relu", ("int", "dtype", "integer", "float")),
    ("ch02.naive_relu", '''def naive_relu(x):
    z = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            if x[i, j] < 0:
                z[i, j] = 0
    return z
''', "naive_relu", ("positive", "keep", "copy", "zero", "0")),
    ("ch02.naive_add", '''def naive_add(x, y):
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] += y[j, i]
    return z
''', "naive_add", ("transpos", "y[j, i]", "index", "swap")),
    ("ch02.naive_add", '''def naive_add(x, y):
    z = np.zeros(x.shape, dtype=np.int64)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = x[i, j] + y[i, j]
    return z
''', "naive_add", ("int", "dtype", "integer")),
    ("ch02.naive_add_matrix_and_vector", '''def naive_add_matrix_and_vector(x, y):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] += y[j]
    return x
''', "naive_add_matrix_and_vector", ("copy", "changed", "modif", "input")),
    ("ch02.naive_vector_dot", '''def naive_vector_dot(x, y):
    z = 0.0
    for i in range(1, x.shape[0]):
        z += x[i] * y[i]
    return z
''', "naive_vector_dot", ("first", "range", "0", "start")),
    ("ch02.naive_vector_dot", '''def naive_vector_dot(x, y):
    z = x[0] * y[0]
    for i in range(x.shape[0]):
        z += x[i] * y[i]
    return z
''', "naive_vector_dot", ("first", "twice", "0", "start")),
    ("ch02.naive_matrix_vector_dot", '''def naive_matrix_vector_dot(x, y):
    z = np.zeros(x.shape[0], dtype=int)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i] += x[i, j] * y[j]
    return z
''', "naive_matrix_vector_dot", ("int", "dtype", "integer")),
    ("ch02.naive_matrix_vector_dot", '''def naive_matrix_vector_dot(x, y):
    z = np.zeros(x.shape[1])
    for i in range(x.shape[1]):
        for j in range(x.shape[0]):
            z[i] += x[j, i] * y[j]
    return z
''', "naive_matrix_vector_dot", ("transpos", "x[j, i]", "shape", "index")),
    ("ch02.naive_matrix_dot", '''def naive_matrix_dot(x, y):
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            for k in range(y.shape[1]):
                z[i, j] += x[i, k] * y[k, j]
    return z
''', "naive_matrix_dot", ("range", "k", "inner", "bound")),
    ("ch02.naive_transpose", "def naive_transpose(x):\n    return x.reshape(x.shape[1], x.shape[0]).copy()\n", "naive_transpose", ("reshape", "order", "transpose")),
    ("ch02.naive_transpose", '''def naive_transpose(x):
    z = np.zeros((x.shape[1], x.shape[0]), dtype=x.dtype)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[j, i] = x[i, j]
    return x
''', "naive_transpose", ("x[j, i]", "index", "swap", "unchanged", "same")),
    # chapter 3 ---
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return np.sign(X @ w + b).astype(int)\n", "perceptron_predict", ("sign", "-1", "0 or 1")),
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return (X @ w >= 0).astype(int)\n", "perceptron_predict", ("b", "bias")),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        wrong = 0
        y_hat = (X @ w + b >= 0).astype(int)
        for xi, target, pred in zip(X, y, y_hat):
            update = lr * (target - pred)
            w = w + update * xi
            b = b + update
            wrong += int(update != 0)
        errors.append(wrong)
    return w, b, errors
''', "perceptron_train", ("every sample", "after each", "one at a time", "batch", "current", "predict")),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            update = lr * (target - int(xi @ w + b >= 0))
            w = w + update * xi
            b = b + update
            wrong += int(update != 0)
            errors.append(wrong)
    return w, b, errors
''', "perceptron_train", ("epoch", "one entry", "per epoch", "sample", "inside")),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(X, y):
            update = lr * (target - int(xi @ w + b > 0))
            w = w + update * xi
            b = b + update
            wrong += int(update != 0)
        errors.append(wrong)
    return w, b, errors
''', "perceptron_train", (">=", "> 0", "exactly", "threshold", "0")),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    rng = np.random.default_rng(0)
    for _ in range(epochs):
        wrong = 0
        for xi, target in zip(rng.permutation(X), y):
            update = lr * (target - int(xi @ w + b >= 0))
            w = w + update * xi
            b = b + update
            wrong += int(update != 0)
        errors.append(wrong)
    return w, b, errors
''', "perceptron_train", ("order", "shuffl", "label", "in the order")),
    ("ch03.dense", "def dense(a_in, W, b, g):\n    return g(a_in @ W.T + b)\n", "dense", ("transpos", "W.T", "W")),
    ("ch03.sequential_xor", "def sequential_xor(X, W1, b1, W2, b2):\n    a1 = dense(X, W1, b1, sigmoid)\n    return dense(X, W2, b2, sigmoid)\n",
     "sequential_xor", ("a1", "X", "hidden", "first layer", "output of")),
    ("ch03.sequential_xor", "def sequential_xor(X, W1, b1, W2, b2):\n    a1 = dense(X, W1, b1, sigmoid)\n    return (dense(a1, W2, b2, sigmoid) > 0.5).astype(int)\n",
     "sequential_xor", ("probab", "threshold", "0.5", "round")),
    ("ch03.sequential_xor", "def sequential_xor(X, W1, b1, W2, b2):\n    a1 = dense(X, W1, b1, sigmoid)\n    return dense(a1, W2, b2, sigmoid).ravel()\n",
     "sequential_xor", ("shape", "(samples, 1)", "flat", "ravel", "column")),
    ("ch03.xor_weights", '''W1_xor = np.array([[20.0, -20.0], [20.0, -20.0]])
b1_xor = np.array([-10.0, 10.0])
W2_xor = np.array([[20.0], [20.0]])
b2_xor = np.array([-30.0])
''', "(W1_xor, b1_xor, W2_xor, b2_xor)", ("NAND", "b1", "(1, 0)", "(0, 1)", "[0, 1]", "[1, 0]", "hidden")),
    # chapter 4 ---
    ("ch04.forward", edit("04", "forward", 'Z1 = X @ params["W1"] + params["b1"]', 'Z1 = X @ params["W1"]'), "forward", ("b1", "bias")),
    ("ch04.forward", edit("04", "forward", 'Z2 = a1 @ params["W2"]', 'Z2 = Z1 @ params["W2"]'), "forward", ("a1", "Z1", "Z2", "sigmoid", "activation")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return float(-np.mean(y * np.log(a2) + (1 - y) * np.log(a2)))\n", "bce_loss", ("1 - a2", "log(1", "second", "term")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return float(-np.mean(y * np.log10(a2) + (1 - y) * np.log10(1 - a2)))\n", "bce_loss", ("log10", "natural", "base", "ln")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    y = y.ravel()\n    return float(-np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2)))\n", "bce_loss", ("broadcast", "shape", "ravel", "(m, m)")),
    ("ch04.backward", edit("04", "backward", "dZ1 = da1 * a1 * (1 - a1)", "dZ1 = da1 * sigmoid(a1) * (1 - sigmoid(a1))"), "backward", ("sigmoid", "a1", "Z1", "derivative")),
    ("ch04.backward", edit("04", "backward", "dW1 = X.T @ dZ1", "dW1 = X.T @ dZ1 / m"), "backward", ("dW1", "m", "twice", "batch")),
    ("ch04.backward", edit("04", "backward", "db1 = dZ1.sum(axis=0)", "db1 = dZ1.sum(axis=1)"), "backward", ("db1", "axis", "samples")),
    ("ch04.backward", edit("04", "backward", "dW2 = a1.T @ dZ2", "dW2 = (dZ2.T @ a1).T.T"), "backward", ("dW2", "transpos", "shape")),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", "(f_plus - f_minus) / (2 * eps)", "(f_plus - f_minus) / 2 * eps"), "numerical_gradient", ("parenthes", "2 * eps", "eps", "precedence")),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", "x[i] = old - eps\n        f_minus = f(x)", "x[i] = old\n        f_minus = f(x)"),
     "numerical_gradient", ("central", "one-sided", "old - eps", "2 * eps", "half", "2")),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.linalg.norm(a - b) / np.linalg.norm(a) + np.linalg.norm(b))\n", "relative_error", ("parenthes", "denominator", "sum", "precedence")),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.linalg.norm(a - b) / np.linalg.norm(a + b))\n", "relative_error", ("a + b", "norm", "denominator", "sum of")),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.max(np.abs(a - b)) / (np.max(np.abs(a)) + np.max(np.abs(b))))\n", "relative_error", ("max", "norm", "largest")),
    ("ch04.train", edit("04", "train", 'for name in ["W1", "b1", "W2", "b2"]:', 'for name in ["W1", "W2"]:'), "train", ("b1", "b2", "bias")),
    ("ch04.train", edit("04", "train", 'params[name] = params[name] - lr * grads["d" + name]', 'params[name] = params[name] - lr * grads["d" + name] / len(X)'),
     "train", ("lr", "learning rate", "len", "m", "batch", "divid")),
    # chapter 5 ---
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - np.max(z, axis=-1))\n    return e / np.sum(e, axis=-1)\n", "softmax", ("keepdims", "broadcast", "column")),
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - np.mean(z, axis=-1, keepdims=True))\n    return e / np.sum(e, axis=-1, keepdims=True)\n", "softmax", ("mean", "max", "overflow")),
    ("ch05.softmax", "def softmax(z):\n    z -= np.max(z, axis=-1, keepdims=True)\n    e = np.exp(z)\n    return e / np.sum(e, axis=-1, keepdims=True)\n", "softmax", ("in place", "changed", "copy", "input")),
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - np.max(z, axis=1, keepdims=True))\n    return e / np.sum(e, axis=1, keepdims=True)\n", "softmax", ("axis", "1-D", "-1", "last")),
    ("ch05.log_softmax", "def log_softmax(z):\n    shifted = z - np.max(z, axis=-1, keepdims=True)\n    return shifted - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))\n",
     "log_softmax", ("shift", "max", "z - max", "overflow", "exp(z)")),
    ("ch05.log_softmax", "def log_softmax(z):\n    return z - np.max(z, axis=-1, keepdims=True)\n", "log_softmax", ("log", "sum", "log-sum-exp", "normali")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return float(-np.mean(y_true * log_p))
''', "categorical_crossentropy", ("classes", "k", "sum", "mean", "every entry", "all")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return float(-np.mean(np.sum(y_true * log_p, axis=0)))
''', "categorical_crossentropy", ("axis", "samples", "classes", "k")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = np.log(softmax(y_pred)) if from_logits else np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return float(-np.mean(np.sum(y_true * log_p, axis=-1)))
''', "categorical_crossentropy", ("log_softmax", "log(softmax", "inf", "underflow")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, 0, 1))
    return float(-np.mean(np.sum(y_true * log_p, axis=-1)))
''', "categorical_crossentropy", ("1e-7", "clip", "inf", "log(0)")),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return (softmax(logits) - y_true) / logits.shape[1]\n", "softmax_ce_grad", ("m", "classes", "samples", "shape[0]", "rows")),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return (softmax(logits) - y_true).mean(axis=0)\n", "softmax_ce_grad", ("shape", "mean", "axis", "logits")),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return (sigmoid(logits) >= threshold).astype(int)\n", "multilabel_predict", (">=", "above", "equal", "exactly")),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return np.round(sigmoid(logits)).astype(int)\n", "multilabel_predict", ("threshold",)),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return sigmoid(logits) > threshold\n", "multilabel_predict", ("bool", "int", "dtype")),
    ("ch05.output_activations", '''output_activations = {"house price": "linear", "spam or not": "sigmoid", "digit 0-9": "softmax",
                      "photo tags": "sigmoid", "hidden layer": "sigmoid"}
''', "output_activations", ("hidden layer", "relu")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "categorical_crossentropy(Y, logits, from_logits=True)", "categorical_crossentropy(Y, logits)"),
     "loss_and_grads", ("from_logits", "logits", "loss")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "db2 = dlogits.sum(axis=0)", "db2 = dlogits.sum(axis=1)"), "loss_and_grads", ("db2", "axis")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "dW2 = A1.T @ dlogits", "dW2 = A1.T @ dlogits / X.shape[0]"), "loss_and_grads", ("dW2", "m", "twice", "batch")),
    ("ch03.perceptron_train", _PT.replace("UPDATE", "target - int(xi @ w + b >= 0)").replace("COUNT", "int(update != 0)"), "perceptron_train", ("lr", "learning rate")),
    ("ch03.perceptron_train", _PT.replace("UPDATE", "lr * (target - int(xi @ w + b >= 0))").replace("COUNT", "abs(update)"), "perceptron_train", ("count", "lr", "errors")),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", "x[i] = old - eps\n        f_minus = f(x)\n        x[i] = old\n        grad[i] = (f_plus - f_minus) / (2 * eps)",
        "x[i] = old\n        f_minus = f(x)\n        grad[i] = (f_plus - f_minus) / eps"), "numerical_gradient", ("central", "one-sided")),
    ("ch04.backward", edit("04", "backward", "db2 = dZ2.sum(axis=0)", "db2 = dZ2.sum()"), "backward", ("db2", "shape")),
    ("ch04.backward", edit("04", "backward", "db1 = dZ1.sum(axis=0)", "db1 = dZ1.sum(axis=0, keepdims=True)"), "backward", ("db1", "shape", "keepdims")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return -np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2), axis=0)\n", "bce_loss", ("number", "float", "array", "shape")),
    ("ch04.train", edit("04", "train", "for _ in range(epochs):", "for _ in range(epochs):\n        params = params_in").replace("params = {name: value.copy() for name, value in params.items()}", "params_in = params"), "train", ("copy", "changed", "input")),
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - z.max(axis=-1)[:, None])\n    return e / e.sum(axis=-1)[:, None]\n", "softmax", ("1-D", "one sample", "keepdims")),
    ("ch02.naive_relu", '''def naive_relu(x):
    x = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[0]):
            x[i, j] = max(x[i, j], 0)
    return x
''', "naive_relu", ("shape[1]", "column", "range")),
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return np.where(X @ w + b >= 0, 1.0, 0.0)\n", "perceptron_predict", ("float", "int", "dtype")),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return np.where(sigmoid(logits) > threshold, 1.0, 0.0)\n", "multilabel_predict", ("float", "int", "dtype")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return -np.mean(np.sum(y_true * log_p, axis=-1, keepdims=True), axis=0)
''', "categorical_crossentropy", ("float", "number", "array", "shape")),
    ("ch00.train", '''def train(x, y, lr, steps, losses=[]):
    w, b = 0.0, 0.0
    for _ in range(steps):
        losses.append(mse_loss(predict(w, b, x), y))
        dw, db = gradients(w, b, x, y)
        w = w - lr * dw
        b = b - lr * db
    return w, b, losses
''', "train", ("previous", "call", "default", "kept", "state")),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.linalg.norm(b)))\n", "relative_error", ("max", "sum", "denominator")),
    ("ch03.dense", '''def dense(a_in, W, b, g):
    z = np.zeros((a_in.shape[0], W.shape[1]))
    for j in range(W.shape[1]):
        z[:, j] = a_in @ W[:, j] + b[j]
    return g(z)
''', "dense", ("one sample", "1-D", "shape")),
]
RIGHT += [
    ("ch00.predict", "def predict(w, b, x):\n    return np.array([w * xi + b for xi in x])\n", "predict", ()),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    e = predict(w, b, x) - y\n    return [2 * np.dot(e, x) / len(x), 2 * e.sum() / e.size]\n", "gradients", ()),
    ("ch00.train", '''def train(x, y, lr, steps):
    w, b, losses = 0, 0, []
    for step in range(steps):
        losses.append(mse_loss(predict(w, b, x), y))
        dw, db = gradients(w, b, x, y)
        w -= lr * dw
        b -= lr * db
    return w, b, np.array(losses)
''', "train", ()),
    ("ch01.ndims", "ndims = [len(x.shape) for x in (x0, x1, x2, x3)]\n", "ndims", ()),
    ("ch01.shapes", "shapes = [np.shape(x) for x in [x0, x1, x2, x3]]\n", "shapes", ()),
    ("ch01.prepare_images", "def prepare_images(images):\n    return np.float32(images.reshape(-1, 28 * 28)) / np.float32(255)\n", "prepare_images", ()),
    ("ch01.to_categorical", '''def to_categorical(labels, num_classes):
    one_hot = np.zeros((len(labels), num_classes), np.float32)
    np.add.at(one_hot, (np.arange(len(labels)), labels), 1)
    return one_hot
''', "to_categorical", ()),
    ("ch02.naive_add", '''def naive_add(x, y):
    z = np.empty_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = x[i, j] + y[i, j]
    return z
''', "naive_add", ()),
    ("ch02.naive_vector_dot", "def naive_vector_dot(x, y):\n    return sum(x[i] * y[i] for i in range(len(x)))\n", "naive_vector_dot", ()),
    ("ch02.naive_transpose", '''def naive_transpose(x):
    rows, cols = x.shape
    z = np.empty((cols, rows), dtype=x.dtype)
    for j in range(cols):
        for i in range(rows):
            z[j][i] = x[i][j]
    return z
''', "naive_transpose", ()),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        errors.append(0)
        for i in range(len(X)):
            delta = y[i] - perceptron_predict(X[i:i + 1], w, b)[0]
            if delta:
                w += lr * delta * X[i]
                b += lr * delta
                errors[-1] += 1
    return w, b, errors
''', "perceptron_train", ()),
    ("ch04.backward", '''def backward(X, y, params, cache):
    m = X.shape[0]
    a1, a2 = cache["a1"], cache["a2"]
    dZ2 = (a2 - y) / m
    dW2 = np.einsum("mh,mo->ho", a1, dZ2)
    db2 = np.einsum("mo->o", dZ2)
    dZ1 = np.einsum("mo,ho->mh", dZ2, params["W2"]) * a1 * (1 - a1)
    dW1 = np.einsum("mi,mh->ih", X, dZ1)
    db1 = np.einsum("mh->h", dZ1)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}
''', "backward", ()),
    ("ch04.numerical_gradient", '''def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=float)
    for i in np.ndindex(x.shape):
        plus, minus = x.copy(), x.copy()
        plus[i] += eps
        minus[i] -= eps
        grad[i] = (f(plus) - f(minus)) / (2 * eps)
    return grad
''', "numerical_gradient", ()),
    ("ch05.log_softmax", "def log_softmax(z):\n    return z - np.logaddexp.reduce(z, axis=-1, keepdims=True)\n", "log_softmax", ()),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return (softmax(logits) - y_true) / y_true.sum()\n", "softmax_ce_grad", ()),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    if from_logits:
        log_p = log_softmax(y_pred)
    else:
        log_p = np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    picked = np.take_along_axis(log_p, y_true.argmax(axis=-1)[:, None], axis=-1)
    return -float(picked.mean())
''', "categorical_crossentropy", ()),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return np.where(1 / (1 + np.exp(-logits)) > threshold, 1, 0)\n", "multilabel_predict", ()),
    ("ch05.output_activations", '''output_activations = {"house price": "linear", "spam or not": "sigmoid", "digit 0-9": "softmax",
                      "photo tags": "sigmoid", "hidden layer": "ReLU"}
''', "output_activations", ()),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "* (Z1 > 0)", "* (A1 > 0)"), "loss_and_grads", ()),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    a2 = np.clip(a2, 1e-12, 1 - 1e-12)\n    return float(-np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2)))\n", "bce_loss", ()),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    log_p = log_softmax(y_pred) if from_logits else np.log(np.clip(y_pred, 1e-7, 1 - 1e-7))
    return -np.sum(y_true * log_p) / len(y_true)
''', "categorical_crossentropy", ()),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b) + 1e-12))\n", "relative_error", ()),
    ("ch03.dense", '''def dense(a_in, W, b, g):
    z = np.zeros(np.shape(a_in)[:-1] + (W.shape[1],))
    for j in range(W.shape[1]):
        z[..., j] = a_in @ W[:, j] + b[j]
    return g(z)
''', "dense", ()),
    ("ch02.naive_relu", '''def naive_relu(x):
    z = np.zeros(x.shape)
    for (i, j), v in np.ndenumerate(x):
        z[i, j] = v * (v > 0)
    return z
''', "naive_relu", ()),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.einsum('i,i->', y_pred - y, y_pred - y) / y.size\n", "mse_loss", ()),
    ("ch04.train", edit("04", "train", 'params[name] = params[name] - lr * grads["d" + name]', 'params[name] -= lr * grads["d" + name]'), "train", ()),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.squeeze().reshape(len(images), 784).astype('float32') / 255\n", "prepare_images", ()),
    ("ch03.xor_weights", '''W1_xor = np.array([[20.0, -20.0], [20.0, -20.0]])
b1_xor = np.array([-10.0, 30.0])
W2_xor = np.array([[20.0], [20.0]])
b2_xor = -30.0
''', "(W1_xor, b1_xor, W2_xor, b2_xor)", ()),
    ("ch02.naive_transpose", '''def naive_transpose(x):
    z = np.zeros(x.shape[::-1])
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[j, i] = x[i, j]
    return z
''', "naive_transpose", ()),
    ("ch01.ndims", "ndims = (x0.ndim, x1.ndim, x2.ndim, x3.ndim)\n", "ndims", ()),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.reshape(len(images), 784) / np.float32(255)\n", "prepare_images", ()),
    ("ch03.perceptron_train", '''def perceptron_train(X, y, epochs=10, lr=1.0):
    w = np.zeros(X.shape[1])
    b = 0.0
    errors = []
    for _ in range(epochs):
        errors.append(0)
        for xi, target in zip(X, y):
            pred = 1 if xi @ w + b >= 0 else 0
            errors[-1] += int(pred != target)
            w += lr * (target - pred) * xi
            b += lr * (target - pred)
    return w, b, errors
''', "perceptron_train", ()),
    ("ch05.output_activations", '''output_activations = dict.fromkeys(["house price", "spam or not", "digit 0-9", "photo tags", "hidden layer"])
output_activations.update({"house price": "Linear", "spam or not": "Sigmoid", "digit 0-9": "Softmax",
                           "photo tags": "Sigmoid", "hidden layer": "ReLU"})
''', "output_activations", ()),
]
WRONG += [  # taa round, second pass: in-place changes, aliasing, an integer buffer, a clip
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    y_pred -= y\n    return np.mean(y_pred ** 2)\n", "mse_loss", ("in place", "changed", "copy", "input")),
    ("ch02.naive_relu", '''def naive_relu(x):
    z = x.copy()
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = max(z[i, j], 0)
    return x
''', "naive_relu", ("unchanged", "return", "input")),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", '''        old = x[i]
        x[i] = old + eps
        f_plus = f(x)
        x[i] = old - eps
        f_minus = f(x)
        x[i] = old
''', '''        x_plus = x
        x_plus[i] += eps
        f_plus = f(x_plus)
        x_minus = x
        x_minus[i] -= eps
        f_minus = f(x_minus)
'''), "numerical_gradient", ("f_minus", "x - eps", "half", "central")),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    logits -= logits.max(axis=-1, keepdims=True)\n    return (softmax(logits) - y_true) / len(logits)\n",
     "softmax_ce_grad", ("in place", "changed", "copy", "input")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "categorical_crossentropy(Y, logits, from_logits=True)", "categorical_crossentropy(Y, softmax(logits))"),
     "loss_and_grads", ("from_logits", "log_softmax", "logits", "clip")),
    ("ch05.output_activations", '''output_activations = {"house price": "identity", "spam or not": "sigmoid", "digit 0-9": "softmax",
                      "photo tags": "sigmoid", "hidden layer": "relu"}
''', "output_activations", ("linear", "one of", "house price")),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return (sigmoid(logits) > 0.5).astype(int)\n", "multilabel_predict", ("threshold",)),
    ("ch02.naive_matrix_dot", '''def naive_matrix_dot(x, y):
    z = np.zeros((x.shape[0], y.shape[1]), dtype=int)
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            for k in range(x.shape[1]):
                z[i, j] += x[i, k] * y[k, j]
    return z
''', "naive_matrix_dot", ("int", "dtype", "integer", "float")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    a2 = np.clip(a2, 1e-7, 1 - 1e-7)\n    return float(-np.mean(y * np.log(a2) + (1 - y) * np.log(1 - a2)))\n", "bce_loss", ("clip",)),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    error = w * (x + b) - y\n    return np.mean(2 * error * x), np.mean(2 * error)\n", "gradients",
     ("bias", "w * x + b")),
]

# tab round: chapters 6-10, written from each chapter's text and reference solution (not its list of mistakes) by a
# teaching assistant with a fresh class. Each WRONG entry has one mistake; RIGHT entries are unusual correct answers
# (einsum, loops, in-place ufuncs with out=, float32, another valid dtype).
WRONG += [
    # --- chapter 6 ---------------------------------------------------------------------------
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    w = w0
    path = [w.copy()]
    for _ in range(steps):
        w -= lr * grad(w)
        path.append(w.copy())
    return np.array(path)
''', "gradient_descent", ("w0", "copy", "in place", "changed")),
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        w = w - lr * grad(w0)
        path.append(w.copy())
    return np.array(path)
''', "gradient_descent", ("w0", "current", "start", "gradient at")),
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(steps - 1):
        w = w - lr * grad(w)
        path.append(w.copy())
    return np.array(path)
''', "gradient_descent", ("steps + 1", "rows", "step", "missing")),
    ("ch06.gradient_descent", '''def gradient_descent(grad, w0, lr, steps):
    w = np.array(w0, dtype=float)
    path = [w.copy()]
    for _ in range(steps):
        w = w - lr * grad(w)
        path.append(w.copy())
    return path
''', "gradient_descent", ("list", "array")),
    ("ch06.minibatches", '''def minibatches(n, batch_size, rng):
    rng = np.random.default_rng(0)
    order = rng.permutation(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]
''', "minibatches", ("rng", "given", "seed", "same order", "anew")),
    ("ch06.minibatches", '''def minibatches(n, batch_size, rng):
    order = rng.permutation(n)
    return np.array_split(order, max(1, n // batch_size))
''', "minibatches", ("sizes", "batch_size", "batches of")),
    ("ch06.minibatches", '''def minibatches(n, batch_size, rng):
    batches = [np.arange(start, min(start + batch_size, n)) for start in range(0, n, batch_size)]
    rng.shuffle(batches)
    return batches
''', "minibatches", ("shuffl", "order", "sizes", "every index")),
    ("ch06.sgd", '''class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for p, g in zip(params, grads):
            p += self.lr * g
''', "SGD", ("sign", "against", "-=", "opposite", "climb")),
    ("ch06.sgd", '''class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for p, g in zip(params, grads):
            g *= self.lr
            p -= g
''', "SGD", ("writes into", "read-only", "copy")),
    ("ch06.sgd", '''class SGD:
    def __init__(self, lr=0.01):
        self.lr = lr

    def step(self, params, grads):
        for i in range(len(params)):
            params[i] = params[i] - self.lr * grads[i]
''', "SGD", ("in place", "-=", "new array", "list", "moves nothing", "unchanged")),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr = lr
        self.beta = beta
        self.velocities = None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(params[0])] * len(params)
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v -= self.lr * g
            p += v
''', "Momentum", ("same array", "alias", "shared", "own", "each parameter", "one velocity")),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr = lr
        self.beta = beta
        self.velocities = None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v -= (1 - self.beta) * self.lr * g
            p += v
''', "Momentum", ("1 - beta", "beta", "average", "lr * g")),
    ("ch06.rmsprop", '''class RMSprop:
    def __init__(self, lr=0.001, rho=0.9, eps=1e-7):
        self.lr = lr
        self.rho = rho
        self.eps = eps
        self.squares = None

    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s *= self.rho
            s += (1 - self.rho) * np.abs(g)
            p -= self.lr * g / (np.sqrt(s) + self.eps)
''', "RMSprop", ("square", "g**2", "abs")),
    ("ch06.rmsprop", '''class RMSprop:
    def __init__(self, lr=0.001, rho=0.9, eps=1e-7):
        self.lr = lr
        self.rho = rho
        self.eps = eps
        self.squares = None

    def step(self, params, grads):
        if self.squares is None:
            self.squares = [np.zeros_like(p) for p in params]
        for p, g, s in zip(params, grads, self.squares):
            s *= 1 - self.rho
            s += self.rho * g**2
            p -= self.lr * g / (np.sqrt(s) + self.eps)
''', "RMSprop", ("rho", "swap", "1 - rho")),
    ("ch06.adam", edit("06", "adam", "            self.m = [np.zeros_like(p) for p in params]\n            self.v = [np.zeros_like(p) for p in params]\n",
                       "            self.m = self.v = [np.zeros_like(p) for p in params]\n"), "Adam", ("same", "alias", "separate", "own", "m and v")),
    ("ch06.adam", edit("06", "adam", "p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)", "p -= self.lr * m_hat / np.sqrt(v_hat + self.eps)"),
     "Adam", ("eps", "sqrt")),
    ("ch06.adam", edit("06", "adam", "v_hat = v / (1 - self.beta_2**self.t)", "v_hat = v"), "Adam", ("bias", "correct", "v_hat", "beta_2")),
    ("ch06.adam", edit("06", "adam", "m[...] = self.beta_1 * m + (1 - self.beta_1) * g", "m = self.beta_1 * m + (1 - self.beta_1) * g"),
     "Adam", ("m[...]", "kept", "state", "in place", "previous", "m")),
    # --- chapter 7 ---------------------------------------------------------------------------
    ("ch07.conv2d_naive", edit("07", "conv2d-naive", "out = np.zeros((N, F, Ho, Wo))", "out = np.zeros((N, F, Ho, Wo), dtype=int)"),
     "conv2d_naive", ("int", "dtype", "float", "whole")),
    ("ch07.im2col", edit("07", "im2col", "return cols.reshape(C * kh * kw, N * Ho * Wo)", "return cols.reshape(N * Ho * Wo, C * kh * kw).T"),
     "im2col", ("reshape", "transpose", "order")),
    ("ch07.conv2d_forward", edit("07", "conv2d-forward", "+ b[:, None]", ""), "conv2d_forward", ("b", "bias")),
    ("ch07.conv2d_backward", edit("07", "conv2d-backward", "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=0)"),
     "conv2d_backward", ("db", "axis", "sum")),
    ("ch07.conv2d_backward", edit("07", "conv2d-backward", "dW = (d @ im2col(x, kh, kw, stride, pad).T).reshape(W.shape)",
                                  "dW = (im2col(x, kh, kw, stride, pad) @ d.T).reshape(W.shape)"), "conv2d_backward", ("dW", "transpose", "order")),
    ("ch07.maxpool_forward", edit("07", "maxpool-forward", "Ho, Wo = (H - size) // stride + 1, (Wd - size) // stride + 1",
                                  "Ho, Wo = H // stride, Wd // stride"), "maxpool_forward", ("size", "shape", "Ho", "window", "stride")),
    ("ch07.maxpool_backward", '''def maxpool_backward(dout, x, size=2, stride=2):
    N, C, H, Wd = x.shape
    dx = np.zeros_like(x, dtype=dout.dtype)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows = slice(i * stride, i * stride + size)
            cols = slice(j * stride, j * stride + size)
            window = x[:, :, rows, cols]
            mask = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, rows, cols] += mask * dout[:, :, i, j, None, None]
    return dx
''', "maxpool_backward", ("tie", "one", "argmax", "every", "equal")),
    # --- chapter 8 ---------------------------------------------------------------------------
    ("ch08.local_gradients", edit("08", "value", "self.grad += (out.data > 0) * out.grad", "self.grad += out.grad"), "Value", ("relu",)),
    ("ch08.local_gradients", edit("08", "value", "self.grad += (1 - t**2) * out.grad", "self.grad += (1 - self.data**2) * out.grad"),
     "Value", ("tanh",)),
    ("ch08.local_gradients", edit("08", "value", "return self * -1", "return Value(-self.data)"), "Value", ("neg", "-", "graph", "children")),
    ("ch08.topological_order", '''def topological_order(root):
    order, seen = [], set()
    def visit(node):
        if id(node) in seen:
            return
        seen.add(id(node))
        for child in node._prev:
            visit(child)
        order.append(node)
    visit(root)
    return order
''', "topological_order", ("recurs", "deep", "stack", "10,000", "10000")),
    ("ch08.derivative", edit("08", "derivative", 'return ("/", ("-", ("*", da, b), ("*", a, derivative(b, var))), ("**", b, 2))',
                             'return ("/", ("-", ("*", a, derivative(b, var)), ("*", da, b)), ("**", b, 2))'), "derivative", ("quotient", "sign", "/")),
    ("ch08.derivative", edit("08", "derivative", 'return ("*", expr, da)', 'return expr'), "derivative", ("chain", "exp")),
    # --- chapter 9 ---------------------------------------------------------------------------
    ("ch09.one_hot_text", '''def one_hot_text(text, vocab):
    out = np.zeros((len(text), len(vocab)), dtype=bool)
    for t, ch in enumerate(text):
        out[t, vocab.index(ch)] = True
    return out
''', "one_hot_text", ("float", "bool", "dtype")),
    ("ch09.one_hot_text", '''def one_hot_text(text, vocab):
    return [[1.0 if ch == v else 0.0 for v in vocab] for ch in text]
''', "one_hot_text", ("list", "array")),
    ("ch09.embedding_backward", '''def embedding_backward(ids, dout, vocab_size):
    dE = np.zeros((vocab_size, dout.shape[-1]), dtype=int)
    np.add.at(dE, ids, dout)
    return dE
''', "embedding_backward", ("float", "int", "dtype")),
    ("ch09.embedding_backward", '''def embedding_backward(ids, dout, vocab_size):
    dE = np.zeros((dout.shape[-1], vocab_size))
    np.add.at(dE.T, ids, dout)
    return dE
''', "embedding_backward", ("shape", "transpose", "vocab_size", "rows")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.array(hs).reshape(x.shape[0], x.shape[1], -1)
''', "rnn_forward", ("transpose", "reshape", "time", "batch", "axis", "stack")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0.copy()
    hs = []
    for t in range(x.shape[1]):
        h[:] = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)
''', "rnn_forward", ("same array", "copy", "last", "every step", "alias")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0
    for t in range(x.shape[1]):
        h[:] = np.tanh(x[:, t] @ Wx + h @ Wh + b)
    return np.stack([h] * x.shape[1], axis=1)
''', "rnn_forward", ("h0", "changed", "in place", "copy")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    hs = np.zeros_like(x)
    h = h0
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs[:, t] = h
    return hs
''', "rnn_forward", ("units", "features", "shape", "zeros_like")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)
''', "rnn_forward", ("x[:, t]", "batch", "time", "axis")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "return dx, dh_next, dWx, dWh, db", "T = x.shape[1]\n    return dx, dh_next, dWx / T, dWh / T, db / T"),
     "rnn_backward", ("sum", "mean", "divide", "T", "steps")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "db += da.sum(axis=0)", "db += da.sum(axis=1)"), "rnn_backward", ("db", "axis", "batch")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "for t in reversed(range(x.shape[1])):", "for t in reversed(range(1, x.shape[1])):"),
     "rnn_backward", ("t = 0", "first", "step", "range")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "        dh_next = da @ Wh.T\n", "        dh_next = da @ Wh.T\n        dhs[:, t - 1] += dh_next if t > 0 else 0\n")
     .replace("da = (dhs[:, t] + dh_next)", "da = dhs[:, t]"), "rnn_backward", ("dhs", "changed", "in place", "copy")),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    if norm > max_norm:
        for g in grads:
            g *= max_norm / norm
    return grads
''', "clip_by_norm", ("in place", "copy", "changed", "new")),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g) ** 2 for g in grads))
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads]
''', "clip_by_norm", ("square", "sum of squares", "g**2", "norm")),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = max(np.abs(g).max() for g in grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads]
''', "clip_by_norm", ("norm", "square", "sqrt", "largest")),
    ("ch09.lstm_step", edit("09", "lstm-step", "c = f * c_prev + i * g", "c = f * c_prev + i * np.tanh(g)"), "lstm_step", ("tanh", "candidate", "g")),
    ("ch09.lstm_step", edit("09", "lstm-step", "h = o * np.tanh(c)", "h = o * sigmoid(c)"), "lstm_step", ("tanh",)),
    ("ch09.lstm_step", edit("09", "lstm-step", "c = f * c_prev + i * g", "c = f * h_prev + i * g"), "lstm_step", ("c_prev", "memory")),
    ("ch09.lstm_step", edit("09", "lstm-step", "z = x @ Wx + h_prev @ Wh + b", "z = x @ Wx + b + h_prev @ Wh + b"), "lstm_step", ("b", "bias", "twice")),
    ("ch09.lstm_step", edit("09", "lstm-step", "return h, c", "return c, h"), "lstm_step", ("swap", "order")),
    ("ch09.lstm_step", edit("09", "lstm-step", "np.split(z, 4, axis=-1)", "np.split(z, 4)"), "lstm_step", ("axis", "split")),
    ("ch09.inputs_and_targets", '''def inputs_and_targets(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    inputs = [ids[r * seq_len:(r + 1) * seq_len] for r in range(n)]
    targets = [ids[r * seq_len + 1:(r + 1) * seq_len + 1] for r in range(n)]
    return inputs, targets
''', "inputs_and_targets", ("list", "array")),
    ("ch09.inputs_and_targets", '''def inputs_and_targets(ids, seq_len):
    n = len(ids) // seq_len - 1
    inputs = ids[: n * seq_len].reshape(n, seq_len)
    targets = ids[1 : n * seq_len + 1].reshape(n, seq_len)
    return inputs, targets
''', "inputs_and_targets", ("(len(ids) - 1) // seq_len", "pieces", "rows", "n")),
    ("ch09.inputs_and_targets", '''def inputs_and_targets(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    inputs = ids[: n * seq_len].reshape(n, seq_len)
    targets = ids[seq_len : (n + 1) * seq_len].reshape(n, seq_len)
    return inputs, targets
''', "inputs_and_targets", ("shift", "one", "next")),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    z = logits / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1)
''', "temperature_softmax", ("keepdims",)),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / temperature / (e / temperature).sum(axis=-1, keepdims=True)
''', "temperature_softmax", ("temperature", "divide", "logits", "before")),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    logits /= temperature
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''', "temperature_softmax", ("in place", "changed", "copy")),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    z = logits / temperature
    e = np.exp(z - z.min(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
''', "temperature_softmax", ("max", "overflow")),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    z = logits / temperature
    e = np.exp(z - z.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)
''', "temperature_softmax", ("axis", "row", "last")),
    # --- chapter 10 --------------------------------------------------------------------------
    ("ch10.attention", edit("10", "attention", "/ np.sqrt(Q.shape[-1])", "/ np.sqrt(Q.shape[1])"), "attention", ("Q.shape[-1]", "last axis", "d_k", "width")),
    ("ch10.attention", edit("10", "attention", "scores = np.where(mask, scores, -np.inf)", "scores = np.where(mask, scores, np.inf)"),
     "attention", ("-inf", "sign", "inf", "negative")),
    ("ch10.attention", edit("10", "attention", "scores = np.where(mask, scores, -np.inf)", "scores = scores + mask * -1e9"),
     "attention", ("invert", "~mask", "False", "allowed", "True")),
    ("ch10.attention", edit("10", "attention", "if mask is not None:", "if mask:"), "attention", ("is not None", "mask", "ambiguous")),
    ("ch10.attention", edit("10", "attention", "K.swapaxes(-1, -2)", "K.T"), "attention", ("swapaxes", "K.T", "transpose", "axes")),
    ("ch10.attention", edit("10", "attention", "return weights @ V, weights", "return weights, weights @ V"), "attention", ("swap", "order")),
    ("ch10.attention", edit("10", "attention", "scores = np.where(mask, scores, -np.inf)", "scores[..., ~mask] = -np.inf"),
     "attention", ("mask", "broadcast", "shape", "leading")),
    ("ch10.causal_mask", "def causal_mask(T):\n    return np.tril(np.ones((T, T)))\n", "causal_mask", ("bool", "dtype", "True")),
    ("ch10.causal_mask", "def causal_mask(T):\n    i = np.arange(T)\n    return i[:, None] <= i[None, :]\n", "causal_mask", ("upper", "lower", "triangle", "future")),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    B, T, D = x.shape\n    return x.reshape(B, T, num_heads, D // num_heads).transpose(0, 2, 3, 1)\n",
     "split_heads", ("transpose", "axes", "shape", "(B, h, T, d)")),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    return np.stack(np.split(x, num_heads, axis=-1), axis=0)\n",
     "split_heads", ("axis", "shape", "stack")),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    d = x.shape[-1] // num_heads\n    return [x[..., j * d:(j + 1) * d] for j in range(num_heads)]\n",
     "split_heads", ("list", "array", "stack")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "merged = heads.transpose(0, 2, 1, 3).reshape(B, T, -1)",
                                       "merged = heads.transpose(0, 2, 1, 3).reshape(B, T, D)"), "multi_head_attention", ("D", "h*d", "-1", "width", "reshape")),
    ("ch10.multi_head_attention", '''def multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    B, T, D = x.shape
    out, _ = attention(x @ Wq, x @ Wk, x @ Wv, causal_mask(T) if causal else None)
    return out @ Wo
''', "multi_head_attention", ("split", "head")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "causal_mask(T) if causal else None", "causal_mask(D) if causal else None"),
     "multi_head_attention", ("T", "mask", "shape")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "return merged @ Wo", "return merged @ Wo, _"),
     "multi_head_attention", ("tuple", "weights", "one array", "array")),
    ("ch10.sinusoidal_positions", edit("10", "sinusoidal-positions", "pe = np.zeros((T, d))", "pe = np.zeros((T, d), dtype=int)"),
     "sinusoidal_positions", ("int", "dtype", "float", "whole")),
    ("ch10.sinusoidal_positions", edit("10", "sinusoidal-positions", "np.arange(0, d, 2)[None, :] / d", "np.arange(0, d, 2)[None, :] / (d - 1)"),
     "sinusoidal_positions", ("d", "exponent", "turn", "speed", "frequenc")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-6):\n    mean = x.mean(axis=-1, keepdims=True)\n    var = x.var(axis=-1, keepdims=True)\n"
     "    return (x - mean) / np.sqrt(var + eps) * gamma + beta\n", "layer_norm", ("eps", "1e-5")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(axis=-1, keepdims=True)\n    var = x.var(axis=-1, keepdims=True)\n"
     "    return (x - mean) / np.sqrt(var + eps) * beta + gamma\n", "layer_norm", ("gamma", "beta", "swap")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    x -= x.mean(axis=-1, keepdims=True)\n"
     "    return x / np.sqrt((x ** 2).mean(axis=-1, keepdims=True) + eps) * gamma + beta\n", "layer_norm", ("in place", "changed", "copy")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    mean = x.mean(axis=-1)\n    var = x.var(axis=-1)\n"
     "    return (x - mean) / np.sqrt(var + eps) * gamma + beta\n", "layer_norm", ("keepdims",)),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return weights * ((dweights * weights).sum(axis=-1, keepdims=True) - dweights)\n",
     "softmax_backward", ("sign", "negative", "opposite", "-1")),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return weights * (dweights - (dweights * weights).sum(axis=-1))\n",
     "softmax_backward", ("keepdims",)),
    ("ch10.layer_norm_backward", edit("10", "layer-norm-backward", "return dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)",
                                      "return dx, dout * xhat, dout.sum(axis=axes)"), "layer_norm_backward", ("sum", "dgamma", "shape", "axes")),
    ("ch10.layer_norm_backward", edit("10", "layer-norm-backward", "return dx, (dout * xhat).sum(axis=axes), dout.sum(axis=axes)",
                                      "return dx, (dout * xhat).sum(axis=axes), dout.sum()"), "layer_norm_backward", ("dbeta", "last", "axis", "shape")),
    ("ch10.transformer_block", edit("10", "transformer-block", "num_heads, causal=True", "2, causal=True"), "transformer_block", ("num_heads", "heads")),
    ("ch10.transformer_block", edit("10", "transformer-block", "@ p[\"W2\"] + p[\"b2\"]", "@ p[\"W2\"]"), "transformer_block", ("b2", "bias")),
    ("ch10.transformer_block", edit("10", "transformer-block", "np.maximum(h2 @ p[\"W1\"] + p[\"b1\"], 0)", "np.tanh(h2 @ p[\"W1\"] + p[\"b1\"])"),
     "transformer_block", ("relu", "activation")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", '"b2": flat(dout).sum(axis=0)', '"b2": dout.sum(axis=0)'),
     "transformer_block_backward", ("b2", "flatten", "batch", "sum", "time")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", "dheads = split_heads(dy @ p[\"Wo\"].T, num_heads)",
                                             "dheads = (dy @ p[\"Wo\"].T).reshape(B, num_heads, T, -1)"), "transformer_block_backward", ("split", "transpose", "reshape", "heads")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", 'g["x"] = dy + dx_ln', 'g["x"] = dy'),
     "transformer_block_backward", ("LN1", "attention", "through")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", "/ np.sqrt(q.shape[-1])", "* np.sqrt(q.shape[-1])"),
     "transformer_block_backward", ("sqrt", "scale", "divide")),
]

RIGHT += [
    ("ch06.minibatches", '''def minibatches(n, batch_size, rng):
    order = np.arange(n)
    rng.shuffle(order)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]
''', "minibatches", ()),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta, self.velocities = lr, beta, None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            np.multiply(v, self.beta, out=v)
            np.subtract(v, self.lr * g, out=v)
            np.add(p, v, out=p)
''', "Momentum", ()),
    ("ch06.adam", edit("06", "adam", "            m_hat = m / (1 - self.beta_1**self.t)\n            v_hat = v / (1 - self.beta_2**self.t)\n            p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)",
                       "            p[:] = p - self.lr * (m / (1 - self.beta_1**self.t)) / (np.sqrt(v / (1 - self.beta_2**self.t)) + self.eps)"), "Adam", ()),
    ("ch07.conv2d_forward", '''def conv2d_forward(x, W, b, stride=1, pad=0):
    N, C, H, Wd = x.shape
    F, _, kh, kw = W.shape
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (Wd + 2 * pad - kw) // stride + 1
    cols = im2col(x, kh, kw, stride, pad).reshape(C * kh * kw, N, Ho, Wo)
    return np.einsum("fk,knhw->nfhw", W.reshape(F, -1), cols) + b[None, :, None, None]
''', "conv2d_forward", ()),
    ("ch08.backward", '''def backward(self):
    topo = topological_order(self)
    for node in topo:
        node.grad = 0.0
    self.grad = 1.0
    for node in topo[::-1]:
        node._backward()
''', "backward", ()),
    ("ch09.one_hot_text", "def one_hot_text(text, vocab):\n    return np.eye(len(vocab))[[vocab.index(ch) for ch in text]]\n", "one_hot_text", ()),
    ("ch09.one_hot_text", "def one_hot_text(text, vocab):\n    ids = np.array([vocab.index(ch) for ch in text], dtype=int)\n"
     "    return (ids[:, None] == np.arange(len(vocab))).astype(np.float32)\n", "one_hot_text", ()),
    ("ch09.embedding_backward", "def embedding_backward(ids, dout, vocab_size):\n    one_hot = np.eye(vocab_size)[ids.ravel()]\n"
     "    return one_hot.T @ dout.reshape(-1, dout.shape[-1])\n", "embedding_backward", ()),
    ("ch09.rnn_backward", '''def rnn_backward(dhs, x, h0, hs, Wx, Wh):
    B, T, _ = x.shape
    f = np.float32
    dx = np.zeros(x.shape, f)
    dWx, dWh, db = np.zeros(Wx.shape, f), np.zeros(Wh.shape, f), np.zeros(Wh.shape[0], f)
    dh = np.zeros(h0.shape, f)
    prev = np.concatenate([h0[:, None], hs[:, :-1]], axis=1).astype(f)
    for t in range(T - 1, -1, -1):
        da = (dhs[:, t].astype(f) + dh) * (1 - hs[:, t].astype(f) ** 2)
        dx[:, t] = da @ Wx.T.astype(f)
        dWx += np.einsum("bf,bu->fu", x[:, t].astype(f), da)
        dWh += prev[:, t].T @ da
        db += da.sum(0)
        dh = da @ Wh.T.astype(f)
    return dx, dh, dWx, dWh, db
''', "rnn_backward", ()),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    total = np.sqrt(sum(float((g * g).sum()) for g in grads))
    coef = max_norm / (total + 1e-6)
    return [g * min(coef, 1.0) for g in grads]
''', "clip_by_norm", ()),
    ("ch09.lstm_step", '''def lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    n = Wh.shape[0]
    z = np.einsum("bf,fg->bg", x, Wx) + np.einsum("bu,ug->bg", h_prev, Wh) + b
    i, f, o = (1 / (1 + np.exp(-z[:, k * n:(k + 1) * n])) for k in (0, 1, 3))
    c = f * c_prev + i * np.tanh(z[:, 2 * n:3 * n])
    return o * np.tanh(c), c
''', "lstm_step", ()),
    ("ch09.inputs_and_targets", '''def inputs_and_targets(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    rows = np.arange(n)[:, None] * seq_len + np.arange(seq_len)
    return ids[rows].astype(np.int32), ids[rows + 1].astype(np.int32)
''', "inputs_and_targets", ()),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    p = p ** (1.0 / temperature)
    return p / p.sum(axis=-1, keepdims=True)
''', "temperature_softmax", ()),
    ("ch10.attention", '''def attention(Q, K, V, mask=None):
    scores = np.einsum("...td,...sd->...ts", Q, K) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    scores -= scores.max(axis=-1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=-1, keepdims=True)
    return np.einsum("...ts,...sv->...tv", scores, V), scores
''', "attention", ()),
    ("ch10.causal_mask", "def causal_mask(T):\n    return np.tri(T, dtype=bool)\n", "causal_mask", ()),
    ("ch10.multi_head_attention", '''def multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    B, T, D = x.shape
    d = Wq.shape[1] // num_heads
    outs = []
    for j in range(num_heads):
        cut = slice(j * d, (j + 1) * d)
        out, _ = attention(x @ Wq[:, cut], x @ Wk[:, cut], x @ Wv[:, cut], causal_mask(T) if causal else None)
        outs.append(out)
    return np.concatenate(outs, axis=-1) @ Wo
''', "multi_head_attention", ()),
    ("ch10.sinusoidal_positions", '''def sinusoidal_positions(T, d):
    t = np.arange(T, dtype=np.float32)[:, None]
    rate = np.float32(10000) ** (np.arange(0, d, 2, dtype=np.float32) / np.float32(d))
    pe = np.empty((T, d), dtype=np.float32)
    pe[:, 0::2] = np.sin(t / rate)
    pe[:, 1::2] = np.cos(t / rate)
    return pe
''', "sinusoidal_positions", ()),
    ("ch10.softmax_backward", '''def softmax_backward(dweights, weights):
    n = weights.shape[-1]
    jacobian = weights[..., :, None] * (np.eye(n) - weights[..., None, :])
    return np.einsum("...ij,...i->...j", jacobian, dweights)
''', "softmax_backward", ()),
    ("ch10.layer_norm_backward", '''def layer_norm_backward(dout, x, gamma, eps=1e-5):
    D = x.shape[-1]
    mu = x.sum(axis=-1, keepdims=True) / D
    xc = x - mu
    inv = (np.sum(xc * xc, axis=-1, keepdims=True) / D + eps) ** -0.5
    xhat = xc * inv
    g = dout * gamma
    dx = inv / D * (D * g - g.sum(-1, keepdims=True) - xhat * np.sum(g * xhat, -1, keepdims=True))
    flat = lambda a: a.reshape(-1, D)
    return dx, flat(dout * xhat).sum(0), flat(dout).sum(0)
''', "layer_norm_backward", ()),
    ("ch10.transformer_block", '''def transformer_block(x, params, num_heads):
    f = np.float32
    p = {k: v.astype(f) for k, v in params.items()}
    x = x.astype(f)
    y = x + multi_head_attention(layer_norm(x, p["ln1_gamma"], p["ln1_beta"]), p["Wq"], p["Wk"], p["Wv"], p["Wo"], num_heads, causal=True)
    hidden = np.clip(layer_norm(y, p["ln2_gamma"], p["ln2_beta"]) @ p["W1"] + p["b1"], 0, None)
    return y + hidden @ p["W2"] + p["b2"]
''', "transformer_block", ()),
]

# tab round, second batch: the same classes written otherwise (keepdims, in place, squeeze, a step short,
# normalised before the temperature, a fixed head count's cousin the scale applied twice, half the columns, a mask's sign).
WRONG += [
    ("ch10.layer_norm_backward", edit("10", "layer-norm-backward", "dxhat.mean(axis=-1, keepdims=True) - xhat", "dxhat.mean(axis=-1) - xhat"),
     "layer_norm_backward", ("keepdims",)),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    dweights -= (dweights * weights).sum(axis=-1, keepdims=True)\n    return weights * dweights\n",
     "softmax_backward", ("in place", "changed", "copy")),
    ("ch09.lstm_step", edit("09", "lstm-step", "    c = f * c_prev + i * g\n", "    c_prev *= f\n    c_prev += i * g\n    c = c_prev\n"), "lstm_step", ("in place", "changed", "copy")),
    ("ch09.lstm_step", edit("09", "lstm-step", "return h, c", "return h.squeeze(), c.squeeze()"), "lstm_step", ("squeeze", "length 1", "axis")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0
    hs = []
    for t in range(x.shape[1] - 1):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return np.stack(hs, axis=1)
''', "rnn_forward", ("last", "one", "step", "range")),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    h = h0
    hs = []
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs.append(h)
    return hs
''', "rnn_forward", ("list", "array")),
    ("ch09.temperature_softmax", '''def temperature_softmax(logits, temperature):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p = e / e.sum(axis=-1, keepdims=True)
    return p ** (1 / temperature)
''', "temperature_softmax", ("sum to 1", "normalis", "distribution", "divide")),
    ("ch10.attention", edit("10", "attention", "/ np.sqrt(Q.shape[-1])", "/ np.sqrt(K.shape[0])"), "attention", ("K.shape[0]", "d_k", "Q.shape[-1]")),
    ("ch10.attention", edit("10", "attention", "weights = weights / weights.sum(axis=-1, keepdims=True)", "weights = weights / weights.sum(axis=-1, keepdims=True).max()"),
     "attention", ("sum to 1", "own sum", "row")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "q, k, v = (split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))",
                                       "q, k, v = (split_heads(x @ W, num_heads) for W in (Wq, Wk, Wv))\n    q = q / np.sqrt(q.shape[-1])"),
     "multi_head_attention", ("twice", "scale", "d_k")),
    ("ch10.sinusoidal_positions", '''def sinusoidal_positions(T, d):
    pe = np.zeros((T, d))
    for t in range(T):
        for i in range(d // 2):
            pe[t, 2 * i] = np.sin(t / 10000 ** (2 * i / d))
            pe[t, 2 * i + 1] = np.cos(t / 10000 ** (2 * i / T))
    return pe
''', "sinusoidal_positions", ("d", "turn", "speed", "pair", "frequenc")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", "dz = (dout @ p[\"W2\"].T) * (z > 0)", "dz = (dout @ p[\"W2\"].T) * (z < 0)"),
     "transformer_block_backward", ("relu", "z > 0")),
    ("ch09.embedding_backward", '''def embedding_backward(ids, dout, vocab_size):
    dE = np.zeros((vocab_size, dout.shape[-1]))
    for b in range(ids.shape[0]):
        for t in range(ids.shape[1]):
            dE[ids[b, t]] = dout[b, t]
    return dE
''', "embedding_backward", ("repeat", "occurrence", "+=", "add.at")),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = np.sqrt(sum(np.sum(g**2) for g in grads))
    return [g * min(1.0, max_norm / norm) if norm > max_norm else g for g in grads[:1]] + grads[1:]
''', "clip_by_norm", ("first", "every", "all")),
    ("ch06.adam", edit("06", "adam", "self.t += 1\n", "self.t = 1\n"), "Adam", ("t", "counter", "advance")),
]
RIGHT += [
    ("ch10.causal_mask", "def causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=int)) == 1\n", "causal_mask", ()),
    ("ch09.embedding_backward", "def embedding_backward(ids, dout, vocab_size):\n    d = dout.shape[-1]\n    dE = np.zeros((vocab_size, d), dtype=np.float32)\n"
     "    np.add.at(dE, ids.ravel(), dout.reshape(-1, d))\n    return dE\n", "embedding_backward", ()),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", '"b2": flat(dout).sum(axis=0)', '"b2": dout.sum(axis=(0, 1))'), "transformer_block_backward", ()),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    B, T, D = x.shape\n    return np.swapaxes(x.reshape(B, T, num_heads, -1), 1, 2)\n", "split_heads", ()),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-5):\n    x = x.astype(np.float32)\n    mu = x.mean(-1, keepdims=True)\n"
     "    return gamma * (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps) + beta\n", "layer_norm", ()),
    ("ch09.rnn_forward", '''def rnn_forward(x, h0, Wx, Wh, b):
    xw = x @ Wx + b
    h, hs = h0, np.zeros(xw.shape)
    for t in range(x.shape[1]):
        h = np.tanh(xw[:, t] + h @ Wh)
        hs[:, t] = h
    return hs
''', "rnn_forward", ()),
    ("ch06.sgd", "class SGD:\n    def __init__(self, lr=0.01):\n        self.lr = lr\n\n    def step(self, params, grads):\n"
     "        for p, g in zip(params, grads):\n            p[...] = p - self.lr * g\n", "SGD", ()),
]

# tab round, third batch: listed mistakes of this round written another way (2 * b, the sigmoid by hand, v = m,
# torch's dampened momentum, an unused temperature, one head by einsum, an L1 norm, eps=1e-12, one head written in).
WRONG += [
    ("ch09.lstm_step", edit("09", "lstm-step", "z = x @ Wx + h_prev @ Wh + b", "z = x @ Wx + h_prev @ Wh + 2 * b"), "lstm_step", ("twice", "bias")),
    ("ch09.lstm_step", edit("09", "lstm-step", "h = o * np.tanh(c)", "h = o / (1 + np.exp(-c))"), "lstm_step", ("tanh",)),
    ("ch06.adam", edit("06", "adam", "            self.v = [np.zeros_like(p) for p in params]\n", "            self.v = self.m\n"), "Adam", ("same", "two lists")),
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta, self.velocities = lr, beta, None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v[...] = self.beta * v + (1 - self.beta) * g
            p -= self.lr * v
''', "Momentum", ("1 - beta", "average")),
    ("ch09.temperature_softmax", "def temperature_softmax(logits, temperature):\n    e = np.exp(logits - logits.max(axis=-1, keepdims=True))\n    return e / e.sum(axis=-1, keepdims=True)\n",
     "temperature_softmax", ("no effect", "temperature")),
    ("ch10.multi_head_attention", '''def multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    T = x.shape[1]
    q, k, v = x @ Wq, x @ Wk, x @ Wv
    s = np.einsum("btd,bsd->bts", q, k) / np.sqrt(q.shape[-1])
    if causal:
        s = np.where(np.tril(np.ones((T, T), bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return (w @ v) @ Wo
''', "multi_head_attention", ("split", "heads")),
    ("ch10.attention", edit("10", "attention", "/ np.sqrt(Q.shape[-1])", "/ Q.shape[-2] ** 0.5"), "attention", ("Q.shape[-2]", "d_k")),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads]), ord=1)
    return [g * (max_norm / norm if norm > max_norm else 1.0) for g in grads]
''', "clip_by_norm", ("norm", "square")),
    ("ch10.layer_norm", "def layer_norm(x, gamma, beta, eps=1e-12):\n    mu = x.mean(axis=-1, keepdims=True)\n"
     "    return gamma * (x - mu) / np.sqrt(((x - mu) ** 2).mean(axis=-1, keepdims=True) + eps) + beta\n", "layer_norm", ("eps",)),
    ("ch10.transformer_block", '''def transformer_block(x, params, num_heads):
    p = params
    h1 = layer_norm(x, p["ln1_gamma"], p["ln1_beta"])
    y = x + multi_head_attention(h1, p["Wq"], p["Wk"], p["Wv"], p["Wo"], 1, causal=True)
    h2 = layer_norm(y, p["ln2_gamma"], p["ln2_beta"])
    return y + np.maximum(h2 @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
''', "transformer_block", ("num_heads", "heads")),
]
RIGHT += [
    ("ch06.momentum", '''class Momentum:
    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta, self.velocities = lr, beta, None

    def step(self, params, grads):
        if self.velocities is None:
            self.velocities = [np.zeros_like(p) for p in params]
        for p, g, v in zip(params, grads, self.velocities):
            v[...] = self.beta * v + g
            p -= self.lr * v
''', "Momentum", ()),
]

# --- tac round ---
# Written from the chapters' text and solutions: off-by-one, wrong axis, aliasing (a slice is a view, asarray does not
# copy), dtypes (np.eye is float64), broadcasting and transposes that pass on square shapes, hard-coded sizes, state
# kept between calls, unstable forms, generators and lists for arrays, precedence, randomness drawn per batch.
WRONG += [
    # chapter 0
    ("ch00.predict", "def predict(w, b, x):\n    return w * x + b * np.ones(4)\n", "predict", ("shape", "size", "broadcast", "4")),
    ("ch00.predict", "def predict(w, b, x):\n    x *= w\n    x += b\n    return x\n", "predict", ("in place", "changed", "copy", "input")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.mean(y_pred ** 2 - y ** 2)\n", "mse_loss", ("square", "error", "difference")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.mean((y_pred - y) * 2)\n", "mse_loss", ("square", "* 2", "** 2")),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    return np.mean(y_pred - y ** 2)\n", "mse_loss", ("parenthes", "square", "precedence")),
    ("ch00.gradients", edit("00", "gradients", "db = np.mean(2 * error)", "db = np.mean(2 * error * x)"), "gradients", ("db", "x")),
    ("ch00.gradients", edit("00", "gradients", "db = np.mean(2 * error)", "db = np.sum(2 * error)"), "gradients", ("db", "sum", "mean", "times")),
    ("ch00.train", edit("00", "train", "w, b = 0.0, 0.0", "w, b = 1.0, 1.0"), "train", ("start", "initial", "w = b = 0")),
    ("ch00.train", edit("00", "train", "b = b - lr * db", "b = b - lr * dw"), "train", ("db", "dw", "b")),
    ("ch00.train", edit("00", "train", "return w, b, losses", "return b, w, losses"), "train", ("swap", "order")),
    # chapter 1
    ("ch01.ndims", "ndims = [x.ndim for x in (x0, x1, x2, x2)]\n", "ndims", ("x3",)),
    ("ch01.shapes", "shapes = [x0.shape, x1.shape, x2.shape, x3.shape[::-1]]\n", "shapes", ("x3", "order", "axis")),
    ("ch01.shapes", "shapes = [[], [5], [3, 5], [2, 3, 5]]\n", "shapes", ("tuple", "list")),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[:, -14:, -13:]\n", "crop_bottom_right", ("13", "one", "off", "column", "width")),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[:, 13:27, 13:27]\n", "crop_bottom_right", ("14", "13", "one", "off", "shift")),
    ("ch01.prepare_images", "def prepare_images(images):\n    return (images / 255).astype('float32').reshape(60000, 784)\n", "prepare_images", ("len", "n", "60000", "size", "number of images")),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.astype('float32').reshape(len(images), -1) / 256\n", "prepare_images", ("255", "256")),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.reshape(len(images), 784).astype(np.float16) / 255\n", "prepare_images", ("float32", "float16", "dtype")),
    ("ch01.to_categorical", "def to_categorical(labels, num_classes):\n    return np.eye(num_classes)[labels]\n", "to_categorical", ("float32", "dtype", "float64")),
    ("ch01.to_categorical", "def to_categorical(labels, num_classes):\n    return np.identity(len(labels), dtype=np.float32)[labels]\n", "to_categorical", ("num_classes", "columns", "classes")),
    ("ch01.data_shapes", 'data_shapes = {"people": (1000, 3), "stocks": (250, 390, 3), "images": (128, 256, 256), '
     '"videos": (4, 240, 144, 256, 3)}\n', "data_shapes", ("channels", "images", "3")),
    # chapter 2
    ("ch02.naive_relu", '''def naive_relu(x):
    z = np.zeros((x.shape[1], x.shape[0]))
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            z[i, j] = max(x[i, j], 0)
    return z
''', "naive_relu", ("shape", "transpos", "rows", "columns")),
    ("ch02.naive_relu", '''def naive_relu(x):
    x = x[:]
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            x[i, j] = max(x[i, j], 0)
    return x
''', "naive_relu", ("view", "copy", "changed", "in place", "input")),
    ("ch02.naive_add", edit("02", "naive-add", "x = x.copy()", "x = x[:, :]"), "naive_add", ("view", "copy", "changed", "in place", "input")),
    ("ch02.naive_add_matrix_and_vector", edit("02", "naive-add-matrix-and-vector", "for i in range(x.shape[0]):", "for i in range(x.shape[1]):"),
     "naive_add_matrix_and_vector", ("shape[0]", "row", "range", "rows")),
    ("ch02.naive_vector_dot", edit("02", "naive-vector-dot", "z = 0.0", "z = 1.0"), "naive_vector_dot", ("start", "initial", "z = 0")),
    ("ch02.naive_vector_dot", '''def naive_vector_dot(x, y):
    z = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        z[i] = x[i] * y[i]
    return z
''', "naive_vector_dot", ("sum", "number", "array", "add up")),
    ("ch02.naive_matrix_vector_dot", edit("02", "naive-matrix-vector-dot", "z[i] += x[i, j] * y[j]", "z[i] += x[i, j] * y[i]"),
     "naive_matrix_vector_dot", ("y[i]", "index", "y[j]")),
    ("ch02.naive_matrix_vector_dot", edit("02", "naive-matrix-vector-dot", "z = np.zeros(x.shape[0])", "z = np.zeros(x.shape[1])"),
     "naive_matrix_vector_dot", ("shape[0]", "shape", "length", "rows")),
    ("ch02.naive_matrix_dot", edit("02", "naive-matrix-dot", "z[i, j] += x[i, k] * y[k, j]", "z[i, j] = x[i, k] * y[k, j]"),
     "naive_matrix_dot", ("+=", "sum", "overwrit", "last")),
    ("ch02.naive_matrix_dot", edit("02", "naive-matrix-dot", "z = np.zeros((x.shape[0], y.shape[1]))", "z = np.zeros((x.shape[0], x.shape[0]))"),
     "naive_matrix_dot", ("shape", "y.shape[1]", "columns")),
    ("ch02.naive_transpose", edit("02", "naive-transpose", "            z[j, i] = x[i, j]", "            z[j, i] = x[j, i]"), "naive_transpose", ("index", "x[j, i]", "x[i, j]")),
    # chapter 3
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return np.heaviside(X @ w + b, 0).astype(int)\n", "perceptron_predict", (">=", "0", "exactly")),
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return (X @ w >= b).astype(int)\n", "perceptron_predict", ("b", "sign", "bias")),
    ("ch03.perceptron_train", edit("03", "perceptron-train", "update = lr * (target - int(xi @ w + b >= 0))", "update = lr * (int(xi @ w + b >= 0) - target)"),
     "perceptron_train", ("sign", "target", "opposite")),
    ("ch03.perceptron_train", edit("03", "perceptron-train", "wrong += int(update != 0)", "wrong += update"), "perceptron_train", ("count", "errors", "abs", "mistakes")),
    ("ch03.perceptron_train", edit("03", "perceptron-train", "for _ in range(epochs):", "for _ in range(epochs - 1):"), "perceptron_train", ("epochs", "one", "fewer", "range")),
    ("ch03.dense", "def dense(a_in, W, b, g):\n    return g(a_in @ W + b[:, None])\n", "dense", ("broadcast", "b", "shape", "bias")),
    ("ch03.sequential_xor", edit("03", "sequential-xor", "a2 = dense(a1, W2, b2, sigmoid)", "a2 = dense(a1, W2, b1, sigmoid)"), "sequential_xor", ("b2", "b1", "bias")),
    ("ch03.sequential_xor", edit("03", "sequential-xor", "a1 = dense(X, W1, b1, sigmoid)", "a1 = dense(X, W1, b1, np.tanh)"), "sequential_xor", ("sigmoid", "tanh", "activation", "hidden")),
    ("ch03.xor_weights", '''W1_xor = np.array([[1.0, -1.0], [1.0, -1.0]])
b1_xor = np.array([-0.5, 1.5])
W2_xor = np.array([[1.0], [1.0]])
b2_xor = np.array([-1.5])
''', "(W1_xor, b1_xor, W2_xor, b2_xor)", ("saturat", "large", "scale", "sigmoid", "steep", "0.5")),
    # chapter 4
    ("ch04.forward", edit("04", "forward", 'Z2 = a1 @ params["W2"] + params["b2"]', 'Z2 = a1 @ params["W2"] + params["b1"]'), "forward", ("b2", "b1")),
    ("ch04.forward", edit("04", "forward", 'a1 = sigmoid(Z1)', 'a1 = sigmoid(X @ params["W1"]) + params["b1"]'), "forward", ("b1", "bias", "before", "after")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return float(-np.sum(y * np.log(a2) + (1 - y) * np.log(1 - a2)) / a2.shape[1])\n", "bce_loss", ("shape[1]", "sum", "mean", "m", "samples")),
    ("ch04.bce_loss", "def bce_loss(a2, y):\n    return float(-np.mean(y * np.log(a2) + (1 - y) * np.log1p(a2)))\n", "bce_loss", ("log1p", "1 - a2", "log(1")),
    ("ch04.backward", edit("04", "backward", 'da1 = dZ2 @ params["W2"].T', 'da1 = dZ2 @ params["W2"]'), "backward", ("W2.T", "transpos")),
    ("ch04.backward", edit("04", "backward", "dZ1 = da1 * a1 * (1 - a1)", 'dZ1 = da1 * cache["Z1"] * (1 - cache["Z1"])'), "backward", ("a1", "Z1", "sigmoid", "derivative")),
    ("ch04.backward", edit("04", "backward", "dZ2 = (a2 - y) / m", "dZ2 = (y - a2) / m"), "backward", ("sign", "negative", "opposite", "-1")),
    ("ch04.backward", edit("04", "backward", "db2 = dZ2.sum(axis=0)", "db2 = dZ2.mean(axis=0)"), "backward", ("db2", "sum", "mean", "m")),
    ("ch04.backward", edit("04", "backward", "dZ2 = (a2 - y) / m", "dZ2 = (a2 - y) / 4"), "backward", ("m", "batch", "4", "X.shape[0]", "samples")),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", "        old = x[i]\n        x[i] = old + eps\n        f_plus = f(x)\n        x[i] = old - eps\n        f_minus = f(x)\n        x[i] = old\n",
                                     "        f_plus = f(x + eps)\n        f_minus = f(x - eps)\n"), "numerical_gradient", ("every entry", "one entry", "all", "x[i]", "each")),
    ("ch04.relative_error", "def relative_error(a, b):\n    return float(np.linalg.norm(a - b) ** 2 / (np.linalg.norm(a) + np.linalg.norm(b)))\n", "relative_error", ("square", "norm")),
    ("ch04.train", edit("04", "train", "        a2, cache = forward(X, params)\n", "").replace("    for _ in range(epochs):\n", "    a2, cache = forward(X, params)\n    for _ in range(epochs):\n"),
     "train", ("forward", "once", "every", "each epoch", "same")),
    ("ch04.train", edit("04", "train", "def train(X, y, params, epochs=100, lr=0.5):\n    params = {name: value.copy() for name, value in params.items()}\n    losses = []",
                        "def train(X, y, params, epochs=100, lr=0.5, losses=[]):\n    params = {name: value.copy() for name, value in params.items()}"),
     "train", ("previous", "call", "default", "kept", "state")),
    # chapter 5
    ("ch05.softmax", "def softmax(z):\n    e = np.exp(z - z.max())\n    return e / e.sum(axis=-1, keepdims=True)\n", "softmax", ("row", "max", "underflow", "each row", "own")),
    ("ch05.log_softmax", "def log_softmax(z):\n    shifted = z - np.max(z, axis=-1, keepdims=True)\n    return shifted - np.log(np.sum(np.exp(shifted)))\n",
     "log_softmax", ("axis", "row", "keepdims", "sum", "whole")),
    ("ch05.log_softmax", "def log_softmax(z):\n    shifted = z - np.max(z, axis=-1, keepdims=True)\n    return shifted - np.log(np.exp(shifted).sum(axis=-1))\n",
     "log_softmax", ("keepdims", "broadcast")),
    ("ch05.categorical_crossentropy", '''def categorical_crossentropy(y_true, y_pred, from_logits=False):
    p = softmax(y_pred) if from_logits else y_pred
    return float(-np.mean(np.sum(y_true * np.log(np.clip(p, 1e-7, 1 - 1e-7)), axis=-1)))
''', "categorical_crossentropy", ("log_softmax", "clip", "logits")),
    ("ch05.categorical_crossentropy", edit("05", "categorical-crossentropy", "return float(-np.mean(np.sum(y_true * log_p, axis=-1)))",
                                           "return float(-np.sum(y_true * log_p) / y_true.shape[1])"),
     "categorical_crossentropy", ("classes", "samples", "shape[0]", "rows", "m", "mean")),
    ("ch05.categorical_crossentropy", edit("05", "categorical-crossentropy", "log_p = log_softmax(y_pred)",
                                           "log_p = y_pred - np.log(np.exp(y_pred).sum(axis=-1, keepdims=True))"),
     "categorical_crossentropy", ("overflow", "log_softmax", "large", "max", "shift")),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return softmax(logits) - y_true / logits.shape[0]\n", "softmax_ce_grad", ("parenthes", "precedence", "m")),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return (softmax(logits) - y_true) / logits.size\n", "softmax_ce_grad", ("size", "m", "shape[0]", "rows", "classes", "columns")),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return (sigmoid(logits) < threshold).astype(int)\n", "multilabel_predict", ("<", ">", "invert", "above", "flip", "opposite")),
    ("ch05.output_activations", '''output_activations = {"house price": "linear", "spam or not": "sigmoid", "digit 0-9": "sigmoid",
                      "photo tags": "sigmoid", "hidden layer": "relu"}
''', "output_activations", ("digit", "softmax", "one of")),
    ("ch05.output_activations", '''output_activations = {"house price": "linear", "spam or not": "softmax", "digit 0-9": "softmax",
                      "photo tags": "sigmoid", "hidden layer": "relu"}
''', "output_activations", ("spam", "sigmoid")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", 'dZ1 = (dlogits @ params["W2"].T) * (Z1 > 0)', 'dZ1 = (dlogits @ params["W2"]) * (Z1 > 0)'),
     "loss_and_grads", ("W2.T", "transpos")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "dlogits = softmax_ce_grad(logits, Y)", "dlogits = softmax(logits) - Y"),
     "loss_and_grads", ("m", "batch", "mean", "times")),
    ("ch05.loss_and_grads", edit("05", "loss-and-grads", "A1 = np.maximum(Z1, 0)", "A1 = sigmoid(Z1)"), "loss_and_grads", ("relu", "sigmoid", "A1")),
    # chapter 6
    ("ch06.gradient_descent", edit("06", "gradient-descent", "    w = np.array(w0, dtype=float)\n", "    w = np.array(w0)\n").replace("w = w - lr * grad(w)", "w -= lr * grad(w)"),
     "gradient_descent", ("int", "float", "dtype")),
    ("ch06.gradient_descent", edit("06", "gradient-descent", "    w = np.array(w0, dtype=float)\n", "    w = np.asarray(w0, dtype=float)\n").replace("w = w - lr * grad(w)", "w -= lr * grad(w)"),
     "gradient_descent", ("w0", "copy", "in place", "changed")),
    ("ch06.minibatches", "def minibatches(n, batch_size, rng):\n    order = rng.permutation(n)\n"
     "    return [order[i * batch_size:(i + 1) * batch_size] for i in range(n // batch_size + 1)]\n", "minibatches", ("empty", "last", "divisible")),
    ("ch06.minibatches", "def minibatches(n, batch_size, rng):\n    order = rng.choice(n, n)\n"
     "    return [order[s:s + batch_size] for s in range(0, n, batch_size)]\n", "minibatches", ("replace", "repeat", "every index", "permut", "once")),
    ("ch06.minibatches", "def minibatches(n, batch_size, rng):\n    return [rng.permutation(n)[s:s + batch_size] for s in range(0, n, batch_size)]\n",
     "minibatches", ("once", "partition", "every index", "permut", "shuffl")),
    ("ch06.sgd", edit("06", "sgd", "p -= self.lr * g", "p -= 0.01 * g"), "SGD", ("lr", "learning rate")),
    ("ch06.rmsprop", edit("06", "rmsprop", "            s *= self.rho\n            s += (1 - self.rho) * g**2\n            p -= self.lr * g / (np.sqrt(s) + self.eps)\n",
                          "            p -= self.lr * g / (np.sqrt(s) + self.eps)\n            s *= self.rho\n            s += (1 - self.rho) * g**2\n"),
     "RMSprop", ("before", "after", "order", "squares")),
    ("ch06.rmsprop", edit("06", "rmsprop", "p -= self.lr * g / (np.sqrt(s) + self.eps)", "p -= 0.001 * g / (np.sqrt(s) + self.eps)"), "RMSprop", ("lr", "learning rate")),
    ("ch06.adam", edit("06", "adam", "m_hat = m / (1 - self.beta_1**self.t)", "m_hat = m / (1 - self.beta_1 ** (self.t + 1))"), "Adam", ("t", "step", "count", "bias", "correct")),
    ("ch06.adam", edit("06", "adam", "        self.t += 1\n        for p, g, m, v in zip(params, grads, self.m, self.v):\n",
                       "        for p, g, m, v in zip(params, grads, self.m, self.v):\n            self.t += 1\n"), "Adam", ("t", "per parameter", "once per step", "every parameter", "step")),
    ("ch06.adam", edit("06", "adam", "v_hat = v / (1 - self.beta_2**self.t)", "v_hat = v / (1 - self.beta_1**self.t)"), "Adam", ("beta_2", "v_hat", "bias", "correct")),
    ("ch06.adam", edit("06", "adam", "p -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)", "p -= self.lr * m_hat / np.sqrt(v_hat) + self.eps"),
     "Adam", ("eps", "parenthes", "denominator")),
    # chapter 7
    ("ch07.conv2d_naive", edit("07", "conv2d-naive", "Ho = (H + 2 * pad - kh) // stride + 1", "Ho = (H + 2 * pad - kh) // stride"), "conv2d_naive", ("+ 1", "Ho", "size", "output", "shape")),
    ("ch07.conv2d_naive", edit("07", "conv2d-naive", "xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))", "xp = np.pad(x, pad)"), "conv2d_naive", ("pad", "axes", "batch", "channel")),
    ("ch07.conv2d_naive", edit("07", "conv2d-naive", "out[n, f, i, j] = np.sum(patch * W[f]) + b[f]", "out[n, f, i, j] = np.sum(patch * W[f] + b[f])"), "conv2d_naive", ("b", "bias", "sum", "inside", "once")),
    ("ch07.im2col", edit("07", "im2col", "cols[:, u, v] = window.transpose(1, 0, 2, 3)", "cols[:, u, v] = window"), "im2col", ("transpose", "order", "axes", "N", "C")),
    ("ch07.im2col", edit("07", "im2col", "window = xp[:, :, u:u + stride * Ho:stride, v:v + stride * Wo:stride]", "window = xp[:, :, u:u + Ho:stride, v:v + Wo:stride]"), "im2col", ("stride",)),
    ("ch07.conv2d_forward", edit("07", "conv2d-forward", "im2col(x, kh, kw, stride, pad)", "im2col(x, kh, kw)"), "conv2d_forward", ("stride", "pad")),
    ("ch07.conv2d_backward", edit("07", "conv2d-backward", "dW = (d @ im2col(x, kh, kw, stride, pad).T).reshape(W.shape)", "dW = (d @ im2col(x, kh, kw, stride, pad).T).reshape(W.shape) / x.shape[0]"),
     "conv2d_backward", ("dW", "N", "batch", "mean", "divid")),
    ("ch07.conv2d_backward", edit("07", "conv2d-backward", "dx = col2im(W.reshape(F, -1).T @ d, x.shape, kh, kw, stride, pad)", "dx = col2im(W.reshape(F, -1).T @ d, x.shape, kh, kw)"),
     "conv2d_backward", ("stride", "pad", "dx")),
    ("ch07.maxpool_forward", edit("07", "maxpool-forward", "Ho, Wo = (H - size) // stride + 1, (Wd - size) // stride + 1", "Ho, Wo = H // size, Wd // size"), "maxpool_forward", ("stride", "Ho", "size")),
    ("ch07.maxpool_forward", edit("07", "maxpool-forward", "x[:, :, i * stride:i * stride + size, j * stride:j * stride + size]", "x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2]"),
     "maxpool_forward", ("size", "stride")),
    ("ch07.maxpool_backward", edit("07", "maxpool-backward", "window.argmax(axis=2)", "window.argmax(axis=1)"), "maxpool_backward", ("axis", "argmax", "window")),
    # chapter 8
    ("ch08.local_gradients", edit("08", "value", "self.grad += other.data * out.grad\n            other.grad += self.data * out.grad",
                                  "self.grad += other.data * out.grad\n            other.grad += other.data * out.grad"), "Value", ("*", "mul", "self.data", "product", "other")),
    ("ch08.local_gradients", edit("08", "value", "self.grad += (out.data > 0) * out.grad", "self.grad += (out.data > 0)"), "Value", ("out.grad", "chain", "relu")),
    ("ch08.value_ops", edit("08", "value", "return self + (-other)", "return other + (-self)"), "Value", ("sub", "-", "sign", "other - self", "self - other")),
    ("ch08.value_ops", edit("08", "value", 'out = Value(self.data**n, (self,), f"**{n}")', 'out = Value(self.data * n, (self,), f"**{n}")'), "Value", ("**", "pow", "power")),
    ("ch08.topological_order", '''def topological_order(root):
    order, seen = [], set()
    def visit(node):
        if node.data in seen:
            return
        seen.add(node.data)
        stack = [(node, iter(node._prev))]
        while stack:
            top, children = stack[-1]
            child = next(children, None)
            if child is None:
                order.append(top)
                stack.pop()
            elif child.data not in seen:
                seen.add(child.data)
                stack.append((child, iter(child._prev)))
    visit(root)
    return order
''', "topological_order", ("visited", "id", "data", "same value", "once")),
    ("ch08.derivative", edit("08", "derivative", "    if isinstance(expr, (int, float)):\n        return 0\n", "    if isinstance(expr, (int, float)):\n        return 1\n"), "derivative", ("constant", "number")),
    ("ch08.derivative", edit("08", "derivative", "return 1 if expr == var else 0", "return 1"), "derivative", ("variable", "other", "var")),
    ("ch08.autograd", edit("08", "value", "        return self + other\n\n    def __rmul__", "        return other + self\n\n    def __rmul__") + "\nValue.backward = backward\n",
     "Value", ("radd", "recurs", "self + other")),
    # chapter 9
    ("ch09.one_hot_text", edit("09", "one-hot-text", "index = {ch: i for i, ch in enumerate(vocab)}", "index = {ch: i for i, ch in enumerate(sorted(vocab))}"),
     "one_hot_text", ("sorted", "order", "vocab", "index")),
    ("ch09.one_hot_text", "def one_hot_text(text, vocab):\n    return np.eye(len(vocab))[[vocab.index(c) for c in set(text)]]\n", "one_hot_text", ("set", "repeat", "every character", "order")),
    ("ch09.one_hot_text", '''char_to_id = {}
def one_hot_text(text, vocab):
    if not char_to_id:
        char_to_id.update({ch: i for i, ch in enumerate(vocab)})
    out = np.zeros((len(text), len(vocab)))
    for t, ch in enumerate(text):
        out[t, char_to_id[ch]] = 1.0
    return out
''', "one_hot_text", ("previous", "call", "vocab", "kept", "state", "global")),
    ("ch09.embedding_backward", edit("09", "embedding-backward", "dE = np.zeros((vocab_size, dout.shape[-1]))", "dE = np.zeros((vocab_size, dout.shape[1]))"),
     "embedding_backward", ("shape[-1]", "dimension", "shape", "features")),
    ("ch09.rnn_forward", edit("09", "rnn-forward", "h = np.tanh(x[:, t] @ Wx + h @ Wh + b)", "h = np.tanh(x[:, t] @ Wx + h @ Wh.T + b)"), "rnn_forward", ("Wh.T", "transpos", "Wh")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "dh_next = da @ Wh.T", "dh_next = da @ Wh"), "rnn_backward", ("Wh.T", "transpos")),
    ("ch09.rnn_backward", edit("09", "rnn-backward", "da = (dhs[:, t] + dh_next) * (1 - h**2)", "da = (dhs[:, t] + dh_next) * (1 - h) ** 2"),
     "rnn_backward", ("tanh", "1 - h**2", "derivative", "square")),
    ("ch09.clip_by_norm", "def clip_by_norm(grads, max_norm):\n    return [np.clip(g, -max_norm, max_norm) for g in grads]\n", "clip_by_norm", ("element", "value", "norm", "direction")),
    ("ch09.clip_by_norm", edit("09", "clip-by-norm", "norm = np.sqrt(sum(np.sum(g**2) for g in grads))", "norm = sum(np.linalg.norm(g) for g in grads)"),
     "clip_by_norm", ("norm", "sum of", "square", "global")),
    ("ch09.clip_by_norm", edit("09", "clip-by-norm", "return [g * scale for g in grads]", "return (g * scale for g in grads)"), "clip_by_norm", ("generator", "list")),
    ("ch09.lstm_step", edit("09", "lstm-step", "h = o * np.tanh(c)", "h = o * np.tanh(c_prev)"), "lstm_step", ("c_prev", "new c", "c")),
    ("ch09.lstm_step", edit("09", "lstm-step", "c = f * c_prev + i * g", "c = i * c_prev + f * g"), "lstm_step", ("forget", "input gate", "f", "i", "swap")),
    ("ch09.lstm_step", edit("09", "lstm-step", "zi, zf, zg, zo = np.split(z, 4, axis=-1)", "zi, zf, zg, zo = z[:, :4], z[:, 4:8], z[:, 8:12], z[:, 12:]"),
     "lstm_step", ("hidden", "split", "size", "H", "4")),
    ("ch09.inputs_and_targets", edit("09", "inputs-and-targets", "targets = ids[1 : n * seq_len + 1].reshape(n, seq_len)", "targets = np.roll(inputs, -1, axis=1)"),
     "inputs_and_targets", ("roll", "wrap", "next", "last", "shift")),
    ("ch09.inputs_and_targets", edit("09", "inputs-and-targets", "targets = ids[1 : n * seq_len + 1].reshape(n, seq_len)", "targets = ids[1 : n * seq_len + 1].reshape(seq_len, n)"),
     "inputs_and_targets", ("shape", "reshape", "(n, seq_len)", "order")),
    ("ch09.temperature_softmax", edit("09", "temperature-softmax", "e = np.exp(z - z.max(axis=-1, keepdims=True))", "e = np.exp(z - logits.max(axis=-1, keepdims=True))"),
     "temperature_softmax", ("max", "overflow", "z", "shift")),
    # chapter 10
    ("ch10.attention", edit("10", "attention", "scores = Q @ K.swapaxes(-1, -2) / np.sqrt(Q.shape[-1])", "scores = Q @ K.transpose(0, 2, 1) / np.sqrt(Q.shape[-1])"),
     "attention", ("swapaxes", "transpose", "axes", "4-D", "heads")),
    ("ch10.attention", edit("10", "attention", "    scores = scores - scores.max(axis=-1, keepdims=True)\n", ""), "attention", ("max", "overflow")),
    ("ch10.attention", edit("10", "attention", "/ np.sqrt(Q.shape[-1])", "/ np.sqrt(V.shape[-1])"), "attention", ("Q.shape[-1]", "d_k", "V")),
    ("ch10.attention", edit("10", "attention", "/ np.sqrt(Q.shape[-1])", "/ np.sqrt(8)"), "attention", ("Q.shape[-1]", "d_k", "8")),
    ("ch10.causal_mask", "def causal_mask(T):\n    return np.tril(np.ones((T, T), dtype=bool), k=1)\n", "causal_mask", ("diagonal", "k", "future")),
    ("ch10.causal_mask", "def causal_mask(T):\n    return [[j <= i for j in range(T)] for i in range(T)]\n", "causal_mask", ("list", "array")),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    B, T, D = x.shape\n    return x.reshape(B, T, D // num_heads, num_heads).transpose(0, 3, 1, 2)\n",
     "split_heads", ("contiguous", "columns", "reshape", "order", "interleav")),
    ("ch10.split_heads", "def split_heads(x, num_heads):\n    B, T, D = x.shape\n    return x.reshape(B, T, num_heads, 4).transpose(0, 2, 1, 3)\n",
     "split_heads", ("D // num_heads", "size", "head", "4")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "causal_mask(T) if causal else None", "causal_mask(T)"), "multi_head_attention", ("causal", "mask", "False")),
    ("ch10.multi_head_attention", edit("10", "multi-head-attention", "for W in (Wq, Wk, Wv)", "for W in (Wq, Wq, Wv)"), "multi_head_attention", ("Wk", "keys")),
    ("ch10.sinusoidal_positions", edit("10", "sinusoidal-positions", "np.arange(0, d, 2)[None, :] / d", "np.arange(d // 2)[None, :] / d"),
     "sinusoidal_positions", ("2i", "exponent", "frequenc", "d")),
    ("ch10.sinusoidal_positions", edit("10", "sinusoidal-positions", "np.arange(T)[:, None]", "np.arange(1, T + 1)[:, None]"),
     "sinusoidal_positions", ("position", "start", "t = 0", "first")),
    ("ch10.layer_norm", edit("10", "layer-norm", "var = x.var(axis=-1, keepdims=True)", "var = x.std(axis=-1, keepdims=True)"), "layer_norm", ("std", "variance", "sqrt")),
    ("ch10.layer_norm", edit("10", "layer-norm", "var = x.var(axis=-1, keepdims=True)", "var = x.var(axis=-1, ddof=1, keepdims=True)"), "layer_norm", ("ddof", "n - 1", "unbiased", "variance")),
    ("ch10.layer_norm", edit("10", "layer-norm", "(x - mean) / np.sqrt(var + eps)", "(x - mean) / (np.sqrt(var) + eps)"), "layer_norm", ("eps", "sqrt")),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return weights * (dweights - dweights.sum(axis=-1, keepdims=True))\n",
     "softmax_backward", ("weights", "sum", "dweights * weights")),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return dweights * (dweights - (dweights * weights).sum(axis=-1, keepdims=True))\n",
     "softmax_backward", ("weights", "dweights")),
    ("ch10.layer_norm_backward", edit("10", "layer-norm-backward", "(dout * xhat).sum(axis=axes)", "(dout * (x - mean)).sum(axis=axes)"),
     "layer_norm_backward", ("xhat", "dgamma", "normalis")),
    ("ch10.layer_norm_backward", edit("10", "layer-norm-backward", "axes = tuple(range(x.ndim - 1))", "axes = (0,)"),
     "layer_norm_backward", ("axes", "shape", "dgamma", "batch", "time")),
    ("ch10.transformer_block", edit("10", "transformer-block", 'h2 = layer_norm(y, p["ln2_gamma"], p["ln2_beta"])', 'h2 = layer_norm(y, p["ln1_gamma"], p["ln1_beta"])'),
     "transformer_block", ("ln2", "ln1")),
    ("ch10.transformer_block", edit("10", "transformer-block", 'return y + np.maximum', 'return x + np.maximum'), "transformer_block", ("residual", "y", "x")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", 'g["Wo"] = flat(merged).T @ flat(dy)', 'g["Wo"] = flat(merged).T @ flat(dout)'),
     "transformer_block_backward", ("Wo", "dy", "residual")),
    ("ch10.transformer_block_backward", edit("10", "transformer-block-backward", "dv = w.swapaxes(-1, -2) @ dheads", "dv = w @ dheads"),
     "transformer_block_backward", ("dv", "transpos", "swapaxes")),
    # state in a class attribute (one list shared by every optimiser made), a variance over the whole batch, the
    # samples in reverse order, a temperature clamped at 1
    ("ch06.momentum", '''class Momentum:
    velocities = []

    def __init__(self, lr=0.01, beta=0.9):
        self.lr, self.beta = lr, beta

    def step(self, params, grads):
        if not self.velocities:
            self.velocities.extend(np.zeros_like(p) for p in params)
        for p, g, v in zip(params, grads, self.velocities):
            v *= self.beta
            v -= self.lr * g
            p += v
''', "Momentum", ("class", "shared", "instance", "self.velocities", "previous", "kept")),
    ("ch10.layer_norm", edit("10", "layer-norm", "var = x.var(axis=-1, keepdims=True)", "var = x.var()"), "layer_norm", ("axis", "whole", "every")),
    ("ch03.perceptron_train", edit("03", "perceptron-train", "for xi, target in zip(X, y):", "for xi, target in zip(X[::-1], y[::-1]):"),
     "perceptron_train", ("order", "reverse")),
    ("ch09.temperature_softmax", edit("09", "temperature-softmax", "z = logits / temperature", "z = logits / max(temperature, 1)"),
     "temperature_softmax", ("temperature", "below 1", "max")),
]
RIGHT += [
    ("ch00.predict", "def predict(w, b, x):\n    return np.add(np.multiply(x, w), b)\n", "predict", ()),
    ("ch00.mse_loss", "def mse_loss(y_pred, y):\n    d = np.ravel(y_pred - y)\n    return float(d @ d) / len(d)\n", "mse_loss", ()),
    ("ch00.gradients", "def gradients(w, b, x, y):\n    e = w * x + b - y\n    return (2 * (e * x).sum() / x.size, 2 * e.sum() / x.size)\n", "gradients", ()),
    ("ch00.train", '''def train(x, y, lr, steps):
    w = b = 0.0
    losses = []
    step = 0
    while step < steps:
        err = w * x + b - y
        losses.append(float((err ** 2).mean()))
        w, b = w - lr * 2 * (err * x).mean(), b - lr * 2 * err.mean()
        step += 1
    return w, b, losses
''', "train", ()),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[:, 14:28, 14:28]\n", "crop_bottom_right", ()),
    ("ch01.crop_bottom_right", "def crop_bottom_right(images):\n    return images[..., 14:, 14:]\n", "crop_bottom_right", ()),
    ("ch01.prepare_images", "def prepare_images(images):\n    return images.reshape(images.shape[0], -1).astype(np.float32) * np.float32(1 / 255)\n", "prepare_images", ()),
    ("ch01.to_categorical", "def to_categorical(labels, num_classes):\n    return (np.asarray(labels)[:, None] == np.arange(num_classes)).astype('float32')\n", "to_categorical", ()),
    ("ch01.ndims", "ndims = [np.ndim(x) for x in (x0, x1, x2, x3)]\n", "ndims", ()),
    ("ch01.data_shapes", "data_shapes = dict(people=(1000, 3), stocks=(250, 390, 3), images=(128, 256, 256, 3), videos=(4, 240, 144, 256, 3))\n", "data_shapes", ()),
    ("ch02.naive_add_matrix_and_vector", '''def naive_add_matrix_and_vector(x, y):
    z = x.copy()
    for row in z:
        for j in range(len(row)):
            row[j] = row[j] + y[j]
    return z
''', "naive_add_matrix_and_vector", ()),
    ("ch02.naive_matrix_vector_dot", "def naive_matrix_vector_dot(x, y):\n    return np.array([naive_vector_dot(row, y) for row in x])\n", "naive_matrix_vector_dot", ()),
    ("ch02.naive_matrix_dot", '''def naive_matrix_dot(x, y):
    z = np.zeros((x.shape[0], y.shape[1]))
    for i in range(x.shape[0]):
        for j in range(y.shape[1]):
            z[i, j] = naive_vector_dot(x[i, :], y[:, j])
    return z
''', "naive_matrix_dot", ()),
    ("ch02.naive_transpose", "def naive_transpose(x):\n    return np.array([[x[i, j] for i in range(x.shape[0])] for j in range(x.shape[1])])\n", "naive_transpose", ()),
    ("ch03.perceptron_predict", "def perceptron_predict(X, w, b):\n    return np.where(X.dot(w) >= -b, 1, 0)\n", "perceptron_predict", ()),
    ("ch03.dense", "def dense(a_in, W, b, g):\n    return g(np.einsum('...i,ij->...j', a_in, W) + b)\n", "dense", ()),
    ("ch03.sequential_xor", "def sequential_xor(X, W1, b1, W2, b2):\n    return sigmoid(sigmoid(X @ W1 + b1) @ W2 + b2)\n", "sequential_xor", ()),
    ("ch04.forward", edit("04", "forward", 'Z1 = X @ params["W1"] + params["b1"]', 'Z1 = np.dot(X, params["W1"]) + params["b1"].reshape(1, -1)'), "forward", ()),
    ("ch04.relative_error", "def relative_error(a, b):\n    n = lambda v: np.sqrt(np.sum(np.square(v)))\n    return n(a - b) / (n(a) + n(b))\n", "relative_error", ()),
    ("ch04.numerical_gradient", edit("04", "numerical-gradient", "        old = x[i]\n        x[i] = old + eps\n        f_plus = f(x)\n        x[i] = old - eps\n        f_minus = f(x)\n        x[i] = old\n",
                                     "        x[i] += eps\n        f_plus = f(x)\n        x[i] -= 2 * eps\n        f_minus = f(x)\n        x[i] += eps\n"), "numerical_gradient", ()),
    ("ch05.softmax", '''def softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return np.exp(z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))
''', "softmax", ()),
    ("ch05.softmax_ce_grad", "def softmax_ce_grad(logits, y_true):\n    return (softmax(logits) - y_true) / len(logits)\n", "softmax_ce_grad", ()),
    ("ch05.multilabel_predict", "def multilabel_predict(logits, threshold=0.5):\n    return (logits > np.log(threshold / (1 - threshold))).astype(int)\n", "multilabel_predict", ()),
    ("ch06.sgd", edit("06", "sgd", "        for p, g in zip(params, grads):\n            p -= self.lr * g\n", "        for i, g in enumerate(grads):\n            params[i] -= self.lr * g\n"), "SGD", ()),
    ("ch06.momentum", edit("06", "momentum", "            v *= self.beta\n            v -= self.lr * g\n            p += v\n", "            v *= self.beta\n            v += self.lr * g\n            p -= v\n"), "Momentum", ()),
    ("ch06.momentum", edit("06", "momentum", "            v *= self.beta\n            v -= self.lr * g\n", "            v[:] = self.beta * v - self.lr * g\n"), "Momentum", ()),
    ("ch06.rmsprop", edit("06", "rmsprop", "            s *= self.rho\n            s += (1 - self.rho) * g**2\n", "            s[:] = self.rho * s + (1 - self.rho) * g * g\n"), "RMSprop", ()),
    ("ch06.minibatches", "def minibatches(n, batch_size, rng):\n    return np.array_split(rng.permutation(n), range(batch_size, n, batch_size))\n", "minibatches", ()),
    ("ch06.minibatches", "def minibatches(n, batch_size, rng):\n    order = np.arange(n)\n    rng.shuffle(order)\n    return [order[s:s + batch_size] for s in range(0, n, batch_size)]\n", "minibatches", ()),
    ("ch07.maxpool_forward", '''def maxpool_forward(x, size=2, stride=2):
    windows = np.lib.stride_tricks.sliding_window_view(x, (size, size), axis=(2, 3))
    return windows[:, :, ::stride, ::stride].max(axis=(-2, -1))
''', "maxpool_forward", ()),
    ("ch07.im2col", '''def im2col(x, kh, kw, stride=1, pad=0):
    N, C, H, Wd = x.shape
    Ho = (H + 2 * pad - kh) // stride + 1
    Wo = (Wd + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = np.zeros((C * kh * kw, N * Ho * Wo), dtype=x.dtype)
    col = 0
    for n in range(N):
        for i in range(Ho):
            for j in range(Wo):
                cols[:, col] = xp[n, :, i * stride:i * stride + kh, j * stride:j * stride + kw].ravel()
                col += 1
    return cols
''', "im2col", ()),
    ("ch08.value_ops", edit("08", "value", "return self + (-other)", "return self + other * -1"), "Value", ()),
    ("ch08.topological_order", '''def topological_order(root):
    order, done, stack = [], set(), [root]
    while stack:
        node = stack[-1]
        if id(node) in done:
            stack.pop()
            continue
        pending = [c for c in node._prev if id(c) not in done]
        if pending:
            stack.extend(reversed(pending))
        else:
            done.add(id(node))
            order.append(stack.pop())
    return order
''', "topological_order", ()),
    ("ch09.temperature_softmax", "def temperature_softmax(logits, temperature):\n    e = np.exp((logits - logits.max(axis=-1, keepdims=True)) / temperature)\n    return e / e.sum(axis=-1, keepdims=True)\n", "temperature_softmax", ()),
    ("ch09.inputs_and_targets", '''def inputs_and_targets(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    inputs = np.array([ids[k * seq_len:(k + 1) * seq_len] for k in range(n)])
    targets = np.array([ids[k * seq_len + 1:(k + 1) * seq_len + 1] for k in range(n)])
    return inputs, targets
''', "inputs_and_targets", ()),
    ("ch09.clip_by_norm", '''def clip_by_norm(grads, max_norm):
    norm = np.linalg.norm(np.concatenate([g.ravel() for g in grads]))
    return [g * (max_norm / norm) if norm > max_norm else g.copy() for g in grads]
''', "clip_by_norm", ()),
    ("ch10.softmax_backward", "def softmax_backward(dweights, weights):\n    return weights * dweights - weights * np.einsum('...i,...i->...', dweights, weights)[..., None]\n", "softmax_backward", ()),
    ("ch10.layer_norm", '''def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) * (var + eps) ** -0.5 * gamma + beta
''', "layer_norm", ()),
    ("ch10.sinusoidal_positions", '''def sinusoidal_positions(T, d):
    angles = np.outer(np.arange(T), np.power(10000.0, -np.arange(0, d, 2) / d))
    return np.stack([np.sin(angles), np.cos(angles)], axis=-1).reshape(T, d)
''', "sinusoidal_positions", ()),
]
