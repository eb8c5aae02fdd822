"""Evaluation throughput: importance samples/s of `log_likelihood`, its FLOP rate, and the
dense-matmul rate it is set against.

Imported by `run.py` as a top-level module from this folder (see common.py). TensorFlow
is imported only when a benchmark runs.
"""

from __future__ import annotations

import math
import time

import numpy as np
from common import DECODER_UNITS, EVENT_SHAPE, NODE_DIM, NUM_NODES, log, median, time_call


def dense_flops(model, num_samples: int) -> dict:
    """FLOPs of the dense layers per importance sample, from the model's kernel shapes.

    2 * in * out per dense layer: the decoder and the top-down MLPs of the sequential
    posterior pass (node j's MLP sees only its possible parents' `(N-1-j) N'` inputs)
    run once per sample; the encoder and bottom-up layer once per image, amortised
    over the K samples. Element-wise work (sampling, log-densities) is not counted.
    """
    import keras

    def layer_flops(layers):
        total = 0
        for layer in layers:
            if isinstance(layer, keras.layers.Dense):
                fan_in, fan_out = layer.kernel.shape
                total += 2 * int(fan_in) * int(fan_out)
        return total

    decoder = layer_flops(model.decoder.dense + model.decoder.head)
    top_down = 0
    if model.dag.has_top_down:
        n, d, units = model.num_nodes, model.node_dim, model.top_down_units
        widths = tuple(units) if isinstance(units, tuple | list) else (units,)
        # The loop feeds each of the N - 1 networks the whole masked latent vector (N * N').
        hidden = sum(2 * a * b for a, b in zip(widths, widths[1:], strict=False))
        top_down = (n - 1) * (2 * n * d * widths[0] + hidden + 2 * widths[-1] * 2 * d)
    encoder = layer_flops(model.encoder.dense) + layer_flops([model.bottom_up_layer])
    return {
        "decoder": decoder,
        "top_down": top_down,
        "encoder_per_image": encoder,
        "per_sample": decoder + top_down + encoder / num_samples,
    }


def _time_log_likelihood(model, images, num_samples, reps, **kwargs) -> list[float]:
    from tf_graphvae import evaluate

    return time_call(
        lambda: evaluate.log_likelihood(model, images, num_samples, progress=False, **kwargs),
        reps,
    )


def _end_to_end(model, images: np.ndarray, k: int, reps: int) -> dict:
    """`reps` calls that each trace and XLA-compile the weight function anew.

    A first call on a model traces and compiles its weight function
    (`evaluate.weight_function`, cached per model); emptying the cache measures that.
    The function it leaves behind is reused for the steady-state timings.
    """
    from tf_graphvae import evaluate

    times = []
    for _ in range(reps):
        evaluate._WEIGHT_FUNCTIONS.clear()
        times += _time_log_likelihood(model, images, k, 1)
    return {
        "reps": reps,
        "seconds": [round(t, 3) for t in times],
        "samples_per_s": len(images) * k / median(times),
    }


def _sweep_entry(model, images: np.ndarray, k: int, chunk_rows: int, ipb, reps: int) -> dict:
    """Steady samples/s at one (chunk_rows, images_per_batch), after compiling its shapes."""
    from tf_graphvae import evaluate

    ipb_used, k_chunk = evaluate.chunk_shape(k, chunk_rows, ipb)
    batch = min(len(images), ipb_used)
    kwargs = {"chunk_rows": chunk_rows, "images_per_batch": ipb}
    is_default = (chunk_rows, ipb) == (evaluate.DEFAULT_CHUNK_ROWS, None)
    start = time.perf_counter()
    if not is_default:  # the default's shapes were compiled by the end-to-end calls
        evaluate.log_likelihood(model, images[:batch], k, progress=False, **kwargs)
    warmup = time.perf_counter() - start
    times = _time_log_likelihood(model, images, k, reps, **kwargs)
    entry = {
        "chunk_rows": chunk_rows,
        "images_per_batch": batch,
        "images_per_batch_arg": ipb,
        "rows_per_call": batch * k_chunk,
        "seconds": [round(t, 3) for t in times],
        "samples_per_s": len(images) * k / median(times),
        "warmup_seconds": round(warmup, 2),
        "default": is_default,
    }
    log(
        f"evaluation chunk_rows={chunk_rows} images_per_batch={batch}: "
        f"{entry['samples_per_s']:.0f} samples/s"
    )
    return entry


def _chunk_sweep(model, images: np.ndarray, mode: dict) -> list[dict]:
    from tf_graphvae import evaluate

    configs = list(mode["sweep"])
    if (evaluate.DEFAULT_CHUNK_ROWS, None) not in configs:
        configs.insert(0, (evaluate.DEFAULT_CHUNK_ROWS, None))
    return [
        _sweep_entry(model, images, mode["num_samples"], chunk_rows, ipb, mode["eval_reps"])
        for chunk_rows, ipb in configs
    ]


def _steady_samples_per_s(model, images: np.ndarray, k: int, reps: int) -> float:
    _time_log_likelihood(model, images, k, 1)  # warm-up (compiles)
    times = _time_log_likelihood(model, images, k, reps)
    return len(images) * k / median(times)


def bench_evaluation(models: dict, images: np.ndarray, mode: dict) -> dict:
    """Importance samples/s of `log_likelihood`, its FLOP rate, and a chunk-size sweep."""
    from tf_graphvae import evaluate

    k = mode["num_samples"]
    model = models["learned"]
    result = {
        "model": "learned, default networks, trained for "
        f"{int(model.optimizer.iterations.numpy())} steps",
        "num_samples": k,
        "num_images": len(images),
        "reps": mode["eval_reps"],
        "default_chunk_rows": evaluate.DEFAULT_CHUNK_ROWS,
    }
    result["end_to_end"] = _end_to_end(model, images, k, mode["end_to_end_reps"])
    log(f"evaluation end to end: {result['end_to_end']['samples_per_s']:.0f} samples/s")
    sweep = _chunk_sweep(model, images, mode)
    default = next(e for e in sweep if e["default"])
    if mode["eval_independent"]:
        # The same measurement for the mean-field model (the peer's architecture).
        rate = _steady_samples_per_s(models["independent"], images, k, mode["eval_reps"])
        result["independent_samples_per_s"] = rate
        log(f"evaluation independent: {rate:.0f} samples/s")
    result["chunk_sweep"] = sweep
    result["steady"] = {
        "chunk_rows": default["chunk_rows"],
        "images_per_batch": default["images_per_batch"],
        "samples_per_s": default["samples_per_s"],
        "seconds": default["seconds"],
    }
    end_to_end_s = median(result["end_to_end"]["seconds"])
    result["compile_seconds_per_call"] = max(0.0, end_to_end_s - median(default["seconds"]))
    flops = dense_flops(model, k)
    result["flops"] = flops
    result["gflops_per_s"] = flops["per_sample"] * default["samples_per_s"] / 1e9
    return result


def _matmul_seconds(fn, a, b, reps: int, min_seconds: float) -> tuple[float, int]:
    """Median seconds of one call of the compiled `fn(a, b)`, and the calls per timed rep."""
    fn(a, b).numpy()  # compile
    start = time.perf_counter()
    fn(a, b).numpy()
    once = time.perf_counter() - start
    iters = max(1, math.ceil(min_seconds / max(once, 1e-6)))

    def run():
        for _ in range(iters):
            result = fn(a, b)
        result.numpy()

    times = [t / iters for t in time_call(run, reps)]
    return median(times), iters


def bench_matmul(reps: int, min_seconds: float, rows: int) -> dict:
    """GFLOP/s of dense float32 matmuls under `tf.function(jit_compile=True)` (and without).

    Shapes: 2048^3, and the decoder's widest layer at the evaluation's rows per call,
    `[rows, 512] x [512, 784]`.
    """
    import tensorflow as tf

    out = {}
    shapes = {"square_2048": (2048, 2048, 2048), "decoder_output": (rows, DECODER_UNITS[-1], 784)}
    for name, (m, k, n) in shapes.items():
        a = tf.random.stateless_normal([m, k], seed=[1, 2])
        b = tf.random.stateless_normal([k, n], seed=[3, 4])
        entry = {"shape": [m, k, n]}
        for jit in (True, False):
            fn = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=jit)
            seconds, iters = _matmul_seconds(fn, a, b, reps, min_seconds)
            entry["xla_gflops_per_s" if jit else "eager_gflops_per_s"] = (
                2 * m * k * n / seconds / 1e9
            )
        entry["iterations_per_rep"] = iters
        out[name] = entry
        log(f"matmul {name}: {entry['xla_gflops_per_s']:.1f} GFLOP/s (XLA)")
    out["decoder_layers"] = _decoder_layers(rows, reps, min_seconds)
    out["reps"] = reps
    return out


def _decoder_layers(rows: int, reps: int, min_seconds: float) -> dict:
    """The decoder's own matmuls at the evaluation's rows per call, each alone under XLA:
    the FLOP rate the decoder could reach if nothing but its matmuls ran (the ceiling of
    the evaluation's FLOP rate, whose FLOPs are almost all the decoder's)."""
    import tensorflow as tf

    widths = [NUM_NODES * NODE_DIM, *DECODER_UNITS, math.prod(EVENT_SHAPE)]
    fn = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=True)
    layers, total_seconds, total_flops = [], 0.0, 0
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        a = tf.random.stateless_normal([rows, fan_in], seed=[1, 2])
        b = tf.random.stateless_normal([fan_in, fan_out], seed=[3, 4])
        seconds, _ = _matmul_seconds(fn, a, b, reps, min_seconds)
        flops = 2 * rows * fan_in * fan_out
        layers.append({"shape": [rows, fan_in, fan_out], "gflops_per_s": flops / seconds / 1e9})
        total_seconds, total_flops = total_seconds + seconds, total_flops + flops
    rate = total_flops / total_seconds / 1e9
    log(f"matmul decoder layers together: {rate:.1f} GFLOP/s (XLA)")
    return {"layers": layers, "ms": 1e3 * total_seconds, "xla_gflops_per_s": rate}


def bench_paired(model, images: np.ndarray, k: int, rounds: int, min_seconds: float) -> dict:
    """The evaluation's FLOP rate over the 2048^3 matmul's, the two timed in alternation.

    Each round times one `log_likelihood` call on `images` (compiled before) and then
    the matmul repeated for at least `min_seconds`; the ratio is taken per round and its
    median reported. A shared machine's speed drifts by 10% within minutes, and it moves
    both numbers of a round alike, where measurements a minute apart need not agree.
    """
    import tensorflow as tf

    from tf_graphvae import evaluate

    size = 2048
    a = tf.random.stateless_normal([size, size], seed=[1, 2])
    b = tf.random.stateless_normal([size, size], seed=[3, 4])
    matmul = tf.function(lambda a, b: tf.matmul(a, b), jit_compile=True)
    eval_flops = dense_flops(model, k)["per_sample"] * len(images) * k
    evaluate.log_likelihood(model, images, k, progress=False)  # compiled, warm
    eval_rates, matmul_rates = [], []
    for _ in range(rounds):
        (seconds,) = time_call(lambda: evaluate.log_likelihood(model, images, k, progress=False), 1)
        eval_rates.append(eval_flops / seconds / 1e9)
        seconds, _ = _matmul_seconds(matmul, a, b, 1, min_seconds)
        matmul_rates.append(2 * size**3 / seconds / 1e9)
    ratios = [e / m for e, m in zip(eval_rates, matmul_rates, strict=True)]
    log(f"evaluation / matmul, alternating: {median(ratios):.3f} (median of {rounds} rounds)")
    return {
        "rounds": rounds,
        "eval_gflops_per_s": [round(r, 1) for r in eval_rates],
        "matmul_gflops_per_s": [round(r, 1) for r in matmul_rates],
        "ratios": [round(r, 4) for r in ratios],
        "median_ratio": median(ratios),
    }
