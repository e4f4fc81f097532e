"""Chapter 9, as a notebook imports it: `from gradbook.checks import ch09 as check`.

Its answers half (answers.py: the exercises). A grading sandbox and the student edition get their own
file in place of this one and no answers.py.
"""

from gradbook.checks.ch09.answers import *  # noqa: F403 - the chapter's exercises
