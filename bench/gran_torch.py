"""PyTorch reference for `easel bench`: the same GRAN as Easel's `gran-fmnist` preset (Im et al.
2016, Table 5 MNIST architecture, T = 3, batch 100; `--steps 1` is `dcgan-fmnist`), trained with
the same step (one D update, one G update, non-saturating BCE, Adam β1 = 0.5, ε = 1e-5) and the
same initial weights' distribution (every weight and bias N(0, 0.02), as DCGAN's paper and Easel)
on the CPU with as many threads as cores; `--init pytorch --adam-eps 1e-8` gives PyTorch's
defaults instead. The step is the one users write (PyTorch's DCGAN example): G draws once
per iteration, D reads the drawing detached, then G's loss reads the same drawing through the
updated D.

    python3 -m venv .venv && .venv/bin/pip install torch
    .venv/bin/python bench/gran_torch.py --steps 3 --seconds 20

Prints one JSON line: training images per second, the threads used and the peak resident memory.

With `--train-minutes M --samples DIR` it trains on Fashion-MNIST (Debian's
dataset-fashion-mnist) for M minutes instead and writes `--count` samples as PNGs to DIR, for
`easel score --folder DIR --data fashion-mnist`.
"""

import argparse
import gzip
import json
import os
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Decoder(nn.Module):
    def __init__(self, inputs, widths=(80, 40, 1), base=7, k=5):
        super().__init__()
        self.widths, self.base = widths, base
        self.fc = nn.Linear(inputs, widths[0] * base * base)
        self.norms = nn.ModuleList(nn.BatchNorm2d(w) for w in widths[:-1])
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(a, b, k, stride=2, padding=(k - 1) // 2, output_padding=1)
            for a, b in zip(widths[:-1], widths[1:])
        )

    def forward(self, h):
        x = self.fc(h).view(-1, self.widths[0], self.base, self.base)
        for norm, deconv in zip(self.norms, self.deconvs):
            x = deconv(F.relu(norm(x)))
        return x


class Encoder(nn.Module):
    def __init__(self, widths, side, outputs, k=5, leaky=False):
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Conv2d(a, b, k, stride=2, padding=(k - 1) // 2) for a, b in zip(widths[:-1], widths[1:])
        )
        self.norms = nn.ModuleList(nn.BatchNorm2d(w) for w in widths[2:])
        last = side >> (len(widths) - 1)
        self.fc = nn.Linear(widths[-1] * last * last, outputs)
        self.leaky = leaky

    def forward(self, x):
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i > 0:
                x = self.norms[i - 1](x)
            x = F.leaky_relu(x, 0.2) if self.leaky else F.relu(x)
        return self.fc(x.flatten(1))


class Gran(nn.Module):
    def __init__(self, z_dim=60, hz=100, hc=100, steps=3):
        super().__init__()
        self.steps, self.hc = steps, hc
        self.proj = nn.Linear(z_dim, hz)
        self.f = Decoder(hz + hc)
        self.g = Encoder((1, 40, 80), 28, hc)
        # BatchNorm before the tanh of h_z and h_c, as Easel's latent_norm and the authors' code.
        self.norm_z = nn.BatchNorm1d(hz)
        self.norm_c = nn.BatchNorm1d(hc)

    def forward(self, z):
        hz = torch.tanh(self.norm_z(self.proj(z)))
        hc = torch.zeros(z.shape[0], self.hc)
        total = 0
        for t in range(self.steps):
            delta = self.f(torch.cat([hz, hc], 1))
            total = total + delta
            if t + 1 < self.steps:
                hc = torch.tanh(self.norm_c(self.g(delta)))
        return torch.sigmoid(total)


FASHION_MNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"


def fashion_mnist():
    """The 60 000 training images as `[n, 1, 28, 28]` floats in [0, 1]."""
    with gzip.open(FASHION_MNIST) as f:
        raw = f.read()
    count = int.from_bytes(raw[4:8], "big")
    pixels = torch.frombuffer(bytearray(raw[16:]), dtype=torch.uint8)
    return pixels.view(count, 1, 28, 28).float() / 255


def peak_resident_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=3, help="GRAN's T (1: DCGAN)")
    parser.add_argument("--train-minutes", type=float, help="train on Fashion-MNIST this long")
    parser.add_argument("--samples", help="folder for the samples of --train-minutes")
    parser.add_argument("--count", type=int, default=1000, help="samples written")
    parser.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise")
    parser.add_argument(
        "--init",
        choices=("dcgan", "pytorch"),
        default="dcgan",
        help="dcgan: every weight and bias N(0, 0.02), as Easel (Radford et al. 2016); "
        "pytorch: PyTorch's default Kaiming-uniform",
    )
    parser.add_argument(
        "--adam-eps",
        type=float,
        default=1e-5,
        help="Adam's epsilon: 1e-5 as Easel (burn's default); PyTorch's default is 1e-8",
    )
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(args.seed)
    g, d = Gran(steps=args.steps), Encoder((1, 40, 80), 28, 1, leaky=True)
    if args.init == "dcgan":
        for module in (*g.modules(), *d.modules()):
            if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.normal_(module.weight, 0.0, 0.02)
                nn.init.normal_(module.bias, 0.0, 0.02)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=args.adam_eps)
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=args.adam_eps)
    if args.train_minutes:
        data = fashion_mnist()
    else:
        data = torch.rand(args.batch * 4, 1, 28, 28)
    batches = data.shape[0] // args.batch
    order = torch.randperm(data.shape[0])

    def step(i):
        nonlocal order
        if i % batches == 0 and i > 0:
            order = torch.randperm(data.shape[0])
        at = (i % batches) * args.batch
        real = data[order[at:at + args.batch]] * 2 - 1
        fake = g(torch.randn(args.batch, 60)) * 2 - 1
        loss_d = F.softplus(-d(real)).mean() + F.softplus(d(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-d(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

    if args.train_minutes:
        started, steps = time.perf_counter(), 0
        while time.perf_counter() - started < args.train_minutes * 60:
            step(steps)
            steps += 1
        elapsed = time.perf_counter() - started
        write_samples(g, args.samples, args.count)
        print(json.dumps({
            "framework": f"pytorch {torch.__version__}",
            "threads": torch.get_num_threads(),
            "steps": steps,
            "seconds": elapsed,
            "samples": args.samples,
        }))
        return

    for i in range(2):
        step(i)
    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < args.seconds or steps < 3:
        step(steps)
        steps += 1
    elapsed = time.perf_counter() - started
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "batch_size": args.batch,
        "steps_timed": steps,
        "train_images_per_second": steps * args.batch / elapsed,
        "peak_resident_bytes": peak_resident_bytes(),
    }))


def write_samples(g, folder, count):
    """`count` samples of `g` in inference mode as 8-bit grey PNGs (`sample-NNNNN.png`)."""
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    g.eval()
    with torch.no_grad():
        images = g(torch.randn(count, 60))
    for i, image in enumerate(images):
        pixels = (image[0] * 255).round().clamp(0, 255).to(torch.uint8).numpy()
        Image.fromarray(pixels, mode="L").save(os.path.join(folder, f"sample-{i:05}.png"))


if __name__ == "__main__":
    main()
