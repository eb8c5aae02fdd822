"""Kernels: the element-wise terms and draws the model runs in bulk, each timed under XLA
against the formulation it replaced.

Imported by `run.py` as a top-level module from this folder (see common.py). TensorFlow
is imported only when the benchmark runs.
"""

from __future__ import annotations

from common import EVENT_SHAPE, NODE_DIM, NUM_NODES, log, make_model, median, time_call


def _replaced_formulations() -> dict:
    """The formulations the package's kernels replaced, as functions of the same inputs."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    def tfp_bernoulli(logits, x):
        bernoulli = tfp.distributions.Bernoulli(logits=logits, dtype=logits.dtype)
        return tfp.distributions.Independent(bernoulli, 3).log_prob(x)

    def closed_form_image_axes(logits, x):
        return tf.reduce_sum(x * logits - tf.nn.softplus(logits), axis=[-3, -2, -1])

    def default_alg_binarise(grey, seed):
        return tf.cast(tf.random.stateless_uniform(tf.shape(grey), seed=seed) < grey, grey.dtype)

    def logsumexp_merge(prior_mean, prior_log_var, data_mean, data_log_var):
        log_var = -tf.reduce_logsumexp(tf.stack([-prior_log_var, -data_log_var]), axis=0)
        mean = prior_mean * tf.exp(log_var - prior_log_var) + data_mean * tf.exp(
            log_var - data_log_var
        )
        return mean, log_var

    return {
        "tfp_bernoulli": tfp_bernoulli,
        "closed_form_image_axes": closed_form_image_axes,
        "default_alg_binarise": default_alg_binarise,
        "logsumexp_merge": logsumexp_merge,
    }


def _cases(rows: int) -> dict:
    """name -> (inputs, before, after) of every kernel compared."""
    import tensorflow as tf

    from tf_graphvae.layers.gated_dag import precision_weighted_merge
    from tf_graphvae.layers.likelihoods import BernoulliLikelihood

    old = _replaced_formulations()
    logits = tf.random.stateless_normal([rows, *EVENT_SHAPE], seed=[5, 6]) * 3.0
    x = tf.cast(tf.random.stateless_uniform([rows, *EVENT_SHAPE], seed=[7, 8]) < 0.3, tf.float32)
    shape = [rows, NUM_NODES, NODE_DIM]
    gaussians = [tf.random.stateless_normal(shape, seed=[9, i]) for i in range(4)]
    grey = tf.random.stateless_uniform([rows, *EVENT_SHAPE], seed=[1, 2])
    package = make_model("independent", jit_compile=False)  # for its binarize
    closed_form = old["closed_form_image_axes"]
    return {
        "bernoulli": ((logits, x), old["tfp_bernoulli"], closed_form),
        "flat": ((logits, x), closed_form, BernoulliLikelihood().log_prob),
        "binarise": ((grey, tf.constant([3, 4])), old["default_alg_binarise"], package.binarize),
        "merge": (gaussians, old["logsumexp_merge"], precision_weighted_merge),
    }


def _compiled_ms(fn, args, reps: int) -> float:
    """Median milliseconds of `fn(*args)` under `tf.function(jit_compile=True)`."""
    import tensorflow as tf

    compiled = tf.function(fn, jit_compile=True)

    def run():
        tf.nest.map_structure(lambda t: t.numpy(), compiled(*args))

    run()  # compile
    return median(time_call(run, reps)) * 1e3


def bench_kernels(rows: int, reps: int) -> dict:
    """The element-wise terms and draws the model runs in bulk, each timed against the
    formulation it replaced, under `tf.function(jit_compile=True)`.

    - `bernoulli`: `log p(x | z)` of `rows` images of 28 x 28 from decoder logits, with
      `tfd.Independent(tfd.Bernoulli(logits), 3).log_prob` against the closed form
      summed over the image axes.
    - `flat`: that closed form summed over the image axes `[H, W, C]` against the
      package's (`BernoulliLikelihood.log_prob`, one flat pixel axis).
    - `binarise`: a Bernoulli draw of `rows` grey images with the default stateless
      algorithm against the package's (`GraphVAE.binarize`, Philox named).
    - `merge`: the precision-weighted merge of `rows x 5 x 10` Gaussians, the earlier
      `logsumexp` of stacked precisions against `gated_dag.precision_weighted_merge`.
    """
    out = {"rows": rows, "reps": reps}
    for name, (args, before, after) in _cases(rows).items():
        entry = {}
        for label, fn in (("before_ms", before), ("after_ms", after)):
            entry[label] = _compiled_ms(fn, args, reps)
        entry["speedup"] = entry["before_ms"] / entry["after_ms"]
        out[name] = entry
        log(f"kernel {name}: {entry['before_ms']:.1f} -> {entry['after_ms']:.1f} ms")
    return out
