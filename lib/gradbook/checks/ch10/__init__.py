"""Chapter 10, as a notebook imports it: `from gradbook.checks import ch10 as check`.

Its public half (public.py: the helper it gives) and its answers half (answers.py: the exercises).
A grading sandbox and the student edition get their own file in place of this one and no answers.py.
"""

from gradbook.checks.ch10.public import *  # noqa: F403 - the helper it gives
from gradbook.checks.ch10.answers import *  # noqa: F403 - the chapter's exercises
