"""The in-process cache of decoded arrays, keyed by source file (path, mtime, size).

Cached arrays are read-only (:func:`readonly`); loaders hand out copies.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

_CACHE: collections.OrderedDict[tuple, Any] = collections.OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_MAX_ENTRIES = 16


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """Returns the value cached under ``key``, computing and caching it (LRU) if absent."""
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    value = compute()
    with _CACHE_LOCK:
        _CACHE[key] = value
        _CACHE.move_to_end(key)
        while len(_CACHE) > _CACHE_MAX_ENTRIES:
            _CACHE.popitem(last=False)
    return value


def clear() -> None:
    """Forgets every cached value."""
    with _CACHE_LOCK:
        _CACHE.clear()


def file_key(path: Path) -> tuple[str, int, int]:
    """The cache key of a source file: its resolved path, modification time and size."""
    stat = path.stat()
    return (str(path.resolve()), stat.st_mtime_ns, stat.st_size)


def readonly(array: np.ndarray) -> np.ndarray:
    """Marks ``array`` read-only (so a cached array cannot be changed) and returns it."""
    array.setflags(write=False)
    return array
