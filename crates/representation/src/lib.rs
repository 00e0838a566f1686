//! Probes of a trained Astromer encoder, for the paper's attention maps (Figs. 8–9), t-SNE
//! projections (Figs. 14–15) and silhouette scores (Fig. A.1).
//!
//! - [`attention`]: [`attention_maps`] recomputes the softmax attention of one block **per head,
//!   from the block's input** (block 0: the input embedding; block k: the output of block k − 1,
//!   both from [`astromer::Astromer::encode`], inference mode, only padding hidden) with the
//!   model's own Q/K weights, 1/sqrt(head size) scaling and key mask. Maps cover valid queries ×
//!   valid keys only (n_valid × n_valid per head); with the A2 key mask padded keys carry exactly
//!   zero weight, so every row sums to 1 and the maps are the model's. The released A1 "+1" mask
//!   is reproduced only for unpadded windows. [`AttentionMaps::received`] is the attention an
//!   observation *receives*: the mean over valid queries of its key column (mean over heads with
//!   `None`); it sums to 1 over the window.
//! - [`embeddings`]: [`block_embeddings`] returns one [`Matrix`] per representation, **index 0 =
//!   the input embedding, index k = the output of block k** (1-based; = `model.blocks[k − 1]`),
//!   rows = windows, reduced by [`Reduction`] (mean / max over valid steps, or the official
//!   notebook's concatenation of all L × d values with padded steps zeroed).
//! - [`silhouette`]: [`standardize_then_normalize`] (StandardScaler, then row L2 normalisation,
//!   the notebook's preprocessing) and [`silhouette_cosine`] (sklearn's `silhouette_score` with
//!   `metric="cosine"`).
//! - [`tsne`](mod@tsne): exact t-SNE to 2-D ([`tsne()`], [`TsneSettings`]), deterministic per seed.
//! - [`matrix`]: the row-major f32 [`Matrix`] the probes exchange; [`error`]: [`RepresentationError`].
//!
//! Nothing here panics on bad input: out-of-range blocks, empty or inconsistent windows, bad
//! labels, non-finite values and invalid settings are errors. (Index accessors such as
//! [`Matrix::row`] and [`AttentionMaps::head`] panic on out-of-range indices, like slices.)

pub mod attention;
pub mod embeddings;
pub mod error;
pub mod matrix;
pub mod silhouette;
pub mod tsne;

pub use attention::{attention_maps, AttentionMaps};
pub use embeddings::{block_embeddings, Reduction};
pub use error::RepresentationError;
pub use matrix::Matrix;
pub use silhouette::{silhouette_cosine, standardize_then_normalize};
pub use tsne::{tsne, TsneSettings};

use lightcurve::PaddedWindow;

/// Checks a set of windows for the probes: at least one, all of one length L, consistent field
/// lengths, 1 ≤ n_valid ≤ L. Returns L.
pub(crate) fn check_windows(windows: &[PaddedWindow]) -> Result<usize, RepresentationError> {
    let first = windows.first().ok_or(RepresentationError::NoWindows)?;
    let l = first.len();
    for (index, w) in windows.iter().enumerate() {
        if w.len() != l {
            return Err(RepresentationError::InvalidWindow {
                index,
                reason: format!("length {} differs from the first window's {l}", w.len()),
            });
        }
        if w.mag.len() != l || w.err.len() != l || w.loss_weight.len() != l {
            return Err(RepresentationError::InvalidWindow {
                index,
                reason: format!(
                    "field lengths time {} mag {} err {} loss_weight {} disagree",
                    w.time.len(),
                    w.mag.len(),
                    w.err.len(),
                    w.loss_weight.len()
                ),
            });
        }
        if w.n_valid > l {
            return Err(RepresentationError::InvalidWindow {
                index,
                reason: format!("n_valid {} exceeds the length {l}", w.n_valid),
            });
        }
        if w.n_valid == 0 {
            return Err(RepresentationError::EmptyWindow { index });
        }
    }
    Ok(l)
}
