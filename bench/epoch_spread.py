"""Epoch-time spread of `model.fit` under different tf.data and thread settings.

python bench/epoch_spread.py [--epochs=20] [--settings=default,autotune_off] [--output_dir=...]

As a user trains: a fresh default `GraphVAE`, `compile`, `fit` on a cached `tf.data`
pipeline of 40 batches of 128, epoch after epoch in one `fit` call. Each setting runs in its
own process (TensorFlow's thread pools are fixed when it starts) and reports every epoch
time after the first (compilation); the table gives min / median / max and max / min.
Writes `epoch_spread.json` and `epoch_spread.md`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent

# name -> (environment, tf.config.threading (intra, inter), tf.data threading, steps/execution,
# tf.data autotuning)
SETTINGS = {
    "default": ({}, None, False, 1, True),
    "autotune_off": ({}, None, False, 1, False),
    "autotune_off_steps_per_execution_25": ({}, None, False, 25, False),  # as the commands
    "inter_op_1": ({}, (0, 1), False, 1, True),
    "intra_2_inter_1": ({}, (2, 1), False, 1, True),
    "tfdata_private_1": ({}, None, True, 1, True),
    "inter_op_1_tfdata_1": ({}, (0, 1), True, 1, True),
    "steps_per_execution_25": ({}, None, False, 25, True),
}


def child(name: str, epochs: int) -> None:
    env, threads, private_tfdata, spe, autotune = SETTINGS[name]
    import keras
    import tensorflow as tf

    if threads is not None:
        tf.config.threading.set_intra_op_parallelism_threads(threads[0])
        tf.config.threading.set_inter_op_parallelism_threads(threads[1])
    sys.path.insert(0, str(BENCH_DIR))
    from common import binarize, cached_batches, load_images, make_model

    images = binarize(load_images("train", 40 * 128)[0])
    ds = cached_batches(images, 128, autotune=autotune)
    if private_tfdata:  # options hold for the whole pipeline, wherever they are set
        options = tf.data.Options()
        options.threading.private_threadpool_size = 1
        options.threading.max_intra_op_parallelism = 1
        ds = ds.with_options(options)
    model = make_model("learned", steps_per_execution=spe)
    times = []

    class Timer(keras.callbacks.Callback):  # one `fit` call, as a user trains
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    model.fit(ds, epochs=epochs + 1, verbose=0, shuffle=False, callbacks=[Timer()])
    print(json.dumps({"name": name, "epoch_seconds": times[1:]}))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--output_dir", default=str(BENCH_DIR / "results"))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.epochs)
        return 0
    rows = []
    for name in args.settings.split(","):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **SETTINGS[name][0]}
        out = subprocess.run(
            [sys.executable, __file__, f"--child={name}", f"--epochs={args.epochs}"],
            capture_output=True, text=True, env=env, timeout=900, check=True,
        ).stdout  # fmt: skip
        row = json.loads(out.strip().splitlines()[-1])
        t = sorted(row["epoch_seconds"])
        row |= {"min": t[0], "median": t[len(t) // 2], "max": t[-1], "spread": t[-1] / t[0]}
        rows.append(row)
        print(f"{name}: {row['min']:.3f} / {row['median']:.3f} / {row['max']:.3f} s, "
              f"max/min {row['spread']:.2f}", file=sys.stderr)  # fmt: skip
    lines = ["| setting | epoch s min / median / max | max / min | examples/s (median) |",
             "|---|---|---:|---:|"]  # fmt: skip
    for r in rows:
        lines.append(
            f"| {r['name']} | {r['min']:.3f} / {r['median']:.3f} / {r['max']:.3f} "
            f"| {r['spread']:.2f} | {40 * 128 / r['median']:.0f} |"
        )
    from tf_graphvae.config.files import write_json, write_text

    out_dir = Path(args.output_dir)
    write_json(out_dir / "epoch_spread.json", {"epochs": args.epochs, "rows": rows})
    write_text(out_dir / "epoch_spread.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
