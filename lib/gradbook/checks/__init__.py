"""Instant feedback for students, and plain-data verdicts for the grader.

In a notebook: ``from gradbook.checks import ch02 as check`` then ``check.naive_relu(naive_relu)``.
Each chapter module (``chNN.py``) defines that chapter's `Exercise` objects.
"""

from __future__ import annotations

import importlib
import pkgutil

from gradbook.checks.core import (
    REGISTRY,
    Case,
    Exercise,
    Mistake,
    Verdict,
    collect,
    compare_values,
    judge,
)

from gradbook.checks.display import CheckFailed, install_in_ipython

__all__ = [
    "REGISTRY", "Case", "CheckFailed", "Exercise", "Mistake", "Verdict", "collect", "compare_values", "judge", "load_all",
]

install_in_ipython()  # in a notebook, a stub's bare `raise NotImplementedError()` says "not implemented yet"


def load_all() -> dict[str, Exercise]:
    """Import every chapter's checks and return the registry, name -> exercise."""
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{module.name}")
    return REGISTRY
