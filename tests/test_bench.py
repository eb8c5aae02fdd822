"""The benchmark suite runs end to end, and the compiled steps it times trace only once."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest
import tensorflow as tf
from conftest import ROOT, tiny_model

from tf_graphvae import evaluate

BENCH = ROOT / "bench"

STRUCTURES = ("independent", "chain", "full", "learned")


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _run_script(name: str, *args: str) -> None:
    """Runs `bench/<name>` as a user would, in its own process; it must succeed."""
    proc = subprocess.run(
        [sys.executable, str(BENCH / name), *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.bench_scripts
def test_quick_benchmark_runs_and_writes_its_files(tmp_path):
    _run_script("run.py", "--quick", f"--output_dir={tmp_path}")
    results = json.loads((tmp_path / "bench.json").read_text())

    meta = results["meta"]
    assert meta["mode"] == "quick"
    assert _positive(meta["cpu"]["cpu_count"])
    assert meta["date"]
    for package in ("tensorflow", "keras", "tensorflow_probability"):
        assert meta["versions"][package]

    training = results["training"]
    for name in (*STRUCTURES, "learned_nojit"):
        run = training["runs"][name]
        assert _positive(run["examples_per_s"]), name
        assert len(run["epoch_seconds"]) == training["reps"]
    assert training["runs"]["learned"]["jit_compile"] is True
    assert training["runs"]["learned_nojit"]["jit_compile"] is False
    for key in ("learned_over_full_time", "learned_over_independent_time", "xla_speedup_learned"):
        assert _positive(training["ratios"][key]), key

    evaluation = results["evaluation"]
    assert _positive(evaluation["steady"]["samples_per_s"])
    assert _positive(evaluation["end_to_end"]["samples_per_s"])
    assert _positive(evaluation["flops"]["per_sample"])
    assert _positive(evaluation["gflops_per_s"])
    assert evaluation["chunk_sweep"] and all(
        _positive(e["samples_per_s"]) for e in evaluation["chunk_sweep"]
    )
    for shape in ("square_2048", "decoder_output"):
        assert _positive(results["matmul"][shape]["xla_gflops_per_s"]), shape

    memory = results["memory"]
    assert len(memory["runs"]) == 2
    for run in memory["runs"].values():
        assert _positive(run["peak_kib"]) and _positive(run["baseline_peak_kib"]), run
    assert _positive(memory["peak_ratio"])

    assert results["pythae"]["status"].startswith("skipped")
    assert results["command_training"]["status"].startswith("skipped")
    assert "not measured" in results["wall_clock"]["test_suite"]["status"]
    assert {"learned_over_full_time", "eval_flops_over_matmul", "memory_peak_ratio"} <= set(
        results["targets"]
    )
    for target in results["targets"].values():
        assert target["result"] in ("PASS", "FAIL", "n/a")

    table = (tmp_path / "bench.md").read_text()
    assert "| learned | yes |" in table and "### Targets" in table
    assert "`tfgvae-train` command: skipped (quick mode)." in table
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"
    _check_command_row(results, tmp_path)


def _check_command_row(results, tmp_path):
    """The full-mode `tfgvae-train` row and lines, rendered from the quick run's results."""
    sys.path.insert(0, str(BENCH))
    import processes
    import report

    missing = processes.command_training(tmp_path, 2, 1, tmp_path)  # no IDX files there
    assert missing == {"status": "not run: Fashion-MNIST files missing"}
    command = {
        "status": "ok",
        "command": "tfgvae-train --dataset=fashion_mnist --model_dir=<tmp>/command",
        "structure": "learned",
        "jit_compile": True,
        "steps_per_execution": 25,
        "examples_per_s": 2000.0,
        "ms_per_step": 64.0,
        "epoch_seconds_min_median_max": [0.1, 0.128, 0.14],
        "epoch_spread": 1.4,
        "first_epoch_seconds": 12.0,
        "over_best_learned_fit": 0.5,
    }
    table = report.markdown(results | {"command_training": command})
    assert "| `tfgvae-train` (command defaults: learned, steps_per_execution 25) | yes | 25 |" in (
        table
    )
    assert "tfgvae-train / best model.fit row of the learned structure" in table
    assert "0.50x" in table and "| epoch time max / min, `tfgvae-train`" in table


# ------------------------------------------------------------------------- tracing
def _tf_functions(root) -> dict[str, object]:
    """The `tf.function`s reachable from a callable through closures and `__wrapped__`.

    Keras 3's TensorFlow trainer (`keras/src/backend/tensorflow/trainer.py`,
    `_make_function`) sets `model.train_function` to a plain Python function whose
    closure holds the `tf.function`s `multi_step_on_iterator` and (wrapped by
    `_autoconvert_optionals`) `one_step_on_data`, the step that is XLA-compiled.
    """
    found, seen, stack = {}, set(), [root]
    while stack:
        fn = stack.pop()
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        if hasattr(fn, "experimental_get_tracing_count"):
            found[fn.name] = fn
            fn = fn.python_function
        if not isinstance(fn, types.FunctionType):
            continue
        if hasattr(fn, "__wrapped__"):
            stack.append(fn.__wrapped__)
        for cell in fn.__closure__ or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if isinstance(value, types.FunctionType) or hasattr(
                value, "experimental_get_tracing_count"
            ):
                stack.append(value)
    return found


def _tracing_counts(model) -> dict[str, int]:
    functions = _tf_functions(model.train_function)
    assert functions, "no tf.function found behind model.train_function"
    return {name: fn.experimental_get_tracing_count() for name, fn in functions.items()}


def _fit_model(structure, prebuild_optimizer, jit_compile=True):
    import keras

    model = tiny_model(structure)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit_compile)
    if prebuild_optimizer:
        model.optimizer.build(model.trainable_variables)
    return model


def _dataset(digits):
    images = digits[:256]  # a multiple of the batch: every batch has the same shape
    return tf.data.Dataset.from_tensor_slices(images).batch(64).cache().prefetch(2)


@pytest.mark.parametrize("structure", ["learned", "independent"])
def test_compiled_train_step_traces_once(digits, structure):
    # Keras builds an unbuilt optimizer inside the first trace of the step (no strategy
    # scope: `_maybe_symbolic_build` defers it); creating its slot variables there makes
    # tf.function trace the step a second time. Built beforehand, the step traces once.
    model = _fit_model(structure, prebuild_optimizer=True)
    ds = _dataset(digits)
    model.fit(ds, epochs=3, verbose=0, shuffle=False)
    counts = _tracing_counts(model)
    assert "one_step_on_data" in counts, counts  # the XLA-compiled step
    assert all(count == 1 for count in counts.values()), counts

    model.fit(ds, epochs=2, verbose=0, shuffle=False)  # a second fit with the same shapes
    assert _tracing_counts(model) == counts
    assert int(model.optimizer.iterations.numpy()) == 5 * 4


def test_fit_builds_the_optimizer_so_the_step_traces_once(digits):
    """As `GraphVAE` is compiled by users (optimizer unbuilt): `fit` builds it first."""
    model = _fit_model("learned", prebuild_optimizer=False)
    ds = _dataset(digits)
    model.fit(ds, epochs=1, verbose=0, shuffle=False)
    counts = _tracing_counts(model)
    assert all(count == 1 for count in counts.values()), counts
    model.fit(ds, epochs=2, verbose=0, shuffle=False)
    model.fit(ds, epochs=1, verbose=0, shuffle=False)
    assert _tracing_counts(model) == counts  # never again, whatever the epoch or fit


def test_tracing_helper_sees_a_retrace(digits):
    """The check above can fail: a batch of a new shape does retrace the step (tracing is
    the same without XLA, which would compile each shape for tens of seconds here)."""
    model = _fit_model("learned", prebuild_optimizer=True, jit_compile=False)
    model.fit(digits[:128], batch_size=64, epochs=1, verbose=0)
    before = _tracing_counts(model)["one_step_on_data"]
    model.fit(digits[:100], batch_size=50, epochs=1, verbose=0)  # 2 steps per epoch again
    assert _tracing_counts(model)["one_step_on_data"] > before


@pytest.fixture
def recorded_weight_fns(monkeypatch):
    """The `tf.function`s that `evaluate.log_likelihood` makes, in order.

    `log_likelihood` builds its compiled weight function inside the call
    (`evaluate._weight_fn`) and does not expose it; the module attribute is wrapped to
    keep a reference (evaluate.py is not changed).
    """
    made = []
    original = evaluate._weight_fn

    def recording(model, jit_compile, hard_gates=None):
        fn = original(model, jit_compile, hard_gates)
        made.append(fn)
        return fn

    monkeypatch.setattr(evaluate, "_weight_fn", recording)
    return made


def test_weight_function_traces_once_per_shape(binary_digits, recorded_weight_fns):
    model = tiny_model("learned")
    # 30 images in batches of 10; K = 20 in chunks of 100 // 10 = 10 samples: 6 calls of
    # one shape.
    ll = evaluate.log_likelihood(
        model, binary_digits[:30], 20, chunk_rows=100, images_per_batch=10, progress=False
    )
    assert np.all(np.isfinite(ll))
    assert len(recorded_weight_fns) == 1
    assert recorded_weight_fns[0].experimental_get_tracing_count() == 1


def test_weight_function_is_made_once_per_model(binary_digits, recorded_weight_fns):
    model = tiny_model("learned")
    for _ in range(3):
        evaluate.log_likelihood(model, binary_digits[:10], 10, progress=False)
    assert len(recorded_weight_fns) == 1
    assert recorded_weight_fns[0].experimental_get_tracing_count() == 1


def test_weight_function_ragged_batches_trace_at_most_twice(binary_digits, recorded_weight_fns):
    model = tiny_model("learned")
    # 25 images (a last batch of 5) and K = 25 (a last chunk of 5 samples): `k` is a
    # tensor argument, so only the image batch's shape can cause a retrace, and
    # `reduce_retracing` relaxes it to an unknown batch size after the first.
    evaluate.log_likelihood(
        model, binary_digits[:25], 25, chunk_rows=100, images_per_batch=10, progress=False
    )
    assert len(recorded_weight_fns) == 1
    assert recorded_weight_fns[0].experimental_get_tracing_count() <= 2


@pytest.mark.bench_scripts
def test_the_gpu_benchmark_refuses_a_machine_without_gpu_and_its_parts_run_on_cpu(capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible: bench/gpu.py runs in full there")
    sys.path.insert(0, str(BENCH))
    import gpu
    import run

    assert run.main(["--device=gpu"]) == 2  # bench/run.py's own entry, in this process
    assert "no GPU is visible" in capsys.readouterr().err

    images = (np.random.default_rng(0).uniform(size=(64, 28, 28, 1)) < 0.3).astype("float32")
    rows = gpu.bench_training(images, epochs=1, batches=(32,), structures=("learned",))
    evaluation = gpu.bench_evaluation(images[:4], num_samples=20)
    step = gpu.mirrored_step(images, devices=["/cpu:0"])
    assert len(rows) == 2 and all(r["examples_per_s"] > 0 for r in rows)
    assert evaluation["finite"] and step["max_weight_diff"] < 1e-5
    results = {"date": "2026-01-01", "gpus": ["cpu"], "data": "random", "training": rows}
    report = gpu.markdown(results | {"evaluation": evaluation, "mirrored_step": step})
    assert "mixed_bfloat16" in report and "MirroredStrategy over 1" in report


@pytest.mark.bench_scripts
def test_the_evaluation_profile_times_the_kernels_of_a_call(tmp_path):
    """`bench/profile_evaluation.py` finds XLA's kernel events inside each compiled call."""
    _run_script(
        "profile_evaluation.py", "--calls=2", "--rounds=1", "--images=2", f"--output_dir={tmp_path}"
    )
    summary = json.loads((tmp_path / "profile_evaluation.json").read_text())
    assert summary["calls"] == 2
    assert 0 < summary["before_first_matmul_ms"] < summary["wall_ms"]
    assert 0 < summary["matmul_ms"] < summary["wall_ms"]
    kernels = summary["kernels_ms_per_call"]
    assert any(name.startswith("MatMul") for name in kernels)
    assert all(_positive(ms) for ms in kernels.values())
    assert "| wall time |" in (tmp_path / "profile_evaluation.md").read_text()
    rates = summary["concurrency"]["samples_per_s"]
    assert _positive(rates["1"]) and _positive(rates["2"])
