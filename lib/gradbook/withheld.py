"""What a grading sandbox's library raises in place of one of the graded chapter's answers.

When chapter N is graded, every function of the library that computes one of chapter N's answers
(an exercise's ``library_answers``) is a stub in the sandbox (`gradbook_grader.answers`): it raises
`Withheld`, so a submission cannot pass by calling the library. A check then fails with its message;
a demo cell that only uses the library (a Keras model, a widget) is not run while grading, and says so
in one line (`gradbook.notebook`). This module imports nothing: the stubs import it from anywhere.
"""

from __future__ import annotations


class Withheld(RuntimeError):
    """``path`` (a dotted name of the library) is withheld while its chapter is graded; the text says so."""

    def __init__(self, message: str, path: str) -> None:
        super().__init__(message)
        self.path = path
