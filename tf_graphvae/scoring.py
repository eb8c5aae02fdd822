"""Scoring a trained run: its test images as evaluated, its test scores (a learned model's
MAP graph beside its gate mixture), and its knock-out values written as files.

`tfgvae-evaluate` and `tfgvae-compare` both score through here, so a run is scored the
same way whichever command asks.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from tf_graphvae import data as tgv_data
from tf_graphvae import diagnostics, evaluate, figures, knockout
from tf_graphvae.config import RunFolder, TrainConfig
from tf_graphvae.config.files import write_json, write_text

KNOCKOUT_SAMPLES = 4  # latent draws per image of the knock-out values


def load_run_model(folder: RunFolder) -> keras.Model:
    """The trained model of a run folder, refused with one line when the folder is being
    trained, holds no model, or holds a damaged one (Keras says "File not found" then)."""
    folder.require_idle()
    path = folder.require_model()
    try:
        return keras.saving.load_model(path)
    except Exception:
        if not folder.model_damaged():
            raise  # Keras's own words (safe mode, a format version) say what is wrong
        raise ValueError(
            f"{path} is damaged (not a complete .keras archive); its run's last checkpoint "
            f"can rebuild it: run tfgvae-train with --model_dir={folder.path} and the run's "
            "flags."
        ) from None


def test_images(
    config: TrainConfig, max_images: int | None = None, likelihood: str | None = None
) -> np.ndarray:
    """The test split as evaluated: binary sets binarised once (`data.TEST_SEED`, the
    images training scores), then a fixed random subset of `max_images` of them.
    `likelihood`: the one the model was built with (default the run's,
    `data.run_likelihood`), which says whether the images are binarised."""
    binary = (likelihood or tgv_data.run_likelihood(config)) == "bernoulli"
    images = tgv_data.load_numpy(
        config.dataset, config.test_split, config.data_dir, binarize=binary
    )
    return images[tgv_data.evaluation_subset(len(images), max_images)]


def score(
    model: keras.Model, images: np.ndarray, num_samples: int, seed: int, jit_compile: bool = True
) -> dict:
    """Table 1's scores of `model` on `images` (`evaluate.table1_metrics`, K = `num_samples`),
    the per-image LLs and the per-node KL and active units (`diagnostics`); for a learned
    structure also `metrics_map` and `ll_map_per_image`, the MAP graph's (the gap to the
    mixture is the price of sampling gates at test time)."""
    options = dict(seed=seed, jit_compile=jit_compile, return_per_image=True)
    metrics, ll = evaluate.table1_metrics(model, images, num_samples, **options)
    record = {"metrics": metrics, "ll_per_image": ll.tolist(),
              "diagnostics": diagnostics.latent_diagnostics(model, images, seed=seed)}  # fmt: skip
    if model.gates.learned:
        metrics_map, ll_map = metrics, ll  # one node, no gates: the MAP graph is the model
        if model.gates.num_edges:
            metrics_map, ll_map = evaluate.table1_metrics(
                model, images, num_samples, hard_gates="map", **options
            )
        record |= {"metrics_map": metrics_map, "ll_map_per_image": ll_map.tolist()}
    return record


def write_knockout_values(
    model: keras.Model,
    images: np.ndarray,
    output_dir: Path,
    suffix: str,
    title: str,
    jit_compile: bool = True,
    seed: int = 0,
) -> dict:
    """What switching each edge off costs `model` on `images`:
    `knockout_values_<suffix>.json/.md/.png` in `output_dir`; returns the values."""
    values = knockout.knockout_values(
        model, images, num_samples=KNOCKOUT_SAMPLES, seed=seed, jit_compile=jit_compile
    )
    values["edge_probabilities"] = model.edge_probabilities().tolist()
    return write_knockout_files(values, output_dir, suffix, title)


def write_knockout_files(values: dict, output_dir: Path, suffix: str, title: str) -> dict:
    """`knockout_values_<suffix>.json/.md/.png` in `output_dir` from knock-out `values`
    (with their `edge_probabilities`); returns them with their `markdown`."""
    mu = np.asarray(values["edge_probabilities"])
    write_json(Path(output_dir) / f"knockout_values_{suffix}.json", values)
    caption = (
        f"{title}: ELBO(gate on) − ELBO(gate off), other gates at MAP, same latent noise; "
        f"{values['num_images']} test images x {values['num_samples']} draws. A knock-out "
        "value is what switching the edge off costs this trained model, not evidence that "
        "the data support the edge (that takes models retrained without it).\n\n"
    )
    values = {**values, "markdown": caption + knockout.markdown_table(values, mu)}
    write_text(Path(output_dir) / f"knockout_values_{suffix}.md", values["markdown"])
    figures.plot_knockout_values(values, Path(output_dir) / f"knockout_values_{suffix}.png", title)
    return values
