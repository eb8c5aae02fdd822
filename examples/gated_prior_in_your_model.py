"""The gated DAG prior as a building block in your own Keras model.

    python examples/gated_prior_in_your_model.py --epochs=30

`tgv.layers.Gates` draws the gate matrices `c` (relaxed Bernoulli samples in training,
Eq. (3) of the paper) and `tgv.layers.GatedDAG` gives the prior `p(z_j | z_{>j}, c)` of
every node. Here they sit in a plain VAE of the user's: a Gaussian encoder `q(z | x)`
for all nodes at once (no ladder inference), the KL term estimated by one sample,
`log q(z | x) - log p(z | c)`, and the gate logits trained jointly with the networks by
the same ELBO (Eq. (1)).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from absl import app, flags

import tf_graphvae as tgv

tfd = tfp.distributions

_EPOCHS = flags.DEFINE_integer("epochs", 30, "Training epochs.", lower_bound=1)


@keras.saving.register_keras_serializable(package="examples")
class GatedPriorVAE(keras.Model):
    """`x -> q(z | x) -> z -> p(x | z)`, with the learned gated DAG prior `p(z | c)`."""

    def __init__(self, num_nodes: int = 4, node_dim: int = 4, pixels: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.num_nodes, self.node_dim, self.pixels = num_nodes, node_dim, pixels
        latent = num_nodes * node_dim
        self.encoder = keras.Sequential(
            [keras.layers.Flatten(), keras.layers.Dense(128, activation="elu"),
             keras.layers.Dense(2 * latent)]
        )  # fmt: skip
        self.decoder = keras.Sequential(
            [keras.layers.Dense(128, activation="elu"), keras.layers.Dense(pixels)]
        )
        self.gates = tgv.layers.Gates(num_nodes, structure="learned", temperature=0.5)
        self.prior = tgv.layers.GatedDAG(num_nodes, node_dim, structure="learned")
        self.elbo_metric = keras.metrics.Mean(name="elbo")

    def elbo(self, x, training=False):
        batch = tf.shape(x)[0]
        mean, raw_scale = tf.split(self.encoder(x), 2, axis=-1)
        q = tfd.Independent(tfd.Normal(mean, tf.nn.softplus(raw_scale) + 1e-4), 1)
        z = q.sample()
        c = self.gates(batch, training=training)  # [B, N, N]
        nodes = tf.reshape(z, [batch, self.num_nodes, self.node_dim])
        prior_mean, prior_log_var = self.prior(nodes, c)  # p(z_j | z_{>j}, c), [B, N, N']
        prior = tfd.Independent(tfd.Normal(prior_mean, tf.exp(0.5 * prior_log_var)), 2)
        kl = q.log_prob(z) - prior.log_prob(nodes)  # one-sample estimate of KL(q || p)
        logits = self.decoder(z)
        recon = tfd.Independent(tfd.Bernoulli(logits=logits), 1).log_prob(
            tf.reshape(x, [batch, self.pixels])
        )
        return recon - kl

    def train_step(self, x):
        x = tf.cast(tf.random.uniform(tf.shape(x)) < x, x.dtype)  # dynamic binarisation
        with tf.GradientTape() as tape:
            loss = -tf.reduce_mean(self.elbo(x, training=True))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables, strict=True))
        self.elbo_metric.update_state(-loss)
        return {"elbo": self.elbo_metric.result()}

    def call(self, x):
        return self.elbo(x)

    def get_config(self):
        return {**super().get_config(), "num_nodes": self.num_nodes,
                "node_dim": self.node_dim, "pixels": self.pixels}  # fmt: skip


def main(argv):
    del argv
    keras.utils.set_random_seed(0)
    train = tgv.data.load("digits", "train").shuffle(2000, seed=0).batch(64)
    train = tgv.data.without_autotune(train)  # steady epoch times (BUILD_NOTES)
    model = GatedPriorVAE()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    history = model.fit(train, epochs=_EPOCHS.value, verbose=0)
    elbo = history.history["elbo"]
    print(f"training ELBO: first epoch {elbo[0]:.2f}, last {elbo[-1]:.2f} nats per image")
    print("edge probabilities mu[i, j] (parent i -> child j):")
    print(np.round(model.gates.edge_probabilities().numpy(), 2))


if __name__ == "__main__":
    app.run(main)
