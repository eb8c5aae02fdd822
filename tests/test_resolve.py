"""A run resolved once (`trainers/resolve.py`): what it works out, recorded before any model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tf_graphvae import data as tgv_data
from tf_graphvae.config import RunFolder, TrainConfig
from tf_graphvae.trainers import experiment
from tf_graphvae.trainers.resolve import describe, resolve

TINY = dict(dataset="digits", num_nodes=3, node_dim=2, epochs=2, batch_size=256, jit_compile=False)


def test_the_record_is_written_before_the_model_is_built(tmp_path, monkeypatch):
    def fail(run):
        raise RuntimeError("the model could not be built")

    monkeypatch.setattr(experiment, "model_from", fail)
    with pytest.raises(RuntimeError, match="could not be built"):
        experiment.train(TrainConfig.from_flat(**TINY), tmp_path, verbose=0)
    resolved = json.loads(RunFolder(tmp_path).config_file.read_text())["resolved"]
    assert resolved["likelihood"] == "bernoulli" and resolved["network"] == "mlp"
    assert resolved["event_shape"] == [8, 8, 1] and resolved["train_examples"] == 1437
    assert resolved["steps"] == 2 * 6 and resolved["jit_compile"] is False  # ceil(1437 / 256)
    assert resolved["model"]["num_nodes"] == 3 and resolved["model"]["seed"] == 0


def test_the_training_split_is_loaded_once_for_its_statistics(tmp_path, monkeypatch):
    x = np.random.default_rng(0).normal(size=(64, 5)).astype(np.float32) * 4 + 30
    np.savez(tmp_path / "v.npz", x_train=x[:48], x_test=x[48:])
    config = TrainConfig.from_flat(dataset=f"npz:{tmp_path / 'v.npz'}", standardize=True,
                                   num_nodes=2, node_dim=2, epochs=1, batch_size=16)  # fmt: skip
    loads = []
    real = tgv_data.load_numpy
    monkeypatch.setattr(tgv_data, "load_numpy", lambda *a, **k: loads.append(a) or real(*a, **k))
    result = experiment.train(config, tmp_path / "run", verbose=0)
    assert [a[1] for a in loads] == ["train"]  # check_scale and the model share one load
    stats = result.model.config.standardization
    np.testing.assert_allclose(stats["mean"], x[:48].mean(axis=0), rtol=1e-5)
    run = resolve(config)
    assert run.likelihood == "gaussian" and run.feature_stats == stats
    assert describe(run).endswith("likelihood gaussian (inferred), network mlp (inferred).")
