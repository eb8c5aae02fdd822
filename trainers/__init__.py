"""Level 4 of the package: experiments built on the library, and the commands.

- `experiment`: one training run (`train`), its datasets, its run folder.
- `callbacks`: the Keras callbacks of a run (gate history, checkpoints, early stopping,
  TensorBoard, time budget).
- `distribute`: `tf.distribute` strategies and multi-worker helpers.
- `comparison`, `table1`: Table 1 / Figure 2 (`tfgvae-compare`) and Figure 3
  (`tfgvae-ablation`).
- `hypermodel`, `tuning`: the keras-tuner search over `N x N'` (`tfgvae-tune`).
- `cli`: the `tfgvae-*` commands.

Import the module you need, e.g. ``from tf_graphvae.trainers import experiment``.
"""
