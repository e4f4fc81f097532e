"""Smoke test: bench/bench_language_models.py --quick trains chapters 9 and 10's language models and prints its figures."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gradbook.datasets.text import load_text

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench" / "bench_language_models.py"


def test_the_quick_bench_trains_both_models_past_a_uniform_guess() -> None:
    run = subprocess.run([sys.executable, str(BENCH), "--quick", "--epochs", "2", "--device", "numpy"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    uniform = len(set(load_text()))  # a uniform guess over the text's characters has this perplexity
    for model in ("transformer", "LSTM"):
        found = re.search(rf"{model} on numpy:\s+\d+\.\d s in all .* validation perplexity\s+(\d+\.\d+)", run.stdout)
        assert found, run.stdout
        assert 1 < float(found.group(1)) < uniform, run.stdout  # it learnt something in two short epochs
    assert run.stdout.count("sampled at temperature 0.5") == run.stdout.count("sampled at temperature 1.0") == 2


def test_a_device_the_machine_lacks_is_refused_saying_what_it_has() -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: the refusal is for machines without one")
    run = subprocess.run([sys.executable, str(BENCH), "--quick", "--device", "cuda"], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert run.returncode == 2 and "this machine has no cuda (it has: numpy, cpu)" in run.stderr, run.stderr
