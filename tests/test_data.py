"""Tests of `tf_graphvae.data`: offline, on real files where present and on small made data."""

from __future__ import annotations

import gzip
import io
import os
import pickle
import re
import struct
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tf_graphvae import data

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MNIST_DIR = SHARED_DATA / "mnist"
OMNIGLOT_DIR = SHARED_DATA / "omniglot"
FASHION_DIR = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))

needs_mnist = pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file()
    or not (MNIST_DIR / "t10k-labels-idx1-ubyte.gz").is_file(),
    reason=f"offline MNIST test files not found in {MNIST_DIR}",
)
needs_fashion = pytest.mark.skipif(
    not all(
        (FASHION_DIR / f).is_file()
        for f in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz")
    ),
    reason=f"Fashion-MNIST IDX files not found in {FASHION_DIR} "
    "(apt-get install dataset-fashion-mnist)",
)


def _needs_omniglot(split: str) -> pytest.MarkDecorator:
    path = OMNIGLOT_DIR / f"images_background_{split}.zip"
    return pytest.mark.skipif(not path.is_file(), reason=f"{path} not found")


def _all(ds: tf.data.Dataset) -> tuple[np.ndarray, ...] | np.ndarray:
    """Materialises an unbatched dataset as numpy arrays."""
    batch = next(iter(ds.batch(1_000_000)))
    if isinstance(batch, tuple):
        return tuple(t.numpy() for t in batch)
    return batch.numpy()


# --------------------------------------------------------------------------------------
# Small made files
# --------------------------------------------------------------------------------------


def _idx_images(images: np.ndarray) -> bytes:
    n, rows, cols = images.shape
    return struct.pack(">IIII", 0x803, n, rows, cols) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x801, len(labels)) + labels.astype(np.uint8).tobytes()


SMALL_IMAGES = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
SMALL_LABELS = np.array([3, 1, 4, 1, 5], dtype=np.uint8)


def _write_idx(
    directory: Path,
    *,
    images: bytes | None = None,
    labels: bytes | None = None,
    compress: bool = True,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    images = _idx_images(SMALL_IMAGES) if images is None else images
    labels = _idx_labels(SMALL_LABELS) if labels is None else labels
    suffix = ".gz" if compress else ""
    pack = gzip.compress if compress else bytes
    (directory / f"t10k-images-idx3-ubyte{suffix}").write_bytes(pack(images))
    (directory / f"t10k-labels-idx1-ubyte{suffix}").write_bytes(pack(labels))
    return directory


def _png(ink: np.ndarray) -> bytes:
    """A 105x105 Omniglot-style PNG: black (0) strokes where `ink`, white (255) elsewhere."""
    pixels = np.where(ink, 0, 255).astype(np.uint8)[..., None]
    return tf.io.encode_png(pixels).numpy()


def _omniglot_zip(layout: dict[str, int], top: str = "images_background_small1") -> bytes:
    """A zip `<top>/<alphabet>/character01/<i>.png` with `layout[alphabet]` images each."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top}/", b"")
        for a, (alphabet, count) in enumerate(sorted(layout.items())):
            for i in range(count):
                ink = np.zeros((105, 105), dtype=bool)
                ink[10 + 5 * i : 40 + 5 * i, 20 + 10 * a : 60 + 10 * a] = True  # a thick stroke
                name = f"{top}/{alphabet}/character01/{1000 + i:04d}_{a + 1:02d}.png"
                archive.writestr(name, _png(ink))
    return buffer.getvalue()


def _cifar_arrays(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).tolist()


def _py2_style_batch(array: np.ndarray, labels: list[int]) -> bytes:
    """A batch pickled the way the published (Python 2 cPickle) files are: str opcodes."""
    n, width = array.shape
    raw = array.tobytes()
    dtype = (
        b"cnumpy\ndtype\nq\x06U\x02u1K\x00K\x01\x87Rq\x07(K\x03U\x01|NNN"
        b"J\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    )
    shape = b"J" + struct.pack("<i", n) + b"J" + struct.pack("<i", width) + b"\x86"
    array_pickle = (
        b"cnumpy.core.multiarray\n_reconstruct\nq\x03cnumpy\nndarray\nq\x04K\x00\x85U\x01b"
        b"\x87Rq\x05(K\x01" + shape + dtype + b"\x89T" + struct.pack("<I", len(raw)) + raw + b"tb"
    )
    label_pickle = b"]q\t(" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return (
        b"\x80\x02}q\x01(U\x04dataq\x02" + array_pickle + b"U\x06labelsq\x08" + label_pickle + b"u."
    )


N_PER_BATCH = 4


@pytest.fixture(scope="module")
def cifar_batches() -> dict[str, tuple[np.ndarray, list[int], bytes]]:
    """Fake CIFAR-10 batches: name -> (data [n, 3072], labels, pickled bytes)."""
    batches = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        array, labels = _cifar_arrays(N_PER_BATCH, seed=i)
        if name == "test_batch":  # image 0: pure red
            array[0] = 0
            array[0, :1024] = 255
        if name == "data_batch_1":
            payload = _py2_style_batch(array, labels)
        else:
            payload = pickle.dumps({b"data": array, b"labels": labels}, protocol=2)
        batches[name] = (array, labels, payload)
    return batches


def _write_cifar(root: Path, batches: dict, layout: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    if layout == "tar":
        with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tar:
            for name, (_, _, payload) in batches.items():
                info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
        return root
    folder = root / "cifar-10-batches-py" if layout == "folder" else root
    folder.mkdir(exist_ok=True)
    for name, (_, _, payload) in batches.items():
        (folder / name).write_bytes(payload)
    return root


# --------------------------------------------------------------------------------------
# Names, shapes, split specs
# --------------------------------------------------------------------------------------


def test_names_and_event_shapes():
    assert data.DATASETS == ("digits", "mnist", "fashion_mnist", "omniglot", "cifar10")
    assert data.BINARY_DATASETS == ("digits", "mnist", "fashion_mnist", "omniglot")
    assert data.event_shape("digits") == (8, 8, 1)
    assert data.event_shape("mnist") == (28, 28, 1)
    assert data.event_shape("fashion_mnist") == (28, 28, 1)
    assert data.event_shape("omniglot") == (28, 28, 1)
    assert data.event_shape("cifar10") == (32, 32, 3)
    assert data.splits("omniglot") == (
        "train",
        "test",
        "small1",
        "small2",
        "generative_train",
        "generative_test",
    )


@pytest.mark.parametrize(
    "call",
    [
        lambda: data.load("mnist_v2"),
        lambda: data.load_numpy("svhn", "test"),
        lambda: data.event_shape("MNIST"),
    ],
)
def test_unknown_name_lists_valid_names(call):
    with pytest.raises(ValueError, match="valid names are digits, mnist, fashion_mnist"):
        call()


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "train[",
        "train]",
        "train[:]x",
        "train[1.5:]",
        "train[::2]",
        "train[a:b]",
        "val",
        "validation[:10]",
        "train[:200%]",
        "train[5:5]",
        "train[10:3]",
        "train[5000:]",
        "train[:-5000]",
    ],
)
def test_bad_split_spec(spec):
    with pytest.raises(ValueError, match=re.escape(repr(spec))):
        data.load("digits", spec)


def test_bad_split_message_names_spec_and_valid_splits():
    with pytest.raises(ValueError) as info:
        data.load("omniglot", "valid[:10]", data_dir=OMNIGLOT_DIR)
    assert "'valid[:10]'" in str(info.value)
    assert "train, test, small1, small2" in str(info.value)


# --------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------


def test_digits_train_test():
    from sklearn.datasets import load_digits

    train, train_labels = _all(data.load("digits", "train", with_labels=True))
    test = data.load_numpy("digits", "test")
    assert train.shape == (1437, 8, 8, 1) and test.shape == (360, 8, 8, 1)
    assert train.dtype == np.float32 and test.dtype == np.float32
    assert train.min() == 0.0 and train.max() == 1.0 and test.max() == 1.0
    reference = load_digits()
    np.testing.assert_allclose(test[..., 0], reference.images[1437:] / 16.0, atol=1e-7)
    np.testing.assert_array_equal(train_labels, reference.target[:1437])
    assert train_labels.dtype == np.int64
    ds = data.load("digits", "test")
    assert ds.element_spec == tf.TensorSpec((8, 8, 1), tf.float32)


def test_digits_percent_rounds_to_closest_like_tfds():
    full = data.load_numpy("digits", "test")
    np.testing.assert_array_equal(data.load_numpy("digits", "test[:33%]"), full[:119])  # 118.8
    np.testing.assert_array_equal(data.load_numpy("digits", "test[-10%:]"), full[-36:])


# --------------------------------------------------------------------------------------
# MNIST and Fashion-MNIST, real files
# --------------------------------------------------------------------------------------


@needs_mnist
def test_mnist_test_real():
    images, labels = _all(data.load("mnist", "test", data_dir=MNIST_DIR, with_labels=True))
    assert images.shape == (10_000, 28, 28, 1) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    assert 0.1 < images.mean() < 0.15  # MNIST's mean grey level is about 0.13
    counts = np.bincount(labels, minlength=10)
    assert len(counts) == 10 and counts.sum() == 10_000
    assert counts.min() > 800 and counts.max() < 1200
    np.testing.assert_array_equal(labels[:5], [7, 2, 1, 0, 4])  # the published order
    spec = data.load("mnist", "test", data_dir=str(MNIST_DIR)).element_spec
    assert spec == tf.TensorSpec((28, 28, 1), tf.float32)


@needs_mnist
def test_mnist_slices_are_ordered_disjoint_parts():
    full = data.load_numpy("mnist", "test", MNIST_DIR)
    head = _all(data.load("mnist", "test[:8000]", MNIST_DIR))
    tail = _all(data.load("mnist", "test[8000:]", MNIST_DIR))
    assert len(head) == 8000 and len(tail) == 2000
    np.testing.assert_array_equal(np.concatenate([head, tail]), full)
    np.testing.assert_array_equal(
        data.load_numpy("mnist", "test[10%:20%]", MNIST_DIR), full[1000:2000]
    )
    np.testing.assert_array_equal(data.load_numpy("mnist", "test[-1000:]", MNIST_DIR), full[-1000:])
    np.testing.assert_array_equal(
        data.load_numpy("mnist", " test[ 5 : -9990 ] ", MNIST_DIR), full[5:10]
    )


@needs_mnist
def test_cache_returns_copies_and_sees_file_changes(tmp_path):
    first = data.load_numpy("mnist", "test[:10]", MNIST_DIR)
    first[:] = 7.0  # must not leak into the cache
    again = data.load_numpy("mnist", "test[:10]", MNIST_DIR)
    assert again.max() == 1.0
    directory = _write_idx(tmp_path / "d")
    np.testing.assert_array_equal(
        data.load_numpy("mnist", "test", directory)[..., 0], SMALL_IMAGES / np.float32(255)
    )
    new = SMALL_IMAGES[:3][::-1]
    (directory / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(_idx_images(new)))
    np.testing.assert_array_equal(
        data.load_numpy("mnist", "test", directory)[..., 0], new / np.float32(255)
    )


@needs_fashion
def test_fashion_mnist_full():
    train = data.load("fashion_mnist", "train", data_dir=FASHION_DIR)
    test = data.load_numpy("fashion_mnist", "test", data_dir=FASHION_DIR)
    assert train.cardinality().numpy() == 60_000
    assert train.element_spec == tf.TensorSpec((28, 28, 1), tf.float32)
    assert test.shape == (10_000, 28, 28, 1)
    assert test.min() == 0.0 and test.max() == 1.0


def test_only_the_split_files_are_needed_and_uncompressed_names_work(tmp_path):
    directory = _write_idx(tmp_path / "raw", compress=False)
    (directory / "t10k-labels-idx1-ubyte").unlink()
    images = data.load_numpy("mnist", "test", directory)  # no labels file, no train files
    np.testing.assert_array_equal(images[..., 0] * 255, SMALL_IMAGES)
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte.gz"):
        data.load("mnist", "test", directory, with_labels=True)
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.gz"):
        data.load("mnist", "train", directory)


# --------------------------------------------------------------------------------------
# Omniglot
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "split",
    [
        pytest.param("small1", marks=_needs_omniglot("small1")),
        pytest.param("small2", marks=_needs_omniglot("small2")),
    ],
)
def test_omniglot_real_zips(split):
    path = OMNIGLOT_DIR / f"images_background_{split}.zip"
    with zipfile.ZipFile(path) as archive:
        members = [n for n in archive.namelist() if n.endswith(".png")]
    alphabets = {n.split("/")[1] for n in members}
    images, labels = _all(data.load("omniglot", split, data_dir=OMNIGLOT_DIR, with_labels=True))
    assert images.shape == (len(members), 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= 0.0 and images.max() == 1.0  # strokes are 1
    assert images.mean() < 0.3  # background is 0 (the PNGs are black on white)
    assert (images == 0.0).mean() > 0.5
    assert (images >= 0.99).mean() > 0.005  # solid stroke pixels exist
    assert sorted(set(labels.tolist())) == list(range(len(alphabets)))
    assert labels[0] == 0 and np.all(np.diff(labels) >= 0)  # sorted member names


def test_omniglot_made_zip(tmp_path):
    (tmp_path / "images_background_small2.zip").write_bytes(
        _omniglot_zip({"Beta": 2, "Alpha": 3}, top="images_background_small2")
    )
    images = data.load_numpy("omniglot", "small2", tmp_path)
    _, labels = _all(data.load("omniglot", "small2", tmp_path, with_labels=True))
    assert images.shape == (5, 28, 28, 1)
    np.testing.assert_array_equal(labels, [0, 0, 0, 1, 1])  # Alpha, then Beta
    # The first stroke covers rows 10..39, cols 20..59 of 105: fully inked after resize.
    assert images[0, 4:9, 7:14, 0].min() == 1.0
    assert images[0, 15:, :, 0].max() == 0.0 and images[0, :, 20:, 0].max() == 0.0
    with pytest.raises(FileNotFoundError, match="images_evaluation.zip"):
        data.load("omniglot", "test", tmp_path)


def test_omniglot_bad_members(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("top/Alpha/character01/0001_01.png", b"not a png at all")
    (tmp_path / "images_background_small1.zip").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="images_background_small1.zip.*0001_01.png"):
        data.load("omniglot", "small1", tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "top/Alpha/character01/0001_01.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40
        )  # a PNG signature, then junk
        archive.writestr("readme.txt", b"hello")
    (tmp_path / "images_background_small1.zip").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="0001_01.png"):
        data.load("omniglot", "small1", tmp_path)
    huge = bytearray(_png(np.zeros((105, 105), dtype=bool)))
    huge[16:24] = struct.pack(">II", 100_000, 100_000)  # a PNG bomb's header
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("top/Alpha/character01/0001_01.png", bytes(huge))
    (tmp_path / "images_background_small1.zip").write_bytes(buffer.getvalue())
    with pytest.raises(ValueError, match="100000x100000"):
        data.load("omniglot", "small1", tmp_path)


def test_corrupt_zip(tmp_path):
    (tmp_path / "images_background_small1.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    with pytest.raises(ValueError, match="images_background_small1.zip"):
        data.load("omniglot", "small1", tmp_path)
    good = _omniglot_zip({"Alpha": 2})
    (tmp_path / "images_background_small1.zip").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="images_background_small1.zip"):
        data.load("omniglot", "small1", tmp_path)


# --------------------------------------------------------------------------------------
# CIFAR-10 (made data)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["folder", "tar", "flat"])
def test_cifar10_layouts(tmp_path, cifar_batches, layout):
    root = _write_cifar(tmp_path / layout, cifar_batches, layout)
    train, train_labels = _all(data.load("cifar10", "train", root, with_labels=True))
    assert train.shape == (5 * N_PER_BATCH, 32, 32, 3) and train.dtype == np.float32
    expected = np.concatenate([cifar_batches[f"data_batch_{k}"][0] for k in range(1, 6)])
    np.testing.assert_array_equal(train, expected.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(
        train_labels, sum((cifar_batches[f"data_batch_{k}"][1] for k in range(1, 6)), [])
    )
    assert train.min() >= 0 and train.max() <= 255 and np.all(train == np.round(train))
    assert train.max() > 1  # uint8 range, not rescaled
    test = data.load_numpy("cifar10", "test", root)
    assert test.shape == (N_PER_BATCH, 32, 32, 3)
    assert np.all(test[0, ..., 0] == 255) and np.all(test[0, ..., 1:] == 0)  # red is channel 0
    spec = data.load("cifar10", "test[:2]", root).element_spec
    assert spec == tf.TensorSpec((32, 32, 3), tf.float32)


def test_cifar10_only_test_files(tmp_path, cifar_batches):
    root = _write_cifar(tmp_path, {"test_batch": cifar_batches["test_batch"]}, "folder")
    assert data.load_numpy("cifar10", "test", root).shape == (N_PER_BATCH, 32, 32, 3)
    with pytest.raises(FileNotFoundError) as info:
        data.load("cifar10", "train", root)
    assert "cifar-10-python.tar.gz" in str(info.value) and "data_batch_1" in str(info.value)
    assert str(root) in str(info.value)


def test_cifar10_binarize_refused(tmp_path, cifar_batches):
    root = _write_cifar(tmp_path, cifar_batches, "folder")
    with pytest.raises(ValueError, match="binar"):
        data.load("cifar10", "test", root, binarize=True)


class _Evil:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


@pytest.mark.parametrize(
    "make",
    [
        lambda marker: _Evil(os.system, f"touch {marker}"),
        lambda marker: {b"data": _Evil(os.system, f"touch {marker}"), b"labels": [1]},
        lambda marker: _Evil(eval, f"open({str(marker)!r}, 'w')"),
        lambda marker: {b"labels": [1], b"data": _Evil(np.save, str(marker), np.zeros(1))},
    ],
)
def test_cifar10_malicious_pickle_is_refused(tmp_path, make):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps(make(marker), protocol=2))
    with pytest.raises(ValueError, match="refusing to load global"):
        data.load("cifar10", "test", tmp_path)
    assert not marker.exists() and not Path(f"{marker}.npy").exists()


@pytest.mark.parametrize(
    "payload",
    [
        pickle.dumps([1, 2, 3], protocol=2),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8)}, protocol=2),
        pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2),
        pickle.dumps({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, protocol=2),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, protocol=2),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 12]}, protocol=2),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": b"ab"}, protocol=2),
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)[:500],
        b"\x80\x02N" + b"r" + struct.pack("<I", 2**30) + b".",  # memo index 2**30: no huge alloc
        b"",
        b"garbage bytes, not a pickle",
        # numpy's _reconstruct asked for a dtype instead of an ndarray
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\ncnumpy\ndtype\nK\x00\x85U\x01b\x87R.",
        # BUILD (set attributes) on an allowed global rather than on an array
        b"\x80\x02c_codecs\nencode\n}U\x01aK\x01sb.",
        # an object-dtype array
        pickle.dumps({b"data": np.array([[None] * 3072], dtype=object), b"labels": [0]}, 2),
    ],
    ids=[
        "list",
        "no-labels",
        "data-shape",
        "data-dtype",
        "label-count",
        "label-range",
        "labels-bytes",
        "truncated",
        "memo-bomb",
        "empty",
        "garbage",
        "reconstruct-dtype",
        "build-on-global",
        "object-array",
    ],
)
def test_cifar10_malformed_batch(tmp_path, payload):
    (tmp_path / "test_batch").write_bytes(payload)
    with pytest.raises(ValueError, match="test_batch"):
        data.load("cifar10", "test", tmp_path)


def test_cifar10_corrupt_tarball(tmp_path, cifar_batches):
    root = _write_cifar(tmp_path / "t", cifar_batches, "tar")
    tarball = root / "cifar-10-python.tar.gz"
    blob = tarball.read_bytes()
    tarball.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz"):
        data.load("cifar10", "train", root)
    tarball.write_bytes(b"\x1f\x8b" + b"\x00" * 100)
    with pytest.raises(ValueError, match="cifar-10-python.tar.gz"):
        data.load("cifar10", "test", root)
    only_test = _write_cifar(tmp_path / "u", {"test_batch": cifar_batches["test_batch"]}, "tar")
    with pytest.raises(ValueError, match="data_batch_1"):
        data.load("cifar10", "train", only_test)


# --------------------------------------------------------------------------------------
# Missing and corrupt IDX files
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, split, expected",
    [
        ("mnist", "test", "t10k-images-idx3-ubyte.gz"),
        ("fashion_mnist", "train[:10]", "train-images-idx3-ubyte.gz"),
        ("omniglot", "small1", "images_background_small1.zip"),
        ("omniglot", "train", "images_background.zip"),
        ("cifar10", "test", "cifar-10-python.tar.gz"),
    ],
)
def test_data_dir_without_files(tmp_path, name, split, expected):
    with pytest.raises(FileNotFoundError) as info:
        data.load(name, split, data_dir=tmp_path)
    assert expected in str(info.value) and str(tmp_path) in str(info.value)
    with pytest.raises(FileNotFoundError, match=expected):
        data.load(name, split, data_dir=tmp_path / "does-not-exist")


@needs_mnist
def test_truncated_real_gzip(tmp_path):
    blob = (MNIST_DIR / "t10k-images-idx3-ubyte.gz").read_bytes()
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        data.load("mnist", "test", tmp_path)


@pytest.mark.parametrize(
    "images, labels, message",
    [
        (struct.pack(">IIII", 0x804, 5, 28, 28) + SMALL_IMAGES.tobytes(), None, "magic"),
        (_idx_labels(SMALL_LABELS), None, "magic"),
        (_idx_images(SMALL_IMAGES[:, :27, :]), None, "dimensions"),
        (_idx_images(SMALL_IMAGES)[:-100], None, "truncated"),
        (_idx_images(SMALL_IMAGES) + b"\x00", None, "more data"),
        (b"\x00\x00", None, "header"),
        (struct.pack(">III", 0x803, 5, 28), None, "header"),
        (struct.pack(">IIII", 0x803, 2**31, 28, 28), None, "implausible"),
        (None, _idx_labels(SMALL_LABELS[:4]), "4 labels"),
        (None, _idx_labels(np.array([1, 2, 3, 4, 10])), "out of range"),
        (None, _idx_images(SMALL_IMAGES), "magic"),
    ],
)
@pytest.mark.parametrize("compress", [True, False])
def test_malformed_idx(tmp_path, images, labels, message, compress):
    directory = _write_idx(tmp_path, images=images, labels=labels, compress=compress)
    with pytest.raises(ValueError, match=message) as info:
        data.load("mnist", "test", directory, with_labels=True)
    assert "t10k-" in str(info.value)


def test_truncated_and_corrupt_gzip(tmp_path):
    directory = _write_idx(tmp_path)
    path = directory / "t10k-images-idx3-ubyte.gz"
    blob = path.read_bytes()
    path.write_bytes(blob[:-6])  # lose part of the CRC/size trailer
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        data.load("mnist", "test", directory)
    path.write_bytes(blob[:10] + bytes(b ^ 0x5A for b in blob[10:]))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz"):
        data.load("mnist", "test", directory)


# --------------------------------------------------------------------------------------
# Fuzzing: corrupt bytes raise ValueError (or load), never anything else
# --------------------------------------------------------------------------------------


def _corrupted(blob: bytes) -> st.SearchStrategy[bytes]:
    def overwrite(edits: list[tuple[int, int]]) -> bytes:
        out = bytearray(blob)
        for index, value in edits:
            out[index % len(out)] = value
        return bytes(out)

    return st.one_of(
        st.integers(0, len(blob) - 1).map(lambda k: blob[:k]),
        st.lists(
            st.tuples(st.integers(0, len(blob) - 1), st.integers(0, 255)), min_size=1, max_size=8
        ).map(overwrite),
        st.binary(min_size=1, max_size=32).map(lambda tail: blob + tail),
        st.tuples(st.integers(0, len(blob) - 1), st.binary(min_size=1, max_size=8)).map(
            lambda cut: blob[: cut[0]] + cut[1] + blob[cut[0] :]
        ),
    )


FUZZ_IDX = {
    (kind, compress): (gzip.compress(raw, mtime=0) if compress else raw)
    for kind, raw in (
        ("images", _idx_images(SMALL_IMAGES[:2])),
        ("labels", _idx_labels(SMALL_LABELS[:2])),
    )
    for compress in (True, False)
}


@pytest.fixture(scope="module")
def fuzz_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.sampled_from(sorted(FUZZ_IDX)).flatmap(
        lambda key: st.tuples(st.just(key), _corrupted(FUZZ_IDX[key]))
    )
)
def test_fuzz_idx(fuzz_root, case):
    (kind, compress), blob = case
    directory = Path(tempfile.mkdtemp(dir=fuzz_root))
    suffix = ".gz" if compress else ""
    for other, payload in (
        ("images", FUZZ_IDX[("images", compress)]),
        ("labels", FUZZ_IDX[("labels", compress)]),
    ):
        ndim = 3 if other == "images" else 1
        name = f"t10k-{other}-idx{ndim}-ubyte{suffix}"
        (directory / name).write_bytes(blob if other == kind else payload)
    try:
        images, labels = _all(data.load("mnist", "test", directory, with_labels=True))
    except (ValueError, FileNotFoundError):
        return
    assert images.shape[1:] == (28, 28, 1) and len(labels) == len(images)
    assert images.min() >= 0.0 and images.max() <= 1.0


FUZZ_ZIP = _omniglot_zip({"Alpha": 2, "Beta": 1})


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(_corrupted(FUZZ_ZIP))
def test_fuzz_zip(fuzz_root, blob):
    directory = Path(tempfile.mkdtemp(dir=fuzz_root))
    (directory / "images_background_small1.zip").write_bytes(blob)
    try:
        images = data.load_numpy("omniglot", "small1", directory)
    except (ValueError, FileNotFoundError):
        return
    assert images.shape[1:] == (28, 28, 1) and 1 <= len(images) <= 3
    assert images.min() >= 0.0 and images.max() <= 1.0


FUZZ_PICKLES = [
    _py2_style_batch(*_cifar_arrays(1, seed=0)),
    pickle.dumps(dict(zip((b"data", b"labels"), _cifar_arrays(1, seed=1), strict=True)), 2),
    pickle.dumps({b"data": _cifar_arrays(1, seed=2)[0], b"labels": np.arange(1)}, protocol=5),
]


@settings(
    max_examples=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.sampled_from(FUZZ_PICKLES).flatmap(_corrupted))
def test_fuzz_cifar_pickle(fuzz_root, blob):
    directory = Path(tempfile.mkdtemp(dir=fuzz_root))
    (directory / "test_batch").write_bytes(blob)
    try:
        images, labels = _all(data.load("cifar10", "test", directory, with_labels=True))
    except (ValueError, FileNotFoundError):
        return
    assert images.shape == (len(labels), 32, 32, 3)
    assert images.min() >= 0 and images.max() <= 255


# --------------------------------------------------------------------------------------
# Binarisation
# --------------------------------------------------------------------------------------


def test_binarize_is_fixed_by_seed():
    grey = data.load_numpy("digits", "test")
    a = _all(data.load("digits", "test", binarize=True, seed=0))
    b = _all(data.load("digits", "test", binarize=True, seed=0))
    c = _all(data.load("digits", "test", binarize=True, seed=1))
    assert a.dtype == np.float32 and set(np.unique(a)) <= {0.0, 1.0}
    np.testing.assert_array_equal(a, b)
    assert np.any(a != c)
    assert np.all(a[grey == 0.0] == 0.0) and np.all(a[grey == 1.0] == 1.0)
    standard_error = np.sqrt(np.sum(grey * (1 - grey))) / grey.size
    assert abs(a.mean() - grey.mean()) < 5 * standard_error
    # Drawn over the whole split, then sliced: a slice agrees with the whole.
    np.testing.assert_array_equal(
        _all(data.load("digits", "test[100:200]", binarize=True, seed=0)), a[100:200]
    )
    # The grey default.
    assert not np.array_equal(_all(data.load("digits", "test")), a)
    assert np.array_equal(_all(data.load("digits", "test", binarize=False)), grey)


@needs_mnist
def test_binarize_equals_the_one_shot_formula():
    grey = data.load_numpy("mnist", "test", MNIST_DIR)  # spans several draw chunks
    binary = _all(data.load("mnist", "test", MNIST_DIR, binarize=True, seed=3))
    expected = np.random.default_rng(3).random(grey.shape) < grey
    np.testing.assert_array_equal(binary, expected.astype(np.float32))


# --------------------------------------------------------------------------------------
# TensorFlow Datasets
# --------------------------------------------------------------------------------------


def test_tfds_unprepared_gives_clear_error_quickly(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_datasets")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    start = time.monotonic()
    with pytest.raises((FileNotFoundError, RuntimeError)) as info:
        data.load("mnist", "test")
    assert time.monotonic() - start < 30
    message = str(info.value)
    assert "data_dir" in message and "t10k-images-idx3-ubyte.gz" in message
    assert "TensorFlow Datasets" in message and str(tmp_path) in message
    assert not any(tmp_path.rglob("*.tfrecord*"))  # nothing was downloaded or prepared


def test_tfds_prepared_path_converts_like_local(tmp_path, monkeypatch):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path))
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        mnist, labels = _all(data.load("mnist", "train[:4]", with_labels=True))
        assert mnist.shape == (4, 28, 28, 1) and 0 <= mnist.min() and mnist.max() <= 1
        assert labels.dtype == np.int64
        omniglot, alphabets = _all(data.load("omniglot", "test", with_labels=True))
        assert omniglot.shape == (6, 28, 28, 1) and 0 <= omniglot.min() <= omniglot.max() <= 1
        assert alphabets.min() == 0 and alphabets.dtype == np.int64
        cifar = data.load_numpy("cifar10", "test")
        assert cifar.shape == (6, 32, 32, 3) and cifar.max() <= 255 and cifar.max() > 1
