"""`FactorisationHyperModel`: the search space of Figure 3 for KerasTuner.

`node_dim` over every divisor `N'` of `M` (`N = M // N'`), optionally the learning rate and
the gate temperature floor; each trial is trained as `experiment.train` trains a run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import keras_tuner
import numpy as np

from tf_graphvae import evaluate
from tf_graphvae.config import EXECUTION_FIELDS, SearchConfig, TrainConfig
from tf_graphvae.model import GraphVAE
from tf_graphvae.scoring import test_images
from tf_graphvae.trainers import experiment
from tf_graphvae.trainers.epoch_log import EpochLog


def _choice_default(values: tuple, preferred) -> object:
    return preferred if preferred in values else values[0]


class FactorisationHyperModel(keras_tuner.HyperModel):
    """The search space of Figure 3: GraphVAEs with `num_nodes * node_dim = latent_dim`.

    Hyperparameters: `node_dim` (a `Choice` over every `N'` dividing `M`, increasing;
    `num_nodes = M // node_dim`), and when asked `learning_rate` (a `Choice` over
    log-spaced rates) and `temperature_floor` (a `Choice`: the floor of the annealed
    gate temperature). Everything else comes from `base_config`.

    Args:
        base_config: the training run (dataset, structure, epochs, batch size, seed...);
            its `num_nodes` and `node_dim` are replaced by each trial's.
        search: what is searched (`SearchConfig`: M, the bounds on N, whether the learning
            rate and the temperature floor are searched too, the objective: `"val_elbo"`
            read from the `fit` history, or `"val_ll"`, the importance-weighted LL of the
            validation images after `fit`). Temperature floors above the initial
            temperature `base_config.model.temperature` are left out.
        model_fn: makes the compiled model of a trial's `TrainConfig` (default
            `experiment.build_model`; e.g. other network widths).

    Raises:
        ValueError: `M` is not an integer >= 1, no factorisation is left, or an option
            is invalid.
    """

    def __init__(
        self,
        base_config: TrainConfig,
        search: SearchConfig | None = None,
        *,
        model_fn: Callable[[TrainConfig], GraphVAE] | None = None,
        name: str | None = None,
    ):
        super().__init__(name=name)
        search = dataclasses.replace(search or SearchConfig()).validate()
        self.search = search
        self.config = base_config.replace().validate()
        self.latent_dim = int(search.latent_dim)
        self.factorisations = search.candidates()
        self.node_dims = [d for _, d in self.factorisations]
        self.tune_learning_rate = search.tune_learning_rate
        self.tune_temperature_floor = search.tune_temperature_floor
        self.learning_rates = tuple(sorted({float(v) for v in search.learning_rates}))
        floors = sorted({float(v) for v in search.temperature_floors})
        self.temperature_floors = tuple(v for v in floors if v <= self.config.model.temperature)
        if self.tune_temperature_floor and not self.temperature_floors:
            raise ValueError(
                f"No temperature floor in {floors} is <= the initial temperature "
                f"{self.config.model.temperature}."
            )
        self.objective = keras_tuner.Objective(search.objective, direction="max")
        self.num_samples, self.eval_images = search.num_samples, search.eval_images
        self.model_fn = model_fn or experiment.build_model
        self._ll_images: np.ndarray | None = None

    # ----------------------------------------------------------------- the space
    @property
    def grid_size(self) -> int:
        """The number of distinct trials: every combination of the searched values."""
        size = len(self.node_dims)
        if self.tune_learning_rate:
            size *= len(self.learning_rates)
        if self.tune_temperature_floor:
            size *= len(self.temperature_floors)
        return size

    def declare_hyperparameters(self, hp: keras_tuner.HyperParameters) -> None:
        hp.Choice("node_dim", self.node_dims)
        if self.tune_learning_rate:
            default = _choice_default(self.learning_rates, self.config.learning_rate)
            hp.Choice("learning_rate", list(self.learning_rates), default=default)
        if self.tune_temperature_floor:
            default = _choice_default(self.temperature_floors, self.config.model.min_temperature)
            hp.Choice("temperature_floor", list(self.temperature_floors), default=default)

    def trial_config(self, hp: keras_tuner.HyperParameters) -> TrainConfig:
        """The `TrainConfig` of the trial `hp` describes."""
        self.declare_hyperparameters(hp)  # a no-op when hp already holds them
        node_dim = int(hp.get("node_dim"))
        changes = {"num_nodes": self.latent_dim // node_dim, "node_dim": node_dim}
        if self.tune_learning_rate:
            changes["learning_rate"] = float(hp.get("learning_rate"))
        if self.tune_temperature_floor:
            changes["min_temperature"] = float(hp.get("temperature_floor"))
        return self.config.replace(**changes)

    # ------------------------------------------------------------ build and fit
    def build(self, hp: keras_tuner.HyperParameters) -> GraphVAE:
        """A compiled GraphVAE for the trial's factorisation (seeded by the base config)."""
        config = self.trial_config(hp)
        keras.utils.set_random_seed(config.seed)
        return self.model_fn(config)

    def ll_images(self) -> np.ndarray:
        """The validation images of the `val_ll` objective (loaded once)."""
        if self._ll_images is None:
            self._ll_images = test_images(self.config, self.eval_images)
        return self._ll_images

    def fit(self, hp: keras_tuner.HyperParameters, model: GraphVAE, *args, **kwargs):
        """Trains `model` (its recipe's schedules are the model's); returns what the objective
        needs.

        Without training data in `args`/`kwargs` the trial's data are made as
        `experiment.make_datasets` makes them (the test split, binarised once with the
        seed, is the validation set), and `epochs` defaults to the config's.

        Returns:
            The `History` (`val_elbo` objective), or the last epoch's metrics with
            `val_ll` and `val_ll_sem` added (`val_ll`).
        """
        config = self.trial_config(hp)
        if not args and "x" not in kwargs:
            train_ds, validation_ds = experiment.make_datasets(config)
            args = (train_ds,)
            kwargs.setdefault("validation_data", validation_ds)
            kwargs.setdefault("shuffle", False)  # the dataset shuffles itself
        kwargs.setdefault("epochs", config.epochs)
        if kwargs.get("verbose") == 2:  # the commands' epoch lines: fixed point, time left
            kwargs["verbose"] = 0
            kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), EpochLog()]
        history = model.fit(*args, **kwargs)
        if self.objective.name != "val_ll":
            return history
        metrics = evaluate.table1_metrics(
            model,
            self.ll_images(),
            self.num_samples,
            seed=config.seed,
            progress=False,
            jit_compile=config.evaluation_xla,
        )
        last_epoch = {k: float(v[-1]) for k, v in history.history.items() if len(v)}
        return last_epoch | {"val_ll": metrics["ll"], "val_ll_sem": metrics["ll_sem"]}

    def search_config(self) -> dict:
        """What defines the search (a resumed search must match it)."""
        config = self.config.flat()
        for key in EXECUTION_FIELDS:  # how it runs, not what it searches
            config.pop(key, None)
        return {
            "config": config,
            "latent_dim": self.latent_dim,
            "node_dims": self.node_dims,
            "objective": self.objective.name,
            "learning_rates": list(self.learning_rates) if self.tune_learning_rate else None,
            "temperature_floors": (
                list(self.temperature_floors) if self.tune_temperature_floor else None
            ),
            "num_samples": self.num_samples if self.objective.name == "val_ll" else None,
            "eval_images": self.eval_images if self.objective.name == "val_ll" else None,
        }
