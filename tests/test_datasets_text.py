"""The shipped text: present in the package, whole, and cut as asked."""

from __future__ import annotations

import hashlib

import pytest

from gradbook.datasets import load_text, text

# sha256 of the first 200,376 characters of char-rnn's data/tinyshakespeare/input.txt (commit 6f9487a),
# computed from the upstream file when it was cut (see gradbook/datasets/texts/README.md)
UPSTREAM_PREFIX_SHA256 = "cf30d7aa6cf2701439fc762dd8d3f8b4039f002a6df70c75d4cf89cabf0fc63e"


def test_the_shipped_text_is_the_upstream_prefix() -> None:
    body = load_text()
    assert hashlib.sha256(body.encode("utf-8")).hexdigest() == UPSTREAM_PREFIX_SHA256
    assert body.startswith("First Citizen:\nBefore we proceed any further, hear me speak.")
    assert len(body) == 200_376 and len(set(body)) == 62


def test_a_prefix_and_clear_errors() -> None:
    assert load_text(max_chars=14) == "First Citizen:"
    with pytest.raises(ValueError, match="unknown text 'hamlet'; choose one of 'tinyshakespeare'"):
        load_text("hamlet")
    with pytest.raises(ValueError, match="positive"):
        load_text(max_chars=0)
    assert text.TEXTS == {"tinyshakespeare": "tinyshakespeare.txt"}
