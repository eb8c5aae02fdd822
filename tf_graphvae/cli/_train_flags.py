"""Flags shared by the commands that train models, and the `TrainConfig` they make."""

from __future__ import annotations

from absl import flags

from tf_graphvae import data as tgv_data
from tf_graphvae.layers.gates import STRUCTURES
from tf_graphvae.trainers.experiment import TrainConfig

DATASET = flags.DEFINE_enum("dataset", "digits", tgv_data.DATASETS, "Dataset.")
STRUCTURE = flags.DEFINE_enum("structure", "learned", STRUCTURES, "Latent dependency structure.")
NUM_NODES = flags.DEFINE_integer("num_nodes", 5, "Number of latent nodes N.", lower_bound=1)
NODE_DIM = flags.DEFINE_integer("node_dim", 10, "Dimension N' of every node.", lower_bound=1)
EPOCHS = flags.DEFINE_integer("epochs", 20, "Training epochs.", lower_bound=1)
BATCH_SIZE = flags.DEFINE_integer("batch_size", 128, "Global batch size.", lower_bound=1)
LEARNING_RATE = flags.DEFINE_float("learning_rate", 1e-3, "Adam learning rate.")
SEED = flags.DEFINE_integer("seed", 0, "Seed of the data order, initialisation and sampling.")
DATA_DIR = flags.DEFINE_string(
    "data_dir", None, "Folder with the publishers' data files (else TensorFlow Datasets)."
)
TRAIN_SPLIT = flags.DEFINE_string("train_split", "train", "Training split (TFDS syntax).")
TEST_SPLIT = flags.DEFINE_string("test_split", "test", "Test split (TFDS syntax).")
TEMPERATURE = flags.DEFINE_float("temperature", 1.0, "Initial gate temperature tau.")
MIN_TEMPERATURE = flags.DEFINE_float("min_temperature", 0.5, "Floor of the annealed tau.")
ANNEAL_RATE = flags.DEFINE_float(
    "anneal_rate", 1e-4, "tau = max(floor, tau0 * exp(-rate * step)).", lower_bound=0
)
GATE_LEARNING_RATE = flags.DEFINE_float(
    "gate_learning_rate",
    1e-2,
    "Learning rate of a separate Adam for the gate logits; 0: they share the main optimizer.",
    lower_bound=0,
)
STRAIGHT_THROUGH = flags.DEFINE_bool(
    "straight_through_gates",
    False,
    "Train the learned gates straight-through: hard 0/1 forward, relaxed gradient backward.",
)
KL_WARMUP_EPOCHS = flags.DEFINE_integer(
    "kl_warmup_epochs",
    5,
    "Epochs over which the KL weight rises from 0 to 1 (0: off).",
    lower_bound=0,
)
PER_EXAMPLE_GATES = flags.DEFINE_bool(
    "per_example_gates", True, "One gate sample per example (--noper_example_gates: per batch)."
)
GATE_HOLD_EPOCHS = flags.DEFINE_integer(
    "gate_hold_epochs",
    0,
    "Epochs at the start during which the gates do not move (needs --gate_learning_rate).",
    lower_bound=0,
)
GATE_SAMPLES = flags.DEFINE_integer(
    "gate_samples",
    1,
    "Gate and latent samples per training example (costs that many times the compute).",
    lower_bound=1,
)
DECODE_FROM = flags.DEFINE_enum(
    "decode_from",
    "all_nodes",
    ["all_nodes", "bottom_node"],
    "What the decoder reads: every node, or the bottom node only (Sønderby's Ladder VAE; "
    "fixed structures only).",
)
TEMPERATURE_ANNEAL_EPOCHS = flags.DEFINE_integer(
    "temperature_anneal_epochs",
    0,
    "> 0: tau falls geometrically to --min_temperature over this many epochs "
    "(--anneal_rate unused); 0: tau = max(floor, tau0 exp(-rate step)).",
    lower_bound=0,
)
GATES_FOLLOW_ELBO = flags.DEFINE_bool(
    "gates_follow_elbo",
    False,
    "During KL warm-up the gate logits follow the ELBO (beta = 1), the networks recon - beta KL.",
)
EDGE_COST = flags.DEFINE_float(
    "edge_cost", 0.0, "Nats per edge per example charged to the objective (learned).", lower_bound=0
)
GATE_ESTIMATOR = flags.DEFINE_enum(
    "gate_estimator",
    "concrete",
    ["concrete", "score_function"],
    "Gate gradient: relaxed (Concrete) or score function with a leave-one-out baseline "
    "(hard gates; needs --gate_samples >= 2).",
)
GATE_OPTIMIZER = flags.DEFINE_enum(
    "gate_optimizer", "adam", ["adam", "sgd"], "The gate logits' own optimizer."
)
STRUCTURE_FILE = flags.DEFINE_string(
    "structure_file",
    None,
    "With --structure=fixed: a structure JSON (as tfgvae-compare writes, structure_seed<k>.json) "
    "whose edges are the fixed graph.",
)
JIT_COMPILE = flags.DEFINE_bool(
    "jit_compile",
    True,
    "Compile the train step and the evaluation with XLA (--nojit_compile: no compile "
    "time, for very short runs).",
)

flags.register_validator("learning_rate", lambda v: v > 0, message="--learning_rate must be > 0.")
flags.register_validator("temperature", lambda v: v > 0, message="--temperature must be > 0.")
flags.register_validator(
    "min_temperature", lambda v: v > 0, message="--min_temperature must be > 0."
)


def _edges_from_file(path: str | None) -> list | None:
    if path is None:
        return None
    import json
    from pathlib import Path

    try:
        edges = json.loads(Path(path).read_text())["edges"]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"--structure_file {path}: no structure JSON with edges ({error})."
        ) from None
    return [[int(i), int(j)] for i, j in edges]


def train_config(**overrides) -> TrainConfig:
    """The `TrainConfig` the flags describe."""
    config = TrainConfig(
        dataset=DATASET.value,
        structure=STRUCTURE.value,
        num_nodes=NUM_NODES.value,
        node_dim=NODE_DIM.value,
        epochs=EPOCHS.value,
        batch_size=BATCH_SIZE.value,
        learning_rate=LEARNING_RATE.value,
        seed=SEED.value,
        data_dir=DATA_DIR.value,
        train_split=TRAIN_SPLIT.value,
        test_split=TEST_SPLIT.value,
        temperature=TEMPERATURE.value,
        min_temperature=MIN_TEMPERATURE.value,
        anneal_rate=ANNEAL_RATE.value,
        gate_learning_rate=GATE_LEARNING_RATE.value or None,
        straight_through_gates=STRAIGHT_THROUGH.value,
        kl_warmup_epochs=KL_WARMUP_EPOCHS.value,
        per_example_gates=PER_EXAMPLE_GATES.value,
        gate_hold_epochs=GATE_HOLD_EPOCHS.value,
        gate_samples=GATE_SAMPLES.value,
        jit_compile=JIT_COMPILE.value,
        decode_from=DECODE_FROM.value,
        temperature_anneal_epochs=TEMPERATURE_ANNEAL_EPOCHS.value,
        gates_follow_elbo=GATES_FOLLOW_ELBO.value,
        edge_cost=EDGE_COST.value,
        gate_estimator=GATE_ESTIMATOR.value,
        gate_optimizer=GATE_OPTIMIZER.value,
        edges=_edges_from_file(STRUCTURE_FILE.value),
    )
    for key, value in overrides.items():
        setattr(config, key, value)
    return config.validate()
