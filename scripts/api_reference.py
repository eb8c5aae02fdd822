"""Writes docs/api.md, the API reference, from the package's docstrings and settings.

    python scripts/api_reference.py            # rewrite docs/api.md
    python scripts/api_reference.py --check    # exit 1 if docs/api.md is out of date

`tests/test_api_reference.py` runs the check, so the page never drifts from the code.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import sys
from pathlib import Path

PAGE = Path(__file__).resolve().parents[1] / "docs" / "api.md"

# (title, dotted name) of every documented object, in the order a newcomer needs them.
OBJECTS = [
    ("The model", "tf_graphvae.GraphVAE"),
    ("Loading a saved model", "tf_graphvae.load_model"),
    ("Data", "tf_graphvae.data.load"),
    ("Data", "tf_graphvae.data.load_numpy"),
    ("Data", "tf_graphvae.data.from_arrays"),
    ("Data", "tf_graphvae.data.binarize_images"),
    ("Evaluation", "tf_graphvae.evaluate.log_likelihood"),
    ("Evaluation", "tf_graphvae.evaluate.table1_metrics"),
    ("Evaluation", "tf_graphvae.knockout.knockout_values"),
    ("Export", "tf_graphvae.export_sampler"),
    ("Layers", "tf_graphvae.layers.Gates"),
    ("Layers", "tf_graphvae.layers.GatedDAG"),
    ("Runs", "tf_graphvae.config.TrainConfig"),
    ("Runs", "tf_graphvae.config.RunFolder"),
    ("Runs", "tf_graphvae.trainers.experiment.train"),
    ("Runs", "tf_graphvae.trainers.callbacks.EdgeProbabilityHistory"),
    ("Runs", "tf_graphvae.trainers.epoch_log.EpochLog"),
]
MODEL_METHODS = ("edge_probabilities", "sample", "elbo_terms", "encode", "decode",
                 "reconstruct", "interpolate", "knockout_values", "gate_gradient")  # fmt: skip


def _resolve(dotted: str):
    import importlib

    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _doc(obj) -> str:
    return inspect.cleandoc(obj.__doc__ or "(no docstring)")


def _signature(name: str, obj) -> str:
    try:
        return f"{name}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return name


def _arguments_table() -> list[str]:
    """Every argument of `GraphVAE` from `GraphVAEConfig`: the one place each is defined."""
    from tf_graphvae.config import GraphVAEConfig

    lines = ["| argument | default | what it does |", "|---|---|---|"]
    for f in dataclasses.fields(GraphVAEConfig):
        help_text = f.metadata.get("help", "").replace("|", "\\|")
        lines.append(f"| `{f.name}` | `{f.default!r}` | {help_text} |")
    return lines


def page() -> str:
    import tf_graphvae as tgv

    out = ["# API reference", "",
           "Generated from the docstrings by `python scripts/api_reference.py`; "
           "`import tf_graphvae as tgv`.", ""]  # fmt: skip
    section = None
    for title, dotted in OBJECTS:
        if title != section:
            out += [f"## {title}", ""]
            section = title
        obj = _resolve(dotted)
        short = dotted.replace("tf_graphvae.", "tgv.", 1)
        out += [f"### `{short}`", "", "```python", _signature(short, obj), "```", "",
                _doc(obj), ""]  # fmt: skip
        if obj is tgv.GraphVAE:
            out += ["#### Arguments", "", *_arguments_table(), "", "#### Methods", ""]
            for method in MODEL_METHODS:
                fn = getattr(tgv.GraphVAE, method)
                out += [f"- `{_signature(method, fn)}`: {_doc(fn).split(chr(10) * 2)[0]}"]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/api.md is stale")
    args = parser.parse_args(argv)
    text = page()
    if args.check:
        if not PAGE.exists() or PAGE.read_text() != text:
            print("docs/api.md is out of date: run python scripts/api_reference.py")
            return 1
        return 0
    PAGE.write_text(text)
    print(f"Wrote {PAGE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
