"""Smoke test: bench/bench_grading.py --quick runs end to end and prints every row it promises."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import require
from gradbook.checks import registry
from gradbook_grader.sandbox import bwrap_problem

ROOT = Path(__file__).resolve().parents[1]
NUMBER = r"\s+(\d+\.\d+)"


@pytest.mark.slow(seconds=110)  # CI, idle: 108 s
@pytest.mark.sandbox
def test_the_quick_bench_prints_every_figure() -> None:
    require(bwrap_problem() is None, f"the sandbox is needed: {bwrap_problem()}")
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_grading.py"), "--quick"],
                         capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert re.search(r"02-tensor-operations" + NUMBER * 5 + r"\s+\d+\.\d+x\s+\d+\.\d+x", out), out
    for label in ("1 local worker", "1, no fork server", "2 local workers"):
        assert re.search(re.escape(label) + NUMBER + r" s" + NUMBER + " submissions/min" + (NUMBER + " s") * 3, out), (label, out)
    assert re.search(r"2 Dask workers" + NUMBER + r" s" + NUMBER + " submissions/min", out), out
    assert re.search(r"SQLite\s+\d+/min of the writer's own time", out), out
    assert f"2,000 students x {len(registry.CHAPTERS)} chapters" in out  # every chapter of the course
    for workers in (1, 2, 16, 64, 256):
        assert re.search(rf"^\s+{workers}\s+\d+\.\d+ h\s+\d+\.\d+ h$", out, re.M), (workers, out)
    assert re.search(r"on 32 one-core workers from the measured costs: grading \d+\.\d+ min .* storing \d+\.\d+ min", out), out
    figures = json.loads(out.strip().splitlines()[-1])
    assert set(figures["per_chapter"]["02-tensor-operations"]) == {"nbclient", "python", "cold", "warm", "forked"}
    assert set(figures["submissions_per_minute"]) == {"1 local worker", "1, no fork server", "2 local workers",
                                                      "2 Dask workers"}
    assert set(figures["core_seconds_per_submission"]) == {"1 local worker", "1, no fork server", "2 local workers"}
    assert "SQLite" in figures["writer_per_minute"]
    # the class-sized batch: core-seconds per submission from the bench's own processes and from the machine's
    # busy time, against the forked grade's own CPU
    assert re.search(r"core-seconds per submission, warm-up included: \d+\.\d+ \(own processes, .*\), \d+\.\d+ "
                     r"\(the machine's busy time, /proc/stat.*-> \d+\.\d+x \(target <= 1\.5x\)", out), out
    assert {"core_seconds", "machine_busy", "grade_cpu", "ratio"} <= set(figures["class_batch"])
