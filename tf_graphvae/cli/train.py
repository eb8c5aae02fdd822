"""`tfgvae-train`: train one Graph VAE (or baseline) and save it.

tfgvae-train --dataset=digits --structure=learned --epochs=20 --model_dir=runs/digits
"""

from __future__ import annotations

from absl import flags

from tf_graphvae import data as tgv_data
from tf_graphvae.cli._common import format_matrix, run_main  # noqa: I001  (sets TF env first)
from tf_graphvae.layers.gates import STRUCTURES
from tf_graphvae.trainers import experiment

_DATASET = flags.DEFINE_enum("dataset", "digits", tgv_data.DATASETS, "Dataset to train on.")
_STRUCTURE = flags.DEFINE_enum("structure", "learned", STRUCTURES, "Latent dependency structure.")
_NUM_NODES = flags.DEFINE_integer("num_nodes", 5, "Number of latent nodes N.", lower_bound=1)
_NODE_DIM = flags.DEFINE_integer("node_dim", 10, "Dimension N' of every node.", lower_bound=1)
_EPOCHS = flags.DEFINE_integer("epochs", 20, "Training epochs.", lower_bound=1)
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Global batch size.", lower_bound=1)
_LEARNING_RATE = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.", lower_bound=0)
_MODEL_DIR = flags.DEFINE_string("model_dir", None, "Where the model and its history go.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the data order, initialisation and sampling.")
_DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Folder with the publishers' data files (else TensorFlow Datasets)."
)
_TRAIN_SPLIT = flags.DEFINE_string("train_split", "train", "Training split (TFDS syntax).")
_TEST_SPLIT = flags.DEFINE_string("test_split", "test", "Test split (TFDS syntax).")
_TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "Initial gate temperature tau.")
_MIN_TEMPERATURE = flags.DEFINE_float("min_temperature", 0.5, "Floor of the annealed tau.")
_ANNEAL_RATE = flags.DEFINE_float("anneal_rate", 1e-4, "tau = max(floor, tau0*exp(-rate*step)).")

flags.register_validator("learning_rate", lambda v: v > 0, message="--learning_rate must be > 0.")
flags.register_validator("temperature", lambda v: v > 0, message="--temperature must be > 0.")
flags.register_validator(
    "min_temperature", lambda v: v > 0, message="--min_temperature must be > 0."
)


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    model_dir = _MODEL_DIR.value or f"runs/{_DATASET.value}-{_STRUCTURE.value}"
    config = experiment.TrainConfig(
        dataset=_DATASET.value,
        structure=_STRUCTURE.value,
        num_nodes=_NUM_NODES.value,
        node_dim=_NODE_DIM.value,
        epochs=_EPOCHS.value,
        batch_size=_BATCH_SIZE.value,
        learning_rate=_LEARNING_RATE.value,
        seed=_SEED.value,
        data_dir=_DATA_DIR.value,
        train_split=_TRAIN_SPLIT.value,
        test_split=_TEST_SPLIT.value,
        temperature=_TEMPERATURE.value,
        min_temperature=_MIN_TEMPERATURE.value,
        anneal_rate=_ANNEAL_RATE.value,
    )
    result = experiment.train(config, model_dir=model_dir, verbose=2)
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
