"""Chapter 2's public half: loops only, the chapter's rule (`RULE`): array inputs arrive as `LoopArray`s.

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch02.answers` holds its answers).
No answer is computed here: a driver builds the call the exercise asks for, calls the answer and reads
its result back (`gradbook.checks.drivers`)."""

from __future__ import annotations

import sys
from typing import Any, Callable, Iterator

import numpy as np

from gradbook.checks.drivers import Case, Rule
from gradbook.i18n import N_, _


VECTORISED = "vectorised: "  # an answer that used a whole-array operation returns this, then what it used
LOOPS_ONLY = N_(
    "this chapter's rule is loops only: write it with `for` loops over the indices, reading single "
    "entries (x[i, j]), as the hardware does one number at a time. NumPy's whole-array operations "
    "come afterwards, when you time them against your loops."
)


class VectorisedCall(TypeError):
    """A whole-array operation on an input of a loops-only exercise."""


class LoopArray:
    """An input of a loops-only exercise: entries can be read and written one at a time, no more.

    It has ``shape``, ``ndim``, ``dtype``, ``size``, ``len()``, iteration, indexing (a single
    entry is a number; a row or slice is another `LoopArray`), ``item()`` and ``copy()``.
    Anything that works on the whole array at once (an operator, a NumPy function or ufunc,
    ``.T``, ``.sum()``, ``np.array(x)``) raises `VectorisedCall`, naming what was used.
    ``np.zeros_like(x)`` and friends are allowed: they only make a new buffer.
    """

    _ALLOWED = frozenset({"zeros_like", "empty_like", "ones_like", "full_like", "shape", "ndim", "size", "copy"})

    def __init__(self, array: np.ndarray) -> None:
        self._array = array

    def __getattribute__(self, name: str) -> Any:
        # The whole array, or the instance's dict that holds it, read by code other than this module's (`x._array`,
        # `vars(x)`): a way round the rule. (Within the student's process a determined answer still gets there, by
        # `object.__getattribute__` or the garbage collector: the grader's `watch` records the latter.)
        if name in _PRIVATE and sys._getframe(1).f_globals is not _MODULE:
            raise VectorisedCall(VECTORISED + f"x.{name}")
        return object.__getattribute__(self, name)

    shape = property(lambda self: self._array.shape)
    ndim = property(lambda self: self._array.ndim)
    dtype = property(lambda self: self._array.dtype)
    size = property(lambda self: self._array.size)

    def copy(self) -> LoopArray:
        return LoopArray(self._array.copy())

    def item(self, *index: int) -> Any:
        return self._array.item(*index)

    def __len__(self) -> int:
        return len(self._array)

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(len(self._array)))

    def __getitem__(self, index: Any) -> Any:
        _no_array_index(index)
        item = self._array[index]
        return LoopArray(item) if isinstance(item, np.ndarray) else item

    def __setitem__(self, index: Any, value: Any) -> None:
        _no_array_index(index)
        one_entry = isinstance(self._array[index], np.generic)
        if not one_entry or isinstance(value, (LoopArray, np.ndarray)) or np.ndim(value) != 0:
            raise VectorisedCall(VECTORISED + _("an assignment to more than one entry at once (x[...] = ...)"))
        self._array[index] = value

    def __repr__(self) -> str:
        return f"LoopArray({self._array!r})"

    def __getattr__(self, name: str) -> Any:
        if name in ("__array_interface__", "__array_struct__"):  # NumPy's other ways in: it falls back to __array__,
            raise AttributeError(name)  # which knows who asks (np.ndenumerate's loop over entries may)
        if name.startswith("__array"):  # NumPy asking how to convert the whole array
            self.__array__()
        if hasattr(np.ndarray, name):
            raise VectorisedCall(f"{VECTORISED}x.{name}")
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        if sys._getframe(1).f_code is _NDENUMERATE:  # `for index, v in np.ndenumerate(x)`: one entry at a time
            view = self._array.view()
            view.flags.writeable = False
            return view
        raise VectorisedCall(VECTORISED + _("np.array(x) (a conversion of the whole array)"))

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        raise VectorisedCall(f"{VECTORISED}np.{ufunc.__name__}")

    def __array_function__(self, func: Any, types: Any, args: tuple, kwargs: dict) -> Any:
        if func.__name__ not in self._ALLOWED:
            raise VectorisedCall(f"{VECTORISED}np.{func.__name__}")
        result = func(*(a._array if isinstance(a, LoopArray) else a for a in args), **kwargs)
        return LoopArray(result) if func.__name__ == "copy" else result


_PRIVATE = frozenset({"_array", "__dict__"})
_MODULE = globals()
_NDENUMERATE = np.ndenumerate.__init__.__code__  # the one caller whose conversion is a loop over entries


def _no_array_index(index: Any) -> None:
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, (LoopArray, np.ndarray, list)) for p in parts):
        raise VectorisedCall(VECTORISED + _("indexing with an array or a list (fancy indexing)"))


def _refuse(symbol: str) -> Callable[..., Any]:
    def refuse(self: LoopArray, *args: Any) -> Any:
        raise VectorisedCall(VECTORISED + _("the operator {symbol}").format(symbol=symbol))

    return refuse


for _name, _symbol in {
    "add": "+", "sub": "-", "mul": "*", "truediv": "/", "floordiv": "//", "mod": "%", "pow": "**", "matmul": "@",
}.items():
    for _form in ("__{}__", "__r{}__", "__i{}__"):
        setattr(LoopArray, _form.format(_name), _refuse(_symbol))
_UNARY_AND_COMPARISONS = {"neg": "-", "pos": "+", "abs": "abs()", "invert": "~", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
for _name, _symbol in _UNARY_AND_COMPARISONS.items():
    setattr(LoopArray, f"__{_name}__", _refuse(_symbol))


def run_loops(student: Any, case: Case) -> Any:
    """Chapter 2's rule, "loops over the indices, read single entries": array inputs arrive as
    `LoopArray`s. A whole-array operation returns ``"vectorised: <what was used>"``."""
    args = tuple(LoopArray(a) if isinstance(a, np.ndarray) else a for a in case.args)
    try:
        result = student(*args, **case.kwargs)
    except VectorisedCall as refused:
        return str(refused)
    return result._array if isinstance(result, LoopArray) else result


RULE = Rule("ch02.loops", VECTORISED, N_("you used {what}, which works on whole arrays at once."), LOOPS_ONLY)


# the drivers of this chapter's exercises, by the name an `Exercise` gives as `run=`
DRIVERS: dict[str, Callable[[Any, Case], Any]] = {
    "ch02.loops": run_loops,
}

ARGUMENTS_AS_GIVEN = frozenset({"ch02.loops"})  # these call the answer with the case's own arguments
