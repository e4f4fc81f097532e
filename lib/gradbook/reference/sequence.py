"""The sequence layers' arithmetic, written once for every engine: forward over time and backward by hand.

Every function here computes with an engine's `SequenceOps` (``ops``: a handful of primitives
whose names differ between NumPy and torch) and with what both kinds of array share
(``+ - * / @ **``, indexing, ``reshape``, ``swapaxes``). So the NumPy engine and the torch engine
run the same lines: NumPy uses the hand-written backward passes (the CS231n contract), torch
uses them for a layer's own ``backward`` and differentiates ``call`` by autograd when it trains
a model. Tests compare both with torch.nn's modules and with numerical gradients.

The sequence contract:

* a sequence is ``(batch, time, features)``; a recurrent layer loops over the time axis,
  carrying its state (``h``; for an LSTM ``h`` and ``c``) from one step to the next, from an
  initial state of zeros unless one is given;
* a padding mask is ``(batch, time)`` in the layer's float dtype, 1 where a step is real and 0
  where it is padding. A padded step does not change the state (it is carried over), its output
  in a returned sequence is 0, and the last output is the state after the last real step
  (torch's packed sequences give the same);
* an attention mask is ``(batch, queries, keys)``, 1 where a query may attend to a key (Keras'
  ``attention_mask``); a causal mask is the lower triangle (query t sees keys up to t).

Internally the recurrent loops run time-major (``(time, batch, features)``): each step then reads
one contiguous block. That layout is for speed only; the maths is the same.
"""

from __future__ import annotations

import math
from typing import Any

from gradbook.reference.engine import LayerKernel, Op, Params, SequenceOps

Array = Any  # an engine's array
NEGATIVE = 1e9  # what a masked attention score loses: exp(-1e9) is 0 in every float type (Keras' choice)


class SequenceKernel(LayerKernel):
    """A sequence layer's arithmetic on one engine. Linear at the layer level: its activations are
    inside the recurrence. ``run`` computes the output (keeping what backward needs when asked),
    ``gradients`` is the hand-written backward pass of the last kept run."""

    def __init__(self, ops: SequenceOps) -> None:
        super().__init__(Op("identity"), ops.activation("linear"))
        self.ops = ops

    def run(self, x: Array, params: Params, mask: Array | None, keep: bool) -> Array:
        raise NotImplementedError

    def gradients(self, dout: Array, params: Params) -> tuple[Array | None, Params]:
        """``(dL/dx, dL/dparam by name)`` from dL/dout of the last ``run(..., keep=True)``."""
        raise NotImplementedError

    # -- the LayerKernel contract
    def call(self, x: Array, params: Params, mask: Array | None = None) -> Array:  # type: ignore[override]
        return self.run(x, params, mask, keep=False)

    def affine(self, x: Array, params: Params, mask: Array | None = None) -> Array:  # type: ignore[override]
        return self.run(x, params, mask, keep=False)

    def forward(self, x: Array, params: Params, mask: Array | None = None) -> tuple[Array, Array]:  # type: ignore[override]
        out = self.run(x, params, mask, keep=True)
        return out, out

    def activation_backward(self, dout: Array) -> Array:
        return dout

    def backward(self, dz: Array, params: Params, grads: Params, input_grad: bool) -> Array | None:
        dx, named = self.gradients(dz, params)
        grads.update(named)
        return dx if input_grad else None


# ---------------------------------------------------------------- Embedding

class EmbeddingKernel(SequenceKernel):
    """``embeddings[ids]``: one row of the table per token. Its gradient adds each token's
    upstream gradient into its row (a token seen twice gets both); the ids get none."""

    def run(self, x: Array, params: Params, mask: Array | None, keep: bool) -> Array:
        ids = self.ops.indices(x)
        if keep:
            self._ids, self._x = ids, x
        return params["embeddings"][ids]

    def gradients(self, dout: Array, params: Params) -> tuple[Array | None, Params]:
        table = params["embeddings"]
        d_table = self.ops.add_rows(table.shape[0], self._ids.reshape(-1), dout.reshape(-1, table.shape[1]))
        return self._x * 0, {"embeddings": d_table}  # ids are not differentiable: dL/dx is 0


# ---------------------------------------------------------------- recurrent layers

def _carry(mask: Array | None, t: int, new: Array, old: Array) -> Array:
    """The state after step ``t``: ``new`` where the step is real, ``old`` carried over where it is padding."""
    if mask is None:
        return new
    m = mask[t]  # (batch, 1)
    return m * new + (1 - m) * old


def _project(x: Array, W: Array) -> Array:
    """``x @ W`` for x of shape (..., features). For speed: ONE matrix product over all rows (a 3-D ``@`` runs
    one small product per leading index)."""
    return (x.reshape(-1, x.shape[-1]) @ W).reshape(*x.shape[:-1], W.shape[-1])


def _time_major_mask(mask: Array | None) -> Array | None:
    return None if mask is None else mask.swapaxes(0, 1)[..., None]  # (time, batch, 1)


class SimpleRNNKernel(SequenceKernel):
    """``h_t = activation(x_t @ Wx + h_{t-1} @ Wh + b)``, ``Wx`` (features, units), ``Wh`` (units, units)."""

    def __init__(self, ops: SequenceOps, activation: str, return_sequences: bool) -> None:
        super().__init__(ops)
        self.act, self.return_sequences = ops.activation(activation), return_sequences

    def run(self, x: Array, params: Params, mask: Array | None, keep: bool,
            initial_state: Array | None = None) -> Array:
        Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
        xw = _project(x.swapaxes(0, 1), Wx) + b  # every step's input term at once (time, batch, units)
        m = _time_major_mask(mask)
        h = initial_state if initial_state is not None else self.ops.zeros((x.shape[0], Wh.shape[0]), xw)
        states, cells = [h], []
        for t in range(xw.shape[0]):
            cell = self.act.forward(xw[t] + h @ Wh)
            h = _carry(m, t, cell, h)
            states.append(h)
            cells.append(cell)
        self.final_state = (h,)
        if keep:
            self._x, self._m, self._states, self._cells = x, m, states, cells
        return _output(self.ops, self.ops.stack(states[1:], 0) if self.return_sequences else None, m,
                       self.return_sequences, h)

    def gradients(self, dout: Array, params: Params, d_state: tuple[Array, ...] = ()) -> tuple[Array | None, Params]:
        Wx, Wh = params["Wx"], params["Wh"]
        x, m, states, cells = self._x, self._m, self._states, self._cells
        d_outputs, dh = _output_gradients(self.ops, dout, m, self.return_sequences, states[0])
        dh = _plus(dh, d_state[0] if d_state else None)  # the returned state's own gradient (return_state)
        WhT = _transposed(Wh)
        da = self.ops.zeros((len(cells), *dh.shape), dh)  # dL/da of every step (time-major), written in place
        for t in reversed(range(len(cells))):
            if d_outputs is not None:
                dh = dh + d_outputs[t]
            d_cell, d_carried = _split(m, t, dh)
            da[t] = self.act.backward(d_cell, cells[t])
            dh = _plus(da[t] @ WhT, d_carried)
        self.initial_state_gradients = (dh,)
        return _recurrent_gradients(self.ops, x, self.ops.stack(states[:-1], 0), da, params)


class _Record:
    """The arrays a recurrent loop makes at each step, kept time-major for the backward pass: ``put(name, t,
    value)`` during the loop, ``all(name)`` (steps, ...) after it.

    For speed, the record writes into buffers its kernel holds from one run to the next (``buffers``). Arrays made
    fresh at every step and all kept until the backward pass are fresh memory at every run, and the page faults
    of those ~13 MB (an LSTM of 128 units over 32 sequences of 50 steps) cost as much as the layer's matrix
    products; a buffer that is written again is already mapped. Without buffers (a run autograd differentiates,
    where nothing may be written in place) it lists the arrays and stacks them once.
    """

    def __init__(self, ops: SequenceOps, lengths: dict[str, int], buffers: dict[str, Array] | None) -> None:
        self.ops, self.lengths, self.buffers = ops, lengths, buffers
        self.lists: dict[str, list[Array]] = {name: [] for name in lengths}

    def put(self, name: str, t: int, value: Array) -> None:
        if self.buffers is None:
            self.lists[name].append(value)
            return
        buffer = self.buffers.get(name)
        shape = (self.lengths[name], *value.shape)
        if buffer is None or tuple(buffer.shape) != shape or buffer.dtype != value.dtype:
            buffer = self.buffers[name] = self.ops.zeros(shape, value)
        buffer[t] = value

    def all(self, name: str) -> Array:
        """Every step's ``name``, (steps, ...): the buffer itself (valid until the next run), or a new stack."""
        return self.buffers[name] if self.buffers is not None else self.ops.stack(self.lists[name], 0)


class LSTMKernel(SequenceKernel):
    """Keras' LSTM: gates ``[i, f, c, o] = x_t @ Wx + h_{t-1} @ Wh + b`` (each ``units`` wide, in that order),
    ``c_t = σ(f)·c_{t-1} + σ(i)·tanh(c)``, ``h_t = σ(o)·tanh(c_t)`` (σ: ``recurrent_activation``, tanh:
    ``activation``)."""

    def __init__(self, ops: SequenceOps, activation: str, recurrent_activation: str, return_sequences: bool) -> None:
        super().__init__(ops)
        self.act, self.gate = ops.activation(activation), ops.activation(recurrent_activation)
        self.return_sequences = return_sequences
        self._buffers: dict[str, Array] = {}  # the kept record's buffers, reused run after run (see `_Record`)

    def run(self, x: Array, params: Params, mask: Array | None, keep: bool,
            initial_state: tuple[Array, Array] | None = None) -> Array:
        Wx, Wh, b = params["Wx"], params["Wh"], params["b"]
        u = Wh.shape[0]
        xw = _project(x.swapaxes(0, 1), Wx)  # every step's input term at once (time, batch, 4·units) ...
        xw += b  # ... in place, for speed (one 4·units-wide array less; a matrix product keeps no output for autograd)
        m, steps = _time_major_mask(mask), xw.shape[0]
        if initial_state is None:
            initial_state = (self.ops.zeros((x.shape[0], u), xw), self.ops.zeros((x.shape[0], u), xw))
        h, c = initial_state
        # states h_0..h_T and cells c_0..c_T; per step the gates (σ of all four blocks), g = tanh(candidate), tanh(c_t)
        record = _Record(self.ops, {"h": steps + 1, "c": steps + 1, "gates": steps, "g": steps, "tanh_c": steps},
                         self._buffers if keep else None)
        record.put("h", 0, h)
        record.put("c", 0, c)
        for t in range(steps):
            a = h @ Wh
            a += xw[t]  # in place, for speed (autograd allows it: a matrix product keeps its inputs, not its output)
            gates = self.gate.forward(a)  # σ of all four blocks at once; the candidate's block is not used
            i, f, o = gates[:, :u], gates[:, u:2 * u], gates[:, 3 * u:]
            g = self.act.forward(a[:, 2 * u:3 * u])
            c_new = f * c + i * g
            tanh_c = self.act.forward(c_new)
            h, c = _carry(m, t, o * tanh_c, h), _carry(m, t, c_new, c)
            record.put("h", t + 1, h)
            if keep:  # what only the backward pass reads
                record.put("c", t + 1, c)
                record.put("gates", t, gates)
                record.put("g", t, g)
                record.put("tanh_c", t, tanh_c)
        self.final_state = (h, c)  # the last step's own arrays, never a buffer's rows
        if keep:
            self._x, self._m, self._record = x, m, record
        states = record.all("h")[1:] if self.return_sequences else None
        # A kept record's buffer is written again by the next run: the output is a copy of it (``+ 0``).
        return _output(self.ops, states + 0 if keep and states is not None else states, m, self.return_sequences, h)

    def gradients(self, dout: Array, params: Params, d_state: tuple[Array, ...] = ()) -> tuple[Array | None, Params]:
        Wh = params["Wh"]
        u, WhT = Wh.shape[0], _transposed(Wh)
        x, m, record = self._x, self._m, self._record
        states, cells = record.all("h"), record.all("c")
        all_gates, all_g, all_tanh_c = record.all("gates"), record.all("g"), record.all("tanh_c")
        d_outputs, dh = _output_gradients(self.ops, dout, m, self.return_sequences, states[0])
        # The returned states' own gradients (return_state) start the recursion at the last step.
        dh = _plus(dh, d_state[0] if d_state else None)
        dc = _plus(self.ops.zeros(states[0].shape, states[0]), d_state[1] if len(d_state) > 1 else None)
        da = self.ops.zeros(all_gates.shape, dc)  # dL/da of every step (time-major), for the weights
        for t in reversed(range(all_gates.shape[0])):
            gates, g, tanh_c = all_gates[t], all_g[t], all_tanh_c[t]
            i, f, o = gates[:, :u], gates[:, u:2 * u], gates[:, 3 * u:]
            if d_outputs is not None:
                dh = dh + d_outputs[t]
            dh_cell, dh_carried = _split(m, t, dh)
            dc_cell, dc_carried = _split(m, t, dc)
            dc_cell = dc_cell + self.act.backward(dh_cell * o, tanh_c)
            d_gates = self.ops.zeros(gates.shape, gates)
            d_gates[:, :u] = dc_cell * g                # dL/d(input gate)
            d_gates[:, u:2 * u] = dc_cell * cells[t]    # dL/d(forget gate): c_{t-1}
            d_gates[:, 3 * u:] = dh_cell * tanh_c       # dL/d(output gate)
            da[t] = self.gate.backward(d_gates, gates)  # through σ, the four blocks in one call (speed) ...
            da[t, :, 2 * u:3 * u] = self.act.backward(dc_cell * i, g)  # ... the candidate's block through tanh
            dh = _plus(da[t] @ WhT, dh_carried)
            dc = _plus(dc_cell * f, dc_carried)
        self.initial_state_gradients = (dh, dc)
        return _recurrent_gradients(self.ops, x, states[:-1], da, params)


def _output(ops: SequenceOps, states: Array, m: Array | None, return_sequences: bool, last: Array) -> Array:
    """The layer's output from the states after each step, (time, batch, units): the whole sequence (0 at padded
    steps), or the ``last`` state."""
    if not return_sequences:
        return last
    out = states
    if m is not None:
        out = out * m
    return out.swapaxes(0, 1)


def _output_gradients(ops: SequenceOps, dout: Array, m: Array | None, return_sequences: bool,
                      h0: Array) -> tuple[Array | None, Array]:
    """dL/d(output at each step), time-major (None for the last state only), and dL/dh after the last step."""
    if not return_sequences:
        return None, dout
    d_outputs = dout.swapaxes(0, 1)
    return (d_outputs * m if m is not None else d_outputs), ops.zeros(h0.shape, h0)


def _split(m: Array | None, t: int, d: Array) -> tuple[Array, Array | None]:
    """dL/d(state after step t) split into the part that reaches the step's cell and the part carried past it
    (None without padding: nothing is carried past a real step)."""
    if m is None:
        return d, None
    return d * m[t], d * (1 - m[t])


def _transposed(W: Array) -> Array:
    """``W.T`` laid out row by row (a copy), for speed: OpenBLAS multiplies by it ~30% faster than by the
    transposed view, and backward multiplies by it at every step. (``reshape(-1)`` of a transposed view
    copies on both engines; the second reshape is free.)"""
    return W.T.reshape(-1).reshape(W.shape[::-1])


def _plus(a: Array, b: Array | None) -> Array:
    return a if b is None else a + b


def _recurrent_gradients(ops: SequenceOps, x: Array, previous: Array, da: Array,
                         params: Params) -> tuple[Array, Params]:
    """dL/dx and the weights' gradients from dL/da, the pre-activations' gradient at every step (time, batch,
    width): matrix products over all steps at once (a product per step, summed, is the same, slower).

    ``dWx = xᵀ da`` and ``dWh = h_prevᵀ da`` share ``da``: for speed they are ONE product, ``[x | h_prev]ᵀ da``,
    whose first rows are dWx and the rest dWh (one pass over da instead of two)."""
    Wx = params["Wx"]
    flat = da.reshape(-1, da.shape[-1])
    x_flat = x.swapaxes(0, 1).reshape(-1, x.shape[-1])
    h_flat = previous.reshape(-1, previous.shape[-1])  # the state before each step, (time·batch, units)
    d_weights = ops.concatenate([x_flat, h_flat], 1).T @ flat
    grads = {"Wx": d_weights[:x.shape[-1]], "Wh": d_weights[x.shape[-1]:], "b": ops.sum(flat, 0)}
    return _project(da, _transposed(Wx)).swapaxes(0, 1), grads


# ---------------------------------------------------------------- LayerNormalization

class LayerNormKernel(SequenceKernel):
    """``gamma · (x - mean) / sqrt(var + epsilon) + beta`` over the last axis (each step of each sequence alone)."""

    def __init__(self, ops: SequenceOps, epsilon: float) -> None:
        super().__init__(ops)
        self.epsilon = epsilon

    def run(self, x: Array, params: Params, mask: Array | None, keep: bool) -> Array:
        d = x.shape[-1]
        centred = x - self.ops.sum(x, -1, keepdims=True) / d
        inv_std = (self.ops.sum(centred * centred, -1, keepdims=True) / d + self.epsilon) ** -0.5
        normed = centred * inv_std
        if keep:
            self._normed, self._inv_std = normed, inv_std
        return normed * params["gamma"] + params["beta"]

    def gradients(self, dout: Array, params: Params) -> tuple[Array | None, Params]:
        normed, d = self._normed, dout.shape[-1]
        flat_dout, flat_normed = dout.reshape(-1, d), normed.reshape(-1, d)
        grads = {"gamma": self.ops.sum(flat_dout * flat_normed, 0), "beta": self.ops.sum(flat_dout, 0)}
        dn = dout * params["gamma"]
        mean_dn = self.ops.sum(dn, -1, keepdims=True) / d
        mean_dn_n = self.ops.sum(dn * normed, -1, keepdims=True) / d
        return (dn - mean_dn - normed * mean_dn_n) * self._inv_std, grads


# ---------------------------------------------------------------- multi-head attention

class AttentionKernel:
    """Keras' MultiHeadAttention: per head, ``softmax(Q Kᵀ / sqrt(key_dim) + mask) V``, then one output projection.

    ``Q = query @ Wq + bq``, ``K = key @ Wk + bk``, ``V = value @ Wv + bv``, each split into ``num_heads``
    heads of ``key_dim`` (``value_dim`` for V) features; ``out = concat(heads) @ Wo + bo``. Three inputs,
    so not a `LayerKernel`; ``gradients`` returns dL/d(query, value, key).
    """

    def __init__(self, ops: SequenceOps, num_heads: int, key_dim: int, value_dim: int) -> None:
        self.ops, self.heads, self.key_dim, self.value_dim = ops, num_heads, key_dim, value_dim
        self.softmax = ops.activation("softmax")
        self.scores: Array | None = None  # the attention weights of the last run, (batch, heads, queries, keys)

    def _split_heads(self, x: Array, width: int) -> Array:
        n, steps, _ = x.shape
        return x.reshape(n, steps, self.heads, width).swapaxes(1, 2)  # (batch, heads, time, width)

    def run(self, query: Array, value: Array, key: Array, mask: Array | None, params: Params, keep: bool) -> Array:
        q = self._split_heads(_project(query, params["Wq"]) + params["bq"], self.key_dim)
        k = self._split_heads(_project(key, params["Wk"]) + params["bk"], self.key_dim)
        v = self._split_heads(_project(value, params["Wv"]) + params["bv"], self.value_dim)
        scores = (q @ k.swapaxes(-1, -2)) * (1 / math.sqrt(self.key_dim))  # (batch, heads, queries, keys)
        if mask is not None:
            scores = scores + (mask[:, None] - 1) * NEGATIVE  # 0 where allowed, -1e9 where masked
        weights = self.softmax.forward(scores)
        heads = weights @ v  # (batch, heads, queries, value_dim)
        n, _, steps, _ = heads.shape
        joined = heads.swapaxes(1, 2).reshape(n, steps, self.heads * self.value_dim)
        self.scores = weights
        if keep:
            self._saved = (query, value, key, q, k, v, weights, joined)
        return _project(joined, params["Wo"]) + params["bo"]

    def gradients(self, dout: Array, params: Params) -> tuple[Array, Array, Array, Params]:
        """``(dquery, dvalue, dkey, grads)`` from dL/dout of the last kept run."""
        query, value, key, q, k, v, weights, joined = self._saved
        ops, flat = self.ops, lambda a: a.reshape(-1, a.shape[-1])
        grads = {"Wo": flat(joined).T @ flat(dout), "bo": ops.sum(flat(dout), 0)}
        d_heads = self._split_heads(_project(dout, params["Wo"].T), self.value_dim)
        dv = weights.swapaxes(-1, -2) @ d_heads
        d_scores = self.softmax.backward(d_heads @ v.swapaxes(-1, -2), weights) * (1 / math.sqrt(self.key_dim))
        dq, dk = d_scores @ k, d_scores.swapaxes(-1, -2) @ q
        inputs = {}
        for name, x, d in (("q", query, dq), ("k", key, dk), ("v", value, dv)):
            d = d.swapaxes(1, 2).reshape(*d.shape[:1], d.shape[2], -1)  # heads joined again: (batch, time, width)
            grads["W" + name], grads["b" + name] = flat(x).T @ flat(d), ops.sum(flat(d), 0)
            inputs[name] = _project(d, params["W" + name].T)
        return inputs["q"], inputs["v"], inputs["k"], grads


# ---------------------------------------------------------------- a transformer's parts

class TokenAndPositionKernel(SequenceKernel):
    """``tokens[ids] + positions[:time]``: each token's embedding plus one learned row per position."""

    def run(self, x: Array, params: Params, mask: Array | None, keep: bool) -> Array:
        ids = self.ops.indices(x)
        if keep:
            self._ids, self._x = ids, x
        return params["token_embeddings"][ids] + params["position_embeddings"][:x.shape[1]]

    def gradients(self, dout: Array, params: Params) -> tuple[Array | None, Params]:
        tokens, positions = params["token_embeddings"], params["position_embeddings"]
        d_tokens = self.ops.add_rows(tokens.shape[0], self._ids.reshape(-1), dout.reshape(-1, tokens.shape[1]))
        d_positions = self.ops.zeros(positions.shape, dout)
        d_positions[:dout.shape[1]] = self.ops.sum(dout, 0)  # every sequence of the batch used the same rows
        return self._x * 0, {"token_embeddings": d_tokens, "position_embeddings": d_positions}


class TransformerBlockKernel(SequenceKernel):
    """A pre-norm transformer block (GPT-2's order), each half with a residual connection::

        y   = x + attention(LN1(x))                  (self-attention, causal if asked)
        out = y + relu(LN2(y) @ W1 + b1) @ W2 + b2

    Made of the layers above: two `LayerNormKernel`s, one `AttentionKernel` and the two-layer MLP here.
    A residual connection's backward adds the gradient that goes round the block to the one through it.
    """

    PARTS = {"ln1": ("gamma", "beta"), "attention": ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo"),
             "ln2": ("gamma", "beta")}

    def __init__(self, ops: SequenceOps, num_heads: int, key_dim: int, epsilon: float) -> None:
        super().__init__(ops)
        self.ln1, self.ln2 = LayerNormKernel(ops, epsilon), LayerNormKernel(ops, epsilon)
        self.attention = AttentionKernel(ops, num_heads, key_dim, key_dim)
        self.relu = ops.activation("relu")

    @classmethod
    def part(cls, params: Params, name: str) -> Params:
        """A part's own parameters, by the names it knows (``ln1_gamma`` -> ``gamma``)."""
        return {k: params[f"{name}_{k}"] for k in cls.PARTS[name]}

    def run(self, x: Array, params: Params, mask: Array | None, keep: bool) -> Array:
        normed = self.ln1.run(x, self.part(params, "ln1"), None, keep)
        # ``mask`` is the attention mask here (the layer makes the causal one): (1 or batch, queries, keys)
        y = x + self.attention.run(normed, normed, normed, mask, self.part(params, "attention"), keep)
        normed2 = self.ln2.run(y, self.part(params, "ln2"), None, keep)
        hidden = self.relu.forward(_project(normed2, params["W1"]) + params["b1"])
        if keep:
            self._hidden, self._normed2 = hidden, normed2
        return y + _project(hidden, params["W2"]) + params["b2"]

    def gradients(self, dout: Array, params: Params) -> tuple[Array | None, Params]:
        flat = lambda a: a.reshape(-1, a.shape[-1])  # noqa: E731
        hidden, normed2 = self._hidden, self._normed2
        grads = {"W2": flat(hidden).T @ flat(dout), "b2": self.ops.sum(flat(dout), 0)}
        d_hidden = self.relu.backward(_project(dout, params["W2"].T), hidden)
        grads.update({"W1": flat(normed2).T @ flat(d_hidden), "b1": self.ops.sum(flat(d_hidden), 0)})
        d_normed2, ln2 = self.ln2.gradients(_project(d_hidden, params["W1"].T), self.part(params, "ln2"))
        dy = dout + d_normed2  # the residual: round the MLP and through it
        dq, dv, dk, attention = self.attention.gradients(dy, self.part(params, "attention"))
        d_normed1, ln1 = self.ln1.gradients(dq + dv + dk, self.part(params, "ln1"))
        for name, part in (("ln1", ln1), ("attention", attention), ("ln2", ln2)):
            grads.update({f"{name}_{k}": g for k, g in part.items()})
        return dy + d_normed1, grads
