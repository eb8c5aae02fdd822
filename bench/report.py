"""The benchmark's report: library versions, target verdicts, and `bench.md`.

Imported by `run.py` as a top-level module from this folder (see common.py). `markdown`
turns the results dict (as written to `bench.json`) into the tables of `bench.md`, one
function per section.
"""

from __future__ import annotations

import platform

import numpy as np
from training import best_independent, best_learned


def versions() -> dict:
    """The versions of Python, TensorFlow, Keras, TFP, NumPy and tf_graphvae."""
    import keras
    import tensorflow as tf
    import tensorflow_probability as tfp

    out = {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "tensorflow_probability": tfp.__version__,
        "numpy": np.__version__,
    }
    import tf_graphvae

    out["tf_graphvae"] = tf_graphvae.__version__
    return out


def _target_values(results: dict) -> dict:
    values = {}
    training = results["training"]["ratios"]
    values["learned_over_full_time"] = training["learned_over_full_time"]
    values["learned_over_independent_time"] = training["learned_over_independent_time"]
    values["epoch_time_spread"] = max(
        r["epoch_spread"] for r in results["training"]["runs"].values()
    )
    evaluation = results["evaluation"]
    values["eval_flops_over_matmul"] = evaluation["eval_over_matmul"]  # set by run.py
    values["memory_peak_ratio"] = results["memory"].get("peak_ratio")
    peer = results["pythae"]
    tgv_train = best_independent(results["training"])["examples_per_s"]
    tgv_eval = evaluation["steady"]["samples_per_s"]
    for suffix, train_key, eval_key in (
        ("", "train_examples_per_s", "nll_samples_per_s"),
        ("_best", "best_train_examples_per_s", "best_nll_samples_per_s"),
    ):
        ok = peer.get(train_key) and peer.get(eval_key)
        values[f"train_tgv_over_pythae{suffix}"] = tgv_train / peer[train_key] if ok else None
        values[f"eval_tgv_over_pythae{suffix}"] = tgv_eval / peer[eval_key] if ok else None
    suite = results["wall_clock"]["test_suite"]
    passed = suite.get("seconds") is not None and not suite.get("exit_code")
    values["test_suite_minutes"] = suite["seconds"] / 60 if passed else None
    return values


def evaluate_targets(results: dict, targets: dict) -> dict:
    """Each target of `targets` (key -> (comparison, bound, what)): value and verdict."""
    values = _target_values(results)
    out = {}
    for key, (op, bound, what) in targets.items():
        value = values[key]
        if value is None:
            verdict = "n/a"
        else:
            ok = value <= bound if op == "<=" else value >= bound
            verdict = "PASS" if ok else "FAIL"
        out[key] = {"what": what, "value": value, "target": f"{op} {bound}", "result": verdict}
    return out


def _f(value, digits=2) -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _header(results: dict) -> list[str]:
    meta = results["meta"]
    cpu = meta["cpu"]
    v = meta["versions"]
    lines = [
        "## Benchmarks",
        "",
        f"`python bench/run.py{' --quick' if meta['mode'] == 'quick' else ''}` on "
        f"{meta['date'][:10]}: {cpu['cpu_count']} CPUs"
        f"{' (' + cpu['model'] + ')' if cpu.get('model') else ''} (affinity {cpu['affinity']}, "
        f"load average {cpu['load_average']} at start, {meta['load_average_end']} at end), "
        f"TensorFlow {v['tensorflow']}, Keras {v['keras']}, TFP {v['tensorflow_probability']}; "
        f"mode **{meta['mode']}**. Data: {results['data']['train']}. Every timing is the "
        "median of the stated repetitions after a warm-up.",
        "",
    ]
    if meta["mode"] == "quick":
        lines += ["> Quick mode: a smoke run with tiny step counts; not a benchmark.", ""]
    return lines


def _training_row(label: str, run: dict, base: float) -> str:
    return (
        f"| {label} | {'yes' if run['jit_compile'] else 'no'} "
        f"| {run.get('steps_per_execution', 1)} "
        f"| {_f(run['examples_per_s'], 0)} | {_f(run['ms_per_step'], 1)} "
        f"| {' / '.join(_f(t, 3) for t in run.get('epoch_seconds_min_median_max', []))} "
        f"| {_f(base / run['examples_per_s'])} | {_f(run['first_epoch_seconds'], 1)} |"
    )


def _command_lines(command: dict | None, tr: dict) -> tuple[list[str], list[str]]:
    """The `tfgvae-train` row of the training table, and the lines below the table."""
    if command is None:  # results written before the command was measured
        return [], []
    if command.get("status") != "ok":
        return [], [f"`tfgvae-train` command: {command.get('status')}.", ""]
    label = (
        f"`tfgvae-train` (command defaults: {command['structure']}, "
        f"steps_per_execution {command['steps_per_execution']})"
    )
    base = tr["runs"]["independent"]["examples_per_s"]
    best = best_learned(tr)
    ratio = command.get("over_best_learned_fit", command["examples_per_s"] / best["examples_per_s"])
    notes = [
        f"tfgvae-train / best model.fit row of the learned structure (XLA "
        f"{'yes' if best['jit_compile'] else 'no'}, steps/execution "
        f"{best.get('steps_per_execution', 1)}): {_f(ratio)}x examples/s. Command: "
        f"`{command['command']}` (epoch times from its `history.json`, `epoch_seconds`).",
        "",
    ]
    return [_training_row(label, command, base)], notes


def _training(results: dict) -> list[str]:
    tr = results["training"]
    lines = [
        f"### Training (`model.fit`, batch {tr['batch_size']}, default networks, "
        f"{tr['steps_per_epoch']} steps per epoch, median of {tr['reps']} epochs)",
        "",
        "| structure | XLA | steps/execution | examples/s | ms/step "
        "| epoch s min / median / max | time/example vs independent "
        "| first epoch incl. compile (s) |",
        "|---|---|---:|---:|---:|---|---:|---:|",
    ]
    base = tr["runs"]["independent"]["examples_per_s"]
    for run in tr["runs"].values():
        lines.append(_training_row(run["structure"], run, base))
    row, notes = _command_lines(results.get("command_training"), tr)
    lines += row
    lines += ["", *notes]
    lines += [
        f"XLA speed-up of the learned structure's step: "
        f"{_f(tr['ratios']['xla_speedup_learned'])}x.",
        "",
    ]
    return lines


def _evaluation(results: dict) -> list[str]:
    ev = results["evaluation"]
    mm = results["matmul"]
    lines = [
        f"### Importance-weighted log-likelihood (K = {ev['num_samples']}, "
        f"{ev['num_images']} images, {ev['model']})",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| importance samples/s, steady state (default chunk_rows "
        f"{ev['default_chunk_rows']}) | {_f(ev['steady']['samples_per_s'], 0)} |",
        f"| importance samples/s, one `log_likelihood` call incl. its compilation "
        f"| {_f(ev['end_to_end']['samples_per_s'], 0)} |",
        f"| trace + compile per `log_likelihood` call (s) "
        f"| {_f(ev['compile_seconds_per_call'], 1)} |",
        f"| dense FLOPs per importance sample | {ev['flops']['per_sample'] / 1e6:.3f} M |",
        f"| evaluation FLOP rate (GFLOP/s) | {_f(ev['gflops_per_s'], 1)} |",
        f"| matmul 2048^3, XLA (GFLOP/s) | {_f(mm['square_2048']['xla_gflops_per_s'], 1)} |",
        f"| matmul {'x'.join(map(str, mm['decoder_output']['shape']))}, XLA (GFLOP/s) "
        f"| {_f(mm['decoder_output']['xla_gflops_per_s'], 1)} |",
    ]
    layers = mm.get("decoder_layers")
    if layers:  # absent from results written before it existed
        shapes = ", ".join(
            f"{'x'.join(map(str, x['shape'][1:]))}: {x['gflops_per_s']:.0f}"
            for x in layers["layers"]
        )
        lines.append(
            f"| the decoder's matmuls alone, one after another, XLA (GFLOP/s; {shapes}) "
            f"| {_f(layers['xla_gflops_per_s'], 1)} |"
        )
        lines.append(
            "| evaluation FLOP rate / the decoder's matmuls alone "
            f"| {_f(ev['gflops_per_s'] / layers['xla_gflops_per_s'])} |"
        )
    paired = ev.get("paired")
    if paired:
        lines.append(
            f"| evaluation FLOP rate / matmul 2048^3, timed in alternation (median of "
            f"{paired['rounds']} rounds; eval {min(paired['eval_gflops_per_s'])}–"
            f"{max(paired['eval_gflops_per_s'])}, matmul {min(paired['matmul_gflops_per_s'])}–"
            f"{max(paired['matmul_gflops_per_s'])} GFLOP/s) | {_f(paired['median_ratio'])} |"
        )
    if "independent_samples_per_s" in ev:
        lines.append(
            f"| importance samples/s, independent structure "
            f"| {_f(ev['independent_samples_per_s'], 0)} |"
        )
    lines += [
        "",
        "| chunk_rows | images per batch | rows per call | samples/s |",
        "|---:|---:|---:|---:|",
    ]
    for e in ev["chunk_sweep"]:
        lines.append(
            f"| {e['chunk_rows']} | {e['images_per_batch']} | {e['rows_per_call']} "
            f"| {_f(e['samples_per_s'], 0)} |"
        )
    return lines


KERNEL_LABELS = {
    "bernoulli": "`log p(x|z)`: `tfd.Bernoulli` -> closed form",
    "flat": "`log p(x|z)`: sum over [H, W, C] -> product with ones over one pixel axis",
    "log_groups": "`log p(x|z)`: a `log` per pixel -> a `log` per 16 pixels",
    "binarise": "binarisation draw: default algorithm -> Philox named",
    "merge": "precision merge: logsumexp -> sigmoid/softplus",
    "elu": "bias + ELU of a 512-unit layer: `tf.nn.elu` -> exp form",
    "densities": "node KL, log q, log p: `tfd.Normal` -> closed forms",
    "noise": "latent noise: Box-Muller per node -> one quantile-function draw",
}


def _kernels(results: dict) -> list[str]:
    kernels = results.get("kernels")
    return kernel_lines(kernels) if kernels else []


def kernel_lines(kernels: dict) -> list[str]:
    """The kernels table of `kernels.bench_kernels`'s result."""
    lines = [
        "",
        f"### Kernels ({kernels['rows']} rows, XLA, median of {kernels['reps']})",
        "",
        "| term | before (ms) | now (ms) | speed-up |",
        "|---|---:|---:|---:|",
    ]
    for key, label in KERNEL_LABELS.items():
        if key not in kernels:  # results written before this row existed
            continue
        k = kernels[key]
        lines.append(
            f"| {label} | {_f(k['before_ms'], 1)} | {_f(k['after_ms'], 1)} | {_f(k['speedup'])}x |"
        )
    return lines


def _memory(results: dict) -> list[str]:
    lines = ["", "### Evaluation memory (fresh process per K, peak RSS)", ""]
    lines += [
        "| K | images | peak RSS (MiB) | growth over pre-evaluation peak (MiB) |",
        "|---:|---:|---:|---:|",
    ]
    for k, run in results["memory"]["runs"].items():
        if "peak_kib" in run:
            lines.append(
                f"| {k} | {run['num_images']} | {run['peak_kib'] / 1024:.0f} "
                f"| {run['growth_kib'] / 1024:.0f} |"
            )
        else:
            lines.append(f"| {k} | | error: {run.get('error', '')[:80]} | |")
    return lines


def _peer(results: dict) -> list[str]:
    peer = results["pythae"]
    tr = results["training"]
    lines = ["", "### Peer: pythae (PyTorch)", ""]
    runs = {t: r for t, r in peer.get("by_threads", {}).items() if r.get("status") == "ok"}
    if not runs:
        return lines + [f"Not measured: {peer.get('status')}."]
    first = next(iter(runs.values()))
    header = " | ".join(f"pythae, {t} thread{'s' if t != '1' else ''}" for t in runs)
    return lines + [
        f"pythae {first['pythae_version']}, torch {first['torch_version']}, the same MLPs "
        "(50-d latent); `get_nll` in `torch.no_grad()`. tf_graphvae uses TensorFlow's "
        "default thread pools.",
        "",
        f"| measure | tf_graphvae | {header} |",
        "|---|---:|" + "---:|" * len(runs),
        "| training examples/s (tgv: independent, steps_per_execution "
        f"{best_independent(tr).get('steps_per_execution', 1)}) "
        f"| {_f(best_independent(tr)['examples_per_s'], 0)} | "
        + " | ".join(_f(r["train_examples_per_s"], 0) for r in runs.values())
        + " |",
        f"| LL importance samples/s, K = {first['nll_num_samples']} (tgv: learned) "
        f"| {_f(results['evaluation']['steady']['samples_per_s'], 0)} | "
        + " | ".join(_f(r["nll_samples_per_s"], 0) for r in runs.values())
        + " |",
    ]


def _wall_clock(results: dict) -> list[str]:
    lines = ["", "### Wall clock", "", "| run | seconds |", "|---|---:|"]
    for name, entry in results["wall_clock"].items():
        seconds = entry.get("seconds")
        text = _f(seconds, 1) if seconds is not None else entry.get("status", "")
        if seconds is not None and entry.get("exit_code"):
            text += f" (exit {entry['exit_code']})"
        lines.append(f"| {name} | {text} |")
    return lines


def _targets(results: dict) -> list[str]:
    lines = ["", "### Targets", ""]
    if results["meta"]["mode"] == "quick":
        lines += [
            "> Quick mode: smoke-run numbers (2 steps per epoch, the fixed structures without "
            "XLA, memory processes running beside the timed work); these verdicts mean nothing.",
            "",
        ]
    lines += ["| measure | value | target | result |", "|---|---:|---:|---|"]
    command = results.get("command_training") or {}
    for key, t in results["targets"].items():
        lines.append(f"| {t['what']} | {_f(t['value'])} | {t['target']} | {t['result']} |")
        if key == "epoch_time_spread" and command.get("status") == "ok":
            lines.append(
                "| epoch time max / min, `tfgvae-train` (beside the target, not in it) "
                f"| {_f(command['epoch_spread'])} | | |"
            )
    return lines


def markdown(results: dict) -> str:
    """`bench.md`: the results as markdown tables ready to paste into the README."""
    lines = _header(results) + _training(results) + _evaluation(results) + _kernels(results)
    lines += _memory(results) + _peer(results) + _wall_clock(results) + _targets(results)
    return "\n".join(lines) + "\n"
