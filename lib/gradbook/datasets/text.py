"""Small texts that ship with the course, for the character-level language models of
chapters 9 and 10 (no download: the file is part of the package).

    from gradbook.datasets import text
    corpus = text.load_text()            # a str, about 200,000 characters of Shakespeare
"""

from __future__ import annotations

from importlib import resources

__all__ = ["TEXTS", "load_text"]

# name -> file under gradbook/datasets/texts/ (its README says where each comes from)
TEXTS: dict[str, str] = {"tinyshakespeare": "tinyshakespeare.txt"}


def load_text(name: str = "tinyshakespeare", max_chars: int | None = None) -> str:
    """The shipped text `name` (see TEXTS), whole or its first `max_chars` characters."""
    if name not in TEXTS:
        raise ValueError(f"unknown text {name!r}; choose one of {', '.join(map(repr, TEXTS))}")
    if max_chars is not None and max_chars < 1:
        raise ValueError(f"max_chars must be a positive number of characters, got {max_chars}")
    body = resources.files("gradbook.datasets").joinpath("texts", TEXTS[name]).read_text(encoding="utf-8")
    return body if max_chars is None else body[:max_chars]
