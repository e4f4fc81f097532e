"""The formgrader as a hub service: nbgrader's formgrader pages and nothing else of a Jupyter server.

It runs as the course's grader account (hub_grader.py: it owns the gradebook, collects, grades through the
sandbox and releases feedback), and instructors and TAs open it: so it starts no kernel and no terminal, changes
no file through Jupyter's file API (the course's configuration stays the instructor's, changed in the checkout)
and serves no hidden file, the course secret among them, whatever Jupyter's settings say. nbgrader's own
handlers (release, collect, autograde through gradbook-grader's sandbox, manual grading, feedback) work as usual.

`python -m gradbook_grader.hubformgrader --user ACCOUNT CGROUP... -- COMMAND...` (the hub's service command,
started by the hub as root) puts itself in the control groups the hub delegated to the account (`cgroups.enter`:
on cgroup v2 only root may move it there), so that each grading sandbox's group is made inside them, then
becomes the account (its groups, HOME, USER, SHELL, as JupyterHub's setuid would) and runs COMMAND
(jupyterhub-singleuser). Not as root, it joins the groups itself where it may (cgroup v1).
"""

from __future__ import annotations

import os
import pwd
import sys
from pathlib import Path, PurePosixPath

from jupyter_server.services.contents.filemanager import AsyncFileContentsManager
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado.web import HTTPError

from gradbook_grader import cgroups

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


def become(account: pwd.struct_passwd) -> None:
    """Drop root for the account for good: its own and supplementary groups (each student's, hub_grader.py), then
    its uid; the environment JupyterHub gives a process it starts as a user."""
    os.initgroups(account.pw_name, account.pw_gid)
    os.setgid(account.pw_gid)
    os.setuid(account.pw_uid)
    os.environ.update(USER=account.pw_name, LOGNAME=account.pw_name, HOME=account.pw_dir, SHELL=account.pw_shell)


def main(argv: list[str]) -> None:
    split = argv.index("--")
    options, command = argv[:split], argv[split + 1:]
    account = None
    if options[:1] == ["--user"]:
        account, options = pwd.getpwnam(options[1]), options[2:]
    if os.geteuid() == 0 and account is None:
        sys.exit("hubformgrader: the formgrader never runs as root: name its account with --user")
    try:
        cgroups.enter([Path(group) for group in options], os.getpid())
    except OSError as error:
        print(f"hubformgrader: not in its delegated control groups ({error.strerror or error}): its sandboxes' "
              "groups are made where it runs, or they fall back to rlimits", file=sys.stderr)
    if account is not None and os.geteuid() == 0:
        become(account)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
