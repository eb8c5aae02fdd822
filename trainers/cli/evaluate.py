"""`tfgvae-evaluate`: Table 1's importance-weighted LL, KL and ELBO of a trained model.

tfgvae-evaluate --model_dir=runs/digits --num_importance_samples=5000
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from tf_graphvae.config import TrainConfig, check_dataset
from tf_graphvae.trainers.cli._common import run_main, validator
from tf_graphvae.trainers.cli._eval_flags import EVAL_IMAGES, NUM_SAMPLES

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A folder written by tfgvae-train.")
_DATASET = flags.DEFINE_string(
    "dataset", None, "Dataset or npz:<path> (default: the one the model was trained on)."
)
flags.register_validator("dataset", validator(check_dataset))
_DATA_DIR = flags.DEFINE_string("data_dir", None, "Folder with the publishers' data files.")
_TEST_SPLIT = flags.DEFINE_string("test_split", None, "Split (default: the run's test split).")
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
    from tf_graphvae import scoring
    from tf_graphvae.config import RunFolder
    from tf_graphvae.config.files import write_json, write_text

    folder = RunFolder(_MODEL_DIR.value)
    folder.require_idle()
    folder.require_model()
    config = _run_config(folder)  # a bad config.json is refused before the (slow) load
    model = scoring.load_run_model(folder)
    images = scoring.test_images(config, EVAL_IMAGES.value)
    scores = scoring.score(model, images, NUM_SAMPLES.value, config.seed, config.evaluation_xla)
    stem = Path(_OUTPUT.value) if _OUTPUT.value else folder / "evaluation"
    record = {"model_dir": str(folder.path), "dataset": config.dataset,
              "test_split": config.test_split, **scores["metrics"]}  # fmt: skip
    if "metrics_map" in scores:
        record["map_graph"] = scores["metrics_map"]
    write_json(stem.with_suffix(".json"), record)
    table = _table(config, model.structure, scores["metrics"], record.get("map_graph"))
    if _KNOCKOUT.value and model.num_nodes > 1:
        knockout = scoring.write_knockout_values(
            model, images, stem.parent, stem.name, f"{config.dataset}, {model.structure}",
            config.evaluation_xla, config.seed,
        )  # fmt: skip
        table += "\n" + knockout["markdown"]
    write_text(stem.with_suffix(".md"), table)
    print(table)


def _run_config(folder) -> TrainConfig:
    """The run's saved configuration (validated), with the flags that override it."""
    config = folder.read_config() or TrainConfig()
    overrides = {
        "dataset": _DATASET.value,
        "data_dir": _DATA_DIR.value,
        "test_split": _TEST_SPLIT.value,
        "seed": _SEED.value,
    }
    return config.replace(**{k: v for k, v in overrides.items() if v is not None})


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
