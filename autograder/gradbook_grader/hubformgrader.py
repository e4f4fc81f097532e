"""The formgrader as a hub service: nbgrader's formgrader pages and nothing else of a Jupyter server.

It runs as the course's grader account (hub_grader.py: it owns the gradebook, collects, grades through the
sandbox and releases feedback), and instructors and TAs open it: so it starts no kernel and no terminal, changes
no file through Jupyter's file API (the course's configuration stays the instructor's, changed in the checkout)
and serves no hidden file, the course secret among them, whatever Jupyter's settings say. nbgrader's own
handlers (release, collect, autograde through gradbook-grader's sandbox, manual grading, feedback) work as usual.

`python -m gradbook_grader.hubformgrader CGROUP... -- COMMAND...` (the hub's service command) puts itself in the
control groups the hub delegated to the account, so that each grading sandbox's group is made inside them, and
then runs COMMAND (jupyterhub-singleuser).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path, PurePosixPath

from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError

REFUSED = "the course hub's formgrader changes no file and runs no code: change the course in its checkout"


HIDDEN = "the course hub's formgrader serves no hidden file"


class ReadOnlyContents(AsyncFileContentsManager):
    async def get(self, path, content=True, type=None, format=None, require_hash=False):  # type: ignore[no-untyped-def,override]
        if any(part.startswith(".") for part in PurePosixPath(path.strip("/")).parts):
            raise HTTPError(404, HIDDEN)  # the course secret (.gradbook-secret) above all
        return await super().get(path, content=content, type=type, format=format, require_hash=require_hash)

    async def save(self, model, path=""):  # type: ignore[no-untyped-def,override]
        raise HTTPError(403, REFUSED)

    async def delete_file(self, path):  # type: ignore[no-untyped-def,override]
        raise HTTPError(403, REFUSED)

    async def rename_file(self, old_path, new_path):  # type: ignore[no-untyped-def,override]
        raise HTTPError(403, REFUSED)

    async def new(self, model=None, path=""):  # type: ignore[no-untyped-def,override]
        raise HTTPError(403, REFUSED)


class NoKernels(AsyncMappingKernelManager):
    async def start_kernel(self, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        raise HTTPError(403, REFUSED)


def main(argv: list[str]) -> None:
    split = argv.index("--")
    for group in argv[:split]:
        Path(group, "cgroup.procs").write_text(str(os.getpid()))
    os.execvp(argv[split + 1], argv[split + 1:])


if __name__ == "__main__":
    main(sys.argv[1:])
