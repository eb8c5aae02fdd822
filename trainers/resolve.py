"""A run resolved once: from its settings to everything it works out, before any model.

`resolve(config)` infers the likelihood, the network and the example shape, counts the
training split, computes the standardisation statistics (one load of the split), prices
the edges (`edge_price="mdl"`) and decides XLA. Training, tuning and `build_model` read
the result, and `config.json` records it before the model is built, so the record says
what the run was about to build even when building fails.
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from typing import Any

import numpy as np
import tensorflow as tf

from tf_graphvae import data as tgv_data
from tf_graphvae.config import GraphVAEConfig, TrainConfig, get_structure, mdl_edge_prices
from tf_graphvae.config.model import MAX_ABS_MEAN, STD_RANGE, with_num_nodes
from tf_graphvae.input_checks import feature_statistics

# Model arguments a record leaves out of "resolved": objects, and the standardisation's
# statistics (one value per feature; the model file keeps them).
_NOT_RECORDED = ("encoder", "decoder", "standardization", "likelihood", "event_shape")


@dataclasses.dataclass(frozen=True)
class ResolvedRun:
    """Everything a run's settings resolve to.

    Attributes:
        config: the run's settings, as given.
        model: every `GraphVAE` argument, validated (the likelihood and network inferred
            from the data where unset, the per-edge prices, the standardisation).
        train_examples: the size of the training split.
        steps: training steps of the whole run (`epochs` times the batches per epoch).
        jit_compile: whether the training step is compiled with XLA.
        feature_stats: the training split's mean and std per feature (`"mean"`, `"std"`),
            for continuous data (the gaussian likelihood); else None.
    """

    config: TrainConfig
    model: GraphVAEConfig
    train_examples: int
    steps: int
    jit_compile: bool
    feature_stats: dict | None = None

    @property
    def likelihood(self) -> str:
        return self.model.likelihood

    @property
    def network(self) -> str:
        return self.model.network

    def model_arguments(self) -> dict[str, Any]:
        """The keyword arguments of `GraphVAE(**...)`, the example shape among them."""
        return {f.name: getattr(self.model, f.name) for f in dataclasses.fields(self.model)}

    def record(self) -> dict[str, Any]:
        """`config.json`'s "resolved": the likelihood and network, XLA or not, the example
        shape and split size, and under "model" every argument the model is built with (the
        prices that `edge_price="mdl"` sets, their schedule, the gate hold)."""
        arguments = self.model_arguments()
        model = {k: v for k, v in arguments.items() if k not in _NOT_RECORDED}
        return {
            "likelihood": self.likelihood,
            "network": self.network,
            "jit_compile": self.jit_compile,
            "event_shape": list(self.model.event_shape),
            "train_examples": self.train_examples,
            "steps": self.steps,
            "model": json.loads(json.dumps(model, default=str)),
        }


def resolve(config: TrainConfig, steps: int | None = None) -> ResolvedRun:
    """`config` resolved (see `ResolvedRun`), under the current `tf.distribute` strategy
    (XLA is off across CPU replicas). `steps` overrides the run's step count (the XLA rule
    reads it; None: `epochs` times the training split's batches)."""
    likelihood = tgv_data.run_likelihood(config)
    n = tgv_data.split_size(config.dataset, config.train_split, config.data_dir)
    steps = config.epochs * math.ceil(n / config.batch_size) if steps is None else steps
    options = config.model_options(likelihood)
    model = config.model
    if config.edge_price == "mdl" and get_structure(model.structure).learned:
        dims = model.node_dims or [model.node_dim] * model.num_nodes
        options["edge_costs"] = mdl_edge_prices(dims, options["top_down_units"], n)
        options["edge_cost_warmup"] = True
    stats = _feature_stats(config) if likelihood == "gaussian" else None
    if config.standardize:
        options["standardization"] = stats
    shape = tgv_data.event_shape(config.dataset)
    arguments = GraphVAEConfig(event_shape=shape, **with_num_nodes(options)).validate()
    jit = config.train_step_xla(steps) and _use_xla()
    return ResolvedRun(config, arguments, n, steps, jit, stats)


def describe(run: ResolvedRun) -> str:
    """What the run will model: the data, the likelihood and network (said when inferred)."""
    config = run.config
    inferred = lambda value: " (inferred)" if value is None else ""  # noqa: E731
    return (
        f"Data: {config.dataset} {config.train_split} -> {config.test_split}, examples "
        f"{list(run.model.event_shape)}; likelihood {run.likelihood}"
        f"{inferred(config.model.likelihood)}, network {run.network}"
        f"{inferred(config.model.network)}."
    )


def _feature_stats(config: TrainConfig) -> dict:
    """The training split's mean and std per feature (constant features: std 1, with a
    warning under `standardize` that says how many: they carry nothing to model)."""
    x = tgv_data.load_numpy(config.dataset, config.train_split, config.data_dir)
    mean, std, constant = feature_statistics(x)
    if constant and config.standardize:
        warnings.warn(
            f"{constant} of {std.size} features of {config.dataset} ({config.train_split}) "
            "are constant: --standardize gives them std 1 (they are only shifted to 0).",
            stacklevel=3,
        )
    return {"mean": mean.tolist(), "std": std.tolist()}


def check_scale(run: ResolvedRun) -> None:
    """Refuses continuous data far from standardised when the likelihood was inferred and
    `standardize` is off, and `standardize` on data that are not continuous."""
    config = run.config
    if config.standardize and run.likelihood != "gaussian":
        raise ValueError(
            f"--standardize is for continuous data (the gaussian likelihood); the values of "
            f"{config.dataset} call for {run.likelihood}."
        )
    if config.standardize or config.model.likelihood is not None or run.feature_stats is None:
        return
    mean, std = np.abs(run.feature_stats["mean"]), np.asarray(run.feature_stats["std"])
    low, high = STD_RANGE
    if mean.max() > MAX_ABS_MEAN or std.min() < low or std.max() > high:
        raise ValueError(
            f"The features of {config.dataset} are far from standardised (|mean| up to "
            f"{mean.max():.3g}, std {std.min():.3g} to {std.max():.3g}; a Gaussian decoder "
            f"expects |mean| <= {MAX_ABS_MEAN:g} and std in [{low:g}, {high:g}]): pass "
            "--standardize (the training split's statistics, kept with the model), or "
            "--likelihood=gaussian to model them as they are."
        )


def _use_xla() -> bool:
    """XLA compiles the train step, except across CPU replicas: XLA has no CPU collectives."""
    strategy = tf.distribute.get_strategy()
    return strategy.num_replicas_in_sync == 1 or bool(tf.config.list_logical_devices("GPU"))
