"""`tfgvae-export`: a trained model as a versioned SavedModel that TF Serving can serve.

tfgvae-export --model_dir=runs/digits --export_base=exports/graphvae
tensorflow_model_server --rest_api_port=8501 --model_name=graphvae \
    --model_base_path="$PWD/exports/graphvae"
"""

from __future__ import annotations

import json
from pathlib import Path

from absl import flags, logging

from tf_graphvae.trainers.cli._common import check_trained_run, run_main

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A folder written by tfgvae-train.")
_EXPORT_BASE = flags.DEFINE_string(
    "export_base", None, "Folder of the versions (TF Serving's --model_base_path)."
)
_VERSION = flags.DEFINE_integer(
    "export_version",
    None,
    "Version to write (default: one more than the largest existing one, or 1); "
    "an existing version is never overwritten.",
    lower_bound=1,
)
_LL_SAMPLES = flags.DEFINE_integer(
    "log_likelihood_samples",
    100,
    "Importance samples K of the log_likelihood signature (fixed in the export).",
    lower_bound=1,
)
_MAX_NUM_SAMPLES = flags.DEFINE_integer(
    "max_num_samples", 1024, "The most samples one sampler request may ask for.", lower_bound=1
)
flags.mark_flag_as_required("model_dir")
flags.mark_flag_as_required("export_base")


def _format_specs(specs: dict) -> str:
    return ", ".join(
        f"{name}: {spec['dtype']} {spec['shape'] if spec['shape'] is not None else '?'}"
        for name, spec in specs.items()
    )


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise ValueError(f"Unexpected arguments: {' '.join(argv[1:])}")
    if not flags.FLAGS.verbose:
        logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines about the save
    from tf_graphvae.config import RunFolder
    from tf_graphvae.export import METADATA_PATH, export_sampler, resolve_version
    from tf_graphvae.scoring import load_run_model

    folder = RunFolder(_MODEL_DIR.value)
    check_trained_run(folder)
    export_base = Path(_EXPORT_BASE.value).absolute()
    resolve_version(export_base, _VERSION.value)  # fail before the (slow) model load
    model = load_run_model(folder)
    path = export_sampler(
        model,
        export_base,
        _VERSION.value,
        log_likelihood_samples=_LL_SAMPLES.value,
        max_num_samples=_MAX_NUM_SAMPLES.value,
    )
    metadata = json.loads((path / METADATA_PATH).read_text())
    print(f"Exported {folder.model_file} as version {metadata['version']}: {path}")
    print("Signatures:")
    for name, signature in metadata["signatures"].items():
        line = (
            f"  {name}({_format_specs(signature['inputs'])}) -> "
            f"{_format_specs(signature['outputs'])}"
        )
        if name == "log_likelihood":
            line += (
                f"  [K = {metadata['log_likelihood_samples']} importance samples, "
                f"{metadata['log_likelihood_units']}, "
                f"at most {metadata['max_log_likelihood_images']} images]"
            )
        elif name == "serving_default":
            line += f"  [num_samples in 1..{metadata['max_num_samples']}]"
        print(line)
    print(
        "Serve it with: tensorflow_model_server --rest_api_port=8501 --model_name=graphvae "
        f"--model_base_path={export_base}"
    )


def _before_tensorflow() -> None:
    from tf_graphvae.config import RunFolder

    check_trained_run(RunFolder(_MODEL_DIR.value))


def run() -> None:
    run_main(main, _before_tensorflow)


if __name__ == "__main__":
    run()
