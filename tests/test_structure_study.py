"""scripts/structure_study.py: the one-standard-error choice of edge_cost and paired tables."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("study", ROOT / "scripts" / "structure_study.py")
study = importlib.util.module_from_spec(spec)
spec.loader.exec_module(study)


def _run(folder: Path, cost: float, ll: np.ndarray, mu_off: list[tuple[int, int]], seed=0):
    run = folder / "runs" / f"learned-seed{seed}"
    run.mkdir(parents=True)
    metrics = {"ll": float(ll.mean()), "ll_sem": 0.1, "kl": 20.0}
    record = {"config": {"edge_cost": cost, "seed": seed}, "metrics": metrics,
              "ll_per_image": ll.tolist()}  # fmt: skip
    (run / "eval.json").write_text(json.dumps(record))
    mu = np.tril(np.ones((3, 3)), -1)
    for i, j in mu_off:
        mu[i, j] = 0.2
    (run / "edge_probabilities.json").write_text(json.dumps({"edge_probabilities": [mu.tolist()]}))


def test_the_largest_cost_within_one_paired_standard_error_of_the_best_is_chosen(tmp_path):
    rng = np.random.default_rng(0)
    base = rng.normal(-90.0, 5.0, size=400)  # per-image LLs shared by every run: pairing
    noise = lambda: rng.normal(0.0, 0.5, size=400)  # noqa: E731
    _run(tmp_path / "a", 0.0, base + noise(), [])
    _run(tmp_path / "b", 0.3, base + noise(), [(2, 0)])  # within noise of the best
    _run(tmp_path / "c", 1.0, base - 1.0 + noise(), [(2, 0), (2, 1)])  # 1 nat worse: 40 SE
    text = study.choose([str(tmp_path / name) for name in "abc"])
    assert text.strip().endswith("edge_cost=0.3")
    assert "z2→z0, z2→z1" in text and "One seed: standard errors over images" in text


def test_paired_differences_and_edge_counts_over_seeds(tmp_path):
    ll = np.linspace(-100, -80, 50)
    for seed in (0, 1):
        _run(tmp_path / "runs_dir", 1.0, ll + 0.5 + seed, [(1, 0)], seed=seed)
        base = tmp_path / "base" / "runs" / f"full-seed{seed}"
        base.mkdir(parents=True)
        (base / "eval.json").write_text(json.dumps(
            {"metrics": {"ll": float(ll.mean()), "ll_sem": 1.0}, "ll_per_image": ll.tolist()}
        ))  # fmt: skip
    text = study.paired(str(tmp_path / "base"), "full", str(tmp_path / "runs_dir"), "learned")
    assert "Mean of the 2 per-seed differences: +1.00 ± 0.50" in text
    assert "95 % Student-t interval [-5.35, +7.35]" in text  # t(0.975, 1) = 12.71
    assert "z1→z0 in 2" in text


def test_the_choice_uses_the_standard_error_over_seeds(tmp_path):
    base = np.random.default_rng(1).normal(-90.0, 5.0, size=400)
    # Cost 0.5 is 0.15 nats behind in the mean, far beyond its SE over images (0: the same
    # shift for every image) but within its SE over the three seeds (they spread by 0.3).
    for seed, shift in enumerate([-0.45, 0.05, -0.05]):
        _run(tmp_path / "a", 0.0, base + seed, [], seed=seed)
        _run(tmp_path / "b", 0.5, base + shift + seed, [(2, 0)], seed=seed)
    text = study.choose([str(tmp_path / "a"), str(tmp_path / "b")])
    assert "Standard errors over 3 seeds" in text
    assert "| 0.5 | 3 |" in text and "-0.15 ± 0.15" in text
    assert text.strip().endswith("edge_cost=0.5")


def test_retrained_evidence_of_the_published_mdl_runs(capsys):
    """`retrained` on the committed MNIST v3 records: every MDL seed keeps all 10 edges, so
    its retrained graph is FC-VAE's run, and the differences to the VAE are recounted here
    from the per-image LLs."""
    results = ROOT / "results"
    study.main(["retrained", f"--runs={results / 'mnist_v3_mdl'}",
                f"--baseline={results / 'mnist_v3'}"])  # fmt: skip
    text = capsys.readouterr().out
    assert text.count("0 (the same run)") == 3 and "edges dropped" in text
    diffs = []
    for seed in (0, 1, 2):
        folders = [results / "mnist_v3/runs" / f"{r}-seed{seed}" for r in ("full", "independent")]
        runs = [json.loads((f / "eval.json").read_text())["ll_per_image"] for f in folders]
        diffs.append(np.mean(np.subtract(*runs)))
    assert f"− VAE: {np.mean(diffs):+.2f} ± {np.std(diffs, ddof=1) / np.sqrt(3):.2f}" in text
    # Without a baseline folder holding FC-VAE, chain or VAE runs there is nothing to pair.
    study.main(["retrained", f"--runs={results / 'mnist_v3_mdl'}"])
    alone = capsys.readouterr().out
    assert alone.splitlines()[0] == "| seed | edges kept | edges dropped | retrained as | LL |"
    assert "No finished FC-VAE, chain or VAE run to pair with in `mnist_v3_mdl`" in alone


def test_old_knockout_records_are_rewritten_without_support_wording(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "rename", ROOT / "scripts" / "rename_knockout_records.py"
    )
    rename = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rename)
    record = json.loads((ROOT / "results/mnist_final/knockout_values_seed0.json").read_text())
    run = tmp_path / "old"
    run.mkdir()
    (run / "edge_values_seed0.json").write_text(json.dumps(record))
    (run / "edge_values_seed0.md").write_text("mnist, seed 0: old caption; supported: > 2 SE\n")
    (written,) = rename.rename(tmp_path)
    assert written == run / "knockout_values_seed0.json"
    assert json.loads(written.read_text())["value"] == record["value"]
    text = (run / "knockout_values_seed0.md").read_text()
    assert text.startswith("mnist, seed 0: ELBO(gate on)") and "| supported |" not in text
    assert (run / "knockout_values_seed0.png").read_bytes()[:4] == b"\x89PNG"
    assert not list(run.glob("edge_values_*"))


def test_the_priced_choice_takes_the_highest_price_within_one_seed_level_se(tmp_path):
    def write(label, lls, split="train@val10%"):
        for seed, ll in enumerate(lls):
            record = {"test_split": split, "ll": ll, "model_dir": str(tmp_path / "absent")}
            (tmp_path / f"{label}-seed{seed}.json").write_text(json.dumps(record))
        return f"{label}={tmp_path}/{label}-seed*.json"

    none = write("none", [-90.0, -90.5, -89.5])
    close = write("mdl", [-90.1, -90.4, -89.7])  # -0.07 ± 0.09: within one SE of the best
    far = write("mdl2", [-91.0, -91.6, -90.4])  # -1.0 ± 0.05
    assert study.choose_priced([none, close]).strip().endswith("chosen=mdl")
    assert study.choose_priced([none, far]).strip().endswith("chosen=none")
    assert "| mdl | 3 | -90.07 | -0.07 ± 0.09 | ?, ?, ? |" in study.choose_priced([none, close])
    tested = write("tested", [-90.0, -90.0], split="test")
    with pytest.raises(ValueError, match="not a validation split"):
        study.choose_priced([none, tested])
    with pytest.raises(ValueError, match="2 or more"):
        study.choose_priced([none, write("one", [-90.0])])
