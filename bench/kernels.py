"""Kernels: the element-wise terms and draws the model runs in bulk, each timed under XLA
against the formulation it replaced.

Imported by `run.py` as a top-level module from this folder (see common.py). TensorFlow
is imported only when the benchmark runs.
"""

from __future__ import annotations

from common import (
    DECODER_UNITS,
    EVENT_SHAPE,
    NODE_DIM,
    NUM_NODES,
    log,
    make_model,
    median,
    time_call,
)


def _replaced_formulations() -> dict:
    """The formulations the package's kernels replaced, as functions of the same inputs."""
    import tensorflow as tf
    import tensorflow_probability as tfp

    from tf_graphvae.layers.elementwise import softplus, sum_last
    from tf_graphvae.layers.gated_dag import diag_normal

    def one_log_per_pixel(logits, x):
        return sum_last(tf.reshape(x * logits - softplus(logits), [tf.shape(x)[0], -1]))

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

    def tfp_densities(z, noise, q_mean, q_log_var, p_mean, p_log_var):
        del noise  # TFP's log q is of the sample
        q, p = diag_normal(q_mean, q_log_var), diag_normal(p_mean, p_log_var)
        return tfp.distributions.kl_divergence(q, p), q.log_prob(z), p.log_prob(z)

    def noise_per_node(seed, rows):
        seeds = tfp.random.split_seed(seed, n=NUM_NODES)
        draws = [tf.random.stateless_normal([rows, NODE_DIM], s, alg="philox") for s in seeds]
        return tf.stack(draws, axis=1)

    return {
        "one_log_per_pixel": one_log_per_pixel,
        "tfp_bernoulli": tfp_bernoulli,
        "closed_form_image_axes": closed_form_image_axes,
        "default_alg_binarise": default_alg_binarise,
        "logsumexp_merge": logsumexp_merge,
        "tf_elu": lambda h, bias: tf.nn.elu(h + bias),
        "tfp_densities": tfp_densities,
        "noise_per_node": noise_per_node,
    }


def _closed_form_densities(z, noise, q_mean, q_log_var, p_mean, p_log_var):
    """The package's node densities (`gated_dag.node_densities`, as `GraphVAE.latents`)."""
    from tf_graphvae.layers.gated_dag import node_densities

    names = ("z", "noise", "q_mean", "q_log_var", "p_mean", "p_log_var")
    values = (z, noise, q_mean, q_log_var, p_mean, p_log_var)
    return node_densities(dict(zip(names, values, strict=True)))


def _cases(rows: int) -> dict:
    """name -> (inputs, before, after) of every kernel compared."""
    import tensorflow as tf

    from tf_graphvae.layers.elementwise import elu
    from tf_graphvae.layers.gated_dag import GatedDAG, precision_weighted_merge
    from tf_graphvae.layers.likelihoods import BernoulliLikelihood

    old = _replaced_formulations()
    logits = tf.random.stateless_normal([rows, *EVENT_SHAPE], seed=[5, 6]) * 3.0
    x = tf.cast(tf.random.stateless_uniform([rows, *EVENT_SHAPE], seed=[7, 8]) < 0.3, tf.float32)
    shape = [rows, NUM_NODES, NODE_DIM]
    gaussians = [tf.random.stateless_normal(shape, seed=[9, i]) for i in range(4)]
    grey = tf.random.stateless_uniform([rows, *EVENT_SHAPE], seed=[1, 2])
    package = make_model("independent", jit_compile=False)  # for its binarize
    closed_form = old["closed_form_image_axes"]
    hidden = tf.random.stateless_normal([rows, DECODER_UNITS[-1]], seed=[3, 1])
    bias = tf.random.stateless_normal([DECODER_UNITS[-1]], seed=[3, 2])
    noise = tf.random.stateless_normal(shape, seed=[9, 9])
    z = gaussians[0] + tf.exp(0.5 * gaussians[1]) * noise
    dag = GatedDAG(NUM_NODES, NODE_DIM, "learned")
    seed = tf.constant([5, 7])
    return {
        "bernoulli": ((logits, x), old["tfp_bernoulli"], closed_form),
        "flat": ((logits, x), closed_form, old["one_log_per_pixel"]),
        # As in the model: the decoder's flat output reshaped to images, then the term.
        "log_groups": (
            (tf.reshape(logits, [rows, -1]), x),
            lambda flat, x: old["one_log_per_pixel"](tf.reshape(flat, x.shape), x),
            lambda flat, x: BernoulliLikelihood().log_prob(tf.reshape(flat, x.shape), x),
        ),
        "binarise": ((grey, tf.constant([3, 4])), old["default_alg_binarise"], package.binarize),
        "merge": (gaussians, old["logsumexp_merge"], precision_weighted_merge),
        "elu": ((hidden, bias), old["tf_elu"], lambda h, b: elu(h + b)),
        "densities": (
            (z, noise, *gaussians),
            old["tfp_densities"],
            _closed_form_densities,
        ),
        "noise": (
            (seed,),
            lambda s: old["noise_per_node"](s, rows),
            lambda s: dag._noise(s, z, 0, None),
        ),
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
    - `flat`: that closed form summed over the image axes `[H, W, C]` against the same
      terms (the exp/log softplus) summed over one flat pixel axis as a product with ones.
    - `log_groups`: that against the package's (`BernoulliLikelihood.log_prob`: the
      logs of softplus taken of products of 16 pixels' factors, `log1p_exp_sum`), on
      logits that arrive flat and are reshaped to images, as the decoder's output does
      (from an image-shaped input XLA indexes the 16 groups of the flat axis through the
      28 x 28 layout, and the grouped form is then slower).
    - `binarise`: a Bernoulli draw of `rows` grey images with the default stateless
      algorithm against the package's (`GraphVAE.binarize`, Philox named).
    - `merge`: the precision-weighted merge of `rows x 5 x 10` Gaussians, the earlier
      `logsumexp` of stacked precisions against `gated_dag.precision_weighted_merge`.
    - `elu`: bias and ELU of a `rows x 512` hidden layer, `tf.nn.elu` against
      `elementwise.elu`.
    - `densities`: the per-node KL, `log q` and `log p` of `rows x 5 x 10` node samples,
      through `tfd.Normal` against the closed forms (`gated_dag.node_densities`).
    - `noise`: the latent noise of `rows` samples, a Box-Muller draw per node
      (`tf.random.stateless_normal`) against one quantile-function draw for all nodes
      (`GatedDAG._noise`).
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


def main(argv=None) -> int:
    """`python bench/kernels.py [--rows=5000] [--reps=9]`: the kernels table alone."""
    import argparse

    from report import kernel_lines

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--reps", type=int, default=9)
    args = parser.parse_args(argv)
    print("\n".join(kernel_lines(bench_kernels(args.rows, args.reps))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
