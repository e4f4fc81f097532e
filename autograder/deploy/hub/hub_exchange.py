"""The course hub's nbgrader submit (students' side): a submission in the exchange its owner's alone.

nbgrader's own submit leaves the folder it makes in inbound/ open to every account (the folder 0777, "so the
instructor can delete later", its files 0644), hidden only by its random name; another student who learnt the
name could read it, add to it or delete its files. On the course hub the formgrader collects as root, so the
folder and its files are made the owner's only (0700/0600) as soon as nbgrader has written them. inbound/
itself (1733) lists nothing and lets no one rename or delete another's folder. The hub copies this file next to
the students' nbgrader_config.py.
"""

import os

from nbgrader.exchange.default.submit import ExchangeSubmit


class PrivateSubmit(ExchangeSubmit):
    def set_perms(self, dest, fileperms, dirperms):  # type: ignore[no-untyped-def]
        super().set_perms(dest, fileperms & 0o700, dirperms & 0o700)

    def copy_files(self):  # type: ignore[no-untyped-def]
        super().copy_files()
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), 0o700)  # nbgrader made it 0777
