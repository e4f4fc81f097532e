"""nbgrader's collect, as the course configures it: arrival observed, foreign folders refused.

The course's nbgrader_config.py sets `c.ExchangeFactory.collect` to `ObservedCollect`, so
`nbgrader collect` and the formgrader's Collect button run this. It is nbgrader's own
`ExchangeCollect` with three differences, all about what the student's side can forge:

* A submission is dated by its arrival in the exchange as the instructor's process observes it
  (`arrival.observe`: the latest ctime of the inbound folder and everything in it), never by the
  name of the folder or its timestamp.txt, which the student's process writes. That date picks the
  latest submission, the last one before the due date (`--before-duedate`) and what `--update`
  replaces, and it is written to the course's receipt (`arrival.Receipt`) for the grader.
* A folder that is not all the student's own (`c.ExchangeCollect.check_owner`, nbgrader's option,
  on by default): made or changed by another account (a folder planted under a victim's name, a
  file swapped into the victim's world-writable folder), or named after a student who has no
  account here, is refused: not collected, never hiding the student's own submission, and named
  in an error; collect then exits non-zero. A folder holding a symbolic link or a special file is
  refused too (copying would follow it with the instructor's rights).
* A folder name nbgrader cannot parse refuses that folder, not the whole collect.
"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nbgrader.exchange.default.collect import ExchangeCollect

from gradbook_grader.arrival import Receipt, observe, read_receipt, stamp, write_receipt
from gradbook_grader.files import Refused
from gradbook_grader.text import printable


def _account(uid: int) -> str:
    import pwd

    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


class ObservedCollect(ExchangeCollect):
    """nbgrader's collect, dated and checked by what the instructor's side observes (see the module)."""

    def init_src(self) -> None:
        self.refused: list[str] = []
        super().init_src()  # calls _path_to_record for every inbound folder, then picks per student

    def _path_to_record(self, path: str) -> dict[str, Any]:
        name = os.path.basename(path)
        parts = name.rsplit("+", 3)
        username = parts[0] if len(parts) >= 3 else name
        record: dict[str, Any] = {"username": username, "filename": name, "problem": None,
                                  "timestamp": datetime.min}
        try:
            seen = observe(Path(path))
        except Refused as exc:
            record["problem"] = str(exc)
        else:
            record["timestamp"] = seen.latest
            record["problem"] = self._problem(username, seen.owners, seen.problems)
        if len(parts) < 3:
            record["problem"] = record["problem"] or "the folder's name is not nbgrader's <student>+<assignment>+<time>"
        if record["problem"]:
            message = f"{printable(name)} refused, not collected: {record['problem']}"
            self.log.error(message)
            self.refused.append(message)
        return record

    def _problem(self, username: str, owners: set[int], odd: list[str]) -> str | None:
        if odd:
            return "it holds " + "; ".join(odd[:3]) + " (a submission is plain files and folders)"
        if not self.check_owner or sys.platform == "win32":
            return None
        import pwd

        try:
            uid = pwd.getpwnam(username).pw_uid
        except KeyError:
            return (f"there is no account named {printable(username)} here, so who made it cannot be checked "
                    "(an exchange without per-student accounts: set c.ExchangeCollect.check_owner = False)")
        strangers = sorted(owners - {uid})
        if strangers:
            return (f"it is {printable(username)}'s by name but owned (in part) by "
                    f"{', '.join(printable(_account(u)) for u in strangers)}: another account made or changed it")
        return None

    def _sort_by_timestamp(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The latest first; a refused folder never stands in for the student's own."""
        return sorted(records, key=lambda r: (r["problem"] is None, r["timestamp"]), reverse=True)

    def copy_files(self) -> None:
        records = [r for r in self.src_records if r["problem"] is None]
        self.log.info("Processing %d submissions of '%s' for course '%s'", len(records),
                      self.coursedir.assignment_id, self.coursedir.course_id)
        for record in records:
            self._collect(record)
        if self.refused:
            self.fail(f"{len(self.refused)} inbound folder(s) refused (every other submission was collected):\n"
                      + "\n".join(self.refused))

    def _collect(self, record: dict[str, Any]) -> None:
        student, assignment = record["username"], self.coursedir.assignment_id
        root = Path(self.coursedir.root)
        source = Path(self.inbound_path) / record["filename"]
        dest = Path(self.coursedir.format_path(self.coursedir.submitted_directory, student, assignment))
        previous = read_receipt(root, student, assignment)
        if dest.is_dir():
            fresh = previous is None or previous.inbound != record["filename"]
            newer = previous is None or record["timestamp"] > previous.arrived_at
            if not ((self.update and fresh and newer) or (self.before_duedate and fresh)):
                self.log.info("No newer submission to collect: %s %s" if self.update else
                              "Submission already exists, use --update to update: %s %s", student, assignment)
                return
            self.log.info("Updating submission: %s %s", student, assignment)
            shutil.rmtree(dest)
        else:
            self.log.info("Collecting submission: %s %s", student, assignment)
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.do_copy(str(source), str(dest))
        try:
            arrived = max(record["timestamp"], observe(source).latest)  # changed while copied: the later
            digests = observe(dest, digests=True).digests
        except Refused as exc:
            shutil.rmtree(dest, ignore_errors=True)
            self.refused.append(f"{printable(record['filename'])} refused: it changed while collected ({exc})")
            return
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        write_receipt(root, Receipt(student, assignment, stamp(arrived), stamp(now), record["filename"], digests))
