"""`tfgvae-evaluate`: Table 1's importance-weighted LL, KL and ELBO of a trained model.

tfgvae-evaluate --model_dir=runs/digits --num_importance_samples=5000
"""

from __future__ import annotations

from pathlib import Path

from absl import flags

from tf_graphvae.config import TrainConfig, check_dataset
from tf_graphvae.trainers.cli._common import (
    check_data_dir,
    check_trained_run,
    run_main,
    validator,
)
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
    False,
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
    from tf_graphvae import diagnostics, scoring
    from tf_graphvae.config import RunFolder
    from tf_graphvae.config.files import write_json, write_text

    folder = RunFolder(_MODEL_DIR.value)
    config = _run_config(folder)
    print(f"Loading {folder.model_file} ...", flush=True)
    model = scoring.load_run_model(folder)
    images = scoring.test_images(config, EVAL_IMAGES.value, model.likelihood_name)
    passes = "two passes: the gate mixture, then the MAP graph" if (
        model.gates.learned and model.num_nodes > 1) else "one pass"  # fmt: skip
    print(
        f"Importance-weighted LL of {len(images)} images of {config.dataset} "
        f"{config.test_split}, K = {NUM_SAMPLES.value} ({passes}) ...", flush=True
    )  # fmt: skip
    scores = scoring.score(model, images, NUM_SAMPLES.value, config.seed, config.evaluation_xla)
    stem = Path(_OUTPUT.value) if _OUTPUT.value else folder / "evaluation"
    record = _record(folder, config, scores)
    write_json(stem.with_suffix(".json"), record)
    table = _table(config, model.structure, scores["metrics"], record.get("map_graph"))
    table += "\nPer node (active units: Cov_x(E_q[z_u]) > 0.01):\n\n"
    table += diagnostics.markdown(scores["diagnostics"])
    if _KNOCKOUT.value and model.num_nodes > 1:
        knockout = scoring.write_knockout_values(
            model, images, stem.parent, stem.name, f"{config.dataset}, {model.structure}",
            config.evaluation_xla, config.seed,
        )  # fmt: skip
        table += "\n" + knockout["markdown"]
    write_text(stem.with_suffix(".md"), table)
    print(table)
    written = [stem.with_suffix(".json"), stem.with_suffix(".md")]
    if _KNOCKOUT.value and model.num_nodes > 1:
        written.append(stem.parent / f"knockout_values_{stem.name}.json/.md/.png")
    written += _sample_figures(model, images[:16], stem, config.seed)
    print("Wrote " + ", ".join(str(path) for path in written))


def _record(folder, config: TrainConfig, scores: dict) -> dict:
    """evaluation.json: the scores, the per-image LLs in the order of the evaluated images
    (paired comparisons), and the per-node diagnostics."""
    record = {"model_dir": str(folder.path), "dataset": config.dataset,
              "test_split": config.test_split, **scores["metrics"],
              "ll_per_image": scores["ll_per_image"],
              "diagnostics": scores["diagnostics"]}  # fmt: skip
    if "metrics_map" in scores:
        record["map_graph"] = scores["metrics_map"]
        record["ll_map_per_image"] = scores["ll_map_per_image"]
    return record


def _sample_figures(model, images, stem: Path, seed: int) -> list[Path]:
    """Writes samples_<output name>.png and reconstructions_<output name>.png beside the
    results (as the knock-out values are named); for examples that are not images, says so."""
    from tf_graphvae.figures.samples import is_image_shape, plot_model_pictures

    paths = [stem.parent / f"{kind}_{stem.name}.png" for kind in ("samples", "reconstructions")]
    if not is_image_shape(model.event_shape):
        names = " or ".join(path.name for path in paths)
        print(f"No {names}: examples {list(model.event_shape)} are not images.")
        return []
    return plot_model_pictures(model, images, *paths, seed=seed)


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


def _before_tensorflow() -> None:
    from tf_graphvae.config import RunFolder

    folder = RunFolder(_MODEL_DIR.value)
    check_trained_run(folder)
    check_data_dir(_run_config(folder).data_dir)


def run() -> None:
    run_main(main, _before_tensorflow)


if __name__ == "__main__":
    run()
