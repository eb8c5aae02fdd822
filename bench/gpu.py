"""GPU benchmark: training and evaluation throughput, mixed precision, MirroredStrategy.

python bench/gpu.py [--output_dir=bench/results] [--epochs=8]   (or bench/run.py --device=gpu)

On the visible GPUs: `model.fit` examples/s of the default model (independent and
learned structures; float32 and `mixed_precision`; batch 128 and 1024; steps_per_execution
25) with the min / median / max epoch time; the K = 5,000 importance-weighted LL in
images/s; and one training step under `MirroredStrategy` over every GPU against the same
step on one GPU (losses and weights must agree). Writes `gpu.json` and `gpu.md`, with
the card's name, into `--output_dir`. Exits 2 with one line when no GPU is visible.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from pathlib import Path

import numpy as np
from common import (
    EVENT_SHAPE,
    MODEL_SEED,
    NODE_DIM,
    NUM_NODES,
    binarize,
    cached_batches,
    load_images,
    median,
)

BENCH_DIR = Path(__file__).resolve().parent
STEPS_PER_EXECUTION = 25


def _model(structure: str, mixed: bool = False, strategy=None):
    import keras
    import tensorflow as tf

    import tf_graphvae as tgv

    with (strategy or tf.distribute.get_strategy()).scope():
        model = tgv.GraphVAE(
            event_shape=EVENT_SHAPE, num_nodes=NUM_NODES, node_dim=NODE_DIM,
            structure=structure, seed=MODEL_SEED, mixed_precision=mixed,
        )  # fmt: skip
        model.compile(
            optimizer=keras.optimizers.Adam(1e-3), steps_per_execution=STEPS_PER_EXECUTION
        )
    return model


def bench_training(
    images: np.ndarray, epochs: int, batches=(128, 1024), structures=("independent", "learned")
) -> list[dict]:
    """Examples/s per structure, precision and batch size: epoch times after the first."""
    rows = []
    for batch in batches:
        ds = cached_batches(images, batch)
        steps = len(images) // batch
        for structure in structures:
            for mixed in (False, True):
                model = _model(structure, mixed)
                times = []
                for _ in range(epochs + 1):  # the first epoch compiles
                    start = time.perf_counter()
                    model.fit(ds, epochs=1, verbose=0, shuffle=False)
                    times.append(time.perf_counter() - start)
                steady = times[1:]
                rows.append({
                    "structure": structure, "mixed_precision": mixed, "batch_size": batch,
                    "examples_per_s": steps * batch / median(steady),
                    "epoch_seconds_min_median_max": [min(steady), median(steady), max(steady)],
                })  # fmt: skip
                print(f"training {rows[-1]}", file=sys.stderr)
    return rows


def bench_evaluation(images: np.ndarray, num_samples: int = 5000) -> dict:
    import tf_graphvae as tgv

    model = _model("learned")
    tgv.evaluate.log_likelihood(model, images[:10], num_samples, progress=False)  # compile
    start = time.perf_counter()
    ll = tgv.evaluate.log_likelihood(model, images, num_samples, progress=False)
    seconds = time.perf_counter() - start
    return {
        "num_samples": num_samples,
        "num_images": len(images),
        "images_per_s": len(images) / seconds,
        "finite": bool(np.isfinite(ll).all()),
    }


def mirrored_step(images: np.ndarray, devices: list[str] | None = None) -> dict:
    """One step on one device and under MirroredStrategy over all `devices` (default every
    GPU), from the same weights."""
    import tensorflow as tf

    gpus = devices or [d.name for d in tf.config.list_logical_devices("GPU")]
    x = images[: 64 * len(gpus)]
    out = {}
    initial = None
    for name, strategy in (
        ("single", tf.distribute.OneDeviceStrategy(gpus[0])),
        ("mirrored", tf.distribute.MirroredStrategy(gpus)),
    ):
        model = _model("learned", strategy=strategy)
        if initial is None:
            initial = model.get_weights()
        model.set_weights(initial)
        loss = model.fit(x, batch_size=len(x), epochs=1, verbose=0, shuffle=False)
        out[name] = {"loss": loss.history["loss"][0], "weights": model.get_weights()}
    diff = max(
        float(np.abs(a - b).max())
        for a, b in zip(out["single"]["weights"], out["mirrored"]["weights"], strict=True)
    )
    return {"replicas": len(gpus), "loss_single": out["single"]["loss"],
            "loss_mirrored": out["mirrored"]["loss"], "max_weight_diff": diff}  # fmt: skip


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output_dir", default=str(BENCH_DIR / "results"))
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        print("bench/gpu.py: error: no GPU is visible to TensorFlow.", file=sys.stderr)
        return 2
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    train, source = load_images("train", 128 * 400)
    test = binarize(load_images("test", 200)[0])
    results = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "gpus": names, "data": source,
        "training": bench_training(train, args.epochs),
        "evaluation": bench_evaluation(test),
        "mirrored_step": mirrored_step(test),
    }  # fmt: skip
    from tf_graphvae.config.files import write_json, write_text

    out = Path(args.output_dir)
    write_json(out / "gpu.json", results)
    write_text(out / "gpu.md", markdown(results))
    print(markdown(results))
    return 0


def markdown(r: dict) -> str:
    lines = [f"GPU benchmark, {r['date'][:10]}: {', '.join(r['gpus'])}; data: {r['data']}.", "",
             "| structure | precision | batch | examples/s | epoch s min / median / max |",
             "|---|---|---:|---:|---|"]  # fmt: skip
    for t in r["training"]:
        spread = " / ".join(f"{v:.3f}" for v in t["epoch_seconds_min_median_max"])
        precision = "mixed_bfloat16" if t["mixed_precision"] else "float32"
        lines.append(
            f"| {t['structure']} | {precision} | {t['batch_size']} "
            f"| {t['examples_per_s']:.0f} | {spread} |"
        )
    e, m = r["evaluation"], r["mirrored_step"]
    lines += ["", f"LL, K = {e['num_samples']}: {e['images_per_s']:.1f} images/s "
              f"({e['num_images']} images).", "",
              f"MirroredStrategy over {m['replicas']} GPU(s): loss {m['loss_mirrored']:.4f} vs "
              f"{m['loss_single']:.4f} on one; largest weight difference after the step "
              f"{m['max_weight_diff']:.2e}."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
