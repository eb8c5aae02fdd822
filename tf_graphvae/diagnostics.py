"""Which latent nodes carry information: per-node KL and active units (Burda et al., 2016).

A unit `u` is active when `Cov_x(E_{q(z|x)}[z_u]) > 0.01`: its posterior mean moves with the
image. A node whose units are all inactive has collapsed to its prior, whatever its gates.

`E_q[z]` is taken from the deterministic top-down pass (`GraphVAE.encode`: each node's
posterior mean given its parents' means, under the MAP graph): exact for the root and for
the VAE, a plug-in value below the root, where the true mean averages over the parents'
draws. A Monte Carlo mean would not do: its own noise, `Var_q / S` per unit, is counted as
variance over images and makes a collapsed node (`Var_q` near 1) look active unless
`S >> 100`.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_graphvae.model import GraphVAE
from tf_graphvae.training_step import repeat_rows

ACTIVE_UNIT_THRESHOLD = 0.01  # Burda et al.'s
KL_SAMPLES = 16  # gate and latent draws per image behind each node's expected KL


def latent_diagnostics(
    model: GraphVAE,
    images: np.ndarray,
    *,
    num_samples: int = KL_SAMPLES,
    images_per_batch: int = 256,
    seed: int = 0,
    threshold: float = ACTIVE_UNIT_THRESHOLD,
) -> dict:
    """Per-node KL and active units of `model` on `images` (as evaluated: binarise first).

    `E_q[z]` of each image from the deterministic pass (the module's docstring says why);
    the KL of each node is the mean over `num_samples` gate and latent draws (the model's
    evaluation gates) of its analytic KL given its sampled parents.

    Returns:
        `{"kl_per_node": [N], "active_units_per_node": [N], "active_units": int,
        "node_sizes": [N], "unit_variance": [N][N'], "threshold", "num_samples",
        "num_images"}`; node `j`'s units are its first `node_sizes[j]` entries.
    """
    means, kls = [], []
    for start in range(0, len(images), images_per_batch):
        x = model.images_from(tf.convert_to_tensor(images[start : start + images_per_batch]))
        rows = tf.shape(x)[0]
        out = model.forward(repeat_rows(x, num_samples), False, tf.constant([seed, start]))
        # Row k * B + b is draw k of image b.
        kl = tf.reshape(out["kl_per_node"], [num_samples, rows, model.num_nodes])
        means.append(np.asarray(model.encode_tensors(x)[0], np.float64))
        kls.append(tf.reduce_mean(tf.cast(kl, tf.float64), axis=0).numpy())
    variance = np.concatenate(means).var(axis=0)  # [N, N'] over images
    sizes = model.dag.node_sizes
    active = [int((variance[j, :size] > threshold).sum()) for j, size in enumerate(sizes)]
    return {
        "kl_per_node": np.concatenate(kls).mean(axis=0).tolist(),
        "active_units_per_node": active,
        "active_units": int(sum(active)),
        "node_sizes": list(sizes),
        "unit_variance": [variance[j, :size].tolist() for j, size in enumerate(sizes)],
        "threshold": threshold,
        "num_samples": num_samples,
        "num_images": len(images),
    }


def markdown(diagnostics: dict) -> str:
    """One line per node: its KL, active units of its size."""
    lines = ["| node | KL (nats) | active units |", "|---|---|---|"]
    rows = zip(diagnostics["kl_per_node"], diagnostics["active_units_per_node"],
               diagnostics["node_sizes"], strict=True)  # fmt: skip
    for j, (kl, active, size) in enumerate(rows):
        lines.append(f"| z{j} | {kl:.2f} | {active} of {size} |")
    return "\n".join(lines) + "\n"
