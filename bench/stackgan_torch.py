"""PyTorch reference for `easel bench`: the same StackGAN-v2 as Easel's `stackgan2-shapes` preset
(StackGAN++, Zhang et al. 2018; Easel's core/src/model/stackgan*), trained with the same step on
random 32 × 32 RGB data, timed on the CPU. Compare with

    easel bench --preset stackgan2-shapes

What it replicates (preset: version v2, image_size 32, channels 3, scales 3, z_dim 100,
condition_dim 128, text_dim 128, generator_width 128, discriminator_width 16, residual_blocks 1,
mismatch "counterpart", discriminator_text "embedding"; config defaults: kl_weight 1,
uncond_weight 1, colour λ1 = 1, λ2 = 5, instance_noise 0 and mode_seeking 0, so both are off):

- Conditioning Augmentation: FC(128 → 4·128) → GLU → (μ, log σ²), ĉ = μ + exp(½ log σ²) ⊙ ε.
- The generator tree at 8 → 16 → 32: FC([ĉ, z] → 2·128·4·4, no bias) → BatchNorm → GLU →
  [128, 4, 4]; one GLU up-block (nearest ×2, 3×3 conv, BN, GLU) → [64, 8, 8]; each next scale
  joins ĉ tiled over the map (3×3 conv, BN, GLU), 1 residual block (x + BN(conv(GLU(BN(conv x))))),
  a GLU up-block halving the width; a 3×3 conv + tanh image head at every scale.
- One discriminator per scale: 4×4 stride-2 convs from 16 channels, doubling (BN after the
  first, LeakyReLU 0.2) down to 4 × 4; a conditional head (the condition tiled, 3×3 conv, BN,
  LeakyReLU, then a 4×4 conv to a logit) and an unconditional head (the 4×4 conv alone). Each D
  reads the sentence embedding through its own FC(128 → 128) + LeakyReLU 0.2.
- Real images at 16 and 8 are the 32 × 32 batch blurred by [1, 4, 6, 4, 1]/16 and decimated
  (borders renormalised), as Easel's pyramid::downsample, recomputed every step.
- D's loss per scale (joint_d): bce_real(real, own text) + bce_fake(wrong) + bce_fake(fake, own
  text) + bce_real(real uncond) + bce_fake(fake uncond), where "wrong" is the real images with the
  next row's text (b − 1 rows) and with a counterpart caption (b rows), concatenated; summed
  over scales, one Adam over all three Ds.
- G's loss: Σ over scales bce_real(cond) + bce_real(uncond), colour consistency between adjacent
  scales (λ1‖Δμ‖² + λ2‖ΔΣ‖²_F, batch mean), and the KL term (mean of ½(μ² + σ² − 1 − log σ²)).
- Draw once per iteration: G draws; the Ds read the drawing detached and update; G's loss reads
  the same drawing through the updated Ds. Adam lr 2e-4, betas (0.5, 0.999) and burn's default
  ε = 1e-5 (torch's default is 1e-8), batch 32. Weights N(0, 0.02) (biases too, as burn's
  initializer), BatchNorm γ = 1, β = 0, ε = 1e-5, momentum 0.1.
- Every BatchNorm sees the same batches as in Easel: each D head call (real, next-row wrong,
  counterpart wrong, fake) is its own forward pass with its own batch statistics.

Captions: no text encoder. Each of the batch·4 training images gets a fixed random, L2-normalised
128-wide "sentence embedding", drawn once at start; its counterpart caption is the embedding of
another random training image, drawn each step (in Easel, a caption of another class's closest
image). Only the GAN is timed.

Not replicated (Easel's bookkeeping, not the model): data loading/caption lookup, reading the
losses back and the NaN scan of all weights after each step.

    python3 -m venv .venv && .venv/bin/pip install torch
    .venv/bin/python bench/stackgan_torch.py --seconds 20

Prints the parameter counts of G and each D on stderr, and one JSON line on stdout: training
images per second, the threads used and the peak resident memory (as bench/gran_torch.py).
"""

import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

Z_DIM, COND_DIM, TEXT_DIM = 100, 128, 128
G_WIDTH, D_WIDTH, RES_BLOCKS = 128, 16, 1
IMAGE_SIZE, CHANNELS, SCALES = 32, 3, 3
KL_WEIGHT, UNCOND_WEIGHT, COLOUR_MEAN, COLOUR_COV = 1.0, 1.0, 1.0, 5.0


def conv(i, o, k, stride=1, padding=1, bias=False):
    return nn.Conv2d(i, o, k, stride=stride, padding=padding, bias=bias)


class Join(nn.Module):
    """3×3 conv (no bias), BatchNorm, activation; GLU convs make twice the channels."""

    def __init__(self, inputs, outputs, act):
        super().__init__()
        wide = 2 * outputs if act == "glu" else outputs
        self.conv, self.norm, self.act = conv(inputs, wide, 3), nn.BatchNorm2d(wide), act

    def forward(self, x):
        x = self.norm(self.conv(x))
        return F.glu(x, 1) if self.act == "glu" else F.leaky_relu(x, 0.2)


class Up(nn.Module):
    def __init__(self, inputs, outputs):
        super().__init__()
        self.join = Join(inputs, outputs, "glu")

    def forward(self, x):
        return self.join(F.interpolate(x, scale_factor=2, mode="nearest"))


class Residual(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.first = Join(width, width, "glu")
        self.conv, self.norm = conv(width, width, 3), nn.BatchNorm2d(width)

    def forward(self, x):
        return x + self.norm(self.conv(self.first(x)))


def tile(c, side):
    return c[:, :, None, None].expand(-1, -1, side, side)


class NextStage(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.join = Join(width + COND_DIM, width, "glu")
        self.residual = nn.ModuleList(Residual(width) for _ in range(RES_BLOCKS))
        self.up = Up(width, width // 2)

    def forward(self, h, c):
        h = self.join(torch.cat([h, tile(c, h.shape[2])], 1))
        for r in self.residual:
            h = r(h)
        return self.up(h)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        first = IMAGE_SIZE >> (SCALES - 1)  # 8
        ups = 0
        while first > 4 and first % 2 == 0:  # Easel's halvings()
            first //= 2
            ups += 1
        self.base = first  # 4
        self.ca = nn.Linear(TEXT_DIM, 4 * COND_DIM)
        self.fc = nn.Linear(Z_DIM + COND_DIM, 2 * G_WIDTH * first * first, bias=False)
        self.fc_norm = nn.BatchNorm1d(2 * G_WIDTH * first * first)
        w, blocks = G_WIDTH, []
        for _ in range(ups):
            blocks.append(Up(w, max(w // 2, 1)))
            w = max(w // 2, 1)
        self.ups = nn.ModuleList(blocks)
        heads, stages = [conv(w, CHANNELS, 3)], []
        for _ in range(1, SCALES):
            stages.append(NextStage(w))
            w //= 2
            heads.append(conv(w, CHANNELS, 3))
        self.stages, self.heads = nn.ModuleList(stages), nn.ModuleList(heads)

    def forward(self, z, text, eps):
        x = F.glu(self.ca(text), 1)
        mu, logvar = x[:, :COND_DIM], x[:, COND_DIM:]
        c = mu + torch.exp(logvar * 0.5) * eps
        h = F.glu(self.fc_norm(self.fc(torch.cat([c, z], 1))), 1)
        h = h.view(-1, G_WIDTH, self.base, self.base)
        for up in self.ups:
            h = up(h)
        images = [torch.tanh(self.heads[0](h))]
        for stage, head in zip(self.stages, self.heads[1:]):
            h = stage(h, c)
            images.append(torch.tanh(head(h)))
        return images, mu, logvar


class Logits(nn.Module):
    def __init__(self, width, side, condition):
        super().__init__()
        self.join = Join(width + condition, width, "leaky") if condition else None
        self.out = conv(width, 1, side, padding=0, bias=True)

    def forward(self, h, c=None):
        if self.join is not None:
            h = self.join(torch.cat([h, tile(c, h.shape[2])], 1))
        return self.out(h).view(-1, 1)


class ScaleDiscriminator(nn.Module):
    def __init__(self, side):
        super().__init__()
        n, s = 0, side
        while s > 4 and s % 2 == 0:
            s //= 2
            n += 1
        downs, norms, w = [], [], D_WIDTH
        for i in range(n):
            outputs = D_WIDTH << i
            downs.append(conv(CHANNELS if i == 0 else w, outputs, 4, stride=2, padding=1))
            if i > 0:
                norms.append(nn.BatchNorm2d(outputs))
            w = outputs
        assert w <= 8 * D_WIDTH  # no 3×3 reducing blocks at these sides
        self.downs, self.norms = nn.ModuleList(downs), nn.ModuleList(norms)
        self.cond = Logits(w, s, COND_DIM)
        self.uncond = Logits(w, s, 0)
        self.text = nn.Linear(TEXT_DIM, COND_DIM)

    def encode(self, x):
        for i, down in enumerate(self.downs):
            x = down(x)
            if i > 0:
                x = self.norms[i - 1](x)
            x = F.leaky_relu(x, 0.2)
        return x

    def condition(self, text):
        return F.leaky_relu(self.text(text), 0.2)


def dcgan_init(module):
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.normal_(m.bias, 0.0, 0.02)


def reduce_matrix(n):
    """Easel's pyramid::downsample along one axis: [ceil(n/2), n], binomial taps renormalised."""
    taps = [1.0, 4.0, 6.0, 4.0, 1.0]
    m = (n + 1) // 2
    a = torch.zeros(m, n)
    for i in range(m):
        for t, w in enumerate(taps):
            j = 2 * i + t - 2
            if 0 <= j < n:
                a[i, j] = w
        a[i] /= a[i].sum()
    return a


def bce_real(x):
    return F.softplus(-x).mean()


def bce_fake(x):
    return F.softplus(x).mean()


def colour_statistics(x):
    b, c, h, w = x.shape
    p = x.reshape(b, c, h * w)
    mean = p.mean(2, keepdim=True)
    centred = p - mean
    return mean.view(b, c), centred @ centred.transpose(1, 2) / (h * w)


def colour_consistency(fine, coarse):
    b = fine.shape[0]
    mf, cf = colour_statistics(fine)
    mc, cc = colour_statistics(coarse)
    return COLOUR_MEAN * (mf - mc).pow(2).sum() / b + COLOUR_COV * (cf - cc).pow(2).sum() / b


def count(module):
    return sum(p.numel() for p in module.parameters())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count())
    torch.manual_seed(0)
    b = args.batch
    sides = [IMAGE_SIZE >> (SCALES - 1 - i) for i in range(SCALES)]
    g = Generator()
    ds = nn.ModuleList(ScaleDiscriminator(s) for s in sides)
    dcgan_init(g)
    dcgan_init(ds)
    print(f"G parameters: {count(g)}", file=sys.stderr)
    for side, d in zip(sides, ds):
        print(f"D{side} parameters: {count(d)}", file=sys.stderr)
    print(f"D parameters (all scales): {count(ds)}", file=sys.stderr)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-5)
    opt_d = torch.optim.Adam(ds.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-5)

    n = b * 4
    data = torch.rand(n, CHANNELS, IMAGE_SIZE, IMAGE_SIZE)
    embeddings = F.normalize(torch.randn(n, TEXT_DIM), dim=1)
    reducers = {s: reduce_matrix(s) for s in sides[1:]}

    def real_scales(x):
        out = [x * 2 - 1]
        while len(out) < SCALES:
            r = reducers[out[-1].shape[2]]
            out.append(r @ out[-1] @ r.t())
        return out[::-1]

    def step(i):
        rows = torch.arange((i % 4) * b, (i % 4 + 1) * b)
        reals = real_scales(data[rows])
        text = embeddings[rows]
        counterparts = embeddings[(rows + torch.randint(1, n, (b,))) % n]
        z, eps = torch.randn(b, Z_DIM), torch.randn(b, COND_DIM)

        # Draw once: the Ds read the drawing detached, G's loss reads it through the updated Ds.
        images, mu, logvar = g(z, text, eps)
        loss_d = 0
        for d, real, fake in zip(ds, reals, images):
            h_real, h_fake = d.encode(real), d.encode(fake.detach())
            c = d.condition(text)
            counterpart = d.cond(h_real, d.condition(counterparts))
            next_row = d.cond(h_real[: b - 1], c[1:])
            wrong = torch.cat([next_row, counterpart], 0)
            loss_d = (loss_d
                      + bce_real(d.cond(h_real, c)) + bce_fake(wrong) + bce_fake(d.cond(h_fake, c))
                      + UNCOND_WEIGHT * (bce_real(d.uncond(h_real)) + bce_fake(d.uncond(h_fake))))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()

        loss_g = 0
        for k, (d, fake) in enumerate(zip(ds, images)):
            h = d.encode(fake)
            loss_g = loss_g + bce_real(d.cond(h, d.condition(text))) + UNCOND_WEIGHT * bce_real(d.uncond(h))
            if k > 0:
                loss_g = loss_g + colour_consistency(fake, images[k - 1])
        kl = (0.5 * (mu.pow(2) + logvar.exp() - logvar - 1)).mean()
        loss_g = loss_g + KL_WEIGHT * kl
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
