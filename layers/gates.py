"""Binary dependency gates `c[i, j]` of the Graph VAE (paper Section 2, Eq. 2)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tf_graphvae.config import HARD_GATES, check_edges, edge_indices
from tf_graphvae.config.graph import get_structure, structure_mask, validate_structure
from tf_graphvae.layers.noise import STATELESS_ALG, global_rows, stateless_uniform


def validate_temperature(temperature: float) -> float:
    """Returns `temperature` as a float or raises a ValueError when it is not > 0."""
    t = float(temperature)
    if not np.isfinite(t) or t <= 0.0:
        raise ValueError(f"The gate temperature tau must be finite and > 0, got {temperature!r}.")
    return t


def relaxed_bernoulli_sample(logits: tf.Tensor, temperature: tf.Tensor, n, seed) -> tf.Tensor:
    """`n` draws of `tfd.RelaxedBernoulli(temperature, logits=logits)`, the paper's Eq. (2).

    The binary Concrete sample is `sigmoid((logits + L) / tau)` with `L` standard logistic
    (the difference of the two Gumbel noises of Eq. 2). The values are those of
    `tfd.RelaxedBernoulli(...).sample(n, seed)` (same seed, same draw), but the gradient
    is taken through `sigmoid` directly, `c (1 - c) / tau`, which is finite everywhere:
    TFP's sample gradient is NaN once the sample rounds to exactly 1 in float32, which
    happens for saturated gates (mu near 1) at temperatures of 0.2 and below and ended
    training with a NaN loss (`tests/test_gates.py`).

    The logistic draw is `tfd.Logistic(logits / tau, 1 / tau).sample(n, seed)`'s, op for
    op, with the generator named (layers/noise.py): under XLA TFP's default algorithm looked
    its key up at run time, and that draw took longer than the rest of the N = 50 training
    step. In TensorFlow's kernels Philox draws the default's numbers for every seed; under
    XLA only for seeds without a negative half (`tests/test_gates_scatter.py`).

    Returns:
        `[n, *logits.shape]`.
    """
    loc, scale = logits / temperature, 1.0 / temperature
    # TFP's open interval (0, 1): from the smallest normal number, so that log(u) is finite.
    tiny = np.finfo(logits.dtype.as_numpy_dtype).tiny
    shape = tf.concat([[n], tf.shape(loc)], 0)
    uniform = tf.random.stateless_uniform(
        shape, seed, minval=tiny, maxval=1.0, dtype=logits.dtype, alg=STATELESS_ALG
    )
    noisy = (tf.math.log(uniform) - tf.math.log1p(-uniform)) * scale + loc
    return tf.sigmoid(noisy)


def scatter_index(num_nodes: int) -> np.ndarray:
    """`[N * N]`: for each flat entry `i * N + j`, its edge's position in the `edge_indices`
    order, or `E` (the appended zero) where `i -> j` is no possible edge."""
    parents, children = edge_indices(num_nodes)
    index = np.full(num_nodes * num_nodes, len(parents), np.int32)
    index[parents * num_nodes + children] = np.arange(len(parents), dtype=np.int32)
    return index


@keras.saving.register_keras_serializable(package="tf_graphvae")
class Gates(keras.layers.Layer):
    """Gates `c[i, j]` on the possible edges `z_i -> z_j`, `i > j`, of a latent DAG.

    For `structure="learned"` the layer owns one trainable logit per possible edge,
    `mu[i, j] = sigmoid(logit)` (initialised at 0, i.e. `mu = 0.5`). In training the
    gates are relaxed Bernoulli (binary Concrete) samples at temperature `tau`, the
    paper's Eq. (2), so gradients reach the logits; at evaluation they are hard
    `Bernoulli(mu)` samples, or the MAP graph `mu > 0.5` when `hard_gates="map"`.
    The fixed structures (`independent`, `chain`, `full`) return their 0/1 mask and
    have no trainable weight.

    The temperature lives in a non-trainable variable so that a callback can anneal it.

    Args:
        num_nodes: number of latent nodes `N >= 1`.
        structure: one of `"independent"`, `"chain"`, `"full"`, `"learned"`, or `"fixed"`
            (the graph of `edges`).
        temperature: initial relaxation temperature `tau > 0`.
        hard_gates: `"sample"` (a Bernoulli draw per example) or `"map"` at evaluation.
        straight_through: in training, use the hard gate `round(c)` of each relaxed sample
            in the forward pass and the relaxed sample's gradient in the backward pass
            (straight-through Gumbel-softmax), so the networks train on the 0/1 gates they
            are evaluated with.
        per_example: in training, one gate sample per example (default, lower variance)
            or one shared by the whole batch. Outside training every row gets its own
            draw whatever this option: evaluation estimates `log E_c p(x | c)`, which a
            structure shared by a block of rows would bias (docs: evaluation).

    Call arguments:
        batch_size: scalar, the number of gate matrices to draw.
        training: relaxed samples when True, hard ones otherwise.
        hard_gates: overrides the layer's `hard_gates` for this call (outside training).
        edges: for `structure="fixed"`, the present edges `[[i, j], ...]`, `i > j`.
        seed: optional stateless seed, shape `[2]`, int32; default the layer's generator.
        row_offset, total_rows: the batch is rows `row_offset ...` of a global batch of
            `total_rows` (data-parallel replicas); None: the batch is the whole draw.

    Output shape:
        `[batch_size, N, N]`, entry `[b, i, j]` the gate of edge `i -> j` (0 where `i <= j`).

    Example:
    >>> gates = Gates(num_nodes=3, structure="learned")
    >>> gates(4, training=True).shape
    TensorShape([4, 3, 3])
    """

    def __init__(
        self,
        num_nodes: int,
        structure: str = "learned",
        temperature: float = 1.0,
        hard_gates: str = "sample",
        per_example: bool = True,
        straight_through: bool = False,
        seed: int | None = None,
        edges=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_nodes) < 1:
            raise ValueError(f"num_nodes must be >= 1, got {num_nodes!r}.")
        if hard_gates not in HARD_GATES:
            raise ValueError(f"Unknown hard_gates {hard_gates!r}; expected one of {HARD_GATES}.")
        self.num_nodes = int(num_nodes)
        self.structure = validate_structure(structure)
        self.edges = check_edges(self.structure, self.num_nodes, edges)
        self.initial_temperature = validate_temperature(temperature)
        self.hard_gates = hard_gates
        self.per_example = bool(per_example)
        self.straight_through = bool(straight_through)
        self.seed = seed
        self.num_edges = self.num_nodes * (self.num_nodes - 1) // 2
        self._parents, self._children = edge_indices(self.num_nodes)
        self._scatter_index = scatter_index(self.num_nodes)
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.built = False

    @property
    def learned(self) -> bool:
        return get_structure(self.structure).learned

    def build(self, input_shape=None):
        if self.learned and self.num_edges > 0:
            self.gate_logits = self.add_weight(
                name="gate_logits", shape=(self.num_edges,), initializer="zeros", trainable=True
            )
        self.temperature = self.add_weight(
            name="temperature",
            shape=(),
            initializer=keras.initializers.Constant(self.initial_temperature),
            trainable=False,
        )
        self.built = True

    def _scatter(self, edge_values: tf.Tensor) -> tf.Tensor:
        """Places per-edge values `[..., E]` into gate matrices `[..., N, N]`.

        A gather from the values with a zero appended, each non-edge entry reading the zero:
        the same numbers and gradient (a scatter-add) as a one-hot `[E, N^2]` matmul, whose
        `E N^2 ~ N^4 / 2` multiply-adds per row dominated the training step at large N
        (`tests/test_gates_scatter.py`, `bench/top_down_cost.py`).
        """
        rows = tf.shape(edge_values)[:-1]
        # A zero column of its own shape, not zeros_like of a slice: N = 1 has no edge to slice.
        zero = tf.zeros(tf.concat([rows, [1]], 0), edge_values.dtype)
        flat = tf.gather(tf.concat([edge_values, zero], -1), self._scatter_index, axis=-1)
        return tf.reshape(flat, tf.concat([rows, [self.num_nodes, self.num_nodes]], 0))

    def edge_values(self, gates: tf.Tensor) -> tf.Tensor:
        """The per-edge entries `[..., E]` of gate matrices `[..., N, N]` (`gate_logits` order)."""
        flat = tf.reshape(gates, tf.concat([tf.shape(gates)[:-2], [-1]], 0))
        return tf.gather(flat, self._parents * self.num_nodes + self._children, axis=-1)

    def edge_probabilities(self) -> tf.Tensor:
        """`mu` as a `[N, N]` matrix (the fixed structures: their 0/1 mask)."""
        if not self.built:
            self.build()
        if not self.learned or self.num_edges == 0:
            return tf.constant(structure_mask(self.structure, self.num_nodes, self.edges))
        return self._scatter(tf.sigmoid(self.gate_logits))

    def _next_seed(self, seed):
        if seed is None:
            seed = self.seed_generator.next()
        return tf.cast(seed, tf.int32)

    def call(
        self, batch_size, training=None, seed=None, row_offset=0, total_rows=None, hard_gates=None
    ):
        dtype = self.compute_dtype
        if not self.learned or self.num_edges == 0:
            mask = tf.constant(structure_mask(self.structure, self.num_nodes, self.edges), dtype)
            return tf.tile(mask[None], [batch_size, 1, 1])
        hard_gates = self.hard_gates if hard_gates is None else hard_gates
        if hard_gates not in HARD_GATES:
            raise ValueError(f"Unknown hard_gates {hard_gates!r}; expected one of {HARD_GATES}.")
        # One structure per batch is a training option only; evaluation and sampling draw a
        # structure per row, so that averages over rows estimate the mixture over c.
        per_example = self.per_example or not training
        logits = tf.cast(self.gate_logits, dtype)
        seed = self._next_seed(seed)

        def draw(n):
            if training:
                edge = relaxed_bernoulli_sample(logits, tf.cast(self.temperature, dtype), n, seed)
                if self.straight_through:
                    # Forward: the hard gate round(c) (the 0/1 gate the model is evaluated
                    # with); backward: the gradient of the relaxed c (Jang et al., 2017, ST).
                    edge = edge + tf.stop_gradient(tf.round(edge) - edge)
                return edge
            if hard_gates == "map":
                return tf.tile(tf.cast(logits > 0.0, dtype)[None], [n, 1])
            # tfd.Bernoulli(logits).sample(n, seed)'s draw, `u < sigmoid(logits)`, with
            # the generator named (layers/noise.py): under XLA TFP's default algorithm
            # resolved it at run time, one thread, and the draw did not change.
            uniform = stateless_uniform(tf.concat([[n], tf.shape(logits)], 0), seed, dtype)
            return tf.cast(uniform < tf.sigmoid(logits), dtype)

        if not per_example:
            return tf.tile(self._scatter(draw(1)), [batch_size, 1, 1])
        return self._scatter(global_rows(draw, batch_size, row_offset, total_rows))

    def get_config(self):
        config = super().get_config()
        config.update(
            num_nodes=self.num_nodes,
            structure=self.structure,
            edges=self.edges,
            temperature=self.initial_temperature,
            hard_gates=self.hard_gates,
            per_example=self.per_example,
            straight_through=self.straight_through,
            seed=self.seed,
        )
        return config
