"""Peak resident memory of one importance-weighted evaluation, in a fresh process.

python bench/eval_memory.py --num_samples=5000 [--num_images=10] [--images=eval.npy]

Builds the benchmark's model (default networks, structure "learned", fixed seed, not
trained: memory does not depend on the weights), records the process's peak RSS before
the evaluation, runs `tf_graphvae.evaluate.log_likelihood`, and prints one line
`RESULT {json}` with the peaks before and after, in KiB.

The peak is `VmHWM` of `/proc/self/status`, the high-water mark of this process's own
address space. `resource.getrusage(RUSAGE_SELF).ru_maxrss` is printed too, but on Linux
a child starts with its parent's high-water mark (exec keeps the larger of the two), so
a process started by a big parent (the benchmark holds several models) reports the
parent's peak there; it is used only where `/proc` is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
from common import (
    MODEL_SEED,
    binarize,
    current_rss_kib,
    load_images,
    make_model,
    proc_status_kib,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num_samples", type=int, required=True, help="K")
    parser.add_argument("--num_images", type=int, default=10)
    parser.add_argument("--images", default=None, help=".npy of binary images (else loaded)")
    parser.add_argument("--chunk_rows", type=int, default=None, help="default: the package's")
    args = parser.parse_args()

    import keras

    from tf_graphvae import evaluate

    if args.images:
        images = np.load(args.images)[: args.num_images]
        source = os.path.basename(args.images)  # the file, not where this machine kept it
    else:
        grey, source = load_images("test", args.num_images)
        images = binarize(grey)
    keras.utils.set_random_seed(MODEL_SEED)
    model = make_model("learned")
    chunk_rows = args.chunk_rows or evaluate.DEFAULT_CHUNK_ROWS
    baseline_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    baseline_peak = proc_status_kib("VmHWM") or baseline_maxrss
    baseline_now = current_rss_kib()
    start = time.perf_counter()
    ll = evaluate.log_likelihood(
        model, images, args.num_samples, chunk_rows=chunk_rows, progress=False
    )
    seconds = time.perf_counter() - start
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = proc_status_kib("VmHWM") or maxrss
    result = {
        "num_samples": args.num_samples,
        "num_images": len(images),
        "chunk_rows": chunk_rows,
        "images": source,
        "baseline_peak_kib": baseline_peak,
        "baseline_rss_kib": baseline_now,
        "peak_kib": peak,
        "growth_kib": peak - baseline_peak,
        "peak_source": "VmHWM" if proc_status_kib("VmHWM") else "ru_maxrss",
        "ru_maxrss_before_kib": baseline_maxrss,
        "ru_maxrss_kib": maxrss,
        "seconds": round(seconds, 3),
        "mean_ll": float(np.mean(ll)),
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
