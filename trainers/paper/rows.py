"""The rows of the paper's Table 1 (`tfgvae-compare`), as structures of the model.

Pure Python (no TensorFlow): the commands' flags read it before TensorFlow is imported.
"""

from __future__ import annotations

# The rows of `tfgvae-compare`: name -> (structure, decode_from, node_dims), in the paper's
# order. `chain` is a chain prior with ladder inference whose decoder reads every node;
# `ladder` the same chain with the decoder on the bottom node, of the run's node size (with
# N' = 10 a 10-dimensional bottleneck, not Sønderby's model); `ladder_vae` is Sønderby et
# al.'s Ladder VAE: a chain of decreasing node sizes decoded from the widest, bottom one.
# Its sizes keep the shape of their MNIST model (64-32-16-8-4: top node 4, sizes growing
# towards the data) within the same total M = 50 as the other rows.
LADDER_VAE_NODE_DIMS = [20, 12, 8, 6, 4]
ROWS = {
    "independent": ("independent", "all_nodes", None),
    "chain": ("chain", "all_nodes", None),
    "ladder": ("chain", "bottom_node", None),
    "ladder_vae": ("chain", "bottom_node", LADDER_VAE_NODE_DIMS),
    "full": ("full", "all_nodes", None),
    "learned": ("learned", "all_nodes", None),
    # The learned run's MAP graph (same seed) retrained from scratch as a fixed structure:
    # the evidence that the data support that graph, paired to the other rows.
    "learned_map": ("fixed", "all_nodes", None),
}
DEFAULT_ROWS = ("independent", "chain", "full", "learned")
