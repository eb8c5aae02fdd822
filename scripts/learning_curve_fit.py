"""What the learning curves say longer training would give: a power law fitted to each run's
validation ELBO, extrapolated.

    python scripts/learning_curve_fit.py results/mnist_v3 --rows=full,independent

For every finished run `runs/<row>-seed<k>` of a `tfgvae-compare` folder, fits
`elbo(t) = a - b * t ** -c` (`b > 0`, `0.05 <= c <= 3`) to the per-epoch validation ELBO
from the epoch after KL warm-up on (before it the objective is not the ELBO), then reports
the fitted ELBO at the run's best epoch, at 100, 200 and 500 epochs and its asymptote `a`, as
gains over the best epoch. A power law is one smooth guess at how the curve goes on, not a
measurement: the gains are what this curve family says, and the spread over seeds shows how
firmly the data pin it. Prints a Markdown table, one line per run, then each row's mean.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.optimize import curve_fit

from tf_graphvae.config import RunFolder, TrainConfig

HORIZONS = (100, 200, 500)


def _power_law(t, a, b, c):
    return a - b * np.power(t, -c)


def fit(val_elbo: list[float], first_epoch: int) -> tuple[float, float, float]:
    """`(a, b, c)` of the power law fitted to `val_elbo[first_epoch - 1:]` (epochs from 1)."""
    y = np.asarray(val_elbo, np.float64)[first_epoch - 1 :]
    if len(y) < 5:
        raise ValueError(f"A curve fit needs 5 or more epochs after warm-up, got {len(y)}.")
    t = np.arange(first_epoch, first_epoch + len(y), dtype=np.float64)
    start = (y[-1] + 1.0, max(y[-1] - y[0], 1e-3) * first_epoch**0.5 + 1.0, 0.5)
    bounds = ([-np.inf, 0.0, 0.05], [np.inf, np.inf, 3.0])
    params, _ = curve_fit(_power_law, t, y, p0=start, bounds=bounds, maxfev=20000)
    return tuple(float(p) for p in params)


def run_line(run: RunFolder) -> dict:
    history = run.read_json(RunFolder.HISTORY)
    curves = history.get("history", history)
    val = curves["val_elbo"]
    config = TrainConfig.from_json(run.read_json(RunFolder.EVAL)["config"])
    best = int(np.argmax(val)) + 1
    a, b, c = fit(val, config.model.kl_warmup_epochs + 1)
    at_best = _power_law(best, a, b, c)
    gains = {h: _power_law(h, a, b, c) - at_best for h in HORIZONS}
    return {
        "run": run.path.name, "epochs": len(val), "best": best, "val_elbo": val[best - 1],
        "fitted_at_best": at_best, "gains": gains, "asymptote_gain": a - at_best, "c": c,
    }  # fmt: skip


def table(folder: str, rows: list[str]) -> str:
    head = " | ".join(f"gain by epoch {h}" for h in HORIZONS)
    lines = [f"| run | epochs | best epoch | val ELBO there | fitted there | {head} | "
             "gain to the asymptote | exponent c |",
             "|---|---:|---:|---|---|" + "---|" * len(HORIZONS) + "---|---:|"]  # fmt: skip
    summary = []
    for row in rows:
        found = [run_line(r) for r in RunFolder.of_rows(folder, row) if r.eval_file.exists()]
        for x in found:
            gains = " | ".join(f"{x['gains'][h]:+.2f}" for h in HORIZONS)
            lines.append(f"| {x['run']} | {x['epochs']} | {x['best']} | {x['val_elbo']:.2f} | "
                         f"{x['fitted_at_best']:.2f} | {gains} | {x['asymptote_gain']:+.2f} | "
                         f"{x['c']:.2f} |")  # fmt: skip
        if found:
            gains = ", ".join(f"{h}: {np.mean([x['gains'][h] for x in found]):+.2f}"
                              for h in HORIZONS)  # fmt: skip
            limit = np.mean([x["asymptote_gain"] for x in found])
            summary.append(f"- {row}: mean over {len(found)} seeds, gain by epoch {gains}; "
                           f"to the asymptote: {limit:+.2f} nats.")  # fmt: skip
    return "\n".join(lines) + "\n\n" + "\n".join(summary) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="A tfgvae-compare output folder.")
    parser.add_argument("--rows", default="full,independent", help="Rows, comma-separated.")
    args = parser.parse_args(argv)
    print(table(args.folder, [r for r in args.rows.split(",") if r]), end="")


if __name__ == "__main__":
    main()
