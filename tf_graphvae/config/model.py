"""`GraphVAEConfig`: every argument of `GraphVAE`, its default, help and checks, in one place.

Beside the model as pythae keeps a model's configuration; no TensorFlow here, so the
commands can build their flags and check them before TensorFlow starts
(`tf_graphvae.config.TrainConfig` takes its model fields from this class).
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import textwrap
from typing import Any

from tf_graphvae.config.graph import STRUCTURES, check_edges, check_node_dims, get_structure
from tf_graphvae.config.settings import (
    check_field,
    check_rate,
    check_units,
    check_widths,
    setting,
)

LIKELIHOODS = ("bernoulli", "discretized_logistic", "gaussian")
# The values each likelihood models: the heads' `value_range` and the data checks read this.
VALUE_RANGES = {
    "bernoulli": (0.0, 1.0),
    "discretized_logistic": (0.0, 255.0),
    "gaussian": (-math.inf, math.inf),
}
# Gaussian features further than this from standardised are refused unless the model is
# given a `standardization` (the scale a Gaussian decoder with a learned variance can fit).
MAX_ABS_MEAN, STD_RANGE = 3.0, (0.1, 10.0)
NETWORKS = ("mlp", "conv")
HARD_GATES = ("sample", "map")
DECODE_FROM = ("all_nodes", "bottom_node")
GATE_ESTIMATORS = ("concrete", "score_function")
GATE_OPTIMIZERS = ("adam", "sgd")
EDGE_PRICES = ("fixed", "mdl")


@dataclasses.dataclass
class GraphVAEConfig:
    """The arguments of `GraphVAE` (docs/design.md §6 says why each default is what it is).

    The defaults are the training recipe of the `tfgvae-*` commands: `GraphVAE(event_shape)`
    trained with `fit` runs what `tfgvae-train` runs (the schedules are part of the model's
    training step, counted in epochs of the data given to `fit`).
    """

    event_shape: tuple = setting(
        None, "The shape of one example: (H, W, C) for images, (D,) for vectors.", flag=False
    )
    num_nodes: int = setting(5, "Number of latent nodes N.", minimum=1)
    node_dim: int = setting(10, "Dimension N' of every node.", minimum=1)
    node_dims: list | None = setting(
        None,
        "Nodes of different sizes, bottom node z_0 first, root last, e.g. 20,12,8,6,4 "
        "(a Ladder VAE's decreasing sizes); overrides --node_dim, needs --num_nodes of sizes.",
        check=lambda dims: check_node_dims(dims),
    )
    structure: str = setting(
        "learned", "Latent dependency structure (fixed: --structure_file).", choices=STRUCTURES
    )
    edges: list | None = setting(
        None, "structure=fixed: the present edges [[i, j], ...], i > j.", flag=False
    )
    likelihood: str | None = setting(
        None,
        "bernoulli (data in [0, 1]), discretized_logistic (8-bit, 0..255), gaussian "
        "(continuous, learned variance), or a function from decoder outputs to a TFP "
        "distribution over one example. Default: bernoulli; a training run takes the "
        "data's (bernoulli for values in [0, 1], discretized_logistic for 8-bit, "
        "otherwise refused unless --standardize).",
        choices=(*LIKELIHOODS, None),
    )
    network: str | None = setting(
        None,
        "Built-in networks; default conv for 8-bit images with sides divisible by 8, else mlp.",
        choices=(*NETWORKS, None),
    )
    encoder: Any = setting(
        None,
        "A Keras layer or model from a batch of examples to features [B, F] (replaces the "
        "built-in encoder; the model adds the bottom-up heads).",
        flag=False,
    )
    decoder: Any = setting(
        None,
        "A Keras layer or model from the concatenated nodes [B, N * N'] to the likelihood's "
        "parameters (replaces the built-in decoder).",
        flag=False,
    )
    encoder_units: tuple = setting((512, 512, 256), "Encoder widths.", flag=False)
    decoder_units: tuple = setting((256, 512, 512), "Decoder widths.", flag=False)
    top_down_units: int | tuple = setting(
        128,
        "Hidden widths of every top-down network TD_j: one ELU layer of this width, or a "
        "layer per width, e.g. 512,256 (in Python a tuple).",
        widths=True,
        check=lambda units: check_widths(units, "top_down_units"),
    )
    batch_norm: bool = setting(
        False,
        "Batch normalisation in the built-in networks' dense hidden layers (before the ELU): "
        "batch statistics in training, the moving averages in evaluation.",
    )
    dropout: float = setting(
        0.0,
        "Dropout rate after the built-in networks' dense hidden layers, in training only (a "
        "regulariser for small data; 0: off).",
        minimum=0,
        check=lambda rate: check_rate(rate, "dropout"),
    )
    temperature: float = setting(1.0, "Initial gate temperature tau.", positive=True)
    min_temperature: float = setting(0.5, "Floor of the annealed tau.", positive=True)
    anneal_rate: float = setting(1e-4, "tau = max(floor, tau0 * exp(-rate * step)).", minimum=0)
    temperature_anneal_epochs: int = setting(
        0,
        "> 0: tau falls geometrically to --min_temperature over this many epochs "
        "(--anneal_rate unused); 0: the exponential schedule.",
        minimum=0,
    )
    hard_gates: str = setting(
        "sample", "Evaluation gates: a Bernoulli draw, or the MAP graph.", choices=HARD_GATES
    )
    per_example_gates: bool = setting(
        True, "In training, one gate sample per example (--noper_example_gates: per batch)."
    )
    gate_learning_rate: float | None = setting(
        1e-2,
        "Learning rate of the gate logits' own optimizer; 0: they share the main optimizer.",
        minimum=0,
        zero_means_none=True,
    )
    gate_optimizer: str = setting(
        "adam", "The gate logits' own optimizer.", choices=GATE_OPTIMIZERS
    )
    kl_warmup_epochs: int = setting(
        5, "Epochs over which the KL weight rises from 0 to 1 (0: off).", minimum=0
    )
    gate_hold_epochs: int = setting(
        0,
        "Epochs at the start during which the gates do not move (needs --gate_learning_rate).",
        minimum=0,
    )
    anneal_after_hold: bool = setting(
        False,
        "tau stays at --temperature while the gates are held (--gate_hold_epochs) and its "
        "schedule starts when they move.",
    )
    straight_through_gates: bool = setting(
        False, "Train the learned gates straight-through: hard 0/1 forward, relaxed backward."
    )
    gate_samples: int = setting(
        1, "Gate and latent samples per training example (that many times the compute).", minimum=1
    )
    gates_follow_elbo: bool = setting(
        False,
        "During KL warm-up the gate logits follow the ELBO (beta = 1), the networks "
        "recon - beta KL.",
    )
    edge_cost: float = setting(
        0.0, "Nats per edge per example charged to the objective (learned).", minimum=0
    )
    edge_costs: list | None = setting(
        None,
        "Per-edge prices in nats per example, in the gates' order (learned; replaces "
        "edge_cost): what --edge_price=mdl sets from the architecture and the data.",
        flag=False,
    )
    edge_cost_warmup: bool = setting(
        False,
        "Charge the edge cost times the KL warm-up weight beta: an edge's price rises with "
        "the KL that measures its benefit, so the graph is not decided during warm-up.",
    )
    gate_estimator: str = setting(
        "concrete",
        "Gate gradient: relaxed (Concrete) or score function with a leave-one-out baseline "
        "(hard gates; needs --gate_samples >= 2).",
        choices=GATE_ESTIMATORS,
    )
    decode_from: str = setting(
        "all_nodes",
        "What the decoder reads: every node, or the bottom node only (Sønderby's Ladder VAE; "
        "fixed structures only).",
        choices=DECODE_FROM,
    )
    mixed_precision: bool = setting(
        False,
        "Run the built-in encoder and decoder in bfloat16 (Keras policy mixed_bfloat16); "
        "the likelihood, KL, gates and log-sum-exp stay float32. For GPUs.",
    )
    seed: int | None = setting(None, "Seed of the model's random stream.", flag=False)
    standardization: dict | None = setting(
        None,
        "Gaussian likelihood only: {'mean': [...], 'std': [...]}, one value per feature of "
        "an example (flattened). The encoder reads (x - mean) / std and the likelihood is "
        "the same affine map of the decoder's Gaussian, so densities, samples and "
        "reconstructions are in the data's own units.",
        flag=False,
    )

    def __post_init__(self) -> None:
        # One form per value of the widths (a flag's strings, a list read back from JSON,
        # one width in a list), so equal settings compare equal; a bad one is validate's.
        with contextlib.suppress(ValueError):
            self.top_down_units = check_widths(self.top_down_units, "top_down_units")

    def validate(self) -> GraphVAEConfig:
        """A checked copy with normalised values (tuples, sorted edges, the network chosen);
        raises a ValueError naming the first bad argument."""
        shape = tuple(self.event_shape or ())
        if not shape or any(int(s) != s or s < 1 for s in shape):
            raise ValueError(
                f"event_shape must be a non-empty shape of positive sizes, got {shape!r}."
            )
        for f in dataclasses.fields(self):
            if f.name == "event_shape" or (f.name == "likelihood" and callable(self.likelihood)):
                continue
            check_field(f, getattr(self, f.name))
        check_model_rules(self)
        likelihood = self.likelihood or "bernoulli"
        check_standardization(self.standardization, likelihood, shape)
        network = self.network
        if network is None:
            conv_ok = len(shape) == 3 and shape[0] % 8 == 0 and shape[1] % 8 == 0
            network = "conv" if likelihood == "discretized_logistic" and conv_ok else "mlp"
        dims = check_node_dims(self.node_dims)
        return dataclasses.replace(
            self,
            event_shape=tuple(int(s) for s in shape),
            node_dims=dims,
            node_dim=max(dims) if dims else self.node_dim,
            edges=check_edges(self.structure, self.num_nodes, self.edges),
            likelihood=likelihood,
            network=network,
            encoder_units=check_units(self.encoder_units, "encoder_units"),
            decoder_units=check_units(self.decoder_units, "decoder_units"),
            top_down_units=check_widths(self.top_down_units, "top_down_units"),
            gate_learning_rate=self.gate_learning_rate or None,
        )


def with_num_nodes(options: dict) -> dict:
    """`options` with `num_nodes` set to the number of `node_dims` when only the sizes are
    given (`num_nodes`' default, 5, would contradict any other number of sizes); a
    `num_nodes` given with them is kept, and `check_model_rules` refuses a mismatch."""
    if options.get("node_dims") is None or "num_nodes" in options:
        return options
    return {**options, "num_nodes": len(check_node_dims(options["node_dims"]))}


def check_model_rules(config: Any) -> None:
    """The rules between the model's settings (checked before the example shape is known)."""
    check_edges(config.structure, config.num_nodes, config.edges)
    if config.node_dims is not None and len(config.node_dims) != config.num_nodes:
        raise ValueError(
            f"node_dims gives {len(config.node_dims)} node sizes for num_nodes="
            f"{config.num_nodes}; give one size per node."
        )
    if config.decode_from == "bottom_node" and get_structure(config.structure).learned:
        raise ValueError(
            'decode_from="bottom_node" is for the fixed structures; with learned gates '
            'the bottom node may lose its parents. Use decode_from="all_nodes".'
        )
    if config.gate_estimator == "score_function" and config.gate_samples < 2:
        raise ValueError(
            'gate_estimator="score_function" needs gate_samples >= 2 (its leave-one-out '
            f"baseline), got gate_samples={config.gate_samples}."
        )
    costs = config.edge_costs
    if costs is not None:
        expected = config.num_nodes * (config.num_nodes - 1) // 2
        if len(costs) != expected or min(costs, default=0.0) < 0:
            raise ValueError(
                f"edge_costs needs {expected} prices >= 0 (one per possible edge), got {costs!r}."
            )
    if config.gate_hold_epochs and not config.gate_learning_rate:
        raise ValueError("gate_hold_epochs needs the gates' own optimizer: set gate_learning_rate.")
    own_networks = config.encoder is not None and config.decoder is not None
    if (config.batch_norm or config.dropout) and own_networks:
        raise ValueError(
            "batch_norm and dropout are settings of the built-in networks; with your own "
            "encoder and decoder, put them in those networks."
        )


def check_standardization(standardization, likelihood, event_shape) -> None:
    """`standardization` must be None, or a mean and a std > 0 per feature of a Gaussian."""
    if standardization is None:
        return
    if likelihood != "gaussian":
        raise ValueError(f"standardization is for the gaussian likelihood, not {likelihood!r}.")
    size = math.prod(int(s) for s in event_shape)
    mean, std = (standardization.get(k) for k in ("mean", "std"))
    if mean is None or std is None or len(mean) != size or len(std) != size:
        raise ValueError(
            f"standardization needs 'mean' and 'std', {size} values each (one per feature)."
        )
    if not all(math.isfinite(m) for m in mean) or not all(s > 0 and math.isfinite(s) for s in std):
        raise ValueError("standardization needs finite means and finite stds > 0.")


MODEL_FIELDS = {f.name: f for f in dataclasses.fields(GraphVAEConfig)}


def add_setting_views(cls: type, skip: tuple[str, ...] = ()) -> None:
    """Gives `cls` a read-only property per model setting that reads `self.config`: the
    settings live in one place, the model's attributes are views of it. `skip`: settings
    whose name the class uses for an object it builds from them (the encoder, ...)."""
    for name in MODEL_FIELDS:
        if name not in skip:
            view = property(lambda self, name=name: getattr(self.config, name),
                            doc=f"The `{name}` setting (`config.{name}`), read-only.")  # fmt: skip
            setattr(cls, name, view)


def constructor_signature(first: tuple = ("event_shape",)) -> inspect.Signature:
    """`GraphVAE(event_shape, *, num_nodes=5, ...)`: every argument of the model, each with
    its default, as `help()` and IDEs show it (`GraphVAE.__init__.__signature__`); the
    config class is the one place they are defined."""
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name in first:
        parameters.append(inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD))
    for f in dataclasses.fields(GraphVAEConfig):
        if f.name not in first:
            parameters.append(
                inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default)
            )
    parameters.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


def arguments_doc(indent: str = "        ", width: int = 92, skip: tuple = ("event_shape",)) -> str:
    """The docstring lines of every argument: `name: help (default: value)`, wrapped."""
    lines = []
    for f in dataclasses.fields(GraphVAEConfig):
        if f.name in skip:
            continue
        text = f"{f.name}: {f.metadata.get('help', '')} (default: {f.default!r})"
        lines += textwrap.wrap(text, width, initial_indent=indent,
                               subsequent_indent=indent + "    ")  # fmt: skip
    return "\n".join(lines)


def with_arguments(doc: str) -> str:
    """`doc` with its `{arguments}` line replaced by `arguments_doc`, indented as the
    argument line above it (a formatter re-indents the placeholder itself)."""
    lines = doc.splitlines()
    at = next(k for k, line in enumerate(lines) if line.strip() == "{arguments}")
    above = lines[at - 1]
    lines[at] = arguments_doc(above[: len(above) - len(above.lstrip())])
    return "\n".join(lines)
