"""Figure 3: test log-likelihood against node dimension `N'`, one line per latent dimension."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullLocator

from tf_graphvae.figures._common import RGBA, _save

_RESULT_KEYS = ("latent_dim", "num_nodes", "node_dim", "ll")


def _check_results(results: Sequence[Mapping[str, Any]]) -> list[dict[str, float]]:
    if results is None or len(results) == 0:
        raise ValueError("results is empty: it needs at least one result dict.")
    rows = []
    for k, result in enumerate(results):
        if not isinstance(result, Mapping):
            raise ValueError(f"results[{k}] must be a dict, got {type(result).__name__}.")
        missing = [key for key in _RESULT_KEYS if key not in result]
        if missing:
            raise ValueError(f"results[{k}] is missing the key(s) {missing}.")
        row = {}
        for key in (*_RESULT_KEYS, "ll_std"):
            if key == "ll_std" and result.get(key) is None:
                row[key] = None
                continue
            try:
                row[key] = float(result[key])
            except (TypeError, ValueError):
                raise ValueError(
                    f"results[{k}][{key!r}] is not a number: {result[key]!r}."
                ) from None
            if not math.isfinite(row[key]):
                raise ValueError(f"results[{k}][{key!r}] is not finite: {result[key]!r}.")
        if row["node_dim"] <= 0:
            raise ValueError(f"results[{k}]['node_dim'] must be > 0, got {result['node_dim']!r}.")
        rows.append(row)
    return rows


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _line_colour(k: int, count: int) -> RGBA:
    """The colour of the `k`-th of `count` lines: `tab10` for up to 10, else `turbo` samples."""
    if count <= 10:
        return matplotlib.colormaps["tab10"](k % 10)
    return matplotlib.colormaps["turbo"](0.05 + 0.9 * k / (count - 1))


def _draw_latent_dim(
    ax,
    group: list[dict[str, float]],
    m: float,
    colour: RGBA,
    near: float,
    annotated: list[tuple[float, float]],
) -> None:
    """The line of latent dimension `m`, with error bars where known and `N=...` labels."""
    x = np.array([r["node_dim"] for r in group])
    y = np.array([r["ll"] for r in group])
    label = f"M = {_number(m)}"
    if any(r["ll_std"] is not None for r in group):
        yerr = np.array([r["ll_std"] or 0.0 for r in group])
        container = ax.errorbar(
            x, y, yerr=yerr, color=colour, marker="o", lw=1.8, capsize=3, label=label
        )
        container.lines[0].set_gid(f"M-{_number(m)}")
    else:
        ax.plot(x, y, color=colour, marker="o", lw=1.8, label=label, gid=f"M-{_number(m)}")
    for r in group:
        # Points of several M at the same place get their labels stacked downwards.
        stack = sum(1 for x0, y0 in annotated if x0 == r["node_dim"] and abs(y0 - r["ll"]) <= near)
        annotated.append((r["node_dim"], r["ll"]))
        ax.annotate(
            f"N={_number(r['num_nodes'])}",
            (r["node_dim"], r["ll"]),
            xytext=(6, 3 - 10 * stack),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=8,
            color=colour,
            gid="num-nodes",
        )


def _set_node_dim_axis(ax, node_dims: list[float]) -> None:
    """Ticks at the `N'` values; a base-2 log scale when they span more than a factor 8."""
    if node_dims[-1] / node_dims[0] > 8:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_locator(FixedLocator(node_dims))
    ax.set_xticklabels([_number(v) for v in node_dims])
    if len(node_dims) == 1:
        ax.set_xlim(node_dims[0] * 0.5, node_dims[0] * 1.5)


def build_figure3(results: Sequence[Mapping[str, Any]], title: str | None = None) -> Figure:
    """Builds the paper's Figure 3 without saving it (see `plot_figure3`).

    `fig.axes[0]` holds one line per latent dimension `M` (label `"M = ..."`, `gid` `"M-..."`).

    Args:
        results: Non-empty dicts with keys `latent_dim`, `num_nodes`, `node_dim`, `ll` and
            optionally `ll_std`.
        title: An optional title.

    Returns:
        The Matplotlib `Figure`.

    Raises:
        ValueError: If `results` is empty, a dict lacks a key, or a value is not a finite
            number (`node_dim` must be > 0).
    """
    rows = _check_results(results)
    fig = Figure(figsize=(7.0, 4.8), layout="constrained")
    ax = fig.add_subplot()
    latent_dims = sorted({row["latent_dim"] for row in rows})
    lls = [row["ll"] for row in rows]
    near = 0.02 * (max(lls) - min(lls)) if max(lls) > min(lls) else 1e-9
    annotated: list[tuple[float, float]] = []
    for k, m in enumerate(latent_dims):
        group = sorted((r for r in rows if r["latent_dim"] == m), key=lambda r: r["node_dim"])
        colour = _line_colour(k, len(latent_dims))
        _draw_latent_dim(ax, group, m, colour, near, annotated)

    _set_node_dim_axis(ax, sorted({row["node_dim"] for row in rows}))
    ax.margins(x=0.08, y=0.12)
    ax.set_xlabel(r"node dimension $N'$")
    ax.set_ylabel("test log-likelihood")
    ax.grid(alpha=0.25)
    ax.legend(fontsize=9, loc="best")
    if title:
        ax.set_title(title)
    return fig


def plot_figure3(
    results: Sequence[Mapping[str, Any]], path: str | os.PathLike, title: str | None = None
) -> Path:
    """Writes the paper's Figure 3: test log-likelihood against node dimension `N'`.

    One line with markers per latent dimension `M` (legend `M = ...`), error bars where a
    result has `ll_std`, every point annotated with its number of nodes `N=...`. The x axis is
    logarithmic (base 2) when the `N'` values span more than a factor 8; its ticks are the
    `N'` values themselves.

    Args:
        results: Non-empty dicts with keys `latent_dim` (M), `num_nodes` (N), `node_dim` (N'),
            `ll` (test log-likelihood) and optionally `ll_std`.
        path: The image file to write (PNG unless its suffix names another format).
        title: An optional title.

    Returns:
        `path` as a `Path`.

    Raises:
        ValueError: On invalid inputs (see `build_figure3`).
    """
    return _save(build_figure3(results, title=title), path)
