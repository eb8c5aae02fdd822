"""`GraphVAE`: a VAE whose latent nodes are linked by a learned DAG of Bernoulli gates."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tf_graphvae import gate_estimators, input_checks
from tf_graphvae.config import MODEL_FIELDS, GraphVAEConfig, positive_int
from tf_graphvae.config import model as settings
from tf_graphvae.latent_space import LatentSpace
from tf_graphvae.layers.gated_dag import GatedDAG, bound_log_variance, node_densities
from tf_graphvae.layers.gates import Gates
from tf_graphvae.layers.likelihoods import (
    check_serializable,
    deserialize_user_object,
    make_likelihood,
)
from tf_graphvae.layers.networks import Decoder, Encoder, check_networks
from tf_graphvae.layers.noise import global_rows, stateless_uniform
from tf_graphvae.training_step import TrainingStep, repeat_rows

# Version of the saved configuration; a model whose major version differs is refused.
# 1.1: the schedules are model settings (a 1.0 model ran them as callbacks).
FORMAT_VERSION = "1.1"
# What a 1.0 model's missing settings mean: its schedules were callbacks, not the model's.
_LEGACY_SCHEDULES = {"kl_warmup_epochs": 0, "gate_hold_epochs": 0, "anneal_rate": 0.0}


@keras.saving.register_keras_serializable(package="tf_graphvae")
class GraphVAE(LatentSpace, TrainingStep, keras.Model):
    """Graph VAE (He et al., "Variational Latent Dependency Learning") and its baselines.

    `N = num_nodes` latent nodes of dimension `N' = node_dim`; a possible edge `i -> j`
    for every `i > j`, gated by `c[i, j] ~ Bernoulli(mu[i, j])`. The structures share
    everything but the gates (docs/design.md §2): `"independent"` (VAE), `"chain"`,
    `"full"` (FC-VAE), `"learned"` (Graph VAE) and `"fixed"` (given `edges`). Training
    maximises the expected ELBO of Eq. (1),
    `E_{c ~ p(c)} [E_q log p(x | z) - KL(q(z | x, c) || p(z | c))]`, with relaxed gates
    (Eq. 2) so that `mu` is learned jointly with the networks.

    The training recipe is part of the model: the gate temperature, KL warm-up and gate
    hold follow the optimizer's step counter inside the compiled training step, with
    lengths in epochs of the data given to `fit` (docs/design.md §6). So
    `GraphVAE(event_shape)` trained with `fit` runs what `tfgvae-train` runs, with any
    `steps_per_execution`, and a resumed run continues its schedules exactly.

    Args:
        event_shape: `(H, W, C)` of the images.
    {arguments}
        **kwargs: other keyword arguments go to `keras.Model` (`name`, ...).
        Not given, `num_nodes` is one per `node_dims` size where those are given.

    Example:
    >>> model = GraphVAE(event_shape=(8, 8, 1), num_nodes=3, node_dim=2)
    >>> model.compile(optimizer=keras.optimizers.Adam(1e-3))
    >>> model.elbo_terms(np.zeros([4, 8, 8, 1], np.float32))["elbo"].shape
    TensorShape([4])
    """

    # Settings named like the objects built from them; the others view `config` (below).
    _BUILT = ("encoder", "decoder", "likelihood", "gate_optimizer")

    def __init__(self, event_shape: Sequence[int], **kwargs):
        options = {k: kwargs.pop(k) for k in list(kwargs) if k in MODEL_FIELDS}
        options = settings.with_num_nodes(options)
        super().__init__(**kwargs)
        self.config = GraphVAEConfig(event_shape=tuple(event_shape), **options).validate()
        c = self.config
        standardized = c.standardization or {}
        self.likelihood = make_likelihood(
            c.likelihood, event_ndims=len(c.event_shape), name="likelihood",
            **({"shift": standardized["mean"], "scale": standardized["std"]}
               if standardized else {}),
        )  # fmt: skip
        # Mixed precision (docs/design.md §6): the networks compute in bfloat16; the gates,
        # the DAG's merge and KL, the likelihood and the log-sum-exp stay float32.
        nets = {"dtype": "mixed_bfloat16" if c.mixed_precision else None,
                "batch_norm": c.batch_norm, "dropout": c.dropout}  # fmt: skip
        self.encoder = c.encoder or Encoder(c.encoder_units, c.network, name="encoder", **nets)
        # BU_j for every node at once: one linear map h -> (m̃_j, log s̃_j²) for all j.
        self.bottom_up_layer = keras.layers.Dense(
            2 * c.num_nodes * c.node_dim, name="bottom_up", dtype=nets["dtype"]
        )
        self.gates = Gates(
            c.num_nodes, c.structure, c.temperature, c.hard_gates, c.per_example_gates,
            c.straight_through_gates, seed=c.seed, edges=c.edges, name="gates",
        )  # fmt: skip
        self.dag = GatedDAG(
            c.num_nodes, c.node_dim, c.structure, c.top_down_units, c.node_dims, name="gated_dag"
        )
        self.decoder = c.decoder or Decoder(
            c.event_shape, self.likelihood.params_per_channel, c.decoder_units, c.network,
            name="decoder", **nets,
        )  # fmt: skip
        self.seed_generator = keras.random.SeedGenerator(c.seed, name="seed_generator")
        self.gate_optimizer = None
        if c.gate_learning_rate is not None and self.gates.num_edges and self.gates.learned:
            optimizer = keras.optimizers.SGD if c.gate_optimizer == "sgd" else keras.optimizers.Adam
            self.gate_optimizer = optimizer(c.gate_learning_rate, name=f"gate_{c.gate_optimizer}")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.recon_tracker = keras.metrics.Mean(name="recon")
        # KL of each node given its sampled parents, kl_z<j>: which nodes carry information.
        self.node_kl_trackers = [keras.metrics.Mean(name=f"kl_z{j}") for j in range(c.num_nodes)]
        # beta of KL warm-up, set by the training step's schedule; 1 is the plain ELBO.
        self.kl_weight = keras.Variable(1.0, trainable=False, name="kl_weight")
        # Batches per epoch of the data given to `fit` (the schedules' unit), set by `fit`.
        self.steps_per_epoch = 1
        self.build((None, *c.event_shape))

    # ----------------------------------------------------------------- structure
    def build(self, input_shape):
        del input_shape  # the event shape is the model's
        features = check_networks(
            self.encoder, self.decoder, self.likelihood, self.event_shape,
            self.decoder_input_dim, self.likelihood_name,
        )  # fmt: skip
        self.bottom_up_layer.build((None, features))
        self.gates.build()
        self.dag.build()
        self.likelihood.build(None)
        if self.gate_optimizer is not None:
            # Built now, so that a saved model's gate optimizer state has somewhere to load.
            self.gate_optimizer.build([self.gates.gate_logits])
        self.built = True

    @property
    def decoder_input_dim(self) -> int:
        """The width of the decoder's input: the nodes it reads, concatenated."""
        nodes = 1 if self.decode_from == "bottom_node" else self.num_nodes
        return nodes * self.node_dim

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.elbo_tracker, self.kl_tracker, self.recon_tracker]
        return trackers + self.node_kl_trackers

    def edge_probabilities(self) -> np.ndarray:
        """`mu` as a numpy `[N, N]` array: entry `[i, j]` for parent `i` > child `j`, 0 elsewhere.

        The fixed structures return their 0/1 mask.
        """
        return np.asarray(self.gates.edge_probabilities())

    def knockout_values(self, images, **kwargs) -> dict:
        """What switching each possible edge off costs this trained model: ELBO with the
        gate on minus off, the others at MAP (not whether the data support the edge).

        See `tf_graphvae.knockout.knockout_values` (keyword arguments pass through).
        """
        from tf_graphvae.knockout import knockout_values

        return knockout_values(self, images, **kwargs)

    # ------------------------------------------------------------------- inputs
    def images_from(self, data):
        """Images from a batch: `x`, `(x, y)` or `(x, y, w)`; labels are ignored."""
        if isinstance(data, (tuple, list)):
            data = data[0]
        if isinstance(data, dict):
            data = data["image"]
        x = tf.convert_to_tensor(data)
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(
                f"Expected images of shape [batch, {', '.join(map(str, self.event_shape))}], "
                f"got {list(x.shape)}."
            )
        return tf.cast(x, self.compute_dtype)

    def check_images(self, x) -> None:
        """Raises a ValueError unless concrete images `x` have the model's shape and range."""
        input_checks.check_images(self, x)

    def check_inputs(self, x, training: bool = False) -> None:
        """Refuses `fit` (`training`) or `evaluate` inputs that are not the model's examples
        (shape, NaN or inf, range; for `fit`, the scale of Gaussian features): a numpy array
        whole, a dataset by its first batches (`tf_graphvae.input_checks.check_inputs`)."""
        input_checks.check_inputs(self, x, training)

    def binarize(self, x, seed, row_offset=0, total_rows=None):
        """A Bernoulli draw of each pixel's intensity (docs/design.md §3), with a stateless seed."""

        def draw(rows):
            return stateless_uniform(tf.concat([[rows], tf.shape(x)[1:]], 0), seed)

        u = global_rows(draw, tf.shape(x)[0], row_offset, total_rows)
        return tf.cast(u < x, x.dtype)

    @staticmethod
    def replica_rows(batch_size):
        """`(row_offset, total_rows)` of this replica's rows in the global batch.

        Under a `tf.distribute` strategy every replica draws the random numbers of the
        whole global batch from the same seed and keeps rows `[id * b, (id + 1) * b)`, so
        R replicas compute the same step as one device on the global batch (shards are
        assumed equal; an uneven last batch only shifts which draws a replica keeps).
        Outside a strategy: `(0, None)`, nothing extra is drawn.
        """
        context = tf.distribute.get_replica_context()
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if context is None or replicas == 1:
            return 0, None
        replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
        return replica * batch_size, batch_size * replicas

    def next_seed(self):
        """The next seed of the model's random stream (a fresh draw every training step)."""
        return tf.cast(self.seed_generator.next(), tf.int32)

    # -------------------------------------------------------------------- model
    def bottom_up(self, x, training=False):
        """`(m̃, log s̃²)` of every node from images `x`, each `[B, N, N']`."""
        if self.standardization is not None:  # the encoder reads standardised data
            mean, std = (
                tf.reshape(tf.constant(self.standardization[k], x.dtype), self.event_shape)
                for k in ("mean", "std")
            )
            x = (x - mean) / std
        h = self.encoder(x, training=training)
        bu = tf.cast(self.bottom_up_layer(h), tf.float32)  # float32 from here (mixed precision)
        bu = tf.reshape(bu, [-1, self.num_nodes, self.node_dim, 2])
        return bu[..., 0], bound_log_variance(bu[..., 1])

    def latents(self, bottom_up, gates, seed, row_offset=0, total_rows=None):
        """The top-down pass and the latent densities, given bottom-up estimates.

        Returns:
            The node tensors of `GatedDAG.posterior` (`z`, `q_mean`, ...), with
            `kl_per_node` (`[B, N]`, analytic, given the sampled parents), `log_q` and
            `log_p` (`log q(z | x, c)` and `log p(z | c)` of the sample, `[B]`).
        """
        data_mean, data_log_var = bottom_up
        out = self.dag.posterior(data_mean, data_log_var, gates, seed, row_offset, total_rows)
        out["kl_per_node"], out["log_q"], out["log_p"] = node_densities(out, self.dag.latent_dim)
        return out

    def decode_params(self, z, training=False):
        """Decoder output for node values `z` `[B, N, N']` (all nodes, or `z_0` alone)."""
        if self.decode_from == "bottom_node":
            z = z[:, :1]
        params = self.decoder(tf.reshape(z, [-1, self.decoder_input_dim]), training=training)
        return tf.cast(params, tf.float32)  # the likelihood is float32 (mixed precision)

    def infer(self, x, gates, seed, row_offset=0, total_rows=None, training=False):
        """One pass of the model on images `x` with the given gates `[B, N, N]`.

        Returns:
            A dict with the node tensors of `GatedDAG.posterior` (`z`, `q_mean`, ...),
            `recon` (`log p(x | z)`, `[B]`), `kl_per_node` (`[B, N]`, analytic, given the
            sampled parents), `kl` and `elbo` (`[B]`), `log_q` and `log_p` (`log q(z | x, c)`
            and `log p(z | c)` of the sample, `[B]`), and `decoder_params`.
        """
        out = self.latents(self.bottom_up(x, training), gates, seed, row_offset, total_rows)
        out["decoder_params"] = self.decode_params(out["z"], training)
        out["recon"] = self.likelihood.log_prob(out["decoder_params"], x)
        out["kl"] = tf.reduce_sum(out["kl_per_node"], axis=-1)
        out["elbo"] = out["recon"] - out["kl"]
        return out

    def importance_terms(self, x, num_samples, seed, hard_gates=None):
        """`K = num_samples` importance samples per image, each with its own hard gates.

        `hard_gates` overrides the model's: `"sample"` (a structure per importance sample,
        the estimate of the mixture `log E_c p(x | c)`) or `"map"` (the graph `mu > 0.5`).

        The encoder runs once per image and its output is shared by the `K` samples;
        `log p(x | z)` is taken with the `K` decoder outputs of an image broadcast
        against the image itself, so the images are never copied `K` times.

        Returns:
            `(log_w, elbo, kl)`, each `[K, B]`: `log_w = log p(x|z) + log p(z|c) - log q(z|x,c)`
            (docs/design.md §4), and the ELBO and KL of each sample.
        """
        batch = tf.shape(x)[0]
        data_mean, data_log_var = self.bottom_up(x)
        gate_seed, latent_seed = tfp.random.split_seed(tf.cast(seed, tf.int32), n=2)
        gates = self.gates(
            batch * num_samples, training=False, seed=gate_seed, hard_gates=hard_gates
        )
        # Row k * B + b is sample k of image b.
        bottom_up = (repeat_rows(data_mean, num_samples), repeat_rows(data_log_var, num_samples))
        out = self.latents(bottom_up, gates, latent_seed)
        params = self.decode_params(out["z"])
        params = tf.reshape(params, tf.concat([[num_samples, batch], tf.shape(params)[1:]], 0))
        recon = self.likelihood.log_prob(params, x)  # [K, B]

        def per_image(t):
            return tf.reshape(t, [num_samples, batch])

        kl = per_image(tf.reduce_sum(out["kl_per_node"], axis=-1))
        log_w = recon + per_image(out["log_p"] - out["log_q"])
        return log_w, recon - kl, kl

    def forward(self, x, training, seed=None):
        """One pass on images `x`: gates drawn (relaxed when training with the Concrete
        estimator, hard otherwise), the posterior, the decoder: every tensor of `infer`
        and the `gates`. The training step's and `elbo_terms`'s pass; `seed` None: the
        model's stream."""
        seed = self.next_seed() if seed is None else tf.cast(seed, tf.int32)
        gate_seed, latent_seed = tfp.random.split_seed(seed, n=2)
        offset, total = self.replica_rows(tf.shape(x)[0])
        # Relaxed gates where the estimator differentiates through them; else hard draws.
        relaxed = training and gate_estimators.get(self.gate_estimator).relaxed
        gates = self.gates(
            tf.shape(x)[0],
            training=relaxed,
            seed=gate_seed,
            row_offset=offset,
            total_rows=total,
            hard_gates="sample" if training else None,
        )
        out = self.infer(x, gates, latent_seed, offset, total, training=bool(training))
        out["gates"] = gates
        return out

    def elbo_terms(self, x, training: bool = False, seed=None) -> dict[str, tf.Tensor]:
        """Per-example ELBO terms of images `x`: `recon` (log p(x|z)), `kl` and `elbo`, each `[B]`.

        Relaxed gates when `training`, hard gates otherwise (one gate and latent sample
        per example). Images are used as given (binarise grey images first).
        """
        if not tf.is_symbolic_tensor(x) and not isinstance(x, tf.Variable):
            self.check_images(x)
        out = self.forward(self.images_from(x), training, seed)
        return {key: out[key] for key in ("recon", "kl", "elbo")}

    def call(self, x, training=None):
        """The mean reconstruction of images `x` (decoder means), `[B, H, W, C]`."""
        out = self.forward(self.images_from(x), training)
        return self.likelihood(out["decoder_params"])

    def sample_images(self, num_samples, seed):
        """Graph-mode sampler: `(decoder means [n, H, W, C], hard gates [n, N, N])`."""
        gate_seed, latent_seed = tfp.random.split_seed(tf.cast(seed, tf.int32), n=2)
        gates = self.gates(tf.convert_to_tensor(num_samples), training=False, seed=gate_seed)
        params = self.decode_params(self.dag.sample(gates, latent_seed))
        return self.likelihood(params), gates

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        """Decoder means of `num_samples` ancestral samples, `[num_samples, H, W, C]`.

        Gates are hard samples (or the MAP graph); the same seed gives the same images.
        """
        num_samples = positive_int(num_samples, "num_samples")
        images, _ = self.sample_images(num_samples, tf.constant([0, int(seed)], tf.int32))
        return np.asarray(images)

    # ---------------------------------------------------------- serialisation
    def save(self, filepath, *args, **kwargs):
        """Keras's `save`; a likelihood function a load could not find is refused before the
        file is opened (`get_config` refuses it too, after Keras has begun the file)."""
        if callable(self.config.likelihood):
            check_serializable(self.config.likelihood)
        return super().save(filepath, *args, **kwargs)

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        saved = str(config.pop("format_version", FORMAT_VERSION))
        if saved.split(".")[0] != FORMAT_VERSION.split(".")[0]:
            raise ValueError(
                f"This model was saved in GraphVAE format {saved}; this tf_graphvae reads "
                f"format {FORMAT_VERSION}. Load it with the tf_graphvae release that wrote it."
            )
        if saved == "1.0":
            config = {**_LEGACY_SCHEDULES, **config}
        for key in ("encoder", "decoder", "likelihood"):
            if isinstance(config.get(key), dict):
                config[key] = deserialize_user_object(key, config[key])
        return cls(**config)

    @property
    def likelihood_name(self) -> str:
        """The likelihood's registered name, or "custom" for a function of yours."""
        return self.config.likelihood if isinstance(self.config.likelihood, str) else "custom"

    def get_config(self):
        config = {f.name: getattr(self.config, f.name) for f in dataclasses.fields(self.config)}
        for key in ("event_shape", "encoder_units", "decoder_units"):
            config[key] = list(config[key])
        if callable(config["likelihood"]):  # refused now, not when the file is loaded
            check_serializable(config["likelihood"])
        for key in ("encoder", "decoder", "likelihood"):  # user objects, as Keras saves them
            if config[key] is not None and not isinstance(config[key], str):
                config[key] = keras.saving.serialize_keras_object(config[key])
        return {"format_version": FORMAT_VERSION, **config, "name": self.name}


# Every argument, with its default, in `help(GraphVAE)` and IDEs: from the one place they
# are defined (`GraphVAEConfig`), not copied here.
GraphVAE.__doc__ = settings.with_arguments(GraphVAE.__doc__)
GraphVAE.__init__.__signature__ = settings.constructor_signature()
settings.add_setting_views(GraphVAE, skip=GraphVAE._BUILT)
