"""Peak resident memory of one importance-weighted evaluation, in a fresh process.

python bench/eval_memory.py --num_samples=5000 [--num_images=10] [--images=eval.npy]

Builds the benchmark's model (default networks, structure "learned", fixed seed, not
trained: memory does not depend on the weights), records the process's peak RSS before
the evaluation, runs `tf_graphvae.evaluate.log_likelihood`, and prints one line
`RESULT {json}` with `ru_maxrss` (KiB on Linux) before and after.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
from common import MODEL_SEED, binarize, current_rss_kib, load_images, make_model


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
        source = args.images
    else:
        grey, source = load_images("test", args.num_images)
        images = binarize(grey)
    keras.utils.set_random_seed(MODEL_SEED)
    model = make_model("learned")
    chunk_rows = args.chunk_rows or evaluate.DEFAULT_CHUNK_ROWS
    baseline_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    baseline_now = current_rss_kib()
    start = time.perf_counter()
    ll = evaluate.log_likelihood(
        model, images, args.num_samples, chunk_rows=chunk_rows, progress=False
    )
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "num_samples": args.num_samples,
        "num_images": len(images),
        "chunk_rows": chunk_rows,
        "images": source,
        "baseline_peak_kib": baseline_peak,
        "baseline_rss_kib": baseline_now,
        "peak_kib": peak,
        "growth_kib": peak - baseline_peak,
        "seconds": round(seconds, 3),
        "mean_ll": float(np.mean(ll)),
    }
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
