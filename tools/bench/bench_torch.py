#!/usr/bin/env python3
"""PyTorch reference throughput for `cargo xtask bench`: Astromer 2 (4 heads, FFN tanh, learned
residual projections, post-LN, LN+Dense head), window 200, on the CPU with the machine's threads.
Encoder `a2` = 6 blocks, d 256, FFN 512 (the paper's); `small` = 3 blocks, d 128, FFN 256 (the
small profile's). Attention `manual` = matmul-softmax-matmul, like the Rust model; `sdpa` = PyTorch's
fused `scaled_dot_product_attention` with the same additive key mask. Prints one TOML record like
the Rust bench (windows/s: median, min and max over REPEATS timings of STEPS steps):

    python3 tools/bench/bench_torch.py train|inference BATCH STEPS [REPEATS [a2|small [manual|sdpa]]]
"""
import math
import resource
import sys
import time

import torch
from torch import nn

import torch.nn.functional as F

ENCODERS = {"a2": (256, 512, 6), "small": (128, 256, 3)}
H, L = 4, 200
D, FFN, BLOCKS = ENCODERS["a2"]
ATTENTION = "manual"


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
        if ATTENTION == "sdpa":
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=key_bias)
        else:
            logits = q @ k.transpose(-1, -2) / math.sqrt(D // H) + key_bias
            a = logits.softmax(-1) @ v
        a = a.transpose(1, 2).reshape(b, l, D)
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
    global D, FFN, BLOCKS, ATTENTION
    mode, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    D, FFN, BLOCKS = ENCODERS[sys.argv[5] if len(sys.argv) > 5 else "a2"]
    ATTENTION = sys.argv[6] if len(sys.argv) > 6 else "manual"
    assert ATTENTION in ("manual", "sdpa"), ATTENTION
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
    rates = []
    for _ in range(max(repeats, 1)):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(batch * steps / (time.perf_counter() - start))
    rates.sort()
    median = rates[len(rates) // 2]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        f'mode = "{mode}"\nbatch = {batch}\nwindows_per_s = {median}\nwindows_per_s_min = {rates[0]}\n'
        f'windows_per_s_max = {rates[-1]}\nseconds_per_step = {batch / median}\npeak_rss_mib = {rss}'
    )


if __name__ == "__main__":
    main()
