"""Split specs: TFDS's slicing syntax (``train``, ``test[:8000]``, ``train[10%:20%]``) and a
random validation partition of a base split (``train@val10%``, ``train@fit10%``).

``BASE@valSIZE`` is a random subset of ``SIZE`` examples (a count, or a percent rounded to
the closest example) of split ``BASE``; ``BASE@fitSIZE`` is the rest of ``BASE``. The
subset is drawn with :data:`VALIDATION_SEED`, independently of any training seed, so every
run that names it validates on the same images and never trains on them. Unlike a slice,
it samples the whole split, so it stays a sample of the training distribution when the
files are sorted (Omniglot's are sorted by alphabet).
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

VALIDATION_SEED = 0
"""Seed of the random validation partition of every ``BASE@val`` / ``BASE@fit`` split."""

_SPLIT_RE = re.compile(
    r"""^\s*(?P<base>[A-Za-z0-9_-]+)\s*
    (?:\[\s*(?P<start>-?\d+%?)?\s*:\s*(?P<stop>-?\d+%?)?\s*\]
      |@(?P<part>val|fit)(?P<size>\d+%?))?\s*$""",
    re.VERBOSE,
)

Bound = tuple[int, bool] | None  # (value, is_percent)


@dataclasses.dataclass(frozen=True)
class SplitSpec:
    """A parsed split spec: a base split and either a slice or a validation partition."""

    text: str
    base: str
    start: Bound = None
    stop: Bound = None
    part: str | None = None  # "val" or "fit"
    size: Bound = None


def parse_split(name: str, split: str, valid_splits: tuple[str, ...]) -> SplitSpec:
    """Parses ``base[start:stop]`` or ``base@valSIZE`` / ``base@fitSIZE``."""
    valid = ", ".join(valid_splits)
    match = _SPLIT_RE.match(split) if isinstance(split, str) else None
    if match is None:
        raise ValueError(
            f"Bad split spec {split!r} for {name!r}: expected NAME, NAME[START:END] with "
            f"integer or percent bounds, e.g. 'test[:8000]' or 'train[10%:20%]', or a random "
            f"validation partition NAME@valSIZE / NAME@fitSIZE, e.g. 'train@val10%'; "
            f"valid split names are {valid}."
        )
    base = match["base"]
    if base not in valid_splits:
        raise ValueError(
            f"Unknown split {base!r} in split spec {split!r} for {name!r}; "
            f"valid split names are {valid}."
        )
    tokens = (match["start"], match["stop"], match["size"])
    bounds = [None if token is None else _bound(name, split, token, valid) for token in tokens]
    return SplitSpec(split, base, bounds[0], bounds[1], match["part"], bounds[2])


def _bound(name: str, split: str, token: str, valid: str) -> tuple[int, bool]:
    percent = token.endswith("%")
    value = int(token.rstrip("%"))
    if percent and abs(value) > 100:
        raise ValueError(
            f"Bad split spec {split!r} for {name!r}: percent bound {token} is outside "
            f"[-100%, 100%]; valid split names are {valid}."
        )
    return value, percent


def resolve(name: str, spec: SplitSpec, n: int) -> slice | np.ndarray:
    """The examples of a base split of ``n`` examples that ``spec`` selects: a slice, or
    the sorted indices of a validation partition."""
    if spec.part is not None:
        return _partition(name, spec, n)
    begin = _absolute(name, spec, spec.start, 0, n)
    end = _absolute(name, spec, spec.stop, n, n)
    if begin >= end:
        raise ValueError(
            f"Split spec {spec.text!r} for {name!r} selects no examples "
            f"(split {spec.base!r} has {n}: [{begin}:{end}])."
        )
    return slice(begin, end)


def _absolute(name: str, spec: SplitSpec, bound: Bound, default: int, n: int) -> int:
    if bound is None:
        return default
    value, percent = bound
    if percent:
        value = int(round(value * n / 100.0))
    if abs(value) > n:
        raise ValueError(
            f"Split spec {spec.text!r} for {name!r}: bound {value} is out of range for "
            f"split {spec.base!r} of {n} examples."
        )
    return value + n if value < 0 else value


def _partition(name: str, spec: SplitSpec, n: int) -> np.ndarray:
    held = _absolute(name, spec, spec.size, 0, n)
    if not 0 < held < n:
        raise ValueError(
            f"Split spec {spec.text!r} for {name!r}: a validation partition must hold at "
            f"least one of the {n} examples of {spec.base!r} and leave one to train on "
            f"(it holds {held})."
        )
    validation = np.zeros(n, dtype=bool)
    validation[np.random.default_rng(VALIDATION_SEED).permutation(n)[:held]] = True
    return np.flatnonzero(validation if spec.part == "val" else ~validation)
