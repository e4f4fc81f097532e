"""The formgrader as a hub service: nbgrader's formgrader pages and nothing else of a Jupyter server.

It runs with the course owner's rights (it collects, grades through the sandbox and releases feedback), and
instructors and TAs open it: so it starts no kernel and no terminal, and changes no file through Jupyter's file
API (the course's configuration stays the instructor's, changed in the checkout). nbgrader's own handlers
(release, collect, autograde through gradbook-grader's sandbox, manual grading, feedback) work as usual.
"""

from __future__ import annotations

from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError

REFUSED = "the course hub's formgrader changes no file and runs no code: change the course in its checkout"


class ReadOnlyContents(AsyncFileContentsManager):
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
