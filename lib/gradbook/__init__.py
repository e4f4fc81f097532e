"""gradbook: learn deep learning by building it in NumPy, with checks that teach.

Submodules load on first use, so `import gradbook` stays fast and never imports torch:

    from gradbook import models, layers          # the Keras-like reference engine
    from gradbook.datasets import mnist          # mnist.load_data()
    from gradbook.utils import to_categorical
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = {
    "reference", "torch_path", "datasets", "checks", "widgets",
    "models", "layers", "optimizers", "losses", "activations", "utils", "surfaces",
}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'gradbook' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})
