"""Errors for missing and malformed data files, and bounded reads of untrusted streams."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class Malformed(Exception):
    """A problem found by a decoder; turned into a ValueError naming the file."""


class FileError(ValueError):
    """A malformed-file error that already names its file."""


def first_line(text: str) -> str:
    """The first line of an error message (``""`` when it is empty)."""
    return (text.strip().splitlines() or [""])[0]


@contextlib.contextmanager
def decoding(what: str) -> Iterator[None]:
    """Turns any failure of a decoder on bad bytes into a ValueError naming ``what``."""
    try:
        yield
    except (FileNotFoundError, FileError):
        raise
    except Malformed as err:
        raise FileError(f"{what} is malformed: {err}") from None
    except Exception as err:  # a decoder fed corrupt bytes can fail in many ways
        raise FileError(
            f"{what} is corrupt or unreadable: {type(err).__name__}: {first_line(str(err))}"
        ) from err


def read_limited(stream: Any, limit: int) -> bytes:
    """Reads at most ``limit`` bytes in chunks (never pre-allocates ``limit`` bytes)."""
    buffer = bytearray()
    while len(buffer) < limit:
        chunk = stream.read(min(limit - len(buffer), 1 << 22))
        if not chunk:
            break
        buffer += chunk
    return bytes(buffer)


def missing_files(
    name: str, base: str, directory: Path, files: list[str], also: str = ""
) -> FileNotFoundError:
    """The error for a ``data_dir`` that lacks a split's ``files`` (``also``: alternatives)."""
    return FileNotFoundError(
        f"{name!r} split {base!r}: expected {' and '.join(files)} in data_dir "
        f"{str(directory)!r}, not found{also}."
    )
