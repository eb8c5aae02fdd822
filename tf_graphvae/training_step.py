"""The training step of `GraphVAE`: Eq. (1) with its recipe, as a mixin of the model.

`train_step` reads top to bottom: the schedules of this step (docs/design.md §6), dynamic
binarisation, the gate and latent draws, the objective with KL warm-up and the edge cost,
and the gradients, the gate logits' own where they have one (docs/design.md §7).
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from tf_graphvae import gate_estimators, schedules

# Seed of the fixed binarisation of evaluation batches in `test_step` (binary images are
# left unchanged by it; grey images are thresholded the same way in every evaluation).
EVAL_BINARIZATION_SEED = (20190, 1)


def repeat_rows(t: tf.Tensor, times) -> tf.Tensor:
    """`times` copies of a batch stacked along axis 0: row `k * B + b` is `t[b]`."""
    return tf.tile(t, tf.concat([[times], tf.ones([tf.rank(t) - 1], tf.int32)], 0))


class TrainingStep:
    """`train_step`, `test_step`, `fit` and `evaluate` of `GraphVAE` (needs its layers)."""

    def _apply_schedules(self):
        """Sets tau, beta and the gates' learning rate for this step (docs/design.md §6)."""
        c, step, epoch = self.config, self.optimizer.iterations, float(self.steps_per_epoch)
        floor = min(c.min_temperature, c.temperature)
        if c.anneal_after_hold:  # tau's schedule counts from the step the gates move
            step = tf.maximum(step - int(c.gate_hold_epochs * self.steps_per_epoch), 0)
        tau = schedules.temperature(
            step, c.temperature, floor, c.anneal_rate, c.temperature_anneal_epochs * epoch
        )
        self.gates.temperature.assign(tf.cast(tau, self.gates.temperature.dtype))
        step = self.optimizer.iterations
        self.kl_weight.assign(schedules.kl_weight(step, c.kl_warmup_epochs * epoch))
        if self.gate_optimizer is not None and c.gate_hold_epochs:
            rate = schedules.gate_learning_rate(
                step, c.gate_learning_rate, c.gate_hold_epochs * epoch
            )
            self.gate_optimizer.learning_rate.assign(rate)

    def _update_metrics(self, loss, terms, training=False):
        self.loss_tracker.update_state(loss)
        self.elbo_tracker.update_state(terms["elbo"])
        self.kl_tracker.update_state(terms["kl"])
        self.recon_tracker.update_state(terms["recon"])
        for j, tracker in enumerate(self.node_kl_trackers):
            tracker.update_state(terms["kl_per_node"][:, j])
        results = {m.name: m.result() for m in self.metrics}
        if training:  # the schedules' values of the step, as the epoch logs show them
            results["temperature"] = tf.cast(self.gates.temperature, tf.float32)
            results["kl_weight"] = tf.cast(self.kl_weight, tf.float32)
        if isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3 averages multi-worker replica results with reduce(MEAN, axis=0), which
            # needs a leading axis (tensorflow/tensorflow#72388); it returns scalars.
            results = {name: tf.reshape(value, [1]) for name, value in results.items()}
        return results

    def _training_rows(self, data):
        x = self.images_from(data)
        if self.likelihood_name == "bernoulli":
            # Dynamic binarisation (docs/design.md §3), a fresh draw every step.
            x = self.binarize(x, self.next_seed(), *self.replica_rows(tf.shape(x)[0]))
        if self.gate_samples > 1:
            x = repeat_rows(x, self.gate_samples)  # S copies, each with its own c and z draws
        return x

    def train_step(self, data):
        self._apply_schedules()
        x = self._training_rows(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=self._gate_gradient_apart) as tape:
            terms = self.forward(x, training=True)
            loss = -tf.reduce_mean(terms["elbo"])  # Eq. (1), one sample of c and z each
            per_row = self._warmup_objective(terms)
            objective = -tf.reduce_mean(per_row) + self._edge_penalty()
            # Replicas each see global_batch / R examples; their gradients are summed.
            scaled = objective / replicas
            if self._gate_gradient_apart:
                gate_scaled = self._gate_objective(terms, per_row) / replicas
        variables = self.trainable_variables
        grads = tape.gradient(scaled, variables)
        if self._gate_gradient_apart:
            gate_grad = tape.gradient(gate_scaled, self.gates.gate_logits)
            grads = [
                gate_grad if v is self.gates.gate_logits else g
                for g, v in zip(grads, variables, strict=True)
            ]
            del tape
        if self.gate_optimizer is None:
            self.optimizer.apply(grads, variables)
        else:
            is_gate = [v is self.gates.gate_logits for v in variables]
            self.optimizer.apply(
                [g for g, gate in zip(grads, is_gate, strict=True) if not gate],
                [v for v, gate in zip(variables, is_gate, strict=True) if not gate],
            )
            self.gate_optimizer.apply(
                [g for g, gate in zip(grads, is_gate, strict=True) if gate],
                [self.gates.gate_logits],
            )
        return self._update_metrics(loss, terms, training=True)

    def gate_gradient(self, data) -> tf.Tensor:
        """The gradient `[E]` that a training step on `data` gives the gate logits, by the
        model's `gate_estimator`, at the current temperature and KL weight, without
        applying it (fresh gate, latent and binarisation draws on every call): what
        `scripts/gate_gradient_noise.py` repeats to measure an estimator's noise."""
        if not self.gates.learned or not self.gates.num_edges:
            raise ValueError("gate_gradient needs the learned structure with N >= 2 nodes.")
        x = self._training_rows(data)
        with tf.GradientTape() as tape:
            terms = self.forward(x, training=True)
            objective = self._gate_objective(terms, self._warmup_objective(terms))
        return tape.gradient(objective, self.gates.gate_logits)

    def _warmup_objective(self, terms):
        """`recon - beta * KL` per row: with KL warm-up (beta < 1) the gradient is this
        one's, while the reported loss stays -ELBO."""
        return terms["recon"] - self.kl_weight * terms["kl"]

    @property
    def _gate_gradient_apart(self) -> bool:
        """Whether the gate logits get a gradient other than that of the networks' objective."""
        learned = self.gates.learned and self.gates.num_edges > 0
        estimator = gate_estimators.get(self.gate_estimator)
        return learned and (self.gates_follow_elbo or estimator.own_gradient)

    def _edge_penalty(self):
        cost = self.edge_costs if self.edge_costs is not None else self.edge_cost
        if not np.any(cost) or not self.gates.learned or not self.gates.num_edges:
            return tf.constant(0.0, self.compute_dtype)
        penalty = gate_estimators.edge_penalty(self.gates.gate_logits, cost)
        # With edge_cost_warmup the price rises with the KL weight, as the edges' benefit
        # (the KL they save) does: the graph is judged by the objective being optimised.
        return penalty * self.kl_weight if self.edge_cost_warmup else penalty

    def _gate_objective(self, terms, per_row):
        """The gate logits' loss: the ELBO (or the warm-up objective) and the edge cost,
        as the model's registered `gate_estimator` differentiates it."""
        f = terms["elbo"] if self.gates_follow_elbo else per_row
        estimator = gate_estimators.get(self.gate_estimator)
        return estimator.objective(self, terms, f) + self._edge_penalty()

    def test_step(self, data):
        x = self.images_from(data)
        if self.likelihood_name == "bernoulli":
            x = self.binarize(x, tf.constant(EVAL_BINARIZATION_SEED, tf.int32))
        terms = self.forward(x, training=False)
        return self._update_metrics(-tf.reduce_mean(terms["elbo"]), terms)

    def fit(self, x=None, *args, **kwargs):
        """Keras's `fit`, after `check_inputs(x, training=True)`: a dataset's first batches
        and an array whole are refused with one line for NaN or inf, values outside the
        likelihood's range, or (a Gaussian without `standardization`) raw features."""
        if getattr(self, "optimizer", None) is None:
            raise RuntimeError(
                "You must call `compile()` before `fit()`, e.g. "
                "model.compile(optimizer=keras.optimizers.Adam(1e-3))."
            )
        self.check_inputs(x, training=True)
        if isinstance(x, tf.data.Dataset) and len(args) <= _SHUFFLE_ARG:
            # Keras ignores `shuffle` for a dataset (it shuffles itself, or not), and warns
            # that it does on every `fit` that leaves it at its default, True.
            kwargs.setdefault("shuffle", False)
        steps = _steps_per_epoch(x, args, kwargs)
        if steps != self.steps_per_epoch:
            # The schedules' epoch length is a constant of the compiled step: retrace it.
            self.steps_per_epoch = steps
            self.train_function = None
        if self.optimizer is not None and not self.optimizer.built:
            # Built lazily, Keras creates the slot variables inside the first trace of the
            # step, which makes tf.function trace (and XLA compile) it twice.
            with self.distribute_strategy.scope():
                self.optimizer.build(self.trainable_variables)
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        self.check_inputs(x)
        return super().evaluate(x, *args, **kwargs)


# The position of `shuffle` among `keras.Model.fit`'s arguments after `x`.
_SHUFFLE_ARG = 7


def _steps_per_epoch(x, args, kwargs) -> int:
    """Batches per epoch of what `fit` is given: the schedules' unit."""
    if kwargs.get("steps_per_epoch"):
        return int(kwargs["steps_per_epoch"])
    if isinstance(x, tf.data.Dataset):
        steps = int(x.cardinality().numpy())
        if steps == tf.data.INFINITE_CARDINALITY:
            raise ValueError("An infinite dataset needs fit(..., steps_per_epoch=n).")
        return steps if steps > 0 else max(1, sum(1 for _ in x))
    if x is None or isinstance(x, dict) or not hasattr(x, "__len__"):
        return 1
    batch_size = kwargs.get("batch_size") or (args[1] if len(args) > 1 else None) or 32
    # With validation_split, Keras trains on the first floor(n (1 - split)) examples only.
    split = float(kwargs.get("validation_split") or 0.0)
    trained = math.floor(len(x) * (1.0 - split)) if split else len(x)
    return max(1, -(-trained // int(batch_size)))
