"""Where the time of one compiled evaluation call goes: XLA's kernels on a timeline.

python bench/profile_evaluation.py [--calls=20] [--rounds=5] [--images=20]
                                   [--output_dir=bench/results]

Runs the package's compiled importance-weight function (`evaluate.weight_function`, one
image, K = 5000 rows) of the benchmarked learned model under TensorFlow's profiler with
XLA's per-kernel trace events switched on (`--xla_cpu_enable_xprof_traceme`), and
writes `profile_evaluation.json` and `profile_evaluation.md`: per call (medians over
`--calls`), the wall time, the time before the decoder's first matmul (bottom-up
parameters, gates, noise and the sequential top-down pass), the wall time of the
decoder's matmuls, and the kernels that take longest; then `log_likelihood`'s samples/s
on `--images` test images with one and with two compiled calls in flight, in
alternation. A kernel's time is the wall time of its trace event on the thread that ran
it; a matmul spread over both threads of the intra-op pool is one event.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
K = 5000


def _start_tensorflow():
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true"
    ).strip()
    import tensorflow as tf

    return tf


def _model(tf):
    from common import binarize, load_images, make_model

    model = make_model("learned")
    images, _ = load_images("train", 1280)
    model.fit(images, epochs=1, batch_size=128, verbose=0)
    return model, tf.constant(binarize(images[:1]))


def _events(tf, fn, x, calls: int) -> list[tuple[float, float, str, str]]:
    """(start ms, duration ms, thread, name) of every trace event of `calls` calls."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    seed, k = tf.constant([0, 1]), tf.constant(K)
    for _ in range(3):  # compile and warm up
        fn(x, k, seed)[0].numpy()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for _ in range(calls):
            fn(x, k, seed)[0].numpy()
        tf.profiler.experimental.stop()
        (path,) = Path(logdir).rglob("*.xplane.pb")
        space = xplane_pb2.XSpace.FromString(path.read_bytes())
    events = []
    for plane in space.planes:
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for ev in line.events:
                start = (line.timestamp_ns * 1000 + ev.offset_ps) / 1e9
                events.append(
                    (start, ev.duration_ps / 1e9, line.name, names.get(ev.metadata_id, ""))
                )
    return sorted(events)


def concurrency(model, images, rounds: int) -> dict:
    """Samples/s of `log_likelihood` (K = 5000) with one and with two compiled calls in
    flight, timed in alternation over `rounds` rounds (medians)."""
    import time

    import numpy as np

    from tf_graphvae import evaluate

    rates = {1: [], 2: []}
    for calls in rates:  # compile and warm up
        evaluate.log_likelihood(model, images, K, progress=False, parallel_calls=calls)
    for _ in range(rounds):
        for calls, out in rates.items():
            start = time.perf_counter()
            evaluate.log_likelihood(model, images, K, progress=False, parallel_calls=calls)
            out.append(len(images) * K / (time.perf_counter() - start))
    one, two = (float(np.median(rates[c])) for c in (1, 2))
    return {"images": len(images), "rounds": rounds, "samples_per_s": {"1": one, "2": two},
            "speedup": two / one}  # fmt: skip


def _is_kernel(name: str) -> bool:
    return not any(word in name for word in ("Execute", "Await", "BlockUntilReady", "lambda"))


def summarise(events, calls: int) -> dict:
    """Per-call medians of the phases and the kernels' total wall time per call."""
    import numpy as np

    windows = [e for e in events if e[3] == "CpuExecutable::ExecuteAsyncOnStream"][-calls:]
    walls, before, matmul = [], [], []
    kernels = collections.Counter()
    for start, duration, _, _ in windows:
        inside = [e for e in events if start <= e[0] <= start + duration and _is_kernel(e[3])]
        big = [e for e in inside if e[3].startswith("MatMul")]
        walls.append(duration)
        before.append((big[0][0] - start) if big else float("nan"))
        matmul.append(sum(e[1] for e in big))
        for e in inside:
            kernels[e[3]] += e[1] / len(windows)
    return {
        "calls": len(windows),
        "rows_per_call": K,
        "wall_ms": float(np.median(walls)),
        "before_first_matmul_ms": float(np.median(before)),
        "matmul_ms": float(np.median(matmul)),
        "kernels_ms_per_call": dict(kernels.most_common(15)),
    }


def markdown(summary: dict) -> str:
    lines = [
        f"One compiled call, {summary['rows_per_call']} importance samples of one image "
        f"(medians of {summary['calls']} calls):",
        "",
        "| part of the call | ms |",
        "|---|---:|",
        f"| wall time | {summary['wall_ms']:.1f} |",
        f"| before the decoder's first matmul | {summary['before_first_matmul_ms']:.1f} |",
        f"| XLA matmul kernels (`MatMul.*`) | {summary['matmul_ms']:.1f} |",
        "",
        "| kernel | ms per call |",
        "|---|---:|",
    ]
    lines += [f"| `{name}` | {ms:.2f} |" for name, ms in summary["kernels_ms_per_call"].items()]
    c = summary.get("concurrency")
    if c:
        rates = c["samples_per_s"]
        lines += [
            "",
            f"`log_likelihood` on {c['images']} images, K = {K}, in alternation "
            f"(medians of {c['rounds']} rounds): {rates['1']:,.0f} samples/s with one "
            f"compiled call at a time, {rates['2']:,.0f} with two in flight "
            f"({c['speedup']:.2f}x).",
        ]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="of the concurrency timing")
    parser.add_argument("--images", type=int, default=20, help="of the concurrency timing")
    parser.add_argument("--output_dir", default=str(BENCH_DIR / "results"))
    args = parser.parse_args(argv)
    if min(args.calls, args.rounds, args.images) < 1:
        parser.error("--calls, --rounds and --images must be >= 1")
    sys.path.insert(0, str(BENCH_DIR))
    tf = _start_tensorflow()
    from common import binarize, load_images

    from tf_graphvae import evaluate
    from tf_graphvae.config.files import write_json, write_text

    model, x = _model(tf)
    summary = summarise(_events(tf, evaluate.weight_function(model), x, args.calls), args.calls)
    images, _ = load_images("test", args.images)
    summary["concurrency"] = concurrency(model, binarize(images), args.rounds)
    out = Path(args.output_dir)
    write_json(out / "profile_evaluation.json", summary)
    write_text(out / "profile_evaluation.md", markdown(summary))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
