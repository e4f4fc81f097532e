"""Test-wide set-up: real MNIST files from ../shared, no network, no display."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import pytest

pytest.register_assert_rewrite("notebook_helpers")  # its checks report like the tests' own asserts

ROOT = Path(__file__).resolve().parents[1]
SHARED_MNIST = ROOT.parent / "shared" / "data" / "mnist"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# Set before anything imports gradbook or matplotlib, and inherited by every
# notebook kernel and grader subprocess the tests start.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["GRADBOOK_OFFLINE"] = "1"  # tests never reach for the network; the loader tests serve files on 127.0.0.1
os.environ.pop("GRADBOOK_LANG", None)  # the tests speak English unless they ask for a language (gradbook.i18n)
_data_dir = Path(tempfile.mkdtemp(prefix="gradbook-test-data-"))
if SHARED_MNIST.is_dir():
    for file in SHARED_MNIST.glob("*.gz"):
        shutil.copy2(file, _data_dir / file.name)
os.environ["GRADBOOK_DATA"] = str(_data_dir)
# Checks run by the tests record their outcomes (gradbook.progress) here, not beside the notebooks.
os.environ["GRADBOOK_PROGRESS"] = str(_data_dir / "progress.json")


# The course hub's test closes this checkout to other accounts (gradbook_grader.hub_checkout) while it runs;
# every other test reads the checkout as other accounts do (sandboxes run under their own uids), so it holds
# this lock shared, and the hub's test holds it alone: the two never overlap, on any xdist worker.
CHECKOUT_LOCK = Path(tempfile.gettempdir()) / f"gradbook-checkout-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}.lock"


@contextlib.contextmanager
def checkout_lock(exclusive: bool) -> Iterator[None]:
    with open(CHECKOUT_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _checkout_readable_by_others(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test reads the checkout while no hub test has it closed (see CHECKOUT_LOCK)."""
    if request.node.get_closest_marker("closes_checkout"):
        yield  # its module's fixture holds the lock alone
        return
    with checkout_lock(exclusive=False):
        yield


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine that lacks a tool; fail in CI, where .ci/run installs it."""
    if not condition:
        if IN_CI:
            pytest.fail(f"{reason} (CI installs this in .ci/run, so it must be present)")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_mnist() -> Path:
    """The real MNIST test set and training labels (../shared/data/mnist)."""
    require(SHARED_MNIST.is_dir(), f"real MNIST files not found in {SHARED_MNIST}")
    return SHARED_MNIST


@pytest.fixture(scope="module")
def offline_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The parsed offline digits, built once a module: `data_dir` copies them to skip the slow CSV parse."""
    from gradbook.datasets import mnist

    directory = tmp_path_factory.mktemp("offline")
    mnist.load_data(source="offline", data_dir=directory)
    return directory / mnist.OFFLINE_CACHE


@pytest.fixture
def data_dir(tmp_path: Path, offline_cache: Path) -> Path:
    """A fresh data directory that already holds the offline digits' cache."""
    shutil.copy(offline_cache, tmp_path / offline_cache.name)
    return tmp_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def await_jupyter(server: subprocess.Popen, port: int) -> str:
    """Wait for a Jupyter server started with stdout=PIPE, text=True (stderr merged) to take connections
    on `port`; return what it printed. It prints its address just before binding the port in its
    event loop's first callback, so after the address only a moment's retrying remains."""
    printed = []
    for line in server.stdout:
        printed.append(line)
        if f":{port}/" in line:
            break
    while server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            threading.Thread(target=server.stdout.read, daemon=True).start()  # keep its pipe drained
            return "".join(printed)
        except ConnectionRefusedError:
            time.sleep(0.02)  # the bind is one event-loop callback away
    pytest.fail(f"the Jupyter server exited with {server.returncode}:\n{''.join(printed)[-3000:]}")


def stop_jupyter(server: subprocess.Popen, base: str, token: str) -> None:
    """Stop a Jupyter server and its kernels (/api/shutdown); kill its process group if that fails."""
    try:
        urllib.request.urlopen(urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST"),
                               timeout=10)
        server.wait(timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        os.killpg(server.pid, 9)
        server.wait(timeout=30)
