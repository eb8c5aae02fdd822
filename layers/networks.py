"""Encoder and decoder networks: MLPs for small binary images, a small CNN for 32x32x3."""

from __future__ import annotations

import math
import re

import keras
import tensorflow as tf

from tf_graphvae.config import NETWORKS
from tf_graphvae.config.settings import check_rate, check_units
from tf_graphvae.layers.elementwise import elu


def validate_network(network: str) -> str:
    if network not in NETWORKS:
        raise ValueError(f"Unknown network {network!r}; expected one of {NETWORKS}.")
    return network


def hidden_layers(
    units: tuple[int, ...], batch_norm: bool, dropout: float, dtype: keras.DTypePolicy
) -> list[keras.layers.Layer]:
    """The dense ELU hidden layers of the built-in networks, `dense<k>` of width `units[k]`.

    With `batch_norm`, `dense<k>` is linear without a bias (the normalisation's shift takes
    its place), then `batch_norm<k>` and `elu<k>`; with `dropout > 0`, `dropout<k>` after
    the ELU. Neither: exactly the layers (and weights) of the networks without them.
    """
    dt = {"dtype": dtype}
    # Made under a strategy of several replicas, the statistics are the global batch's, as
    # one device's would be (the model's step is the same on R replicas as on one device).
    synchronized = tf.distribute.get_strategy().num_replicas_in_sync > 1
    layers = []
    for k, u in enumerate(units):
        if batch_norm:
            layers += [
                keras.layers.Dense(u, use_bias=False, name=f"dense{k}", **dt),
                keras.layers.BatchNormalization(
                    name=f"batch_norm{k}", synchronized=synchronized, **dt
                ),
                keras.layers.Activation(elu, name=f"elu{k}", **dt),
            ]
        else:
            layers.append(keras.layers.Dense(u, activation=elu, name=f"dense{k}", **dt))
        if dropout:
            layers.append(keras.layers.Dropout(dropout, name=f"dropout{k}", **dt))
    return layers


@keras.saving.register_keras_serializable(package="tf_graphvae")
class Encoder(keras.layers.Layer):
    """`h = Enc(x)`: images `[B, H, W, C]` to a feature vector `[B, units[-1]]`.

    Args:
        units: widths of the dense ELU layers (docs/design.md §6: 512-512-256).
        network: `"mlp"` (flatten, then the dense layers) or `"conv"` (three stride-2
            4x4 convolutions with 32/64/128 filters first; for 32x32 colour images).
        batch_norm: batch normalisation in the dense layers (`hidden_layers`).
        dropout: dropout rate after each dense layer, in training only.

    Example:
    >>> Encoder(units=(64, 32))(keras.ops.zeros([2, 8, 8, 1])).shape
    TensorShape([2, 32])
    """

    def __init__(
        self,
        units=(512, 512, 256),
        network: str = "mlp",
        batch_norm: bool = False,
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        dt = {"dtype": self.dtype_policy}  # sublayers compute in the layer's policy
        self.units = check_units(units, "encoder units")
        self.network = validate_network(network)
        self.batch_norm, self.dropout = bool(batch_norm), check_rate(dropout, "dropout")
        self.convs = []
        if self.network == "conv":
            self.convs = [
                keras.layers.Conv2D(
                    f, 4, strides=2, padding="same", activation=elu, name=f"conv{k}", **dt
                )
                for k, f in enumerate((32, 64, 128))
            ]
        self.flatten = keras.layers.Flatten(**dt)
        self.dense = hidden_layers(self.units, self.batch_norm, self.dropout, self.dtype_policy)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        shape = (shape[0], math.prod(shape[1:]))
        for layer in self.dense:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, x, training=None):
        for conv in self.convs:
            x = conv(x)
        x = self.flatten(x)
        for layer in self.dense:
            x = layer(x, training=training)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units[-1])

    def get_config(self):
        config = super().get_config()
        config.update(
            units=list(self.units),
            network=self.network,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
        )
        return config


@keras.saving.register_keras_serializable(package="tf_graphvae")
class Decoder(keras.layers.Layer):
    """`decoder(z)`: latent vectors `[B, M]` to likelihood parameters `[B, ..., C * k]`.

    Args:
        event_shape: the shape of one example, `(H, W, C)` for images or `(D,)` for vectors
            (the parameters have its shape with the last axis times `k`).
        params_per_channel: `k`, parameters per sub-pixel (1 for Bernoulli logits,
            2 for the discretised logistic's location and scale).
        units: widths of the dense ELU layers (docs/design.md §6: 256-512-512).
        network: `"mlp"` (dense layers, then a linear layer to `H*W*C*k`) or `"conv"`
            (dense layers, a 4x4x128 map, then three stride-2 transposed convolutions;
            needs `H` and `W` divisible by 8).
        batch_norm: batch normalisation in the dense layers (`hidden_layers`).
        dropout: dropout rate after each dense layer, in training only.

    Example:
    >>> Decoder((8, 8, 1), units=(32,))(keras.ops.zeros([2, 5])).shape
    TensorShape([2, 8, 8, 1])
    """

    def __init__(
        self,
        event_shape,
        params_per_channel: int = 1,
        units=(256, 512, 512),
        network: str = "mlp",
        batch_norm: bool = False,
        dropout: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        dt = {"dtype": self.dtype_policy}  # sublayers compute in the layer's policy
        self.event_shape = tuple(int(s) for s in event_shape)
        self.params_per_channel = int(params_per_channel)
        self.units = check_units(units, "decoder units")
        self.network = validate_network(network)
        self.batch_norm, self.dropout = bool(batch_norm), check_rate(dropout, "dropout")
        *spatial, c = self.event_shape
        out_channels = c * self.params_per_channel
        self.params_shape = (*spatial, out_channels)
        self.dense = hidden_layers(self.units, self.batch_norm, self.dropout, self.dtype_policy)
        if self.network == "mlp":
            self.head = [
                keras.layers.Dense(math.prod(self.params_shape), name="output", **dt),
                keras.layers.Reshape(self.params_shape, **dt),
            ]
        else:
            if len(spatial) != 2 or spatial[0] % 8 or spatial[1] % 8:
                raise ValueError(
                    "The conv decoder needs images (H, W, C) with H and W divisible by 8, "
                    f"got {self.event_shape}."
                )
            h, w = spatial
            self.head = [
                keras.layers.Dense((h // 8) * (w // 8) * 128, activation=elu, name="project", **dt),
                keras.layers.Reshape((h // 8, w // 8, 128), **dt),
                keras.layers.Conv2DTranspose(
                    64, 4, 2, padding="same", activation=elu, name="deconv0", **dt
                ),
                keras.layers.Conv2DTranspose(
                    32, 4, 2, padding="same", activation=elu, name="deconv1", **dt
                ),
                keras.layers.Conv2DTranspose(
                    out_channels, 4, 2, padding="same", name="deconv2", **dt
                ),
            ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense + self.head:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, z, training=None):
        for layer in self.dense + self.head:
            z = layer(z, training=training)
        return z

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self.params_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            event_shape=list(self.event_shape),
            params_per_channel=self.params_per_channel,
            units=list(self.units),
            network=self.network,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
        )
        return config


def check_networks(
    encoder, decoder, likelihood, event_shape, decoder_input_dim: int, likelihood_name: str
) -> int:
    """Builds `encoder` and `decoder` and checks the contract between them and the
    likelihood (docs/design.md §1); returns the encoder's feature size `F`.

    The encoder maps `[B, *event_shape]` to `[B, F]`; the decoder maps
    `[B, decoder_input_dim]` (the concatenated nodes it reads) to the likelihood's
    parameters. User networks are run once on zeros, so a mismatch is a ValueError naming
    both shapes now, not in `fit`.
    """
    import numpy as np

    from tf_graphvae.layers.likelihoods import check_distribution

    event_shape = tuple(event_shape)
    width = input_width(decoder)
    if width is not None and width != decoder_input_dim:
        raise ValueError(
            f"The decoder takes inputs [B, {width}]; the model gives it the latent nodes it "
            f"reads, concatenated: [B, {decoder_input_dim}]. Build the decoder for inputs of "
            f"width {decoder_input_dim}."
        )
    features = _run(encoder, "encoder", np.zeros((1, *event_shape), np.float32))
    if len(features.shape) != 2:
        raise ValueError(
            f"The encoder must map [B, {', '.join(map(str, event_shape))}] to features [B, F]; "
            f"it gives {list(features.shape)}."
        )
    params = _run(decoder, "decoder", np.zeros((1, decoder_input_dim), np.float32))
    expected = likelihood.params_shape(event_shape)
    if expected is not None and tuple(params.shape[1:]) != tuple(expected):
        raise ValueError(
            f"The decoder maps [B, {decoder_input_dim}] to {['B', *params.shape[1:]]}; the "
            f"{likelihood_name} likelihood needs {['B', *expected]} for examples of "
            f"shape {list(event_shape)}."
        )
    check_distribution(likelihood, params, event_shape)
    return int(features.shape[-1])


def input_width(network) -> int | None:
    """The size of the last input axis that `network` was built for, where it says so (a
    model from `keras.Input`, a built first layer); None for one that adapts to its input."""
    try:
        return network.inputs[0].shape[-1]
    except (AttributeError, IndexError, TypeError, ValueError):
        pass  # not a functional model, or a Sequential without keras.Input
    layers = getattr(network, "layers", None)
    first = layers[0] if isinstance(network, keras.Sequential) and layers else network
    spec = getattr(first, "input_spec", None)
    spec = spec[0] if isinstance(spec, (list, tuple)) and len(spec) == 1 else spec
    if not isinstance(spec, keras.InputSpec):
        return None
    if spec.shape is not None:
        return spec.shape[-1]
    return (spec.axes or {}).get(-1)


def _run(network, role: str, x):
    """`network(x)`, with what Keras raises (several lines, ANSI bold codes) as one line
    naming the network and the input it was given; the original stays chained."""
    try:
        return network(x)
    except (ValueError, TypeError, tf.errors.InvalidArgumentError) as error:
        text = str(error)
        bold = re.search(r"\x1b\[1m(.*?)\x1b\[0m", text, re.DOTALL)
        lines = [line.strip() for line in (bold[1] if bold else text).splitlines()]
        reason = next((line for line in lines if line), type(error).__name__)
        raise ValueError(f"The {role} fails on inputs {['B', *x.shape[1:]]}: {reason}") from error
