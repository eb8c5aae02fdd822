"""What a VAE user reaches for first: codes, decodings, reconstructions, interpolations.

`GraphVAE` inherits these from `LatentSpace`. A code is the posterior mean of every node
under one structure, the MAP graph (`mu > 0.5`) unless `gates` says otherwise: the top-down
pass is run without noise, so each node's mean is taken given its parents' means (for the
mean-field VAE, the encoder's means). Codes are `[B, sum(node sizes)]`, nodes concatenated
`z_0` first, or `[B, N, N']` per node with `per_node=True` (nodes of different sizes padded
with zeros, as the model stores them).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class LatentSpace:
    """`encode`, `decode`, `reconstruct` and `interpolate` of `GraphVAE`."""

    def encode(self, x, *, return_scale: bool = False, per_node: bool = False, gates=None):
        """Posterior means of images `x` `[B, *event_shape]`.

        Args:
            x: images (binary for the Bernoulli likelihood, as evaluated).
            return_scale: also return the posterior standard deviations, same shape.
            per_node: `[B, N, N']` instead of the concatenated `[B, sum(node sizes)]`.
            gates: `[N, N]` structure to encode under (default: the MAP graph).

        Returns:
            The means (and scales) as numpy arrays.

        Example:
            >>> model.encode(images).shape     # doctest: +SKIP
            (16, 50)
        """
        self.check_images(x)
        mean, scale = self.encode_tensors(self.images_from(x), gates)
        if not per_node:
            mean, scale = self.concatenate_nodes(mean), self.concatenate_nodes(scale)
        return (np.asarray(mean), np.asarray(scale)) if return_scale else np.asarray(mean)

    def encode_tensors(self, x: tf.Tensor, gates=None) -> tuple[tf.Tensor, tf.Tensor]:
        """`encode` in TensorFlow ops (graph mode, the export): the posterior means and
        scales per node, each `[B, N, N']`, under `gates` `[N, N]` or the MAP graph."""
        if gates is None:
            gates = tf.cast(self.gates.edge_probabilities() > 0.5, tf.float32)
        gates = tf.convert_to_tensor(gates, tf.float32)
        if tuple(gates.shape) != (self.num_nodes, self.num_nodes):
            raise ValueError(
                f"gates must be [{self.num_nodes}, {self.num_nodes}], got {list(gates.shape)}."
            )
        batch_gates = tf.tile(gates[None], [tf.shape(x)[0], 1, 1])
        data_mean, data_log_var = self.bottom_up(x)
        out = self.dag.posterior(
            data_mean, data_log_var, batch_gates, seed=None, deterministic=True
        )
        return out["q_mean"], self.dag.zero_padding(tf.exp(0.5 * out["q_log_var"]))

    def decode(self, z) -> np.ndarray:
        """The likelihood's means (images) for codes `z`, `[B, sum(node sizes)]` or
        `[B, N, N']`."""
        z = tf.convert_to_tensor(z, tf.float32)
        if z.shape.rank == 2:
            z = self.split_nodes(z)
        if tuple(z.shape[1:]) != (self.num_nodes, self.node_dim):
            raise ValueError(
                f"Codes must be [B, {self.dag.latent_dim}] or [B, {self.num_nodes}, "
                f"{self.node_dim}], got {list(z.shape)}."
            )
        return np.asarray(self.decode_tensors(z))

    def decode_tensors(self, z: tf.Tensor) -> tf.Tensor:
        """`decode` in TensorFlow ops, for per-node codes `[B, N, N']`."""
        return self.likelihood(self.decode_params(self.dag.zero_padding(z)))

    def reconstruct(self, x, *, gates=None) -> np.ndarray:
        """`decode(encode(x))`: the mean reconstruction of images `x` through their codes."""
        return self.decode(self.encode(x, gates=gates, per_node=True))

    def interpolate(self, x_a, x_b, steps: int = 10, *, gates=None) -> np.ndarray:
        """Decodings of `steps` codes evenly spaced from `encode(x_a)` to `encode(x_b)`.

        Returns:
            `[B, steps, *event_shape]`: row `b` goes from image `x_a[b]` to `x_b[b]`.
        """
        if isinstance(steps, bool) or int(steps) != steps or steps < 2:
            raise ValueError(f"steps must be an integer >= 2, got {steps!r}.")
        a, b = self.encode(x_a, gates=gates), self.encode(x_b, gates=gates)
        if a.shape != b.shape:
            raise ValueError(f"x_a and x_b must hold as many images, got {len(a)} and {len(b)}.")
        t = np.linspace(0.0, 1.0, int(steps), dtype=np.float32)[None, :, None]
        codes = (1 - t) * a[:, None] + t * b[:, None]  # [B, steps, M]
        images = self.decode(codes.reshape(-1, codes.shape[-1]))
        return images.reshape(len(a), int(steps), *images.shape[1:])

    def concatenate_nodes(self, per_node: tf.Tensor) -> tf.Tensor:
        """`[B, N, N']` -> `[B, sum(node sizes)]`, the padding left out."""
        return tf.concat([per_node[:, j, :d] for j, d in enumerate(self.dag.node_sizes)], axis=-1)

    def split_nodes(self, codes: tf.Tensor) -> tf.Tensor:
        """`[B, sum(node sizes)]` -> `[B, N, N']`, nodes padded with zeros."""
        sizes = self.dag.node_sizes
        if codes.shape[-1] != sum(sizes):
            raise ValueError(f"Codes must be [B, {sum(sizes)}], got {list(codes.shape)}.")
        parts = tf.split(codes, sizes, axis=-1)
        pads = [
            tf.pad(p, [[0, 0], [0, self.node_dim - d]]) for p, d in zip(parts, sizes, strict=True)
        ]
        return tf.stack(pads, axis=1)
