"""`SearchConfig`: a keras-tuner search over the factorisations `N x N' = M`, without
TensorFlow (the settings of `tfgvae-tune` beside the run's `TrainConfig`)."""

from __future__ import annotations

import dataclasses
import math

from tf_graphvae.config.settings import check_field, setting

TUNING_OBJECTIVES = ("val_elbo", "val_ll")
TUNERS = ("grid", "random", "bayesian")
DEFAULT_LEARNING_RATES = (3e-4, 1e-3, 3e-3)
DEFAULT_TEMPERATURE_FLOORS = (0.1, 0.3, 0.5)
DEFAULT_LL_SAMPLES = 100


def factorisations(
    latent_dim: int, min_nodes: int | None = None, max_nodes: int | None = None
) -> list[tuple[int, int]]:
    """Every `(N, N')` with `N * N' = M` and `min_nodes <= N <= max_nodes` (None: no
    bound), by increasing `N'`.

    Raises:
        ValueError: `M` is not an integer >= 1, or no factorisation is within the bounds.
    """
    if isinstance(latent_dim, bool) or int(latent_dim) != latent_dim or latent_dim < 1:
        raise ValueError(f"The latent size M must be an integer >= 1, got {latent_dim!r}.")
    m = int(latent_dim)
    low, high = min_nodes or 1, max_nodes or m
    pairs = [(m // d, d) for d in range(1, m + 1) if m % d == 0 and low <= m // d <= high]
    if not pairs:
        raise ValueError(f"There is no factorisation of M={m} with {low} <= N <= {high}.")
    return pairs


@dataclasses.dataclass
class SearchConfig:
    """What a factorisation search tries and how it scores (`tuning.tune`)."""

    latent_dim: int = setting(50, "Total latent size M = N * N'.")
    tuner: str = setting("grid", "Search algorithm.", choices=TUNERS)
    objective: str = setting(
        "val_elbo",
        "Maximised on the validation split: the ELBO, or the importance-weighted LL after "
        "training.",
        choices=TUNING_OBJECTIVES,
    )
    max_trials: int | None = setting(
        None, "Trials at most (default: the whole grid; the factorisations' number otherwise).",
        minimum=1,
    )  # fmt: skip
    min_nodes: int | None = setting(None, "Only factorisations with N >= this.", minimum=1)
    max_nodes: int | None = setting(None, "Only factorisations with N <= this.", minimum=1)
    tune_learning_rate: bool = setting(False, "Also search the learning rate.")
    tune_temperature_floor: bool = setting(False, "Also search the temperature floor.")
    learning_rates: tuple = setting(DEFAULT_LEARNING_RATES, "The learning rates searched.")
    temperature_floors: tuple = setting(
        DEFAULT_TEMPERATURE_FLOORS, "The temperature floors searched (those <= the initial)."
    )
    num_samples: int = setting(
        DEFAULT_LL_SAMPLES, "Importance samples K per image of the val_ll objective.", minimum=1
    )
    eval_images: int | None = setting(
        None, "Score val_ll on this many validation images (default all).", minimum=1
    )
    project_name: str = setting("search", "The search's folder inside the directory.")

    def validate(self) -> SearchConfig:
        """Returns `self`, or raises a ValueError naming the first bad setting."""
        self.candidates()  # a bad M first: its message says what M must be
        for f in dataclasses.fields(self):
            check_field(f, getattr(self, f.name))
        for name in ("learning_rates", "temperature_floors"):
            values = [float(v) for v in getattr(self, name)]
            if not values or not all(math.isfinite(v) and v > 0 for v in values):
                raise ValueError(f"{name} must be > 0, got {list(getattr(self, name))!r}.")
        if not self.project_name or "/" in self.project_name or self.project_name in ("..", "."):
            raise ValueError(
                f"project_name must be a plain folder name, got {self.project_name!r}."
            )
        return self

    def candidates(self) -> list[tuple[int, int]]:
        """The factorisations `(N, N')` searched: those of `latent_dim` within the bounds."""
        return factorisations(self.latent_dim, self.min_nodes, self.max_nodes)
