"""Knock-out values: what switching each possible edge `z_i -> z_j` off costs a trained model.

For edge `e = (i, j)` and image `x`, with every other gate at its MAP value
(`mu > 0.5`, or the fixed structure's mask),

    value_e(x) = ELBO(x; c_e = 1) - ELBO(x; c_e = 0),

both terms computed with the same latent noise (common random numbers), so the
difference measures the edge and not the noise; the mean over images, in nats per example,
with its standard error over images. It is a sensitivity of *this trained model*: its
networks were trained with the edge, so switching it off costs more than a model trained
without it would lose (on MNIST, knocking the six non-chain edges out of FC-VAE cost 20-34
nats; retraining without them, 0.41). Whether the data support an edge is a question for
models retrained with and without it, not for a knock-out.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import tensorflow as tf

from tf_graphvae.config import edge_indices, positive_int

DEFAULT_BATCH = 250


def _edge_gate_matrices(map_graph: np.ndarray) -> np.ndarray:
    """`[E, 2, N, N]`: for every edge, the MAP graph with that gate set to 1 and to 0."""
    n = map_graph.shape[0]
    parents, children = edge_indices(n)
    out = np.repeat(map_graph[None, None], len(parents), axis=0).repeat(2, axis=1)
    for e, (i, j) in enumerate(zip(parents, children, strict=True)):
        out[e, 0, i, j] = 1.0
        out[e, 1, i, j] = 0.0
    return out.astype(np.float32)


def _difference_fn(model, jit_compile: bool):
    """Compiled: images `[B, ...]`, gates `[E, 2, N, N]`, seed -> ELBO(on) - ELBO(off), `[E, B]`."""

    def differences(x, edge_gates, seed):
        batch = tf.shape(x)[0]
        bottom_up = model.bottom_up(x)

        def one_edge(pair):
            elbos = []
            for setting in range(2):  # the same seed: the same latent noise for both
                gates = tf.tile(pair[setting][None], [batch, 1, 1])
                out = model.latents(bottom_up, gates, seed)
                recon = model.likelihood.log_prob(model.decode_params(out["z"]), x)
                elbos.append(recon - tf.reduce_sum(out["kl_per_node"], axis=-1))
            return elbos[0] - elbos[1]

        return tf.map_fn(one_edge, edge_gates, fn_output_signature=x.dtype)

    return tf.function(differences, jit_compile=jit_compile, reduce_retracing=True)


def knockout_values(
    model,
    images: Any,
    *,
    num_samples: int = 1,
    seed: int = 0,
    batch_size: int = DEFAULT_BATCH,
    jit_compile: bool = True,
) -> dict[str, Any]:
    """The knock-out value of every possible edge: the mean paired ELBO difference of this
    trained model with the gate on and off, the other gates at MAP.

    Args:
        model: a trained `GraphVAE`.
        images: `[n, H, W, C]` (binary images for the Bernoulli likelihood).
        num_samples: latent noise draws per image (each shared by the on and off settings);
            the per-image value is their mean.
        seed: the draws are a deterministic function of the model, images and seed.
        batch_size: images per compiled call.
        jit_compile: compile with XLA.

    Returns:
        A dict: `edges` (`[[i, j], ...]`, `i > j`, in `Gates` order), `value` and `sem`
        (nats per example, mean over images and its standard error), `value_matrix` and
        `sem_matrix` (`[N, N]`, entry `[i, j]`), `map_graph` (`[N, N]`, the other gates'
        values), `num_images`, `num_samples`, `unit`.

    Raises:
        ValueError: on images of the wrong shape or range, or `num_samples < 1`.
    """
    num_samples = positive_int(num_samples, "num_samples")
    images = np.asarray(images, np.float32)
    model.check_images(images)
    n = model.num_nodes
    map_graph = (model.edge_probabilities() > 0.5).astype(np.float32)
    parents, children = edge_indices(n)
    if len(parents) == 0:
        raise ValueError("A model with one node has no possible edge.")
    fn = _difference_fn(model, jit_compile)
    edge_gates = tf.constant(_edge_gate_matrices(map_graph))
    per_image = _per_image_values(fn, edge_gates, images, num_samples, seed, int(batch_size))
    value = per_image.mean(axis=1)
    sem = per_image.std(axis=1, ddof=1) / math.sqrt(len(images)) if len(images) > 1 else 0 * value
    value_matrix = np.zeros((n, n))
    sem_matrix = np.zeros((n, n))
    value_matrix[parents, children] = value
    sem_matrix[parents, children] = sem
    return {
        "edges": [[int(i), int(j)] for i, j in zip(parents, children, strict=True)],
        "value": value.tolist(),
        "sem": np.asarray(sem).tolist(),
        "value_matrix": value_matrix.tolist(),
        "sem_matrix": sem_matrix.tolist(),
        "map_graph": map_graph.tolist(),
        "num_images": len(images),
        "num_samples": num_samples,
        "unit": "nats per example",
    }


def _per_image_values(fn, edge_gates, images: np.ndarray, num_samples: int, seed: int, batch: int):
    """Every edge's ELBO difference per image, `[E, n]`, the mean over `num_samples` draws;
    draw `k` of the batch at `start` uses the seed `[seed, k n + start]`."""
    per_image = np.zeros((int(edge_gates.shape[0]), len(images)), np.float64)
    for k in range(num_samples):
        for start in range(0, len(images), batch):
            x = tf.constant(images[start : start + batch])
            call_seed = tf.constant([seed, k * len(images) + start], tf.int32)
            per_image[:, start : start + len(x)] += fn(x, edge_gates, call_seed).numpy()
    return per_image / num_samples


def markdown_table(values: dict[str, Any], mu: np.ndarray | None = None) -> str:
    """The knock-out values as a markdown table, largest first, with the 2-SE verdict."""
    rows = sorted(
        zip(values["edges"], values["value"], values["sem"], strict=True), key=lambda r: -r[1]
    )
    lines = [
        "| edge | mu | MAP | knock-out value (nats/example) | SE | switching it off |",
        "|---|---|---|---|---|---|",
    ]
    for (i, j), v, s in rows:
        mu_text = f"{float(mu[i][j]):.3f}" if mu is not None else "—"
        on = int(values["map_graph"][i][j])
        verdict = "costs ELBO" if v > 2 * s else "gains ELBO" if v < -2 * s else "within 2 SE"
        lines.append(f"| z{i} -> z{j} | {mu_text} | {on} | {v:+.3f} | {s:.3f} | {verdict} |")
    return "\n".join(lines) + "\n"
