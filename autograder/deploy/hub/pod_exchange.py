"""The course hub's nbgrader exchange on Kubernetes, the formgrader's side (z2jh-values.yaml, formgrader.yaml).

Every student's pod runs as the same uid (1000), so the one-machine hub's file modes (hub_exchange.py: a
submission 0750 in its student's own group) isolate nothing there. The mounts do: on the exchange volume each
student has a folder of their own in inbound/ and in feedback/, and their pod mounts only those two (by
KubeSpawner's `{username}`) at the places nbgrader looks, beside outbound/ read-only:

    volume                                      a student's pod (nbgrader's default exchange, unchanged)
    gradbook/outbound/                    ->    /srv/nbgrader/exchange/gradbook/outbound   (read-only)
    gradbook/inbound/<student>/           ->    /srv/nbgrader/exchange/gradbook/inbound
    gradbook/feedback/<student>/          ->    /srv/nbgrader/exchange/gradbook/feedback   (read-only)

So a student's submit writes into their own folder and lists only it; no other student's submission or feedback
is in their pod at all. The formgrader mounts the whole volume and uses these two classes: collect reads one
folder down and takes the student from the folder (which only that student's pod can write), never from the
name a submission gives itself; feedback goes to the student's folder.
"""

import glob
import os

from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from traitlets import Bool


class PodCollect(ExchangeCollect):
    check_owner = Bool(False, help="every pod writes as uid 1000: the folder says whose a submission is").tag(config=True)

    def init_src(self):  # type: ignore[no-untyped-def]
        student = self.coursedir.student_id
        # nbgrader globs inbound/<student_id>+<assignment>+*; here that is one folder down: inbound/<student>/*
        self.coursedir.student_id = f"{student or '*'}/*"
        try:
            super().init_src()
        finally:
            self.coursedir.student_id = student

    def _path_to_record(self, path):  # type: ignore[no-untyped-def]
        record = super()._path_to_record(path)
        folder = os.path.basename(os.path.dirname(path))
        if record["username"] != folder:
            self.log.warning("%s names %s but is in %s's inbound folder: collected as %s's", path,
                             record["username"], folder, folder)
        record.update(username=folder, filename=os.path.join(folder, record["filename"]))
        return record


class PodFeedback(ExchangeReleaseFeedback):
    def copy_files(self):  # type: ignore[no-untyped-def]
        every_student, feedback = self.src_path, self.dest_path  # <course>/feedback/<student glob>/<assignment>
        try:
            for folder in sorted(glob.glob(every_student)):
                student = os.path.basename(os.path.dirname(folder))
                self.src_path, self.dest_path = folder, os.path.join(feedback, student)
                self.ensure_directory(self.dest_path, 0o755)
                super().copy_files()
        finally:
            self.src_path, self.dest_path = every_student, feedback
