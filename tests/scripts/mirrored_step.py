"""One training step on one device and under MirroredStrategy over two logical CPUs.

python mirrored_step.py STRUCTURE [STRUCTURE ...]

Prints a JSON line per structure: the two losses and the largest weight difference after
the step. Run in its own process: logical devices must be configured before TensorFlow
starts.
"""

import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

import keras  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

import tf_graphvae as tgv  # noqa: E402

grey = load_digits().images[:32, ..., None] / 16.0
x = grey.astype("float32")  # grey: the step binarises it, so binarisation is checked too


def one_step(structure, strategy, initial=None):
    with strategy.scope():
        model = tgv.GraphVAE(
            event_shape=(8, 8, 1),
            num_nodes=3,
            node_dim=2,
            structure=structure,
            encoder_units=(32,),
            decoder_units=(32,),
            top_down_units=16,
            seed=0,
        )
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    if initial is not None:
        model.set_weights(initial)
    before = model.get_weights()
    history = model.fit(x, batch_size=32, epochs=1, shuffle=False, verbose=0).history
    return history, model.get_weights(), before


mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
for structure in sys.argv[1:] or ["learned"]:
    single, w_single, initial = one_step(structure, tf.distribute.get_strategy())
    mirrored, w_mirrored, _ = one_step(structure, mirrored_strategy, initial)
    report = {
        "structure": structure,
        "replicas": mirrored_strategy.num_replicas_in_sync,
        "single": single,
        "mirrored": mirrored,
        "max_weight_diff": max(
            float(np.abs(a - b).max()) for a, b in zip(w_single, w_mirrored, strict=True)
        ),
        "max_update": max(
            float(np.abs(a - b).max()) for a, b in zip(w_single, initial, strict=True)
        ),
    }
    print(json.dumps(report), flush=True)
