"""Files the grader reads on a student's behalf (never followed) and files it writes (atomically).

A submission folder is untrusted: an unpacked upload can hold a symbolic link to the
instructor's solutions/, a FIFO that blocks whoever opens it, a device, a socket, or a tree
deep enough to exhaust whoever walks it. So below the folder the instructor named, every
directory is opened relative to its parent with O_NOFOLLOW, every file with O_NOFOLLOW and
O_NONBLOCK and checked with fstat to be a regular file before a byte is read, and reads stop at
a size cap. What is not a plain file or directory is refused, with a reason that names it.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from gradbook_grader.text import printable

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
MAX_ENTRIES = 2_000  # in one submission folder, all levels together
MAX_DEPTH = 8
FIX = "replace it with the plain file (or remove it) and grade again"


class Refused(Exception):
    """A path the grader will not read; the message says which and why (one line, printable)."""


def kind(mode: int) -> str:
    """What a file of this mode is, in words."""
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISDIR, "a folder"), (stat.S_ISREG, "a file")):
        if test(mode):
            return name
    return "a special file"


def refusal(label: str, what: str, fd: int | None = None, name: str = "") -> str:
    """Why `label` (`name` in directory `fd`), which is `what`, is not read; a link says where it points."""
    detail = ""
    if what == "a symbolic link" and fd is not None:
        try:
            detail = f" to {printable(os.readlink(name, dir_fd=fd))}"
        except OSError:
            pass
    return f"{printable(label)} is {what}{detail}, which the grader does not follow or open: {FIX}"


def _refuse(label: str, what: str, fd: int | None = None, name: str = "") -> Refused:
    return Refused(refusal(label, what, fd, name))


def lkind(fd: int, name: str) -> str | None:
    """What `name` in directory `fd` is, without following it; None if it does not exist."""
    try:
        return kind(os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode)
    except FileNotFoundError:
        return None


@contextmanager
def open_dir(path: Path, parts: tuple[str, ...] = ()) -> Iterator[int]:
    """A descriptor of `path/parts...`: `path` as given (the instructor's), each part never followed."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        label = ""
        for part in parts:
            label = f"{label}{part}/"
            what = lkind(fd, part)
            if what != "a folder":
                raise Refused(f"{printable(label)} is missing") if what is None else _refuse(label, what, fd, part)
            child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def read_regular(fd: int, name: str, cap: int, label: str | None = None, too_large: str = "") -> bytes:
    """The bytes of the regular file `name` in directory `fd`, at most `cap` of them, never blocking.

    Raises `Refused` for anything else (a link, a FIFO, a device, a folder, a file over `cap`: `too_large` says
    what to do then) and FileNotFoundError if there is nothing by that name.
    """
    label = label or name
    what = lkind(fd, name)  # look before opening: opening a device can itself do something
    if what is None:
        raise FileNotFoundError(label)
    if what != "a file":
        raise _refuse(label, what, fd, name)
    try:
        file = os.open(name, _FILE_FLAGS, dir_fd=fd)
    except OSError as exc:  # replaced by a link meanwhile (ELOOP), or not readable
        raise Refused(f"{printable(label)} cannot be read ({exc.strerror or exc})") from None
    try:
        info = os.fstat(file)
        if not stat.S_ISREG(info.st_mode):  # swapped after the look: opened without blocking, not read
            raise _refuse(label, kind(info.st_mode))
        if info.st_size > cap:
            raise Refused(f"{printable(label)} is {info.st_size:,} bytes, over the grader's limit of {cap:,}{too_large}")
        chunks, left = [], cap + 1
        while left > 0:
            chunk = os.read(file, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)
        if len(data) > cap:  # it grew while being read
            raise Refused(f"{printable(label)} is over the grader's limit of {cap:,} bytes{too_large}")
        return data
    finally:
        os.close(file)


def scan(fd: int, label: str = "", depth: int = 0, budget: list[int] | None = None) -> None:
    """Walk the folder `fd` without following anything; `Refused` at the first entry that is not a
    plain file or folder, or when the tree is deeper or larger than a submission folder can be."""
    budget = budget if budget is not None else [MAX_ENTRIES]
    if depth > MAX_DEPTH:
        raise Refused(f"{printable(label)} is nested more than {MAX_DEPTH} folders deep")
    with os.scandir(fd) as entries:
        names = sorted(entry.name for entry in entries)
    for name in names:
        budget[0] -= 1
        if budget[0] < 0:
            raise Refused(f"the submission folder holds more than {MAX_ENTRIES:,} entries")
        what = lkind(fd, name)
        if what == "a folder":
            child = os.open(name, _DIR_FLAGS, dir_fd=fd)
            try:
                scan(child, f"{label}{name}/", depth + 1, budget)
            finally:
                os.close(child)
        elif what not in ("a file", None):  # None: removed meanwhile
            raise _refuse(f"{label}{name}", what, fd, name)


def write_atomic(path: Path, text: str | bytes) -> None:
    """Write `path` so that readers see the old file or the new one, never half of one.

    Text is encoded as UTF-8 with any character UTF-8 cannot hold (a lone surrogate) replaced:
    callers scrub what they write (text.scrub), this is the last guard, not the fix.
    """
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
