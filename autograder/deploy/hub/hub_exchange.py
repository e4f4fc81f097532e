"""The course hub's nbgrader exchange: a submission and a feedback file each readable by their student and the
grader only (the grader is a member of each student's own group; see gradbook_grader/hub_grader.py).

nbgrader's own submit leaves the folder it makes in inbound/ open to every account (the folder 0777, "so the
instructor can delete later", its files 0644), hidden only by its random name; another student who learnt the
name could read it, add to it or delete its files. Its release_feedback leaves each feedback file 0644 in
feedback/, hidden only by its name. Here a submission is 0750/0640 in its student's own group, so the grader
collects it and no other student reads it; a released feedback file is 0640 in its student's group, so only
that student (and the grader, for the instructors) reads it, even knowing its name. inbound/ (1733) and
feedback/ (0711) list nothing. The hub copies this file next to the students' and the formgrader's
nbgrader_config.py.
"""

import glob
import grp
import os
import shutil

from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import notebook_hash

PRIVATE = 0o750  # owner all, the owner's own group (the grader) reads, others nothing


class PrivateSubmit(ExchangeSubmit):
    def set_perms(self, dest, fileperms, dirperms):  # type: ignore[no-untyped-def]
        super().set_perms(dest, fileperms & PRIVATE, dirperms & PRIVATE)

    def copy_files(self):  # type: ignore[no-untyped-def]
        super().copy_files()
        os.chmod(os.path.join(self.inbound_path, self.assignment_filename), PRIVATE)  # nbgrader made it 0777


class PrivateFeedback(ExchangeReleaseFeedback):
    def copy_files(self):  # type: ignore[no-untyped-def]
        owners = {}  # the released file's name -> its student
        for page in glob.glob(os.path.join(self.src_path, "*.html")):
            folder = os.path.dirname(page)  # feedback/<student>/<assignment>/<notebook>.html
            with open(os.path.join(folder, "submission_secret.txt")) as fh:
                name = notebook_hash(secret=fh.read(), notebook_id=os.path.splitext(os.path.basename(page))[0])
            owners[os.path.join(self.dest_path, f"{name}.html")] = os.path.basename(os.path.dirname(folder))
            os.chmod(page, 0o640)  # copied with this mode: never readable by others, even for a moment
        super().copy_files()
        for released, student in owners.items():
            if not os.path.exists(released):
                continue  # left out by nbgrader (an excluded student)
            try:
                shutil.chown(released, group=grp.getgrnam(student).gr_gid)
            except (KeyError, PermissionError):  # no such account, or not the grader's group: the grader's only
                os.chmod(released, 0o600)
                self.log.warning("feedback %s kept from %s: they have no group of their own", released, student)
                continue
            os.chmod(released, 0o640)
