"""Programs that consume an exported SavedModel, each in its own process, for test_export.py.

`tf.saved_model.load` revives the object graph in eager mode. TF Serving's C++ loader
instead restores the checkpoint into a graph and runs each signature in a session, by the
tensor names in its `signature_def`; `saved_model_cli run` and the v1 session loader take
that path, so an export that runs under them runs under TF Serving (whose binary is seldom
installed where the tests run).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

BIN = Path(sys.executable).parent
SUBPROCESS_ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
SIGNATURE_OUTPUTS = {
    "serving_default": ("samples", "structure"),
    "log_likelihood": ("log_likelihood",),
    "edge_probabilities": ("edge_probabilities",),
    "encode": ("code", "scale"),
    "reconstruct": ("reconstruction",),
}

# Run in a fresh interpreter that imports TensorFlow only: the export must not need
# tf_graphvae (nor TFP). Writes everything it saw to an .npz for the test process.
LOADER = r"""
import json, sys
import numpy as np
import tensorflow as tf

path, inputs, output = sys.argv[1:4]
with np.load(inputs) as arrays:
    images, full_batch = arrays["images"], arrays["full_batch"]
loaded = tf.saved_model.load(path)
sample = loaded.signatures["serving_default"]
log_likelihood = loaded.signatures["log_likelihood"]


def run_sampler(n, seed):
    return sample(num_samples=tf.constant(n, tf.int64), seed=tf.constant(seed, tf.int64))


def error_of(fn, **kwargs):
    try:
        fn(**kwargs)
    except tf.errors.InvalidArgumentError as error:
        return error.message
    return ""


first, second = run_sampler(4, 7), run_sampler(4, 7)
nan_images = images.copy()
nan_images[0, 0, 0, 0] = np.nan
errors = {
    "zero_samples": error_of(run_sampler, n=0, seed=7),
    "too_many_samples": error_of(run_sampler, n=int(sys.argv[4]) + 1, seed=7),
    # Checked before anything of that size is allocated: fails at once, no memory error.
    "huge_num_samples": error_of(run_sampler, n=2**31 - 1, seed=7),
    "seed_out_of_int32": error_of(run_sampler, n=1, seed=2**40),
    "nan_images": error_of(log_likelihood, images=tf.constant(nan_images)),
    "images_out_of_range": error_of(log_likelihood, images=tf.constant(images * 2.0)),
    "too_many_images": error_of(
        log_likelihood, images=tf.constant(np.zeros([257, *images.shape[1:]], np.float32))
    ),
}
packages = ("tf_graphvae", "tensorflow_probability")
modules = sorted(m for m in sys.modules if m.split(".")[0] in packages)
np.savez(
    output,
    samples=first["samples"].numpy(),
    structure=first["structure"].numpy(),
    samples_again=second["samples"].numpy(),
    structure_again=second["structure"].numpy(),
    log_likelihood=log_likelihood(images=tf.constant(images))["log_likelihood"].numpy(),
    log_likelihood_again=log_likelihood(images=tf.constant(images))["log_likelihood"].numpy(),
    log_likelihood_full=log_likelihood(images=tf.constant(full_batch))["log_likelihood"].numpy(),
    edge_probabilities=loaded.signatures["edge_probabilities"]()["edge_probabilities"].numpy(),
    code=loaded.signatures["encode"](images=tf.constant(images))["code"].numpy(),
    scale=loaded.signatures["encode"](images=tf.constant(images))["scale"].numpy(),
    reconstruction=loaded.signatures["reconstruct"](
        images=tf.constant(images))["reconstruction"].numpy(),
    errors=json.dumps(errors),
    modules=json.dumps(modules),
)
"""


# Run in a fresh interpreter: graph mode, a v1 Session, the loader TF Serving's C++ code
# mirrors (restore the variables, run the init op), then each signature fetched by the
# tensor names its signature_def gives. Writes `<signature>.<output>` arrays to an .npz.
SESSION_LOADER = r"""
import sys
import numpy as np
import tensorflow as tf

path, images_file, num_samples, seed, output = sys.argv[1:6]
tf.compat.v1.disable_eager_execution()
images = np.load(images_file)
feeds = {"num_samples": np.int64(num_samples), "seed": np.int64(seed), "images": images}
results = {}
with tf.compat.v1.Session(graph=tf.Graph()) as sess:
    meta_graph = tf.compat.v1.saved_model.loader.load(sess, ["serve"], path)
    for name, signature in sorted(meta_graph.signature_def.items()):
        if name.startswith("__"):  # the init op's own entry, not a signature
            continue
        feed_dict = {info.name: feeds[key] for key, info in signature.inputs.items()}
        fetches = {key: info.name for key, info in signature.outputs.items()}
        for key, value in sess.run(fetches, feed_dict).items():
            results[f"{name}.{key}"] = value
    # A bad request fails inside the session too, with the signature's own message.
    signature = meta_graph.signature_def["serving_default"]
    try:
        sess.run(signature.outputs["samples"].name, {
            signature.inputs["num_samples"].name: np.int64(0),
            signature.inputs["seed"].name: np.int64(seed),
        })
        error = ""
    except tf.errors.InvalidArgumentError as caught:
        error = caught.message
np.savez(output, error=error, **results)
"""


def run_saved_model_cli(
    export: Path, signature: str, work: Path, *, images: Path | None = None, exprs: str = ""
) -> dict[str, np.ndarray]:
    """`saved_model_cli run` of one signature; its outputs, read back from `--outdir`."""
    outdir = work / f"cli-{signature}"
    # `run` insists on some input option; ";" is an empty expression list, for a
    # signature without inputs.
    inputs = ["--input_exprs", exprs or ";"]
    if images is not None:
        inputs += ["--inputs", f"images={images}"]
    result = subprocess.run(
        [str(BIN / "saved_model_cli"), "run", "--dir", str(export), "--tag_set", "serve",
         "--signature_def", signature, *inputs, "--outdir", str(outdir)],
        capture_output=True, text=True, timeout=240, env=SUBPROCESS_ENV,
    )  # fmt: skip
    assert result.returncode == 0, f"{signature}:\n{result.stderr[-3000:]}"
    written = sorted(p.stem for p in outdir.glob("*.npy"))
    assert written == sorted(SIGNATURE_OUTPUTS[signature]), written
    return {name: np.load(outdir / f"{name}.npy") for name in written}


def run_session_loader(
    export: Path, images: np.ndarray, num_samples: int, seed: int, work: Path
) -> dict[str, np.ndarray]:
    """Every signature run by the v1 session loader in a separate process.

    Keys `<signature>.<output>`, and `error`: the message of a `num_samples=0` request.
    """
    np.save(work / "session_images.npy", images)
    result = subprocess.run(
        [sys.executable, "-c", SESSION_LOADER, str(export), str(work / "session_images.npy"),
         str(num_samples), str(seed), str(work / "session.npz")],
        capture_output=True, text=True, timeout=240, cwd=work, env=SUBPROCESS_ENV,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with np.load(work / "session.npz") as out:
        return dict(out)


def graph_variable_handles(export: Path) -> list[tuple[str, tuple[int, ...]]]:
    """`(shared name, shape)` of every variable handle (`VarHandleOp`) in the saved graph.

    A session loader creates one variable per handle and restores only those the
    checkpoint names, so a handle beyond one per variable is one left uninitialised.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    saved_model = saved_model_pb2.SavedModel()
    saved_model.ParseFromString((export / "saved_model.pb").read_bytes())
    (meta_graph,) = saved_model.meta_graphs
    return [
        (node.attr["shared_name"].s.decode(), tuple(d.size for d in node.attr["shape"].shape.dim))
        for node in meta_graph.graph_def.node
        if node.op == "VarHandleOp"
    ]
