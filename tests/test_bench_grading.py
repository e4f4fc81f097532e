"""Smoke test: bench/bench_grading.py --quick runs end to end and prints every row it promises."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require
from gradbook_grader.sandbox import bwrap_problem

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"\s+(\d+\.\d+)"


@pytest.mark.slow
@pytest.mark.sandbox
def test_the_quick_bench_prints_every_figure() -> None:
    require(bwrap_problem() is None, f"the sandbox is needed: {bwrap_problem()}")
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_grading.py"), "--quick"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert re.search(r"02-tensor-operations" + NUMBER * 4 + r"\s+\d+\.\d+x\s+\d+\.\d+x", out), out
    for label in ("1 local worker", "2 local workers", "2 Dask workers"):
        assert re.search(re.escape(label) + NUMBER + r" s" + NUMBER + " submissions/min", out), (label, out)
    assert "2,000 students x 9 chapters" in out
    for workers in (1, 2, 16, 64, 256):
        assert re.search(rf"^\s+{workers}\s+\d+\.\d+ h\s+\d+\.\d+ h$", out, re.M), (workers, out)
    figures = json.loads(out.strip().splitlines()[-1])
    assert set(figures["per_chapter"]["02-tensor-operations"]) == {"nbclient", "python", "cold", "warm"}
    assert set(figures["submissions_per_minute"]) == {"1 local worker", "2 local workers", "2 Dask workers"}
