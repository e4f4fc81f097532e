"""What the sequence-layer tests share: torch on one thread while they run."""

from __future__ import annotations

from typing import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """The sequence tests' matrices are tiny: a second torch thread buys nothing, and on a busy machine every
    step's fork and join waits for a descheduled thread (an LSTM epoch measured 0.7 s on one thread, 38 s on
    two, at load 17 on 2 cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
