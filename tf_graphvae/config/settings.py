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
    `zero_means_none` (a flag value 0 stands for None), `widths=True` (an int width or a
    sequence of widths, :func:`check_widths`; a comma-separated flag)."""
    return dataclasses.field(default=default, metadata={"help": help, **meta})


def field_kind(f: dataclasses.Field) -> str:
    """`"int"`, `"float"`, `"bool"`, `"str"`, `"list"` or `"tuple"`: the type without None;
    `"widths"` for a `widths` setting (an int or a tuple of ints)."""
    if f.metadata.get("widths"):
        return "widths"
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


def check_widths(widths, name: str) -> int | tuple[int, ...]:
    """`widths` of hidden layers as an int (one layer) or a tuple of two or more ints.

    A sequence of one width is the int form, so `(128,)`, `[128]` and a flag's `"128"` give
    the model of `128` (its weights, their names and its saved configuration); digit
    strings, as a list flag gives them, are read as ints. A ValueError names `name` unless
    every width is an integer >= 1.
    """
    items = list(widths) if isinstance(widths, list | tuple) else [widths]
    try:
        units = tuple(int(w) for w in items if not isinstance(w, bool) and int(w) == float(w))
    except (TypeError, ValueError):
        units = ()
    if not units or len(units) != len(items) or min(units) < 1:
        shown = ",".join(map(str, widths)) if isinstance(widths, list | tuple) else repr(widths)
        raise ValueError(f"{name} must be a width >= 1 or a list of them, got {shown}.")
    return units[0] if len(units) == 1 else units


def check_rate(rate, name: str) -> float:
    """`rate` as a float in [0, 1) (a dropout rate: at 1 every unit is dropped)."""
    if isinstance(rate, bool) or not 0 <= float(rate) < 1:
        raise ValueError(f"{name} must be a rate in [0, 1), got {rate!r}.")
    return float(rate)


def positive_int(value, name: str) -> int:
    """`value` as an int, refused unless it is an integer >= 1 (`True` is not a count)."""
    if isinstance(value, bool) or int(value) != value or int(value) < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)
