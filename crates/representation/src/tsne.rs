//! Exact t-SNE (van der Maaten & Hinton 2008) to two dimensions, O(N²) per iteration.
//!
//! Follows scikit-learn's `method="exact"` with `init="random"` and van der Maaten's reference
//! `tsne.py` optimiser:
//!
//! 1. squared Euclidean input distances (f64);
//! 2. per point, a binary search (≤ 100 steps, tolerance 1e-5 nats) for the Gaussian precision
//!    whose conditional distribution has entropy ln(perplexity); the perplexity is clamped to
//!    (N − 1)/3 when N is small (`3·perplexity ≤ N − 1`, the usual rule; sklearn would refuse);
//! 3. P = (P_cond + P_condᵀ) / Σ, off-diagonal entries floored at f64::EPSILON;
//! 4. Y₀ = 1e-4 · N(0, 1) from ChaCha8 seeded with `seed` (sklearn's random init);
//! 5. gradient 4 Σ_j (α·p_ij − q_ij)(1 + ‖y_i − y_j‖²)⁻¹ (y_i − y_j), with α = early exaggeration
//!    for the first `exaggeration_iterations` iterations, 1 afterwards;
//! 6. update = momentum·update − lr·gains·grad, momentum 0.5 during exaggeration then 0.8;
//!    gains += 0.2 where the gradient and the previous update have opposite signs, × 0.8
//!    otherwise, floored at 0.01 (van der Maaten's reference; gains and update are carried across
//!    the phase change as in `tsne.py`, whereas sklearn restarts them).
//!
//! All `iterations` iterations run (no early stop on the gradient norm). The output is centred.
//! Rows are processed in parallel, but every row's sums are computed by one thread in a fixed
//! order, so the result is bit-identical for a given seed and input whatever the thread count.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::RepresentationError;
use crate::matrix::Matrix;

/// t-SNE settings. `learning_rate = 0.0` means sklearn's `"auto"`:
/// max(N / early_exaggeration / 4, 50).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TsneSettings {
    /// Target perplexity (clamped to (N − 1)/3 for small N).
    pub perplexity: f64,
    /// Total number of gradient iterations (including the exaggeration phase).
    pub iterations: usize,
    /// Step size; 0 = auto (see the type's doc).
    pub learning_rate: f64,
    /// Factor on P during the first `exaggeration_iterations` iterations.
    pub early_exaggeration: f64,
    /// Length of the early-exaggeration phase (momentum 0.5; 0.8 afterwards).
    pub exaggeration_iterations: usize,
    /// Seed of the random initialisation.
    pub seed: u64,
}

impl Default for TsneSettings {
    /// Perplexity 30, 1000 iterations, automatic learning rate, early exaggeration 12 for 250
    /// iterations, seed 0 (sklearn's defaults).
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 1000,
            learning_rate: 0.0,
            early_exaggeration: 12.0,
            exaggeration_iterations: 250,
            seed: 0,
        }
    }
}

impl TsneSettings {
    /// The learning rate used for `n` samples (resolves 0 = auto).
    pub fn effective_learning_rate(&self, n: usize) -> f64 {
        if self.learning_rate == 0.0 {
            (n as f64 / self.early_exaggeration / 4.0).max(50.0)
        } else {
            self.learning_rate
        }
    }

    /// The perplexity used for `n` samples: min(perplexity, (n − 1)/3).
    pub fn effective_perplexity(&self, n: usize) -> f64 {
        self.perplexity.min(n.saturating_sub(1) as f64 / 3.0)
    }

    fn validate(&self) -> Result<(), RepresentationError> {
        let bad = |m: String| Err(RepresentationError::InvalidSettings(m));
        if !(self.perplexity.is_finite() && self.perplexity > 0.0) {
            return bad(format!("perplexity must be positive, got {}", self.perplexity));
        }
        if !(self.learning_rate.is_finite() && self.learning_rate >= 0.0) {
            return bad(format!(
                "learning_rate must be ≥ 0 (0 = auto), got {}",
                self.learning_rate
            ));
        }
        if !(self.early_exaggeration.is_finite() && self.early_exaggeration > 0.0) {
            return bad(format!(
                "early_exaggeration must be positive, got {}",
                self.early_exaggeration
            ));
        }
        Ok(())
    }
}

/// Runs `f(i, row_i)` for every row of a flat buffer of rows of `width` values, in parallel over
/// contiguous row blocks (each row is written by exactly one thread).
fn par_rows<F>(buf: &mut [f64], width: usize, f: F)
where
    F: Fn(usize, &mut [f64]) + Sync,
{
    let n = buf.len() / width.max(1);
    let threads = if n < 128 {
        1
    } else {
        std::thread::available_parallelism()
            .map(|t| t.get())
            .unwrap_or(1)
            .clamp(1, 16)
    };
    if threads == 1 {
        for (i, row) in buf.chunks_exact_mut(width).enumerate() {
            f(i, row);
        }
        return;
    }
    let per = n.div_ceil(threads);
    let f = &f;
    std::thread::scope(|s| {
        for (t, block) in buf.chunks_mut(per * width).enumerate() {
            s.spawn(move || {
                for (r, row) in block.chunks_exact_mut(width).enumerate() {
                    f(t * per + r, row);
                }
            });
        }
    });
}

/// Squared Euclidean distance.
fn sq_dist(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum()
}

/// Conditional P_{j|i} of one row (self entry 0) for the target entropy `log_perp` (nats).
fn conditional_row(dist: &[f64], i: usize, log_perp: f64, out: &mut [f64]) {
    let n = dist.len();
    // Shift by the smallest off-diagonal distance: same distribution, no underflow.
    let dmin = dist
        .iter()
        .enumerate()
        .filter(|&(j, _)| j != i)
        .map(|(_, &d)| d)
        .fold(f64::INFINITY, f64::min);
    let (mut beta, mut lo, mut hi) = (1.0f64, f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..100 {
        let mut sum = 0.0;
        let mut wsum = 0.0;
        for j in 0..n {
            if j == i {
                out[j] = 0.0;
                continue;
            }
            let dd = dist[j] - dmin;
            let p = (-dd * beta).exp();
            out[j] = p;
            sum += p;
            wsum += dd * p;
        }
        // sum ≥ 1 (the nearest neighbour contributes exp(0)).
        let entropy = sum.ln() + beta * wsum / sum;
        out.iter_mut().for_each(|p| *p /= sum);
        let diff = entropy - log_perp;
        if diff.abs() <= 1e-5 {
            break;
        }
        if diff > 0.0 {
            lo = beta;
            beta = if hi.is_infinite() { beta * 2.0 } else { (beta + hi) / 2.0 };
        } else {
            hi = beta;
            beta = if lo.is_infinite() { beta / 2.0 } else { (beta + lo) / 2.0 };
        }
    }
}

/// Symmetric joint probabilities P (N × N, diagonal 0).
fn joint_probabilities(x: &Matrix, perplexity: f64) -> Vec<f64> {
    let n = x.rows;
    let log_perp = perplexity.ln();
    let mut p = vec![0.0f64; n * n];
    par_rows(&mut p, n, |i, row| {
        let xi = x.row(i);
        let dist: Vec<f64> = (0..n).map(|j| sq_dist(xi, x.row(j))).collect();
        conditional_row(&dist, i, log_perp, row);
    });
    let mut total = 0.0;
    for i in 0..n {
        for j in 0..i {
            let s = p[i * n + j] + p[j * n + i];
            p[i * n + j] = s;
            p[j * n + i] = s;
            total += 2.0 * s;
        }
    }
    let inv = 1.0 / total.max(f64::EPSILON);
    for i in 0..n {
        for j in 0..n {
            let v = &mut p[i * n + j];
            *v = if i == j { 0.0 } else { (*v * inv).max(f64::EPSILON) };
        }
    }
    p
}

/// Standard normal by Box–Muller.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2: f64 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Exact t-SNE (O(N²) time and memory, fine for N ≤ a few thousand) to 2-D; deterministic for a
/// seed; perplexity clamped to (N − 1)/3 for small N (see the module doc for the algorithm).
///
/// Errors: N < 2, non-finite input, invalid settings.
pub fn tsne(x: &Matrix, s: &TsneSettings) -> Result<Vec<[f64; 2]>, RepresentationError> {
    let n = x.rows;
    if n < 2 {
        return Err(RepresentationError::TooFewSamples {
            what: "t-SNE",
            min: 2,
            got: n,
        });
    }
    if let Some(index) = x.first_non_finite() {
        return Err(RepresentationError::NonFinite {
            what: "t-SNE input",
            index,
        });
    }
    s.validate()?;
    let p = joint_probabilities(x, s.effective_perplexity(n));
    let lr = s.effective_learning_rate(n);

    let mut rng = ChaCha8Rng::seed_from_u64(s.seed);
    let mut y: Vec<f64> = (0..2 * n).map(|_| 1e-4 * normal(&mut rng)).collect();
    let mut update = vec![0.0f64; 2 * n];
    let mut gains = vec![1.0f64; 2 * n];
    // Per row: [attractive x, y; repulsive x, y; Σ_j num_ij].
    let mut acc = vec![0.0f64; 5 * n];
    for it in 0..s.iterations {
        let exaggerating = it < s.exaggeration_iterations;
        let alpha = if exaggerating { s.early_exaggeration } else { 1.0 };
        let momentum = if exaggerating { 0.5 } else { 0.8 };
        {
            let (y, p) = (&y, &p);
            par_rows(&mut acc, 5, |i, a| {
                let (yi0, yi1) = (y[2 * i], y[2 * i + 1]);
                let prow = &p[i * n..(i + 1) * n];
                let (mut ax, mut ay, mut rx, mut ry, mut z) = (0.0, 0.0, 0.0, 0.0, 0.0);
                for j in 0..n {
                    if j == i {
                        continue;
                    }
                    let dx = yi0 - y[2 * j];
                    let dy = yi1 - y[2 * j + 1];
                    let num = 1.0 / (1.0 + dx * dx + dy * dy);
                    let pa = alpha * prow[j] * num;
                    ax += pa * dx;
                    ay += pa * dy;
                    let n2 = num * num;
                    rx += n2 * dx;
                    ry += n2 * dy;
                    z += num;
                }
                a.copy_from_slice(&[ax, ay, rx, ry, z]);
            });
        }
        let z: f64 = acc.chunks_exact(5).map(|a| a[4]).sum();
        let inv_z = 1.0 / z.max(f64::MIN_POSITIVE);
        for i in 0..n {
            let a = &acc[5 * i..5 * i + 5];
            for c in 0..2 {
                let k = 2 * i + c;
                let grad = 4.0 * (a[c] - a[2 + c] * inv_z);
                gains[k] = if update[k] * grad < 0.0 {
                    gains[k] + 0.2
                } else {
                    gains[k] * 0.8
                }
                .max(0.01);
                update[k] = momentum * update[k] - lr * gains[k] * grad;
                y[k] += update[k];
            }
        }
    }
    let (mx, my) = (0..n).fold((0.0, 0.0), |(a, b), i| (a + y[2 * i], b + y[2 * i + 1]));
    let (mx, my) = (mx / n as f64, my / n as f64);
    Ok((0..n).map(|i| [y[2 * i] - mx, y[2 * i + 1] - my]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditional_rows_hit_the_perplexity() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 60;
        let data: Vec<f32> = (0..n * 5).map(|_| normal(&mut rng) as f32).collect();
        let x = Matrix::new(n, 5, data).unwrap();
        let perp = 10.0f64;
        for i in [0, 17, 59] {
            let dist: Vec<f64> = (0..n).map(|j| sq_dist(x.row(i), x.row(j))).collect();
            let mut row = vec![0.0; n];
            conditional_row(&dist, i, perp.ln(), &mut row);
            assert_eq!(row[i], 0.0);
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            let h: f64 = row.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
            assert!((h.exp() - perp).abs() < 1e-3, "perplexity {}", h.exp());
        }
        let p = joint_probabilities(&x, perp);
        let total: f64 = p.iter().sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert!((p[3 * n + 7] - p[7 * n + 3]).abs() == 0.0);
    }

    #[test]
    fn settings_defaults() {
        let s = TsneSettings::default();
        assert_eq!(s.effective_learning_rate(100), 50.0);
        assert_eq!(s.effective_learning_rate(4800), 100.0);
        assert_eq!(s.effective_perplexity(31), 10.0);
        assert_eq!(s.effective_perplexity(1000), 30.0);
    }
}
