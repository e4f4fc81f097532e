#!/usr/bin/env python3
"""Set up and run gradbook with one command (standard library only; Windows, macOS, Linux).

    python3 workbook.py lab     # open the workbook in JupyterLab
    python3 workbook.py test    # run the whole test suite

Each command creates or updates the virtual environment `.venv/` on first use and
then works offline: the install is skipped while pyproject.toml and the pins are
unchanged. Extra arguments go to JupyterLab or pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
# What each command needs installed: the workbook for students, everything for tests.
PROFILES = {"lab": "lab", "test": "dev"}


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def fingerprint(extra: str) -> str:
    digest = hashlib.sha256(extra.encode())
    for path in (ROOT / "pyproject.toml", ROOT / "autograder" / "pyproject.toml", CONSTRAINTS):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_environment(extra: str) -> Path:
    python = venv_python()
    if not python.exists():
        print(f"gradbook: creating the virtual environment in {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".gradbook-{extra}.stamp"
    wanted = fingerprint(extra)
    if stamp.exists() and stamp.read_text() == wanted:
        return python
    print(f"gradbook: installing gradbook[{extra}] (first run or changed dependencies)", flush=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    try:
        subprocess.run([*pip, "--quiet", "--upgrade", "pip", "setuptools", "wheel"], check=True)
        # The grader is its own distribution (autograder/), so a student's environment never has it.
        grader = ["-e", str(ROOT / "autograder")] if extra == "dev" else []
        subprocess.run([*pip, "-c", str(CONSTRAINTS), "-e", f"{ROOT}[{extra}]", *grader], check=True)
    except subprocess.CalledProcessError as error:
        sys.exit(
            f"gradbook: installing dependencies failed ({error}). Check the network connection "
            "(needed once, for the first install), then run the same command again."
        )
    stamp.write_text(wanted)
    return python


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in PROFILES:
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    python = ensure_environment(PROFILES[command])
    if command == "lab":
        args = [str(python), "-m", "jupyter", "lab", f"--notebook-dir={ROOT / 'notebooks'}", *rest]
    else:
        # Two workers by default: the suite is sized for a 2-core machine.
        workers = [] if any(a.startswith("-n") for a in rest) else ["-n", "auto"]
        args = [str(python), "-m", "pytest", *workers, *rest]
    return subprocess.call(args, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
