"""Checks of the data given to `GraphVAE.fit` and `evaluate`, before any step runs.

Arrays and tensors are read whole. A `tf.data.Dataset` is judged by its element spec and
its first batches (`first_batches`), so that a NaN (which a Bernoulli draw turns into 0
without a word), values outside the likelihood's range and raw Gaussian features are
refused in a pipeline as they are in numpy input. Features far from standardised are
refused by the bounds `tfgvae-train` applies (`MAX_ABS_MEAN`, `STD_RANGE`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from tf_graphvae.config.model import MAX_ABS_MEAN, STD_RANGE

# Examples the scale check reads: enough that a standardised feature's sample mean and std
# stay well inside the bounds. Below MIN_SCALE_ROWS it is skipped: one example's features
# have std 0 and any mean, and a few examples' statistics would refuse standardised data.
SCALE_ROWS, MIN_SCALE_ROWS = 1024, 8


def feature_statistics(x) -> tuple[np.ndarray, np.ndarray, int]:
    """The mean and std of every feature of examples `x` `[n, ...]` (flattened, float64),
    with std 1 for a constant feature (a standardisation divides by it), and how many
    features are constant."""
    x = np.asarray(x).reshape(len(x), -1).astype(np.float64)
    std = x.std(axis=0)
    constant = ~(std > 0)
    return x.mean(axis=0), np.where(constant, 1.0, std), int(constant.sum())


def images_of(element):
    """The images of a batch, or of a dataset's element spec: `x`, `(x, y, ...)` or
    `{"image": x}` (labels are ignored)."""
    if isinstance(element, (tuple, list)):
        element = element[0]
    if isinstance(element, dict):
        element = element["image"]
    return element


def check_images(model, x, where: str = "") -> None:
    """Raises a ValueError unless concrete images `x` have `model`'s shape and range;
    `where` names their source in the message (e.g. `" in the first batch of the dataset"`)."""
    x = np.asarray(x)
    shape = model.event_shape
    if x.ndim != 1 + len(shape) or tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"Expected images of shape [batch, {', '.join(map(str, shape))}], got {list(x.shape)}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"Images{where} contain {int(np.sum(~np.isfinite(x)))} NaN or inf values.")
    low, high = model.likelihood.value_range
    if x.size and (x.min() < low or x.max() > high):
        raise ValueError(
            f"The {model.likelihood_name} likelihood needs images in [{low:g}, {high:g}], "
            f"got values in [{x.min():g}, {x.max():g}]{where}."
        )


def check_scale(x, source: str = "") -> None:
    """Refuses examples `x` whose features are far from standardised, for a Gaussian
    likelihood without `standardization`; `source` (e.g. `" of the first 3 batches"`)
    names where they come from. Constant features count with std 1, as they are
    standardised."""
    mean, std, _ = feature_statistics(x)
    mean, (low, high) = np.abs(mean), STD_RANGE
    if mean.max() <= MAX_ABS_MEAN and low <= std.min() and std.max() <= high:
        return
    raise ValueError(
        f"The features{source} are far from standardised (|mean| up to {mean.max():.3g}, "
        f"std {std.min():.3g} to {std.max():.3g}; the gaussian likelihood expects |mean| <= "
        f"{MAX_ABS_MEAN:g} and std in [{low:g}, {high:g}]): pass GraphVAE(..., "
        "standardization={'mean': [...], 'std': [...]}), the training data's mean and std "
        "per feature (flattened), or standardise the data (means 0 and stds 1 model them as "
        "they are)."
    )


def first_batches(dataset: tf.data.Dataset, rows: int) -> tuple[np.ndarray, int] | None:
    """The images of `dataset`'s first batches, `rows` examples or more where it holds them,
    and the number of batches read; None for an empty dataset, or a pipeline with a
    `cache()`, which this pass would leave partly read (tf.data then throws the cache away,
    with a warning).

    The pass is one more iteration of the dataset: a shuffle with `seed` and
    `reshuffle_each_iteration` gives `fit` its next order, as a second `fit` would.
    """
    if _has_cache(dataset):
        return None
    batches, seen = [], 0
    for element in dataset.take(rows):  # every batch holds an example or more
        batches.append(np.asarray(images_of(element)))
        seen += len(batches[-1])
        if seen >= rows:
            break
    return (np.concatenate(batches), len(batches)) if batches else None


def _has_cache(dataset: tf.data.Dataset) -> bool:
    pending = [dataset]
    while pending:
        node = pending.pop()
        if "Cache" in type(node).__name__:
            return True
        try:
            pending.extend(node._inputs())  # the Python datasets a dataset reads
        except (AttributeError, NotImplementedError, TypeError):
            continue
    return False


def check_inputs(model, x, training: bool = False) -> None:
    """Refuses `fit` (`training`) or `evaluate` inputs that are not `model`'s examples:
    a shape other than the model's (a dataset: its element spec), NaN or inf, values
    outside the likelihood's range (a dataset: in its first batch), and, given to `fit`
    for a Gaussian likelihood without `standardization`, features far from standardised
    (`check_scale`, on the first `SCALE_ROWS` examples)."""
    scale = training and model.likelihood_name == "gaussian" and model.standardization is None
    if isinstance(x, tf.data.Dataset):
        spec = images_of(x.element_spec)
        if tuple(spec.shape[1:]) != model.event_shape:
            raise ValueError(
                f"Expected a dataset of image batches of shape [batch, "
                f"{', '.join(map(str, model.event_shape))}], got elements {spec.shape}."
            )
        peeked = first_batches(x, SCALE_ROWS if scale else 1)
        if peeked is None:
            return
        images, batches = peeked
        source = "the first batch" if batches == 1 else f"the first {batches} batches"
        check_images(model, images, f" in {source} of the dataset")
        if scale and len(images) >= MIN_SCALE_ROWS:
            check_scale(images, f" of {source} of the dataset")
    elif isinstance(x, (np.ndarray, tf.Tensor)):
        check_images(model, x)
        if scale and len(x) >= MIN_SCALE_ROWS:
            part = f" of the first {SCALE_ROWS} examples" if len(x) > SCALE_ROWS else ""
            check_scale(x[:SCALE_ROWS], part)
