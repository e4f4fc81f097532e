"""Test-wide set-up: real MNIST files from ../shared, no network, no display."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
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
# One BLAS/OpenMP thread per process: the suite's two workers share two cores, and with a thread per core each
# (and in every kernel and grader they start) the threads outnumber the cores and wait on each other, OpenBLAS's
# spinning: five compute-heavy files took 86 s, 54 s with one thread each.
for _threads in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_threads, "1")
os.environ["GRADBOOK_OFFLINE"] = "1"  # tests never reach for the network; the loader tests serve files on 127.0.0.1
os.environ.pop("GRADBOOK_LANG", None)  # the tests speak English unless they ask for a language (gradbook.i18n)
_data_dir = Path(tempfile.mkdtemp(prefix="gradbook-test-data-"))
if SHARED_MNIST.is_dir():
    for file in SHARED_MNIST.glob("*.gz"):
        shutil.copy2(file, _data_dir / file.name)
# Readable by every account, as a course's datasets folder must be: run as root, each sandbox reads it as a uid
# of its own (gradbook_grader.sandbox.data_unreadable; mkdtemp makes it 0700).
for _path in (_data_dir, *_data_dir.iterdir()):
    _path.chmod(0o755 if _path.is_dir() else 0o644)
os.environ["GRADBOOK_DATA"] = str(_data_dir)
# Checks run by the tests record their outcomes (gradbook.progress) here, not beside the notebooks.
os.environ["GRADBOOK_PROGRESS"] = str(_data_dir / "progress.json")


# The course hub's test closes this checkout to other accounts (gradbook_grader.hub_checkout) while it runs;
# the other tests read the checkout as other accounts do (sandboxes run under their own uids), so each holds
# this lock shared (all but ROOT_ONLY_MODULES'), and the hub's test holds it alone: the two never overlap, on any
# xdist worker.
CHECKOUT_LOCK = Path(tempfile.gettempdir()) / f"gradbook-checkout-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}.lock"


@contextlib.contextmanager
def checkout_lock(exclusive: bool) -> Iterator[None]:
    with open(CHECKOUT_LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# nbgrader sets these around a validation or an autograde in this process (nbgrader.utils.setenv) without a
# try/finally: one that raises leaves them set, and every later test in the process would run as if under
# nbgrader (the checks then print the whole lesson instead of the panel's one line). Put back after each test.
NBGRADER_ENVIRONMENT = ("NBGRADER_EXECUTION", "NBGRADER_VALIDATING")


@pytest.fixture(autouse=True)
def _nbgrader_environment_put_back() -> Iterator[None]:
    before = {key: os.environ.get(key) for key in NBGRADER_ENVIRONMENT}
    yield
    for key, value in before.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# The modules whose tests never run anything as another account (no sandbox, no grader, no `setpriv`): root reads
# a closed checkout as before, so they need no lock and run beside the hub's test. A module not named here holds
# the lock: add one only when none of its tests (nor a helper they call) starts a sandbox or another account.
ROOT_ONLY_MODULES = frozenset({
    "test_chapters_00_02.py", "test_chapters_03_05.py", "test_chapters_06_08.py", "test_check_seeds.py",
    "test_datasets_download.py", "test_datasets_idx.py", "test_datasets_mnist.py", "test_datasets_text.py",
    "test_datasets_toy.py", "test_diagnose.py", "test_i18n_messages.py", "test_i18n_style.py", "test_mutants.py",
    "test_progress.py", "test_reference_activations.py", "test_reference_gradcheck.py", "test_reference_layers.py",
    "test_reference_losses.py", "test_reference_optimizers.py", "test_run_all.py", "test_sequence_layers.py",
    "test_sequence_models.py", "test_sequential_api.py", "test_surfaces.py", "test_torch_path.py", "test_widgets.py",
})


def _needs_checkout_open(item: pytest.Item) -> bool:
    return not item.get_closest_marker("closes_checkout") and item.path.name not in ROOT_ONLY_MODULES


@pytest.fixture(autouse=True)
def _checkout_readable_by_others(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test that others' accounts read the checkout for runs while no hub test has it closed (see
    CHECKOUT_LOCK); the hub's module fixture holds the lock alone."""
    if not _needs_checkout_open(request.node):
        yield
        return
    with checkout_lock(exclusive=False):
        yield


# --- the order of the suite on xdist's workers (`workbook.py test`: --dist loadscope --no-loadscope-reorder) ------
# The workers take the tests in collection order, one unit at a time. The tests of a module that share a module- or
# class-scoped fixture are one unit, so the fixture (a graded class, a released course, a server) is built once, not
# once on each worker; every other test is a unit of its own. The hub's test goes first, then every root-only unit
# (longest first), which keeps the other worker busy while the hub's test holds the checkout alone: the slow ones
# alone last about a minute and the hub's test several, and a worker that reached a test needing the lock sat idle
# until the hub's test ended (150 s of an idle run). Then the other units by their expected length, longest first,
# so that the run does not end with one worker on a long test while the other has nothing left.
# The units are decided here, where the fixtures are known (each worker collects), and written to UNITS_ENV's file
# for the scheduler below, on the controller, which sees only the tests' ids. (xdist's own `loadgroup` cannot carry
# them: it renames the items through an attribute that pytest 9 no longer reads.)
SLOW_SECONDS = 10.0  # what a `slow` test is expected to take (pyproject.toml's marker: "more than ~10 s")
QUICK_SECONDS = 0.2
UNITS_ENV = "GRADBOOK_TEST_UNITS"  # set by the controller, inherited by its workers
RUN_ENV = "GRADBOOK_TEST_RUN"  # the run's folder for what it computes once (tests/run_helpers.py), for every worker


def _shares_a_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    defs = info.name2fixturedefs.values() if info is not None else ()
    return any(d.scope in ("module", "class", "package") for chain in defs for d in chain)


def _expected_seconds(item: pytest.Item) -> float:
    """A `slow` test's own measure where it gives one (`@pytest.mark.slow(seconds=120)`: a single test of minutes
    must start early, not among the 10-second ones at the end), else SLOW_SECONDS; QUICK_SECONDS otherwise."""
    slow = item.get_closest_marker("slow")
    return QUICK_SECONDS if slow is None else float(slow.kwargs.get("seconds", SLOW_SECONDS))


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    os.environ.pop(UNITS_ENV, None)  # a run started by a test is not its parent's: its own file or none
    os.environ[RUN_ENV] = tempfile.mkdtemp(prefix="gradbook-test-run-")  # run_helpers.once: this run's, its own
    if config.getoption("dist", "no") == "loadscope":
        handle, path = tempfile.mkstemp(prefix="gradbook-test-units-", suffix=".json")
        os.close(handle)
        os.environ[UNITS_ENV] = path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        shared = _shares_a_fixture(item) or item.get_closest_marker("closes_checkout")
        units.setdefault(module if shared else item.nodeid, []).append(item)

    def rank(unit: list[pytest.Item]) -> tuple[int, float]:
        seconds = sum(_expected_seconds(item) for item in unit)
        if unit[0].get_closest_marker("closes_checkout"):
            return 0, -seconds
        if not _needs_checkout_open(unit[0]):
            return 1, -seconds  # the other worker's work while the hub's test runs: every unit that needs no lock
        return 2, -seconds  # the quick tests last: they fill in while the last long ones finish

    items[:] = [item for unit in sorted(units.values(), key=rank) for item in unit]  # sorted() is stable
    if hasattr(config, "workerinput") and UNITS_ENV in os.environ:  # every worker writes the same file
        path = Path(os.environ[UNITS_ENV])
        written = path.with_name(f"{path.name}.{config.workerinput['workerid']}")
        written.write_text(json.dumps({i.nodeid: key for key, unit in units.items() for i in unit if key != i.nodeid}))
        os.replace(written, path)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """`--dist loadscope` with the units above as its scopes (read once, after every worker has collected)."""
    if config.getoption("dist") != "loadscope" or UNITS_ENV not in os.environ:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Units(LoadScopeScheduling):
        scopes: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.scopes is None:
                text = Path(os.environ[UNITS_ENV]).read_text()
                self.scopes = json.loads(text) if text else {}
            return self.scopes.get(nodeid, nodeid)

    return Units(config, log)


def pytest_unconfigure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return
    if UNITS_ENV in os.environ:
        Path(os.environ.pop(UNITS_ENV)).unlink(missing_ok=True)
    if RUN_ENV in os.environ:
        shutil.rmtree(os.environ.pop(RUN_ENV), ignore_errors=True)


def ignoring_sigint() -> None:
    """A `preexec_fn`: the process starts with SIGINT ignored, as a background job of a script (or a CI runner)
    starts it; what documents Ctrl-C as its stop must still stop on SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


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
