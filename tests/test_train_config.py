"""A run's configuration holds the model's (`TrainConfig.model`), saved nested in config.json;
flat settings (flags, config.json files of older versions) are routed to their owner."""

import json
import subprocess
import sys

import pytest

from tf_graphvae.config import (
    RUN_MODEL_FIELDS,
    SET_BY_RUN,
    GraphVAEConfig,
    RunFolder,
    TrainConfig,
    setting_fields,
)


def test_a_run_holds_a_model_configuration_and_names_each_setting_once():
    config = TrainConfig(dataset="mnist", epochs=3, model=GraphVAEConfig(num_nodes=4)).validate()
    assert config.model.num_nodes == 4 and not hasattr(config, "num_nodes")
    names = [f.name for f in setting_fields()]
    assert len(names) == len(set(names))  # one owner per setting (and per flag)
    assert set(RUN_MODEL_FIELDS).isdisjoint(SET_BY_RUN) and "model" not in names


def test_replace_routes_each_setting_to_its_owner():
    config = TrainConfig().replace(structure="chain", epochs=4, seed=3)
    assert (config.model.structure, config.epochs, config.seed) == ("chain", 4, 3)
    assert config.model.seed is None  # the run's seed seeds the model (SET_BY_RUN)
    assert TrainConfig().model.structure == "learned"  # the original is untouched
    with pytest.raises(TypeError, match="num_nodez"):
        TrainConfig().replace(num_nodez=3)
    assert config.differences(TrainConfig()) == {
        "structure": ("chain", "learned"),
        "epochs": (4, 20),
        "seed": (3, 0),
    }
    assert config.differences(TrainConfig(), ignore=("epochs", "seed")) == {
        "structure": ("chain", "learned")
    }


@pytest.mark.parametrize("name", ["encoder", "standardization", "event_shape"])
def test_what_the_run_sets_itself_is_refused_in_its_configuration(name):
    config = TrainConfig(model=GraphVAEConfig(**{name: (8, 8, 1)}))
    with pytest.raises(ValueError, match=f"model.{name} is set by the run"):
        config.validate()


def test_config_json_nests_the_model_and_reads_back_equal(tmp_path):
    config = TrainConfig.from_flat(dataset="mnist", node_dims=[4, 2], num_nodes=2).validate()
    folder = RunFolder(tmp_path)
    folder.write_config(config, resolved={"likelihood": "bernoulli"})
    saved = json.loads(folder.config_file.read_text())
    assert saved["model"]["node_dims"] == [4, 2] and "node_dims" not in saved
    assert saved["model"]["encoder_units"] == [512, 512, 256]
    assert folder.read_config() == config  # tuples come back as tuples


def test_a_flat_config_json_of_an_older_version_reads_as_the_nested_one(tmp_path):
    config = TrainConfig.from_flat(structure="full", kl_warmup_epochs=2).validate()
    folder = RunFolder(tmp_path)
    older = {k: v for k, v in config.flat().items() if k not in ("hard_gates", "top_down_units")}
    folder.config_file.write_text(json.dumps(older))
    assert folder.read_config() == config
    folder.check_resumable(config)
    folder.config_file.write_text(json.dumps({**older, "model": {"structure": "chain"}}))
    with pytest.raises(ValueError, match="config.json is not a valid run configuration"):
        folder.read_config()  # one setting given twice, flat and nested


def test_a_rows_run_folders_come_in_numeric_seed_order(tmp_path):
    for seed in (10, 2, 0):
        RunFolder.of_row(tmp_path, "full", seed).path.mkdir(parents=True)
    RunFolder.of_row(tmp_path, "full_map", 1).path.mkdir(parents=True)  # another row
    runs = RunFolder.of_rows(tmp_path, "full")
    assert [r.path.name for r in runs] == ["full-seed0", "full-seed2", "full-seed10"]
    assert RunFolder.of_rows(tmp_path, "chain") == []
    assert [r.seed for r in runs] == [0, 2, 10]
    with pytest.raises(ValueError, match="is not named <row>-seed<k>"):
        _ = RunFolder(tmp_path / "runs" / "full-seedx").seed


def test_a_dataset_recipe_fills_only_the_settings_not_given():
    from tf_graphvae.config import DATASET_RECIPES

    assert DATASET_RECIPES["omniglot"]["kl_warmup_epochs"] == 20
    assert TrainConfig.for_dataset("omniglot").model.kl_warmup_epochs == 20
    assert TrainConfig.for_dataset("omniglot", kl_warmup_epochs=5).model.kl_warmup_epochs == 5
    assert TrainConfig.for_dataset("mnist").model.kl_warmup_epochs == 5
    # The Python constructors keep the field defaults: a saved config.json reads back as saved.
    assert TrainConfig.from_flat(dataset="omniglot").model.kl_warmup_epochs == 5


_FLAGS_SCRIPT = """
import sys
from absl import flags
from tf_graphvae.trainers.cli import _train_flags as t
t.define()
flags.FLAGS(["tfgvae-train", *sys.argv[1:]])
config = t.train_config()
print(config.model.kl_warmup_epochs, t.command_line(config))
"""


@pytest.mark.parametrize(
    ("argv", "warmup", "command"),
    [
        (["--dataset=omniglot"], 20, "tfgvae-train --dataset=omniglot"),
        (["--dataset=omniglot", "--kl_warmup_epochs=5"], 5,
         "tfgvae-train --dataset=omniglot --kl_warmup_epochs=5"),
        (["--dataset=mnist"], 5, "tfgvae-train --dataset=mnist"),
        (["--dataset=mnist", "--kl_warmup_epochs=20"], 20,
         "tfgvae-train --dataset=mnist --kl_warmup_epochs=20"),
    ],
)  # fmt: skip
def test_the_commands_take_the_dataset_recipe_unless_the_flag_is_given(argv, warmup, command):
    # A flag given equal to the field default (5 on Omniglot) still wins, and the command
    # that gives a run back names it, so rerunning it trains the same model.
    result = subprocess.run([sys.executable, "-c", _FLAGS_SCRIPT, *argv],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(maxsplit=1) == [str(warmup), command + "\n"]


def test_the_kept_gates_are_the_best_epoch_s_under_early_stopping(tmp_path):
    """Early stopping restores the best epoch's weights, gates included: the MAP graph, the
    edges dropped and the retrained graph read that epoch's `mu`, not the last one's."""
    from tf_graphvae.config import RunFolder

    run = RunFolder(tmp_path)
    mus = [[[0.0, 0.0], [p, 0.0]] for p in (0.5, 0.9, 0.4, 0.3)]  # before training, 3 epochs
    run.edge_probabilities_file.write_text(json.dumps({"edge_probabilities": mus}))
    assert run.kept_edge_probabilities()[1, 0] == 0.3  # no history: the last epoch
    history = {"history": {}, "early_stopping": {"best_epoch": 1, "stopped_epoch": 3}}
    run.history_file.write_text(json.dumps(history))
    assert run.kept_edge_probabilities()[1, 0] == 0.9
    run.history_file.write_text(json.dumps({"history": {}, "early_stopping": None}))
    assert run.kept_edge_probabilities()[1, 0] == 0.3
