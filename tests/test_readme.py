"""Every Python block of README.md runs, as a user would paste it, on small real data.

A preamble defines the data the blocks name (`ds`, `x`, `test_images`, `x_a`, `x_b`,
`x_standardised`, `images`); the first block (the Python API: `model`) runs on it, and
every later block runs on a copy of what that left, so each starts from the model of the
first and none sees another's. Only the
budgets are cut: every `epochs=<n>` runs 1 epoch and `num_samples=5000` runs 20, so a
snippet that crashes, or names something that does not exist, fails here.
"""

from __future__ import annotations

import re

import pytest
from conftest import ROOT, SHARED_DATA

MNIST = SHARED_DATA / "mnist"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)

PREAMBLE = f"""
import keras, numpy as np, tensorflow as tf, tf_graphvae as tgv
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

images = tgv.data.load("mnist", "test[:256]", data_dir={str(MNIST)!r})
grey = tgv.data.load_numpy("mnist", "test[:256]", data_dir={str(MNIST)!r})
ds = tgv.data.from_arrays(grey).batch(64)
test_images = tgv.data.binarize_images(grey[:64])
x = test_images[:16]
x_a, x_b = test_images[:4], test_images[4:8]
x_standardised = StandardScaler().fit_transform(load_wine().data).astype("float32")
"""


def _blocks() -> list[str]:
    return BLOCK.findall((ROOT / "README.md").read_text())


def _cheap(code: str) -> str:
    code = re.sub(r"\bepochs=\d+", "epochs=1", code)
    return code.replace("num_samples=5000", "num_samples=20")


@pytest.mark.skipif(not (MNIST / "t10k-images-idx3-ubyte.gz").exists(), reason="no MNIST")
def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    blocks = _blocks()
    assert len(blocks) >= 4
    monkeypatch.chdir(tmp_path)  # `model.save("model.keras")` writes here
    base: dict = {}
    exec(PREAMBLE, base)
    for k, block in enumerate(blocks):
        namespace = base if k == 0 else dict(base)
        try:
            exec(compile(_cheap(block), f"README.md python block {k}", "exec"), namespace)
        except Exception as error:  # name the block that broke
            raise AssertionError(f"README python block {k} fails:\n{block}") from error
    assert (tmp_path / "model.keras").is_file()
