//! Per-block window embeddings: the input embedding and every block output, reduced per window.

use lightcurve::{PaddedWindow, WindowEncoder};
use serde::{Deserialize, Serialize};

use crate::error::RepresentationError;
use crate::matrix::Matrix;

/// How a window's (L, d) representation becomes one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reduction {
    /// Mean over the valid steps → d columns.
    Mean,
    /// Element-wise maximum over the valid steps → d columns.
    Max,
    /// The whole L × d output flattened row-major (step-major), padded steps set to 0 → L·d
    /// columns, as the official notebook did.
    Concat,
}

impl Reduction {
    /// Every reduction, in declaration order.
    pub const ALL: [Reduction; 3] = [Reduction::Mean, Reduction::Max, Reduction::Concat];

    /// `"mean"`, `"max"` or `"concat"` (same as the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Reduction::Mean => "mean",
            Reduction::Max => "max",
            Reduction::Concat => "concat",
        }
    }

    /// Number of columns for window length `l` and width `d`.
    pub fn cols(self, l: usize, d: usize) -> usize {
        match self {
            Reduction::Mean | Reduction::Max => d,
            Reduction::Concat => l * d,
        }
    }
}

impl std::fmt::Display for Reduction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Reduces one window's (L, d) representation `x` (row-major) with `n` valid steps into `dst`.
fn reduce_into(x: &[f32], n: usize, d: usize, reduction: Reduction, dst: &mut [f32]) {
    match reduction {
        Reduction::Mean => {
            let mut acc = vec![0.0f64; d];
            for step in x.chunks_exact(d).take(n) {
                for (a, &v) in acc.iter_mut().zip(step) {
                    *a += v as f64;
                }
            }
            for (o, a) in dst.iter_mut().zip(acc) {
                *o = (a / n as f64) as f32;
            }
        }
        Reduction::Max => {
            dst.copy_from_slice(&x[..d]);
            for step in x.chunks_exact(d).take(n).skip(1) {
                for (o, &v) in dst.iter_mut().zip(step) {
                    if v > *o {
                        *o = v;
                    }
                }
            }
        }
        Reduction::Concat => {
            dst[..n * d].copy_from_slice(&x[..n * d]);
            dst[n * d..].fill(0.0);
        }
    }
}

/// One matrix per representation: index 0 = input embedding, k = block k (1-based block number,
/// i.e. the output of `model.blocks[k − 1]`); rows = windows, in order. Any [`WindowEncoder`]
/// (Astromer: inference mode, only padding hidden) encodes the windows `batch_size` at a time.
///
/// Errors: `batch_size == 0`, no windows, a window with `n_valid == 0`, inconsistent or differing
/// window lengths, and encoder errors (including outputs that do not match its declared sizes).
pub fn block_embeddings<E: WindowEncoder + ?Sized>(
    encoder: &E,
    windows: &[PaddedWindow],
    reduction: Reduction,
    batch_size: usize,
) -> Result<Vec<Matrix>, RepresentationError> {
    if batch_size == 0 {
        return Err(RepresentationError::ZeroBatchSize);
    }
    let l = crate::check_windows(windows)?;
    let d = encoder.width();
    let n_repr = encoder.n_representations();
    let cols = reduction.cols(l, d);
    let rows = windows.len();
    let mut data: Vec<Vec<f32>> = (0..n_repr).map(|_| vec![0.0f32; rows * cols]).collect();
    let mut row0 = 0usize;
    for chunk in windows.chunks(batch_size) {
        let reps = encoder.encode_windows(chunk)?;
        reps.check(encoder, chunk)?;
        if reps.steps != l {
            return Err(RepresentationError::InvalidWindow {
                index: row0,
                reason: format!("the encoder returned {} steps for windows of {l}", reps.steps),
            });
        }
        for (r, layer) in data.iter_mut().enumerate() {
            for (wi, w) in chunk.iter().enumerate() {
                let dst = &mut layer[(row0 + wi) * cols..(row0 + wi + 1) * cols];
                reduce_into(reps.window(r, wi), w.n_valid, d, reduction, dst);
            }
        }
        row0 += chunk.len();
    }
    data.into_iter()
        .map(|v| Matrix::new(rows, cols, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_ignores_padding() {
        // L = 3, d = 2, n = 2; padded step holds large values that must not matter.
        let x = [1.0, -2.0, 3.0, 4.0, 100.0, 100.0];
        let mut o = [0.0; 2];
        reduce_into(&x, 2, 2, Reduction::Mean, &mut o);
        assert_eq!(o, [2.0, 1.0]);
        reduce_into(&x, 2, 2, Reduction::Max, &mut o);
        assert_eq!(o, [3.0, 4.0]);
        let mut c = [9.0; 6];
        reduce_into(&x, 2, 2, Reduction::Concat, &mut c);
        assert_eq!(c, [1.0, -2.0, 3.0, 4.0, 0.0, 0.0]);
    }

    #[test]
    fn serde_names() {
        for r in Reduction::ALL {
            assert_eq!(r.to_string(), r.as_str());
        }
        assert_eq!(Reduction::Concat.as_str(), "concat");
    }
}
