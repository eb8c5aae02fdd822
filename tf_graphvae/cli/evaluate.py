"""`tfgvae-evaluate`: Table 1's importance-weighted LL, KL and ELBO of a trained model.

tfgvae-evaluate --model_dir=runs/digits --num_importance_samples=5000
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from absl import flags

from tf_graphvae.cli._common import run_main, validator
from tf_graphvae.config import TrainConfig, check_dataset, with_defaults

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A folder written by tfgvae-train.")
_DATASET = flags.DEFINE_string(
    "dataset", None, "Dataset or npz:<path> (default: the one the model was trained on)."
)
flags.register_validator("dataset", validator(check_dataset))
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder with the publishers' data files.")
_TEST_SPLIT = flags.DEFINE_string("test_split", None, "Split (default: the run's test split).")
_NUM_SAMPLES = flags.DEFINE_integer(
    "num_importance_samples", 5000, "Importance samples K per test image.", lower_bound=1
)
_EVAL_IMAGES = flags.DEFINE_integer(
    "eval_images",
    None,
    "Evaluate a fixed random subset of this many test images (default all).",
    lower_bound=1,
)
_SEED = flags.DEFINE_integer("seed", None, "Seed of the importance samples (default the run's).")
_KNOCKOUT = flags.DEFINE_bool(
    "knockout_values",
    True,
    "Also write the knock-out values (what switching each edge off costs this model: ELBO "
    "with the gate on minus off, the others at MAP) as knockout_values_<output name>"
    ".json/.md/.png beside the results.",
)
_OUTPUT = flags.DEFINE_string(
    "output", None, "Path stem of the results (default <model_dir>/evaluation): .json and .md."
)
flags.mark_flag_as_required("model_dir")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    import keras

    from tf_graphvae import evaluate
    from tf_graphvae.io import lock_holder, write_json, write_text
    from tf_graphvae.trainers.comparison import load_test_images, write_knockout_values
    from tf_graphvae.trainers.experiment import MODEL_FILE

    model_dir = Path(_MODEL_DIR.value)
    model_path = model_dir / MODEL_FILE
    holder = lock_holder(model_dir)
    if holder is not None:
        raise ValueError(
            f"{model_dir} is in use by a running training (pid {holder}); evaluate it when "
            "the training has ended."
        )
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_dir} holds no model ({MODEL_FILE}); train one first.")
    config = _run_config(model_dir)
    try:
        model = keras.saving.load_model(model_path)
    except Exception:
        if not _damaged(model_path):
            raise  # Keras's own words (safe mode, a format version) say what is wrong
        # Keras says "File not found" for a truncated or corrupt archive.
        raise ValueError(
            f"{model_path} is damaged (not a complete .keras archive); its run's last "
            f"checkpoint can rebuild it: run tfgvae-train with --model_dir={model_dir} and "
            "the run's flags."
        ) from None
    images = load_test_images(config, _EVAL_IMAGES.value)
    options = dict(seed=config.seed, jit_compile=config.jit_compile)
    metrics = evaluate.table1_metrics(model, images, _NUM_SAMPLES.value, **options)
    stem = Path(_OUTPUT.value) if _OUTPUT.value else model_dir / "evaluation"
    record = {"model_dir": str(model_dir), "dataset": config.dataset,
              "test_split": config.test_split, **metrics}  # fmt: skip
    if model.structure == "learned":
        record["map_graph"] = evaluate.table1_metrics(
            model, images, _NUM_SAMPLES.value, hard_gates="map", **options
        )
    write_json(stem.with_suffix(".json"), record)
    table = _table(config, model.structure, metrics, record.get("map_graph"))
    if _KNOCKOUT.value and model.num_nodes > 1:
        write_knockout_values(
            model, images, stem.parent, stem.name, f"{config.dataset}, {model.structure}",
            config.jit_compile, config.seed,
        )  # fmt: skip
        table += "\n" + (stem.parent / f"knockout_values_{stem.name}.md").read_text()
    write_text(stem.with_suffix(".md"), table)
    print(table)


def _damaged(path: Path) -> bool:
    """Whether `path` is not a readable zip archive (a `.keras` file is one)."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return archive.testzip() is not None
    except (zipfile.BadZipFile, OSError):
        return True


def _run_config(model_dir: Path) -> TrainConfig:
    """The run's saved configuration, with the flags that override it."""
    from tf_graphvae.trainers.experiment import CONFIG_FILE

    config = TrainConfig()
    path = model_dir / CONFIG_FILE
    if path.exists():
        try:
            config = TrainConfig(**with_defaults(json.loads(path.read_text()))).validate()
        except (ValueError, TypeError) as error:
            raise ValueError(f"{path} is not a valid run configuration: {error}") from None
    overrides = {
        "dataset": _DATASET.value,
        "data_dir": _DATA_DIR.value,
        "test_split": _TEST_SPLIT.value,
        "seed": _SEED.value,
    }
    return dataclasses.replace(config, **{k: v for k, v in overrides.items() if v is not None})


def _table(config: TrainConfig, structure: str, metrics: dict, map_metrics: dict | None) -> str:
    table = (
        f"{config.dataset} {config.test_split} ({metrics['num_images']} images), "
        f"K = {metrics['num_samples']}, structure {structure}\n\n"
        f"| LL ({metrics['unit']}) | KL | ELBO |\n|---|---|---|\n"
        f"| {metrics['ll']:.2f} ± {metrics['ll_sem']:.2f} | {metrics['kl']:.2f} | "
        f"{metrics['elbo']:.2f} |\n"
    )
    if map_metrics is not None:
        table += (
            f"\nMAP graph (mu > 0.5): LL {map_metrics['ll']:.2f} ± {map_metrics['ll_sem']:.2f}, "
            f"KL {map_metrics['kl']:.2f}, ELBO {map_metrics['elbo']:.2f}\n"
        )
    return table


def run() -> None:
    run_main(main)


if __name__ == "__main__":
    run()
