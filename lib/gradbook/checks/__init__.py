"""Instant feedback for students, and plain-data verdicts for the grader.

In a notebook: ``from gradbook.checks import ch02 as check`` then ``check.naive_relu(naive_relu)``.
Each chapter is a package (``chNN/``: its public half and its answers half), listed in `registry`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

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
from gradbook.checks.registry import Chapter, UnknownChapter, chapter, chapters

__all__ = [
    "REGISTRY", "Case", "CheckFailed", "Exercise", "Mistake", "Verdict", "collect", "compare_values", "judge", "load_all",
    "chapter_module", "exercises_of",
]

install_in_ipython()  # in a notebook, a stub's bare `raise NotImplementedError()` says "not implemented yet"


def chapter_module(chapter: Chapter) -> ModuleType:
    """The chapter's module as a notebook imports it (``gradbook.checks.ch05``: its exercises, its helpers)."""
    return importlib.import_module(chapter.module)


def exercises_of(chapter: Chapter) -> dict[str, Exercise]:
    """The chapter's exercises, name -> exercise, in the order its module defines them."""
    module = chapter_module(chapter)
    return {e.name: e for e in vars(module).values() if isinstance(e, Exercise) and e.name.startswith(chapter.key + ".")}


def __getattr__(name: str) -> ModuleType:
    """``from gradbook.checks import chNN``, for a chapter whose package is elsewhere (`registry.Chapter.package`)."""
    try:
        return chapter_module(chapter(name)) if name.startswith("ch") else _missing(name)
    except UnknownChapter:
        return _missing(name)


def _missing(name: str) -> ModuleType:
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_all() -> dict[str, Exercise]:
    """Import every chapter's checks (`registry.CHAPTERS`) and return the registry, name -> exercise."""
    for chapter in chapters():
        chapter_module(chapter)
    return REGISTRY
