"""Chapter 5's public half: the drivers of the activation answers and of loss-and-gradients.

What the grading sandbox and the student edition hold of this chapter (`gradbook.checks.ch05.answers` holds its answers).
No answer is computed here: a driver builds the call the exercise asks for, calls the answer and reads
its result back (`gradbook.checks.drivers`)."""

from __future__ import annotations

from typing import Any, Callable

from gradbook.checks.ch04.public import GRADIENT_NAMES
from gradbook.checks.drivers import Case, Unfinished, unpack
from gradbook.i18n import _


def run_activation_answers(student: Any, case: Case) -> Any:
    answer = student()
    if isinstance(answer, dict) and answer and all(v is None for v in answer.values()):
        raise NotImplementedError()  # the notebook starts with every answer set to None
    if isinstance(answer, dict) and any(v is None for v in answer.values()):
        missing = ", ".join(repr(str(k)) for k, v in answer.items() if v is None)
        raise Unfinished(_("no answer yet for {missing}: replace its None with the activation's name").format(missing=missing))
    if isinstance(answer, dict):
        return {str(k): str(v).strip().lower() for k, v in answer.items()}
    return answer


def run_loss_and_grads(student: Any, case: Case) -> Any:
    loss, grads = unpack(student(*case.args), "loss, grads")
    if not isinstance(grads, dict):
        return {"loss": loss, "grads": grads}
    return {"loss": loss} | {k: grads[k] for k in GRADIENT_NAMES if k in grads}


# the drivers of this chapter's exercises, by the name an `Exercise` gives as `run=`
ARGUMENTS_AS_GIVEN = frozenset({"ch05.loss_and_grads"})  # these call the answer with the case's own arguments

DRIVERS: dict[str, Callable[[Any, Case], Any]] = {
    "ch05.output_activations": run_activation_answers,
    "ch05.loss_and_grads": run_loss_and_grads,
}
