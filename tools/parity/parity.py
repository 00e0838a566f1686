#!/usr/bin/env python3
"""Independent PyTorch (CPU) reference of the Astromer 1 / Astromer 2 encoder, written from
`shared/reference/astromer2-spec.md` §3–§6 (not from the Rust code), and a parity check against
the outputs that `crates/astromer/examples/export_parity.rs` wrote.

    cargo run -p astromer --example export_parity -- /tmp/parity
    python3 tools/parity/parity.py /tmp/parity

For every case directory listed in DIR/cases.txt it
  1. reads config.toml and model.safetensors (Keras kernel layout (in, out)), and checks the
     parameter names/shapes against the architecture of the spec (and the §9 counts for the
     full-size presets);
  2. reads io.safetensors (inputs + Rust outputs) and checks the masking against spec §3;
  3. runs the reference forward pass in float64 (and, for information, in float32), and
  4. compares every Rust output (positional encoding, input embedding, each block, predictions,
     weighted/unweighted loss, single-layer probes) with the float64 reference, max |rust − ref|,
     three ways:
       e2e     whole chain from the inputs, PE computed in float64;
       rustpe  whole chain from the Rust PE (the PE's f32 argument rounding, ~|t|·2^-24, is an
               input error no f32 implementation avoids; the PE itself is checked against that
               bound);
       local   each stage from the Rust output of the stage before (no error accumulation);
  5. compares the gradients of the weighted loss (`Astromer::loss_and_gradients`) with float64
     autograd through the reference, per parameter (--grad-rtol, default 1e-3 of the scale);
  6. runs negative controls: the reference with one deliberate spec deviation at a time (paper
     PE base, √d scaling, ε, swapped R1/R2, transposed kernels, …); each must be detected.

Pass criterion (default): PE within the f32 argument-rounding bound; every other output has
rustpe and local max abs diff ≤ --tol · max(1, max|output|). --strict: --tol absolute, and the
e2e column too (the literal "every output within 1e-5 of float64"; see docs/parity.md for why
that fails for windows spanning hundreds of days).

Exit status: 0 pass, 1 some output beyond tolerance, 2 a structural check (names, shapes,
parameter counts, masking, undetected negative control) failed.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import tomllib
from pathlib import Path

import numpy as np
import torch

# Role codes written by export_parity.rs.
UNPROBED, SAME, RANDOM, MASKED, PADDING = 0, 1, 2, 3, 4

# Spec §9 parameter counts of the released presets.
SPEC_COUNTS = {
    # (n_blocks, d, ffn, residual, has_token): count
    (2, 256, 128, False, False): 661_505,
    (6, 256, 512, True, False): 3_953_409,
    (6, 256, 512, True, True): 3_953_410,
}


class CheckError(Exception):
    """A structural (non-numerical) check failed."""


# --------------------------------------------------------------------------------------------
# safetensors reading (the `safetensors` package if present, else a tiny parser of the format)
# --------------------------------------------------------------------------------------------

_ST_DTYPES = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}


def load_safetensors(path: Path) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file

        return dict(load_file(str(path)))
    except ImportError:
        pass
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dt = np.dtype(_ST_DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(data[a:b], dtype=dt).reshape(info["shape"]).copy()
    return out


# --------------------------------------------------------------------------------------------
# The architecture, from the spec
# --------------------------------------------------------------------------------------------


def expected_parameters(cfg: dict) -> dict[str, tuple[int, ...]]:
    """Names and shapes of every parameter (docs/model.md naming, Keras (in, out) kernels)."""
    d, f = cfg["d_model"], cfg["ffn_width"]
    p: dict[str, tuple[int, ...]] = {}

    def dense(name, i, o):
        p[f"{name}.weight"] = (i, o)
        p[f"{name}.bias"] = (o,)

    def norm(name):
        p[f"{name}.weight"] = (d,)
        p[f"{name}.bias"] = (d,)

    dense("embedding.magnitude", 1, d)  # spec §4.2: Dense(1→d) with bias
    if cfg["mask_token"] != "absent":
        p["embedding.mask_token"] = (1,)  # spec §4.3: one scalar
    for i in range(cfg["n_blocks"]):
        b = f"blocks.{i}"
        for w in ("query", "key", "value", "merge"):
            dense(f"{b}.attention.{w}", d, d)
        if cfg["residual_projections"]:
            dense(f"{b}.attention_residual", d, d)  # R1
            dense(f"{b}.ffn_residual", d, d)  # R2
        norm(f"{b}.attention_norm")
        dense(f"{b}.ffn.inner", d, f)
        dense(f"{b}.ffn.outer", f, d)
        norm(f"{b}.ffn_norm")
    norm("head.norm")
    dense("head.output", d, 1)
    return p


def check_config(cfg: dict) -> None:
    """Spec constants every case must have."""
    if cfg["d_model"] % cfg["n_heads"]:
        raise CheckError(f"d_model {cfg['d_model']} not divisible by n_heads {cfg['n_heads']}")
    if cfg["pe_base"] != 10000.0:
        raise CheckError(f"pe_base {cfg['pe_base']}: spec §4.1 says the code always uses 10000")
    if not math.isclose(cfg["layer_norm_eps"], 1e-6, rel_tol=1e-6):
        raise CheckError(f"layer_norm_eps {cfg['layer_norm_eps']}: spec §5 says 1e-6")
    if cfg["mask_token"] not in ("applied", "official-graph", "absent"):
        raise CheckError(f"unknown mask_token {cfg['mask_token']}")
    if cfg["attention_mask"] not in ("key-hidden", "a1-query-or-key-plus-one"):
        raise CheckError(f"unknown attention_mask {cfg['attention_mask']}")


def check_weights(cfg: dict, w: dict[str, np.ndarray]) -> int:
    exp = expected_parameters(cfg)
    missing = sorted(set(exp) - set(w))
    extra = sorted(set(w) - set(exp))
    if missing or extra:
        raise CheckError(f"parameter names differ: missing {missing}, unexpected {extra}")
    for name, shape in exp.items():
        if tuple(w[name].shape) != shape:
            raise CheckError(f"{name}: shape {w[name].shape}, expected {shape} (Keras (in, out))")
        if w[name].dtype != np.float32:
            raise CheckError(f"{name}: dtype {w[name].dtype}, expected float32")
    count = sum(int(np.prod(s)) for s in exp.values())
    key = (
        cfg["n_blocks"],
        cfg["d_model"],
        cfg["ffn_width"],
        cfg["residual_projections"],
        cfg["mask_token"] != "absent",
    )
    if key in SPEC_COUNTS and SPEC_COUNTS[key] != count:
        raise CheckError(f"parameter count {count} != spec §9 {SPEC_COUNTS[key]}")
    return count


def check_masking(io: dict[str, np.ndarray]) -> dict:
    """Spec §3 with the official fractions 0.5 / 0.2 / 0.2 (nested, floor then ceil)."""
    roles = io["input.roles"]
    x, y, t = io["input.input_mag"], io["input.target"], io["input.time"]
    summary = {"windows": [], "random_replaced": 0}
    eps = 1e-9
    for i in range(roles.shape[0]):
        r = roles[i]
        n = int((r != PADDING).sum())
        if not (r[:n] != PADDING).all() or not (r[n:] == PADDING).all():
            raise CheckError(f"window {i}: padding is not a suffix")
        probed = math.floor(0.5 * n + eps)
        same = math.ceil(0.2 * probed - eps)
        random = math.ceil(0.2 * (probed - same) - eps)
        masked = probed - same - random
        got = tuple(int((r == c).sum()) for c in (SAME, RANDOM, MASKED))
        if got != (same, random, masked):
            raise CheckError(f"window {i} (n={n}): same/random/masked {got}, spec §3 gives "
                             f"{(same, random, masked)}")
        keep = (r != RANDOM) & (r != PADDING)
        if not np.array_equal(x[i][keep], y[i][keep]):
            raise CheckError(f"window {i}: non-random real positions must feed their true value")
        if (x[i][n:] != 0).any() or (y[i][n:] != 0).any() or (t[i][n:] != 0).any():
            raise CheckError(f"window {i}: padding must hold zeros")
        own = set(y[i][:n].tolist())
        for v in x[i][r == RANDOM]:
            if float(v) not in own:
                raise CheckError(f"window {i}: random replacement {v} is not one of the window's "
                                 "own magnitudes")
        summary["random_replaced"] += int((x[i][r == RANDOM] != y[i][r == RANDOM]).sum())
        summary["windows"].append({"n": n, "same": got[0], "random": got[1], "masked": got[2]})
    return summary


class Reference:
    """Astromer forward pass (inference: dropout is the identity), spec §4–§6."""

    def __init__(self, cfg: dict, weights: dict[str, np.ndarray], dtype: torch.dtype,
                 deviation: str | None = None):
        """`deviation`: one of DEVIATIONS, a deliberate departure from the spec (negative
        control: the comparison must detect it)."""
        self.cfg = dict(cfg)
        self.dtype = dtype
        self.dev = deviation
        self.w = {k: torch.from_numpy(v.astype(np.float64)).to(dtype) for k, v in weights.items()}
        if deviation == "kernels_transposed":
            self.w = {k: (v.T.contiguous() if v.ndim == 2 and v.shape[0] == v.shape[1] else v)
                      for k, v in self.w.items()}
        if deviation == "no_magnitude_bias":
            self.w["embedding.magnitude.bias"] = torch.zeros_like(self.w["embedding.magnitude.bias"])
        if deviation == "token_flipped":
            self.cfg["mask_token"] = {"applied": "official-graph",
                                      "official-graph": "applied"}[cfg["mask_token"]]
        if deviation == "r1_r2_swapped" and cfg["residual_projections"]:
            for i in range(cfg["n_blocks"]):
                for t in ("weight", "bias"):
                    a, b = f"blocks.{i}.attention_residual.{t}", f"blocks.{i}.ffn_residual.{t}"
                    self.w[a], self.w[b] = self.w[b], self.w[a]
        self.d = cfg["d_model"]
        self.h = cfg["n_heads"]
        # spec §5 / §6.1 (Keras LayerNormalization(epsilon=1e-6))
        self.eps = {"ln_eps_1e-5": 1e-5, "ln_eps_1e-3": 1e-3}.get(deviation, 1e-6)

    # -- building blocks --
    def dense(self, x, name):
        # Keras Dense: y = x · kernel + bias, kernel (in, out)
        return x @ self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def layer_norm(self, x, name):
        mu = x.mean(dim=-1, keepdim=True)
        var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)  # population variance
        if self.dev == "ln_sample_variance":
            var = var * x.shape[-1] / (x.shape[-1] - 1)
        return (x - mu) / torch.sqrt(var + self.eps) * self.w[f"{name}.weight"] + self.w[f"{name}.bias"]

    def rates(self):
        """ω_j = base^(−2j/d), j = 0…d−1, base 10000 (spec §4.1: the configured base is ignored
        by the official code)."""
        d, base = self.d, (1000.0 if self.dev == "pe_base_1000" else 10000.0)
        if self.dtype == torch.float64:
            j = torch.arange(d, dtype=torch.float64)
            if self.dev == "pe_shared_pairs":  # the usual transformer PE: ω_{2⌊j/2⌋}
                j = 2 * torch.div(j, 2, rounding_mode="floor")
            return base ** (-(2.0 * j) / d)
        # float32, as the official graph computes it: 1 / base^(c·j/d)
        j = torch.arange(d, dtype=torch.float32)
        return torch.reciprocal(torch.pow(torch.tensor(base, dtype=torch.float32), 2.0 * j / d))

    def positional_encoding(self, t):
        """Spec §4.1: angle_j = t · ω_j; sin for even j, cos for odd j (interleaved: every
        dimension has its own frequency)."""
        d = self.d
        angle = t.unsqueeze(-1) * self.rates()
        even = (torch.arange(d) % 2 == (1 if self.dev == "pe_sin_cos_swapped" else 0))
        return torch.where(even, torch.sin(angle), torch.cos(angle))

    def attention(self, x, hidden, prefix):
        """Spec §5 steps 1–2 and the masks of spec §3."""
        B, L, d = x.shape
        H, hd = self.h, d // self.h

        def heads(z):  # (B, L, d) → (B, H, L, hd)
            return z.reshape(B, L, H, hd).permute(0, 2, 1, 3)

        q = heads(self.dense(x, f"{prefix}.query"))
        k = heads(self.dense(x, f"{prefix}.key"))
        v = heads(self.dense(x, f"{prefix}.value"))
        scale = math.sqrt(d if self.dev == "scale_sqrt_d_model" else hd)
        logits = torch.matmul(q, k.transpose(-1, -2)) / scale  # per-head √head_dim
        hid = hidden.to(self.dtype)
        if self.dev == "mask_on_query":  # 'Q': a per-row constant (spec §3: a no-op)
            logits = logits + (-1e9) * hid[:, None, :, None]
        elif self.dev == "a1_real_key_mask":  # −1e9 on hidden keys instead of A1's +1
            logits = logits + (-1e9) * hid[:, None, None, :]
        elif self.cfg["attention_mask"] == "key-hidden":
            # A2 'K': m_alpha = −1e9 on every hidden key column, every query row and head.
            logits = logits + (-1e9) * hid[:, None, None, :]
        else:
            # Released A1 'QK' with m_alpha = +1: +1 wherever the query or the key is hidden.
            qk = torch.clamp(hid[:, :, None] + hid[:, None, :], max=1.0)
            logits = logits + 1.0 * qk[:, None, :, :]
        att = torch.softmax(logits, dim=-1)
        o = torch.matmul(att, v).permute(0, 2, 1, 3).reshape(B, L, d)  # concat heads
        return self.dense(o, f"{prefix}.merge")

    def block(self, x, hidden, i):
        p = f"blocks.{i}"
        a = self.attention(x, hidden, f"{p}.attention")
        if self.cfg["residual_projections"]:
            h = self.layer_norm(self.dense(x, f"{p}.attention_residual") + a, f"{p}.attention_norm")
        else:  # A1: no residual at all
            h = self.layer_norm(a, f"{p}.attention_norm")
        f = self.dense(torch.tanh(self.dense(h, f"{p}.ffn.inner")), f"{p}.ffn.outer")
        if self.cfg["residual_projections"]:
            return self.layer_norm(self.dense(h, f"{p}.ffn_residual") + f, f"{p}.ffn_norm")
        return self.layer_norm(f, f"{p}.ffn_norm")

    def hidden(self, roles):
        r = torch.from_numpy(roles.astype(np.int64))
        return (r == MASKED) | (r == PADDING)  # mask_in = 1: masked and padding

    def embed(self, mag, hidden, pe):
        """Spec §4.2–4.3: Dense(1→d)(m') + PE, m' = token at hidden positions if applied."""
        m = self.t(mag)
        if self.cfg["mask_token"] == "applied":
            # The token replaces the magnitude at every hidden position before the projection.
            # ('official-graph': the token exists but is not in the graph; 'absent': A1.)
            m = torch.where(hidden, self.w["embedding.mask_token"][0], m)
        return self.dense(m.unsqueeze(-1), "embedding.magnitude") + pe

    def head(self, z):
        """Spec §6.1: LayerNorm then Dense(d→1) at every time step."""
        return self.dense(self.layer_norm(z, "head.norm"), "head.output").squeeze(-1)

    def t(self, a):
        return torch.from_numpy(np.asarray(a).astype(np.float64)).to(self.dtype)

    def forward(self, time, mag, roles, pe=None):
        """Whole chain. `pe`: use this positional encoding instead of computing it."""
        hidden = self.hidden(roles)
        pe = self.positional_encoding(self.t(time)) if pe is None else self.t(pe)
        x = self.embed(mag, hidden, pe)
        out = {"positional_encoding": pe, "embedding": x}
        for i in range(self.cfg["n_blocks"]):
            x = self.block(x, hidden, i)
            out[f"block.{i}"] = x
        out["prediction"] = self.head(x)
        return out

    def local(self, io):
        """Every stage recomputed from the Rust output of the stage before it (no error
        accumulation): embedding from the Rust PE, block i from Rust block i−1 (or the Rust
        embedding), predictions from the last Rust block."""
        hidden = self.hidden(io["input.roles"])
        out = {"embedding": self.embed(io["input.input_mag"], hidden,
                                       self.t(io["output.positional_encoding"]))}
        prev = io["output.embedding"]
        for i in range(self.cfg["n_blocks"]):
            out[f"block.{i}"] = self.block(self.t(prev), hidden, i)
            prev = io[f"output.block.{i}"]
        out["prediction"] = self.head(self.t(prev))
        return out


def rmse_loss(pred, target, roles, weight=None, divide_by_weight_sum=False):
    """Spec §6.2: sqrt( mean_i Σ_l m·w·(y−ŷ)² / Σ_l m ), m = 1 on probed positions."""
    r = torch.from_numpy(roles.astype(np.int64))
    m = ((r == SAME) | (r == RANDOM) | (r == MASKED)).to(pred.dtype)
    y = torch.from_numpy(target.astype(np.float64)).to(pred.dtype)
    res = (y - pred) ** 2 * m
    if weight is not None:
        res = res * torch.from_numpy(weight.astype(np.float64)).to(pred.dtype)
    count = m.sum(dim=1)
    if weight is not None and divide_by_weight_sum:
        count = (m * torch.from_numpy(weight.astype(np.float64)).to(pred.dtype)).sum(dim=1)
    per_window = res.sum(dim=1) / count
    return torch.sqrt(per_window.mean())


def with_losses(res: dict, pred, io) -> dict:
    w = rmse_loss(pred, io["input.target"], io["input.roles"], io["input.loss_weight"])
    u = rmse_loss(pred, io["input.target"], io["input.roles"])
    res = {k: v.double().numpy() for k, v in res.items()}
    for k, v in (("loss_weighted", w), ("loss_unweighted", u), ("host_rmse_weighted", w),
                 ("host_rmse_unweighted", u)):
        res[k] = np.array([v.item()])
    return res


def reference_outputs(cfg, weights, io):
    """Returns four dicts of reference outputs:
    e2e    — float64, whole chain from the inputs (PE computed in float64);
    rustpe — float64, whole chain but starting from the Rust positional encoding;
    local  — float64, each stage from the Rust output of the previous stage (losses from the
             Rust predictions);
    f32    — the same reference run in float32 (what an f32 implementation can be expected to
             reach: the floor of the comparison)."""
    ref = Reference(cfg, weights, torch.float64)
    ref32 = Reference(cfg, weights, torch.float32)
    args = (io["input.time"], io["input.input_mag"], io["input.roles"])
    with torch.no_grad():
        e2e = ref.forward(*args)
        rustpe = ref.forward(*args, pe=io["output.positional_encoding"])
        local = ref.local(io)
        f32 = ref32.forward(*args)
        out = {
            "e2e": with_losses(e2e, e2e["prediction"], io),
            "rustpe": with_losses(rustpe, rustpe["prediction"], io),
            "local": with_losses(local, ref.t(io["output.prediction"]), io),
            "f32": with_losses(f32, f32["prediction"], io),
        }
        # The PE is an input of the chain: its local reference is the float64 PE itself.
        out["local"]["positional_encoding"] = out["e2e"]["positional_encoding"]
        # f32 argument-rounding allowance of the PE (see pe_bound).
        out["angle"] = (ref.t(io["input.time"]).unsqueeze(-1) * ref.rates()).numpy()
    return out


def pe_bound(angle: np.ndarray, tol: float) -> np.ndarray:
    """Per-element allowance for a float32 PE: sin/cos of an argument t·ω_j that f32 arithmetic
    can only represent to a relative 2^-24 (the product, the rounded frequency and, for an
    implementation using cos x = sin(x + π/2), the phase addition each add up to ~1 unit of
    2^-24·|x|). A wrong frequency, parity or base is off by O(1), far beyond this."""
    return tol + 4.0 * 2.0 ** -24 * (np.abs(angle) + math.pi / 2)


PE_DEVIATIONS = ["pe_base_1000", "pe_shared_pairs", "pe_sin_cos_swapped"]
DEVIATIONS = PE_DEVIATIONS + [
    "scale_sqrt_d_model", "ln_eps_1e-3", "ln_eps_1e-5", "ln_sample_variance",
    "kernels_transposed",
    "no_magnitude_bias", "token_flipped", "r1_r2_swapped", "mask_on_query", "a1_real_key_mask",
    "loss_divide_by_weight_sum"]


# Deviations below the f32 resolution of the comparison: reported, not required to be detected.
INFORMATIONAL = {"ln_eps_1e-5"}


def out_tol(tol: float, values: np.ndarray, strict: bool) -> float:
    """Tolerance of one output: `tol` relative to the output's scale, tol·max(1, max|x|)
    (f32 rounding grows with the magnitude of the values; LayerNorm outputs reach ~4–5).
    With --strict: `tol` absolute."""
    return tol if strict else tol * max(1.0, float(np.max(np.abs(values))))


def negative_controls(cfg, weights, io, tol, strict) -> list[dict]:
    """Runs the float64 reference with one deliberate spec deviation at a time and measures how
    far the Rust outputs are from it. Every applicable deviation must be detected (some output
    beyond the tolerance), otherwise the comparison could not tell it from the spec."""
    rows = []
    args = (io["input.time"], io["input.input_mag"], io["input.roles"])
    for dev in DEVIATIONS:
        if dev == "token_flipped" and cfg["mask_token"] == "absent":
            continue
        if dev == "r1_r2_swapped" and not cfg["residual_projections"]:
            continue
        if dev == "mask_on_query" and cfg["attention_mask"] != "key-hidden":
            continue
        if dev == "a1_real_key_mask" and cfg["attention_mask"] == "key-hidden":
            continue
        ref = Reference(cfg, weights, torch.float64, deviation=dev)
        with torch.no_grad():
            if dev in PE_DEVIATIONS:
                pe = ref.positional_encoding(ref.t(io["input.time"])).numpy()
                angle = (ref.t(io["input.time"]).unsqueeze(-1)
                         * Reference(cfg, weights, torch.float64).rates()).numpy()
                diff = np.abs(io["output.positional_encoding"] - pe)
                rows.append({"deviation": dev, "max_abs_diff": float(diff.max()),
                             "where": "positional_encoding",
                             "detected": bool((diff > pe_bound(angle, tol)).any())})
                continue
            if dev == "loss_divide_by_weight_sum":
                pred = ref.t(io["output.prediction"])
                v = rmse_loss(pred, io["input.target"], io["input.roles"],
                              io["input.loss_weight"], divide_by_weight_sum=True).item()
                diff = abs(v - float(io["output.loss_weighted"][0]))
                rows.append({"deviation": dev, "max_abs_diff": diff, "where": "loss_weighted",
                             "detected": diff > out_tol(tol, io["output.loss_weighted"], strict)})
                continue
            out = ref.forward(*args, pe=io["output.positional_encoding"])
        best, where, ratio = 0.0, "", 0.0
        for k, v in out.items():
            if k == "positional_encoding":
                continue
            rust = io[f"output.{k}"]
            dk = maxdiff(rust, v.numpy().reshape(rust.shape))
            rk = dk / out_tol(tol, rust, strict)
            if rk > ratio:
                best, where, ratio = dk, k, rk
        rows.append({"deviation": dev, "max_abs_diff": best, "where": where,
                     "detected": ratio > 1.0})
    return rows


def gradient_check(cfg, weights, io) -> list[dict] | None:
    """Gradients of the weighted loss (spec §6.2, no dropout) by float64 autograd through the
    reference, against `Astromer::loss_and_gradients`. Per parameter: max |g_rust − g_ref| and
    that divided by the tensor's gradient scale (see below)."""
    if "output.grad_loss_weighted" not in io:
        return None
    ref = Reference(cfg, weights, torch.float64)
    for v in ref.w.values():
        v.requires_grad_(True)
    out = ref.forward(io["input.time"], io["input.input_mag"], io["input.roles"])
    loss = rmse_loss(out["prediction"], io["input.target"], io["input.roles"],
                     io["input.loss_weight"])
    loss.backward()
    rows = [{"parameter": "(loss)", "max_abs_diff":
             abs(loss.item() - float(io["output.grad_loss_weighted"][0])), "max_abs_ref":
             abs(loss.item())}]
    for name in weights:
        g = ref.w[name].grad
        g = np.zeros(weights[name].shape) if g is None else g.numpy()
        rust = io[f"grad.{name}"]
        rows.append({"parameter": name, "max_abs_diff": maxdiff(rust, g),
                     "max_abs_ref": float(np.max(np.abs(g)))})
    # f32 gradients carry an absolute noise that scales with the overall gradient size, so each
    # tensor's error is measured against max(max|g_ref| of the tensor, 1e-3 · the largest
    # |g_ref| of the model). That matters for gradients that are exactly 0 in exact arithmetic:
    # the key biases (q·b_k is a per-row constant of the logits, which softmax ignores) and the
    # unused official-graph token.
    big = max(r["max_abs_ref"] for r in rows[1:])
    for r in rows:
        r["scale"] = max(r["max_abs_ref"], 1e-3 * big)
        r["rel"] = r["max_abs_diff"] / r["scale"]
    return rows


def maxdiff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64))))


def compare_case(case_dir: Path, tol: float, strict: bool) -> tuple[list[dict], dict]:
    cfg = tomllib.loads((case_dir / "config.toml").read_text())
    check_config(cfg)
    weights = load_safetensors(case_dir / "model.safetensors")
    count = check_weights(cfg, weights)
    io = load_safetensors(case_dir / "io.safetensors")
    masking = check_masking(io)
    names = ["positional_encoding", "embedding"] + [
        f"block.{i}" for i in range(cfg["n_blocks"])] + [
        "prediction", "loss_weighted", "loss_unweighted", "host_rmse_weighted",
        "host_rmse_unweighted"]
    for n in names:
        if f"output.{n}" not in io:
            raise CheckError(f"{case_dir.name}: io.safetensors lacks output.{n}")
    ref = reference_outputs(cfg, weights, io)
    rows = []
    for n in names:
        rust = io[f"output.{n}"].astype(np.float64)
        get = lambda k: ref[k][n].reshape(rust.shape)
        row = {
            "output": n,
            "e2e": maxdiff(rust, get("e2e")),
            "rustpe": maxdiff(rust, get("rustpe")),
            "local": maxdiff(rust, get("local")),
            "f32_floor": maxdiff(get("f32"), get("e2e")),
            "max_abs_ref": float(np.max(np.abs(get("e2e")))),
        }
        if n == "positional_encoding":
            bound = pe_bound(ref["angle"], tol)
            ratio = float(np.max(np.abs(rust - get("e2e")) / bound))
            row["pe_bound_ratio"] = ratio
            row["ok"] = ratio <= 1.0 and (row["e2e"] <= tol or not strict)
        else:
            t = out_tol(tol, rust, strict)
            row["tol"] = t
            row["ok"] = row["rustpe"] <= t and row["local"] <= t and (
                row["e2e"] <= t or not strict)
        rows.append(row)
    # Single-layer probes, all on the Rust input embedding (optional in io.safetensors).
    probes = {
        "probe.query0": lambda r, x: r.dense(x, "blocks.0.attention.query"),
        "probe.attention_norm0": lambda r, x: r.layer_norm(x, "blocks.0.attention_norm"),
        "probe.ffn0": lambda r, x: r.dense(torch.tanh(r.dense(x, "blocks.0.ffn.inner")),
                                            "blocks.0.ffn.outer"),
        "probe.head": lambda r, x: r.dense(r.layer_norm(x, "head.norm"), "head.output"),
    }
    r64 = Reference(cfg, weights, torch.float64)
    r32 = Reference(cfg, weights, torch.float32)
    emb = io["output.embedding"].reshape(-1, cfg["d_model"])
    for name, fn in probes.items():
        if name not in io:
            continue
        with torch.no_grad():
            e64 = fn(r64, r64.t(emb)).numpy()
            e32 = fn(r32, r32.t(emb)).double().numpy()
        diff = maxdiff(io[name], e64)
        rows.append({"output": name, "e2e": diff, "rustpe": diff, "local": diff,
                     "f32_floor": maxdiff(e32, e64), "max_abs_ref": float(np.max(np.abs(e64))),
                     "tol": out_tol(tol, io[name], strict),
                     "ok": diff <= out_tol(tol, io[name], strict)})
    controls = negative_controls(cfg, weights, io, tol, strict)
    grads = gradient_check(cfg, weights, io)
    info = {"config": cfg, "parameters": count, "masking": masking, "controls": controls,
            "gradients": grads,
            "shape": list(io["input.roles"].shape),
            "max_abs_time": float(np.max(np.abs(io["input.time"])))}
    return rows, info


def markdown(results: dict) -> str:
    lines = []
    for case, res in results.items():
        cfg = res["config"]
        lines += [f"#### `{case}`: {cfg['n_blocks']} blocks, d {cfg['d_model']}, ffn "
                  f"{cfg['ffn_width']}, token `{cfg['mask_token']}`, mask `{cfg['attention_mask']}`"
                  f", {res['parameters']:,} parameters, B×L {res['shape'][0]}×{res['shape'][1]}, "
                  f"max \\|t\\| {res['max_abs_time']:.0f} d", "",
                  "| output | e2e f64 | from Rust PE | local | torch f32 vs f64 | max \\|ref\\| | "
                  "allowed |", "|---|---|---|---|---|---|---|"]
        for r in res["rows"]:
            allowed = (f"{r['pe_bound_ratio']:.2f} of bound" if "pe_bound_ratio" in r
                       else f"{r['tol']:.1e}")
            lines.append(f"| {r['output']} | {r['e2e']:.2e} | {r['rustpe']:.2e} | "
                         f"{r['local']:.2e} | {r['f32_floor']:.2e} | {r['max_abs_ref']:.3g} | "
                         f"{allowed} |")
        g = res.get("gradients")
        if g:
            w = max(g, key=lambda r: r["rel"])
            nz = max((r for r in g if r["max_abs_ref"] >= 1e-12), key=lambda r: r["rel"])
            lines += ["", f"Gradients ({len(g) - 1} parameters): worst max\\|Δg\\|/scale "
                      f"{w['rel']:.1e} (`{w['parameter']}`); worst among non-zero gradients "
                      f"{nz['rel']:.1e} (`{nz['parameter']}`)."]
        c = res["controls"]
        lines += ["", "Negative controls (max \\|rust − deviant\\|): " + ", ".join(
            f"{x['deviation']} {x['max_abs_diff']:.1e}" + ("" if x["detected"] else " (not "
            "detected)") for x in c) + ".", ""]
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", type=Path, help="output directory of export_parity")
    ap.add_argument("--tol", type=float, default=1e-5,
                    help="max abs diff, relative to max(1, max|output|) (default 1e-5)")
    ap.add_argument("--strict", action="store_true",
                    help="--tol absolute, and required of the float64 end-to-end chain (PE "
                         "computed in float64) too; fails through the f32 argument rounding of "
                         "the PE when |t| is hundreds of days (docs/parity.md)")
    ap.add_argument("--grad-rtol", type=float, default=1e-3,
                    help="max |g_rust − g_ref| / max(max|g_ref|, 1e-3·max over all "
                         "parameters) per parameter (default 1e-3)")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--markdown", type=Path, help="also write the per-case tables as Markdown")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))

    cases = (args.dir / "cases.txt").read_text().split()
    worst = {"e2e": 0.0, "rustpe": 0.0, "local": 0.0, "ratio": 0.0}
    results, failed = {}, []
    try:
        for case in cases:
            rows, info = compare_case(args.dir / case, args.tol, args.strict)
            cfg = info["config"]
            results[case] = {"rows": rows, **info}
            print(f"\n== {case}: {cfg['n_blocks']} blocks, d {cfg['d_model']}, heads "
                  f"{cfg['n_heads']}, ffn {cfg['ffn_width']}, residual "
                  f"{cfg['residual_projections']}, token {cfg['mask_token']}, mask "
                  f"{cfg['attention_mask']}; {info['parameters']} parameters; B×L "
                  f"{info['shape'][0]}×{info['shape'][1]}; max |t| {info['max_abs_time']:.1f} d")
            m = info["masking"]["windows"]
            print("   masking (n: same/random/masked): "
                  + ", ".join(f"{w['n']}: {w['same']}/{w['random']}/{w['masked']}" for w in m)
                  + f"; {info['masking']['random_replaced']} random positions changed value")
            print(f"   {'output':<22}{'e2e f64':>11}{'from Rust PE':>14}{'local':>11}"
                  f"{'torch f32':>11}{'max|ref|':>10}{'tol':>10}")
            for r in rows:
                flag = "" if r["ok"] else "  FAIL"
                extra = (f"  (PE: {r['pe_bound_ratio']:.2f} of the f32 argument-rounding bound)"
                         if "pe_bound_ratio" in r else "")
                tol_s = f"{r['tol']:>10.1e}" if "tol" in r else f"{'bound':>10}"
                print(f"   {r['output']:<22}{r['e2e']:>11.2e}{r['rustpe']:>14.2e}"
                      f"{r['local']:>11.2e}{r['f32_floor']:>11.2e}{r['max_abs_ref']:>10.4g}"
                      f"{tol_s}{flag}{extra}")
                for k in ("e2e", "rustpe", "local"):
                    if not (k != "e2e" and r["output"] == "positional_encoding"):
                        worst[k] = max(worst[k], r[k])
                worst["ratio"] = max(worst["ratio"], r.get("pe_bound_ratio", 0.0),
                                     max(r["rustpe"], r["local"]) / r.get("tol", math.inf))
                if not r["ok"]:
                    failed.append(f"{case}/{r['output']}")
            if info["gradients"] is not None:
                g = info["gradients"]
                worst_g = sorted(g, key=lambda r: -r["rel"])[:3]
                zero = [r["parameter"] for r in g if r["max_abs_ref"] < 1e-12]
                zmax = max((r["max_abs_diff"] for r in g if r["max_abs_ref"] < 1e-12),
                           default=0.0)
                print(f"   gradients of the weighted loss ({len(g) - 1} parameters, float64 "
                      f"autograd): worst max|Δg|/scale: "
                      + ", ".join(f"{r['parameter']} {r['rel']:.1e}" for r in worst_g)
                      + (f"; {len(zero)} gradient(s) exactly 0 in exact arithmetic "
                         f"({', '.join(sorted(set(z.split('.', 2)[-1] for z in zero)))}): "
                         f"Rust max |g| {zmax:.1e}" if zero else ""))
                worst["grad_rel"] = max(worst.get("grad_rel", 0.0), worst_g[0]["rel"])
                bad = [r["parameter"] for r in g if r["rel"] > args.grad_rtol]
                if bad:
                    failed.extend(f"{case}/grad.{b}" for b in bad)
            undetected = [c["deviation"] for c in info["controls"]
                          if not c["detected"] and c["deviation"] not in INFORMATIONAL]
            print("   negative controls (reference with one spec deviation; max |rust − deviant|): "
                  + ", ".join(f"{c['deviation']} {c['max_abs_diff']:.1e}"
                              + ("" if c["detected"] else
                                 " (not detected: below the f32 resolution, informational)"
                                 if c["deviation"] in INFORMATIONAL else " (NOT DETECTED)")
                              for c in info["controls"]))
            if undetected:
                raise CheckError(f"{case}: negative controls not detected: {undetected}")
    except CheckError as e:
        print(f"\nSTRUCTURAL CHECK FAILED: {e}", file=sys.stderr)
        return 2
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    if args.markdown:
        args.markdown.write_text(markdown(results))
    print(f"\nworst max abs diff: end-to-end f64 {worst['e2e']:.2e}, from the Rust PE "
          f"{worst['rustpe']:.2e}, local {worst['local']:.2e}; worst fraction of the allowed "
          f"deviation {worst['ratio']:.2f} (tolerance {args.tol:g}"
          f"{' absolute, strict' if args.strict else ' × max(1, max|output|)'})")
    if "grad_rel" in worst:
        print(f"worst gradient max|Δg|/scale over all parameters: {worst['grad_rel']:.2e} "
              f"(tolerance {args.grad_rtol:g})")
    if failed:
        print(f"FAIL: {len(failed)} output(s) above tolerance: {', '.join(failed)}")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
