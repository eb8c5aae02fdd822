"""Level 1 of the package: every setting, choice and file name, without TensorFlow.

Nothing here imports TensorFlow, Keras or any other level of the package (docs/design.md,
"Levels"; an import-linter contract checks it), so the commands parse and check their
flags, and scripts read run folders and plot saved JSON, before TensorFlow starts.

- `model`: `GraphVAEConfig`, the model's arguments, and the choices they name.
- `run`: `TrainConfig`, a training run (the flags of `tfgvae-train`), datasets, table rows.
- `graph`: the possible edges and their order, edge lists, node sizes, MDL prices (numpy).
- `settings`: `setting`, a dataclass field carrying its help, checks and flag.
- `search`: `SearchConfig`, a keras-tuner search over the factorisations `N x N'`.
- `run_folder`: `RunFolder`, the one owner of a run's folder: its file names, its saved
  configuration (read and validated), its lock.
- `files`: atomic writes and the run lock.
"""

from tf_graphvae.config.graph import (
    Structure,
    check_edges,
    check_node_dims,
    edge_indices,
    get_structure,
    map_graph_edges,
    mdl_edge_prices,
    register_structure,
    structure_mask,
    validate_structure,
)
from tf_graphvae.config.model import (
    DECODE_FROM,
    EDGE_PRICES,
    GATE_ESTIMATORS,
    GATE_OPTIMIZERS,
    HARD_GATES,
    LIKELIHOODS,
    MODEL_FIELDS,
    NETWORKS,
    STRUCTURES,
    VALUE_RANGES,
    GraphVAEConfig,
    check_model_rules,
)
from tf_graphvae.config.run import (
    BINARY_DATASETS,
    DATASET_RECIPES,
    DATASETS,
    EXECUTION_FIELDS,
    GATE_ONLY_FIELDS,
    NPZ_PREFIX,
    RESOLVED,
    RESUME_MAY_CHANGE,
    RUN_MODEL_FIELDS,
    SET_BY_RUN,
    STRATEGIES,
    TrainConfig,
    check_dataset,
    check_validation_rules,
    dataset_label,
    hold_out,
    recipe_defaults,
    setting_fields,
)
from tf_graphvae.config.run_folder import RunFolder
from tf_graphvae.config.search import (
    DEFAULT_LEARNING_RATES,
    DEFAULT_LL_SAMPLES,
    DEFAULT_TEMPERATURE_FLOORS,
    TUNERS,
    TUNING_OBJECTIVES,
    SearchConfig,
    factorisations,
)
from tf_graphvae.config.settings import check_field, field_kind, positive_int, setting

__all__ = [
    "BINARY_DATASETS",
    "DATASET_RECIPES",
    "DATASETS",
    "DECODE_FROM",
    "DEFAULT_LEARNING_RATES",
    "DEFAULT_LL_SAMPLES",
    "DEFAULT_TEMPERATURE_FLOORS",
    "EDGE_PRICES",
    "EXECUTION_FIELDS",
    "GATE_ESTIMATORS",
    "GATE_ONLY_FIELDS",
    "GATE_OPTIMIZERS",
    "HARD_GATES",
    "LIKELIHOODS",
    "MODEL_FIELDS",
    "NETWORKS",
    "NPZ_PREFIX",
    "RESOLVED",
    "RESUME_MAY_CHANGE",
    "RUN_MODEL_FIELDS",
    "SET_BY_RUN",
    "STRATEGIES",
    "STRUCTURES",
    "Structure",
    "TUNERS",
    "TUNING_OBJECTIVES",
    "VALUE_RANGES",
    "GraphVAEConfig",
    "RunFolder",
    "SearchConfig",
    "TrainConfig",
    "check_dataset",
    "check_edges",
    "check_field",
    "check_model_rules",
    "check_node_dims",
    "check_validation_rules",
    "dataset_label",
    "edge_indices",
    "factorisations",
    "field_kind",
    "map_graph_edges",
    "hold_out",
    "recipe_defaults",
    "setting_fields",
    "mdl_edge_prices",
    "positive_int",
    "setting",
    "get_structure",
    "register_structure",
    "structure_mask",
    "validate_structure",
]
