"""The peer: a pythae (PyTorch) VAE with the same MLP networks, timed the same way.

python bench/pythae_peer.py --train=train.npy --eval=eval.npy --num_samples=5000

Runs in its own process so that PyTorch and TensorFlow do not share a process (their
thread pools). Prints one line `RESULT {json}`; when `pythae` or `torch` cannot be
imported the result says so (`"status": "not installed ..."`) and the exit status is 0.

Networks (those of `GraphVAE`'s default with one latent node of 50 dimensions):
encoder 784-512-512-256 (ELU), linear heads to the mean and log-variance of a 50-d
Gaussian; decoder 50-256-512-512-784 (ELU, sigmoid output), Bernoulli likelihood
(pythae's "bce" reconstruction loss). Adam at 1e-3, batch 128.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import numpy as np

LATENT_DIM = 50
ENCODER_UNITS = (512, 512, 256)
DECODER_UNITS = (256, 512, 512)
NOT_INSTALLED = "not installed: pip install -e .[bench]"


def build_model():
    import torch
    from pythae.models import VAE, VAEConfig
    from pythae.models.base.base_utils import ModelOutput
    from pythae.models.nn import BaseDecoder, BaseEncoder

    def mlp(sizes):
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [torch.nn.Linear(a, b), torch.nn.ELU()]
        return torch.nn.Sequential(*layers)

    class Encoder(BaseEncoder):
        def __init__(self):
            super().__init__()
            self.body = mlp((784, *ENCODER_UNITS))
            self.mean = torch.nn.Linear(ENCODER_UNITS[-1], LATENT_DIM)
            self.log_var = torch.nn.Linear(ENCODER_UNITS[-1], LATENT_DIM)

        def forward(self, x):
            h = self.body(x.reshape(x.shape[0], -1))
            return ModelOutput(embedding=self.mean(h), log_covariance=self.log_var(h))

    class Decoder(BaseDecoder):
        def __init__(self):
            super().__init__()
            self.body = mlp((LATENT_DIM, *DECODER_UNITS))
            self.out = torch.nn.Linear(DECODER_UNITS[-1], 784)

        def forward(self, z):
            logits = self.out(self.body(z))
            return ModelOutput(reconstruction=torch.sigmoid(logits).reshape(-1, 1, 28, 28))

    config = VAEConfig(input_dim=(1, 28, 28), latent_dim=LATENT_DIM, reconstruction_loss="bce")
    return VAE(config, encoder=Encoder(), decoder=Decoder())


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True, help=".npy of grey training images [n,28,28,1]")
    parser.add_argument("--eval", required=True, help=".npy of binary evaluation images")
    parser.add_argument("--num_samples", type=int, default=5000, help="K of get_nll")
    parser.add_argument("--steps", type=int, default=50, help="training steps per repetition")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--eval_reps", type=int, default=3)
    parser.add_argument("--batch_size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="default: os.cpu_count()")
    return parser.parse_args()


def _time_training(model, train, args) -> list[float]:
    """Seconds of `args.reps` repetitions of `args.steps` Adam steps, after a warm-up."""
    import torch
    from pythae.data.datasets import DatasetOutput

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    b = args.batch_size
    num_batches = len(train) // b
    step = 0

    def train_steps(count):
        nonlocal step
        model.train()
        for _ in range(count):
            i = step % num_batches
            x = torch.bernoulli(train[i * b : (i + 1) * b])  # dynamic binarisation, as tgv
            loss = model(DatasetOutput(data=x)).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1

    train_steps(min(5, args.steps))  # warm-up
    train_times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        train_steps(args.steps)
        train_times.append(time.perf_counter() - start)
    return train_times


def _time_nll(model, evaluation, k: int, reps: int) -> tuple[list[float], float, int]:
    """Seconds of `reps` calls of `get_nll` after a warm-up, its value, its batch size.

    get_nll draws K samples per image in batches of `batch_size` rows (it needs K to be a
    multiple of it); one batch of K rows per image, like tgv's default of 5,000 rows.
    """
    import torch

    nll_batch = k if k <= 5000 else 5000
    model.eval()

    def nll():
        with torch.no_grad():
            return model.get_nll(evaluation, n_samples=k, batch_size=nll_batch)

    nll()  # warm-up
    eval_times = []
    value = None
    for _ in range(reps):
        start = time.perf_counter()
        value = nll()
        eval_times.append(time.perf_counter() - start)
    return eval_times, float(value), nll_batch


def main() -> None:
    args = _parse_args()
    try:
        import pythae
        import torch
        from pythae.data.datasets import DatasetOutput  # noqa: F401 - checks the install
    except Exception as err:  # noqa: BLE001 - the peer is optional, never fail
        print("RESULT " + json.dumps({"status": f"{NOT_INSTALLED} ({err})"}), flush=True)
        return

    threads = args.threads or os.cpu_count() or 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model()
    # Channels first, as pythae expects: [n, 1, 28, 28].
    train = torch.from_numpy(np.load(args.train)).permute(0, 3, 1, 2).contiguous()
    evaluation = torch.from_numpy(np.load(args.eval)).permute(0, 3, 1, 2).contiguous()
    b = args.batch_size
    train_times = _time_training(model, train, args)
    train_median = statistics.median(train_times)
    k = args.num_samples
    eval_times, value, nll_batch = _time_nll(model, evaluation, k, args.eval_reps)
    eval_median = statistics.median(eval_times)

    result = {
        "status": "ok",
        "pythae_version": getattr(pythae, "__version__", None) or _version("pythae"),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "batch_size": b,
        "train_steps_per_rep": args.steps,
        "train_reps": args.reps,
        "train_seconds_per_rep": [round(t, 4) for t in train_times],
        "train_examples_per_s": args.steps * b / train_median,
        "nll_num_samples": k,
        "nll_num_images": len(evaluation),
        "nll_batch_size": nll_batch,
        "nll_reps": args.eval_reps,
        "nll_seconds": [round(t, 4) for t in eval_times],
        "nll_samples_per_s": len(evaluation) * k / eval_median,
        "nll_value": value,
        "notes": "get_nll runs the encoder on every importance sample (pythae's code); "
        "timed under torch.no_grad() in eval mode.",
    }
    print("RESULT " + json.dumps(result), flush=True)


def _version(name: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:  # noqa: BLE001
        return None


if __name__ == "__main__":
    main()
