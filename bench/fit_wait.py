"""Where the time of a one-epoch `fit` call goes, with and without tf.data's autotuning.

python bench/fit_wait.py [--calls=8] [--steps=200] [--output_dir=bench/results]

A default learned `GraphVAE` (XLA), `fit(ds, epochs=1)` called `--calls` times after a first
(compiling) call, on a cached pipeline of `--steps` batches of 128 Fashion-MNIST images
prefetched with `tf.data.AUTOTUNE` (autotuning on, TensorFlow's default) or with
`tgv.data.without_autotune` and `PREFETCH_BATCHES` (off), one process per setting. Each
call is split into the time before its first step, its steps (from `on_epoch_begin` to
`on_epoch_end`) and the wait after `on_epoch_end` until `fit` returns. Writes
`fit_wait.json` and `fit_wait.md`.
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
SETTINGS = ("autotune_on", "autotune_off")


def child(setting: str, calls: int, steps: int) -> None:
    import keras

    sys.path.insert(0, str(BENCH_DIR))
    from common import BATCH_SIZE, binarize, cached_batches, load_images, make_model

    images = binarize(load_images("train", steps * BATCH_SIZE)[0])
    ds = cached_batches(images, autotune=setting == "autotune_on")
    model = make_model("learned")
    marks = {}

    class Marks(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            marks["begin"] = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            marks["end"] = time.perf_counter()

    model.fit(ds, epochs=1, verbose=0)  # trace and compile
    rows = []
    for _ in range(calls):
        start = time.perf_counter()
        model.fit(ds, epochs=1, verbose=0, callbacks=[Marks()])
        done = time.perf_counter()
        rows.append({
            "fit_s": done - start, "before_s": marks["begin"] - start,
            "steps_s": marks["end"] - marks["begin"], "after_s": done - marks["end"],
        })  # fmt: skip
    print(json.dumps({"setting": setting, "calls": rows}))


def _markdown(results: list[dict], steps: int) -> str:
    lines = [
        f"One-epoch `fit` calls of {steps} steps, seconds per call: `fit` (steps + wait after "
        "`on_epoch_end`).",
        "",
        "| setting | call | fit | steps | after the last step |",
        "|---|---:|---:|---:|---:|",
    ]
    for result in results:
        for i, row in enumerate(result["calls"]):
            lines.append(
                f"| {result['setting']} | {i + 1} | {row['fit_s']:.2f} | {row['steps_s']:.2f} "
                f"| {row['after_s']:.2f} |"
            )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=8)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--output_dir", default=str(BENCH_DIR / "results"))
    parser.add_argument("--child", choices=SETTINGS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.steps < 1:
        parser.error("--calls and --steps must be >= 1")
    if args.child:
        child(args.child, args.calls, args.steps)
        return 0
    results = []
    for setting in SETTINGS:
        out = subprocess.run(
            [sys.executable, __file__, f"--child={setting}", f"--calls={args.calls}",
             f"--steps={args.steps}"],
            capture_output=True, text=True, timeout=1800, check=True,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
        ).stdout  # fmt: skip
        results.append(json.loads(out.strip().splitlines()[-1]))
        waits = [row["after_s"] for row in results[-1]["calls"]]
        print(f"{setting}: wait after the last step {min(waits):.2f}-{max(waits):.2f} s",
              file=sys.stderr)  # fmt: skip
    from tf_graphvae.config.files import write_json, write_text

    out_dir = Path(args.output_dir)
    write_json(out_dir / "fit_wait.json", {"steps": args.steps, "results": results})
    write_text(out_dir / "fit_wait.md", _markdown(results, args.steps))
    print(_markdown(results, args.steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
