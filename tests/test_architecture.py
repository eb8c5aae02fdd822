"""The package's levels (docs/design.md, "Levels"): each imports only those below it.

The import-linter contracts live in pyproject.toml; they are checked over an installed copy
of the package, the layout users get (over the editable install the `package-dir` mapping
hides `layers/` and `trainers/` from the import graph).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
OLD_RUN = Path(__file__).parent / "data" / "run_080b35d"


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env={**os.environ, **env},
    )  # fmt: skip


def test_import_linter_contracts_hold_over_an_installed_copy(tmp_path):
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is a test dependency (pip install -e '.[test]')"
    source, target = tmp_path / "source", tmp_path / "site"
    source.mkdir()  # built from a copy: the build leaves nothing in the work tree
    for name in ("tf_graphvae", "layers", "trainers"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
         "--target", str(target), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    assert (target / "tf_graphvae" / "layers" / "gates.py").exists()
    result = subprocess.run(
        [lint, str(ROOT / "pyproject.toml")], capture_output=True, text=True, timeout=300,
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 broken" in result.stdout
    # The graph holds every level (a copy missing layers/ or trainers/ would pass vacuously).
    analysed = int(result.stdout.split("Analyzed ")[1].split(" files")[0])
    assert analysed >= 60, result.stdout[-1000:]

    # A fault injected into the installed copy breaks the contracts that forbid it: a lab
    # import in the library (below the lab, and reached from the run machinery through
    # it), one in the run machinery, a sibling import inside a level.
    levels, lab = "Levels:", "The lab apart:"
    faults = (
        ("scoring.py", "import tf_graphvae.trainers.paper.rows", {levels, lab}),
        ("trainers/experiment.py", "import tf_graphvae.trainers.paper.rows", {lab}),
        ("data/__init__.py", "import tf_graphvae.evaluate", {levels}),
    )
    for module, line, expected in faults:
        path = target / "tf_graphvae" / module
        original = path.read_text()
        path.write_text(original + f"\n{line}  # injected\n")
        result = subprocess.run(
            [lint, str(ROOT / "pyproject.toml")], capture_output=True, text=True, timeout=300,
            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(target)},
        )  # fmt: skip
        path.write_text(original)
        assert result.returncode != 0, (module, result.stdout[-3000:])
        assert f"{len(expected)} broken" in result.stdout, (module, result.stdout[-3000:])
        section = result.stdout.split("Broken contracts")[1]
        assert {c for c in (levels, lab) if f"\n{c}" in section} == expected, module


@pytest.mark.parametrize("module", ["tf_graphvae", "tf_graphvae.config", "tf_graphvae.figures"])
def test_the_root_configuration_and_figures_import_no_tensorflow(module):
    """With no environment variable set: the root is lazy (PEP 562) for everyone."""
    code = (
        f"import sys, {module}\n"
        "loaded = sorted(m for m in ('tensorflow', 'keras', 'tensorflow_probability') "
        "if m in sys.modules)\n"
        "print(loaded)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "TF_GRAPHVAE_LAZY_IMPORT"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_a_model_name_loads_the_model_and_load_model_registers_it(tmp_path):
    """Touching `tgv.GraphVAE` (or `tgv.load_model`) imports TensorFlow and registers the
    classes, so a saved model loads in a fresh process that has done nothing else."""
    import tf_graphvae as tgv

    model = tgv.GraphVAE(event_shape=(8, 8, 1), num_nodes=2, node_dim=2, seed=0)
    model.save(tmp_path / "m.keras")
    code = (
        "import sys, tf_graphvae as tgv\n"
        "assert 'tensorflow' not in sys.modules\n"
        f"model = tgv.load_model({str(tmp_path / 'm.keras')!r})\n"
        "print(type(model).__name__, tgv.__version__)\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr[-2000:]
    from importlib.metadata import version

    assert result.stdout.split() == ["GraphVAE", version("tf-graphvae")]


def test_no_configuration_module_imports_the_package_root():
    """The configuration is the bottom level: importing the root (or anything through
    importlib) from it would make every level above it a dependency of it."""
    for path in (ROOT / "tf_graphvae" / "config").glob("*.py"):
        text = path.read_text()
        for forbidden in ("import tf_graphvae\n", "importlib", "from tf_graphvae import"):
            assert forbidden not in text, f"{path.name}: {forbidden.strip()}"


def test_a_run_written_before_the_move_still_loads_and_scores_the_same():
    import keras

    import tf_graphvae as tgv
    from tf_graphvae.config import RunFolder

    folder = RunFolder(OLD_RUN)
    config = folder.read_config()
    assert config.dataset == "digits"
    assert (config.model.structure, config.model.num_nodes) == ("learned", 3)
    assert folder.read_json(folder.EDGE_PROBABILITIES)["edge_probabilities"]
    expected = json.loads((OLD_RUN / "expected.json").read_text())
    model = keras.saving.load_model(folder.model_file)
    np.testing.assert_allclose(model.edge_probabilities(), expected["edge_probabilities"],
                               atol=1e-6)  # fmt: skip
    x = tgv.data.load_numpy("digits", "train", binarize=True)[:128]
    scores = model.evaluate(x, batch_size=128, verbose=0, return_dict=True)
    for name, value in expected["evaluate_first_128_train"].items():
        assert scores[name] == pytest.approx(value, abs=1e-3), name


def test_loading_the_model_prints_no_tensorflow_start_up_lines():
    """Touching a model name imports TensorFlow, without its C++ start-up lines (oneDNN,
    CUDA probes; what a device reports when first used is TensorFlow's own to say)."""
    code = "import tf_graphvae as tgv\nprint(tgv.GraphVAE.__name__, tgv.data.__name__)\n"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["GraphVAE", "tf_graphvae.data"]
    for marker in ("oneDNN", "cudart_stub", "absl::InitializeLog", "I0000"):
        assert marker not in result.stderr, result.stderr[-2000:]
