"""`export_sampler` and `tfgvae-export`: a SavedModel for TF Serving, loaded without tf_graphvae."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from _export_consumers import (
    BIN,
    LOADER,
    SIGNATURE_OUTPUTS,
    SUBPROCESS_ENV,
    graph_variable_handles,
    run_saved_model_cli,
    run_session_loader,
)
from conftest import tiny_model

import tf_graphvae as tgv
from tf_graphvae import evaluate
from tf_graphvae.export import METADATA_PATH

LL_SAMPLES = 100  # K of the exported log_likelihood signature
CAP = 1024  # the default max_num_samples
SIGNATURES = ("serving_default", "log_likelihood", "edge_probabilities", "encode", "reconstruct")


@pytest.fixture(scope="module")
def binary_digits(digits) -> np.ndarray:
    """Real digits thresholded at 0.5: binary images, as the Bernoulli likelihood expects."""
    return (digits > 0.5).astype(np.float32)


@pytest.fixture(scope="module")
def model(digits):
    """A tiny learned-structure model after one short epoch, with non-trivial gates."""
    import keras

    keras.utils.set_random_seed(0)
    model = tiny_model("learned")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    model.fit(digits[:256], epochs=1, batch_size=64, verbose=0)
    # Gate probabilities away from 0.5 (one likely, one unlikely, one uncertain edge), so
    # the exported structure and edge probabilities are really the trained variables'.
    model.gates.gate_logits.assign([2.0, -2.0, 0.5])
    return model


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory) -> Path:
    return tgv.export_sampler(
        model, tmp_path_factory.mktemp("exports") / "graphvae", log_likelihood_samples=LL_SAMPLES
    )


@pytest.fixture(scope="module")
def loaded(exported, binary_digits, tmp_path_factory):
    """What the export returns when loaded in a separate, TensorFlow-only process."""
    work = tmp_path_factory.mktemp("loader")
    # The full batch (256 images, the cap) takes K = 100 samples in chunks of 4096 // 256 = 16.
    np.savez(work / "inputs.npz", images=binary_digits[:5], full_batch=binary_digits[:256])
    result = subprocess.run(
        [sys.executable, "-c", LOADER, str(exported), str(work / "inputs.npz"),
         str(work / "out.npz"), str(CAP)],
        capture_output=True, text=True, timeout=240, cwd=work, env=SUBPROCESS_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(work / "out.npz") as out:
        out = dict(out)
    out["errors"] = json.loads(str(out["errors"]))
    out["modules"] = json.loads(str(out["modules"]))
    return out


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_loads_without_tf_graphvae_or_tfp(loaded):
    assert loaded["modules"] == []


def test_sampler_is_deterministic_and_equals_model_sample(model, loaded):
    np.testing.assert_array_equal(loaded["samples"], loaded["samples_again"])
    np.testing.assert_array_equal(loaded["structure"], loaded["structure_again"])
    assert loaded["samples"].shape == (4, 8, 8, 1) and loaded["samples"].dtype == np.float32
    np.testing.assert_allclose(loaded["samples"], model.sample(4, seed=7), rtol=0, atol=1e-5)
    # The same gate matrices as the model draws with the seed convention of model.sample.
    _, gates = model.sample_images(4, tf.constant([0, 7], tf.int32))
    np.testing.assert_array_equal(loaded["structure"], gates.numpy())


def test_structure_is_binary_and_below_the_diagonal(loaded):
    structure = loaded["structure"]
    assert structure.shape == (4, 3, 3)
    assert set(np.unique(structure)) <= {0.0, 1.0}
    assert np.all(structure[:, np.triu_indices(3)[0], np.triu_indices(3)[1]] == 0)


def test_edge_probabilities(model, loaded):
    mu = model.edge_probabilities()
    # The assigned logits of edges (2, 0), (2, 1), (1, 0) (Gates' edge order), not 0.5.
    np.testing.assert_allclose([mu[2, 0], mu[2, 1], mu[1, 0]], 1 / (1 + np.exp([-2.0, 2.0, -0.5])))
    np.testing.assert_allclose(loaded["edge_probabilities"], mu, rtol=0, atol=1e-6)


def test_encode_and_reconstruct_equal_the_models(model, binary_digits, loaded):
    images = binary_digits[:5]
    code, scale = model.encode(images, return_scale=True)
    np.testing.assert_allclose(loaded["code"], code, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded["scale"], scale, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded["reconstruction"], model.reconstruct(images), atol=1e-5)
    assert loaded["code"].shape == (5, 6)  # 3 nodes of 2


def test_log_likelihood_matches_the_importance_weighted_estimate(model, binary_digits, loaded):
    images = binary_digits[:5]
    exported_ll = loaded["log_likelihood"]
    np.testing.assert_array_equal(exported_ll, loaded["log_likelihood_again"])  # fixed seed
    assert exported_ll.shape == (5,) and np.all(np.isfinite(exported_ll))
    # The export and `evaluate.log_likelihood` draw the K = 100 importance samples from
    # different random streams, so each gives an independent draw of the same estimator.
    # R independent references per image (each copy of an image gets its own samples)
    # give the estimator's mean and spread; the export's difference from the mean has
    # standard deviation sigma * sqrt(1 + 1 / R), and 5 of them bound it.
    repeats = 20
    reference = evaluate.log_likelihood(
        model, np.tile(images, (repeats, 1, 1, 1)), LL_SAMPLES, seed=3, jit_compile=False
    ).reshape(repeats, len(images))
    mean, spread = reference.mean(axis=0), reference.std(axis=0, ddof=1)
    assert np.all(spread > 0)
    bound = 5.0 * spread * np.sqrt(1.0 + 1.0 / repeats) + 1e-3
    assert np.all(np.abs(exported_ll - mean) < bound), (exported_ll, mean, spread)
    # The same in a full batch, where the K samples are drawn in 7 chunks of at most 16.
    chunked_ll = loaded["log_likelihood_full"][: len(images)]
    assert loaded["log_likelihood_full"].shape == (256,)
    assert np.all(np.abs(chunked_ll - mean) < bound), (chunked_ll, mean, spread)


def test_bad_requests_fail_in_the_loaded_model(loaded):
    errors = loaded["errors"]
    assert f"num_samples must be in [1, {CAP}]" in errors["zero_samples"]
    assert f"num_samples must be in [1, {CAP}]" in errors["too_many_samples"]
    assert f"num_samples must be in [1, {CAP}]" in errors["huge_num_samples"]
    assert "seed must fit in int32" in errors["seed_out_of_int32"]
    assert "NaN or inf" in errors["nan_images"]
    assert "values in [0, 1]" in errors["images_out_of_range"]
    assert "1 to 256 images" in errors["too_many_images"]


def test_metadata(exported, model):
    metadata = json.loads((exported / METADATA_PATH).read_text())
    assert metadata["log_likelihood_samples"] == LL_SAMPLES
    assert metadata["max_num_samples"] == CAP
    assert metadata["event_shape"] == [8, 8, 1]
    assert metadata["structure"] == "learned" and metadata["likelihood"] == "bernoulli"
    assert metadata["log_likelihood_units"] == "nats per image"
    assert metadata["tf_graphvae_version"] == tgv.__version__
    assert list(metadata["signatures"]) == list(SIGNATURES)


def test_saved_model_cli_lists_the_signatures(exported):
    result = subprocess.run(
        [str(BIN / "saved_model_cli"), "show", "--dir", str(exported), "--all"],
        capture_output=True, text=True, timeout=240, env=SUBPROCESS_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for name in SIGNATURES:
        assert f"signature_def['{name}']" in result.stdout
    for name in ("num_samples", "seed", "images"):
        assert f"inputs['{name}']" in result.stdout
    for name in ("samples", "structure", "log_likelihood", "edge_probabilities", "code",
                 "scale", "reconstruction"):  # fmt: skip
        assert f"outputs['{name}']" in result.stdout


# tf.saved_model.load's output names (the `loaded` fixture) of each signature's outputs.
LOADED_KEYS = {("serving_default", "samples"): "samples",
               ("serving_default", "structure"): "structure",
               ("log_likelihood", "log_likelihood"): "log_likelihood",
               ("edge_probabilities", "edge_probabilities"): "edge_probabilities",
               ("encode", "code"): "code", ("encode", "scale"): "scale",
               ("reconstruct", "reconstruction"): "reconstruction"}  # fmt: skip


def _assert_same_as_loaded(outputs: dict, loaded: dict):
    """`outputs[(signature, output)]` equal what `tf.saved_model.load` gave, for every one."""
    assert sorted(outputs) == sorted(LOADED_KEYS)
    for key, array in outputs.items():
        expected = loaded[LOADED_KEYS[key]]
        assert array.shape == expected.shape and array.dtype == np.float32, key
        np.testing.assert_allclose(array, expected, rtol=1e-5, atol=1e-5, err_msg=str(key))
    # The sampled gate matrices are 0/1: exactly the same, not only close.
    np.testing.assert_array_equal(outputs[("serving_default", "structure")], loaded["structure"])


def test_saved_model_cli_runs_every_signature(exported, binary_digits, loaded, tmp_path):
    # The session path TF Serving takes: restore, then run the signature's tensors.
    np.save(tmp_path / "images.npy", binary_digits[:5])
    outputs = {}
    for signature, names in SIGNATURE_OUTPUTS.items():
        kwargs = {"exprs": "num_samples=4;seed=7"} if signature == "serving_default" else {}
        if signature in ("log_likelihood", "encode", "reconstruct"):
            kwargs["images"] = tmp_path / "images.npy"
        result = run_saved_model_cli(exported, signature, tmp_path, **kwargs)
        outputs.update({(signature, name): result[name] for name in names})
    _assert_same_as_loaded(outputs, loaded)


def test_v1_session_loader_runs_every_signature(exported, binary_digits, loaded, tmp_path):
    out = run_session_loader(exported, binary_digits[:5], num_samples=4, seed=7, work=tmp_path)
    assert f"num_samples must be in [1, {CAP}]" in str(out.pop("error"))
    _assert_same_as_loaded({tuple(key.split(".")): value for key, value in out.items()}, loaded)


def test_one_variable_handle_per_model_variable(exported, model):
    # Two handles per variable (one restored, one read by the signatures) is what broke
    # the session loaders; the checkpoint alone cannot show it (it names each once).
    handles = graph_variable_handles(exported)
    shapes = sorted(tuple(v.shape) for v in model.variables)
    assert len(handles) == len(model.variables)
    assert len({name for name, _ in handles}) == len(handles)
    assert sorted(shape for _, shape in handles) == shapes
    checkpoint = dict(tf.train.list_variables(str(exported / "variables" / "variables")))
    checkpoint.pop("_CHECKPOINTABLE_OBJECT_GRAPH")
    assert sorted(tuple(shape) for shape in checkpoint.values()) == shapes


def test_versions_count_up_and_are_never_overwritten(model, tmp_path):
    base = tmp_path / "graphvae"
    (base / "notes").mkdir(parents=True)  # not a version: ignored
    assert tgv.export_sampler(model, base, log_likelihood_samples=2) == base / "1"
    assert tgv.export_sampler(model, base, log_likelihood_samples=2) == base / "2"
    before = _snapshot(base / "2")
    with pytest.raises(FileExistsError, match="already exists"):
        tgv.export_sampler(model, base, version=2)
    assert _snapshot(base / "2") == before
    assert sorted(os.listdir(base)) == ["1", "2", "notes"]


def test_failed_export_leaves_no_partial_version(model, tmp_path, monkeypatch):
    def half_written_save(obj, export_dir, **kwargs):
        Path(export_dir, "saved_model.pb").write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", half_written_save)
    base = tmp_path / "graphvae"
    with pytest.raises(OSError, match="disk full"):
        tgv.export_sampler(model, base, version=5)
    assert os.listdir(base) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"version": 0}, "version"),
        ({"log_likelihood_samples": 0}, "log_likelihood_samples"),
        ({"max_num_samples": 1.5}, "max_num_samples"),
    ],
)
def test_bad_arguments(model, tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        tgv.export_sampler(model, tmp_path / "graphvae", **kwargs)
    assert not (tmp_path / "graphvae").exists()


def _cli(*args):
    return subprocess.run(
        [str(BIN / "tfgvae-export"), *args],
        capture_output=True, text=True, timeout=240, env=SUBPROCESS_ENV,
    )  # fmt: skip


def _assert_one_line_error(result, message):
    """Exit status 2 and one error line (TensorFlow's own start-up log lines aside)."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    error_lines = [line for line in lines if line.startswith("tfgvae-export: error:")]
    assert len(error_lines) == 1 and message in error_lines[0], result.stderr[-3000:]


def test_cli_exports_a_saved_model_and_refuses_an_existing_version(model, tmp_path):
    model_dir, base = tmp_path / "run", tmp_path / "exports"
    model_dir.mkdir()
    model.save(model_dir / "model.keras")
    args = (f"--model_dir={model_dir}", f"--export_base={base}", "--log_likelihood_samples=3")
    result = _cli(*args)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (base / "1" / "saved_model.pb").is_file()
    assert str(base / "1") in result.stdout
    for name in ("serving_default", "log_likelihood", "edge_probabilities", "num_samples"):
        assert name in result.stdout
    before = _snapshot(base)
    _assert_one_line_error(_cli(*args, "--export_version=1"), "already exists")
    _assert_one_line_error(_cli(*args, "--version=1"), "--export_version")
    assert _snapshot(base) == before and sorted(os.listdir(base)) == ["1"]


def test_cli_without_a_model_is_one_line_and_exit_status_2(tmp_path):
    result = _cli(f"--model_dir={tmp_path}", f"--export_base={tmp_path / 'exports'}")
    _assert_one_line_error(result, "model.keras")
    assert not (tmp_path / "exports").exists()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tf_serving_serves_the_sampler(exported):
    server = shutil.which("tensorflow_model_server")
    if server is None:
        pytest.skip(
            "tensorflow_model_server is not on PATH: install TF Serving (or run its docker "
            "image) to check that the export is served over REST."
        )
    rest_port, grpc_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [server, f"--port={grpc_port}", f"--rest_api_port={rest_port}",
         "--rest_api_num_threads=2", "--model_name=graphvae",
         f"--model_base_path={exported.parent}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{rest_port}/v1/models/graphvae"
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, process.stderr.read().decode()[-3000:]
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if "AVAILABLE" in response.read().decode():
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "TF Serving did not load the model in 120 s"
            time.sleep(0.5)
        body = {"signature_name": "serving_default", "inputs": {"num_samples": 4, "seed": 0}}
        request = urllib.request.Request(
            f"{url}:predict", data=json.dumps(body).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=60) as response:
            outputs = json.loads(response.read())["outputs"]
        assert np.asarray(outputs["samples"]).shape == (4, 8, 8, 1)
        assert np.asarray(outputs["structure"]).shape == (4, 3, 3)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
