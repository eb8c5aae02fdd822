"""The gated DAG prior and the top-down (ladder) inference pass that shares it.

See docs/design.md §1.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae.config.graph import get_structure, validate_structure
from tf_graphvae.config.settings import check_widths
from tf_graphvae.layers.elementwise import softplus
from tf_graphvae.layers.noise import global_rows, stateless_normal
from tf_graphvae.layers.top_down import add_top_down_weights, top_down_mlp, top_down_scan

tfd = tfp.distributions

# Log-variances are squashed smoothly into [-B, B] (std in [e^-5, e^5]) so that a
# precision-weighted merge can never divide by an under- or overflowed variance.
LOG_VARIANCE_BOUND = 10.0
_LOG_2PI = math.log(2.0 * math.pi)


def bound_log_variance(raw: tf.Tensor) -> tf.Tensor:
    """Soft clip of a raw network output into a log-variance in [-B, B]."""
    return LOG_VARIANCE_BOUND * tf.tanh(raw / LOG_VARIANCE_BOUND)


def precision_weighted_merge(
    prior_mean: tf.Tensor,
    prior_log_var: tf.Tensor,
    data_mean: tf.Tensor,
    data_log_var: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor]:
    """The ladder posterior `q_j` from the top-down prior and the bottom-up estimate.

    `s^-2 = ŝ^-2 + s̃^-2` and `m = (m̂ ŝ^-2 + m̃ s̃^-2) s^2` (docs/design.md §1). With the prior's
    share of the precision `w = s^2 / ŝ^2 = s̃^2 / (ŝ^2 + s̃^2) = sigmoid(log s̃^2 - log ŝ^2)`:
    `m = w m̂ + (1 - w) m̃` and `log s^2 = log ŝ^2 + log w = log ŝ^2 - softplus(log ŝ^2 -
    log s̃^2)`. Both are computed from the difference of log-variances, so no precision
    is ever formed and nothing overflows; one sigmoid and one softplus per element (the
    merge runs for every node of every importance sample in evaluation).

    Returns:
        `(mean, log_var)` of the merged Gaussian, shapes of the inputs.
    """
    delta = prior_log_var - data_log_var
    prior_share = tf.sigmoid(-delta)
    mean = data_mean + prior_share * (prior_mean - data_mean)
    log_var = prior_log_var - softplus(delta)
    return mean, log_var


def diag_normal(mean: tf.Tensor, log_var: tf.Tensor) -> tfd.Distribution:
    """A Gaussian over the last axis (one node's `N'` dimensions) as a TFP distribution."""
    return tfd.Independent(tfd.Normal(mean, tf.exp(0.5 * log_var)), reinterpreted_batch_ndims=1)


def _normal_terms(z, mean, log_var):
    """The summands of `-2 log N(z; mean, exp(log_var))` less `log 2 pi`, element-wise: in
    the log-variance, so no scale is formed and taken back to a log (TFP's form has twice
    the transcendentals)."""
    return log_var + tf.square(z - mean) * tf.exp(-log_var)


def _reparameterised_terms(noise, log_var):
    """`_normal_terms` of the sample `z = mean + s * noise` it was drawn as: `(z - m)^2 / s^2`
    is `noise^2`, so no exponential is needed."""
    return log_var + tf.square(noise)


def normal_kl(q_mean, q_log_var, p_mean, p_log_var) -> tf.Tensor:
    """`KL(diag_normal(q) || diag_normal(p))` over the last axis, in closed form.

    `1/2 sum_k [log s_p^2 - log s_q^2 + (s_q^2 + (m_q - m_p)^2) / s_p^2 - 1]`; with log-
    variances bounded by `LOG_VARIANCE_BOUND` every exponent stays below 2 B.
    """
    ratio = tf.exp(q_log_var - p_log_var)
    terms = p_log_var - q_log_var + ratio + tf.square(q_mean - p_mean) * tf.exp(-p_log_var) - 1
    return 0.5 * tf.reduce_sum(terms, axis=-1)


_NODE_TENSORS = ("z", "noise", "q_mean", "q_log_var", "p_mean", "p_log_var")


def node_densities(
    nodes: dict[str, tf.Tensor], latent_dim: int | None = None
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The latent terms of the ELBO and the importance weights from `GatedDAG.posterior`'s
    node tensors: the analytic KL of every node given its sampled parents `[B, N]`, and
    `log q(z | x, c)` and `log p(z | c)` of the sample, each `[B]`.

    Computed node by node on the slices of the stacked tensors (XLA takes a slice of a
    stack back to the node's own tensor), the nodes' summands added element-wise before
    one reduction: the stacked `[B, N, N']` tensors are then never written out in
    evaluation, where the stacking cost more than the densities (`bench/kernels.py`).

    `latent_dim`: the dimensions the densities are over (default every entry of `z`; with
    nodes of different sizes, the sum of the sizes: the padding contributes no term).
    """
    per_node = zip(*(tf.unstack(nodes[key], axis=1) for key in _NODE_TENSORS), strict=True)
    kls, q_terms, p_terms = [], [], []
    for z, noise, q_mean, q_log_var, p_mean, p_log_var in per_node:
        kls.append(normal_kl(q_mean, q_log_var, p_mean, p_log_var))
        q_terms.append(_reparameterised_terms(noise, q_log_var))
        p_terms.append(_normal_terms(z, p_mean, p_log_var))
    constant = _LOG_2PI * (latent_dim or math.prod(nodes["z"].shape[1:]))

    def log_density(terms):
        return -0.5 * (tf.reduce_sum(tf.add_n(terms), axis=-1) + constant)

    return tf.stack(kls, axis=1), log_density(q_terms), log_density(p_terms)


@keras.saving.register_keras_serializable(package="tf_graphvae")
class GatedDAG(keras.layers.Layer):
    """Gated DAG prior `p(z | c)` over `N` latent nodes, and the top-down inference pass.

    Node `N-1` is the root, `p(z_{N-1}) = Normal(0, I)`. Every other node `j` has its
    own top-down MLP `TD_j` (hidden ELU layers) on its gated parents:
    `(m̂_j, log ŝ_j²) = TD_j(concat_{i>j} c[i, j] z_i)`. With `structure="independent"`
    the layer has no weights and every node's prior is `Normal(0, I)`.

    The `N-1` networks are stored as stacked kernels so that the prior of all nodes
    given a full `z` is a single batched contraction (used by the importance-weighted
    evaluation); the sequential top-down pass runs the same kernels node by node in a loop
    whose body has one shape for every node (`layers/top_down.py`).

    Nodes of different sizes (`node_dims`, e.g. a Ladder VAE's decreasing 20-12-8-6-4) are
    stored padded to the largest, `N' = max(node_dims)`: node `j` uses its first
    `node_dims[j]` entries. The padding is held at exactly 0 in `z`, the noise and every
    mean and log-variance, so it feeds no network (its kernel rows see zeros), adds nothing
    to the KL and cancels from `log q - log p`: the model is the one with nodes of those
    sizes, each `TD_j` mapping its gated parents to its own node's size.

    Args:
        num_nodes: `N >= 1`.
        node_dim: `N' >= 1`, the dimension of every node.
        structure: `"independent"`, `"chain"`, `"full"` or `"learned"`.
        top_down_units: width of each `TD_j`'s hidden layer, or the widths of several
            (a tuple; weights `hidden_kernel_<k>`, `hidden_bias_<k>` after the first).
        node_dims: optional sizes of the nodes, `z_0` first (then `node_dim` must be their
            maximum).

    Call arguments:
        z: `[B, N, N']` node values.
        gates: `[B, N, N]` gate matrices, entry `[b, i, j]` = `c[i, j]`.

    Output:
        `(mean, log_var)` of `p(z_j | z_{>j}, c)` for every node, each `[B, N, N']`.

    Example:
    >>> dag = GatedDAG(num_nodes=3, node_dim=2, structure="full")
    >>> mean, log_var = dag(tf.zeros([4, 3, 2]), tf.ones([4, 3, 3]))
    """

    def __init__(
        self,
        num_nodes: int,
        node_dim: int,
        structure: str = "learned",
        top_down_units: int | tuple[int, ...] = 128,
        node_dims: list[int] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(num_nodes) < 1:
            raise ValueError(f"num_nodes must be >= 1, got {num_nodes!r}.")
        if int(node_dim) < 1:
            raise ValueError(f"node_dim must be >= 1, got {node_dim!r}.")
        self.num_nodes = int(num_nodes)
        self.node_dim = int(node_dim)
        self.structure = validate_structure(structure)
        self.top_down_units = check_widths(top_down_units, "top_down_units")
        self.node_dims = None if node_dims is None else [int(d) for d in node_dims]
        if self.node_dims is not None and (
            len(self.node_dims) != self.num_nodes or max(self.node_dims) != self.node_dim
            or min(self.node_dims) < 1
        ):  # fmt: skip
            raise ValueError(
                f"node_dims {node_dims!r} must give num_nodes={self.num_nodes} sizes >= 1 "
                f"whose maximum is node_dim={self.node_dim}."
            )
        dims = self.node_sizes
        # mask[j, k] = 1 where entry k of node j exists; None when every node is full.
        self._mask = None
        if self.node_dims is not None and min(dims) < self.node_dim:
            self._mask = tf.constant(
                [[float(k < d) for k in range(self.node_dim)] for d in dims], tf.float32
            )

    @property
    def node_sizes(self) -> list[int]:
        """Every node's size, `z_0` first (`node_dims`, or `N'` for each of equal nodes)."""
        return self.node_dims or [self.node_dim] * self.num_nodes

    @property
    def latent_dim(self) -> int:
        """The number of latent dimensions, `sum(node_dims)` (`N * N'` for equal nodes)."""
        return sum(self.node_sizes)

    def zero_padding(self, value: tf.Tensor, node: int | None = None) -> tf.Tensor:
        """`value` with the padding of nodes of different sizes set to 0: `[B, N, N']`, or
        `[B, N']` of `node`."""
        if self._mask is None:
            return value
        mask = self._mask if node is None else self._mask[node]
        return value * tf.cast(mask, value.dtype)

    @property
    def has_top_down(self) -> bool:
        return get_structure(self.structure).top_down and self.num_nodes > 1

    @property
    def top_down_widths(self) -> tuple[int, ...]:
        """The hidden widths of every `TD_j`, first layer first (one for an int)."""
        units = self.top_down_units
        return units if isinstance(units, tuple) else (units,)

    def build(self, input_shape=None):
        if self.has_top_down:
            # Kernel rows of TD_j for nodes i <= j are never used (c[i, j] = 0 there):
            # node_prior slices them away; the batched pass and the top-down loop (one
            # body shape for every j) multiply zeros. (kernel, bias) of each layer of TD_j.
            self.top_down_layers = add_top_down_weights(
                self, self.num_nodes, self.node_dim, self.top_down_widths
            )
            self.hidden_kernel, self.hidden_bias = self.top_down_layers[0]
            self.output_kernel, self.output_bias = self.top_down_layers[-1]
        self.built = True

    def _split(self, params: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        mean, raw = tf.split(params, 2, axis=-1)
        return mean, bound_log_variance(raw)

    def _top_down(self, gated: tf.Tensor, nodes: slice, first_input: int = 0):
        """`TD_j` of the nodes `nodes` on their gated parent vectors, the batched definition
        of the top-down prior (`_loop_prior` is its one-node form for the loop).

        Args:
            gated: `[B, len(nodes), N * N' - first_input]`: for node `j`, the vector
                `concat_i c[i, j] z_i`, its first `first_input` entries (non-parents, whose
                gates are 0) left out.
            nodes: the nodes' rows of the stacked kernels.
            first_input: the kernel rows skipped.

        Returns:
            `(mean, log_var)`, each `[B, len(nodes), N']`.
        """
        first = (self.hidden_kernel[nodes, first_input:], self.hidden_bias[nodes])
        rest = [(kernel[nodes], bias[nodes]) for kernel, bias in self.top_down_layers[1:]]
        return self._split(top_down_mlp(gated, [first, *rest], stacked=True))

    def node_prior(self, j: int, parents: list[tf.Tensor], gates: tf.Tensor):
        """Prior parameters of node `j` from its possible parents `z_{j+1} ... z_{N-1}`.

        Args:
            j: the node, a Python int.
            parents: `[z_{j+1}, ..., z_{N-1}]`, each `[B, N']`.
            gates: `[B, N, N]`.

        Returns:
            `(mean, log_var)`, each `[B, N']`.
        """
        if j == self.num_nodes - 1 or not self.has_top_down:
            zeros = tf.zeros([tf.shape(gates)[0], self.node_dim], gates.dtype)
            return zeros, zeros
        gated = tf.concat(
            [
                gates[:, i, j, None] * z_i
                for i, z_i in zip(range(j + 1, self.num_nodes), parents, strict=True)
            ],
            axis=-1,
        )
        # Only the parents' kernel rows: the sequential pass runs for every importance sample.
        mean, log_var = self._top_down(gated[:, None], slice(j, j + 1), (j + 1) * self.node_dim)
        return mean[:, 0], log_var[:, 0]

    def call(self, z, gates):
        batch = tf.shape(z)[0]
        zeros = tf.zeros_like(z)
        if not self.has_top_down:
            return zeros, zeros
        n, d = self.num_nodes, self.node_dim
        # inputs[b, j, i*N' + k] = c[i, j] * z[b, i, k]: every child's gated parent vector.
        gated = tf.einsum("bij,bik->bjik", gates[:, :, : n - 1], z)
        mean, log_var = self._top_down(tf.reshape(gated, [batch, n - 1, n * d]), slice(0, n - 1))
        root = tf.zeros([batch, 1, d], z.dtype)  # p(z_{N-1}) = Normal(0, I)
        mean, log_var = tf.concat([mean, root], axis=1), tf.concat([log_var, root], axis=1)
        return self.zero_padding(mean), self.zero_padding(log_var)

    def _noise(self, seed, like, row_offset, total_rows):
        """Standard normal noise for all nodes, `[B, N, N']` like `like`, rows
        `row_offset ...` of a draw of `total_rows`: a replica drawing its shard of a global
        batch gets exactly the numbers a single device would (see `GraphVAE.replica_rows`). One
        draw for all nodes: under XLA on CPU a draw per node cost about twice as much."""

        def draw(rows):
            return stateless_normal([rows, self.num_nodes, self.node_dim], seed, like.dtype)

        return global_rows(draw, tf.shape(like)[0], row_offset, total_rows)

    def posterior(
        self, data_mean, data_log_var, gates, seed, row_offset=0, total_rows=None,
        deterministic=False,
    ):  # fmt: skip
        """The top-down inference pass, root first (docs/design.md §1), as one loop body for
        all nodes (`layers/top_down.py`): the graph does not grow with `N`.

        Args:
            data_mean, data_log_var: bottom-up estimates `(m̃, log s̃²)`, each `[B, N, N']`.
            gates: `[B, N, N]`.
            seed: stateless seed `[2]` for the reparameterised node samples.
            row_offset, total_rows: this batch is rows `row_offset ...` of a global batch
                of `total_rows` (None: the batch is the whole draw).
            deterministic: no noise: every node at its posterior mean given its parents'
                means (the code `GraphVAE.encode` returns).

        Returns:
            A dict of `[B, N, N']` tensors: `z`, `q_mean`, `q_log_var`, `p_mean`,
            `p_log_var` and `noise` (the standard normal draw behind `z`); the prior of
            each node is computed from the *posterior samples* of its parents, as the
            analytic KL of each node requires.
        """
        if deterministic:
            noise = tf.zeros_like(data_mean)
        else:
            noise = self.zero_padding(self._noise(seed, data_mean, row_offset, total_rows))
        keys = ("q_mean", "q_log_var", "p_mean", "p_log_var")
        if not self.has_top_down:
            # Mean-field VAE: q_j from the bottom-up network alone and p_j = Normal(0, I),
            # every node at once (no node depends on another).
            q_mean, q_log_var = self.zero_padding(data_mean), self.zero_padding(data_log_var)
            zeros = tf.zeros_like(q_mean)
            z = q_mean + tf.exp(0.5 * q_log_var) * noise
            return {**dict(zip(keys, (q_mean, q_log_var, zeros, zeros), strict=True)),
                    "z": z, "noise": noise}  # fmt: skip
        root_prior = (tf.zeros_like(data_mean[:, 0]),) * 2  # p_{N-1} = Normal(0, I)

        def node(j, z=None):  # z None: the root
            p_mean, p_log_var = root_prior if z is None else self._loop_prior(j, z, gates)
            q_mean, q_log_var = precision_weighted_merge(
                p_mean, p_log_var, data_mean[:, j], data_log_var[:, j]
            )
            values = [self.zero_padding(t, j) for t in (q_mean, q_log_var, p_mean, p_log_var)]
            # Reparameterised z_j ~ q_j, the draw Normal(q_mean, q_std).sample would make.
            return values[0] + tf.exp(0.5 * values[1]) * noise[:, j], values

        z, values = top_down_scan(node, node(self.num_nodes - 1), self.num_nodes)
        return {**dict(zip(keys, values, strict=True)), "z": z, "noise": noise}

    def _loop_prior(self, j: tf.Tensor, z: tf.Tensor, gates: tf.Tensor):
        """`node_prior` of node `j < N-1` (a tensor) inside the top-down loop, from the whole
        `z` `[B, N, N']` with zeros at the nodes `<= j`: the gated vector of all `N` nodes
        against all of `TD_j`'s kernel rows, the rows of non-parents multiplying zeros, so
        the shapes do not depend on `j`. Returns `(mean, log_var)`, each `[B, N']`.

        `_top_down` for one node, in matmuls (`top_down_mlp`)."""
        gated = tf.reshape(gates[:, :, j, None] * z, [-1, self.num_nodes * self.node_dim])
        layers = [(kernel[j], bias[j]) for kernel, bias in self.top_down_layers]
        return self._split(top_down_mlp(gated, layers, stacked=False))

    def sample(self, gates: tf.Tensor, seed) -> tf.Tensor:
        """Ancestral samples `z ~ p(z | c)`, root first. Returns `[B, N, N']`.

        Node `j` is `diag_normal(mean_j, log_var_j).sample(seed=seeds[j])` with `seeds` the
        `N` seeds `tfp.random.split_seed(seed, n=N)`; the draw is written out (TFP's
        `Normal` draws `stateless_normal * scale + loc`) so that it can run in the loop.
        """
        seeds = tf.stack(tfp.random.split_seed(seed, n=self.num_nodes))  # [N, 2]
        zeros = tf.zeros([tf.shape(gates)[0], self.node_dim], gates.dtype)

        def node(j, z=None):  # z None: the root, p_{N-1} = Normal(0, I), as every p_j without TD
            top_down = z is not None and self.has_top_down
            mean, log_var = self._loop_prior(j, z, gates) if top_down else (zeros, zeros)
            noise = tf.random.stateless_normal(tf.shape(mean), seed=seeds[j], dtype=mean.dtype)
            return self.zero_padding(noise * tf.exp(0.5 * log_var) + mean, j), ()

        return top_down_scan(node, node(self.num_nodes - 1), self.num_nodes)[0]

    def get_config(self):
        config = super().get_config()
        config.update(
            num_nodes=self.num_nodes,
            node_dim=self.node_dim,
            structure=self.structure,
            top_down_units=self.top_down_units,
            node_dims=self.node_dims,
        )
        return config
