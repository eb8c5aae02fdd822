"""Export a trained `GraphVAE` as a TensorFlow SavedModel that TF Serving can serve.

    tgv.export_sampler(model, "exports/graphvae")   # -> exports/graphvae/1

The export follows TF Serving's versioned layout, `<export_base>/<version>/`, one integer
folder per version, and holds five signatures (plain TensorFlow ops only, so it loads
with `tf.saved_model.load` in a process that never imports `tf_graphvae`); every integer
argument is int64. It also runs under the session loader TF Serving uses (restore the
checkpoint into a graph, run a signature's tensors in a session), as `saved_model_cli run`
and `tf.compat.v1.saved_model.loader.load` do, with the same outputs:

* `serving_default`: `num_samples` (int64 scalar) and `seed` (int64 scalar) ->
  `samples` `[num_samples, H, W, C]` (decoder means) and `structure` `[num_samples, N, N]`
  (the hard gate matrix of each sample, entry `[i, j]` the edge `z_i -> z_j`, 0 for
  `i <= j`). The same `(num_samples, seed)` gives the same output as
  `model.sample(num_samples, seed=seed)`.
* `log_likelihood`: `images` `[batch, H, W, C]` float32 -> `log_likelihood` `[batch]`,
  the importance-weighted `log p(x)` in nats per image with a number of importance
  samples `K` fixed at export (a fixed seed: the same images give the same answer).
* `edge_probabilities`: no input -> `edge_probabilities` `[N, N]`, the learned `mu`
  (the 0/1 mask of a fixed structure).
* `encode`: `images` -> `code` and `scale` `[batch, sum(node sizes)]`: `model.encode`
  (posterior means and standard deviations under the MAP graph).
* `reconstruct`: `images` -> `reconstruction` `[batch, H, W, C]`: `model.reconstruct`.

Bad requests (`num_samples` outside `[1, max_num_samples]`, a seed outside int32, NaN or
out-of-range images, too many images) fail with an `InvalidArgumentError` (HTTP 400 in
TF Serving) before anything large is allocated. What the export was made with (`K`, the
caps, the model's shape, structure and likelihood, the package version) is recorded in
`<version>/assets.extra/tf_graphvae.json`, a folder TF Serving ignores.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import numbers
import os
import re
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

from tf_graphvae.model import GraphVAE

METADATA_PATH = Path("assets.extra") / "tf_graphvae.json"
METADATA_FORMAT = "tf_graphvae.export/1"
# At most this many images per `log_likelihood` call (bounds the memory of one request).
MAX_LOG_LIKELIHOOD_IMAGES = 256
# Images x importance samples evaluated together in one step of the `log_likelihood` loop.
LOG_LIKELIHOOD_CHUNK_ROWS = 4096
# First half of the stateless seeds of `log_likelihood`; the second is the chunk's offset.
LOG_LIKELIHOOD_SEED = 1_801_196
SIGNATURES = ("serving_default", "log_likelihood", "edge_probabilities", "encode", "reconstruct")
_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_VERSION_NAME = re.compile(r"[0-9]+")


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


def export_versions(export_base: str | os.PathLike) -> dict[int, Path]:
    """The versions already under `export_base`: `{version: folder}` (empty when none).

    Like TF Serving, a version is a folder whose name is an integer; anything else
    (e.g. the hidden temporary folder of an export in progress) is ignored.
    """
    base = Path(export_base)
    if not base.exists():
        return {}
    if not base.is_dir():
        raise NotADirectoryError(f"The export base {base} is not a folder.")
    return {
        int(entry.name): entry
        for entry in base.iterdir()
        if _VERSION_NAME.fullmatch(entry.name) and entry.is_dir()
    }


def resolve_version(export_base: str | os.PathLike, version: int | None = None) -> tuple[int, Path]:
    """`(version, folder)` of a new export under `export_base`; nothing is created.

    Default: one more than the largest existing version, or 1.

    Raises:
        FileExistsError: `version` exists already.
        ValueError: `version` is not an integer in `[1, 2**63)`.
    """
    export_base = Path(export_base)
    versions = export_versions(export_base)
    if version is None:
        version = max(versions, default=0) + 1
    version = _positive_int(version, "version")
    if version >= 2**63:
        raise ValueError(f"version must be < 2**63 (TF Serving's int64), got {version}.")
    existing = versions.get(version, export_base / str(version))
    if version in versions or existing.exists():
        raise FileExistsError(
            f"Version {version} already exists at {existing}; exports are never overwritten "
            f"(choose another --export_version or leave it out to take the next one)."
        )
    return version, export_base / str(version)


class _GraphVAEServable(tf.Module):
    """The exported object: the model's variables and the five signature functions."""

    def __init__(self, model: GraphVAE, log_likelihood_samples: int, max_num_samples: int):
        super().__init__(name="graphvae_servable")
        # The Keras model is kept out of the saved object graph (its own `call` draws
        # from a stateful seed generator and would be serialised with it); its variables
        # are tracked directly, so the SavedModel holds exactly the weights.
        self._model = _Untracked(model)
        self.model_variables = _tf_variables(model)
        self.log_likelihood_samples = log_likelihood_samples
        self.max_num_samples = max_num_samples
        image_spec = tf.TensorSpec([None, *model.event_shape], tf.float32, name="images")
        self.sample = tf.function(
            self._sample,
            input_signature=[
                tf.TensorSpec([], tf.int64, name="num_samples"),
                tf.TensorSpec([], tf.int64, name="seed"),
            ],
        )
        self.log_likelihood = tf.function(self._log_likelihood, input_signature=[image_spec])
        self.edge_probabilities = tf.function(self._edge_probabilities, input_signature=[])
        self.encode = tf.function(self._encode, input_signature=[image_spec])
        self.reconstruct = tf.function(self._reconstruct, input_signature=[image_spec])

    def _sample(self, num_samples, seed):
        cap = self.max_num_samples
        checks = [
            tf.debugging.assert_greater_equal(
                num_samples, tf.constant(1, tf.int64), message=f"num_samples must be in [1, {cap}]"
            ),
            tf.debugging.assert_less_equal(
                num_samples,
                tf.constant(cap, tf.int64),
                message=f"num_samples must be in [1, {cap}]",
            ),
            tf.debugging.assert_greater_equal(
                seed, tf.constant(_INT32_MIN, tf.int64), message="seed must fit in int32"
            ),
            tf.debugging.assert_less_equal(
                seed, tf.constant(_INT32_MAX, tf.int64), message="seed must fit in int32"
            ),
        ]
        # Everything below depends on these identities, so nothing runs (and nothing of
        # size num_samples is allocated) before the checks have passed.
        with tf.control_dependencies(checks):
            num_samples = tf.cast(num_samples, tf.int32)
            seed = tf.identity(seed)
        # The seed convention of `GraphVAE.sample`: the stateless seed [0, seed], int32.
        stateless_seed = tf.stack([tf.constant(0, tf.int32), tf.cast(seed, tf.int32)])
        images, gates = self._model.get().sample_images(num_samples, stateless_seed)
        return {
            "samples": tf.cast(images, tf.float32),
            "structure": tf.cast(gates, tf.float32),
        }

    def _checked(self, images) -> tf.Tensor:
        """`images` in the model's dtype, once their count, finiteness and range passed."""
        model = self._model.get()
        low, high = (float(v) for v in model.likelihood.value_range)
        cap = MAX_LOG_LIKELIHOOD_IMAGES
        batch = tf.shape(images)[0]
        size_checks = [
            tf.debugging.assert_greater_equal(
                batch, 1, message=f"images must hold 1 to {cap} images per call"
            ),
            tf.debugging.assert_less_equal(
                batch, cap, message=f"images must hold 1 to {cap} images per call"
            ),
        ]
        with tf.control_dependencies(size_checks):
            images = tf.debugging.assert_all_finite(images, "images contain NaN or inf values")
        range_message = (
            f"the {model.likelihood_name} likelihood needs images with values in "
            f"[{low:g}, {high:g}]"
        )
        range_checks = [
            tf.debugging.assert_greater_equal(images, low, message=range_message),
            tf.debugging.assert_less_equal(images, high, message=range_message),
        ]
        with tf.control_dependencies(range_checks):
            return tf.cast(tf.identity(images), model.compute_dtype)

    def _encode(self, images):
        model = self._model.get()
        mean, scale = model.encode_tensors(self._checked(images))
        return {"code": tf.cast(model.concatenate_nodes(mean), tf.float32),
                "scale": tf.cast(model.concatenate_nodes(scale), tf.float32)}  # fmt: skip

    def _reconstruct(self, images):
        model = self._model.get()
        mean, _ = model.encode_tensors(self._checked(images))
        return {"reconstruction": tf.cast(model.decode_tensors(mean), tf.float32)}

    def _log_likelihood(self, images):
        model = self._model.get()
        k_total = self.log_likelihood_samples
        x = self._checked(images)
        batch = tf.shape(x)[0]
        # Importance samples per step: at most LOG_LIKELIHOOD_CHUNK_ROWS rows at once.
        k_chunk = tf.clip_by_value(LOG_LIKELIHOOD_CHUNK_ROWS // batch, 1, k_total)

        def body(done, running):
            k = tf.minimum(k_chunk, k_total - done)
            seed = tf.stack([tf.constant(LOG_LIKELIHOOD_SEED, tf.int32), done])
            # log w = log p(x|z) + log p(z|c) - log q(z|x,c), [k, batch], as evaluate uses.
            log_w, _, _ = model.importance_terms(x, k, seed)
            log_w = tf.cast(log_w, tf.float32)
            # Running log-sum-exp over the importance samples seen so far.
            return done + k, tf.reduce_logsumexp(tf.concat([running[None], log_w], axis=0), axis=0)

        _, log_sum = tf.while_loop(
            lambda done, _: done < k_total,
            body,
            (tf.constant(0, tf.int32), tf.fill([batch], tf.constant(-math.inf, tf.float32))),
            shape_invariants=(tf.TensorShape([]), tf.TensorShape([None])),
        )
        return {"log_likelihood": log_sum - math.log(k_total)}

    def _edge_probabilities(self):
        mu = self._model.get().gates.edge_probabilities()
        return {"edge_probabilities": tf.cast(mu, tf.float32)}


def _tf_variables(model: GraphVAE) -> list[tf.Variable]:
    """The `tf.Variable` behind each of the model's Keras variables.

    Tracking the Keras wrappers instead saves two handles per variable: their `tf.Variable`
    (read by the signatures) and a copy of the wrapper's own (`Variable`, `Variable_1`, ...),
    which the checkpoint is restored into. `tf.saved_model.load` rewires the two, but a
    session loader (TF Serving, `saved_model_cli run`) runs the signatures on handles that
    were never restored. Keras's `ExportArchive` likewise tracks the `tf.Variable`s.
    """
    # Outside an autocast scope `value` is the variable itself, not a cast copy.
    variables = [variable.value for variable in model.variables]
    for variable, value in zip(model.variables, variables, strict=True):
        if not isinstance(value, tf.Variable):
            raise TypeError(f"export_sampler needs TensorFlow variables; {variable.path} isn't.")
    return variables


class _Untracked:
    """Holds an object without making it a dependency of a `tf.Module`."""

    def __init__(self, value):
        self._value = value

    def get(self):
        return self._value


def _describe(function) -> dict:
    """`{"inputs": {name: {dtype, shape}}, "outputs": {...}}` of a concrete function."""

    def spec(s):
        shape = None if s.shape.rank is None else [-1 if d is None else d for d in s.shape]
        return {"dtype": s.dtype.name, "shape": shape}

    inputs = {s.name: spec(s) for s in function.structured_input_signature[0]}
    outputs = {name: spec(s) for name, s in function.structured_outputs.items()}
    return {"inputs": inputs, "outputs": outputs}


def export_sampler(
    model: GraphVAE,
    export_base: str | os.PathLike,
    version: int | None = None,
    *,
    log_likelihood_samples: int = 100,
    max_num_samples: int = 1024,
) -> Path:
    """Exports `model` as a SavedModel at `<export_base>/<version>` (TF Serving's layout).

    Signatures (see the module docstring for the details):
    `serving_default(num_samples: int64, seed: int64) -> {samples, structure}`, the
    sampler, equal to `model.sample(num_samples, seed=seed)`;
    `log_likelihood(images: float32 [batch, H, W, C]) -> {log_likelihood}`, the
    importance-weighted `log p(x)` in nats per image with `K = log_likelihood_samples`
    importance samples (fixed seed, at most 256 images per call; Bernoulli models expect
    binary images, which are not binarised here; the discretised logistic, values in
    [0, 255]); `edge_probabilities() -> {edge_probabilities}`, `[N, N]`;
    `encode(images) -> {code, scale}` and `reconstruct(images) -> {reconstruction}`, as
    `model.encode` and `model.reconstruct` (at most 256 images per call).

    The SavedModel is written to a hidden temporary folder beside the version and renamed
    into place, so a server watching `export_base` never sees a half-written version, and
    a failed export leaves nothing behind.

    Args:
        model: a `GraphVAE` (trained, or loaded with `keras.saving.load_model`).
        export_base: the folder of versions (created if needed).
        version: an integer >= 1; default one more than the largest existing version, or 1.
        log_likelihood_samples: `K` of the `log_likelihood` signature.
        max_num_samples: the most samples one `serving_default` request may ask for.

    Returns:
        The version's folder.

    Raises:
        FileExistsError: the version exists already (it is left untouched).
        ValueError: a bad argument.
    """
    if not isinstance(model, GraphVAE):
        raise ValueError(f"export_sampler needs a tf_graphvae.GraphVAE, got {type(model)!r}.")
    log_likelihood_samples = _int32_count(log_likelihood_samples, "log_likelihood_samples")
    max_num_samples = _int32_count(max_num_samples, "max_num_samples")
    export_base = Path(export_base)
    version, path = resolve_version(export_base, version)
    export_base.mkdir(parents=True, exist_ok=True)

    servable = _GraphVAEServable(model, log_likelihood_samples, max_num_samples)
    signatures = {
        "serving_default": servable.sample.get_concrete_function(),
        "log_likelihood": servable.log_likelihood.get_concrete_function(),
        "edge_probabilities": servable.edge_probabilities.get_concrete_function(),
        "encode": servable.encode.get_concrete_function(),
        "reconstruct": servable.reconstruct.get_concrete_function(),
    }
    metadata = _metadata(model, version, signatures, log_likelihood_samples, max_num_samples)
    _save_version(servable, signatures, metadata, export_base, version, path)
    return path


def _int32_count(value, name: str) -> int:
    """`value` as an int >= 1 that fits the signatures' int32, else a ValueError."""
    value = _positive_int(value, name)
    if value > _INT32_MAX:
        raise ValueError(f"{name} must fit in int32, got {value}.")
    return value


def _metadata(model, version, signatures, log_likelihood_samples, max_num_samples) -> dict:
    """What a client needs to call the export, written beside it as JSON."""
    from tf_graphvae import __version__

    low, high = model.likelihood.value_range
    return {
        "format": METADATA_FORMAT,
        "tf_graphvae_version": __version__,
        "tensorflow_version": tf.__version__,
        "version": version,
        "event_shape": list(model.event_shape),
        "num_nodes": model.num_nodes,
        "node_dim": model.node_dim,
        "structure": model.structure,
        "hard_gates": model.hard_gates,
        "likelihood": model.likelihood_name,
        "image_value_range": [float(low), float(high)],
        "log_likelihood_samples": log_likelihood_samples,
        "log_likelihood_seed": LOG_LIKELIHOOD_SEED,
        "log_likelihood_units": "nats per image",
        "max_log_likelihood_images": MAX_LOG_LIKELIHOOD_IMAGES,
        "max_num_samples": max_num_samples,
        "sample_seed_convention": "stateless seed [0, seed] (int32), as GraphVAE.sample",
        "signatures": {name: _describe(fn) for name, fn in signatures.items()},
    }


def _save_version(servable, signatures, metadata, export_base: Path, version: int, path: Path):
    """Writes the SavedModel into a hidden folder and renames it onto `path` (never over an
    existing version); a failure leaves nothing behind."""
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=export_base))
    try:
        tf.saved_model.save(servable, str(tmp), signatures=signatures)
        (tmp / METADATA_PATH).parent.mkdir(parents=True, exist_ok=True)
        (tmp / METADATA_PATH).write_text(json.dumps(metadata, indent=2) + "\n")
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a server may run as another user
        if path.exists():  # another export took this version while this one was written
            raise FileExistsError(f"Version {version} already exists at {path}.")
        try:
            os.rename(tmp, path)
        except OSError as error:
            # POSIX rename replaces an empty folder but never a non-empty one.
            if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise FileExistsError(f"Version {version} already exists at {path}.") from error
            raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
