"""scripts/learning_curve_fit.py: the power law fitted to validation curves, extrapolated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("curves", ROOT / "scripts" / "learning_curve_fit.py")
curves = importlib.util.module_from_spec(spec)
spec.loader.exec_module(curves)


def test_the_fit_recovers_a_known_power_law_and_its_asymptote():
    rng = np.random.default_rng(0)
    t = np.arange(1, 61)
    truth = (-88.0, 30.0, 0.5)
    noisy = curves._power_law(t, *truth) + rng.normal(0.0, 0.05, size=len(t))
    a, b, c = curves.fit(noisy.tolist(), first_epoch=6)
    # 55 points with noise 0.05: the fitted asymptote is within a few tenths of a nat.
    assert a == pytest.approx(truth[0], abs=0.5) and c == pytest.approx(truth[2], abs=0.1)
    with pytest.raises(ValueError, match="5 or more epochs"):
        curves.fit(noisy[:8].tolist(), first_epoch=6)


def test_the_table_of_the_published_mnist_runs():
    text = curves.table(str(ROOT / "results" / "mnist_v3"), ["full"])
    assert text.count("| full-seed") == 3 and "- full: mean over 3 seeds" in text
