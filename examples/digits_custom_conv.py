"""A Graph VAE with your own convolutional encoder and decoder, on scikit-learn's 8x8
digits (1,797 images, grey levels in [0, 1], Bernoulli likelihood).

    python examples/digits_custom_conv.py --epochs=50

The encoder is any Keras model from images `[B, 8, 8, 1]` to features `[B, F]`; the
decoder any Keras model from the concatenated latent nodes `[B, N * N']` to the
likelihood's parameters, here one Bernoulli logit per pixel `[B, 8, 8, 1]`. The model
adds the bottom-up heads, the gated DAG and the likelihood between them.
"""

from __future__ import annotations

import keras
import numpy as np
from absl import app, flags

import tf_graphvae as tgv

_EPOCHS = flags.DEFINE_integer("epochs", 50, "Training epochs.", lower_bound=1)
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the initialisation and sampling.")


def conv_networks(latent_dim: int) -> tuple[keras.Model, keras.Model]:
    """8x8x1 -> 4x4x32 -> 2x2x64 -> 256 features, and the mirror image back to logits."""
    encoder = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="elu"),
            keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="elu"),
            keras.layers.Flatten(),
        ],
        name="conv_encoder",
    )
    decoder = keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(2 * 2 * 64, activation="elu"),
            keras.layers.Reshape((2, 2, 64)),
            keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="elu"),
            keras.layers.Conv2DTranspose(16, 3, strides=2, padding="same", activation="elu"),
            keras.layers.Conv2D(1, 3, padding="same"),  # Bernoulli logits
        ],
        name="conv_decoder",
    )
    return encoder, decoder


def build_model(seed: int = 0) -> tgv.GraphVAE:
    num_nodes, node_dim = 4, 4
    encoder, decoder = conv_networks(num_nodes * node_dim)
    model = tgv.GraphVAE(
        event_shape=(8, 8, 1),
        encoder=encoder,
        decoder=decoder,
        num_nodes=num_nodes,
        node_dim=node_dim,
        structure="learned",
        seed=seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def main(argv):
    del argv
    keras.utils.set_random_seed(_SEED.value)
    train = tgv.data.load("digits", "train").shuffle(2000, seed=_SEED.value).batch(64)
    train = tgv.data.without_autotune(train)  # steady epoch times (BUILD_NOTES)
    test = tgv.data.load_numpy("digits", "test", binarize=True)
    model = build_model(_SEED.value)
    history = model.fit(train, epochs=_EPOCHS.value, verbose=0)
    loss = history.history["loss"]
    ll = tgv.evaluate.log_likelihood(model, test, num_samples=200, seed=0, progress=False)
    print(f"loss: first epoch {loss[0]:.2f}, last {loss[-1]:.2f} nats per image")
    print(
        f"test LL (K = 200) {ll.mean():.2f} ± {ll.std(ddof=1) / np.sqrt(len(ll)):.2f} "
        f"nats per image ({len(ll)} images)"
    )
    print("edge probabilities mu[i, j] (parent i -> child j):")
    print(np.round(model.edge_probabilities(), 2))


if __name__ == "__main__":
    app.run(main)
