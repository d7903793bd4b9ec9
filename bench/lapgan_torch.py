"""PyTorch reference for `easel bench --preset lapgan-fmnist`: the same LAPGAN as Easel's
`lapgan-fmnist` preset (Denton et al. 2015; core/src/model/lapgan.rs), three levels 28 → 14 → 7,
trained with one D update then one G update per iteration (non-saturating BCE summed over the
levels, Adam lr 2e-4, β = (0.5, 0.999), batch 100) on random 28 × 28 data, timed on the CPU.

The networks, level by level (finest first; no BatchNorm anywhere, as in Easel):
- coarsest (7 × 7): G is an MLP z(100, U(−1, 1)) → 600 → ReLU → 600 → ReLU → 49; D is an MLP
  49 → 600 → ReLU → dropout 0.5 → 600 → ReLU → dropout 0.5 → 1 logit.
- 14 × 14 (width 32) and 28 × 28 (width 16): G reads [a U(−1, 1) noise plane, l_k] through
  three same-size convolutions (5 × 5, 5 × 5, 5 × 5 to one channel, ReLU between) and writes the
  band-pass h̃_k; D reads h + l_k through a valid 5 × 5 conv → ReLU → a valid 5 × 5 conv of
  stride 2 → ReLU → dropout 0.5 → one logit.
- The Laplacian pyramid is Easel's (core/src/model/pyramid.rs): the binomial [1 4 6 4 1]/16
  blur, keeping every other pixel (side n → ⌈n/2⌉), and its smoothing expansion, both as
  separable matrices with the taps outside the image dropped and the rest renormalised;
  l_k = u(I_{k+1}) of the real batch conditions level k's G and D (the levels train
  independently, as the paper's and Easel's training do).
- Initialisation as Easel's: the MLPs' weights and biases N(0, 0.05²) in G and N(0, 0.02²) in D;
  the convolutions and the band discriminators' logit layer PyTorch's defaults (burn's
  Kaiming-uniform default is the same bound, 1/√fan_in).
- Images in [0, 1] scaled to [−1, 1] as Easel's `from_unit` does (x · 2 − 1).

The step is the one users write, drawing once per iteration (as PyTorch's DCGAN example): every
level's fakes are drawn once; D's loss reads them detached; G's loss then reads the same drawing
through the updated D (fresh dropout masks). Both updates use the same real batch's pyramid.
Where it differs from Easel's trainer (core/src/model/gan.rs, train/trainer.rs): Easel's G step
reads the discriminators with their weights frozen (no D weight gradient in G's backward pass),
where this script, like the DCGAN example, lets G's backward pass also compute D's weight
gradients (discarded by the next D step's zero_grad); Easel draws its dropout masks from its own
seeded stream on the host (`DropoutDraw`), this script with `F.dropout`; both draw the uniform
noise as erf(n / √2) of standard normals. (Easel before the draw-once change drew afresh for G,
on the next batch's pyramid: twice the generator passes of this script.)

    python3 -m venv .venv && .venv/bin/pip install torch
    .venv/bin/python bench/lapgan_torch.py --seconds 20

Prints each level's G and D parameter counts on stderr and one JSON line on stdout: training
images per second and the threads used.
"""

import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def reduce_matrix(n):
    """The [⌈n/2⌉, n] matrix of d along one axis: row i blurs around pixel 2i (pyramid.rs)."""
    m = (n + 1) // 2
    a = torch.zeros(m, n)
    for i in range(m):
        for tap, w in enumerate(BINOMIAL):
            j = 2 * i + tap - 2
            if 0 <= j < n:
                a[i, j] = w
    return a / a.sum(1, keepdim=True)


def expand_matrix(n, m):
    """The [n, m] matrix of u: fine pixel j blends the coarse pixels 2i within two of it."""
    e = torch.zeros(n, m)
    for j in range(n):
        for i in range(m):
            offset = j - 2 * i
            if abs(offset) <= 2:
                e[j, i] = BINOMIAL[offset + 2]
    return e / e.sum(1, keepdim=True)


class Pyramid:
    """Easel's d(·) and u(·) for a square image of `side` over `levels` levels."""

    def __init__(self, side, levels):
        self.sides = [side]
        while len(self.sides) < levels:
            self.sides.append((self.sides[-1] + 1) // 2)
        self.reduce = {s: reduce_matrix(s) for s in self.sides[:-1]}
        self.expand = {s: expand_matrix(s, (s + 1) // 2) for s in self.sides[:-1]}

    def down(self, x):
        r = self.reduce[x.shape[-1]]
        return r @ x @ r.t()

    def up(self, x, side):
        e = self.expand[side]
        return e @ x @ e.t()

    def real(self, images):
        """(bands h_k, lows l_k = u(I_{k+1}), coarse I_K) of `images` in [-1, 1], finest first."""
        bands, lows, current = [], [], images
        for side in self.sides[:-1]:
            coarser = self.down(current)
            low = self.up(coarser, side)
            bands.append(current - low)
            lows.append(low)
            current = coarser
        return bands, lows, current


def dense(inputs, outputs, std):
    layer = nn.Linear(inputs, outputs)
    nn.init.normal_(layer.weight, 0.0, std)
    nn.init.normal_(layer.bias, 0.0, std)
    return layer


class CoarseG(nn.Module):
    def __init__(self, z_dim, hidden, side, channels=1):
        super().__init__()
        self.shape = (channels, side, side)
        self.fc1 = dense(z_dim, hidden, 0.05)
        self.fc2 = dense(hidden, hidden, 0.05)
        self.fc3 = dense(hidden, channels * side * side, 0.05)

    def forward(self, z):
        x = F.relu(self.fc2(F.relu(self.fc1(z))))
        return self.fc3(x).view(-1, *self.shape)


class BandG(nn.Module):
    def __init__(self, width, kernel, channels=1):
        super().__init__()
        self.convs = nn.ModuleList([
            nn.Conv2d(1 + channels, width, kernel, padding=(kernel - 1) // 2),
            nn.Conv2d(width, width, kernel, padding=(kernel - 1) // 2),
            nn.Conv2d(width, channels, 5, padding=2),
        ])

    def forward(self, noise, low):
        x = torch.cat([noise, low], 1)
        for i, conv in enumerate(self.convs):
            x = conv(x)
            if i < len(self.convs) - 1:
                x = F.relu(x)
        return x


class CoarseD(nn.Module):
    def __init__(self, pixels, hidden, dropout):
        super().__init__()
        self.p = dropout
        self.fc1 = dense(pixels, hidden, 0.02)
        self.fc2 = dense(hidden, hidden, 0.02)
        self.fc3 = dense(hidden, 1, 0.02)

    def forward(self, image):
        x = F.dropout(F.relu(self.fc1(image.flatten(1))), self.p, self.training)
        x = F.dropout(F.relu(self.fc2(x)), self.p, self.training)
        return self.fc3(x)


class BandD(nn.Module):
    def __init__(self, width, side, dropout, channels=1):
        super().__init__()
        self.p = dropout
        self.conv1 = nn.Conv2d(channels, width, 5)
        self.conv2 = nn.Conv2d(width, width, 5, stride=2)
        out = (side - 4 - 5) // 2 + 1
        self.fc = nn.Linear(width * out * out, 1)

    def forward(self, band, low):
        x = F.relu(self.conv1(band + low))
        x = F.relu(self.conv2(x)).flatten(1)
        return self.fc(F.dropout(x, self.p, self.training))


class Lapgan(nn.Module):
    """Every level's G (or D): `bands[k]` for the finer levels, finest first, and `coarse`."""

    def __init__(self, bands, coarse):
        super().__init__()
        self.bands, self.coarse = nn.ModuleList(bands), coarse


def uniform_noise(*shape):
    # Easel maps its standard normals to U(-1, 1) by erf(x / √2).
    return torch.erf(torch.randn(*shape) * math.sqrt(0.5))


def count(module):
    return sum(p.numel() for p in module.parameters())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)

    # The lapgan-fmnist preset.
    side, levels, z_dim, hidden, dropout, kernel = 28, 3, 100, 600, 0.5, 5
    g_widths, d_widths = (16, 32), (16, 32)
    pyramid = Pyramid(side, levels)
    sides, low_side = pyramid.sides, pyramid.sides[-1]
    g = Lapgan([BandG(w, kernel) for w in g_widths], CoarseG(z_dim, hidden, low_side))
    d = Lapgan([BandD(w, s, dropout) for w, s in zip(d_widths, sides)],
               CoarseD(low_side * low_side, hidden, dropout))
    for k, s in enumerate(sides):
        gk = g.bands[k] if k < levels - 1 else g.coarse
        dk = d.bands[k] if k < levels - 1 else d.coarse
        print(f"level {k} ({s}x{s}): G {count(gk)} params, D {count(dk)} params", file=sys.stderr)
    print(f"total: G {count(g)} params, D {count(d)} params", file=sys.stderr)

    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = torch.rand(args.batch * 4, 1, side, side)

    def logits(coarse, bands, lows):
        return [dk(b, l) for dk, b, l in zip(d.bands, bands, lows)] + [d.coarse(coarse)]

    def step(i):
        real = data[(i % 4) * args.batch:(i % 4 + 1) * args.batch] * 2 - 1
        bands, lows, coarse = pyramid.real(real)
        # Draw once: every level's fake given the real pyramid's low-pass images.
        fake_coarse = g.coarse(uniform_noise(args.batch, z_dim))
        fake_bands = [gk(uniform_noise(args.batch, 1, s, s), l)
                      for gk, s, l in zip(g.bands, sides, lows)]
        real_logits = logits(coarse, bands, lows)
        fake_logits = logits(fake_coarse.detach(), [b.detach() for b in fake_bands], lows)
        loss_d = sum(F.softplus(-r).mean() + F.softplus(f).mean()
                     for r, f in zip(real_logits, fake_logits))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = sum(F.softplus(-f).mean() for f in logits(fake_coarse, fake_bands, lows))
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()

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
        "peak_resident_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == "__main__":
    main()
