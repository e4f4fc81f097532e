"""Downloading MNIST from mirrors, against a real HTTP server on 127.0.0.1.

The server serves the real files from ../shared/data/mnist under /good/, and the same
files damaged under other prefixes: /truncated/ (promises the full length, sends half,
hangs up), /short/ (an honest length for half the file), /corrupt/ (bytes flipped),
/missing/ (404), /drop/ (closes the connection without answering), /error/ (HTTP 503).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import struct
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from gradbook.datasets import download, mnist
from gradbook.datasets.download import DownloadError, fetch

SHARED_FILES = ("train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


class Mirror(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), MirrorHandler)
        self.files = files
        self.hits: Counter[tuple[str, str]] = Counter()

    def url(self, mode: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/{mode}/"


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    server: Mirror

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        mode, _, name = self.path.strip("/").partition("/")
        self.server.hits[(mode, name)] += 1
        body = self.server.files.get(name)
        if mode == "drop":
            return  # no status line at all: the client sees the connection close
        if mode == "error":
            self.send_error(503)
            return
        if body is None or mode == "missing":
            self.send_error(404)
            return
        length = len(body)
        if mode == "truncated":
            body = body[: length // 2]
        elif mode == "short":
            body = body[: length // 2]
            length = len(body)
        elif mode == "corrupt":
            body = bytes(b ^ 0x5A if i % 1000 == 0 else b for i, b in enumerate(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep the test output clean


@pytest.fixture(scope="module")
def mirror(shared_mnist: Path) -> Iterator[Mirror]:
    server = Mirror({name: (shared_mnist / name).read_bytes() for name in SHARED_FILES})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def online(monkeypatch: pytest.MonkeyPatch, mirror: Mirror) -> None:
    """Allow downloads (conftest forbids them), straight to 127.0.0.1, without waiting to retry."""
    monkeypatch.delenv("GRADBOOK_OFFLINE", raising=False)
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(download, "BACKOFF_S", 0.0)
    monkeypatch.setattr(mnist, "_fallback_announced", False)
    mirror.hits.clear()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def direct_parse(path: Path, header: int) -> np.ndarray:
    """Parse an MNIST file without gradbook: gunzip and skip the header."""
    return np.frombuffer(gzip.decompress(path.read_bytes()), dtype=np.uint8, offset=header)


def fallback_message(record: pytest.WarningsRecorder) -> str:
    (warning,) = [w for w in record if issubclass(w.category, mnist.MNISTFallbackWarning)]
    return str(warning.message)


def refused_url() -> str:
    """A URL on a port nothing listens on: connecting fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.mark.parametrize("name", SHARED_FILES)
def test_good_mirror_delivers_the_exact_file(tmp_path: Path, mirror: Mirror, shared_mnist: Path, name: str) -> None:
    path = fetch(name, tmp_path, mnist.SHA256[name], [mirror.url("good")], verbose=False)
    assert path == tmp_path / name
    assert path.read_bytes() == (shared_mnist / name).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # no temporary file left


BAD_MIRRORS = [
    # mode, what the error says, requests made (transient failures are retried)
    ("truncated", r"connection closed after 2,271 of 4,542 bytes", download.RETRIES),
    ("short", r"SHA-256 mismatch \(2,271 bytes", 1),
    ("corrupt", r"SHA-256 mismatch \(4,542 bytes.*corrupt or different file", 1),
    ("missing", r"HTTP 404", 1),
    ("drop", r"connection dropped before a response", download.RETRIES),
    ("error", r"HTTP 503", download.RETRIES),
]


@pytest.mark.parametrize(("mode", "message", "requests"), BAD_MIRRORS)
def test_bad_mirror_fails_clearly_and_leaves_nothing(
    tmp_path: Path, mirror: Mirror, mode: str, message: str, requests: int
) -> None:
    name = "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DownloadError, match=message) as caught:
        fetch(name, tmp_path, mnist.SHA256[name], [mirror.url(mode)], verbose=False)
    assert f"could not download {name}" in str(caught.value)
    assert mirror.url(mode) + name in str(caught.value)
    assert not caught.value.unreachable  # the server answered: the network is fine
    assert mirror.hits[(mode, name)] == requests
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", [mode for mode, _, _ in BAD_MIRRORS])
def test_next_mirror_is_tried_after_a_bad_one(tmp_path: Path, mirror: Mirror, shared_mnist: Path, mode: str) -> None:
    name = "train-labels-idx1-ubyte.gz"
    fetch(name, tmp_path, mnist.SHA256[name], [mirror.url(mode), mirror.url("good")], verbose=False)
    assert (tmp_path / name).read_bytes() == (shared_mnist / name).read_bytes()
    assert mirror.hits[("good", name)] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_unreachable_mirrors_are_not_retried(tmp_path: Path) -> None:
    name = "t10k-labels-idx1-ubyte.gz"
    url = refused_url()
    with pytest.raises(DownloadError, match="cannot connect") as caught:
        fetch(name, tmp_path, mnist.SHA256[name], [url, url], verbose=False)
    assert caught.value.unreachable
    assert str(caught.value).count("cannot connect") == 2  # once per mirror, no retries
    assert list(tmp_path.iterdir()) == []


def test_offline_environment_blocks_downloads(tmp_path: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADBOOK_OFFLINE", "1")
    name = "t10k-labels-idx1-ubyte.gz"
    with pytest.raises(DownloadError, match="downloads are disabled \\(GRADBOOK_OFFLINE=1\\)"):
        fetch(name, tmp_path, mnist.SHA256[name], [mirror.url("good")], verbose=False)
    assert sum(mirror.hits.values()) == 0


def test_loader_downloads_what_exists_and_falls_back_for_the_rest(
    data_dir: Path, mirror: Mirror, shared_mnist: Path
) -> None:
    # The mirror has no train-images (it is not in ../shared): the other three are
    # downloaded, the real test set is used, and the offline digits stand in for training.
    with pytest.warns(mnist.MNISTFallbackWarning) as record:
        (x_train, y_train), (x_test, y_test) = mnist.load_data(
            data_dir=data_dir, mirrors=[mirror.url("corrupt"), mirror.url("good")], verbose=False
        )
    message = fallback_message(record)
    assert "train-images-idx3-ubyte.gz not in" in message and "HTTP 404" in message
    assert x_train.shape == (5000, 28, 28) and y_train.shape == (5000,)
    np.testing.assert_array_equal(x_test, direct_parse(shared_mnist / "t10k-images-idx3-ubyte.gz", 16).reshape(-1, 28, 28))
    np.testing.assert_array_equal(y_test, direct_parse(shared_mnist / "t10k-labels-idx1-ubyte.gz", 8))
    for name in SHARED_FILES:
        assert sha256((data_dir / name).read_bytes()) == mnist.SHA256[name]
    assert sorted(p.name for p in data_dir.iterdir()) == sorted([*SHARED_FILES, mnist.OFFLINE_CACHE])


def test_loader_reads_mirrors_from_the_environment(
    data_dir: Path, mirror: Mirror, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRADBOOK_MNIST_MIRRORS", f"{mirror.url('missing')}, {mirror.url('good')}")
    with pytest.warns(mnist.MNISTFallbackWarning):
        mnist.load_data(data_dir=data_dir, verbose=False)
    assert mirror.hits[("missing", "t10k-labels-idx1-ubyte.gz")] == 1
    assert mirror.hits[("good", "t10k-labels-idx1-ubyte.gz")] == 1
    assert (data_dir / "t10k-labels-idx1-ubyte.gz").is_file()


def synthetic_train_images(labels: np.ndarray) -> np.ndarray:
    """60,000 images that each show their label as brightness (so the pairing is checkable)."""
    images = np.zeros((len(labels), 28, 28), dtype=np.uint8)
    images[:, 4:24, 4:24] = (labels * 25 + 5)[:, None, None]
    return images


def test_loader_returns_the_full_dataset_when_every_file_downloads(
    tmp_path: Path, mirror: Mirror, shared_mnist: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ../shared has no training images, so serve stand-ins and expect their checksum.
    train_labels = direct_parse(shared_mnist / "train-labels-idx1-ubyte.gz", 8)
    images = synthetic_train_images(train_labels)
    served = gzip.compress(struct.pack(">IIII", 0x803, len(images), 28, 28) + images.tobytes(), compresslevel=1)
    monkeypatch.setitem(mirror.files, "train-images-idx3-ubyte.gz", served)
    monkeypatch.setitem(mnist.SHA256, "train-images-idx3-ubyte.gz", sha256(served))

    with warnings.catch_warnings():
        warnings.simplefilter("error", mnist.MNISTFallbackWarning)  # no fallback this time
        (x_train, y_train), (x_test, y_test) = mnist.load_data(
            source="download", data_dir=tmp_path, mirrors=[mirror.url("drop"), mirror.url("good")], verbose=False
        )
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.dtype == np.uint8 and x_test.dtype == np.uint8 and y_test.dtype == np.uint8
    np.testing.assert_array_equal(x_train, images)
    np.testing.assert_array_equal(y_train, train_labels)
    np.testing.assert_array_equal(y_test, direct_parse(shared_mnist / "t10k-labels-idx1-ubyte.gz", 8))
    assert x_test.shape == (10000, 28, 28)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(mnist.SHA256)


@pytest.mark.parametrize("mode", ["truncated", "corrupt", "missing", "drop"])
def test_download_source_fails_with_guidance_and_leaves_nothing(tmp_path: Path, mirror: Mirror, mode: str) -> None:
    with pytest.raises(DownloadError) as caught:
        mnist.load_data(source="download", data_dir=tmp_path, mirrors=[mirror.url(mode)], verbose=False)
    message = str(caught.value)
    # The first file in Keras's order fails; the message says where to put it and the alternative.
    assert "could not download train-images-idx3-ubyte.gz" in message
    assert f"Put train-images-idx3-ubyte.gz in {tmp_path}" in message
    assert "source='offline'" in message
    assert list(tmp_path.iterdir()) == []


def test_auto_source_stops_downloading_when_the_network_is_unreachable(data_dir: Path, mirror: Mirror) -> None:
    with pytest.warns(mnist.MNISTFallbackWarning) as record:
        (x_train, _), (x_test, _) = mnist.load_data(data_dir=data_dir, mirrors=[refused_url()], verbose=False)
    message = fallback_message(record)
    # One attempt, for the first file: the others would fail the same way.
    assert message.count("cannot connect") == 1 and "train-images-idx3-ubyte.gz from any mirror" in message
    assert (len(x_train), len(x_test)) == (4000, 1000)
    assert [p.name for p in data_dir.iterdir()] == [mnist.OFFLINE_CACHE]
