"""Level 4 of the package: the run machinery built on the library, and the commands.

- `experiment`: one training run (`train`), its datasets, its run folder.
- `callbacks`: the Keras callbacks of a run (gate history, checkpoints, early stopping,
  TensorBoard, time budget).
- `distribute`: `tf.distribute` strategies and multi-worker helpers.
- `hypermodel`, `tuning`: the keras-tuner search over `N x N'` (`tfgvae-tune`).
- `cli`: the `tfgvae-train`, `-evaluate`, `-tune` and `-export` commands.
- `paper`: the lab, apart: the paper's Table 1, Figures 2-3 and the structure study,
  with `tfgvae-compare` and `tfgvae-ablation` (it imports this level; nothing here
  imports it).

Import the module you need, e.g. ``from tf_graphvae.trainers import experiment``.
"""
