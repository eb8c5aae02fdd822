"""The commands' epoch lines: `Epoch k/n`, then the time, the time left and fixed-point
metrics (Keras's own lines print negative metrics as `-9.1233e+01`)."""

from __future__ import annotations

import io
import re

import keras
import numpy as np
from conftest import tiny_model

from tf_graphvae.trainers.epoch_log import EpochLog, format_metrics


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
    assert re.match(r"6/6 steps - \d+\.\d s, 2 epochs left: ETA \dm\d\ds at most - ", ends[0])
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
