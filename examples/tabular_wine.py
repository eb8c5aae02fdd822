"""A Graph VAE on tabular data: scikit-learn's wine measurements, Gaussian likelihood,
your own encoder and decoder.

    python examples/tabular_wine.py --epochs=200 --model_path=/tmp/wine.keras

The 178 wines (13 chemical measurements each) are split 142 / 36, standardised with the
training split's statistics, and modelled by N = 3 latent nodes of N' = 2 dimensions
whose dependency structure is learned. The script prints the test ELBO and the
importance-weighted log-likelihood (nats per wine, a density: it may be positive) and
the learned edge probabilities, and saves the model as `.keras`.
"""

from __future__ import annotations

import keras
import numpy as np
from absl import app, flags
from sklearn.datasets import load_wine

import tf_graphvae as tgv

_EPOCHS = flags.DEFINE_integer("epochs", 200, "Training epochs.", lower_bound=1)
_MODEL_PATH = flags.DEFINE_string("model_path", None, "Where to save the model (.keras).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the split, the initialisation and sampling.")

NUM_FEATURES = 13


def standardised_wine(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The wine measurements split 142 / 36 at random and standardised (train statistics)."""
    x = load_wine().data.astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(x))
    train, test = x[order[:142]], x[order[142:]]
    mean, std = train.mean(axis=0), train.std(axis=0)
    return (train - mean) / std, (test - mean) / std


def networks(latent_dim: int) -> tuple[keras.Model, keras.Model]:
    """A user's encoder `[B, 13] -> [B, 64]` and decoder `[B, N * N'] -> [B, 26]` (the
    Gaussian's mean and raw scale for each of the 13 features)."""
    encoder = keras.Sequential(
        [keras.Input((NUM_FEATURES,)), keras.layers.Dense(64, activation="elu")],
        name="wine_encoder",
    )
    decoder = keras.Sequential(
        [
            keras.Input((latent_dim,)),
            keras.layers.Dense(64, activation="elu"),
            keras.layers.Dense(2 * NUM_FEATURES),
        ],
        name="wine_decoder",
    )
    return encoder, decoder


def build_model(seed: int = 0) -> tgv.GraphVAE:
    num_nodes, node_dim = 3, 2
    encoder, decoder = networks(num_nodes * node_dim)
    model = tgv.GraphVAE(
        event_shape=(NUM_FEATURES,),
        likelihood="gaussian",
        encoder=encoder,
        decoder=decoder,
        num_nodes=num_nodes,
        node_dim=node_dim,
        structure="learned",
        seed=seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    return model


def main(argv):
    del argv
    keras.utils.set_random_seed(_SEED.value)
    train, test = standardised_wine(_SEED.value)
    model = build_model(_SEED.value)
    data = tgv.data.from_arrays(train, "gaussian").shuffle(len(train), seed=_SEED.value)
    history = model.fit(data.batch(32), epochs=_EPOCHS.value, verbose=0)
    loss = history.history["loss"]
    ll = tgv.evaluate.log_likelihood(model, test, num_samples=500, seed=0, progress=False)
    elbo = model.evaluate(tgv.data.from_arrays(test).batch(36), verbose=0, return_dict=True)
    print(f"loss: first epoch {loss[0]:.2f}, last {loss[-1]:.2f} nats per wine")
    print(
        f"test ELBO {elbo['elbo']:.2f}, LL (K = 500) {ll.mean():.2f} ± "
        f"{ll.std(ddof=1) / np.sqrt(len(ll)):.2f} nats per wine ({len(ll)} wines)"
    )
    print("edge probabilities mu[i, j] (parent i -> child j):")
    print(np.round(model.edge_probabilities(), 2))
    if _MODEL_PATH.value:
        model.save(_MODEL_PATH.value)
        print(f"saved {_MODEL_PATH.value}")


if __name__ == "__main__":
    app.run(main)
