"""Red team on chapters 9 (sequences) and 10 (attention), graded through the real sandboxed grader.

Each submission is the instructor's solution (hidden tests removed) with some answers replaced by an
attack (test_redteam.build). What must hold (docs/architecture.md, "What a grade guarantees"): no credit
for an answer the library computes, however it is reached (its layers with their weights set, the torch
path, an engine's primitive, a widget, a reloaded module, the library's source found on disk); an answer
that a framework computes is graded on its value and shown to a person (integrity evidence); an answer
that lies about itself, mutates its inputs or raises a hostile exception earns nothing and costs no other
answer; and in a batch, a class's hostile submissions leave every other student's grade and feedback page
exactly as they would be alone.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import nbformat
import pytest

from conftest import ROOT, require
from gradbook_grader import sandbox
from gradbook_grader.execute import grade_submission
from gradbook_grader.integrity import ASKED
from gradbook_grader.manifests import build_manifest
from gradbook_grader.types import Limits, SubmissionGrade
from test_redteam import build

pytestmark = [pytest.mark.slow, pytest.mark.sandbox]

CH09, CH10 = "09-sequences", "10-attention"
SOURCES = {CH09: ROOT / "solutions" / f"{CH09}.ipynb", CH10: ROOT / "solutions" / f"{CH10}.ipynb"}
LIMITS = Limits(cell_timeout=60, total_timeout=300, memory_mb=2048, max_output_bytes=200_000, max_file_mb=50,
                max_processes=32)
SIGMOID = "def sigmoid(z):\n    return 1 / (1 + np.exp(-z))\n"

# --- chapter 9: the library's sequence layers and kernels, however they are reached -----------------

LAYERS_09 = {
    "rnn-forward": '''
from gradbook import layers

def rnn_forward(x, h0, Wx, Wh, b):
    layer = layers.SimpleRNN(Wh.shape[0], return_sequences=True)
    layer.build(x.shape[1:], dtype="float64")
    layer.params.update(Wx=Wx, Wh=Wh, b=b)
    return np.asarray(layer(x, initial_state=[h0]))
''',
    "rnn-backward": '''
from gradbook import layers

def rnn_backward(dhs, x, h0, hs, Wx, Wh):
    layer = layers.SimpleRNN(Wh.shape[0], return_sequences=True)
    layer.build(x.shape[1:], dtype="float64")
    a = np.arctanh(np.clip(hs[:, 0], -1 + 1e-15, 1 - 1e-15)) - x[:, 0] @ Wx - h0 @ Wh  # b, from the forward
    layer.params.update(Wx=Wx, Wh=Wh, b=a.mean(axis=0))
    layer.forward(x, initial_state=[h0])
    dx = layer.backward(dhs)
    return dx, layer.initial_state_grads[0], layer.grads["Wx"], layer.grads["Wh"], layer.grads["b"]
''',
    "lstm-step": SIGMOID + '''
from gradbook import layers

def lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    layer = layers.LSTM(Wh.shape[0], return_sequences=True)
    layer.build((1, x.shape[-1]), dtype="float64")
    layer.params.update(Wx=Wx, Wh=Wh, b=b)
    out, h, c = layer(x[:, None, :], initial_state=[h_prev, c_prev], return_state=True)
    return np.asarray(h), np.asarray(c)
''',
    "embedding-backward": '''
from gradbook import layers

def embedding_backward(ids, dout, vocab_size):
    layer = layers.Embedding(vocab_size, dout.shape[-1])
    layer.build(np.shape(ids)[1:], dtype="float64")
    layer.forward(np.asarray(ids))
    layer.backward(dout)
    return layer.grads["embeddings"]
''',
}
PATHS_09 = {
    "rnn-forward": '''
import torch
from gradbook.torch_path import layers as torch_layers

def rnn_forward(x, h0, Wx, Wh, b):
    layer = torch_layers.SimpleRNN(Wh.shape[0], return_sequences=True, device="cpu")
    layer.build(x.shape[1:], dtype="float64")
    layer.params.update(Wx=torch.tensor(Wx), Wh=torch.tensor(Wh), b=torch.tensor(b))
    return layer(x, initial_state=[h0]).numpy()
''',
    "embedding-backward": '''
from gradbook.models import NUMPY

def embedding_backward(ids, dout, vocab_size):  # the engine's primitive: out[ids[i]] += values[i]
    return NUMPY.sequence_ops().add_rows(vocab_size, np.asarray(ids).reshape(-1), dout.reshape(-1, dout.shape[-1]))
''',
    "rnn-backward": '''
import importlib, importlib.util
import gradbook.reference.sequence as seq
from gradbook.models import NUMPY
spec = importlib.util.spec_from_file_location("fresh_sequence", importlib.reload(seq).__file__)
fresh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fresh)

def rnn_backward(dhs, x, h0, hs, Wx, Wh):
    das, dh_next = [], np.zeros(h0.shape)
    for t in reversed(range(x.shape[1])):
        da = (dhs[:, t] + dh_next) * (1 - hs[:, t] ** 2)
        das.append(da)
        dh_next = da @ Wh.T
    previous = np.concatenate([h0[None], hs.swapaxes(0, 1)[:-1]])
    dx, g = fresh._recurrent_gradients(NUMPY.sequence_ops(), x, previous, np.stack(das[::-1]),
                                       {"Wx": Wx, "Wh": Wh, "b": np.zeros(Wh.shape[0])})
    return dx, dh_next, g["Wx"], g["Wh"], g["b"]
''',
    "lstm-step": SIGMOID + '''
import glob, os, sys
from gradbook.models import NUMPY
copies = []  # any copy of the library's LSTM on the sandbox's disk, bytecode included
for root in {p for p in sys.path if p and os.path.isdir(p)} | {"/tmp", "/scratch", "/opt"}:
    for path in glob.glob(root + "/**/sequence*.py*", recursive=True):
        try:
            text = open(path, "rb").read().decode("latin-1")
        except OSError:
            continue
        body = text[text.find("class LSTMKernel"):][:3000] if "class LSTMKernel" in text else ""
        if body and "not available while" not in body:
            copies.append(path)
print("COPIES", copies)

def lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    namespace = {"__name__": "copied"}
    exec(compile(open(copies[0]).read(), copies[0], "exec"), namespace)
    kernel = namespace["LSTMKernel"](NUMPY.sequence_ops(), "tanh", "sigmoid", True)
    kernel.run(x[:, None], {"Wx": Wx, "Wh": Wh, "b": b}, None, False, initial_state=(h_prev, c_prev))
    return kernel.final_state
''',
    "clip-by-norm": '''
from gradbook.widgets.through_time import GradientThroughTime

def clip_by_norm(grads, max_norm):  # the widget's own clipping rule, on a global norm
    view, box = GradientThroughTime.__new__(GradientThroughTime), type("Box", (), {})
    view.clip_box, view.max_norm_slider = box(), box()
    view.clip_box.value, view.max_norm_slider.value = True, max_norm
    return [g * view.clip_factor(np.sqrt(sum(np.sum(g ** 2) for g in grads))) for g in grads]
''',
}

# --- chapter 10: the library's attention, layer norm and block; frameworks; answers that lie ---------

_BLOCK = '''
from gradbook import layers

def _block(x, params, num_heads):
    layer = layers.TransformerBlock(num_heads, params["Wq"].shape[1] // num_heads, params["W1"].shape[1], epsilon=1e-5)
    layer.build(x.shape[1:], dtype="float64")
    for name, value in params.items():
        layer.params["attention_" + name if name in ("Wq", "Wk", "Wv", "Wo") else name] = value
    for name in ("bq", "bk", "bv", "bo"):
        layer.params["attention_" + name] = layer.params["attention_" + name] * 0
    return layer
'''
LAYERS_10 = {
    "causal-mask": '''
from gradbook import layers

def causal_mask(T):  # the layer's own rule for use_causal_mask=True
    layer = layers.MultiHeadAttention(1, 1)
    layer.build((T, 1), dtype="float64")
    return np.asarray(layer._attention_mask(None, True, 1, T, T))[0] > 0
''',
    "attention": '''
from gradbook.models import NUMPY
from gradbook.reference.sequence import AttentionKernel

def attention(Q, K, V, mask=None):  # one head, identity projections
    lead, (T, d), (S, dv) = Q.shape[:-2], Q.shape[-2:], V.shape[-2:]
    q, k, v = (a.reshape(-1, *a.shape[-2:]) for a in (Q, K, V))
    kernel = AttentionKernel(NUMPY.sequence_ops(), 1, d, dv)
    params = {"Wq": np.eye(d), "Wk": np.eye(d), "Wv": np.eye(dv), "Wo": np.eye(dv),
              "bq": np.zeros(d), "bk": np.zeros(d), "bv": np.zeros(dv), "bo": np.zeros(dv)}
    m = None if mask is None else np.broadcast_to(mask, lead + (T, S)).reshape(-1, T, S).astype(float)
    out = kernel.run(q, v, k, m, params, keep=False)
    return out.reshape(*lead, T, dv), kernel.scores[:, 0].reshape(*lead, T, S)
''',
    "multi-head-attention": '''
from gradbook import layers

def multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    layer = layers.MultiHeadAttention(num_heads, Wq.shape[1] // num_heads)
    layer.build(x.shape[1:], dtype="float64")
    layer.params.update(Wq=Wq, Wk=Wk, Wv=Wv, Wo=Wo)
    for name in ("bq", "bk", "bv", "bo"):
        layer.params[name] = layer.params[name] * 0
    return np.asarray(layer(x, x, use_causal_mask=causal))
''',
    "layer-norm": '''
from gradbook import layers

def layer_norm(x, gamma, beta, eps=1e-5):
    layer = layers.LayerNormalization(epsilon=eps)
    layer.build(x.shape[1:], dtype="float64")
    layer.params.update(gamma=gamma, beta=beta)
    return np.asarray(layer(x))
''',
    "layer-norm-backward": '''
from gradbook import layers

def layer_norm_backward(dout, x, gamma, eps=1e-5):
    layer = layers.LayerNormalization(epsilon=eps)
    layer.build(x.shape[1:], dtype="float64")
    layer.params.update(gamma=gamma, beta=gamma * 0)
    layer.forward(x)
    return layer.backward(dout), layer.grads["gamma"], layer.grads["beta"]
''',
    "transformer-block": _BLOCK + '''
def transformer_block(x, params, num_heads):
    return np.asarray(_block(x, params, num_heads)(x))
''',
    "transformer-block-backward": _BLOCK.replace("_block", "_block2") + '''
def transformer_block_backward(dout, x, params, num_heads):
    layer = _block2(x, params, num_heads)
    layer.forward(x)
    dx, g = layer.backward(dout), layer.grads
    return {"x": dx, **{k: g["attention_" + k if k in ("Wq", "Wk", "Wv", "Wo") else k] for k in params}}
''',
}
TORCH_10 = {
    "attention": '''
import torch

def attention(Q, K, V, mask=None):
    scores = torch.tensor(Q) @ torch.tensor(K).transpose(-1, -2) / np.sqrt(Q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~torch.tensor(np.broadcast_to(mask, scores.shape)), float("-inf"))
    w = torch.softmax(scores, -1)
    return (w @ torch.tensor(V)).numpy(), w.numpy()
''',
    "layer-norm-backward": '''
import torch.nn.functional as F
from torch import tensor, zeros_like

def layer_norm_backward(dout, x, gamma, eps=1e-5):  # autograd on torch's own layer norm
    xt, gt = tensor(x, requires_grad=True), tensor(gamma, requires_grad=True)
    bt = zeros_like(gt, requires_grad=True)
    F.layer_norm(xt, gt.shape, gt, bt, eps).backward(tensor(dout))
    return xt.grad.numpy(), gt.grad.numpy(), bt.grad.numpy()
''',
    "softmax-backward": '''
from gradbook.models import NUMPY

def softmax_backward(dweights, weights):  # the engine's activation object, not the declared function
    return np.asarray(NUMPY.sequence_ops().activation("softmax").backward(dweights, weights))
''',
    "multi-head-attention": '''
from gradbook import layers
from gradbook.torch_path import layers as torch_layers

def multi_head_attention(x, Wq, Wk, Wv, Wo, num_heads, causal=False):
    ref = layers.MultiHeadAttention(num_heads, Wq.shape[1] // num_heads)
    ref.build(x.shape[1:], dtype="float64")
    ref.params.update(Wq=Wq, Wk=Wk, Wv=Wv, Wo=Wo, bq=0 * Wq[0], bk=0 * Wk[0], bv=0 * Wv[0], bo=0 * Wo[0])
    return torch_layers.from_reference(ref, device="cpu")(x, x, use_causal_mask=causal).detach().numpy()
''',
    "sinusoidal-positions": '''
from gradbook.checks import ch10 as check
from gradbook.notebook import yours
sinusoidal_positions = yours("never_written", check.sinusoidal_positions)  # the fallback, while graded
''',
}
LIES_10 = {
    "layer-norm": '''
calls = [0]

class Liar(np.ndarray):  # equal to everything, and a different array each time it is asked for one
    def __eq__(self, other): return np.ones(np.shape(self), bool)
    def __ne__(self, other): return np.zeros(np.shape(self), bool)
    def __array_function__(self, func, types, args, kwargs): return True
    def __array__(self, dtype=None, copy=None):
        calls[0] += 1
        return np.full(self.shape, float(calls[0]))

def layer_norm(x, gamma, beta, eps=1e-5):
    return np.zeros(x.shape).view(Liar)
''',
    "transformer-block": '''
import gradbook.checks.ch10 as chapter
import gradbook.checks.ch10.public as public
public.block_params = chapter.block_params = lambda *a: {}  # the shared helper, patched in this process

def transformer_block(x, params, num_heads):  # every weight and the input zeroed in place: "the identity"
    for value in params.values():
        value[...] = 0.0
    out = x.copy()
    x[...] = 0.0
    return out
''',
    "split-heads": '''
class Boom(Exception):  # its text recurses: describing it must not end the runner
    def __str__(self): return str(self)
    def __repr__(self): return repr(self)

def split_heads(x, num_heads):
    raise Boom()
''',
    "causal-mask": '''
import sys

class Evil(Exception):
    pass

def causal_mask(T):
    if T == 1:
        sys.exit(0)  # an exit in an answer: that answer fails, the rest is asked
    raise Evil("\\x1b[2J\\x1b]0;pwned\\x07<script>alert(1)</script>" + "x" * 50_000)
''',
}

SUBMISSIONS = {  # name -> (chapter, the answers replaced)
    "ch09-library-layers": (CH09, LAYERS_09),
    "ch09-other-paths": (CH09, PATHS_09),
    "ch10-library-layers": (CH10, LAYERS_10),
    "ch10-frameworks-and-paths": (CH10, TORCH_10),
    "ch10-lies-and-hostile-exceptions": (CH10, LIES_10),
}
WITHHELD = "is not available while chapter"
FRAMEWORK = "computes with a framework"


def _test_cell(gid: str) -> str:
    return f"test-{gid}"


@pytest.fixture(scope="module")
def graded() -> dict[str, SubmissionGrade]:
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    sources = {ch: nbformat.read(path, as_version=4) for ch, path in SOURCES.items()}
    manifests = {ch: build_manifest(nb, LIMITS, sandbox_mode="bwrap") for ch, nb in sources.items()}
    assert not any(m.problems for m in manifests.values()), [m.problems for m in manifests.values()]

    def one(item: tuple[str, tuple[str, dict[str, str]]]) -> SubmissionGrade:
        chapter, answers = item[1]
        data = build(replace=answers, source=SOURCES[chapter])
        return grade_submission(data, sources[chapter], manifests[chapter], limits=LIMITS, sandbox_mode="bwrap")

    with ThreadPoolExecutor(2) as pool:
        return dict(zip(SUBMISSIONS, pool.map(one, SUBMISSIONS.items())))


def _lost_only(grade: SubmissionGrade, attacked: set[str]) -> None:
    """The attacked cells score 0; every other auto-graded cell keeps its full points."""
    for gid, cell in grade.cells.items():
        if cell.message == "graded by hand" or gid.startswith(("why-", "clipping-")):
            continue
        want = 0.0 if gid in attacked else cell.max_points
        assert cell.points == want, (gid, cell.points, cell.message, grade.events)


@pytest.mark.parametrize("name", ["ch09-library-layers", "ch09-other-paths", "ch10-library-layers"])
def test_the_librarys_own_layers_kernels_and_widgets_answer_nothing(graded, name: str) -> None:  # noqa: ANN001
    """However the library's implementation is reached (a layer with its weights set, the torch path, an engine's
    primitive, a widget's method, a reloaded module or a fresh one from its file), it is withheld; no copy of it is
    on the sandbox's disk, and `gc` finds only the stubs."""
    grade = graded[name]
    attacked = {_test_cell(gid) for gid in SUBMISSIONS[name][1]}
    _lost_only(grade, attacked)
    for gid in attacked - {"test-lstm-step"} if name == "ch09-other-paths" else attacked:
        assert WITHHELD in grade.cells[gid].message, (gid, grade.cells[gid].message)
    if name == "ch09-other-paths":
        printed = "".join(o.get("text", "") for c in grade.notebook.cells for o in c.get("outputs", []))
        assert "COPIES []" in printed, printed[:2000]


def test_framework_answers_are_graded_on_their_values_and_shown_to_a_person(graded) -> None:  # noqa: ANN001
    grade = graded["ch10-frameworks-and-paths"]
    _lost_only(grade, {"test-softmax-backward", "test-multi-head-attention", "test-sinusoidal-positions",
                       "test-transformer-block", "test-transformer-block-backward"})  # their own block calls these
    flagged = [line for line in grade.integrity if FRAMEWORK in line]
    assert len(flagged) == 2 and any("attention computes" in f and "torch.softmax" in f for f in flagged), flagged
    assert any("layer_norm_backward" in f and "torch.nn.functional.layer_norm" in f for f in flagged), flagged
    asked = [line for line in grade.integrity if ASKED in line]  # what the answers called while asked (`watch`)
    assert any(line.startswith("cell test-attention: `attention`") and "torch.softmax" in line for line in asked), asked
    assert any(line.startswith("cell test-layer-norm-backward:") and "torch.nn.functional.layer_norm" in line
               and "torch._tensor.Tensor.backward" in line for line in asked), asked
    assert WITHHELD in grade.cells["test-softmax-backward"].message
    assert WITHHELD in grade.cells["test-multi-head-attention"].message


def test_lying_mutating_and_hostile_answers_earn_nothing_and_cost_nothing_else(graded) -> None:  # noqa: ANN001
    grade = graded["ch10-lies-and-hostile-exceptions"]
    attacked = {"test-layer-norm", "test-transformer-block", "test-split-heads", "test-causal-mask"}
    _lost_only(grade, attacked | {"test-transformer-block-backward", "test-multi-head-attention"})  # use split_heads
    assert not any("process ended" in e or "ran the notebook again" in e for e in grade.events), grade.events
    assert "raised Boom: (its message could not be read" in grade.cells["test-split-heads"].message
    causal = grade.cells["test-causal-mask"].message
    assert "SystemExit" in causal or "Evil" in causal
    assert "\x1b" not in causal and "\x07" not in causal and len(causal) <= 4000
    assert not [line for line in grade.integrity if FRAMEWORK in line]


def test_honest_answers_in_these_chapters_are_not_flagged_as_framework_code(graded) -> None:  # noqa: ANN001
    """The solutions' demo cells compare with torch; no solution cell's function is said to use it."""
    for name in ("ch09-library-layers", "ch10-library-layers", "ch10-lies-and-hostile-exceptions"):
        assert not [line for line in graded[name].integrity if FRAMEWORK in line or ASKED in line], graded[name].integrity


# --- a class: hostile submissions beside honest ones, through the batch, the gradebook and the feedback -----

DOS_09 = {  # name -> the answers replaced (their own cells are right, but for the last submission's two)
    "floods-forks-and-fills-while-asked": {"one-hot-text": '''
def one_hot_text(text, vocab):
    print("spam " * 2_000_000)  # 10 MB on every call, while the grader asks
    index = {ch: i for i, ch in enumerate(vocab)}
    out = np.zeros((len(text), len(vocab)))
    for t, ch in enumerate(text):
        out[t, index[ch]] = 1.0
    return out
''', "clip-by-norm": '''
import os, time

def clip_by_norm(grads, max_norm):
    for _ in range(200):  # children that outlive the answer, up to the process limit
        try:
            if os.fork() == 0:
                time.sleep(600)
                os._exit(0)
        except OSError:
            break
    try:
        with open("/tmp/fill", "ab") as f:  # the sandbox's /tmp, until it is full
            while True:
                f.write(b"x" * 2**20)
    except OSError:
        pass
    norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))
    return [g * (max_norm / norm if norm > max_norm else 1.0) for g in grads]
'''},
    "kills-its-runner-while-asked": {"inputs-and-targets": '''
import os, signal
for pid in sorted((p for p in os.listdir("/proc") if p.isdigit()), key=int, reverse=True):
    try:  # every process it can see: its own namespace's, and the fork server's
        os.kill(int(pid), signal.SIGKILL)
    except OSError:
        pass

def inputs_and_targets(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    return ids[: n * seq_len].reshape(n, seq_len), ids[1 : n * seq_len + 1].reshape(n, seq_len)
''', "lstm-step": SIGMOID + '''
import os

def lstm_step(x, h_prev, c_prev, Wx, Wh, b):
    os._exit(3)
''', "temperature-softmax": '''
class Endless:
    def __repr__(self): return repr(self)
    def __array__(self, *a, **k): raise RuntimeError("no")

def temperature_softmax(logits, temperature):
    return Endless()
'''},
}


def test_a_class_with_hostile_submissions_grades_everyone_else_exactly_and_writes_their_feedback(tmp_path) -> None:  # noqa: ANN001
    require(shutil.which("bwrap") is not None, "bubblewrap (bwrap) is not installed")
    require(sandbox.bwrap_problem() is None, f"bwrap does not work here: {sandbox.bwrap_problem()}")
    from gradbook_grader.batch import grade_assignment
    from gradbook_grader.feedback import run_feedback, visible_text
    from grader_helpers import answered, scratch_course, submit

    course = scratch_course(tmp_path, assignments=(CH09,))
    wrong = {"temperature-softmax": "def temperature_softmax(logits, temperature):\n    return logits / temperature\n"}
    honest = {"honest-one-wrong": answered(course, CH09, wrong)}
    folder = tmp_path / "submitted"
    for name, nb in honest.items():
        submit(folder, name, CH09, nb)
    for name, answers in DOS_09.items():
        submit(folder, name, CH09, answered(course, CH09, answers))
    report = grade_assignment(course, CH09, folder, workers=2, limits=LIMITS, progress=False)
    results = {r.student: r for r in report.results}
    assert sorted(results) == sorted([*honest, *DOS_09]) and all(r.error is None for r in results.values())
    mine = results["honest-one-wrong"]
    assert mine.score == mine.max_score - 2 - 1  # the written answer waits for a person; one answer is wrong
    assert [g for g, c in mine.cells.items() if not c.passed and not c.manual] == ["test-temperature-softmax"]
    for name, answers in DOS_09.items():  # right answers keep their points however they behave; nothing else is lost
        lost = {_test_cell(gid) for gid in answers} if name == "kills-its-runner-while-asked" else set()
        assert all((c.points == 0) == (gid in lost) for gid, c in results[name].cells.items() if not c.manual), (
            name, {g: c.message[:200] for g, c in results[name].cells.items() if not c.passed})
    run = run_feedback(course, CH09)
    assert not run.failed, run.failed
    for name in honest:
        page = visible_text((course.feedback_dir(name, CH09) / f"{CH09}.html").read_text())
        assert f"Score: {results[name].score:g} / {results[name].max_score:g}" in page, page[:500]
