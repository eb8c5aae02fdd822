"""The configuration of a training run, and every choice it names, without TensorFlow.

This module imports neither TensorFlow nor Keras, so the commands can parse and check
their flags (generated from these fields, `cli/_train_flags.py`) and report a bad one in
a fraction of a second, before TensorFlow starts. Each setting's default and help live
here once; the model, the layers and the commands take their choices from these tuples.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "omniglot", "cifar10")
BINARY_DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "omniglot")
STRUCTURES = ("independent", "chain", "full", "learned", "fixed")
HARD_GATES = ("sample", "map")
DECODE_FROM = ("all_nodes", "bottom_node")
GATE_ESTIMATORS = ("concrete", "score_function")
GATE_OPTIMIZERS = ("adam", "sgd")

STRATEGIES = ("default", "mirrored", "multi_worker")

# The rows of `tfgvae-compare`: name -> (structure, decode_from), in the paper's order.
# `chain` is a chain prior with ladder inference whose decoder reads every node; `ladder`
# is Sønderby et al.'s Ladder VAE, the same chain with the decoder on the bottom node only.
ROWS = {
    "independent": ("independent", "all_nodes"),
    "chain": ("chain", "all_nodes"),
    "ladder": ("chain", "bottom_node"),
    "full": ("full", "all_nodes"),
    "learned": ("learned", "all_nodes"),
}
DEFAULT_ROWS = ("independent", "chain", "full", "learned")

# `tfgvae-tune`.
TUNING_OBJECTIVES = ("val_elbo", "val_ll")
TUNERS = ("grid", "random", "bayesian")
DEFAULT_LEARNING_RATES = (3e-4, 1e-3, 3e-3)
DEFAULT_TEMPERATURE_FLOORS = (0.1, 0.3, 0.5)
DEFAULT_LL_SAMPLES = 100

# Fields that may differ when a run is resumed (more epochs; the data location; XLA or not).
RESUME_MAY_CHANGE = ("epochs", "data_dir", "jit_compile")


def _field(default: Any, help: str, **meta: Any) -> Any:
    """A dataclass field whose metadata makes its command-line flag: `help`, and optionally
    `choices`, `minimum` (inclusive), `positive` (> 0), `flag=False` (no flag),
    `zero_means_none` (a flag value 0 stands for None)."""
    return dataclasses.field(default=default, metadata={"help": help, **meta})


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (the flags of `tfgvae-train`)."""

    dataset: str = _field("digits", "Dataset.", choices=DATASETS)
    structure: str = _field(
        "learned", "Latent dependency structure (fixed: --structure_file).", choices=STRUCTURES
    )
    num_nodes: int = _field(5, "Number of latent nodes N.", minimum=1)
    node_dim: int = _field(10, "Dimension N' of every node.", minimum=1)
    epochs: int = _field(20, "Training epochs.", minimum=1)
    batch_size: int = _field(128, "Global batch size.", minimum=1)
    learning_rate: float = _field(1e-3, "Adam learning rate of the networks.", positive=True)
    seed: int = _field(0, "Seed of the data order, initialisation and sampling.")
    data_dir: str | None = _field(
        None, "Folder with the publishers' data files (else TensorFlow Datasets)."
    )
    train_split: str = _field("train", "Training split (TFDS syntax).")
    test_split: str = _field("test", "Test split (TFDS syntax).")
    temperature: float = _field(1.0, "Initial gate temperature tau.", positive=True)
    min_temperature: float = _field(0.5, "Floor of the annealed tau.", positive=True)
    anneal_rate: float = _field(1e-4, "tau = max(floor, tau0 * exp(-rate * step)).", minimum=0)
    temperature_anneal_epochs: int = _field(
        0,
        "> 0: tau falls geometrically to --min_temperature over this many epochs "
        "(--anneal_rate unused); 0: the exponential schedule.",
        minimum=0,
    )
    # The training recipe (README "Making the learned structure earn its place"): the gate
    # logits on their own Adam at 10x the learning rate, and 5 epochs of KL warm-up.
    gate_learning_rate: float | None = _field(
        1e-2,
        "Learning rate of the gate logits' own optimizer; 0: they share the main optimizer.",
        minimum=0,
        zero_means_none=True,
    )
    straight_through_gates: bool = _field(
        False, "Train the learned gates straight-through: hard 0/1 forward, relaxed backward."
    )
    kl_warmup_epochs: int = _field(
        5, "Epochs over which the KL weight rises from 0 to 1 (0: off).", minimum=0
    )
    per_example_gates: bool = _field(
        True, "In training, one gate sample per example (--noper_example_gates: per batch)."
    )
    gate_hold_epochs: int = _field(
        0,
        "Epochs at the start during which the gates do not move (needs --gate_learning_rate).",
        minimum=0,
    )
    gate_samples: int = _field(
        1, "Gate and latent samples per training example (that many times the compute).", minimum=1
    )
    jit_compile: bool = _field(
        True,
        "Compile the train step and the evaluation with XLA (--nojit_compile: no compile "
        "time, for very short runs).",
    )
    decode_from: str = _field(
        "all_nodes",
        "What the decoder reads: every node, or the bottom node only (Sønderby's Ladder VAE; "
        "fixed structures only).",
        choices=DECODE_FROM,
    )
    edges: list | None = _field(
        None, "structure=fixed: the present edges [[i, j], ...].", flag=False
    )
    gates_follow_elbo: bool = _field(
        False,
        "During KL warm-up the gate logits follow the ELBO (beta = 1), the networks "
        "recon - beta KL.",
    )
    edge_cost: float = _field(
        0.0, "Nats per edge per example charged to the objective (learned).", minimum=0
    )
    gate_estimator: str = _field(
        "concrete",
        "Gate gradient: relaxed (Concrete) or score function with a leave-one-out baseline "
        "(hard gates; needs --gate_samples >= 2).",
        choices=GATE_ESTIMATORS,
    )
    gate_optimizer: str = _field("adam", "The gate logits' own optimizer.", choices=GATE_OPTIMIZERS)

    def validate(self) -> TrainConfig:
        """Returns `self`, or raises a ValueError naming the first bad field."""
        for f in dataclasses.fields(self):
            _check_field(f, getattr(self, f.name))
        if self.structure == "fixed" and self.edges is None:
            raise ValueError("structure=fixed needs edges (--structure_file).")
        if self.structure != "fixed" and self.edges is not None:
            raise ValueError(f"edges are only for structure=fixed, not {self.structure!r}.")
        for edge in self.edges or ():
            i, j = (int(v) for v in edge)
            if not self.num_nodes > i > j >= 0:
                raise ValueError(f"Edge {list(edge)} is not a possible edge: need N > i > j >= 0.")
        if self.decode_from == "bottom_node" and self.structure == "learned":
            raise ValueError('decode_from="bottom_node" is only for the fixed structures.')
        if self.gate_estimator == "score_function" and self.gate_samples < 2:
            raise ValueError("gate_estimator=score_function needs gate_samples >= 2.")
        if self.gate_hold_epochs and not self.gate_learning_rate:
            raise ValueError(
                "gate_hold_epochs needs the gates' own optimizer: set gate_learning_rate."
            )
        return self

    @property
    def likelihood(self) -> str:
        return "bernoulli" if self.dataset in BINARY_DATASETS else "discretized_logistic"


def field_kind(f: dataclasses.Field) -> str:
    """`"int"`, `"float"`, `"bool"`, `"str"` or `"list"`: the field's type without `None`."""
    return str(f.type).split("|")[0].strip()


def _check_field(f: dataclasses.Field, value: Any) -> None:
    meta = f.metadata
    if value is None:
        if f.default is None or meta.get("zero_means_none"):
            return
        raise ValueError(f"{f.name} must be set, got None.")
    kind = field_kind(f)
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


def with_defaults(saved: dict) -> dict:
    """A saved `TrainConfig` dict in which a field added after it was written counts as its
    default (the defaults of new fields keep the behaviour of older versions)."""
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    return {**defaults, **saved}
