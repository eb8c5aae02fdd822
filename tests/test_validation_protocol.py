"""The experiments' protocol: Omniglot's generative split, random validation partitions,
whole-split shuffling and resumable early stopping."""

from __future__ import annotations

import dataclasses
import json

import keras
import numpy as np
import pytest
from conftest import SHARED_DATA

import tf_graphvae as tgv
from tf_graphvae.config import TrainConfig
from tf_graphvae.trainers.callbacks import ResumableEarlyStopping

OMNIGLOT = SHARED_DATA / "omniglot"
needs_omniglot = pytest.mark.skipif(
    not (OMNIGLOT / "images_evaluation.zip").is_file(), reason=f"{OMNIGLOT} has no archives"
)


@needs_omniglot
def test_omniglot_generative_split_draws_every_alphabet_and_keeps_drawers_apart():
    from tf_graphvae.data import _omniglot

    train = tgv.data.load("omniglot", "generative_train", OMNIGLOT, with_labels=True)
    test = tgv.data.load("omniglot", "generative_test", OMNIGLOT, with_labels=True)
    (x_train, y_train), (x_test, y_test) = (next(iter(d.batch(10**6))) for d in (train, test))
    assert (len(x_train), len(x_test)) == (24_345, 8_115)
    assert len(np.unique(y_train)) == len(np.unique(y_test)) == 50
    # Drawers 1-15 train, 16-20 test: every character is on both sides, no drawing twice.
    drawings = []
    for archive in ("images_background.zip", "images_evaluation.zip"):
        _, alphabets, drawers = _omniglot._read_omniglot(OMNIGLOT / archive)
        drawings.append(drawers)
    drawers = np.concatenate(drawings)
    assert sorted(set(drawers.tolist())) == list(range(1, 21))
    assert (drawers <= 15).sum() == 24_345 and (drawers > 15).sum() == 8_115
    # The cross-alphabet splits are still there, 30 and 20 alphabets.
    background = tgv.data.load_numpy("omniglot", "train", OMNIGLOT)
    assert len(background) == 19_280


@needs_omniglot
def test_an_epoch_of_the_generative_split_is_shuffled_over_the_whole_split():
    from tf_graphvae.trainers.experiment import make_datasets

    config = TrainConfig.from_flat(dataset="omniglot", data_dir=str(OMNIGLOT), batch_size=100,
                         train_split="generative_train")  # fmt: skip
    images, labels = next(iter(tgv.data.load(
        "omniglot", "generative_train", OMNIGLOT, with_labels=True).batch(10**6)))  # fmt: skip
    alphabet_of = {bytes(x): int(y) for x, y in zip(images.numpy(), labels.numpy(), strict=True)}
    train, _ = make_datasets(config)
    first_tenth = [
        alphabet_of[bytes(x)] for batch in train.take(25) for x in batch.numpy()
    ]  # 2,500 of 24,345 images: a sorted buffer of 10,000 reaches ~20 of 50 alphabets
    assert len(set(first_tenth)) >= 45


def test_a_validation_partition_is_random_disjoint_and_the_same_for_every_call():
    fit = tgv.data.load_numpy("digits", "train@fit10%")
    held = tgv.data.load_numpy("digits", "train@val10%")
    whole = tgv.data.load_numpy("digits", "train")
    from tf_graphvae.data import _splits

    spec = _splits.parse_split("digits", "train@val10%", ("train", "test"))
    val_index = _splits.resolve("digits", spec, len(whole))
    fit_index = _splits.resolve("digits", dataclasses.replace(spec, part="fit"), len(whole))
    assert len(val_index) == round(0.1 * len(whole)) and len(fit_index) + len(val_index) == len(
        whole
    )
    assert not set(val_index) & set(fit_index)
    np.testing.assert_array_equal(held, whole[val_index])
    np.testing.assert_array_equal(fit, whole[fit_index])
    np.testing.assert_array_equal(held, tgv.data.load_numpy("digits", "train@val10%"))
    # Spread over the split, not its tail: each tenth of the split gives some of it.
    assert len(np.unique(val_index * 10 // len(whole))) == 10
    assert len(tgv.data.load_numpy("digits", "train@val100")) == 100


@pytest.mark.parametrize(
    "split, message",
    [("train@val0", "must hold at least one"), ("train@val100%", "leave one to train"),
     ("train@test10%", "validation partition NAME@valSIZE")],
)  # fmt: skip
def test_bad_validation_partitions_are_refused(split, message):
    with pytest.raises(ValueError, match=message):
        tgv.data.load_numpy("digits", split)


def test_a_run_cannot_validate_on_what_it_trains_on():
    with pytest.raises(ValueError, match=r"train on train@fit10% instead"):
        TrainConfig.from_flat(validation_split="train@val10%").validate()
    with pytest.raises(ValueError, match="needs a validation split"):
        TrainConfig.from_flat(early_stopping_patience=5).validate()
    TrainConfig.from_flat(train_split="train@fit10%", validation_split="train@val10%").validate()


class _Model:
    """What the callback touches of a model: a flag and weights."""

    stop_training = False

    def __init__(self):
        self.weights = [np.zeros(1)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = weights


def _run_stopper(stopper, model, values, first_epoch=0):
    stopper.set_model(model)
    for epoch, value in enumerate(values[first_epoch:], start=first_epoch):
        model.weights = [np.array([value])]
        stopper.on_epoch_end(epoch, {"val_elbo": value})
        if model.stop_training:
            return epoch + 1
    return None


VALUES = [0.0, 1.0, 2.0, 3.0, 3.1, 3.2, 3.3, 3.5, 3.35, 9.0]


def test_early_stopping_compares_window_means_and_keeps_the_best_epoch():
    stopper, model = ResumableEarlyStopping(patience=3, min_delta=0.5), _Model()
    # Window gains: epoch 8: mean(3.2, 3.3, 3.5) - mean(2, 3, 3.1) = 0.63, go on; epoch 9:
    # mean(3.3, 3.5, 3.35) - mean(3, 3.1, 3.2) = 0.28 < 0.5: stop.
    assert _run_stopper(stopper, model, VALUES) == 9 == stopper.stopped_epoch
    assert stopper.state["best_epoch"] == 8 and stopper.state["gain"] == pytest.approx(0.2833, 1e-3)
    stopper.on_train_end()
    assert model.weights[0][0] == 3.5


def test_early_stopping_resumes_its_count_from_its_folder(tmp_path):
    first = ResumableEarlyStopping(patience=3, directory=tmp_path, min_delta=0.5)
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.stop_training = False
    first.set_model(model)
    for epoch, value in enumerate(VALUES[:5]):
        first.on_epoch_end(epoch, {"val_elbo": value})
    # A new process: the same folder, epoch 4 (0-based) repeated as a killed run would.
    again = ResumableEarlyStopping(patience=3, directory=tmp_path, min_delta=0.5)
    again.set_model(model)
    for epoch, value in enumerate(VALUES[4:], start=4):
        again.on_epoch_end(epoch, {"val_elbo": value})
        if model.stop_training:
            break
    assert again.stopped_epoch == 9 and again.state["values"] == VALUES[:9]
    assert (tmp_path / "best.weights.h5").is_file()


def test_a_run_that_stopped_early_is_not_trained_further_when_run_again(tmp_path):
    from tf_graphvae.trainers.experiment import train

    config = TrainConfig.from_flat(
        dataset="digits", train_split="train@fit20%", validation_split="train@val20%",
        early_stopping_patience=1, early_stopping_min_delta=1e6, epochs=30, num_nodes=2,
        node_dim=2, jit_compile=False, steps_per_execution=1,
    )  # fmt: skip
    first = train(config, tmp_path / "run", verbose=0, tensorboard=False)
    # The first epoch sets the reference; no later one gains 10^6 nats: stop at epoch 2.
    assert first.early_stopping["stopped_epoch"] == 2 and len(first.history["val_elbo"]) == 2
    steps = int(first.model.optimizer.iterations.numpy())
    again = train(config, tmp_path / "run", verbose=0, tensorboard=False)
    assert int(again.model.optimizer.iterations.numpy()) == steps
    assert len(again.history["val_elbo"]) == 2
    saved = json.loads((tmp_path / "run" / "history.json").read_text())
    assert saved["early_stopping"]["stopped_epoch"] == 2
    best = again.early_stopping["best_epoch"]
    # The model left is the best epoch's: its validation ELBO is the best one logged.
    assert saved["early_stopping"]["best"] == max(saved["history"]["val_elbo"])
    assert best in (1, 2)
