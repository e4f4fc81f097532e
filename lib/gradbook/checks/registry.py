"""The course's chapters: the one list that the checks, the grader, the release, the tests and the bench read.

A chapter is one package, ``gradbook/checks/chNN/``:

* ``public.py`` (optional), its public half: what the grading sandbox and the student edition hold of
  it, as it is: the drivers of its exercises (`DRIVERS`, by the name an `Exercise` gives as ``run=``),
  the helpers it gives students (`HELPERS`, names the notebook imports from the chapter), the drivers
  that call the answer with the case's own arguments (`ARGUMENTS_AS_GIVEN`: the message then names the
  inputs by the reference's parameter names), and its rule (`RULE`, a `drivers.Rule`: every exercise of
  the chapter is run through the rule's driver). No answer is computed there.
* ``answers.py``, its answers half: its `Exercise` objects (references, mistakes, case generators,
  compare functions). Never in a grading sandbox (the grader's answers.py) nor in the student edition
  (recording.py ships recordings in its place).
* ``__init__.py``: what ``from gradbook.checks import chNN as check`` gives a notebook: both halves.

Adding a chapter is one line here (docs/authoring.md, "Adding a chapter"). This module imports the
chapters' public halves only, and only when asked: `gradbook.checks.core` reads drivers and rules
through it, so it must not import `core`.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import gradbook.checks.drivers as drivers
from gradbook.checks.drivers import Case, Rule


@dataclass(frozen=True)
class Chapter:
    """One chapter of the course.

    key       ``"ch05"``: its exercises are named ``"ch05.*"``; notebooks import ``gradbook.checks.ch05``.
    notebook  ``"05-softmax-and-classification"``: ``solutions/<notebook>.ipynb``, the nbgrader assignment.
    title     the chapter's title, in English (its notebooks give it in each language).
    builds    what the student builds in it, in a line (the README's table).
    package   the chapter's package (default ``gradbook.checks.<key>``).
    library   the library code whose arithmetic the chapter teaches, as dotted paths (a layer's kernel, an
              engine's primitive): withheld while the chapter is graded, as its exercises' `library_answers`
              are, for the answers that this code computes once wrapped (an exercise's `rnn_forward` is a
              `SimpleRNN` with its weights set) rather than being one of them itself.
    """

    key: str
    notebook: str
    title: str
    builds: str
    package: str = ""
    library: tuple[str, ...] = ()

    @property
    def module(self) -> str:
        return self.package or f"{__package__}.{self.key}"

    @property
    def number(self) -> int:
        return int(self.key[2:])


def _sequence_kernels(*names: str) -> tuple[str, ...]:
    """Kernels of `gradbook.reference.sequence`: both engines' sequence layers run them (the torch path's too)."""
    return tuple(f"gradbook.reference.sequence.{name}" for name in names)


CHAPTERS: tuple[Chapter, ...] = (
    Chapter("ch00", "00-what-is-deep-learning", "What is deep learning?",
            "the five-step training loop on a 1-D linear model"),
    Chapter("ch01", "01-tensors", "Tensors", "shapes, slicing, MNIST as `(n, 784)` in [0, 1], one-hot labels"),
    Chapter("ch02", "02-tensor-operations", "Tensor operations", "relu, add, broadcasting and dot products with loops"),
    Chapter("ch03", "03-perceptron-and-xor", "The perceptron and XOR",
            "the perceptron rule, `dense`, a 2-2-1 network that solves XOR"),
    Chapter("ch04", "04-backprop-by-hand", "Backpropagation by hand",
            "forward and backward of a 2-layer network, a gradient check"),
    Chapter("ch05", "05-softmax-and-classification", "Softmax and classification",
            "stable softmax, cross-entropy, an MNIST classifier from your parts"),
    Chapter("ch06", "06-optimizers", "Optimisers", "gradient descent, mini-batches, momentum, RMSprop, Adam"),
    Chapter("ch07", "07-convolution", "Convolution", "conv2d with loops and im2col, its backward, max-pooling, a CNN"),
    Chapter("ch08", "08-frameworks", "Frameworks: automatic differentiation",
            "a reverse-mode autograd `Value`, checked against PyTorch"),
    Chapter("ch09", "09-sequences", "Sequences: recurrent networks",
            "a recurrent cell and backpropagation through time by hand, an LSTM cell, a character-level language model",
            library=_sequence_kernels("EmbeddingKernel", "SimpleRNNKernel", "LSTMKernel", "_recurrent_gradients")
            + ("gradbook.reference.numpy_engine.NumpySequenceOps.add_rows",  # an embedding's backward: repeated ids add
               "gradbook.torch_path.engine.TorchSequenceOps.add_rows",
               "gradbook.widgets.through_time.GradientThroughTime.clip_factor")),
    Chapter("ch10", "10-attention", "Attention and a tiny transformer",
            "scaled dot-product attention, masks, heads, a transformer block's backward, a character-level transformer",
            library=_sequence_kernels("LayerNormKernel", "AttentionKernel", "TransformerBlockKernel")
            + ("gradbook.reference.sequence_layers.MultiHeadAttention._attention_mask",  # the causal mask, in the layers
               "gradbook.reference.sequence_layers.TransformerBlock._mask")),
)


class UnknownChapter(KeyError):
    """A chapter, notebook or driver that no chapter of `CHAPTERS` has."""

    def __str__(self) -> str:
        return str(self.args[0])


def chapters() -> tuple[Chapter, ...]:
    return CHAPTERS


def chapter(key: str) -> Chapter:
    """The chapter ``"ch05"`` (or the chapter of an exercise, ``"ch05.softmax"``)."""
    key = key.split(".")[0]
    for known in CHAPTERS:
        if known.key == key:
            return known
    raise UnknownChapter(f"no chapter {key!r} in gradbook.checks.registry.CHAPTERS "
                         f"(the chapters are {', '.join(c.key for c in CHAPTERS)}): add its line there")


def by_notebook(stem: str) -> Chapter | None:
    """The chapter whose notebook (an nbgrader assignment) is ``stem``, or None."""
    return next((c for c in CHAPTERS if c.notebook == stem), None)


@lru_cache(maxsize=None)  # asked on every judgement (a driver, a rule): look for the file once
def public(known: Chapter) -> ModuleType | None:
    """The chapter's public half, or None when it has none (it uses the shared drivers only).

    Found by its file, not through the chapter's package in `sys.modules`: in a grading sandbox, a cell
    that puts a fake chapter module there must not change, or break, which driver answers the grader's
    questions (tests/test_redteam.py, fake-checks-module)."""
    path = _public_file(known)
    if path is None:
        return None
    name = f"{known.module}.public"
    loaded = sys.modules.get(name)
    if isinstance(loaded, ModuleType) and Path(getattr(loaded, "__file__", None) or "").resolve() == path:
        return loaded
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _public_file(known: Chapter) -> Path | None:
    """Where the chapter's ``public.py`` is, found without importing its package."""
    if known.module.startswith(f"{__package__}."):  # a chapter of this package: beside this file
        folder: Path | None = Path(__file__).resolve().parent.joinpath(*known.module.split(".")[2:])
    else:
        try:
            spec = importlib.util.find_spec(known.module)
        except (ImportError, ValueError):
            spec = None
        folder = Path(spec.origin).resolve().parent if spec is not None and spec.origin else None
    path = folder / "public.py" if folder is not None else None
    return path if path is not None and path.is_file() else None


def _public_of(exercise_or_driver: str) -> ModuleType | None:
    try:
        return public(chapter(exercise_or_driver))
    except UnknownChapter:
        return None


def driver(name: str) -> Callable[[Any, Case], Any]:
    """The driver called `name`: a shared one (``"call"``) or its chapter's (``"ch03.dense"``)."""
    if name in drivers.DRIVERS:
        return drivers.DRIVERS[name]
    own = getattr(_public_of(name), "DRIVERS", {})
    if name not in own:
        raise UnknownChapter(f"unknown driver {name!r}: a driver is {sorted(drivers.DRIVERS)} or one of its "
                             "chapter's public half (chNN/public.py, DRIVERS)")
    return own[name]


def all_drivers() -> dict[str, Callable[[Any, Case], Any]]:
    """Every driver of every chapter, by name."""
    found = dict(drivers.DRIVERS)
    for known in CHAPTERS:
        found.update(getattr(public(known), "DRIVERS", {}))
    return found


def arguments_as_given(name: str) -> bool:
    """Does the driver `name` call the answer with the case's own arguments (so they can be named)?"""
    return name in drivers.ARGUMENTS_AS_GIVEN or name in getattr(_public_of(name), "ARGUMENTS_AS_GIVEN", ())


def rule(exercise_name: str) -> Rule | None:
    """The rule of the chapter an exercise (``"chNN.what"``) belongs to, if it has one."""
    return getattr(_public_of(exercise_name), "RULE", None)


def helpers(known: Chapter) -> tuple[str, ...]:
    """The names the chapter gives students (its public half's `HELPERS`)."""
    return tuple(getattr(public(known), "HELPERS", ()))
