"""PyTorch reference for `easel bench`: the same GRAN as Easel's `gran-fmnist` preset (Im et al.
2016, Table 5 MNIST architecture, T = 3, batch 100), trained with the same step (one D update, one
G update, non-saturating BCE, Adam β1 = 0.5) on random 28 × 28 data, timed on the CPU.

    python3 -m venv .venv && .venv/bin/pip install torch
    .venv/bin/python bench/gran_torch.py --steps-per-run 3 --seconds 20

Prints one JSON line: training images per second and the threads used.
"""

import argparse
import json
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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--steps", type=int, default=3, help="GRAN's T")
    args = parser.parse_args()
    torch.manual_seed(0)
    g, d = Gran(steps=args.steps), Encoder((1, 40, 80), 28, 1, leaky=True)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    data = torch.rand(args.batch * 4, 1, 28, 28)

    def step(i):
        real = data[(i % 4) * args.batch:(i % 4 + 1) * args.batch] * 2 - 1
        fake = g(torch.randn(args.batch, 60)).detach() * 2 - 1
        loss_d = F.softplus(-d(real)).mean() + F.softplus(d(fake)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-d(g(torch.randn(args.batch, 60)) * 2 - 1)).mean()
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
    }))


if __name__ == "__main__":
    main()
