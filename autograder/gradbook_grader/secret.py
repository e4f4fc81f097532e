"""The course secret: only the instructor's machine can compute a submission's hidden inputs.

The hidden checks' seed of a submission is HMAC-SHA256(secret, submission key). The key
(`batch.submission_key`) hashes what a student can know or choose (their notebook, its timestamp,
the source, the limits), so without the secret it says nothing about the seed; with it, the same
submission gets the same seed on every resume and regrade.

* Where: `<course>/.gradbook-secret` (the course is `autograder/`): 32 random bytes, mode 0600,
  git-ignored. `gradbook-grader release` makes it when it is missing; so does the first grading
  of a course that has graded nothing yet (both say so). A course that has graded submissions
  and lost its secret refuses to grade: their hidden inputs came from it (put it back, or run
  release to start a new one).
* Who reads it: the process that submits a batch, which computes every seed and hands workers
  (local processes or Dask workers) the number, never the secret. It is never bound into a
  sandbox, copied into the student edition, feedback or an export.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
from pathlib import Path

from gradbook_grader.course import Course, GraderError
from gradbook_grader.journal import JOURNAL_NAME

SECRET_FILE = ".gradbook-secret"
SECRET_BYTES = 32
MAX_SEED = 2**31 - 1  # seeds are 1 .. MAX_SEED - 1: never the visible checks' seed 0


def secret_path(course: Course) -> Path:
    return course.root / SECRET_FILE


def hidden_seed(secret: bytes, key: str) -> int:
    """The hidden checks' seed of the submission whose key is `key`."""
    digest = hmac.new(secret, key.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") % (MAX_SEED - 1) + 1


def ensure_secret(course: Course) -> bool:
    """Make the course secret if it is missing; True if it was made now (and said so on stderr)."""
    path = secret_path(course)
    try:
        # O_EXCL: two commands starting at once make one secret between them, never two.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except FileExistsError:
        return False
    except OSError as error:
        raise GraderError(f"cannot create the course secret {path} ({error}): the course directory must be "
                          "writable by the instructor") from None
    with os.fdopen(fd, "wb") as file:
        file.write(secrets.token_bytes(SECRET_BYTES))
    print(f"gradbook-grader: made the course secret {path} ({SECRET_BYTES} random bytes, readable by you only). "
          "The hidden checks' inputs derive from it: back it up with the gradebook, keep it out of every "
          "repository and never give it to anyone.", file=sys.stderr, flush=True)
    return True


def course_secret(course: Course) -> bytes:
    """The course secret, for grading: made now if this course has graded nothing yet, else it must exist."""
    path = secret_path(course)
    if not path.exists() and not _has_graded(course):
        ensure_secret(course)
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        raise GraderError(
            f"the course secret {path} is missing, but this course has graded submissions "
            f"({course.root / 'autograded'}) whose hidden checks used it. Put the file back from your backup (or "
            "copy it from the machine that graded them) and run again. To start over with a new secret instead "
            "(regrades then get other hidden inputs), run `gradbook-grader release`."
        ) from None
    except OSError as error:
        raise GraderError(f"cannot read the course secret {path} ({error}): grade as the instructor who owns it") from None
    if len(secret) != SECRET_BYTES:
        raise GraderError(f"the course secret {path} is damaged ({len(secret)} bytes, not {SECRET_BYTES}). Put it "
                          "back from your backup; or delete it and run `gradbook-grader release` to make a new one "
                          "(regrades then get other hidden inputs).")
    _private(path)
    return secret


def _has_graded(course: Course) -> bool:
    return any((course.root / "autograded").glob(f"*/*/{JOURNAL_NAME}"))


def _private(path: Path) -> None:
    """Readable by its owner only (a copy restored from a backup may have lost its mode), or also by its group
    where the owner gave it read and nothing more (the course hub's grader account reads it so: hub_checkout.py);
    another account reading it through that group leaves it as the owner set it."""
    st = path.stat()
    if os.name == "posix" and st.st_mode & 0o037 and st.st_uid == os.geteuid():
        os.chmod(path, 0o600)
        print(f"gradbook-grader: {path} was readable by others; it is now readable by you only", file=sys.stderr)
