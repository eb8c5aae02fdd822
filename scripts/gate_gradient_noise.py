"""How noisy each gate estimator's gradient is, per training step, on a trained model.

    python scripts/gate_gradient_noise.py --model_dir=runs/mnist-learned \
        --data_dir=../shared/data/mnist --repeats=200 --output=results/gate_noise/mnist

A learned run's model is copied twice, once with the relaxed (Concrete) estimator and one
gate sample per example, once with the score-function estimator and its leave-one-out
baseline (`--gate_samples` samples per example, twice the compute at 2). Each copy computes
the gradient a training step would give the gate logits (`GraphVAE.gate_gradient`) on the
same batch of training images `--repeats` times, with fresh gate, latent and binarisation
draws: the spread of those gradients is the estimator's noise per step, their mean its
signal. Two states of the trained networks: the gates as trained, and every gate reset to
`mu = 0.5` (logit 0), where the gates are undecided and the estimators' noise matters most.
The temperature and KL weight are the run's at its end (its schedules' final values).

Writes `<output>.json` (every repeat's gradient, per-edge mean and SD) and `<output>.md`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def _twin(model, estimator: str, gate_samples: int, logits: np.ndarray | None):
    """A copy of `model` with another gate estimator, the same weights (and `logits`)."""
    from tf_graphvae.model import GraphVAE

    config = {**model.get_config(), "gate_estimator": estimator, "gate_samples": gate_samples}
    twin = GraphVAE.from_config(config)
    twin.set_weights(model.get_weights())
    if logits is not None:
        twin.gates.gate_logits.assign(logits)
    return twin


def _gradients(model, images: np.ndarray, repeats: int) -> np.ndarray:
    import tensorflow as tf

    step = tf.function(model.gate_gradient, jit_compile=False)
    batch = tf.constant(images)
    return np.stack([step(batch).numpy() for _ in range(repeats)]).astype(np.float64)


def _summary(grads: np.ndarray) -> dict:
    mean, sd = grads.mean(axis=0), grads.std(axis=0, ddof=1)
    return {
        "mean": mean.tolist(),
        "sd": sd.tolist(),
        "median_sd": float(np.median(sd)),
        "median_abs_mean_over_sd": float(np.median(np.abs(mean) / np.maximum(sd, 1e-30))),
    }


def measure(model, images: np.ndarray, repeats: int, gate_samples: int) -> dict:
    """Per state and estimator: every repeat's gradient `[R, E]` and its summary."""
    states = {"as trained": None, "every gate at mu = 0.5": np.zeros_like(model.gates.gate_logits)}
    result = {}
    for state, logits in states.items():
        result[state] = {}
        for estimator, samples in (("concrete", 1), ("score_function", gate_samples)):
            grads = _gradients(_twin(model, estimator, samples, logits), images, repeats)
            result[state][estimator] = {"gradients": grads.tolist(), **_summary(grads)}
            print(f"{state}, {estimator}: median SD {result[state][estimator]['median_sd']:.3g}",
                  file=sys.stderr)  # fmt: skip
    return result


def markdown(result: dict, edges: list, caption: str) -> str:
    lines = [caption, ""]
    for state, by_estimator in result.items():
        concrete, sf = by_estimator["concrete"], by_estimator["score_function"]
        ratio = np.asarray(sf["sd"]) / np.maximum(np.asarray(concrete["sd"]), 1e-30)
        lines += [
            f"**{state}**: median SD per step, Concrete {concrete['median_sd']:.3g}, score "
            f"function {sf['median_sd']:.3g} (per-edge ratio: median {np.median(ratio):.1f}, "
            f"range {ratio.min():.1f}-{ratio.max():.1f}).",
            "",
            "| edge | Concrete mean ± SD | score function mean ± SD | SD ratio |",
            "|---|---|---|---|",
        ]
        for k, (i, j) in enumerate(edges):
            lines.append(
                f"| z{i}→z{j} | {concrete['mean'][k]:+.3g} ± {concrete['sd'][k]:.3g} | "
                f"{sf['mean'][k]:+.3g} ± {sf['sd'][k]:.3g} | {ratio[k]:.1f} |"
            )
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model_dir", required=True, help="A learned run's folder.")
    parser.add_argument("--data_dir", default=None, help="The data's folder.")
    parser.add_argument("--repeats", type=int, default=200, help="Gradients per estimator.")
    parser.add_argument("--batch_size", type=int, default=128, help="Images per step.")
    parser.add_argument("--gate_samples", type=int, default=2, help="Score function's S.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the batch and draws.")
    parser.add_argument("--output", required=True, help="Path stem of the .json and .md.")
    args = parser.parse_args(argv)
    if args.repeats < 2 or args.batch_size < 1 or args.gate_samples < 2:
        parser.error("--repeats >= 2, --batch_size >= 1 and --gate_samples >= 2 are needed.")

    import keras

    import tf_graphvae as tgv
    from tf_graphvae import scoring
    from tf_graphvae.config import RunFolder, edge_indices
    from tf_graphvae.config.files import write_json, write_text

    folder = RunFolder(args.model_dir)
    config = folder.read_config()
    if config is None or config.model.structure != "learned":
        raise SystemExit(f"{folder.path} holds no learned run (config.json).")
    model = scoring.load_run_model(folder)
    train = tgv.data.load_numpy(config.dataset, config.train_split, args.data_dir)
    chosen = np.random.default_rng(args.seed).choice(len(train), args.batch_size, replace=False)
    keras.utils.set_random_seed(args.seed)
    result = measure(model, train[np.sort(chosen)], args.repeats, args.gate_samples)
    edges = [[int(i), int(j)] for i, j in zip(*edge_indices(model.num_nodes), strict=True)]
    caption = (
        f"Gate-gradient noise per training step: {config.dataset} {config.train_split}, "
        f"{args.batch_size} images, {args.repeats} repeats per estimator, score function "
        f"with S = {args.gate_samples} samples per image (Concrete: 1), temperature "
        f"{float(model.gates.temperature.numpy()):.3g}, KL weight "
        f"{float(model.kl_weight.numpy()):.3g}; model {folder.path.name}, seed {args.seed}."
    )
    settings = {k: getattr(args, k) for k in ("repeats", "batch_size", "gate_samples", "seed")}
    record = {"caption": caption, "edges": edges, "model_dir": folder.path.name, **settings}
    stem = Path(args.output)
    stem.parent.mkdir(parents=True, exist_ok=True)
    write_json(stem.with_suffix(".json"), record | {"states": result})
    table = markdown(result, edges, caption)
    write_text(stem.with_suffix(".md"), table)
    print(table)


if __name__ == "__main__":
    main()
