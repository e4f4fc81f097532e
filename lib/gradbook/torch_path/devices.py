"""Choosing the torch device: "auto" means CUDA when present, else the CPU."""

from __future__ import annotations

from typing import Union

import torch

DeviceLike = Union[str, torch.device]


def resolve(device: DeviceLike = "auto") -> torch.device:
    """The torch.device for `device`; "cuda" without a GPU raises a RuntimeError that says what to do."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"device={str(device)!r} was asked for, but PyTorch sees no CUDA GPU on this machine "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
            'Use device="cpu" to run on the CPU, or device="auto" to use a GPU only when one is present.'
        )
    if resolved.type == "cuda" and resolved.index is not None and resolved.index >= torch.cuda.device_count():
        raise RuntimeError(
            f"device={str(device)!r} was asked for, but only {torch.cuda.device_count()} CUDA GPU(s) are "
            'visible. Use device="cuda" (the first GPU), device="auto", or device="cpu".'
        )
    return resolved
