"""A setting: a dataclass field whose metadata holds its help, its checks and its flag.

The configuration dataclasses (`GraphVAEConfig`, `TrainConfig`) declare every field with
:func:`setting`; the commands build their flags from the same metadata, so each default,
help and check is written once.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any


def setting(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field whose metadata also makes its command-line flag: `help`, and
    optionally `choices`, `check` (a function that raises a ValueError), `minimum`
    (inclusive), `positive` (> 0), `flag=False` (no flag),
    `zero_means_none` (a flag value 0 stands for None)."""
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def field_kind(f: dataclasses.Field) -> str:
    """`"int"`, `"float"`, `"bool"`, `"str"`, `"list"` or `"tuple"`: the type without None."""
    return str(f.type).split("|")[0].split("[")[0].strip()


def check_field(f: dataclasses.Field, value: Any) -> None:
    """Raises a ValueError naming the field when `value` breaks its metadata."""
    meta = f.metadata
    if value is None:
        if f.default is None or meta.get("zero_means_none"):
            return
        raise ValueError(f"{f.name} must be set, got None.")
    kind = field_kind(f)
    if "check" in meta:
        meta["check"](value)
    if "choices" in meta and value not in meta["choices"]:
        raise ValueError(f"Unknown {f.name} {value!r}; expected one of {meta['choices']}.")
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{f.name} must be True or False, got {value!r}.")
    if kind == "int" and (isinstance(value, bool) or int(value) != value):
        raise ValueError(f"{f.name} must be an integer, got {value!r}.")
    if kind in ("int", "float"):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{f.name} must be finite, got {value!r}.")
        if meta.get("positive") and number <= 0:
            raise ValueError(f"{f.name} must be > 0, got {value!r}.")
        if "minimum" in meta and number < meta["minimum"]:
            raise ValueError(f"{f.name} must be >= {meta['minimum']}, got {value!r}.")


def check_units(units, name: str) -> tuple[int, ...]:
    """`units` as a tuple of layer widths, refused unless non-empty and all >= 1."""
    units = tuple(int(u) for u in units)
    if not units or min(units) < 1:
        raise ValueError(f"{name} must be a non-empty sequence of positive widths, got {units!r}.")
    return units


def positive_int(value, name: str) -> int:
    """`value` as an int, refused unless it is an integer >= 1 (`True` is not a count)."""
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)
