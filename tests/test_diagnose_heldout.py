"""A held-out set of students' answers (tests/heldout_corpus.py, written from the chapters' text and reference
solutions, not from their lists of mistakes) judged as a student meets them: the visible check, then the hidden one.

* no wrong answer passes and no correct one (other loops, einsum, in-place updates, other dtypes) fails;
* at least 80 % of the failing messages name the mistake: one of the entry's words (the words a teacher would
  use for it) is in what the message says about the answer, not in the case's label or values;
* in Chinese, no template seam: a doubled measure word (一个一步, 第一一), ASCII punctuation after Chinese.

Every answer runs once (shared by the tests); the lesson is judged in English and in Chinese from the same
observation, as the grader judges a cell.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pytest

import heldout_corpus as corpus
from gradbook.checks import load_all, plain
from gradbook.checks.ch07 import col2im
from gradbook.checks.core import collect, judge

pytestmark = pytest.mark.slow  # the shared run of every answer takes ~17 s (5 s of CPU) on a busy 2-core machine

EXERCISES = load_all()
NAMED_FLOOR = 0.8
SEAMS = re.compile(r"一个一|第一一|个一[步轮]|[\u4e00-\u9fff]: |[\u4e00-\u9fff][.,;:]$|[\u4e00-\u9fff], ")


@dataclass
class Judged:
    entry: corpus.Entry
    passed: bool
    english: str = ""
    chinese: str = ""


def _namespace(chapter: str) -> dict:
    """What the chapter's notebook has defined when the student's cell runs: numpy, its helpers, the earlier answers."""
    x2 = np.array([[5, 78, 2, 34, 0], [6, 79, 3, 35, 1], [7, 80, 4, 36, 2]])
    ns = {"np": np, "math": math, "__name__": "__student__", "col2im": col2im, "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
          "x0": np.array(12), "x1": np.array([12, 3, 6, 14, 7]), "x2": x2, "x3": np.array([x2, x2 + 100])}
    for name, exercise in EXERCISES.items():
        if name.startswith(chapter + "."):
            reference = exercise.reference
            if isinstance(reference, type):
                ns[reference.__name__] = reference
            elif callable(reference):
                ns[getattr(reference, "__name__", exercise.title)] = ns[exercise.title] = reference
    return ns


def _run(entry: corpus.Entry) -> Judged:
    name, cell, expression, _said = entry
    exercise = EXERCISES[name]
    ns = _namespace(name[:4])
    exec(cell, ns)  # noqa: S102 - the corpus's own answers
    answer = eval(expression, ns)  # noqa: S307
    student = (lambda *args, **kwargs: answer) if exercise.value else answer
    for hidden in (False, True):
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            observation = plain.loads(plain.dumps(collect(exercise, student, int(hidden), hidden)))
        verdict = judge(exercise, observation, "en")
        if not verdict.passed:
            return Judged(entry, False, verdict.message, judge(exercise, observation, "zh_CN").message)
    return Judged(entry, True)


@pytest.fixture(scope="module")
def judged() -> dict[str, list[Judged]]:
    return {"wrong": [_run(e) for e in corpus.WRONG], "right": [_run(e) for e in corpus.RIGHT]}


def _names(message: str, said: tuple[str, ...]) -> bool:
    """Does what the message says about the answer (not the case's label on its first line, its values, or the
    example's position) use one of the words for the mistake? Short names match as whole words."""
    body = "\n".join(line for line in message.splitlines()[1:]
                     if not line.startswith("  ") and not line.startswith("For example, at"))
    for word in said:
        pattern = rf"(?<![\w]){re.escape(word)}(?![\w])" if word.isalnum() and len(word) < 4 else re.escape(word)
        if re.search(pattern, body, flags=re.IGNORECASE):
            return True
    return False


def test_the_corpus_covers_every_chapter_with_more_where_it_is_newest() -> None:
    chapters = {e[0][:4] for e in corpus.WRONG}
    assert chapters == {f"ch{n:02d}" for n in range(11)} == {e[0][:4] for e in corpus.RIGHT}
    for chapter in chapters:
        wrong = sum(e[0].startswith(chapter) for e in corpus.WRONG)
        assert wrong >= (8 if chapter in ("ch06", "ch08", "ch09", "ch10") else 4), chapter
        assert sum(e[0].startswith(chapter) for e in corpus.RIGHT) >= 2, chapter


def test_no_wrong_answer_passes_and_no_right_one_fails(judged) -> None:  # noqa: ANN001
    false_pass = [j.entry[0] + ": " + j.entry[1].splitlines()[-1] for j in judged["wrong"] if j.passed]
    false_fail = [f"{j.entry[0]}: {j.english}" for j in judged["right"] if not j.passed]
    assert not false_pass and not false_fail, (false_pass, false_fail)


def test_most_failing_messages_name_the_mistake(judged) -> None:  # noqa: ANN001
    failing = [j for j in judged["wrong"] if not j.passed]
    unnamed = [f"{j.entry[0]} {j.entry[3]}: {j.english}" for j in failing if not _names(j.english, j.entry[3])]
    assert len(failing) - len(unnamed) >= NAMED_FLOOR * len(failing), "\n\n".join(unnamed)


def test_the_chinese_messages_have_no_template_seams(judged) -> None:  # noqa: ANN001
    seams = [(j.entry[0], line) for j in judged["wrong"] if not j.passed for line in j.chinese.splitlines()
             if not line.startswith("  ") and SEAMS.search(re.sub(r"\([^()]*\)", "()", line))]  # tuples keep ", "
    assert not seams, seams
    assert all(re.search(r"[\u4e00-\u9fff]", j.chinese) for j in judged["wrong"] if not j.passed)
