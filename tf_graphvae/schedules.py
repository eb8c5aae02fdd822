"""The training recipe's schedules as functions of the optimizer's step counter.

They run inside the compiled training step (`GraphVAE.train_step`), so a run with
`steps_per_execution > 1` follows them step by step, and a resumed run, whose step counter
is restored with the optimizer, continues them exactly. Lengths are in optimizer steps.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf


def temperature_at(
    step: int, initial: float, floor: float, rate: float, anneal_steps: int = 0
) -> float:
    """The gate temperature at an optimizer step (Python; `temperature` is the same in TF).

    `anneal_steps = 0`: `max(floor, initial * exp(-rate * step))` (Jang et al., 2017).
    `anneal_steps > 0`: geometric from `initial` to `floor` over `anneal_steps` steps,
    `initial * (floor / initial) ** min(1, step / anneal_steps)`, then `floor`: the
    temperature reaches its floor when the structure is decided (for example at the end
    of KL warm-up), instead of at a rate unrelated to the run's length.
    """
    if anneal_steps > 0:
        return initial * (floor / initial) ** min(1.0, step / anneal_steps)
    return max(floor, initial * math.exp(-rate * step))


def temperature(step, initial: float, floor: float, rate: float, anneal_steps: float = 0):
    """`temperature_at` of a step tensor, float32."""
    step = tf.cast(step, tf.float32)
    if anneal_steps > 0:
        fraction = tf.minimum(1.0, step / anneal_steps)
        return initial * tf.pow(floor / initial, fraction)
    return tf.maximum(floor, initial * tf.exp(-rate * step))


def kl_weight(step, warmup_steps: float):
    """KL warm-up's `beta`: linear from 0 to 1 over `warmup_steps` steps (Sønderby et al.,
    2016); 1 without warm-up."""
    if warmup_steps <= 0:
        return tf.constant(1.0)
    return tf.minimum(1.0, tf.cast(step, tf.float32) / warmup_steps)


def gate_learning_rate(step, base: float, hold_steps: float):
    """The gates' learning rate: 0 for the first `hold_steps` steps, then `base`."""
    if hold_steps <= 0:
        return tf.constant(base)
    return tf.where(tf.cast(step, tf.float32) < hold_steps, 0.0, base)


# Burda et al.'s (IWAE) schedule: stage i lasts 3^i epochs at 10^(-i/7) times the initial
# rate, for i = 0 ... 7 (3,280 epochs in all); a shorter run covers its first stages.
IWAE_STAGES = 8


def learning_rate(
    schedule: str, initial: float, steps_per_epoch: int, epochs: int, decay_epochs: int = 100
):
    """The networks' learning rate as a Keras schedule of the optimizer's step (a float for
    `"constant"`): the optimizer evaluates it at its own `iterations` inside the compiled
    step, so `steps_per_execution` and a resumed run (whose step counter is restored with
    the optimizer) follow it step by step.

    Args:
        schedule: `"constant"`, `"exponential"` (a tenth every `decay_epochs`, smoothly),
            `"iwae"` (Burda et al.'s stages) or `"cosine"` (to 1 % over `epochs`).
        initial: the rate at step 0.
        steps_per_epoch: optimizer steps per epoch (the schedules' unit).
        epochs: the run's length (`"cosine"`).
        decay_epochs: `"exponential"`'s tenfold period.
    """
    schedules = keras.optimizers.schedules
    if schedule == "constant":
        return initial
    if schedule == "exponential":
        return schedules.ExponentialDecay(initial, decay_epochs * steps_per_epoch, 0.1)
    if schedule == "cosine":
        return schedules.CosineDecay(initial, epochs * steps_per_epoch, alpha=0.01)
    if schedule == "iwae":
        ends = [sum(3**k for k in range(i + 1)) for i in range(IWAE_STAGES - 1)]
        values = [initial * 10 ** (-i / 7) for i in range(IWAE_STAGES)]
        return schedules.PiecewiseConstantDecay([e * steps_per_epoch for e in ends], values)
    raise ValueError(f"Unknown learning-rate schedule {schedule!r}.")
