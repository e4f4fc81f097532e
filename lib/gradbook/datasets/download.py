"""Download a file from a list of mirrors: checksum-verified, retried, and atomic.

A file only ever appears under its final name after its SHA-256 matched: it is streamed
into a temporary file in the same directory, verified, then renamed with `os.replace`
(atomic on POSIX and Windows). A failed, truncated or corrupt download, or an interrupted
one, leaves nothing behind that a later load could mistake for the real file.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = ["DownloadError", "atomic_path", "fetch", "is_offline"]

OFFLINE_ENV = "GRADBOOK_OFFLINE"
RETRIES = 3  # attempts per mirror for transient failures (dropped connection, 5xx, short body)
BACKOFF_S = 1.0  # wait before retry k is BACKOFF_S * 2**(k-1)
# Applies to connecting and to each read. Short, so that a machine without network falls
# back to the offline digits in seconds; connection failures are never retried.
TIMEOUT_S = 5.0
_CHUNK = 1 << 16
_USER_AGENT = "gradbook-datasets (Python urllib)"


class DownloadError(OSError):
    """No mirror delivered a verified copy. `unreachable`: no mirror could even be connected
    to (no network, DNS failure, downloads disabled), so trying further files is pointless."""

    def __init__(self, message: str, *, unreachable: bool) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class _Retry(Exception):
    """The server answered but the transfer failed in a way that may not happen again."""


class _NextMirror(Exception):
    """This mirror will not give us the file (404, wrong content, no connection)."""

    def __init__(self, message: str, *, connected: bool) -> None:
        super().__init__(message)
        self.connected = connected


def is_offline() -> bool:
    """True when the environment forbids network access (GRADBOOK_OFFLINE=1/true/yes)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path next to `dest`; on a clean exit it replaces `dest` atomically,
    on any exception (including KeyboardInterrupt) it is deleted."""
    fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp makes the file private (0600); a cache may be shared by a whole class.
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    filename: str,
    dest_dir: str | Path,
    sha256: str,
    mirrors: Sequence[str],
    *,
    verbose: bool = True,
    retries: int | None = None,
    backoff_s: float | None = None,
    timeout_s: float | None = None,
) -> Path:
    """Download `filename` from the first mirror that delivers it with the given SHA-256.

    Mirrors are tried in order. On each, transient failures are retried `retries` times
    with exponential backoff; a 404, a checksum mismatch or a failed connection moves on
    to the next mirror at once. Raises `DownloadError` listing what each mirror did.
    """
    retries = RETRIES if retries is None else retries
    backoff_s = BACKOFF_S if backoff_s is None else backoff_s
    timeout_s = TIMEOUT_S if timeout_s is None else timeout_s
    dest = Path(dest_dir) / filename
    if is_offline():
        raise DownloadError(
            f"not downloading {filename}: downloads are disabled ({OFFLINE_ENV}=1). "
            f"Unset {OFFLINE_ENV} to allow them.",
            unreachable=True,
        )
    if not mirrors:
        raise DownloadError(f"not downloading {filename}: no mirrors given", unreachable=True)
    Path(dest_dir).mkdir(parents=True, exist_ok=True)

    failures: list[str] = []
    connected = False
    for mirror in mirrors:
        url = f"{mirror.rstrip('/')}/{filename}"
        for attempt in range(1, retries + 1):
            try:
                _download_once(url, dest, sha256, timeout_s, verbose)
                return dest
            except _NextMirror as error:
                connected = connected or error.connected
                failures.append(f"{url}: {error}")
                break
            except _Retry as error:
                connected = True
                failures.append(f"{url} (attempt {attempt}/{retries}): {error}")
                if attempt < retries:
                    time.sleep(backoff_s * 2 ** (attempt - 1))
    details = "\n".join(f"  - {line}" for line in failures)
    raise DownloadError(f"could not download {filename} from any mirror:\n{details}", unreachable=not connected)


def _download_once(url: str, dest: Path, sha256: str, timeout_s: float, verbose: bool) -> None:
    from tqdm.auto import tqdm  # here, not at the top: `import gradbook.datasets` stays light

    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with atomic_path(dest) as tmp:
        try:
            response = urllib.request.urlopen(request, timeout=timeout_s)
        except urllib.error.HTTPError as error:
            error.close()
            reason = f"HTTP {error.code} {error.reason}"
            if error.code >= 500 or error.code in (408, 429):
                raise _Retry(reason) from error
            raise _NextMirror(reason, connected=True) from error
        except urllib.error.URLError as error:
            if isinstance(error.reason, ConnectionResetError):  # includes RemoteDisconnected
                raise _Retry(f"connection dropped before a response ({error.reason})") from error
            # DNS failure, refused, unreachable, connect timeout: the offline symptoms.
            raise _NextMirror(f"cannot connect ({error.reason})", connected=False) from error
        except ConnectionResetError as error:  # http.client.RemoteDisconnected, unwrapped
            raise _Retry(f"connection dropped before a response ({error})") from error
        except (OSError, http.client.HTTPException) as error:
            raise _Retry(f"connection failed ({error!r})") from error

        digest = hashlib.sha256()
        received = 0
        length = response.headers.get("Content-Length")
        expected = int(length) if length and length.isdigit() else None
        try:
            with response, open(tmp, "wb") as out, tqdm(
                total=expected, unit="B", unit_scale=True, unit_divisor=1024,
                desc=dest.name, disable=not verbose,
            ) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as error:
            raise _Retry(f"transfer failed after {received:,} bytes ({error!r})") from error
        # http.client returns a short body without complaint when the peer closes early.
        if expected is not None and received != expected:
            raise _Retry(f"connection closed after {received:,} of {expected:,} bytes")
        actual = digest.hexdigest()
        if actual != sha256:
            raise _NextMirror(
                f"SHA-256 mismatch ({received:,} bytes, got {actual}, expected {sha256}): "
                "the mirror served a corrupt or different file",
                connected=True,
            )
