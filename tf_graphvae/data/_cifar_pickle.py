"""The restricted unpickler of CIFAR-10 batches: a crafted batch cannot run code.

A CIFAR-10 batch is a pickled dict {b"data": uint8 ndarray [n, 3072], b"labels": [int]}.
Pickles can run arbitrary code, so batches are read with a restricted unpickler that
never calls into numpy with untrusted state: numpy's array/dtype constructors are
replaced by inert stand-ins that only record their arguments, and the arrays are then
rebuilt here with np.frombuffer after the dtype, shape and byte count are validated.
"""

from __future__ import annotations

import io
import pickle
import struct
from typing import Any

import numpy as np

from tf_graphvae.data._files import Malformed


class _NdarrayStub:
    """Stands for ``numpy.ndarray`` (only as the subtype argument of ``_reconstruct``)."""

    def __init__(self, *args: Any) -> None:
        raise pickle.UnpicklingError("numpy.ndarray may only appear as an array subtype")


class _DtypeStub:
    """Stands for ``numpy.dtype(spec, align, copy)`` plus its pickled state."""

    spec: Any = None
    state: Any = None

    def __init__(self, spec: Any = None, *args: Any) -> None:
        self.spec = spec

    def __setstate__(self, state: Any) -> None:
        self.state = state


class _ArrayStub:
    """Stands for a pickled numpy array: its dtype, shape, order and raw bytes."""

    dtype: Any = None
    shape: Any = None
    fortran: Any = False
    raw: Any = None

    def __setstate__(self, state: Any) -> None:
        # ndarray.__reduce__ state: (version, shape, dtype, is_fortran, rawdata), or the
        # same without the version in old pickles.
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("bad numpy array state")
        self.shape, self.dtype, self.fortran, self.raw = state[-4:]


def _stub_reconstruct(subtype: Any = None, *args: Any) -> _ArrayStub:
    """Stands for ``numpy.core.multiarray._reconstruct(ndarray, shape, dtype)``."""
    if subtype is not _NdarrayStub:
        raise pickle.UnpicklingError("only numpy.ndarray may be reconstructed")
    return _ArrayStub()


def _stub_frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any = "C") -> _ArrayStub:
    """Stands for numpy's protocol-5 ``_frombuffer(buffer, dtype, shape, order)``."""
    array = _ArrayStub()
    array.raw, array.dtype, array.shape, array.fortran = buffer, dtype, shape, order == "F"
    return array


def _stub_codecs_encode(obj: Any, encoding: Any = "utf-8", *args: Any) -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes: latin-1 of a str only."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed as str -> latin-1 bytes")
    return obj.encode("latin-1")


_PICKLE_ALLOWED: dict[tuple[str, str], Any] = {
    ("numpy.core.multiarray", "_reconstruct"): _stub_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _stub_reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _stub_frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _stub_frombuffer,
    ("numpy", "ndarray"): _NdarrayStub,
    ("numpy", "dtype"): _DtypeStub,
    ("numpy.core.multiarray", "dtype"): _DtypeStub,
    ("numpy._core.multiarray", "dtype"): _DtypeStub,
    ("_codecs", "encode"): _stub_codecs_encode,
}

_ALLOWED_DTYPE_SPECS = frozenset(f"{kind}{size}" for kind in "iu" for size in (1, 2, 4, 8))


def _materialize(obj: Any, what: str) -> np.ndarray:
    """Builds a numpy integer array from an :class:`_ArrayStub` after validating it."""
    if not isinstance(obj, _ArrayStub):
        raise Malformed(f"{what} is not a numpy array")
    stub = obj.dtype
    if not isinstance(stub, _DtypeStub):
        raise Malformed(f"{what} has no valid dtype")
    spec = stub.spec.decode("ascii") if isinstance(stub.spec, bytes) else stub.spec
    if not isinstance(spec, str) or spec not in _ALLOWED_DTYPE_SPECS:
        raise Malformed(f"{what} has unsupported dtype {spec!r}")
    endian = "|"
    if spec[1] != "1":
        state = stub.state
        endian = state[1] if isinstance(state, tuple) and len(state) > 1 else "="
        endian = endian.decode("ascii") if isinstance(endian, bytes) else endian
        if endian not in ("<", ">", "="):
            raise Malformed(f"{what} has a bad byte order {endian!r}")
    dtype = np.dtype(endian + spec)
    shape = obj.shape
    if (
        not isinstance(shape, tuple)
        or len(shape) > 4
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise Malformed(f"{what} has a bad shape {shape!r}")
    raw = obj.raw
    if isinstance(raw, pickle.PickleBuffer):
        raw = raw.raw()
    if not isinstance(raw, bytes | bytearray | memoryview):
        raise Malformed(f"{what} has no raw bytes (object arrays are not supported)")
    count = 1
    for d in shape:
        count *= d
    if count * dtype.itemsize != len(raw):
        raise Malformed(
            f"{what} has shape {shape} of {dtype} ({count * dtype.itemsize} bytes) but "
            f"{len(raw)} bytes of data"
        )
    flat = np.frombuffer(bytes(raw), dtype=dtype, count=count)
    return flat.reshape(shape, order="F" if obj.fortran else "C")


class _CifarUnpickler(pickle._Unpickler):  # the pure-Python unpickler, see below
    """An unpickler that can only rebuild dicts, lists, bytes, ints and array stand-ins.

    Any global outside :data:`_PICKLE_ALLOWED` (e.g. ``os.system``) raises
    :class:`pickle.UnpicklingError` before it could be called. The pure-Python unpickler
    is used because it keeps its memo in a dict (the C one sizes a memo array by an
    untrusted index, so a few crafted bytes could make it allocate gigabytes); its
    ``BYTEARRAY8`` opcode, which pre-allocates the claimed length, is bounded by the
    payload size, and ``BUILD`` (setting state) only applies to the array stand-ins.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, payload: bytes) -> None:
        super().__init__(io.BytesIO(payload), encoding="bytes")
        self._payload_size = len(payload)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _PICKLE_ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch only holds "
                f"numpy arrays, lists and bytes"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed in a CIFAR-10 batch")

    def _load_bytearray8(self) -> None:
        (length,) = struct.unpack("<Q", self.read(8))
        if length > self._payload_size:
            raise pickle.UnpicklingError("BYTEARRAY8 claims more bytes than the file has")
        data = self.read(length)
        if len(data) != length:
            raise pickle.UnpicklingError("pickle data was truncated")
        self.append(bytearray(data))

    def _load_build(self) -> None:
        state = self.stack.pop()
        instance = self.stack[-1]
        if type(instance) not in (_DtypeStub, _ArrayStub):  # no attribute setting elsewhere
            raise pickle.UnpicklingError("BUILD is only allowed on numpy arrays and dtypes")
        instance.__setstate__(state)

    dispatch[pickle.BYTEARRAY8[0]] = _load_bytearray8
    dispatch[pickle.BUILD[0]] = _load_build


def parse_cifar_batch(payload: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parses one pickled CIFAR-10 batch into images [n, 32, 32, 3] and labels [n]."""
    batch = _CifarUnpickler(payload).load()
    if not isinstance(batch, dict):
        raise Malformed(f"expected a pickled dict, got {type(batch).__name__}")

    def entry(key: str) -> Any:
        for candidate in (key.encode(), key):
            if candidate in batch:
                return batch[candidate]
        raise Malformed(f"no {key.encode()!r} entry")

    data = _materialize(entry("data"), "b'data'")
    if data.dtype != np.uint8:
        raise Malformed(f"b'data' has dtype {data.dtype}, expected uint8")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise Malformed(f"b'data' has shape {data.shape}, expected [n, 3072]")
    labels = entry("labels")
    if isinstance(labels, _ArrayStub):
        labels = _materialize(labels, "b'labels'")
        if labels.ndim != 1:
            raise Malformed(f"b'labels' has shape {labels.shape}, expected [n]")
    elif isinstance(labels, list | tuple):
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in labels):
            raise Malformed("b'labels' holds non-integers")
        if any(v < 0 or v > 9 for v in labels):  # before any conversion: no overflow
            raise Malformed("labels out of range 0..9")
    else:
        raise Malformed(f"b'labels' is a {type(labels).__name__}, expected a list")
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(labels) != len(data):
        raise Malformed(f"{len(labels)} labels for {len(data)} images")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise Malformed("labels out of range 0..9")
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels
