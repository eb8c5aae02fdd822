"""Split specs in TFDS's slicing syntax: ``train``, ``test[:8000]``, ``train[10%:20%]``."""

from __future__ import annotations

import re

_SPLIT_RE = re.compile(
    r"""^\s*(?P<base>[A-Za-z0-9_-]+)\s*
    (?:\[\s*(?P<start>-?\d+%?)?\s*:\s*(?P<stop>-?\d+%?)?\s*\])?\s*$""",
    re.VERBOSE,
)

Bound = tuple[int, bool] | None  # (value, is_percent)


def parse_split(name: str, split: str, valid_splits: tuple[str, ...]) -> tuple[str, Bound, Bound]:
    """Parses ``base[start:stop]`` into the base name and the two optional bounds."""
    valid = ", ".join(valid_splits)
    match = _SPLIT_RE.match(split) if isinstance(split, str) else None
    if match is None:
        raise ValueError(
            f"Bad split spec {split!r} for {name!r}: expected NAME or NAME[START:END] with "
            f"integer or percent bounds, e.g. 'test[:8000]' or 'train[10%:20%]'; "
            f"valid split names are {valid}."
        )
    base = match["base"]
    if base not in valid_splits:
        raise ValueError(
            f"Unknown split {base!r} in split spec {split!r} for {name!r}; "
            f"valid split names are {valid}."
        )
    bounds = []
    for token in (match["start"], match["stop"]):
        if token is None:
            bounds.append(None)
            continue
        percent = token.endswith("%")
        value = int(token.rstrip("%"))
        if percent and abs(value) > 100:
            raise ValueError(
                f"Bad split spec {split!r} for {name!r}: percent bound {token} is outside "
                f"[-100%, 100%]; valid split names are {valid}."
            )
        bounds.append((value, percent))
    return base, bounds[0], bounds[1]


def resolve_slice(name: str, split: str, base: str, start: Bound, stop: Bound, n: int) -> slice:
    """Turns parsed bounds into an absolute slice of a base split of ``n`` examples."""

    def absolute(bound: Bound, default: int) -> int:
        if bound is None:
            return default
        value, percent = bound
        if percent:
            value = int(round(value * n / 100.0))
        if abs(value) > n:
            raise ValueError(
                f"Split spec {split!r} for {name!r}: bound {value} is out of range for "
                f"split {base!r} of {n} examples."
            )
        return value + n if value < 0 else value

    begin, end = absolute(start, 0), absolute(stop, n)
    if begin >= end:
        raise ValueError(
            f"Split spec {split!r} for {name!r} selects no examples "
            f"(split {base!r} has {n}: [{begin}:{end}])."
        )
    return slice(begin, end)
