"""Encoder and decoder networks: MLPs for small binary images, a small CNN for 32x32x3."""

from __future__ import annotations

import math

import keras

from tf_graphvae.model_config import NETWORKS


def validate_network(network: str) -> str:
    if network not in NETWORKS:
        raise ValueError(f"Unknown network {network!r}; expected one of {NETWORKS}.")
    return network


def _check_units(units, what: str) -> tuple[int, ...]:
    units = tuple(int(u) for u in units)
    if not units or min(units) < 1:
        raise ValueError(f"{what} must be a non-empty sequence of positive widths, got {units!r}.")
    return units


@keras.saving.register_keras_serializable(package="tf_graphvae")
class Encoder(keras.layers.Layer):
    """`h = Enc(x)`: images `[B, H, W, C]` to a feature vector `[B, units[-1]]`.

    Args:
        units: widths of the dense ELU layers (docs/design.md §6: 512-512-256).
        network: `"mlp"` (flatten, then the dense layers) or `"conv"` (three stride-2
            4x4 convolutions with 32/64/128 filters first; for 32x32 colour images).

    Example:
    >>> Encoder(units=(64, 32))(keras.ops.zeros([2, 8, 8, 1])).shape
    TensorShape([2, 32])
    """

    def __init__(self, units=(512, 512, 256), network: str = "mlp", **kwargs):
        super().__init__(**kwargs)
        self.units = _check_units(units, "encoder units")
        self.network = validate_network(network)
        self.convs = []
        if self.network == "conv":
            self.convs = [
                keras.layers.Conv2D(
                    f, 4, strides=2, padding="same", activation="elu", name=f"conv{k}"
                )
                for k, f in enumerate((32, 64, 128))
            ]
        self.flatten = keras.layers.Flatten()
        self.dense = [
            keras.layers.Dense(u, activation="elu", name=f"dense{k}")
            for k, u in enumerate(self.units)
        ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for conv in self.convs:
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
        shape = (shape[0], math.prod(shape[1:]))
        for dense in self.dense:
            dense.build(shape)
            shape = (shape[0], dense.units)
        self.built = True

    def call(self, x):
        for conv in self.convs:
            x = conv(x)
        x = self.flatten(x)
        for dense in self.dense:
            x = dense(x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units[-1])

    def get_config(self):
        config = super().get_config()
        config.update(units=list(self.units), network=self.network)
        return config


@keras.saving.register_keras_serializable(package="tf_graphvae")
class Decoder(keras.layers.Layer):
    """`decoder(z)`: latent vectors `[B, M]` to likelihood parameters `[B, H, W, C * k]`.

    Args:
        event_shape: `(H, W, C)` of the images.
        params_per_channel: `k`, parameters per sub-pixel (1 for Bernoulli logits,
            2 for the discretised logistic's location and scale).
        units: widths of the dense ELU layers (docs/design.md §6: 256-512-512).
        network: `"mlp"` (dense layers, then a linear layer to `H*W*C*k`) or `"conv"`
            (dense layers, a 4x4x128 map, then three stride-2 transposed convolutions;
            needs `H` and `W` divisible by 8).

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
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.event_shape = tuple(int(s) for s in event_shape)
        self.params_per_channel = int(params_per_channel)
        self.units = _check_units(units, "decoder units")
        self.network = validate_network(network)
        h, w, c = self.event_shape
        out_channels = c * self.params_per_channel
        self.dense = [
            keras.layers.Dense(u, activation="elu", name=f"dense{k}")
            for k, u in enumerate(self.units)
        ]
        if self.network == "mlp":
            self.head = [
                keras.layers.Dense(h * w * out_channels, name="output"),
                keras.layers.Reshape((h, w, out_channels)),
            ]
        else:
            if h % 8 or w % 8:
                raise ValueError(
                    f"The conv decoder needs H and W divisible by 8, got {self.event_shape}."
                )
            self.head = [
                keras.layers.Dense((h // 8) * (w // 8) * 128, activation="elu", name="project"),
                keras.layers.Reshape((h // 8, w // 8, 128)),
                keras.layers.Conv2DTranspose(
                    64, 4, 2, padding="same", activation="elu", name="deconv0"
                ),
                keras.layers.Conv2DTranspose(
                    32, 4, 2, padding="same", activation="elu", name="deconv1"
                ),
                keras.layers.Conv2DTranspose(out_channels, 4, 2, padding="same", name="deconv2"),
            ]

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.dense + self.head:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        self.built = True

    def call(self, z):
        for layer in self.dense + self.head:
            z = layer(z)
        return z

    def compute_output_shape(self, input_shape):
        return (
            input_shape[0],
            *self.event_shape[:2],
            self.event_shape[2] * self.params_per_channel,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            event_shape=list(self.event_shape),
            params_per_channel=self.params_per_channel,
            units=list(self.units),
            network=self.network,
        )
        return config
