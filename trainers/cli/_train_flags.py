"""The flags of the commands that train models, generated from the settings of a run.

Each setting of a run (`tf_graphvae.config.setting_fields`: the fields of `TrainConfig` and
of the `GraphVAEConfig` it holds) becomes one absl flag of the same name, default and help
(an enum where the field names its choices, bounds where it names them), so every default
exists once. A command defines the flags that apply to it (:func:`define`): `tfgvae-tune`
and `tfgvae-ablation` choose `N` and `N'` themselves, so they have no `--num_nodes`.
TensorFlow is not imported here.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from absl import flags

from tf_graphvae.config import (
    DATASET_RECIPES,
    TrainConfig,
    field_kind,
    recipe_defaults,
    setting_fields,
)
from tf_graphvae.trainers.cli._common import validator


def _define_widths(name: str, default, help: str) -> flags.FlagHolder:
    """`--name=512,256` (or one width): a list flag whose default is the field's, written
    as the flag would be; `GraphVAEConfig` reads the strings as widths."""
    shown = ",".join(map(str, default)) if isinstance(default, list | tuple) else str(default)
    return flags.DEFINE_list(name, shown, help)


_DEFINE = {
    "int": flags.DEFINE_integer,
    "float": flags.DEFINE_float,
    "bool": flags.DEFINE_bool,
    "str": flags.DEFINE_string,
    "list": flags.DEFINE_list,
    "widths": _define_widths,
}


def _help(f: dataclasses.Field) -> str:
    """The field's help, with the datasets whose recipe sets another default."""
    own = [f"{name}: {recipe[f.name]}" for name, recipe in DATASET_RECIPES.items()
           if f.name in recipe]  # fmt: skip
    return f.metadata["help"] + (f" Default on {'; '.join(own)}." if own else "")


def _define(f: dataclasses.Field) -> flags.FlagHolder:
    meta = f.metadata
    if "choices" in meta:
        choices = [c for c in meta["choices"] if c is not None]  # None: the flag's default
        return flags.DEFINE_enum(f.name, f.default, choices, _help(f))
    kwargs = {}
    if "minimum" in meta:
        kwargs["lower_bound"] = meta["minimum"]
    holder = _DEFINE[field_kind(f)](f.name, f.default, _help(f), **kwargs)
    if "check" in meta:
        flags.register_validator(f.name, validator(meta["check"]))
    if meta.get("positive"):
        flags.register_validator(f.name, lambda v: v is None or v > 0, f"--{f.name} must be > 0.")
    return holder


FLAGS: dict[str, flags.FlagHolder] = {}
_STRUCTURE_FILE: list[flags.FlagHolder] = []
# The fields a factorisation search sets itself, and the structure a row of it fixes.
FACTORISATION_FIELDS = ("num_nodes", "node_dim", "node_dims", "edges")


def define(exclude: tuple[str, ...] = ()) -> None:
    """Defines one flag per setting but those in `exclude` (their defaults stand), and
    `--structure_file` unless `edges` is excluded. Called once per command."""
    for f in setting_fields():
        if f.metadata.get("flag", True) and f.name not in exclude:
            FLAGS[f.name] = _define(f)
    if "edges" not in exclude:
        _STRUCTURE_FILE.append(flags.DEFINE_string(
            "structure_file",
            None,
            "With --structure=fixed: a structure JSON (as tfgvae-compare writes, "
            "structure_seed<k>.json) whose edges are the fixed graph.",
        ))  # fmt: skip


def _edges_from_file(path: str | None) -> list | None:
    if path is None:
        return None
    try:
        edges = json.loads(Path(path).read_text())["edges"]
        return [[int(i), int(j)] for i, j in edges]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(
            f"--structure_file {path}: no structure JSON with edges ({error})."
        ) from None


def command_line(config: TrainConfig, command: str = "tfgvae-train") -> str:
    """The command whose flags give `config` (every setting that is not its default on
    the run's dataset)."""
    parts = [command, f"--dataset={config.dataset}"]
    settings = config.flat()
    recipe = recipe_defaults(config.dataset)
    for f in setting_fields():
        value = settings[f.name]
        default = recipe.get(f.name, f.default)
        skip = f.name in ("dataset", "edges") or not f.metadata.get("flag", True)
        if skip or value == (list(default) if isinstance(default, tuple) else default):
            continue
        if isinstance(value, bool):
            parts.append(f"--{f.name}" if value else f"--no{f.name}")
        elif isinstance(value, list | tuple):
            parts.append(f"--{f.name}={','.join(map(str, value))}")
        else:
            parts.append(f"--{f.name}={value}")
    return " ".join(parts)


def train_config(**overrides) -> TrainConfig:
    """The `TrainConfig` the flags describe: the given flags, the dataset's recipe
    (`DATASET_RECIPES`) for those not given, the defaults for the rest; fields in
    `overrides` replace them all."""
    values = {}
    recipe = recipe_defaults(overrides.get("dataset", FLAGS["dataset"].value))
    for f in setting_fields():
        # A recipe setting whose flag was not given is left to TrainConfig.for_dataset.
        if f.name in FLAGS and (f.name not in recipe or FLAGS[f.name].present):
            value = FLAGS[f.name].value
            values[f.name] = None if f.metadata.get("zero_means_none") and not value else value
            if field_kind(f) == "list" and value is not None:  # checked by the flag's validator
                values[f.name] = [int(v) for v in value]
    if _STRUCTURE_FILE:
        values["edges"] = _edges_from_file(_STRUCTURE_FILE[0].value)
    values.update(overrides)
    return TrainConfig.for_dataset(**values).validate()
