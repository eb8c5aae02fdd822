"""The lab: the paper's experiments, built on the library and the run machinery.

- `rows`: the rows of Table 1 (structures, decoder input, node sizes); no TensorFlow.
- `comparison`: Table 1 and Figure 2 (`tfgvae-compare`), Figure 3 (`tfgvae-ablation`).
- `table1`: Table 1's numbers: the paired differences and their Student-t intervals.
- `figure3`: Figure 3's table and plot from the ablation's run records.
- `structure_evidence`: the retrained-graph evidence beside the rows it is paired with.
- `cli`: the `tfgvae-compare` and `tfgvae-ablation` commands.

Nothing in the library (`tf_graphvae`, `tf_graphvae.layers`, `tf_graphvae.config`) or in
the run machinery (`tf_graphvae.trainers` outside this package) imports it
(`pyproject.toml`'s import-linter contracts).
"""
