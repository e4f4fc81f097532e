"""A class's written answers to chapter 5's `softmax-shift`, synthetic and labelled, graded by the stand-in
execution side (`fake_grading`): for tests/test_grade_by_question.py and bench/bench_grade_by_question.py.

Answers come in families, as a real class's do: a few common answers, each copied verbatim, re-typed
(case, punctuation, spacing) or edited a little (a typo, a word dropped or added); answers nobody else
wrote; blank ones (nothing, the released "YOUR ANSWER HERE", spaces). Each answer is labelled with its
family, how it was made from it and the score a careful grader gives it, so a test can check the
grouping and a bench can grade the class as a person would, without looking at the grouping.
One edit flips the meaning ("does not change" -> "does change"): near-identical, yet wrong.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import nbformat

from fake_grading import honest, small_course
from fake_grading import grade_submission as fake_grade
from gradbook_grader.batch import grade_assignment
from gradbook_grader.course import Course

CH05 = "05-softmax-and-classification"
QUESTION = "softmax-shift"

# family -> (answer, the score a careful grader gives it, the rubric comment that says why)
FAMILIES = {
    "full": ("Subtracting the max multiplies the numerator and every term of the denominator by exp(-max), "
             "which cancels, so the probabilities do not change. With the max every exponent is at most 0, so "
             "nothing overflows and the largest term is 1, so the sum is never 0. With the mean a logit far above "
             "it still overflows.", 2.0, "Cancels, no overflow, and why not the mean"),
    "cancels": ("The shift cancels between numerator and denominator so the result does not change, and "
                "subtracting the biggest value keeps the exponentials from overflowing.", 1.5,
                "Cancels and no overflow, but not why the max rather than the mean"),
    "overflow": ("We subtract the maximum so that exp does not overflow for large logits.", 1.0,
                 "Overflow only: why the probabilities are unchanged is missing"),
    "normalise": ("Subtracting the max normalises the logits so that they add up to one like probabilities.", 0.0,
                  "Confuses the shift with normalisation"),
    "mean": ("The mean would work just as well because any constant cancels in the softmax.", 0.5,
             "Cancels, but the mean does not prevent overflow"),
}
FLIPPED = ("full", "do not change", "do change", 0.5, "Says the probabilities change")  # family, old, new, score, why
UNIQUE = [
    "Because of numerical stability reasons, I read this in the lecture notes.",
    "softmax(z - c) = softmax(z) for any c; the max keeps every exponent non-positive.",
    "It has to do with floating point: e^1000 is inf in float64.",
    "The exponential function grows fast; subtracting the largest number means the biggest exponent is e^0.",
    "I am not sure, maybe it makes the gradient smaller?",
    "Shifting changes nothing mathematically; numerically it avoids inf/inf = nan.",
    "With the mean, half the logits are still positive and can overflow, the max avoids that.",
    "Dividing by the sum makes it a distribution; the shift is about overflow in exp.",
    "Max-shift: exponents <= 0, denominator >= 1, so no overflow and no division by zero.",
    "The largest logit dominates anyway so removing it is harmless.",
    "It is the log-sum-exp trick applied to softmax.",
    "Because exp(a - b) = exp(a) / exp(b) and the exp(b) cancels.",
]
UNIQUE_SCORES = [0.5, 1.5, 1.0, 1.0, 0.0, 1.5, 1.0, 1.0, 2.0, 0.0, 0.5, 1.0]
BLANKS = ["", "YOUR ANSWER HERE", "   \n", "YOUR ANSWER HERE\n"]


@dataclass
class Written:
    student: str
    text: str
    family: str  # a FAMILIES key, "unique-N", "blank" or "flipped"
    how: str  # "copy", "retyped" (equal once normalised), "edited" (near-identical), "unique", "blank", "flipped"
    score: float  # what a careful grader gives it
    why: str  # the rubric comment that says why


def _retyped(text: str, rng: random.Random) -> str:
    """The same answer typed again: case, punctuation and spacing only."""
    text = text.lower() if rng.random() < 0.5 else text.upper() if rng.random() < 0.2 else text
    text = text.replace(",", "") if rng.random() < 0.5 else text.replace(", ", " , ")
    text = text.rstrip(".") + ("!" if rng.random() < 0.3 else "")
    return "  " + text.replace(" ", "  ", 2) + "\n"


def _edited(text: str, rng: random.Random) -> str:
    """The same answer with a small edit: a typo, a word dropped or a word added."""
    words = text.split(" ")
    at = rng.randrange(1, len(words) - 1)
    kind = rng.choice(["typo", "drop", "add"])
    if kind == "typo" and len(words[at]) > 3:
        w = words[at]
        words[at] = w[:1] + w[2] + w[1] + w[3:]
    elif kind == "drop":
        del words[at]
    else:
        words.insert(at, rng.choice(["really", "just", "basically", "also"]))
    return " ".join(words)


def synthetic_class(size: int = 200, seed: int = 0) -> list[Written]:
    """`size` labelled answers (at least 40): about 8% blank, 6% unique, 2 flipped, the rest in the families
    (a third verbatim copies, a third re-typed, a third edited)."""
    rng = random.Random(seed)
    out: list[Written] = []
    blanks = max(2, size * 8 // 100)
    uniques = min(len(UNIQUE), max(2, size * 6 // 100))
    for k in range(blanks):
        out.append(Written("", BLANKS[k % len(BLANKS)], "blank", "blank", 0.0, "No answer"))
    for k in range(uniques):
        out.append(Written("", UNIQUE[k], f"unique-{k}", "unique", UNIQUE_SCORES[k], "Graded on its own"))
    family, old, new, score, why = FLIPPED
    for k in range(2):
        text = FAMILIES[family][0].replace(old, new)
        out.append(Written("", text if k == 0 else _retyped(text, rng), "flipped", "flipped", score, why))
    weights = [5, 3, 3, 2, 1]
    names = list(FAMILIES)
    while len(out) < size:
        name = rng.choices(names, weights)[0]
        text, score, why = FAMILIES[name]
        how = rng.choice(["copy", "retyped", "edited"])
        made = text if how == "copy" else _retyped(text, rng) if how == "retyped" else _edited(text, rng)
        out.append(Written("", made, name, how, score, why))
    rng.shuffle(out)
    for n, answer in enumerate(out):
        answer.student = f"s{n:04d}"
    return out


def graded_class(root: Path, answers: list[Written]) -> Course:
    """A course of chapter 5 whose students submitted these answers (everything else solved), graded:
    the written answers wait for a person in nbgrader's gradebook."""
    course = small_course(root, (CH05,))
    source = nbformat.read(course.source(CH05), as_version=4)
    folder = root / "submitted"
    for answer in answers:
        nb = honest(source, {QUESTION: answer.text})
        (folder / answer.student / CH05).mkdir(parents=True)
        nbformat.write(nb, folder / answer.student / CH05 / f"{CH05}.ipynb")
    report = grade_assignment(course, CH05, folder, workers=1, progress=False, grade=fake_grade)
    assert not [r for r in report.results if r.error], [r.error for r in report.results if r.error]
    return course
