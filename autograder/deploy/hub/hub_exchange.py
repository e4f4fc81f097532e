"""The course hub's nbgrader submit (students' side): a submission in the exchange readable by its owner only.

nbgrader's own submit leaves the folder it makes in inbound/ readable by every account (0755/0644), so that an
instructor's account can collect it; on the course hub the formgrader collects as root, and another student who
learnt the folder's name could otherwise read it. inbound/ itself (1733) lists nothing and lets no one rename or
delete another's folder. The hub copies this file next to the students' nbgrader_config.py.
"""

from nbgrader.exchange.default.submit import ExchangeSubmit


class PrivateSubmit(ExchangeSubmit):
    def set_perms(self, dest, fileperms, dirperms):  # type: ignore[no-untyped-def]
        super().set_perms(dest, fileperms & 0o700, dirperms & 0o700)
