"""Input pipelines whose epochs take the same time: tf.data's autotuning turned off."""

from __future__ import annotations

import tensorflow as tf

PREFETCH_BATCHES = 2
"""Batches prepared ahead of the step: one being consumed, one ready. A fixed size, since
:func:`without_autotune` leaves nothing to tune `tf.data.AUTOTUNE` sizes."""


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Returns `dataset` with tf.data's autotuning off, so epoch times do not jump.

    With autotuning on (TensorFlow's default), every iterator of a pipeline runs an
    optimisation thread whose period starts at 10 ms and grows to at most 60 s
    (`kOptimizationPeriodMinMs` in TensorFlow's `core/framework/model.h`). `fit` makes a
    new iterator for each epoch and drops the last one; measured on 2 cores, dropping it
    sometimes waits until 10 ms x (2^k - 1) after the iterator began (the end of a period,
    if the periods double): some epochs of 0.6 s then take about 1.2 s, and some
    one-epoch `fit` calls of 3 s take 5.11 s (the "two speeds" of training;
    docs/performance.md, "Epoch-time spread"). Without autotuning no such thread runs.
    The elements and their order are the same; nothing tunes `tf.data.AUTOTUNE` sizes any
    more, so give sizes explicitly, e.g. prefetch :data:`PREFETCH_BATCHES` batches after this.

    Args:
        dataset: Any `tf.data.Dataset`.

    Returns:
        The same pipeline with `options().autotune.enabled == False`.

    Example:
        >>> ds = tf.data.Dataset.range(4).batch(2)
        >>> ds = without_autotune(ds).prefetch(PREFETCH_BATCHES)
        >>> ds.options().autotune.enabled
        False
    """
    if not isinstance(dataset, tf.data.Dataset):
        raise TypeError(f"Expected a tf.data.Dataset, got {type(dataset).__name__}.")
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)
