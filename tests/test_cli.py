"""The `tfgvae-train` command, run as a user runs it."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_command


def test_train_on_digits_saves_a_loadable_model(tmp_path):
    model_dir = tmp_path / "run"
    result = run_command(
        "tfgvae-train",
        "--dataset=digits",
        "--epochs=2",
        "--num_nodes=3",
        "--node_dim=2",
        f"--model_dir={model_dir}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Edge probabilities" in result.stdout
    assert "ELBO" in result.stdout and "KL" in result.stdout
    import keras

    import tf_graphvae as tgv

    model = keras.saving.load_model(model_dir / "model.keras")
    assert isinstance(model, tgv.GraphVAE) and model.num_nodes == 3
    mu = model.edge_probabilities()
    assert mu.shape == (3, 3) and np.all(mu[np.triu_indices(3)] == 0)
    assert (model_dir / "history.json").exists()


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
    error_lines = [line for line in result.stderr.splitlines() if "error:" in line]
    assert len(error_lines) == 1 and message in error_lines[0]
    assert not model_dir.exists()
