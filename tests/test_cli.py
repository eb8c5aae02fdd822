"""The `tfgvae-train` command, run as a user runs it."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from conftest import assert_picture, run_command


def test_train_on_digits_saves_a_loadable_model_and_prints_no_start_up_lines(tmp_path):
    model_dir = tmp_path / "run"
    result = run_command(
        "tfgvae-train",
        "--dataset=digits",
        "--epochs=2",
        "--num_nodes=3",
        "--node_dim=2",
        "--jit_compile",  # 24 steps: compiled only when asked (TrainConfig.train_step_xla)
        f"--model_dir={model_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Edge probabilities" in result.stdout
    assert "ELBO" in result.stdout and "KL" in result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Data: digits train -> test, examples [8, 8, 1]; likelihood bernoulli (inferred), "
        "network mlp (inferred)."
    )
    compiling = lines.index("Compiling the training step with XLA (once per process)...")
    compiled = next(k for k, line in enumerate(lines) if line.startswith("Compiled and ran"))
    assert compiling < lines.index("Epoch 1/2") < compiled
    for marker in ("oneDNN", "cudart_stub", "absl::InitializeLog", "I0000"):
        assert marker not in result.stdout + result.stderr  # no TensorFlow start-up lines

    import tf_graphvae as tgv

    model = tgv.load_model(model_dir / "model.keras")
    assert isinstance(model, tgv.GraphVAE) and model.num_nodes == 3
    mu = model.edge_probabilities()
    assert mu.shape == (3, 3) and np.all(mu[np.triu_indices(3)] == 0)
    assert (model_dir / "history.json").exists()
    saved = json.loads((model_dir / "config.json").read_text())
    assert saved["model"]["likelihood"] is None  # unset: inferred again on resume
    resolved = saved["resolved"]
    assert {k: resolved[k] for k in ("likelihood", "network", "jit_compile")} == {
        "likelihood": "bernoulli",
        "network": "mlp",
        "jit_compile": True,
    }
    assert resolved["model"]["num_nodes"] == 3 and resolved["model"]["edge_costs"] is None
    # Pictures of the model beside it, named in the last lines.
    for name in ("samples.png", "reconstructions.png"):
        assert_picture(model_dir / name)
    files = next(line for line in lines if line.startswith("Files in "))
    assert files.endswith(", samples.png, reconstructions.png"), files


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        ("--structure=tree", "structure"),
        ("--dataset=imagenet", "dataset"),
        ("--epochs=0", "epochs"),
        ("--batch_size=-1", "batch_size"),
        ("--num_nodes=0", "num_nodes"),
        ("--node_dim=0", "node_dim"),
        ("--learning_rate=0", "learning_rate"),
        ("--temperature=0", "temperature"),
    ],
)
def test_bad_flags_are_one_line_and_exit_status_2(tmp_path, flag, message):
    model_dir = tmp_path / "run"
    result = run_command("tfgvae-train", flag, f"--model_dir={model_dir}", timeout=120)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    # Exactly one line: no TensorFlow start-up lines either.
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "error:" in result.stderr and message in result.stderr
    assert not model_dir.exists()


@pytest.mark.parametrize(
    "command", ["tfgvae-train", "tfgvae-compare", "tfgvae-evaluate", "tfgvae-tune"]
)
def test_a_bad_flag_is_answered_before_tensorflow_starts(command):
    start = time.monotonic()
    result = run_command(command, "--dataset=nosuch", timeout=60)
    elapsed = time.monotonic() - start
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert result.stdout == ""
    # TensorFlow's import alone takes seconds here; the flag error comes before it.
    assert elapsed < 3.0, elapsed


def test_help_lists_the_commands_own_flags():
    result = run_command("tfgvae-train", "--help", timeout=60)
    assert result.returncode == 0
    for flag in ("--dataset", "--structure", "--num_nodes", "--node_dim", "--edge_cost"):
        assert flag in result.stdout
    assert "(default: '5')" in result.stdout  # num_nodes
    assert "Try --helpfull" not in result.stdout


@pytest.mark.parametrize("command", ["tfgvae-train", "tfgvae-export", "tfgvae-ablation"])
def test_every_command_tells_its_version(command):
    from importlib.metadata import version

    result = run_command(command, "--version", timeout=60)
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == f"{command} (tf-graphvae) {version('tf-graphvae')}\n"
