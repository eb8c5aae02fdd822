"""`tfgvae-train`: train one Graph VAE (or baseline) and save it.

tfgvae-train --dataset=digits --structure=learned --epochs=20 --model_dir=runs/digits
"""

from __future__ import annotations

from absl import flags

from tf_graphvae.cli import _train_flags as tf_flags
from tf_graphvae.cli._common import format_matrix, run_main
from tf_graphvae.config import STRATEGIES, dataset_label

_MODEL_DIR = flags.DEFINE_string(
    "model_dir",
    None,
    "Where the model, history, checkpoints and logs go "
    "(default runs/<dataset>-<structure>); re-running resumes from the last epoch.",
)

_STRATEGY = flags.DEFINE_enum(
    "strategy",
    "default",
    STRATEGIES,
    "default: one device; mirrored: every local GPU; multi_worker: the hosts in TF_CONFIG. "
    "--batch_size is the global batch.",
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    config = tf_flags.train_config()  # checked before TensorFlow starts
    from tf_graphvae.trainers import distribute, experiment

    strategy = distribute.make_strategy(_STRATEGY.value)  # first: before other TF work
    model_dir = _MODEL_DIR.value or f"runs/{dataset_label(config.dataset)}-{config.structure}"
    result = experiment.train(config, model_dir=model_dir, verbose=2, strategy=strategy)
    if not distribute.is_chief():
        return
    test = result.test_metrics
    print(f"\nSaved {model_dir}/{experiment.MODEL_FILE}")
    print(
        f"Test ({config.dataset} {config.test_split}, {config.structure}): "
        f"ELBO {test['elbo']:.2f}  KL {test['kl']:.2f}  log p(x|z) {test['recon']:.2f} nats"
    )
    print("Edge probabilities mu[parent, child]:")
    print(format_matrix(result.model.edge_probabilities()))


def run() -> None:
    run_main(main)


if __name__ == "__main__":
    run()
