"""The commands' epoch lines: `Epoch k/n`, then the time, the time left and fixed-point
metrics (Keras's own lines print negative metrics as `-9.1233e+01`); the time left leaves
compilation out, and the bar counts no further than the epoch's steps."""

from __future__ import annotations

import io
import re

import keras
import numpy as np
import pytest
from conftest import tiny_model

from tf_graphvae.trainers.callbacks import CompileNotice
from tf_graphvae.trainers.epoch_log import EpochLog, format_metrics, steps_done


def test_metrics_are_fixed_point_whatever_their_sign_and_size():
    assert format_metrics({"elbo": -91.23361, "kl": 24.1, "tiny": 1e-6}) == (
        "elbo: -91.2336 - kl: 24.1000 - tiny: 0.0000"
    )


def test_every_epoch_has_its_line_its_time_and_the_time_left():
    images = (np.random.default_rng(0).random((96, 8, 8, 1)) > 0.5).astype(np.float32)
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False,
                  steps_per_execution=2)  # fmt: skip
    lines: list[str] = []
    stream = io.StringIO()  # not a terminal: no bar
    model.fit(images, batch_size=16, epochs=3, verbose=0,
              callbacks=[EpochLog(lines.append, stream)])  # fmt: skip
    assert lines[0::2] == ["Epoch 1/3", "Epoch 2/3", "Epoch 3/3"]
    ends = lines[1::2]
    assert re.match(
        r"6/6 steps - \d+\.\d s with compilation, 2 epochs left: ETA \dm\d\ds at most - ", ends[0]
    )
    assert re.match(r"6/6 steps - \d+\.\d s, 1 epoch left: ETA ", ends[1])
    assert re.match(r"6/6 steps - \d+\.\d s - elbo: -\d+\.\d{4} - ", ends[2])
    assert not any("e+" in line or "e-" in line for line in ends)
    assert stream.getvalue() == ""


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_a_bar_runs_within_the_epoch(capsys):
    images = (np.random.default_rng(0).random((64, 8, 8, 1)) > 0.5).astype(np.float32)
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    lines: list[str] = []
    model.fit(images, batch_size=16, epochs=1, verbose=0,
              callbacks=[EpochLog(lines.append, _Terminal())])  # fmt: skip
    bar = capsys.readouterr().out  # keras.utils.Progbar writes to stdout
    assert "4/4" in bar and "step" in bar
    assert lines[0] == "Epoch 1/1" and lines[1].startswith("4/4 steps - ")


def test_a_call_past_the_epochs_end_counts_the_epochs_steps():
    # steps_per_execution 25, 12 steps an epoch: Keras reports the one call as index 24.
    assert steps_done(24, 12) == 12
    assert [steps_done(b, 12) for b in (4, 9, 14)] == [5, 10, 12]
    assert steps_done(24, None) == 25  # unknown steps: nothing to clamp to


def test_the_bar_and_the_compile_notice_stop_at_the_epochs_steps(capsys):
    images = (np.random.default_rng(0).random((64, 8, 8, 1)) > 0.5).astype(np.float32)
    model = tiny_model()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False,
                  steps_per_execution=10)  # fmt: skip
    lines: list[str] = []
    callbacks = [CompileNotice(lines.append), EpochLog(lines.append, _Terminal())]
    model.fit(images, batch_size=16, epochs=2, verbose=0, callbacks=callbacks)
    bar = capsys.readouterr().out
    assert "4/4" in bar and "10/4" not in bar
    assert lines[2].startswith("Compiled and ran the first 4 steps in ")
    assert lines[3].startswith("4/4 steps - ") and "with compilation" in lines[3]
    assert "ETA after the next epoch" in lines[3]  # one call was the whole epoch


class _Clock:
    """A fake `time.monotonic`: the test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


COMPILE_S, EPOCH_S, STEPS, EPOCHS = 80.0, 0.7, 12, 200


def _train(first_epoch: int, per_execution: int, validation_compile_s: float = 0.0) -> list[str]:
    """Feeds EpochLog what `fit` would, from `first_epoch` (a resume) to the end: the
    process's first call compiles for 80 s, then every epoch's 12 steps take 0.7 s."""
    clock, lines = _Clock(), []
    log = EpochLog(lines.append, io.StringIO(), clock=clock)
    log.set_params({"epochs": EPOCHS, "steps": STEPS, "verbose": 0})
    for epoch in range(first_epoch, EPOCHS):
        log.on_epoch_begin(epoch)
        for begin in range(0, STEPS, per_execution):
            clock.now += COMPILE_S if epoch == first_epoch and begin == 0 else 0.0
            clock.now += EPOCH_S * (min(begin + per_execution, STEPS) - begin) / STEPS
            log.on_train_batch_end(begin + per_execution - 1)
        clock.now += validation_compile_s if epoch == first_epoch else 0.0
        log.on_epoch_end(epoch, {"elbo": -90.0})
    return [line for line in lines if not line.startswith("Epoch ")]


def _seconds(eta: str) -> int:
    hours = re.fullmatch(r"(\d+)h(\d\d)m", eta)
    if hours:
        return int(hours[1]) * 3600 + int(hours[2]) * 60
    minutes = re.fullmatch(r"(\d+)m(\d\d)s", eta)
    return int(minutes[1]) * 60 + int(minutes[2])


def _first_eta(lines: list[str]) -> tuple[int, float]:
    """(epochs left, seconds) of the first line with an ETA."""
    for line in lines:
        match = re.search(r", (\d+) epochs? left: ETA (\w+) at most", line)
        if match:
            return int(match[1]), _seconds(match[2])
    raise AssertionError(f"No ETA in {lines[:3]}")


@pytest.mark.parametrize("first_epoch", [0, 50], ids=["fresh", "resumed"])
@pytest.mark.parametrize("per_execution", [25, 1, 5], ids=lambda k: f"per_execution{k}")
def test_the_first_eta_leaves_the_compilation_out(first_epoch, per_execution):
    lines = _train(first_epoch, per_execution, validation_compile_s=20.0)
    left, eta = _first_eta(lines)
    true = left * EPOCH_S
    assert true / 2 <= eta <= true * 2, (lines[:2], true)
    assert lines[0].startswith(f"12/12 steps - {COMPILE_S + EPOCH_S + 20:.1f} s with compilation")
    assert "with compilation" not in lines[1]
    if per_execution >= STEPS:  # the first call was the whole epoch: nothing steady yet
        assert "ETA after the next epoch" in lines[0] and left == EPOCHS - first_epoch - 2
    else:  # timed from the first call's end, the validation's compilation left out
        assert left == EPOCHS - first_epoch - 1
    assert lines[-1] == "12/12 steps - 0.7 s - elbo: -90.0000"
