"""Ctrl-C: one line, exit status 130, the last complete epoch kept; the same command resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import time

from conftest import BIN


def test_ctrl_c_prints_one_line_and_the_run_resumes(tmp_path):
    model_dir = tmp_path / "run"
    command = [str(BIN / "tfgvae-train"), "--dataset=digits", "--num_nodes=3", "--node_dim=2",
               "--batch_size=16", "--nojit_compile", f"--model_dir={model_dir}"]  # fmt: skip
    proc = subprocess.Popen(
        [*command, "--epochs=50"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A process started from a script may inherit SIGINT ignored: as from a terminal.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    for line in proc.stdout:
        if line.startswith("Epoch 3/"):
            time.sleep(0.3)
            proc.send_signal(signal.SIGINT)
            break
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines() == [
        "tfgvae-train: interrupted in epoch 3 of 50; run the same command to resume from epoch 2."
    ]
    # The same command resumes: the run's lock was released, the checkpoint of epoch 2 kept.
    again = subprocess.run([*command, "--epochs=3"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"Resuming {model_dir} from epoch 2 of 3" in again.stdout
    history = json.loads((model_dir / "history.json").read_text())
    assert len(history["history"]["loss"]) == 3
