"""The mixed-precision option: bfloat16 networks, float32 likelihood, KL, gates and LL."""

from __future__ import annotations

import keras
import numpy as np

import tf_graphvae as tgv

# bfloat16 keeps 8 significant bits: one rounding is within 2^-9 (0.2%) relative. The
# ELBO sums 64 pixel terms and the KL, whose rounding errors take both signs, so its
# error is a fraction of one rounding's (0.2% at most on these 200 images): it is held
# to 2^-8 (0.4%) of its size. The per-image differences are not zero-mean: on a CPU
# without bfloat16 instructions (AVX2) the rounded activations raise the ELBO by 0.05%
# of its size on average (also with the same bfloat16-rounded weights in both models),
# on one with them by less; their mean is held to a quarter of the tolerance, which a
# float32 term computed in bfloat16 (its own 0.2%, all of one sign) would exceed.
RELATIVE_TOLERANCE = 2.0**-8


def _pair():
    args = dict(event_shape=(8, 8, 1), num_nodes=3, node_dim=4, structure="full", seed=0,
                encoder_units=(64, 32), decoder_units=(32, 64))  # fmt: skip
    full = tgv.GraphVAE(**args)
    mixed = tgv.GraphVAE(**args, mixed_precision=True)
    mixed.set_weights(full.get_weights())
    return full, mixed


def test_mixed_precision_agrees_with_float32_within_the_bfloat16_tolerance():
    full, mixed = _pair()
    assert mixed.decoder.dense[0].compute_dtype == "bfloat16"
    assert mixed.gates.compute_dtype == "float32" and mixed.dag.compute_dtype == "float32"
    x = tgv.data.load_numpy("digits", "test", binarize=True)[:200]
    seed = np.array([3, 4], np.int32)
    a = full.elbo_terms(x, seed=seed)["elbo"].numpy()
    b = mixed.elbo_terms(x, seed=seed)["elbo"].numpy()
    assert b.dtype == np.float32
    assert np.max(np.abs(a - b) / np.abs(a)) < RELATIVE_TOLERANCE
    assert abs(np.mean(a - b)) < RELATIVE_TOLERANCE / 4 * np.mean(np.abs(a))
    ll_a = tgv.evaluate.log_likelihood(full, x[:20], num_samples=50, seed=0, progress=False)
    ll_b = tgv.evaluate.log_likelihood(mixed, x[:20], num_samples=50, seed=0, progress=False)
    assert np.max(np.abs(ll_a - ll_b) / np.abs(ll_a)) < RELATIVE_TOLERANCE


def test_a_mixed_precision_model_trains_and_round_trips(tmp_path):
    _, mixed = _pair()
    mixed.compile(optimizer=keras.optimizers.Adam(1e-3))
    ds = tgv.data.load("digits", "train").batch(64)
    loss = mixed.fit(ds, epochs=2, verbose=0).history["loss"]
    assert np.all(np.isfinite(loss))
    assert all(v.dtype == "float32" for v in mixed.trainable_variables)
    mixed.save(tmp_path / "mixed.keras")
    loaded = keras.models.load_model(tmp_path / "mixed.keras")
    assert loaded.mixed_precision and loaded.encoder.dense[0].compute_dtype == "bfloat16"
