"""Chapter 0, as a notebook imports it: `from gradbook.checks import ch00 as check`.

Its public half (public.py: drivers, helpers) and its answers half (answers.py: the exercises).
A grading sandbox and the student edition get their own file in place of this one and no answers.py.
"""

from gradbook.checks.ch00.answers import *  # noqa: F403 - the chapter's exercises
