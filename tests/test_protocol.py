"""The evaluation protocol of Table 1: per-row gate draws, one binarisation, paired stats,
the Ladder VAE decoder and the data of the paper's protocol."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
from conftest import SHARED_DATA as SHARED
from conftest import tiny_model

from tf_graphvae import data as tgv_data
from tf_graphvae import scoring
from tf_graphvae.trainers.experiment import TrainConfig, make_datasets
from tf_graphvae.trainers.paper import table1


def test_per_batch_gates_draw_a_structure_per_row_outside_training():
    model = tiny_model("learned", num_nodes=4, node_dim=2, per_example_gates=False)
    seed = tf.constant([3, 4], tf.int32)
    train = np.asarray(model.gates(np.int32(64), training=True, seed=seed))
    assert np.all(train == train[:1])  # training: one structure shared by the batch
    evaluation = np.asarray(model.gates(np.int32(64), training=False, seed=seed)).reshape(64, -1)
    # mu = 0.5 on 6 edges: 64 rows drawn from 64 possible structures are never all equal
    # (probability 64^-63); many distinct ones are expected (about 40).
    assert len({row.tobytes() for row in evaluation}) > 20
    log_w, _, _ = model.importance_terms(tf.zeros([2, 8, 8, 1]), 50, seed)
    assert np.std(np.asarray(log_w)[:, 0]) > 0


def test_map_gates_override_per_call():
    model = tiny_model("learned", num_nodes=3, node_dim=2)
    model.gates.gate_logits.assign([2.0, -2.0, 1.0])
    gates = np.asarray(model.gates(np.int32(5), training=False, hard_gates="map"))
    np.testing.assert_array_equal(
        gates, np.broadcast_to(model.edge_probabilities() > 0.5, gates.shape)
    )


def test_test_images_of_history_and_table1_are_the_same(tmp_path):
    config = TrainConfig.from_flat(dataset="digits", test_split="test[100:]", seed=3)
    _, test_ds = make_datasets(config)
    history_images = np.concatenate(list(test_ds.as_numpy_iterator()))
    table_images = scoring.test_images(config)
    np.testing.assert_array_equal(history_images, table_images)
    # The slice of the binarised split, not a slice binarised on its own.
    whole = scoring.test_images(dataclasses.replace(config, test_split="test"))
    np.testing.assert_array_equal(table_images, whole[100:])
    # Every training seed scores the same images.
    other = scoring.test_images(dataclasses.replace(config, seed=9))
    np.testing.assert_array_equal(table_images, other)


def test_the_commands_pipelines_run_without_tf_data_autotuning():
    # With autotuning, `fit` sometimes waited at an epoch's end for tf.data's optimisation
    # thread (bench/epoch_spread.py measures it); the commands' pipelines turn it off.
    train, test = make_datasets(TrainConfig.from_flat(dataset="digits", seed=3, batch_size=100))
    assert train.options().autotune.enabled is False
    assert test.options().autotune.enabled is False
    first, second = (np.concatenate(list(train.as_numpy_iterator())) for _ in range(2))
    assert first.shape == (1437, 8, 8, 1)
    assert not np.array_equal(first, second)  # still reshuffled every epoch
    np.testing.assert_array_equal(np.sort(first, axis=0), np.sort(second, axis=0))


def test_without_autotune_keeps_the_elements_and_refuses_other_inputs():
    ds = tf.data.Dataset.range(10).map(lambda x: x * 2, num_parallel_calls=tf.data.AUTOTUNE)
    steady = tgv_data.without_autotune(ds).prefetch(tgv_data.PREFETCH_BATCHES)
    assert ds.options().autotune.enabled is not False  # the input is left as it was
    assert steady.options().autotune.enabled is False
    assert list(steady.as_numpy_iterator()) == list(range(0, 20, 2))
    with pytest.raises(TypeError, match="tf.data.Dataset"):
        tgv_data.without_autotune(np.arange(3))


def test_evaluation_subset_is_fixed_random_and_sorted():
    a = tgv_data.evaluation_subset(10_000, 2_000)
    np.testing.assert_array_equal(a, tgv_data.evaluation_subset(10_000, 2_000))
    assert len(np.unique(a)) == 2_000 and np.all(np.diff(a) > 0)
    assert a[-1] > 9_000 and a[0] < 100  # spread over the split, not its first rows
    np.testing.assert_array_equal(tgv_data.evaluation_subset(50, None), np.arange(50))
    with pytest.raises(ValueError, match="integer >= 1"):
        tgv_data.evaluation_subset(50, 0)


def _record(seed, values):
    return {"config": {"seed": seed}, "ll_per_image": list(values)}


def test_paired_difference_pairs_by_seed_and_image():
    rng = np.random.default_rng(0)
    base = [_record(s, rng.normal(-100, 5, 400)) for s in range(3)]
    shift = [0.5, 0.7, 0.6]
    runs = [
        _record(s, np.asarray(b["ll_per_image"]) + d)
        for s, b, d in zip(range(3), base, shift, strict=True)
    ]
    diff = table1.paired_difference(runs[::-1], base)
    np.testing.assert_allclose(sorted(diff["per_seed"]), sorted(shift))
    np.testing.assert_allclose(diff["mean"], 0.6)
    np.testing.assert_allclose(diff["sem"], np.std(shift, ddof=1) / np.sqrt(3))
    assert diff["verdict"] == "better" and diff["sem_over"] == "seeds"
    # One seed: the standard error over images of the per-image differences.
    noisy = [_record(0, np.asarray(base[0]["ll_per_image"]) + rng.normal(0, 1, 400))]
    one = table1.paired_difference(noisy, base)
    assert one["sem_over"] == "test images" and 0.03 < one["sem"] < 0.07  # 1 / sqrt(400)
    assert one["verdict"] == "interval includes 0"


def test_few_seeds_call_a_difference_only_when_the_t_interval_excludes_zero():
    rng = np.random.default_rng(1)
    base = [_record(s, rng.normal(-100, 5, 400)) for s in range(3)]
    shift = [0.3, 0.9, 0.4]  # mean 0.53 > 2 SE (0.37), but t(2 dof) = 4.30 SE wide
    runs = [_record(s, np.asarray(b["ll_per_image"]) + d) for s, b, d in zip(
        range(3), base, shift, strict=True)]  # fmt: skip
    diff = table1.paired_difference(runs, base)
    sem = np.std(shift, ddof=1) / np.sqrt(3)
    half = 4.3027 * sem  # Student's t, 2 degrees of freedom, 97.5 %
    np.testing.assert_allclose(diff["ci95"], np.mean(shift) + np.array([-half, half]), atol=1e-3)
    assert diff["dof"] == 2 and diff["verdict"] == "interval includes 0"


def test_ladder_decoder_reads_the_bottom_node_only():
    model = tiny_model("chain", num_nodes=3, node_dim=2, decode_from="bottom_node")
    assert model.decoder.dense[0].kernel.shape[0] == 2
    z = tf.random.normal([4, 3, 2], seed=1)
    changed = tf.concat([z[:, :1], z[:, 1:] + 5.0], axis=1)
    np.testing.assert_allclose(model.decode_params(z), model.decode_params(changed))
    assert np.isfinite(model.sample(3)).all()
    with pytest.raises(ValueError, match="fixed structures"):
        tiny_model("learned", decode_from="bottom_node")
    with pytest.raises(ValueError, match="decode_from"):
        tiny_model("chain", decode_from="top")


def _shared(*parts):
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"offline data {path} not present")
    return path.parent


def test_complete_mnist_and_omniglot_splits():
    mnist = _shared("mnist", "train-images-idx3-ubyte.gz")
    assert tgv_data.load("mnist", "train", data_dir=mnist).cardinality() == 60_000
    omniglot = _shared("omniglot", "images_evaluation.zip")
    assert len(tgv_data.load_numpy("omniglot", "train", omniglot)) == 19_280
    assert len(tgv_data.load_numpy("omniglot", "test", omniglot)) == 13_180


def test_cifar10_from_keras_npz():
    directory = _shared("cifar10", "cifar10_subset.npz")
    train = tgv_data.load_numpy("cifar10", "train", directory)
    test = tgv_data.load_numpy("cifar10", "test", directory)
    assert train.shape == (4_000, 32, 32, 3) and test.shape == (1_000, 32, 32, 3)
    assert train.max() <= 255 and train.min() >= 0 and train.std() > 10


def test_cifar10_npz_of_wrong_layout_is_refused(tmp_path):
    np.savez(
        tmp_path / "cifar10.npz",
        x_train=np.zeros([4, 32, 32, 3], np.float32),
        x_test=np.zeros([2, 32, 32, 3], np.uint8),
    )
    with pytest.raises(ValueError, match="uint8"):
        tgv_data.load_numpy("cifar10", "train", tmp_path)
