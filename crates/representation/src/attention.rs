//! Attention maps of one block, recomputed from the model's public weights.
//!
//! For block `k` the block input `x` is the input embedding (k = 0) or the output of block k − 1,
//! both taken from [`Astromer::encode`] (inference: no dropout, only padding hidden). Then, per
//! head h with head size hd = d / H:
//!
//! ```text
//! Q = x W_q + b_q,  K = x W_k + b_k           (B·L, d) → split (B, L, H, hd)
//! A_h = softmax_keys( Q_h K_hᵀ / sqrt(hd) + mask )
//! ```
//!
//! exactly as `MultiHeadAttention::forward`. With the A2 key mask ([`AttentionMaskMode::KeyHidden`])
//! a padded key gets −1e9 on its logit, i.e. weight exactly 0 in f32, so the n_valid × n_valid
//! block of A_h restricted to valid queries is the model's attention and its rows sum to 1.
//! Attention *from* padded queries is not reported. The released A1 "+1" mask
//! ([`AttentionMaskMode::A1QueryOrKeyPlusOne`]) lets valid queries attend to padding, so it is
//! reproduced only for windows without padding (`n_valid == len`); padded windows under A1 are an
//! error. Logits and softmax are evaluated in f64 from the f32 Q and K.

use astromer::dfdx::prelude::*;
use astromer::{AttentionMaskMode, Astromer, MaskedBatch};
use lightcurve::PaddedWindow;

use crate::error::RepresentationError;

/// Windows encoded per forward pass inside [`attention_maps`].
const CHUNK: usize = 64;

/// Attention weights of one window in one block: `weights[h][q][k]` for valid queries q and keys k
/// only (n_valid × n_valid per head), rows sum to 1.
#[derive(Debug, Clone)]
pub struct AttentionMaps {
    pub n_heads: usize,
    pub n_valid: usize,
    /// H · n · n values, index `(h·n + q)·n + k`.
    pub weights: Vec<f32>,
}

impl AttentionMaps {
    /// Map of head `h`, n × n row-major (row = query). Panics if `h >= n_heads`.
    pub fn head(&self, h: usize) -> &[f32] {
        assert!(h < self.n_heads, "head {h} out of range ({} heads)", self.n_heads);
        let nn = self.n_valid * self.n_valid;
        &self.weights[h * nn..(h + 1) * nn]
    }

    /// Weight of query `q` on key `k` in head `h`. Panics when out of range.
    pub fn get(&self, h: usize, q: usize, k: usize) -> f32 {
        assert!(q < self.n_valid && k < self.n_valid, "position out of range");
        self.head(h)[q * self.n_valid + k]
    }

    /// Mean of the heads' maps, n × n (rows still sum to 1).
    pub fn mean_over_heads(&self) -> Vec<f32> {
        let nn = self.n_valid * self.n_valid;
        let mut acc = vec![0.0f64; nn];
        for h in 0..self.n_heads {
            for (a, &w) in acc.iter_mut().zip(self.head(h)) {
                *a += w as f64;
            }
        }
        let inv = 1.0 / self.n_heads.max(1) as f64;
        acc.into_iter().map(|a| (a * inv) as f32).collect()
    }

    /// Attention each observation receives: mean over valid queries of the weight on key k;
    /// `head = None` = mean over heads. Sums to 1. Panics if `head` is out of range.
    pub fn received(&self, head: Option<usize>) -> Vec<f32> {
        let n = self.n_valid;
        let map: Vec<f32> = match head {
            Some(h) => self.head(h).to_vec(),
            None => self.mean_over_heads(),
        };
        let mut acc = vec![0.0f64; n];
        for row in map.chunks_exact(n.max(1)) {
            for (a, &w) in acc.iter_mut().zip(row) {
                *a += w as f64;
            }
        }
        let inv = 1.0 / n.max(1) as f64;
        acc.into_iter().map(|a| (a * inv) as f32).collect()
    }
}

/// Attention maps of block `block` (0-based) for each window, computed from the model's public
/// weights on the block's input (the input embedding for block 0, else the previous block's output
/// from `encode`), with the same scaling (1/sqrt(head size)) and key masking as the model.
///
/// Errors: out-of-range block, no windows, a window with `n_valid == 0` or inconsistent lengths,
/// windows of different lengths, and the A1 "+1" mask on a window with padding (not reproducible
/// as an n_valid × n_valid map).
pub fn attention_maps<D: Device<f32>>(
    model: &Astromer<D>,
    windows: &[PaddedWindow],
    block: usize,
) -> Result<Vec<AttentionMaps>, RepresentationError> {
    let n_blocks = model.blocks.len();
    if block >= n_blocks {
        return Err(RepresentationError::BlockOutOfRange { block, n_blocks });
    }
    let l = crate::check_windows(windows)?;
    let cfg = model.config();
    match cfg.attention_mask {
        AttentionMaskMode::KeyHidden => {}
        AttentionMaskMode::A1QueryOrKeyPlusOne => {
            if let Some(i) = windows.iter().position(|w| w.n_valid < l) {
                return Err(RepresentationError::UnsupportedMasking(format!(
                    "the A1 '+1' attention mask lets valid queries attend to padding; window {i} \
                     has {} of {l} valid positions (only unpadded windows are supported under A1)",
                    windows[i].n_valid
                )));
            }
        }
    }
    let attn = &model.blocks[block].attention;
    let d = cfg.d_model;
    let h = attn.n_heads;
    if h == 0 || d % h != 0 {
        return Err(RepresentationError::UnsupportedMasking(format!(
            "d_model {d} is not divisible by n_heads {h}"
        )));
    }
    let hd = d / h;
    let scale = 1.0 / (hd as f64).sqrt();

    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(CHUNK) {
        let batch = MaskedBatch::evaluation(chunk)?;
        let enc = model.encode(&batch)?;
        let x = if block == 0 {
            enc.embedding
        } else {
            enc.blocks
                .into_iter()
                .nth(block - 1)
                .expect("encode returns one output per block")
        };
        let b = chunk.len();
        let x = x.reshape_like(&(b * l, d));
        let q = attn.query.forward(x.clone()).as_vec();
        let k = attn.key.forward(x).as_vec();
        let mut logits = Vec::new();
        for (wi, w) in chunk.iter().enumerate() {
            let n = w.n_valid;
            let mut weights = vec![0.0f32; h * n * n];
            for hh in 0..h {
                for qi in 0..n {
                    let qrow = &q[(wi * l + qi) * d + hh * hd..][..hd];
                    logits.clear();
                    let mut max = f64::NEG_INFINITY;
                    for ki in 0..n {
                        let krow = &k[(wi * l + ki) * d + hh * hd..][..hd];
                        let s: f64 = qrow
                            .iter()
                            .zip(krow)
                            .map(|(&a, &b)| a as f64 * b as f64)
                            .sum::<f64>()
                            * scale;
                        max = max.max(s);
                        logits.push(s);
                    }
                    let mut sum = 0.0f64;
                    for s in logits.iter_mut() {
                        *s = (*s - max).exp();
                        sum += *s;
                    }
                    let dst = &mut weights[(hh * n + qi) * n..][..n];
                    for (o, s) in dst.iter_mut().zip(&logits) {
                        *o = (s / sum) as f32;
                    }
                }
            }
            out.push(AttentionMaps {
                n_heads: h,
                n_valid: n,
                weights,
            });
        }
    }
    Ok(out)
}
