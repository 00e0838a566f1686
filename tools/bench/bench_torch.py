#!/usr/bin/env python3
"""PyTorch reference throughput for `cargo xtask bench`: Astromer 2 (6 blocks, d 256, 4 heads,
FFN 512 tanh, learned residual projections, post-LN, LN+Dense head), window 200, on the CPU with
the machine's threads. Prints one TOML record like the Rust bench:

    python3 tools/bench/bench_torch.py train|inference BATCH STEPS
"""
import math
import resource
import sys
import time

import torch
from torch import nn

D, H, FFN, BLOCKS, L = 256, 4, 512, 6, 200


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.merge = (nn.Linear(D, D) for _ in range(4))
        self.r1, self.r2 = nn.Linear(D, D), nn.Linear(D, D)
        self.ln1, self.ln2 = nn.LayerNorm(D, eps=1e-6), nn.LayerNorm(D, eps=1e-6)
        self.f1, self.f2 = nn.Linear(D, FFN), nn.Linear(FFN, D)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, key_bias):
        b, l, _ = x.shape
        split = lambda t: t.view(b, l, H, D // H).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        logits = q @ k.transpose(-1, -2) / math.sqrt(D // H) + key_bias
        a = (logits.softmax(-1) @ v).transpose(1, 2).reshape(b, l, D)
        h = self.ln1(self.r1(x) + self.drop(self.merge(a)))
        f = self.drop(self.f2(torch.tanh(self.f1(h))))
        return self.ln2(self.r2(h) + f)


class Astromer2(nn.Module):
    def __init__(self):
        super().__init__()
        self.mag = nn.Linear(1, D)
        self.token = nn.Parameter(torch.zeros(()))
        self.blocks = nn.ModuleList(Block() for _ in range(BLOCKS))
        self.head_ln, self.head = nn.LayerNorm(D, eps=1e-6), nn.Linear(D, 1)
        j = torch.arange(D, dtype=torch.float32)
        self.register_buffer("freq", 10000.0 ** (-2 * j / D))
        self.drop = nn.Dropout(0.1)

    def forward(self, t, m, hidden):
        angle = t[..., None] * self.freq
        pe = torch.where(torch.arange(D) % 2 == 0, torch.sin(angle), torch.cos(angle))
        m = torch.where(hidden, self.token, m)
        x = self.drop(self.mag(m[..., None]) + pe)
        key_bias = (hidden[:, None, None, :].float()) * -1e9
        for blk in self.blocks:
            x = blk(x, key_bias)
        return self.head(self.head_ln(x))[..., 0]


def main():
    mode, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.manual_seed(0)
    model = Astromer2()
    t = torch.cumsum(torch.rand(batch, L) * 5.5 + 0.5, 1)
    t = t - t.mean(1, keepdim=True)
    m = 0.3 * torch.sin(0.7 * t)
    hidden = torch.rand(batch, L) < 0.32
    scored = torch.rand(batch, L) < 0.5
    w = torch.rand(batch, L) + 0.001
    opt = torch.optim.Adam(model.parameters(), lr=1e-5, betas=(0.9, 0.98), eps=1e-9)

    def step():
        if mode == "train":
            model.train()
            pred = model(t, m, hidden)
            per = (scored * w * (pred - m) ** 2).sum(1) / scored.sum(1)
            loss = per.mean().sqrt()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        else:
            model.eval()
            with torch.inference_mode():
                model(t, m, torch.zeros_like(hidden))

    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    secs = (time.perf_counter() - start) / steps
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f'mode = "{mode}"\nbatch = {batch}\nwindows_per_s = {batch / secs}\nseconds_per_step = {secs}\npeak_rss_mib = {rss}')


if __name__ == "__main__":
    main()
