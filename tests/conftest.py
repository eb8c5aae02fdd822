"""Shared fixtures: small real data and tiny models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the installed console scripts
SHARED_DATA = ROOT.parent / "shared" / "data"
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="session")
def digits() -> np.ndarray:
    """scikit-learn's 1,797 real 8x8 digits, float32 in [0, 1], `[n, 8, 8, 1]`."""
    from sklearn.datasets import load_digits

    return (load_digits().images / 16.0).astype(np.float32)[..., None]


@pytest.fixture(scope="session")
def binary_digits(digits) -> np.ndarray:
    """The digits binarised once with seed 0, as a test set is (docs/design.md §3)."""
    return (np.random.default_rng(0).random(digits.shape) < digits).astype(np.float32)


@pytest.fixture(scope="session")
def small_real_images(digits) -> np.ndarray:
    """512 real images: the first MNIST test digits when the offline copy is present."""
    from tf_graphvae import data

    mnist = SHARED_DATA / "mnist"
    if (mnist / "t10k-images-idx3-ubyte.gz").exists():
        return data.load_numpy("mnist", "test[:512]", data_dir=mnist)
    return digits[:512]


def tiny_model(structure="learned", event_shape=(8, 8, 1), **kwargs):
    import tf_graphvae as tgv

    defaults = dict(
        num_nodes=3,
        node_dim=2,
        encoder_units=(32,),
        decoder_units=(32,),
        top_down_units=16,
        seed=0,
    )
    defaults.update(kwargs)
    import keras

    keras.utils.set_random_seed(defaults["seed"] or 0)  # the initial weights too
    return tgv.GraphVAE(event_shape=event_shape, structure=structure, **defaults)


def run_command(name: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """Runs an installed console script as a user would; output captured as text."""
    return subprocess.run([str(BIN / name), *args], capture_output=True, text=True, timeout=timeout)


def assert_picture(path: Path) -> None:
    """A PNG file that shows something (not one flat colour)."""
    from matplotlib.image import imread

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    assert imread(path)[..., :3].std() > 0, path


# The tests that take 20 s or more (`pytest --durations`), by node id prefix. They run
# first, so that `pytest -n 2` hands them out while the short ones are still left to fill
# the gaps: started last, one of them alone keeps a worker busy after the other has ended.
LONG_TESTS = (
    "tests/test_worker_faults.py::test_a_death_ends_the_survivor_with_one_line_and_after_a_worker_s_the_job_resumes[1",
    "tests/test_experiments.py::test_compare_writes_table1_figure2_and_stability",
    "tests/test_experiments.py::test_ablation_covers_every_factorisation",
    "tests/test_export.py::test_saved_model_cli_runs_every_signature",
    "tests/test_interrupt.py::test_ctrl_c_prints_one_line_and_the_run_resumes",
    "tests/test_reliability.py::test_kill_9_mid_epoch_then_rerun_resumes",
    # The chief's death apart from the worker's: two jobs of two processes at once would
    # slow both past their heartbeats.
    "tests/test_worker_faults.py::test_a_death_ends_the_survivor_with_one_line_and_after_a_worker_s_the_job_resumes[0",
    "tests/test_readme.py::test_every_python_block_runs_as_written",
    "tests/test_cli.py::test_train_on_digits_saves_a_loadable_model",
    "tests/test_tuning.py::test_grid_search_on_digits_writes_results_and_resumes",
    "tests/test_standardize.py::test_raw_continuous_features_are_refused_and_trained",
    "tests/test_export.py::test_cli_exports_a_saved_model_and_refuses_an_existing_version",
    "tests/test_distribute.py::test_mirrored_step_equals_the_single_device_step",
    "tests/test_recipe_screen.py::test_a_setting_is_chosen_on_validation_runs",
)


def pytest_addoption(parser):
    parser.addoption(
        "--bench-scripts", action="store_true",
        help="also run the smoke tests of bench/'s scripts (the quick benchmark, the GPU "
        "benchmark's CPU parts, the evaluation profile): 2 minutes more on 2 cores",
    )  # fmt: skip


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "bench_scripts: a smoke test of a bench/ script (run with --bench-scripts)"
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--bench-scripts"):
        skip = pytest.mark.skip(reason="a bench/ script's smoke test: run with --bench-scripts")
        for item in items:
            if "bench_scripts" in item.keywords:
                item.add_marker(skip)

    def rank(item) -> int:
        return next((k for k, prefix in enumerate(LONG_TESTS) if item.nodeid.startswith(prefix)),
                    len(LONG_TESTS))  # fmt: skip

    items.sort(key=rank)  # stable: the others keep their order
