"""Figures: valid PNGs, figure-2 colours and arrows, DOT/JSON exports, bad input, atomic writes."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from tf_graphvae import figures
from tf_graphvae.config import edge_indices

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _history(num_nodes: int, steps: int = 6, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    drift = rng.normal(size=(num_nodes, num_nodes))
    return [np.tril(1.0 / (1.0 + np.exp(-drift * t / 2.0)), k=-1) for t in range(steps)]


def _gates(num_nodes: int, edges) -> np.ndarray:
    gates = np.zeros((num_nodes, num_nodes))
    for i, j in edges:
        gates[i, j] = 1.0
    return gates


def _check_png(path, min_size: int = 50) -> np.ndarray:
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[2] in (3, 4)
    assert image.shape[0] >= min_size and image.shape[1] >= min_size
    assert image.std() > 0  # not a blank canvas
    return image


def _results():
    return [
        dict(latent_dim=m, num_nodes=m // nd, node_dim=nd, ll=-90.0 + nd / m, ll_std=0.2)
        for m in (16, 32)
        for nd in (1, 2, 4, 16)
    ]


# ---------------------------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("num_nodes", [1, 2, 4, 5, 6, 8])
def test_edge_colors_are_distinct_and_keyed_by_edge(num_nodes):
    colours = figures.edge_colors(num_nodes)
    parents, children = edge_indices(num_nodes)
    assert list(colours) == list(zip(parents.tolist(), children.tolist(), strict=True))
    assert len(set(colours.values())) == len(colours)
    for colour in colours.values():
        assert len(colour) == 4 and all(0.0 <= c <= 1.0 for c in colour)


def test_edge_colors_use_tab10_first():
    import matplotlib

    colours = figures.edge_colors(4)
    tab10 = matplotlib.colormaps["tab10"]
    assert colours[(3, 0)] == pytest.approx(to_rgba(tab10(0)))
    assert colours[(1, 0)] == pytest.approx(to_rgba(tab10(5)))


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_edge_colors_rejects_bad_num_nodes(bad):
    with pytest.raises(ValueError, match="num_nodes"):
        figures.edge_colors(bad)


# ---------------------------------------------------------------------------------------------
# Figure 2
# ---------------------------------------------------------------------------------------------


def test_figure2_lines_and_arrows_match_edge_colours():
    num_nodes = 4
    present = [(3, 1), (2, 0), (1, 0)]
    fig = figures.build_figure2(_history(num_nodes), _gates(num_nodes, present), title="t")
    assert isinstance(fig, Figure)
    ax_a, ax_b = fig.axes[:2]
    colours = figures.edge_colors(num_nodes)

    lines = {line.get_gid(): line for line in ax_a.lines if line.get_gid().startswith("edge-")}
    assert set(lines) == {f"edge-{i}-{j}" for i, j in colours}
    for (i, j), colour in colours.items():
        line = lines[f"edge-{i}-{j}"]
        assert to_rgba(line.get_color()) == pytest.approx(colour)
        assert line.get_label() == figures.edge_label(i, j)
        np.testing.assert_allclose(line.get_xdata(), np.arange(6))
    legend_labels = [t.get_text() for t in ax_a.get_legend().get_texts()]
    assert legend_labels == [figures.edge_label(i, j) for i, j in colours]
    y0, y1 = ax_a.get_ylim()
    assert -0.1 < y0 < 0.0 and 1.0 < y1 < 1.1

    arrows = [p for p in ax_b.patches if isinstance(p, FancyArrowPatch)]
    assert sorted(a.get_gid() for a in arrows) == sorted(f"edge-{i}-{j}" for i, j in present)
    for arrow in arrows:
        _, i, j = arrow.get_gid().split("-")
        assert to_rgba(arrow.get_edgecolor()) == pytest.approx(colours[(int(i), int(j))])
    nodes = [p.get_gid() for p in ax_b.patches if (p.get_gid() or "").startswith("node-")]
    assert sorted(nodes) == [f"node-{k}" for k in range(num_nodes)]


def test_figure2_uses_given_epochs():
    fig = figures.build_figure2(_history(3, steps=4), np.zeros((3, 3)), epochs=[0, 5, 10, 20])
    line = next(line for line in fig.axes[0].lines if line.get_gid() == "edge-2-0")
    np.testing.assert_allclose(line.get_xdata(), [0, 5, 10, 20])
    assert not [p for p in fig.axes[1].patches if isinstance(p, FancyArrowPatch)]


def test_plot_figure2_writes_png(tmp_path):
    path = tmp_path / "sub" / "figure2.png"
    out = figures.plot_figure2(_history(5), _gates(5, [(4, 0), (3, 2)]), path, title="MNIST")
    assert out == path
    _check_png(path, min_size=300)
    assert [p.name for p in path.parent.iterdir()] == ["figure2.png"]


@pytest.mark.parametrize(
    ("history", "gates", "kwargs", "match"),
    [
        ([], np.zeros((3, 3)), {}, "empty"),
        ([np.zeros((3, 3)), np.zeros((4, 4))], np.zeros((3, 3)), {}, "inconsistent"),
        ([np.zeros((3, 2))], np.zeros((3, 3)), {}, "square"),
        ([np.zeros((3, 3))], np.zeros((3, 2)), {}, "square"),
        ([np.zeros((3, 3))], np.zeros((4, 4)), {}, "nodes"),
        ([np.full((3, 3), 2.0)], np.zeros((3, 3)), {}, r"\[0, 1\]"),
        ([np.zeros((3, 3))], np.eye(3), {}, "i > child j"),
        ([np.zeros((3, 3))] * 2, np.zeros((3, 3)), {"epochs": [0, 1, 2]}, "epochs"),
    ],
)
def test_figure2_rejects_bad_input(tmp_path, history, gates, kwargs, match):
    with pytest.raises(ValueError, match=match):
        figures.plot_figure2(history, gates, tmp_path / "f.png", **kwargs)
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------
# Figure 3, sample grid, edge stability
# ---------------------------------------------------------------------------------------------


def test_figure3_lines_per_latent_dim_and_log_axis(tmp_path):
    fig = figures.build_figure3(_results(), title="Figure 3")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"  # N' spans 16x
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["M = 16", "M = 32"]
    np.testing.assert_allclose(ax.get_xticks(), [1, 2, 4, 16])
    annotations = [t.get_text() for t in ax.texts if t.get_gid() == "num-nodes"]
    assert sorted(annotations) == sorted(f"N={r['num_nodes']}" for r in _results())
    assert len(ax.containers) == 2  # error bars

    path = figures.plot_figure3(_results(), tmp_path / "figure3.png")
    _check_png(path, min_size=300)


def test_figure3_linear_axis_without_std(tmp_path):
    results = [dict(latent_dim=8, num_nodes=8 // nd, node_dim=nd, ll=-100.0 + nd) for nd in (1, 2)]
    fig = figures.build_figure3(results)
    assert fig.axes[0].get_xscale() == "linear"
    assert not fig.axes[0].containers
    _check_png(figures.plot_figure3(results, tmp_path / "f3.png"))


@pytest.mark.parametrize(
    ("results", "match"),
    [
        ([], "empty"),
        ([dict(latent_dim=8, num_nodes=2, node_dim=4)], "missing"),
        ([dict(latent_dim=8, num_nodes=2, node_dim=4, ll="x")], "not a number"),
        ([dict(latent_dim=8, num_nodes=2, node_dim=0, ll=-1.0)], "node_dim"),
    ],
)
def test_figure3_rejects_bad_results(tmp_path, results, match):
    with pytest.raises(ValueError, match=match):
        figures.plot_figure3(results, tmp_path / "f3.png")


def test_sample_grid_grey_and_colour(tmp_path):
    rng = np.random.default_rng(0)
    grey = figures.plot_sample_grid(rng.uniform(size=(10, 8, 8, 1)), tmp_path / "g.png", ncols=4)
    _check_png(grey)
    colour = rng.integers(0, 256, size=(5, 6, 6, 3)).astype(np.float32)
    fig = figures.build_sample_grid(colour, ncols=8, title="samples")
    mosaic = fig.axes[0].images[0].get_array()
    assert mosaic.max() <= 1.0  # 0..255 was rescaled
    assert mosaic.shape[1] > 5 * 6 and mosaic.shape[0] >= 6  # one row of five
    _check_png(figures.plot_sample_grid(colour, tmp_path / "c.png", title="samples"))


@pytest.mark.parametrize(
    ("images", "kwargs", "match"),
    [
        (np.zeros((4, 8, 8)), {}, "rank"),
        (np.zeros((8, 8)), {}, "rank"),
        (np.zeros((2, 8, 8, 2)), {}, "channels"),
        (np.zeros((0, 8, 8, 1)), {}, "non-empty"),
        (np.zeros((2, 8, 8, 1)), {"ncols": 0}, "ncols"),
    ],
)
def test_sample_grid_rejects_bad_images(tmp_path, images, kwargs, match):
    with pytest.raises(ValueError, match=match):
        figures.plot_sample_grid(images, tmp_path / "g.png", **kwargs)


def test_edge_stability_heatmap(tmp_path):
    survival = np.tril(np.random.default_rng(1).uniform(size=(4, 4)), k=-1)
    fig = figures.build_edge_stability(survival, title="stability")
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts}
    assert set(texts) == {f"cell-{i}-{j}" for i, j in zip(*edge_indices(4), strict=True)}
    assert texts["cell-3-0"] == f"{survival[3, 0]:.2f}"
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)
    assert len(fig.axes) == 2  # heatmap and colour bar
    _check_png(figures.plot_edge_stability(survival, tmp_path / "s.png"))

    with pytest.raises(ValueError, match="square"):
        figures.plot_edge_stability(np.zeros((3, 4)), tmp_path / "bad.png")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        figures.plot_edge_stability(np.tril(np.full((3, 3), 1.5), k=-1), tmp_path / "bad.png")


# ---------------------------------------------------------------------------------------------
# DOT and JSON
# ---------------------------------------------------------------------------------------------


def test_dot_has_exactly_the_present_edges(tmp_path):
    present = [(4, 2), (3, 0), (1, 0)]
    gates = _gates(5, present)
    mu = np.tril(np.full((5, 5), 0.25), k=-1)
    path = tmp_path / "structure.dot"
    text = figures.structure_to_dot(gates, path=path, edge_probabilities=mu)
    assert path.read_text() == text
    assert text.startswith("digraph")
    edges = [line.strip() for line in text.splitlines() if "->" in line]
    assert edges == [f'z{i} -> z{j} [label="0.250"];' for i, j in present]
    for k in range(5):
        assert f"z{k} [" in text
    plain = figures.structure_to_dot(gates)
    assert 'label="0.250"' not in plain and plain.count("->") == 3


def test_json_round_trip():
    gates = _gates(4, [(3, 2), (2, 0)])
    mu = _history(4)[-1]
    obj = figures.structure_to_json(gates, edge_probabilities=mu)
    assert obj["num_nodes"] == 4 and obj["edges"] == [[3, 2], [2, 0]]
    loaded = json.loads(json.dumps(obj))
    assert loaded == obj
    gates_back, mu_back = figures.structure_from_json(loaded)
    np.testing.assert_array_equal(gates_back, gates)
    np.testing.assert_allclose(mu_back, mu)
    assert figures.structure_to_json(gates)["edge_probabilities"] is None
    assert figures.structure_from_json(figures.structure_to_json(gates))[1] is None


@pytest.mark.parametrize(
    ("gates", "mu", "match"),
    [
        (np.zeros((3, 4)), None, "square"),
        (np.ones((3, 3)), None, "i > child j"),
        (np.zeros((3, 3)), np.zeros((4, 4)), "nodes"),
        (np.zeros((3, 3)), np.full((3, 3), -1.0), r"\[0, 1\]"),
    ],
)
def test_exports_reject_bad_input(gates, mu, match):
    with pytest.raises(ValueError, match=match):
        figures.structure_to_dot(gates, edge_probabilities=mu)
    with pytest.raises(ValueError, match=match):
        figures.structure_to_json(gates, edge_probabilities=mu)


def test_structure_from_json_rejects_impossible_edges():
    with pytest.raises(ValueError, match="possible edge"):
        figures.structure_from_json({"num_nodes": 3, "edges": [[0, 2]]})
    with pytest.raises(ValueError, match="missing"):
        figures.structure_from_json({"edges": []})


# ---------------------------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------------------------


def test_failed_write_keeps_previous_file_and_leaves_no_partial(tmp_path, monkeypatch):
    path = tmp_path / "figure2.png"
    figures.plot_figure2(_history(3), _gates(3, [(2, 0)]), path)
    previous = path.read_bytes()

    def broken_savefig(self, fname, *args, **kwargs):
        with open(fname, "wb") as handle:
            handle.write(PNG_SIGNATURE + b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(OSError, match="disk full"):
        figures.plot_figure2(_history(3, seed=1), _gates(3, [(1, 0)]), path)
    with pytest.raises(OSError, match="disk full"):
        figures.plot_sample_grid(np.zeros((2, 4, 4, 1)), tmp_path / "new.png")
    assert path.read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["figure2.png"]


def test_unsupported_suffix_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="format"):
        figures.plot_sample_grid(np.zeros((1, 4, 4, 1)), tmp_path / "grid.xyz")


def test_learning_curves_one_colour_per_row_one_line_per_seed(tmp_path):
    rng = np.random.default_rng(0)
    curves = {
        "independent": [{"elbo": -100 + np.arange(12.0), "val_elbo": -101 + np.arange(12.0)}
                        for _ in range(3)],
        "full": [{"elbo": -99 + rng.normal(size=8)}],  # no validation: the training ELBO
    }  # fmt: skip
    fig = figures.build_learning_curves(curves, "t", {"independent": "VAE"})
    ax = fig.axes[0]
    solid = [line for line in ax.lines if line.get_linestyle() == "-"]
    dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
    assert len(solid) == 3 and len(dashed) == 1
    assert len({to_rgba(line.get_color()) for line in solid + dashed}) == 2
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["VAE (validation)", "full (training)"]
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert [float(d.get_xdata()[0]) for d in dots[:3]] == [12.0] * 3  # the best epoch
    path = figures.plot_learning_curves(curves, tmp_path / "curves.png")
    assert matplotlib.image.imread(path).shape[-1] == 4


@pytest.mark.parametrize(
    "curves, match",
    [({}, "empty"), ({"a": []}, "no history"), ({"a": [{"val_elbo": [1.0]}]}, "no per-epoch")],
)
def test_learning_curves_reject_bad_input(curves, match):
    with pytest.raises(ValueError, match=match):
        figures.build_learning_curves(curves)
