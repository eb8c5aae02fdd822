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
        x = self._images(x)
        out = self.dag.posterior(*self.bottom_up(x), self._structure(len(x), gates), seed=None,
                                 deterministic=True)  # fmt: skip
        mean, scale = out["q_mean"], tf.exp(0.5 * out["q_log_var"])
        if not per_node:
            mean, scale = self._concatenate(mean), self._concatenate(scale)
        return (np.asarray(mean), np.asarray(scale)) if return_scale else np.asarray(mean)

    def decode(self, z) -> np.ndarray:
        """The likelihood's means (images) for codes `z`, `[B, sum(node sizes)]` or `[B, N, N']`."""
        z = tf.convert_to_tensor(z, tf.float32)
        if z.shape.rank == 2:
            z = self._split(z)
        if tuple(z.shape[1:]) != (self.num_nodes, self.node_dim):
            raise ValueError(
                f"Codes must be [B, {self.dag.latent_dim}] or [B, {self.num_nodes}, "
                f"{self.node_dim}], got {list(z.shape)}."
            )
        return np.asarray(self.likelihood(self._decode(self.dag.zero_padding(z))))

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

    def _structure(self, batch: int, gates) -> tf.Tensor:
        if gates is None:
            gates = (self.edge_probabilities() > 0.5).astype(np.float32)
        gates = np.asarray(gates, np.float32)
        if gates.shape != (self.num_nodes, self.num_nodes):
            raise ValueError(
                f"gates must be [{self.num_nodes}, {self.num_nodes}], got {gates.shape}."
            )
        return tf.tile(tf.constant(gates)[None], [batch, 1, 1])

    def _sizes(self) -> list[int]:
        return self.node_dims or [self.node_dim] * self.num_nodes

    def _concatenate(self, per_node: tf.Tensor) -> tf.Tensor:
        """`[B, N, N']` -> `[B, sum(node sizes)]`, the padding left out."""
        return tf.concat([per_node[:, j, :d] for j, d in enumerate(self._sizes())], axis=-1)

    def _split(self, codes: tf.Tensor) -> tf.Tensor:
        """`[B, sum(node sizes)]` -> `[B, N, N']`, nodes padded with zeros."""
        if codes.shape[-1] != sum(self._sizes()):
            raise ValueError(f"Codes must be [B, {sum(self._sizes())}], got {list(codes.shape)}.")
        parts = tf.split(codes, self._sizes(), axis=-1)
        padded = [
            tf.pad(p, [[0, 0], [0, self.node_dim - d]])
            for p, d in zip(parts, self._sizes(), strict=True)
        ]
        return tf.stack(padded, axis=1)
