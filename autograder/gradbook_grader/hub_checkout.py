"""The instructor's checkout, closed to every other account while the course hub runs on its machine.

The checkout holds the answers (solutions/, the library's checks, the tests, git's history) and the course
secret; on a hub, students are accounts of the same machine. Others may only pass through its top folder
(o=x: they list nothing) and everything in it except the environment (.venv/, public packages the hub and the
students' servers run from) loses every permission for others. Nothing of the owner's or group's changes.
`reopen_checkout` puts back the modes recorded in ROOT/state.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

OPEN_TO_ALL = {".venv"}  # the environment: public packages; the editable installs in it point into closed folders


def close_checkout(repo: Path, record: Path | None = None) -> dict[str, int]:
    """Close `repo` to others; the previous modes (path -> mode), also written to `record` if given."""
    before: dict[str, int] = {}
    for path in [repo, *sorted(repo.iterdir())]:
        if path.name in OPEN_TO_ALL or path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        before[str(path)] = mode
        os.chmod(path, 0o711 | (mode & 0o770) if path == repo else mode & ~0o007)
    if record is not None and not record.exists():  # the first closing's modes are the ones to put back
        record.write_text(json.dumps(before, indent=1))
    return before


def reopen_checkout(before: dict[str, int]) -> None:
    for path, mode in before.items():
        if os.path.lexists(path):
            os.chmod(path, mode)

