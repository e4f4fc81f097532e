"""What an exercise's outputs are, in its own terms: each output's name and what each of its axes counts.

An `Exercise` declares `outputs`: one `Output` for a single result, a tuple of them for a tuple, a
dict of them for a dict (or a function of the case that returns one of these, when the names come
from the case: the nodes of a graph, the entries of several parameters). An `Output` has a name
(``dW1``, ``m``) and one `Axis` per axis of its array, which says what an index along it is (a
sample, an optimisation step, a node of the graph, ...) and how one index is called (``step 3``,
``node v5 (v5 = v3 * v4)``).

Messages use it to say *where* a value is wrong in the exercise's words, and the generic leads
(`diagnose`) use the axes' meaning to decide which cause they may name: a loop that stops early is
only said of an axis a loop runs along (`LOOPS`), a wrong row only of an axis of samples. An axis
with no declared meaning gets no loop-shaped lead at all; then the message says plainly where the
values differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence, Union

from gradbook.i18n import N_, _, pgettext

# What an axis counts; each has how one index along it is called (shown translated).
LABELS = {
    "steps": N_("step {n}"),
    "time": N_("time step {n}"),
    "index": N_("index {n}"),
    "samples": N_("sample {n}"),
    "rows": N_("row {n}"),
    "columns": N_("column {n}"),
    "nodes": N_("node {n}"),
    "parameters": N_("parameter {n}"),
    "classes": N_("class {n}"),
    "features": N_("feature {n}"),
    "units": N_("unit {n}"),
    "channels": N_("channel {n}"),
    "epochs": N_("epoch {n}"),
    "hidden": N_("hidden unit {n}"),
    "outputs": N_("output unit {n}"),
}
LOOPS = frozenset({"steps", "time", "epochs"})  # axes that are a loop's iterations whatever the answer's style


@dataclass(frozen=True)
class Axis:
    """What an index along one axis is: `meaning` (a key of `LABELS`, or "" for nothing declared), the
    number the first index is shown as (`first`: 1 for "step 1"), and optionally each index's own name."""

    meaning: str = ""
    first: int = 0
    names: Sequence[str] = ()
    loop: bool | None = None  # the exercise asks for a loop along this axis (default: the meaning is in LOOPS)

    @property
    def looped(self) -> bool:
        return self.meaning in LOOPS if self.loop is None else self.loop

    def __post_init__(self) -> None:
        if self.meaning and self.meaning not in LABELS:
            raise ValueError(f"unknown axis meaning {self.meaning!r}; known: {sorted(LABELS)}")

    def name(self, index: int) -> str:
        if index < len(self.names):
            return self.names[index]
        if self.meaning:
            return _(LABELS[self.meaning]).format(n=index + self.first)
        return str(index)


@dataclass(frozen=True)
class Output:
    """One output: its name in the exercise (``dW1``; "" for the exercise's result itself) and its axes."""

    name: str = ""
    axes: tuple[Axis, ...] = ()
    last: bool = False  # an array of fewer axes has the LAST ones (one sample of (samples, classes): its classes)

    def axes_of(self, ndim: int) -> tuple[Axis, ...]:
        """The declared axes of an array of `ndim` axes: the first `ndim` of them (a matrix's rows are a
        vector's entries), or the last ones (`last`), none where more are asked than declared."""
        if len(self.axes) < ndim:
            return (Axis(),) * ndim
        return tuple(self.axes[len(self.axes) - ndim:]) if self.last else tuple(self.axes[:ndim])


def word(axis: Axis, plural: bool = False) -> str:
    """The axis's word in a sentence ("only the last step", "along the steps"), translated; "" when nothing is
    declared. (A context of their own: a language may say one of these with its measure word, 一步, 一个样本.)"""
    if not axis.meaning:
        return ""
    words = {
        "steps": (pgettext("axis", "step"), pgettext("axis", "steps")),
        "time": (pgettext("axis", "time step"), pgettext("axis", "time steps")),
        "index": (pgettext("axis", "index"), pgettext("axis", "indices")),
        "samples": (pgettext("axis", "sample"), pgettext("axis", "samples")),
        "rows": (pgettext("axis", "row"), pgettext("axis", "rows")),
        "columns": (pgettext("axis", "column"), pgettext("axis", "columns")),
        "nodes": (pgettext("axis", "node"), pgettext("axis", "nodes")),
        "parameters": (pgettext("axis", "parameter"), pgettext("axis", "parameters")),
        "classes": (pgettext("axis", "class"), pgettext("axis", "classes")),
        "features": (pgettext("axis", "feature"), pgettext("axis", "features")),
        "units": (pgettext("axis", "unit"), pgettext("axis", "units")),
        "channels": (pgettext("axis", "channel"), pgettext("axis", "channels")),
        "epochs": (pgettext("axis", "epoch"), pgettext("axis", "epochs")),
        "hidden": (pgettext("axis", "hidden unit"), pgettext("axis", "hidden units")),
        "outputs": (pgettext("axis", "output unit"), pgettext("axis", "output units")),
    }
    return words[axis.meaning][int(plural)]


Outputs = Union[Output, tuple, dict, None]  # an Output, a tuple or dict of Outputs, or nothing declared
Declared = Union[Outputs, Callable[[Any], Outputs]]  # or a function of the case


def resolve(declared: Declared, case: Any) -> Outputs:
    return declared(case) if callable(declared) and not isinstance(declared, Output) else declared


def part(outputs: Outputs, key: Any) -> Output | None:
    """The declared output for item `key` of a tuple or dict output (None when not declared)."""
    if isinstance(outputs, tuple) and isinstance(key, int) and key < len(outputs):
        return outputs[key] if isinstance(outputs[key], Output) else None
    if isinstance(outputs, dict):
        found = outputs.get(key)
        return found if isinstance(found, Output) else None
    return None


def where(output: Output | None, index: tuple[int, ...]) -> str:
    """Where one value is, in the exercise's words: ``step 3, b[1]``; ``index (5, 6)`` without a declaration."""
    axes = output.axes_of(len(index)) if output is not None else ()
    if not any(a.meaning or a.names for a in axes):
        return _("index {index}").format(index=index)
    named = [axis.name(i) for axis, i in zip(axes, index) if axis.meaning or axis.names]
    rest = tuple(i for axis, i in zip(axes, index) if not (axis.meaning or axis.names))
    if rest:
        named.append(_("index {index}").format(index=rest if len(rest) > 1 else rest[0]))
    text = named[0]
    for more in named[1:]:
        text = _("{where}, {more}").format(where=text, more=more)
    return text


def entries(names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> list[str]:
    """The name of every entry of several arrays flattened and joined: ``W[0, 1]``, ``b[2]``."""
    out = []
    for name, shape in zip(names, shapes):
        count = 1
        for n in shape:
            count *= n
        for flat in range(count):
            index, rest = [], flat
            for n in reversed(shape):
                index.append(rest % n)
                rest //= n
            out.append(f"{name}[{', '.join(str(i) for i in reversed(index))}]" if shape else name)
    return out
