#!/usr/bin/env python3
"""What a stalling submission costs a grading worker, beside an honest one, in one run (issue 23).

    .venv/bin/python bench/bench_stalls.py                 the default Limits (stall_seconds 10 s)
    .venv/bin/python bench/bench_stalls.py --stall 3       a shorter stall detection

Chapter 2, graded with `execute.grade_submission` in the sandbox, one submission at a time. Each
attack takes over the first question (naive_relu's) and would otherwise score full marks:

* sleeps-forever:     the answer sleeps (no reply, no CPU);
* drops-its-reply:    the runner's reply to a question is swallowed (student code patches its json);
* drops-every-reply:  the same from the cell that defines naive_relu on (the cell's own reply too);
* answers-another-id: the reply carries another question's id;
* prints-garbage:     the answer writes garbage to the runner's pipe, then sleeps;
* 600-term-sum:       an honest submission with a 600-term expression (once an internal grader error).

Worker seconds are the wall time of the whole submission (cells, questions, restarts). Figures are
printed, never asserted: machines differ.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import nbformat

from gradbook_grader.execute import grade_submission
from gradbook_grader.types import Limits
from gradbook_grader.questions import static_manifest

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "solutions" / "02-tensor-operations.ipynb"
_MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)
_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)

RUNNER = ("import gc\n_g = next(o.__globals__ for o in gc.get_objects()\n"
          "          if getattr(o, '__name__', '') == 'answer_question' and hasattr(o, '__globals__'))\n"
          "_orig = _g['answer_question']\n")
MUTE = "class _Mute:\n    loads = staticmethod(_g['json'].loads)\n    dumps = staticmethod(lambda *a, **k: '')\n"
ATTACKS = {
    "sleeps-forever": "import time\ndef naive_relu(x):\n    time.sleep(10**6)\n",
    "drops-its-reply": "{relu}\n" + RUNNER + MUTE + "def _drop(shell, request):\n    _g['json'] = _Mute\n"
                       "    return _orig(shell, request)\n_g['answer_question'] = _drop\n",
    "drops-every-reply": "{relu}\n" + RUNNER + MUTE + "_g['json'] = _Mute\n",
    "answers-another-id": "{relu}\n" + RUNNER + "def _other(shell, request):\n    reply = _orig(shell, request)\n"
                          "    reply['id'] = request['id'] + 1000\n    return reply\n_g['answer_question'] = _other\n",
    "prints-garbage": "import os, time\ndef naive_relu(x):\n    for fd in os.listdir('/proc/self/fd'):\n"
                      "        try:\n            os.write(int(fd), b'garbage\\n') if int(fd) > 2 else None\n"
                      "        except OSError:\n            pass\n    time.sleep(10**6)\n",
    "600-term-sum": "{relu}\ndef f(a):\n    return " + " + ".join(["a"] * 600) + "\n",
}


def submission(source: nbformat.NotebookNode, relu: str | None) -> bytes:
    """The solution as a student submits it (markers and hidden tests gone), naive_relu's cell replaced."""
    nb = nbformat.from_dict(nbformat.reads(nbformat.writes(source), as_version=4))
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = _MARKERS.sub("", cell.source)
            if meta.get("grade_id") == "naive-relu" and relu is not None:
                cell.source = relu.replace("{relu}", cell.source)
        elif meta.get("grade"):
            cell.source = _HIDDEN.sub("", cell.source)
    return nbformat.writes(nb).encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stall", type=float, default=Limits().stall_seconds, help="Limits.stall_seconds")
    args = parser.parse_args()
    source = nbformat.read(SOURCE, as_version=4)
    manifest = static_manifest(source)
    limits = Limits(stall_seconds=args.stall)
    grade_submission(submission(source, None), source, manifest, limits=limits)  # caches warm
    rows = []
    for name, relu in {"honest": None, **ATTACKS}.items():
        began = time.monotonic()
        grade = grade_submission(submission(source, relu), source, manifest, limits=limits)
        rows.append((name, time.monotonic() - began, grade.score, grade.max_score, grade.error))
    honest = rows[0][1]
    print(f"{'submission':<20} {'worker s':>9} {'x honest':>9}  score")
    for name, seconds, score, max_score, error in rows:
        print(f"{name:<20} {seconds:9.1f} {seconds / honest:9.1f}  {score:g}/{max_score:g}" + (f"  {error}" if error else ""))


if __name__ == "__main__":
    main()
