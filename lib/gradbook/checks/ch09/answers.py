"""Chapter 9, sequences: text as tensors, a recurrent cell, backpropagation through time, clipping, an
LSTM cell, a character-level language model's data and its sampling temperature.

Conventions (Keras's, the library's `SimpleRNN`/`LSTM`, and PyTorch's): sequences are batch-major,
``x`` of shape ``(batch, time, features)``; a cell computes ``h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b)``
with ``Wx`` ``(features, units)`` and ``Wh`` ``(units, units)``. An LSTM's four gates are the columns of
``x_t @ Wx + h_{t-1} @ Wh + b`` in Keras's (and torch's) order ``[i, f, g, o]``, each ``units`` wide.
"""

from __future__ import annotations

import itertools

import numpy as np

from gradbook.checks.core import FLOAT32_ROUNDING, Exercise, Mistake, compare_values, named
from gradbook.checks.diagnose import row_factors
from gradbook.checks.drivers import Case, quiet
from gradbook.checks.meaning import Axis, Output
from gradbook.checks.plain import Plain
from gradbook.i18n import N_, _

LINE = "First Citizen:\nBefore we proceed any further, hear me speak.\nAll:\nSpeak, speak."
# Float32 arithmetic is a fair way to compute these (chapter 8's frameworks default to it): its rounding must pass on
# every seed, or a float32 answer would pass on the visible seed and fail on some hidden ones. Measured over 61 seeds
# it stays under 2.4e-6 of each output's largest value (BPTT's dh0: 2.33e-6; the states 1.1e-6, the LSTM's 4.8e-7)
# while those values run from 0.02 to 55, so the allowance scales with each array (`core.FLOAT32_ROUNDING`, 2e-5);
# every listed mistake departs by 0.24 of its output's largest value or more.


def _kind_problem(expected: Plain, got: Plain) -> str | None:
    """Right values of the wrong kind of number: whole numbers where floats are asked for, or the reverse."""
    if not isinstance(expected, np.ndarray) or not isinstance(got, np.ndarray):
        return None
    if expected.dtype.kind == "f" and got.dtype.kind != "f":
        return _("the values are right, but they are {dtype}: floats are expected.").format(dtype=got.dtype)
    if expected.dtype.kind in "iu" and got.dtype.kind not in "iu":
        return _("the values are right, but they are {dtype}: whole numbers (an integer dtype) are expected.").format(
            dtype=got.dtype)
    return None


def _compare_floats(expected: Plain, got: Plain, case: Case) -> str | None:
    """The values within tolerance, and floats as the exercise asks (float32 or float64)."""
    return compare_values(expected, got) or _kind_problem(expected, got)


def _compare_ids(expected: Plain, got: Plain, case: Case) -> str | None:
    """The values, and token ids that can index a table: integers, in `inputs` and in `targets`."""
    problem = compare_values(expected, got)
    if problem is not None:
        return problem
    kinds = [(name, _kind_problem(e, g)) for name, e, g in zip(("inputs", "targets"), expected, got)]
    return next((named(name, kind) for name, kind in kinds if kind), None)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# --------------------------------------------------------------------------- text as tensors


def _one_hot_columns(text: str, order: str) -> np.ndarray:
    index = {ch: i for i, ch in enumerate(order)}
    out = np.zeros((len(text), len(order)))
    out[np.arange(len(text)), [index[ch] for ch in text]] = 1.0
    return out


def _one_hot_text(text: str, vocab: str) -> np.ndarray:
    return _one_hot_columns(text, vocab)


def _one_hot_vocab_of_text(text: str, vocab: str) -> np.ndarray:
    return _one_hot_columns(text, "".join(sorted(set(text))))


def _one_hot_first_seen(text: str, vocab: str) -> np.ndarray:
    return _one_hot_columns(text, "".join(dict.fromkeys(text)))


def _one_hot_stacked_rows(text: str, vocab: str) -> np.ndarray:
    return np.array([np.eye(len(vocab))[vocab.index(ch)] for ch in text])  # no rows: shape (0,)


def _one_hot_ints(text: str, vocab: str) -> np.ndarray:
    return _one_hot_text(text, vocab).astype(int)


def _one_hot_sorted_vocab(text: str, vocab: str) -> np.ndarray:
    return _one_hot_columns(text, "".join(sorted(vocab)))


def _one_hot_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    vocab = "".join(sorted(set(LINE)))
    # A vocabulary of other characters, early: an index built once (a dict kept from the first call) is found out.
    cases = [Case(("hear me", vocab)), Case(("dab", "bad")), Case(("speak, speak", vocab)),
             Case(("", vocab), label=N_("an empty text")),
             # A vocabulary in its own order, not sorted: column k is vocab[k], whatever the order.
             Case(("All: speak", "".join(dict.fromkeys(LINE))))]
    start = int(rng.integers(0, len(LINE) - 20))
    cases.append(Case((LINE[start : start + 20], vocab)))
    if hidden:
        cases += [Case(("".join(rng.choice(list(vocab), 50)), vocab)), Case((LINE, vocab)),
                  Case((LINE[::-1], "".join(rng.permutation(list(vocab)))))]
    return cases


def _embedding_backward(ids: np.ndarray, dout: np.ndarray, vocab_size: int) -> np.ndarray:
    dE = np.zeros((vocab_size, dout.shape[-1]))
    np.add.at(dE, ids, dout)
    return dE


def _embedding_backward_fancy(ids: np.ndarray, dout: np.ndarray, vocab_size: int) -> np.ndarray:
    dE = np.zeros((vocab_size, dout.shape[-1]))
    dE[ids] += dout
    return dE


def _embedding_backward_rows_from_ids(ids: np.ndarray, dout: np.ndarray, vocab_size: int) -> np.ndarray:
    return _embedding_backward(ids, dout, int(ids.max()) + 1)


def _embedding_backward_row_by_row(ids: np.ndarray, dout: np.ndarray, vocab_size: int) -> np.ndarray:
    dE = np.zeros((vocab_size, dout.shape[-1]))
    for b in range(len(ids)):
        dE[ids[b]] += dout[b]
    return dE


def _embedding_backward_mean(ids: np.ndarray, dout: np.ndarray, vocab_size: int) -> np.ndarray:
    counts = np.bincount(ids.ravel(), minlength=vocab_size)
    return _embedding_backward(ids, dout, vocab_size) / np.maximum(counts, 1)[:, None]


def _embedding_backward_over_batch(ids: np.ndarray, dout: np.ndarray, vocab_size: int) -> np.ndarray:
    return _embedding_backward(ids, dout, vocab_size) / len(ids)


def _embedding_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((np.array([[1, 3, 1]]), np.arange(6.0).reshape(1, 3, 2), 6)),
             # Two sequences sharing tokens, one repeating a token: a loop over the batch with dE[ids[b]] += dout[b]
             # still loses the repeat within a row.
             Case((np.array([[2, 0, 2, 4], [0, 4, 1, 0]]), rng.normal(size=(2, 4, 3)), 7))]
    for batch, steps, width, vocab in [(2, 5, 3, 7)] + ([(4, 9, 5, 12), (3, 20, 4, 30)] if hidden else []):
        ids = rng.integers(0, vocab - 2, (batch, steps))  # the last ids unused: the table still has their rows
        cases.append(Case((ids, rng.normal(size=(batch, steps, width)), vocab)))
    return cases


# --------------------------------------------------------------------------- a recurrent cell


def _rnn_forward(x: np.ndarray, h0: np.ndarray, Wx: np.ndarray, Wh: np.ndarray, b: np.ndarray) -> np.ndarray:
    return _rnn(x, h0, Wx, Wh, b)


def _rnn(x, h0, Wx, Wh, b, *, activation=np.tanh, steps=None, bias_inside: bool = True):
    """The forward pass over `steps` (default: every time step, in order), and (through its switches) the ways it
    goes wrong."""
    h = h0
    hs = []
    for t in range(x.shape[1]) if steps is None else steps(x.shape[1]):
        h = activation(x[:, t] @ Wx + h @ Wh + b) if bias_inside else activation(x[:, t] @ Wx + h @ Wh) + b
        hs.append(h)
    return np.stack(hs, axis=1)


def _rnn_state_not_carried(x, h0, Wx, Wh, b):
    return np.stack([np.tanh(x[:, t] @ Wx + h0 @ Wh + b) for t in range(x.shape[1])], axis=1)


def _rnn_no_tanh(x, h0, Wx, Wh, b):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = x[:, t] @ Wx + h @ Wh + b
        hs.append(h)
    return np.stack(hs, axis=1)


def _rnn_wh_transposed(x, h0, Wx, Wh, b):
    return _rnn_forward(x, h0, Wx, Wh.T, b)


def _rnn_state_before_step(x, h0, Wx, Wh, b):
    hs = _rnn_forward(x, h0, Wx, Wh, b)
    return np.concatenate([h0[:, None], hs[:, :-1]], axis=1)


def _rnn_reset_every_step(x, h0, Wx, Wh, b):
    return np.tanh(x @ Wx + b)  # h = np.zeros(...) inside the loop: no step sees the state before it


def _rnn_from_zeros(x, h0, Wx, Wh, b):
    return _rnn_forward(x, np.zeros_like(h0), Wx, Wh, b)


def _rnn_with_h0(x, h0, Wx, Wh, b):
    return np.concatenate([h0[:, None], _rnn_forward(x, h0, Wx, Wh, b)], axis=1)


def _rnn_pre_activations(x, h0, Wx, Wh, b):
    hs = _rnn_forward(x, h0, Wx, Wh, b)
    before = np.concatenate([h0[:, None], hs[:, :-1]], axis=1)
    return x @ Wx + before @ Wh + b  # a_t, stored where tanh(a_t) belongs


def _rnn_time_major(x, h0, Wx, Wh, b):
    return np.transpose(_rnn_forward(x, h0, Wx, Wh, b), (1, 0, 2))  # np.array(hs) of the list of steps


def _rnn_buffer_like_x(x, h0, Wx, Wh, b):
    hs = np.zeros_like(x)  # the mistake: x's shape, (batch, time, features), where the states have units
    h = h0
    for t in range(x.shape[1]):
        h = np.tanh(x[:, t] @ Wx + h @ Wh + b)
        hs[:, t] = h
    return hs


def _rnn_step_of_batch(x, h0, Wx, Wh, b):
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = np.tanh(x[t] @ Wx + h @ Wh + b)  # the mistake: x[t] is sample t, not time step t
        hs.append(h)
    return np.stack(hs, axis=1)


def _rnn_shapes(hidden: bool) -> list[tuple[int, int, int, int]]:
    # (batch, time, features, units): non-square Wx, several steps; a batch of one among the visible cases too
    shapes = [(2, 4, 3, 5), (3, 6, 2, 4), (1, 3, 2, 3)]
    return shapes + ([(4, 10, 5, 6), (1, 15, 3, 3), (5, 3, 6, 8)] if hidden else [])


def _weights(rng: np.random.Generator, features: int, units: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # Small enough that tanh is not saturated, so every step's state matters to the result.
    return (rng.normal(0, 0.6, (features, units)), rng.normal(0, 0.6, (units, units)), rng.normal(0, 0.3, units))


def _rnn_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for batch, steps, features, units in _rnn_shapes(hidden):
        x, h0 = rng.normal(size=(batch, steps, features)), rng.normal(0, 0.5, (batch, units))
        cases.append(Case((x, h0, *_weights(rng, features, units)),
                          label=N_("x {x}, h0 {h0}, Wx {Wx}, Wh {Wh}, b ({units},)"),
                          label_values={"x": x.shape, "h0": h0.shape, "Wx": (features, units), "Wh": (units, units),
                                        "units": units}))
    return cases


# --------------------------------------------------------------------------- backpropagation through time


def _bptt(dhs, x, h0, hs, Wx, Wh, *, carry: str = "before tanh", derivative: str = "right", accumulate: bool = True,
          wh_back: str = "T", state: str = "previous", backwards: bool = True, first_previous: str = "h0",
          outputs: str = "every step", through: str = "da", dh0: str = "dh_next", db_axis: int = 0):
    """Backpropagation through time, and (through its switches) the ways it goes wrong."""
    batch, steps, _ = x.shape
    dx = np.zeros_like(x, dtype=float)
    dWx, dWh, db = np.zeros(Wx.shape), np.zeros(Wh.shape), np.zeros(Wh.shape[0])
    dh_next = np.zeros_like(h0, dtype=float)
    for t in reversed(range(steps)) if backwards else range(steps):
        h = hs[:, t]
        h_prev = hs[:, t - 1] if t > 0 or first_previous == "hs[:, -1]" else (
            np.zeros_like(h0) if first_previous == "zeros" else h0)
        from_above = dhs[:, t] if outputs == "every step" or t == steps - 1 else 0.0
        dh = from_above + dh_next if carry == "before tanh" else from_above
        pre = x[:, t] @ Wx + h_prev @ Wh  # the pre-activation less b (not given): only a mistake uses it
        da = dh * {"right": 1 - h**2, "tanh again": 1 - np.tanh(h) ** 2, "no square": 1 - h, "square of 1 - h": (1 - h) ** 2,
                   "previous state": 1 - h_prev**2, "pre-activation": 1 - pre**2}[derivative]
        da = da + dh_next if carry == "after tanh" else da
        dx[:, t] = (dh if through == "dh to x" else da) @ Wx.T
        used = h_prev if state == "previous" else h
        if accumulate:
            dWx += x[:, t].T @ da
            dWh += used.T @ da
            db += da.sum(axis=db_axis)
        else:
            dWx, dWh, db = x[:, t].T @ da, used.T @ da, da.sum(axis=0)
        dh_next = (dh if through == "dh" else da) @ (Wh.T if wh_back == "T" else Wh)
    return dx, dh_next if dh0 == "dh_next" else da, dWx, dWh, db


def _rnn_backward(dhs, x, h0, hs, Wx, Wh):
    return _bptt(dhs, x, h0, hs, Wx, Wh)


def _rnn_cases_backward(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    for batch, steps, features, units in _rnn_shapes(hidden):
        x, h0 = rng.normal(size=(batch, steps, features)), rng.normal(0, 0.5, (batch, units))
        Wx, Wh, b = _weights(rng, features, units)
        hs = _rnn_forward(x, h0, Wx, Wh, b)
        dhs = rng.normal(size=hs.shape)
        cases.append(Case((dhs, x, h0, hs, Wx, Wh), label=N_("dhs {dhs}, x {x}, h0 {h0}, Wx {Wx}, Wh {Wh}"),
                          label_values={"dhs": dhs.shape, "x": x.shape, "h0": h0.shape, "Wx": Wx.shape,
                                        "Wh": Wh.shape}))
    return cases


# --------------------------------------------------------------------------- clipping


def _global_norm(grads) -> float:
    return float(np.sqrt(sum(np.sum(np.square(g)) for g in grads)))


def _clip_by_norm(grads, max_norm):
    norm = _global_norm(grads)
    scale = max_norm / norm if norm > max_norm else 1.0
    return [g * scale for g in grads]


def _clip_per_element(grads, max_norm):
    return [np.clip(g, -max_norm, max_norm) for g in grads]


def _clip_each_array(grads, max_norm):
    return [g * min(1.0, max_norm / max(float(np.linalg.norm(g)), 1e-300)) for g in grads]


def _clip_always(grads, max_norm):
    return [g * max_norm / _global_norm(grads) for g in grads]


def _clip_squared_norm(grads, max_norm):
    return _clip_with(grads, max_norm, sum(float(np.sum(np.square(g))) for g in grads))


def _clip_sum_of_norms(grads, max_norm):
    return _clip_with(grads, max_norm, sum(float(np.linalg.norm(g)) for g in grads))


def _clip_scale_inverted(grads, max_norm):
    norm = _global_norm(grads)
    return [g * (norm / max_norm if norm > max_norm else 1.0) for g in grads]


def _clip_to_unit(grads, max_norm):
    norm = _global_norm(grads)
    return [g / norm if norm > max_norm else g for g in grads]


def _clip_with(grads, max_norm, norm):
    """Right, but for the `norm` it is given."""
    return [g * (max_norm / norm if norm > max_norm else 1.0) for g in grads]


def _clip_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    """The values, and where every gradient was scaled by one factor (the direction kept, as clipping should) but not
    by max_norm / the global norm, the norm that factor implies beside the global one: whatever formula the norm was
    computed with, the student sees what it gave."""
    problem = compare_values(expected, got, scale_tol=FLOAT32_ROUNDING)
    grads, max_norm = case.args
    if problem is None or not isinstance(got, (list, tuple)) or len(got) != len(grads):
        return problem
    pairs = [(np.asarray(g, dtype=float).ravel(), np.asarray(o, dtype=float).ravel()) for g, o in zip(grads, got)
             if isinstance(o, np.ndarray) and np.shape(o) == np.shape(g)]
    if len(pairs) != len(grads) or not all(np.isfinite(o).all() for _g, o in pairs):
        return problem
    given, out = np.concatenate([g for g, _o in pairs]), np.concatenate([o for _g, o in pairs])
    factor = float(given @ out / (given @ given))
    norm = float(np.sqrt(given @ given))
    each = [float(g @ o / (g @ g)) if g @ g else 1.0 for g, o in pairs]
    if all(np.allclose(o, k * g, rtol=1e-6, atol=1e-12) for k, (g, o) in zip(each, pairs)) and not np.allclose(
            each, each[0], rtol=1e-6):
        return problem + "\n" + _("each gradient is multiplied by a factor of its own ({factors}): clipping by the "
                                  "global norm multiplies every one of them by the same max_norm / norm, so that "
                                  "the update keeps its direction.").format(
            factors=", ".join(f"{k:.4g}" for k in each[:4]) + (", ..." if len(each) > 4 else ""))
    if not 0 < factor < 1 or not np.allclose(out, factor * given, rtol=1e-6, atol=1e-12):
        return problem
    return problem + "\n" + _("every gradient is multiplied by the same factor, {factor}, as clipping does, but that "
                              "factor is max_norm / {implied}, and the global norm of these gradients is {norm}: the "
                              "square root of the sum of the squares of every entry of every gradient. Check how the "
                              "norm is computed.").format(factor=f"{factor:.6g}", implied=f"{max_norm / factor:.6g}",
                                                          norm=f"{norm:.6g}")


def _clip_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [
        Case(([np.array([3.0, 4.0]), np.array([[0.0, 12.0]])], 6.5)),  # norm 13: halved
        Case(([np.array([0.3, -0.4]), np.array([0.5])], 5.0)),  # norm below the limit: unchanged
        # A 3-D gradient (a convolution's): np.linalg.norm(g, "fro") or a matrix norm does not apply to it.
        Case(([rng.normal(0, 5, (3, 4)), rng.normal(0, 0.1, 4), rng.normal(0, 2, (2, 2, 3))], 1.0)),
    ]
    if hidden:
        cases += [Case(([rng.normal(0, 10, (6, 6)), rng.normal(0, 10, 6)], 3.0)),
                  Case(([rng.normal(0, 0.01, (5, 5))], 1.0)),
                  Case(([rng.normal(0, 1, (2, 3, 4)), rng.normal(0, 100, 3)], 0.5))]
    return cases


# --------------------------------------------------------------------------- an LSTM cell


def _lstm(x, h_prev, c_prev, Wx, Wh, b, *, gate=_sigmoid, candidate=np.tanh, order="ifgo", squash_c: bool = True,
          input_gate: bool = True, forget: str = "old", interleaved: bool = False, new_cell=lambda c: c,
          h_from: str = "c", shown_through=np.tanh, biases: int = 1, split_axis: int = -1, kept=None):
    """One LSTM step, and (through its switches) the ways it goes wrong."""
    z = x @ Wx + h_prev @ Wh + biases * b
    blocks = list(np.moveaxis(z.reshape(len(z), -1, 4), -1, 0)) if interleaved else np.split(z, 4, axis=split_axis)
    parts = dict(zip(order, blocks))
    i, f, g, o = gate(parts["i"]), gate(parts["f"]), candidate(parts["g"]), gate(parts["o"])
    new = i * g if input_gate else g
    old = c_prev if kept is None else kept(h_prev, c_prev)
    c = new_cell({"old": f * old + new, "none": old + new, "new": old + f * new}[forget])
    shown = c if h_from == "c" else c_prev
    h = o * (shown_through(shown) if squash_c else shown)
    return h, c


GATE_ORDER = N_("the gates are in the wrong order: the columns of x @ Wx + h_prev @ Wh + b are [i, f, g, o], each "
                "units wide (Keras's and PyTorch's order).")
# Every other order of the four slices is the same mistake (whichever two or more a student swapped).
_OTHER_GATE_ORDERS = ["".join(p) for p in itertools.permutations("ifgo") if "".join(p) != "ifgo"]


def _lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    return _lstm(x, h_prev, c_prev, Wx, Wh, b)


def _lstm_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = []
    # A batch of one among the visible cases too: an answer that squeezes the batch axis away fails there.
    for batch, features, units in [(2, 3, 4), (3, 5, 2), (1, 2, 3)] + ([(6, 4, 7), (4, 8, 5)] if hidden else []):
        x, h, c = rng.normal(size=(batch, features)), rng.normal(0, 0.5, (batch, units)), rng.normal(size=(batch, units))
        Wx, Wh, b = rng.normal(0, 0.7, (features, 4 * units)), rng.normal(0, 0.7, (units, 4 * units)), \
            rng.normal(0, 0.5, 4 * units)
        cases.append(Case((x, h, c, Wx, Wh, b), label=N_("x {x}, h_prev {h}, c_prev {h}, Wx {Wx}, Wh {Wh}, b ({gates},)"),
                          label_values={"x": x.shape, "h": h.shape, "Wx": Wx.shape, "Wh": Wh.shape,
                                        "gates": 4 * units}))
    return cases


# --------------------------------------------------------------------------- a language model's data


def _inputs_and_targets(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    n = (len(ids) - 1) // seq_len
    return ids[: n * seq_len].reshape(n, seq_len), ids[1 : n * seq_len + 1].reshape(n, seq_len)


def _targets_not_shifted(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    return ids[: n * seq_len].reshape(n, seq_len), ids[: n * seq_len].reshape(n, seq_len)


def _targets_shifted_back(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    return ids[1 : n * seq_len + 1].reshape(n, seq_len), ids[: n * seq_len].reshape(n, seq_len)


def _windows_overlap(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    return (np.stack([ids[i : i + seq_len] for i in range(n)]), np.stack([ids[i + 1 : i + seq_len + 1] for i in range(n)]))


def _targets_float(ids, seq_len):
    inputs, targets = _inputs_and_targets(ids, seq_len)
    return inputs.astype(float), targets.astype(float)  # np.zeros((n, seq_len)) filled row by row


def _targets_wrap_around(ids, seq_len):
    n = len(ids) // seq_len
    return ids[: n * seq_len].reshape(n, seq_len), np.roll(ids, -1)[: n * seq_len].reshape(n, seq_len)


def _pieces_of_seq_len_plus_one(ids, seq_len):
    n = len(ids) // (seq_len + 1)
    pieces = ids[: n * (seq_len + 1)].reshape(n, seq_len + 1)
    return pieces[:, :-1], pieces[:, 1:]


def _targets_rolled_within_rows(ids, seq_len):
    inputs = _inputs_and_targets(ids, seq_len)[0]
    return inputs, np.roll(inputs, -1, axis=1)


def _targets_piece_short(ids, seq_len):
    n = len(ids) // seq_len - 1  # a whole piece given up for the one id the last target needs
    return ids[: n * seq_len].reshape(n, seq_len), ids[1 : n * seq_len + 1].reshape(n, seq_len)


def _targets_count_without_the_next(ids, seq_len):
    n = len(ids) // seq_len  # where seq_len divides len(ids), the last target would be the id after the text
    return ids[: n * seq_len].reshape(n, seq_len), ids[1 : n * seq_len + 1].reshape(n, seq_len)


def _targets_next_piece(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    return ids[: n * seq_len].reshape(n, seq_len), ids[seq_len : (n + 1) * seq_len].reshape(n, seq_len)


def _targets_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((np.arange(10), 3)), Case((rng.integers(0, 60, 25), 4)), Case((rng.integers(0, 60, 33), 8)),
             Case((rng.integers(0, 60, 24), 6))]  # a length that seq_len divides: the last id has no target
    if hidden:
        cases += [Case((rng.integers(0, 60, 101), 10)), Case((rng.integers(0, 60, 100), 10)),
                  Case((rng.integers(0, 60, 7), 6))]
    return cases


# --------------------------------------------------------------------------- sampling temperature


def _temperature_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    z = logits / temperature
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_plain(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_over(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _softmax_whole_array(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _softmax_one_shift(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())  # one maximum for every row: a row far below it underflows to 0 / 0
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_mean_shift(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.mean(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_plain_shifted_by(z: np.ndarray, shift: np.ndarray) -> np.ndarray:
    e = np.exp(z - shift.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _temperature_compare(expected: Plain, got: Plain, case: Case) -> str | None:
    """The values, and rows in the right proportions that do not sum to 1, however the temperature got there (p / T,
    p ** (1 / T) not normalised again): what each row sums to."""
    problem = compare_values(expected, got, scale_tol=FLOAT32_ROUNDING)
    factors = row_factors(expected, got) if problem else None
    if factors is None:
        return problem
    sums = np.asarray(got, dtype=float).sum(axis=-1).ravel()
    return problem + "\n" + _("your rows are the right distributions times a number each, so they sum to {sums} "
                              "instead of 1: whatever the temperature does must happen before the normalisation, "
                              "softmax(logits / T).").format(sums=", ".join(f"{v:.4g}" for v in sums[:4])
                                                            + (", ..." if sums.size > 4 else ""))


def _temperature_cases(rng: np.random.Generator, hidden: bool) -> list[Case]:
    cases = [Case((np.array([2.0, 1.0, 0.1]), 0.5)), Case((rng.normal(0, 2, (3, 5)), 2.0)),
             # Row 0's maximum / T is 820 above its mean: only the maximum keeps exp from overflowing. Row 1's
             # logits / T are 960 below row 2's: shifted by one maximum for all rows, it underflows. Row 2 overflows
             # unshifted, and any shift inside its values saves it.
             Case((np.array([[40.0, 37.0, -80.0], [0.0, 1.0, 2.0], [50.0, 49.0, 48.0]]), 0.05),
                  label=N_("large logits / small temperature")),
             Case((rng.normal(0, 1, (2, 6)), 1.0)),
             Case((rng.normal(0, 3, (2, 3, 5)), 1.5))]  # (batch, time, vocabulary), as the model gives them
    if hidden:
        cases += [Case((rng.normal(0, 5, (4, 62)), 0.2)), Case((rng.normal(0, 3, (2, 3, 8)), 1.5)),
                  Case((np.array([500.0, 499.0, 0.0]), 1.0))]
    return cases


# --------------------------------------------------------------------------- exercises

SEQUENCES = (Axis("samples"), Axis("time"), Axis("units"))
STEP = (Axis("samples"), Axis("units"))

one_hot_text = Exercise(
    "ch09.one_hot_text",
    title="one_hot_text",
    outputs=Output(axes=(Axis("index"), Axis("classes"))),
    reference=_one_hot_text,
    cases=_one_hot_cases,
    compare=_compare_floats,
    mistakes=[
        Mistake(_one_hot_vocab_of_text, N_("one column per character of the VOCABULARY, not of this text: a piece of "
                "text lacks some characters, and column k must mean vocab[k] for every piece. Look each character up "
                "in vocab.")),
        Mistake(_one_hot_first_seen, N_("the columns follow the order in which characters first appear in the text; "
                "column k must be vocab[k], in the order vocab gives, so look each character up in vocab.")),
        Mistake(_one_hot_stacked_rows, N_("an empty text must give an empty matrix of shape (0, len(vocab)), and "
                "np.array of an empty list of rows has shape (0,). Start from np.zeros((len(text), len(vocab))) and "
                "set one 1 per row.")),
        Mistake(_one_hot_ints, N_("the one-hot rows are whole numbers: they are a network's input, which weights "
                "multiply and gradients flow into, so the exercise asks for floats. np.zeros(...) is float by default; "
                "do not pass dtype=int.")),
        Mistake(_one_hot_sorted_vocab, N_("the columns follow the sorted characters, not vocab: column k is vocab[k], "
                "in the order vocab gives (here it is not sorted). Look each character up in vocab itself "
                "(vocab.index(ch)); do not sort it or make a set of it.")),
    ],
)

embedding_backward = Exercise(
    "ch09.embedding_backward",
    title="embedding_backward",
    outputs=Output("dE", (Axis("rows"), Axis("features"))),
    reference=_embedding_backward,
    cases=_embedding_cases,
    scale_tol=FLOAT32_ROUNDING,
    mistakes=[
        Mistake(_embedding_backward_fancy, N_("a token that occurs several times got the gradient of one occurrence "
                "only: dE[ids] += dout writes each row once, even when ids repeats it (and so does dE[k] = dout[b, t] "
                "in a loop). Use np.add.at(dE, ids, dout), which adds every occurrence, or += in a loop over every "
                "(b, t).")),
        Mistake(_embedding_backward_rows_from_ids, N_("dE must have one row per token of the vocabulary, "
                "(vocab_size, width), like E, even for tokens that this batch does not use (their rows are 0).")),
        Mistake(_embedding_backward_row_by_row, N_("a token repeated within one sequence got the gradient of one of "
                "its occurrences only: a loop over the batch with dE[ids[b]] += dout[b] still writes each row once "
                "per sequence. Use np.add.at(dE, ids, dout), or loop over every (b, t).")),
        Mistake(_embedding_backward_mean, N_("dE[k] is the SUM of dout over every position where token k occurs, not "
                "their mean: each occurrence adds its own term to the loss.")),
        Mistake(_embedding_backward_over_batch, N_("do not divide by the batch size: dout is already the gradient of "
                "the loss (any mean over the batch is in it), and dE[k] is the sum of dout over token k's "
                "positions.")),
    ],
)

rnn_forward = Exercise(
    "ch09.rnn_forward",
    title="rnn_forward",
    outputs=Output("hs", SEQUENCES),
    reference=_rnn_forward,
    cases=_rnn_cases,
    scale_tol=FLOAT32_ROUNDING,
    mistakes=[
        Mistake(_rnn_state_not_carried, N_("every step starts from h0: the state is not carried. Step t uses the "
                "state of step t - 1: set h = np.tanh(x[:, t] @ Wx + h @ Wh + b) and use that h in the next step.")),
        Mistake(_rnn_no_tanh, N_("the tanh is missing: h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b).")),
        Mistake(_rnn_wh_transposed, N_("Wh is used transposed: with states as rows, the recurrent term is h @ Wh "
                "(Wh has shape (units, units), so Wh.T fits too, but it is a different matrix).")),
        Mistake(_rnn_state_before_step, N_("hs[:, t] must be the state AFTER step t (h_t, computed from x_t), not "
                "the state before it: store h after you update it, and do not include h0.")),
        Mistake(_rnn_reset_every_step, N_("the state is set back to zeros at every step, so no step sees the one "
                "before it: set h = h0 once, before the loop, and let each step's h feed the next.")),
        Mistake(_rnn_from_zeros, N_("the first step must start from h0, the state given, not from zeros: set "
                "h = h0 before the loop (a model that carries its state from one batch to the next passes a "
                "non-zero h0).")),
        Mistake(lambda *a: _rnn(*a, activation=_sigmoid), N_("the activation of a simple recurrent cell is tanh, "
                "not the sigmoid: h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b), states between -1 and 1.")),
        Mistake(lambda *a: _rnn(*a, bias_inside=False), N_("b goes inside the tanh: "
                "h_t = tanh(x_t @ Wx + h_{t-1} @ Wh + b), not tanh(...) + b.")),
        Mistake(_rnn_with_h0, N_("hs holds the states AFTER each step, h_1 ... h_T: time steps of them, not "
                "time + 1. Do not include h0.")),
        Mistake(lambda *a: _rnn(*a, steps=lambda n: range(1, n)), N_("the first time step is missing: the loop "
                "must run over every step, for t in range(x.shape[1]) (t = 0 is the first).")),
        Mistake(lambda *a: _rnn(*a, steps=lambda n: reversed(range(n))), N_("the loop runs backwards in time: the "
                "forward pass reads x[:, 0] first (for t in range(x.shape[1])), and hs[:, t] is the state after "
                "x[:, t].")),
        Mistake(_rnn_pre_activations, N_("hs holds the states h_t = tanh(a_t), not the pre-activations "
                "a_t = x_t @ Wx + h_{t-1} @ Wh + b: append h after the tanh.")),
        Mistake(_rnn_time_major, N_("np.array(hs) (or np.stack(hs)) puts the time steps first, (time, batch, "
                "units); the sequences are batch-major: np.stack(hs, axis=1).")),
        Mistake(_rnn_buffer_like_x, N_("hs = np.zeros_like(x) has x's shape, (batch, time, features); the states "
                "have units, not features: np.zeros((batch, time, units)), units = Wh.shape[0] (or stack a list).")),
        Mistake(_rnn_step_of_batch, N_("x[t] is sample t of the batch (x is (batch, time, features)): time step t of "
                "every sample is x[:, t].")),
    ],
)

rnn_backward = Exercise(
    "ch09.rnn_backward",
    title="rnn_backward",
    outputs=(Output("dx", (Axis("samples"), Axis("time"), Axis("features"))), Output("dh0", STEP),
             Output("dWx"), Output("dWh"), Output("db")),
    reference=_rnn_backward,
    cases=_rnn_cases_backward,
    scale_tol=FLOAT32_ROUNDING,
    mistakes=[
        Mistake(lambda *a: _bptt(*a, carry="none"), N_("you forgot dh_next: the state h_t also fed step t + 1, so its "
                "gradient is dhs[:, t] PLUS what step t + 1 sends back (da_{t+1} @ Wh.T). Start dh_next at 0 and "
                "add it at every step.")),
        Mistake(lambda *a: _bptt(*a, derivative="tanh again"), N_("the tanh derivative is wrong: h is already "
                "tanh(a), so d tanh(a)/da = 1 - h**2; 1 - np.tanh(h)**2 applies tanh twice.")),
        Mistake(lambda *a: _bptt(*a, derivative="no square"), N_("the tanh derivative is 1 - h**2, not 1 - h.")),
        Mistake(lambda *a: _bptt(*a, derivative="square of 1 - h"), N_("the tanh derivative is 1 - h**2, one minus the "
                "square, not (1 - h) ** 2, the square of one minus h.")),
        Mistake(lambda *a: _bptt(*a, derivative="previous state"), N_("the tanh derivative of step t is "
                "1 - h_t**2, with h_t = hs[:, t], the state step t produced; you used the previous state h_{t-1}.")),
        Mistake(lambda *a: _bptt(*a, accumulate=False), N_("dWx, dWh and db hold one step's contribution only: "
                "the same weights are used at every step, so their gradients are SUMS over all steps (+=, not =).")),
        Mistake(lambda *a: _bptt(*a, wh_back="no T"), N_("the gradient to the previous state is da @ Wh.T, not "
                "da @ Wh: the forward pass multiplied h_prev @ Wh.")),
        Mistake(lambda *a: _bptt(*a, state="current"), N_("dWh pairs da_t with the state that went INTO step t, "
                "h_{t-1} (h0 at t = 0): dWh += h_prev.T @ da, not h_t.T @ da.")),
        Mistake(lambda *a: _bptt(*a, first_previous="hs[:, -1]"), N_("at t = 0 the state that went into the step "
                "is h0: hs[:, t - 1] with t = 0 is hs[:, -1], the LAST state (Python's negative index). Use "
                "h_prev = hs[:, t - 1] if t > 0 else h0.")),
        Mistake(lambda *a: _bptt(*a, first_previous="zeros"), N_("at t = 0 the state that went into the step is "
                "h0, the state given, not zeros: dWh += h_prev.T @ da with h_prev = hs[:, t - 1] if t > 0 else h0.")),
        Mistake(lambda *a: _bptt(*a, backwards=False), N_("the loop must walk the time steps backwards, "
                "for t in reversed(range(T)): step t needs dh_next, what step t + 1 sends back, so step t + 1 "
                "comes first.")),
        Mistake(lambda *a: _bptt(*a, outputs="last step"), N_("every step's state went to the layers above, not "
                "only the last one: dh = dhs[:, t] + dh_next at EVERY step t.")),
        Mistake(lambda *a: _bptt(*a, derivative="pre-activation"), N_("1 - h**2 is tanh's derivative written with "
                "its OUTPUT h = tanh(a); 1 - a**2, with the pre-activation a, is not. Use da = dh * (1 - h**2) with "
                "h = hs[:, t].")),
        Mistake(lambda *a: _bptt(*a, carry="after tanh"), N_("dh_next is a gradient with respect to h_t, like "
                "dhs[:, t]: add them BEFORE the tanh's derivative, da = (dhs[:, t] + dh_next) * (1 - h**2).")),
        Mistake(lambda *a: _bptt(*a, through="dh"), N_("the gradient to the previous state goes back through the "
                "tanh: dh_next = da @ Wh.T, with da = dh * (1 - h**2), not dh @ Wh.T.")),
        Mistake(lambda *a: _bptt(*a, through="dh to x"), N_("the gradient to the input goes back through the tanh "
                "too: dx[:, t] = da @ Wx.T, with da = dh * (1 - h**2), not dh @ Wx.T.")),
        Mistake(lambda *a: _bptt(*a, dh0="da"), N_("dh0 is what the first step sends back to h0, da_0 @ Wh.T (the "
                "dh_next left after the loop), not da_0 itself.")),
        Mistake(lambda *a: _bptt(*a, db_axis=1), N_("db sums da over the batch, axis 0 (rows are samples): "
                "db += da.sum(axis=0), one value per unit; axis=1 sums over the units.")),
    ],
)

def _each_gradient(case: Case) -> tuple[Output, ...]:
    """One output per gradient given (a function of the module, by name: the student edition copies it)."""
    return tuple(Output(f"result[{i}]") for i in range(len(case.args[0])))


clip_by_norm = Exercise(
    "ch09.clip_by_norm",
    title="clip_by_norm",
    outputs=_each_gradient,
    reference=_clip_by_norm,
    cases=_clip_cases,
    compare=_clip_compare,
    scale_tol=FLOAT32_ROUNDING,
    mistakes=[
        Mistake(_clip_per_element, N_("you clipped each element to [-max_norm, max_norm]: that changes the "
                "gradient's direction. Clip by the norm: compute the norm of ALL the gradients together and, if it "
                "is above max_norm, multiply every gradient by max_norm / norm.")),
        Mistake(_clip_each_array, N_("each array was clipped by its own norm: that changes the direction of the "
                "whole update. Use one global norm, sqrt of the sum of squares of every element of every gradient, "
                "and one scale for all.")),
        Mistake(_clip_always, N_("gradients whose norm is already below max_norm must stay as they are: scale only "
                "when norm > max_norm (clipping never enlarges a step).")),
        Mistake(_clip_squared_norm, N_("the norm is the SQUARE ROOT of the sum of squares: "
                "np.sqrt(sum(np.sum(g**2) for g in grads)).")),
        Mistake(_clip_sum_of_norms, N_("the global norm is not the sum of the arrays' norms: it is the square root "
                "of the sum of their SQUARED norms, as if every gradient were one long vector.")),
        Mistake(_clip_scale_inverted, N_("the scale is upside down: multiply by max_norm / norm (below 1, so the "
                "norm becomes max_norm), not norm / max_norm.")),
        Mistake(_clip_to_unit, N_("the clipped gradients must have norm max_norm, not 1: multiply by "
                "max_norm / norm, not 1 / norm.")),
    ],
)

lstm_step = Exercise(
    "ch09.lstm_step",
    title="lstm_step",
    outputs=(Output("h", STEP), Output("c", STEP)),
    reference=_lstm_step,
    cases=_lstm_cases,
    scale_tol=FLOAT32_ROUNDING,
    mistakes=[
        Mistake(lambda *a: _lstm(*a, gate=np.tanh, candidate=_sigmoid), N_("the activations are swapped: the gates "
                "i, f and o use the sigmoid (a fraction between 0 and 1 to let through), the candidate g uses tanh "
                "(a value between -1 and 1).")),
        *[Mistake(lambda *a, order=order: _lstm(*a, order=order), GATE_ORDER) for order in _OTHER_GATE_ORDERS],
        Mistake(lambda *a: _lstm(*a, squash_c=False), N_("h = o * tanh(c): the cell state goes through tanh "
                "before the output gate.")),
        Mistake(lambda *a: _lstm(*a, input_gate=False), N_("the input gate is missing: c = f * c_prev + i * g.")),
        Mistake(lambda *a: _lstm(*a, forget="none"), N_("the forget gate is missing: the old memory is kept only as "
                "much as f lets through, c = f * c_prev + i * g.")),
        Mistake(lambda *a: _lstm(*a, forget="new"), N_("the forget gate multiplies the OLD memory c_prev (how much "
                "of it to keep), not the new candidate: c = f * c_prev + i * g.")),
        Mistake(lambda *a: _lstm(*a, h_from="c_prev"), N_("h shows the NEW memory: h = o * tanh(c) with the c of "
                "this step, not c_prev.")),
        Mistake(lambda *a: _lstm(*a, candidate=_sigmoid), N_("the candidate g uses tanh (a value between -1 and 1 "
                "that can lower the memory too); only the gates i, f and o use the sigmoid.")),
        Mistake(lambda *a: _lstm(*a, new_cell=np.tanh), N_("the memory cell is not squashed: c = f * c_prev + i * g "
                "as it is; only h uses tanh(c). Squashing c at every step would undo what lets it carry a value "
                "(and its gradient) far.")),
        Mistake(lambda *a: _lstm(*a, interleaved=True), N_("the four gates are four consecutive blocks of units "
                "columns, [i | f | g | o]: np.split(z, 4, axis=-1) cuts them; a reshape to (batch, units, 4) "
                "interleaves them.")),
        Mistake(lambda *a: _lstm(*a, shown_through=_sigmoid), N_("h = o * tanh(c): the memory goes through tanh "
                "(values between -1 and 1) before the output gate, not through the sigmoid.")),
        Mistake(lambda *a: _lstm(*a, kept=lambda h_prev, c_prev: h_prev), N_("the forget gate multiplies the old "
                "MEMORY c_prev, not the old output h_prev: c = f * c_prev + i * g.")),
        Mistake(lambda *a: _lstm(*a, biases=2), N_("b is added twice: z = x @ Wx + h_prev @ Wh + b, one bias for all "
                "four gates' columns.")),
        Mistake(lambda *a: _lstm(*a, candidate=lambda z: np.tanh(np.tanh(z))), N_("tanh is applied twice to the "
                "candidate: g = tanh(z_g) already, so c = f * c_prev + i * g, without another tanh.")),
        Mistake(lambda *a: _lstm(*a, split_axis=0), N_("np.split(z, 4) cuts axis 0, the batch: the gates are blocks "
                "of columns, np.split(z, 4, axis=-1).")),
    ],
)

inputs_and_targets = Exercise(
    "ch09.inputs_and_targets",
    title="inputs_and_targets",
    outputs=(Output("inputs", (Axis("samples"), Axis("time", loop=False))), Output("targets", (Axis("samples"), Axis("time", loop=False)))),
    reference=_inputs_and_targets,
    cases=_targets_cases,
    compare=_compare_ids,
    mistakes=[
        Mistake(_targets_not_shifted, N_("the targets are the inputs themselves: the model would learn to copy. "
                "The target at each step is the NEXT character: targets = ids shifted by one, ids[1:n*T+1].")),
        Mistake(_targets_shifted_back, N_("inputs and targets are swapped: the target is the character AFTER the "
                "input one, so inputs = ids[:n*T] and targets = ids[1:n*T+1].")),
        Mistake(_windows_overlap, N_("the windows overlap (start i, then i + 1): cut the text into consecutive, "
                "non-overlapping pieces of seq_len characters (start 0, seq_len, 2 * seq_len, ...).")),
        Mistake(_targets_float, N_("the ids became floats: they index the embedding table, E[inputs], and NumPy "
                "indexes with integers only. Slice and reshape ids itself, or give np.zeros dtype=ids.dtype.")),
        Mistake(_targets_wrap_around, N_("the last id of the text has no next id: n = (len(ids) - 1) // seq_len "
                "pieces, not len(ids) // seq_len. np.roll(ids, -1) wraps the first id around as the last target.")),
        Mistake(_targets_rolled_within_rows, N_("the last target of a row is the id that follows the row in the "
                "text, ids[(r + 1) * seq_len], the first of the next row: np.roll within the row wraps the row's own "
                "first id around instead. Slice the targets from ids: ids[1 : n * seq_len + 1].")),
        Mistake(_pieces_of_seq_len_plus_one, N_("the pieces were cut seq_len + 1 long: row r of inputs is "
                "ids[r * seq_len : (r + 1) * seq_len], and its targets the same slice moved by one, so consecutive "
                "rows share their boundary ids.")),
        Mistake(_targets_piece_short, N_("a piece too few: the targets need one id after the inputs, not a whole "
                "piece, so n = (len(ids) - 1) // seq_len, not len(ids) // seq_len - 1.")),
        Mistake(_targets_count_without_the_next, N_("where seq_len divides len(ids), the last piece's last id has no "
                "next id to be its target: n = (len(ids) - 1) // seq_len pieces, not len(ids) // seq_len.")),
        Mistake(_targets_next_piece, N_("the targets are shifted by a whole piece (seq_len): each target is the "
                "NEXT character, the inputs moved by one, ids[1 : n * seq_len + 1].")),
    ],
)

temperature_softmax = Exercise(
    "ch09.temperature_softmax",
    title="temperature_softmax",
    reference=_temperature_softmax,
    cases=_temperature_cases,
    compare=_temperature_compare,
    scale_tol=FLOAT32_ROUNDING,
    mistakes=[
        Mistake(lambda z, t: _softmax_plain(z) / t, N_("the temperature was applied after the softmax: p / T is not "
                "a distribution (it does not sum to 1). Divide the logits first: softmax(logits / T).")),
        Mistake(lambda z, t: _softmax_plain(z * t), N_("logits are DIVIDED by the temperature: a high temperature "
                "flattens the distribution, a low one sharpens it.")),
        Mistake(quiet(lambda z, t: np.exp(z / t) / np.exp(z / t).sum(axis=-1, keepdims=True)),
                N_("exp overflows for large logits / T (a small temperature makes them large): subtract the largest "
                   "one first, z - z.max(axis=-1, keepdims=True), as in chapter 5's softmax.")),
        Mistake(lambda z, t: _softmax_whole_array(z / t), N_("each row (each position's distribution over the "
                "vocabulary) must sum to 1: take the max and the sum over the last axis, axis=-1 with keepdims=True, "
                "not over the whole array.")),
        Mistake(quiet(lambda z, t: _softmax_one_shift(z / t)), N_("shift each row by its OWN maximum, "
                "z.max(axis=-1, keepdims=True): with one maximum for the whole array, a row whose values are all far "
                "below it underflows to 0 / 0 = nan.")),
        Mistake(quiet(lambda z, t: _softmax_plain_shifted_by(z / t, z)), N_("subtract the maximum of the numbers you "
                "exponentiate, logits / T: z = logits / T, then z - z.max(axis=-1, keepdims=True). The maximum of "
                "the logits before the division does not stop exp(logits / T) from overflowing.")),
        Mistake(quiet(lambda z, t: _softmax_mean_shift(z / t)), N_("shift by the row's MAXIMUM, not its mean or "
                "another value: only z - z.max(axis=-1, keepdims=True) makes every exponent at most 0, so that exp "
                "cannot overflow.")),
        Mistake(lambda z, t: _softmax_plain(z), N_("the temperature has no effect: it must divide the logits BEFORE "
                "the exponential, softmax(logits / T). Dividing the exponentials (or the probabilities) by T cancels "
                "out when they are normalised.")),
        Mistake(lambda z, t: _softmax_over(z / t, axis=0), N_("the softmax runs over axis 0: each row (a position's "
                "distribution over the vocabulary) must sum to 1, so take the max and the sum over the last axis, "
                "axis=-1 with keepdims=True.")),
    ],
)
