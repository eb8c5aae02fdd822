"""The configuration of a training run, and every choice it names, without TensorFlow.

This module imports neither TensorFlow nor Keras, so the commands can parse and check
their flags (generated from these fields, `cli/_train_flags.py`) and report a bad one in
a fraction of a second, before TensorFlow starts. Each setting's default and help live
here once; the model, the layers and the commands take their choices from these tuples.
"""

from __future__ import annotations

import dataclasses
import json
import os
from typing import Any

from tf_graphvae.config.model import (
    EDGE_PRICES,
    MODEL_FIELDS,
    GraphVAEConfig,
    check_model_rules,
)
from tf_graphvae.config.settings import check_field, field_kind, setting

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "omniglot", "cifar10")
BINARY_DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "omniglot")
STRATEGIES = ("default", "mirrored", "multi_worker")
NPZ_PREFIX = "npz:"  # --dataset=npz:<path>: a user's arrays x_train, x_test


# Settings of the recipe chosen per dataset on its validation split (BUILD_NOTES, "Recipe
# screens"): the commands take them for every flag not given on the command line. Only
# what a screen changed is here; every other setting keeps its field's default. On
# Omniglot's generative split 5 epochs of KL warm-up are 860 steps (2,110 on MNIST), and
# the screen chose 20 epochs, 1.1 nats better on validation (results/omniglot_screen_v3).
DATASET_RECIPES: dict[str, dict[str, Any]] = {"omniglot": {"kl_warmup_epochs": 20}}


def recipe_defaults(dataset: str) -> dict[str, Any]:
    """The settings whose default on `dataset` differs from their field's (a copy)."""
    return dict(DATASET_RECIPES.get(dataset, {}))


def dataset_label(name: str) -> str:
    """A dataset's name for file names: `npz:<path>` gives the file's stem."""
    if name.startswith(NPZ_PREFIX):
        return os.path.splitext(os.path.basename(name[len(NPZ_PREFIX) :]))[0]
    return name


def check_dataset(name: str) -> None:
    """Raises a ValueError unless `name` is a known dataset or `npz:<path>` of a file (the
    file's contents are checked when it is loaded)."""
    if name.startswith(NPZ_PREFIX):
        path = os.path.expanduser(name[len(NPZ_PREFIX) :])
        if not os.path.isfile(path):
            raise ValueError(f"dataset {name!r}: no npz file {path!r}.")
    elif name not in DATASETS:
        raise ValueError(
            f"Unknown dataset {name!r}; expected one of {DATASETS} or {NPZ_PREFIX}<path>."
        )


# The training steps from which XLA's compilation (5-15 s on CPU) pays for itself: it saves
# about 11 ms of a 26 ms step (bench/results/bench.md, 28x28 images, batch 128), so ~500
# steps repay it; twice that, to be sure of it (BUILD_NOTES, "Configuration and commands").
XLA_MIN_STEPS = 1000

# How a run executes, not what it learns: the data's location, XLA or not, steps per call.
# A finished evaluation, a resumed run and a resumed search may differ in these.
EXECUTION_FIELDS = ("data_dir", "jit_compile", "steps_per_execution")
# Fields that may differ when a run is resumed: more epochs, and how it executes.
RESUME_MAY_CHANGE = ("epochs", *EXECUTION_FIELDS)
# What only learned gates read: a fixed structure (full, chain, independent, `fixed`)
# trains the same networks whatever these are. `structure` and `edges` are here because
# two runs are compared by their gate masks instead: two gated runs (any structure but
# `independent`, which has no top-down pass) that differ only here train the same model
# when their gate masks are equal.
GATE_ONLY_FIELDS = (
    "structure", "edges", "edge_price", "edge_cost", "edge_costs", "edge_cost_warmup",
    "gate_learning_rate", "gate_optimizer", "gate_hold_epochs", "anneal_after_hold",
    "straight_through_gates",
    "gates_follow_elbo", "gate_estimator", "temperature", "min_temperature", "anneal_rate",
    "temperature_anneal_epochs", "hard_gates", "per_example_gates",
)  # fmt: skip


# How the networks' learning rate follows the step (`tf_graphvae.schedules.learning_rate`).
LEARNING_RATE_SCHEDULES = ("constant", "exponential", "iwae", "cosine")

# The section of config.json that records what unset settings resolved to (`RunFolder`).
RESOLVED = "resolved"
# The arguments of `GraphVAE` that a run sets itself rather than configures: the example
# shape from its data, the built-in networks (from `network`), `standardization` (from
# `standardize` and the training split), the model's seed (the run's `seed`).
SET_BY_RUN = ("event_shape", "encoder", "decoder", "standardization", "seed")
# The model settings a run holds, in `TrainConfig.model`.
RUN_MODEL_FIELDS = tuple(name for name in MODEL_FIELDS if name not in SET_BY_RUN)


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (the flags of `tfgvae-train`): the run's own
    settings (data, optimisation, stopping, execution) and, in `model`, the model's.

    Example:

    ```python
    config = TrainConfig(dataset="mnist", epochs=30,
                         model=GraphVAEConfig(num_nodes=5, node_dim=10))
    config.replace(structure="chain", epochs=10)  # model and run settings alike, by name
    ```
    """

    dataset: str = setting(
        "digits",
        f"Dataset: one of {', '.join(DATASETS)}, or npz:<path> (a file with arrays x_train "
        "and x_test of any example shape).",
        check=check_dataset,
    )
    model: GraphVAEConfig = dataclasses.field(
        default_factory=GraphVAEConfig,
        metadata={"help": "The model's settings (those of SET_BY_RUN come from the run)."},
    )
    standardize: bool = setting(
        False,
        "Gaussian likelihood: standardise every feature with the training split's mean and "
        "std, kept with the model, so that evaluation, sampling and the export work in the "
        "data's own units.",
    )
    epochs: int = setting(20, "Training epochs.", minimum=1)
    batch_size: int = setting(128, "Global batch size.", minimum=1)
    learning_rate: float = setting(1e-3, "Adam learning rate of the networks.", positive=True)
    learning_rate_schedule: str = setting(
        "constant",
        "The networks' learning rate over the run, a function of the optimizer's step (so a "
        "resumed run continues it exactly): constant; exponential: a tenth every "
        "--learning_rate_decay_epochs; iwae: Burda et al.'s stages, stage i of 3^i epochs at "
        "10^(-i/7) times --learning_rate; cosine: to 1 % of it over --epochs.",
        choices=LEARNING_RATE_SCHEDULES,
    )
    learning_rate_decay_epochs: int = setting(
        100, "exponential: epochs over which the learning rate falls tenfold.", minimum=1
    )
    weight_decay: float = setting(
        0.0,
        "Decoupled weight decay of the networks' weights (AdamW; 0: Adam), a regulariser for "
        "small data sets; not applied to the gate logits.",
        minimum=0,
    )
    seed: int = setting(0, "Seed of the data order, initialisation and sampling.")
    data_dir: str | None = setting(
        None, "Folder with the publishers' data files (else TensorFlow Datasets)."
    )
    train_split: str = setting(
        "train",
        "Training split (TFDS syntax; train@fit10%: train without its random validation 10%).",
    )
    test_split: str = setting("test", "Test split (TFDS syntax).")
    validation_split: str | None = setting(
        None,
        "Split scored after every epoch (val_elbo, val_kl, ... in the history), e.g. "
        "train@val10%: a random 10% of train, the same for every run; train on train@fit10%.",
    )
    early_stopping_patience: int = setting(
        0,
        "Early stopping's window in epochs: stop once the mean validation ELBO of the last "
        "this many epochs is less than --early_stopping_min_delta above the mean of the "
        "this many before, and keep the best epoch's weights; --epochs is the cap (0: "
        "train every epoch; needs --validation_split).",
        minimum=0,
    )
    early_stopping_min_delta: float = setting(
        0.0,
        "The gain (nats) over one window below which early stopping stops: window 10 with "
        "0.5 stops once the validation ELBO gains under 0.05 nats per epoch; 0: once it "
        "stops rising.",
        minimum=0,
    )
    jit_compile: bool | None = setting(
        None,
        "XLA for the train step and the evaluation. Default: the train step is compiled when "
        f"the run has at least {XLA_MIN_STEPS:,} training steps (compiling takes 5-15 s and "
        "saves about 40 % of each step), the evaluation always; --jit_compile: always; "
        "--nojit_compile: never.",
    )
    steps_per_execution: int = setting(
        25,
        "Training steps per compiled call (fewer Python round trips; the schedules run in "
        "the step, so every logged value is the same for any setting).",
        minimum=1,
    )
    edge_price: str = setting(
        "fixed",
        "fixed: every edge costs --edge_cost; mdl: each edge its MDL/BIC price, "
        "w ln(n) / (2 n) nats per example for its w top-down weights and n training "
        "images, charged with the KL warm-up weight (learned).",
        choices=EDGE_PRICES,
    )

    @classmethod
    def from_flat(cls, **settings: Any) -> TrainConfig:
        """The defaults with `settings`, run and model settings alike by name (the flags'
        form, and that of config.json files written before `model` was nested)."""
        return cls().replace(**settings)

    @classmethod
    def for_dataset(cls, dataset: str, **settings: Any) -> TrainConfig:
        """The commands' recipe for `dataset`: the defaults, the dataset's own
        (`DATASET_RECIPES`), then `settings` by name. `TrainConfig(dataset=...)` and
        `from_flat` keep every field's default whatever the dataset."""
        return cls.from_flat(dataset=dataset, **{**recipe_defaults(dataset), **settings})

    @classmethod
    def from_json(cls, saved: Any) -> TrainConfig:
        """The configuration `to_json` wrote (or a flat one of an older version; settings
        added since count as their defaults, which keep the older behaviour)."""
        if not isinstance(saved, dict):
            raise ValueError("a run configuration is a JSON object")
        saved = {k: v for k, v in saved.items() if k != RESOLVED}
        model = saved.pop("model", {})
        if not isinstance(model, dict):
            raise ValueError("a run configuration's model is a JSON object")
        twice = sorted(set(saved) & set(model))
        if twice:
            raise ValueError(f"{', '.join(twice)} given both flat and under model")
        settings = {**saved, **model}
        for name in _TUPLE_SETTINGS.intersection(settings):  # JSON has only lists
            settings[name] = tuple(settings[name])
        return cls.from_flat(**settings)

    def to_json(self) -> dict[str, Any]:
        """The configuration as JSON values: the run's settings and `model`, the model's."""
        record = {f.name: getattr(self, f.name) for f in _RUN_FIELDS}
        record["model"] = {name: getattr(self.model, name) for name in RUN_MODEL_FIELDS}
        return json.loads(json.dumps(record))

    def flat(self) -> dict[str, Any]:
        """Every setting in one mapping of JSON values, by name (comparisons, tables)."""
        record = self.to_json()
        return {**record.pop("model"), **record}

    def differences(self, other: TrainConfig, ignore=()) -> dict[str, tuple[Any, Any]]:
        """The settings, by name, in which `other` differs from this configuration (but
        those in `ignore`): `name: (ours, theirs)`. The resume check, the evaluation cache
        and the recipe screen compare configurations through it."""
        ours, theirs = self.flat(), other.flat()
        return {k: (v, theirs[k]) for k, v in ours.items() if k not in ignore and v != theirs[k]}

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with `changes`, run and model settings alike by name (`num_nodes=3`)."""
        model = {k: changes.pop(k) for k in list(changes) if k in RUN_MODEL_FIELDS}
        if "model" in changes:
            raise ValueError("replace takes settings by name, not a model configuration.")
        return dataclasses.replace(self, model=dataclasses.replace(self.model, **model), **changes)

    def validate(self) -> TrainConfig:
        """Returns `self`, or raises a ValueError naming the first bad field."""
        if not isinstance(self.model, GraphVAEConfig):
            raise ValueError(f"model must be a GraphVAEConfig, got {type(self.model).__name__}.")
        for f in _RUN_FIELDS:
            check_field(f, getattr(self, f.name))
        for name in RUN_MODEL_FIELDS:
            check_field(MODEL_FIELDS[name], getattr(self.model, name))
        for name in SET_BY_RUN:
            if getattr(self.model, name) is not None:
                raise ValueError(
                    f"model.{name} is set by the run (from its data, network, standardize "
                    "and seed); leave it None."
                )
        check_model_rules(self.model)
        check_validation_rules(self)
        return self

    def train_step_xla(self, steps: int | None) -> bool:
        """Whether the train step is compiled with XLA for a run of `steps` training steps
        (None: not known, compiled)."""
        if self.jit_compile is not None:
            return self.jit_compile
        return steps is None or steps >= XLA_MIN_STEPS

    @property
    def evaluation_xla(self) -> bool:
        """Whether the evaluation is compiled with XLA: unless `jit_compile` is False."""
        return self.jit_compile is not False

    def model_options(self, likelihood: str) -> dict[str, Any]:
        """The `GraphVAE` arguments of this run: its model settings, the run's seed, and
        `likelihood` (`tf_graphvae.data.run_likelihood` gives the data's by default)."""
        options = {name: getattr(self.model, name) for name in RUN_MODEL_FIELDS}
        return options | {"likelihood": likelihood, "seed": self.seed}


_RUN_FIELDS = tuple(f for f in dataclasses.fields(TrainConfig) if f.name != "model")
assert not {f.name for f in _RUN_FIELDS} & set(RUN_MODEL_FIELDS), "a setting has two owners"


_TUPLE_SETTINGS = {f.name for f in MODEL_FIELDS.values() if field_kind(f) == "tuple"}


def setting_fields() -> tuple[dataclasses.Field, ...]:
    """Every setting of a run, flat: the run's own fields, then its model's (the flags)."""
    return (*_RUN_FIELDS, *(MODEL_FIELDS[name] for name in RUN_MODEL_FIELDS))


def check_validation_rules(config: TrainConfig) -> None:
    """Early stopping needs a validation split, nothing validates on what it trains on, and
    only continuous data are standardised."""
    likelihood = config.model.likelihood
    if config.standardize and likelihood not in (None, "gaussian"):
        raise ValueError(f"standardize is for the gaussian likelihood, not {likelihood!r}.")
    if config.early_stopping_patience and not config.validation_split:
        raise ValueError(
            "early_stopping_patience needs a validation split: set validation_split "
            "(e.g. train@val10%, with train_split train@fit10%)."
        )
    held = config.validation_split or ""
    if "@val" in held:
        base, size = held.split("@val", 1)
        if config.train_split.strip() in (base.strip(), held.strip()):
            raise ValueError(
                f"train_split {config.train_split!r} holds the validation images of "
                f"{held!r}; train on {base.strip()}@fit{size} instead."
            )


def hold_out(config: TrainConfig, percent: int) -> TrainConfig:
    """`config` trained on its training split less a random `percent`% and scored on that
    `percent`% (`train@fit10%` / `train@val10%`: a validation split, the same images for
    every run; hyperparameters are chosen there, never on the test split). `percent=0`
    returns `config` unchanged."""
    if not percent:
        return config
    if not 0 < percent < 100:
        raise ValueError(f"The validation percentage must be in 1..99, got {percent!r}.")
    if "[" in config.train_split or "@" in config.train_split:
        raise ValueError(
            f"A validation split is cut from a whole training split, not {config.train_split!r}."
        )
    base, size = config.train_split, int(percent)
    return dataclasses.replace(
        config, train_split=f"{base}@fit{size}%", test_split=f"{base}@val{size}%"
    )
