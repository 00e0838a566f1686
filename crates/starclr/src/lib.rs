//! StarCLR (Ding, Chen et al., ApJ 2026; arXiv 2604.24516; issue 17): the contrastive alternative
//! to Astromer's masked reconstruction. Only its inference code is public; what the paper fixes
//! and what this crate chooses where it is silent is listed in docs/starclr.md.
//!
//! - [`preprocess`]: sigma clipping, magnitudes to flux, (f − p5) / (p95 − p5) scaling;
//! - [`views`]: the positive pairs, partially overlapping sub-sequences of one light curve, and
//!   their padded batches;
//! - [`model`]: one token per observation (Linear(1, H) of the flux + a continuous sinusoidal
//!   encoding of t − t_min), LayerNorm and dropout, a post-LN BERT encoder, the masked mean over
//!   valid tokens, and the projection head of the contrastive loss;
//! - [`nt_xent`]: NT-Xent over a batch of pairs (the multi-positive InfoNCE of `causal` with one
//!   positive per row);
//! - [`pretrain`]: the contrastive epoch loop (Adam, early stopping on fixed validation pairs,
//!   deterministic per seed) and [`embed`], the per-curve embeddings for downstream heads.
//!
//! [`StarClr`] implements `lightcurve::WindowEncoder`, the interface the probes read; it is saved
//! with [`StarClr::save`] (`starclr.toml` + `model.safetensors`) and pretraining resumes from its
//! epoch checkpoints (`astromer::resume`).

pub mod model;
pub mod preprocess;
pub mod pretrain;
pub mod views;

pub use model::{time_encoding, StarClr, StarClrConfig, CONFIG_FILE};
pub use preprocess::{preprocess, Preprocessed};
pub use pretrain::{embed, held_out_loss, pretrain, uniform_loss, EpochLoss, PretrainOutcome, PretrainSettings};
pub use views::{sample_pair, ViewBatch, ViewSettings};

use astromer::dfdx::prelude::*;
use astromer::layers::Tensor2;
use thiserror::Error;

/// Why a curve, a batch or a setting cannot be used.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StarClrError {
    #[error("object `{object}`: {problem}")]
    BadCurve { object: String, problem: String },
    #[error("settings: {0}")]
    Settings(String),
    #[error("contrastive loss: {0}")]
    Loss(String),
    #[error("checkpoint {0}")]
    Checkpoint(String),
}

/// NT-Xent (SimCLR) over `z` (2N, k): rows i and N + i are the two views of curve i and each
/// other's only positive, every other row a negative; vectors L2-normalised, temperature `tau`;
/// the mean over the 2N anchors.
pub fn nt_xent<D: Device<f32>, T: Tape<f32, D> + 'static>(z: Tensor2<D, T>, tau: f32) -> Result<Tensor<(), f32, D, T>, StarClrError> {
    let rows = z.shape().0;
    if rows < 2 || rows % 2 != 0 {
        return Err(StarClrError::Loss(format!("{rows} rows: NT-Xent needs the two views of each curve (an even number ≥ 2)")));
    }
    let n = rows / 2;
    let pairs: Vec<usize> = (0..n).chain(0..n).collect();
    causal::multi_positive_info_nce(z, &causal::Positives::same_group(&pairs), tau).map_err(|e| StarClrError::Loss(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use astromer::dfdx::tensor::Cpu;

    #[test]
    fn nt_xent_matches_the_simclr_formula() {
        // 3 curves, 2 views each, 4-d: the loss written out with cosine similarities in f64.
        let (n, d, tau) = (3usize, 4usize, 0.5f64);
        let z: Vec<f32> = (0..2 * n * d).map(|i| ((i as f32) * 0.37 + 0.2).sin()).collect();
        let unit: Vec<Vec<f64>> = (0..2 * n)
            .map(|r| {
                let v: Vec<f64> = z[r * d..(r + 1) * d].iter().map(|&x| x as f64).collect();
                let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                v.iter().map(|x| x / norm).collect()
            })
            .collect();
        let sim = |a: usize, b: usize| unit[a].iter().zip(&unit[b]).map(|(x, y)| x * y).sum::<f64>() / tau;
        let mut total = 0.0;
        for a in 0..2 * n {
            let partner = (a + n) % (2 * n);
            let denominator: f64 = (0..2 * n).filter(|&k| k != a).map(|k| sim(a, k).exp()).sum();
            total += -(sim(a, partner).exp() / denominator).ln();
        }
        let want = total / (2 * n) as f64;
        let dev = Cpu::default();
        let got = nt_xent(dev.tensor_from_vec(z, (2 * n, d)), tau as f32).unwrap().as_vec()[0] as f64;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        let odd: Tensor2<Cpu> = dev.zeros_like(&(3, d));
        assert!(nt_xent(odd, 0.5).is_err());
    }
}
