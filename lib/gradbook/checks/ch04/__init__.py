"""Chapter 4, as a notebook imports it: `from gradbook.checks import ch04 as check`.

Its public half (public.py: drivers, helpers) and its answers half (answers.py: the exercises).
A grading sandbox and the student edition get their own file in place of this one and no answers.py.
"""

from gradbook.checks.ch04.public import *  # noqa: F403 - its drivers and the helpers it gives
from gradbook.checks.ch04.answers import *  # noqa: F403 - the chapter's exercises
