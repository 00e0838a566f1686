//! Multi-positive InfoNCE (the paper's contrastive loss in each latent space):
//!
//! ```text
//! L_a = −log( Σ_{p∈P(a)} e^{s_ap} / (Σ_{p∈P(a)} e^{s_ap} + Σ_{n∈N(a)} e^{s_an}) ),   s_ab = ẑ_a·ẑ_b / τ
//! ```
//!
//! with ẑ = z / ‖z‖, P(a) the rows sharing a's group (same star in the star space, same instrument
//! in the instrument space), N(a) every other row but a itself, and the loss the mean of L_a over
//! the anchors that have at least one positive. The denominator is Σ_{b≠a} e^{s_ab}, so
//! L_a = logsumexp_{b≠a} s_ab − logsumexp_{p∈P(a)} s_ap: two masked log-sum-exps of one similarity
//! matrix, stable for any τ.

use astromer::dfdx::prelude::*;
use astromer::layers::{cached_tensor, Tensor2};

use crate::CausalError;

/// Added to a logit that must not count: e^{s − 10⁴} is exactly 0 in f32 for any |s| ≤ 1/τ that
/// a sane temperature gives, and the value stays finite (no NaN from ∞ − ∞ in the gradient).
const EXCLUDED: f32 = -1.0e4;

/// Which rows of a batch are positives of which: rows with the same group id, never a row with
/// itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Positives {
    groups: Vec<usize>,
}

impl Positives {
    /// Rows with equal ids are positives of each other (ids: star or instrument indices).
    pub fn same_group(groups: &[usize]) -> Self {
        Self { groups: groups.to_vec() }
    }

    /// Rows in the batch.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    pub fn is_positive(&self, anchor: usize, other: usize) -> bool {
        anchor != other && self.groups[anchor] == self.groups[other]
    }

    /// How many positives `anchor` has.
    pub fn count(&self, anchor: usize) -> usize {
        (0..self.len()).filter(|&b| self.is_positive(anchor, b)).count()
    }

    /// Anchors with at least one positive (the ones the loss averages over).
    pub fn anchors_with_positives(&self) -> usize {
        (0..self.len()).filter(|&a| self.count(a) > 0).count()
    }
}

/// The loss over the rows of `z` (N, d) (unnormalised embeddings; they are L2-normalised here),
/// positives by `positives`, temperature `temperature`. A scalar carrying `z`'s tape.
pub fn multi_positive_info_nce<D: Device<f32>, T: Tape<f32, D> + 'static>(
    z: Tensor2<D, T>,
    positives: &Positives,
    temperature: f32,
) -> Result<Tensor<(), f32, D, T>, CausalError> {
    let (n, d) = *z.shape();
    if n != positives.len() {
        return Err(CausalError::BatchMismatch { rows: n, groups: positives.len() });
    }
    if !(temperature.is_finite() && temperature > 0.0) {
        return Err(CausalError::InvalidTemperature(temperature));
    }
    let scored = positives.anchors_with_positives();
    if scored == 0 {
        return Err(CausalError::NoPositives);
    }
    let dev = z.device().clone();
    // ẑ = z / sqrt(Σ z² + 1e-12): the small constant keeps a zero row finite.
    let (z, tape) = z.split_tape();
    let norm = (z.clone().put_tape(tape).square().sum::<(usize,), Axis<1>>() + 1e-12).sqrt();
    let unit = z.retaped::<T>() / norm.broadcast_like::<_, Axis<1>>(&(n, d));
    let (unit, tape) = unit.split_tape();
    // ẑ ẑᵀ: the right operand needs an id of its own (a matmul's backward borrows the gradients of
    // its two operands separately, and a permute keeps the id), hence the × 1.
    let transposed = (unit.retaped::<T>() * 1.0).permute::<_, Axes2<1, 0>>();
    let similarity = unit.put_tape(tape).matmul(transposed) * (1.0 / temperature);
    let (mut all_bias, mut positive_bias) = (vec![0.0f32; n * n], vec![EXCLUDED; n * n]);
    for a in 0..n {
        all_bias[a * n + a] = EXCLUDED;
        for b in 0..n {
            if positives.is_positive(a, b) {
                positive_bias[a * n + b] = 0.0;
            }
        }
    }
    let weights: Vec<f32> = (0..n).map(|a| if positives.count(a) > 0 { 1.0 / scored as f32 } else { 0.0 }).collect();
    let all_bias: Tensor2<D> = cached_tensor(&dev, &all_bias, (n, n));
    let positive_bias: Tensor2<D> = cached_tensor(&dev, &positive_bias, (n, n));
    let weights = cached_tensor(&dev, &weights, (n,));
    let (similarity, tape) = similarity.split_tape();
    let denominator = (similarity.clone().put_tape(tape) + all_bias).logsumexp::<(usize,), Axis<1>>();
    let numerator = (similarity.retaped::<T>() + positive_bias).logsumexp::<(usize,), Axis<1>>();
    Ok(((denominator - numerator) * weights).sum::<(), Axis<0>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use astromer::dfdx::tensor::Cpu;

    /// The loss as the paper writes it, in f64 on the host, with explicit positive and negative sets.
    fn reference(z: &[f32], n: usize, d: usize, groups: &[usize], tau: f64) -> f64 {
        let unit: Vec<Vec<f64>> = (0..n)
            .map(|a| {
                let row: Vec<f64> = z[a * d..(a + 1) * d].iter().map(|&v| v as f64).collect();
                let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
                row.iter().map(|v| v / norm).collect()
            })
            .collect();
        let s = |a: usize, b: usize| unit[a].iter().zip(&unit[b]).map(|(x, y)| x * y).sum::<f64>() / tau;
        let (mut total, mut anchors) = (0.0, 0);
        for a in 0..n {
            let pos: Vec<usize> = (0..n).filter(|&b| b != a && groups[b] == groups[a]).collect();
            if pos.is_empty() {
                continue;
            }
            let neg: Vec<usize> = (0..n).filter(|&b| b != a && groups[b] != groups[a]).collect();
            let p: f64 = pos.iter().map(|&b| s(a, b).exp()).sum();
            let q: f64 = neg.iter().map(|&b| s(a, b).exp()).sum();
            total += -(p / (p + q)).ln();
            anchors += 1;
        }
        total / anchors as f64
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n).map(|i| ((i as f32 + 1.0) * 0.7 + seed as f32 * 1.3).sin() * 1.5).collect()
    }

    fn loss_and_gradient(z: &[f32], n: usize, d: usize, groups: &[usize], tau: f32) -> (f32, Vec<f32>) {
        let dev = Cpu::default();
        let x: Tensor2<Cpu> = dev.tensor_from_vec(z.to_vec(), (n, d));
        let loss = multi_positive_info_nce(x.leaky_trace(), &Positives::same_group(groups), tau).unwrap();
        let value = loss.retaped::<NoneTape>().as_vec()[0];
        let grads = loss.backward();
        (value, grads.get(&x).as_vec())
    }

    // Groups with several positives (0: rows 0, 2, 5), a pair (1: rows 1, 4) and a row with none (3).
    const GROUPS: [usize; 6] = [0, 1, 0, 7, 1, 0];

    #[test]
    fn matches_the_paper_formula_with_several_positives() {
        let (n, d) = (6, 4);
        let z = values(n * d, 1);
        for tau in [0.1f32, 0.5, 2.0] {
            let (value, _) = loss_and_gradient(&z, n, d, &GROUPS, tau);
            let want = reference(&z, n, d, &GROUPS, tau as f64);
            assert!((value as f64 - want).abs() < 1e-4 * want.abs().max(1.0), "τ = {tau}: {value} vs {want}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        let (n, d, tau) = (6, 4, 0.5f32);
        let z = values(n * d, 2);
        let (_, analytic) = loss_and_gradient(&z, n, d, &GROUPS, tau);
        // Row 3 has no positive but is a negative of every other anchor, so it gets a gradient too.
        assert!(analytic[3 * d..4 * d].iter().any(|g| g.abs() > 1e-4));
        let h = 1e-3f64;
        for k in 0..n * d {
            let at = |delta: f64| {
                let mut v = z.clone();
                v[k] = (v[k] as f64 + delta) as f32;
                reference(&v, n, d, &GROUPS, tau as f64)
            };
            let numeric = (at(h) - at(-h)) / (2.0 * h);
            assert!((numeric - analytic[k] as f64).abs() < 1e-3 + 1e-2 * numeric.abs(), "z[{k}]: backward {} vs finite difference {numeric}", analytic[k]);
        }
    }

    #[test]
    fn aligned_positives_give_a_lower_loss() {
        // Two groups; rows of a group point the same way: the loss is near its minimum.
        let (n, d) = (4, 2);
        let aligned = [1.0, 0.0, 0.0, 1.0, 1.0, 0.01, 0.01, 1.0];
        let crossed = [1.0, 0.0, 0.0, 1.0, 0.01, 1.0, 1.0, 0.01];
        let groups = [0, 1, 0, 1];
        let (good, _) = loss_and_gradient(&aligned, n, d, &groups, 0.1);
        let (bad, _) = loss_and_gradient(&crossed, n, d, &groups, 0.1);
        assert!(good < 0.01 && bad > 5.0, "aligned {good}, crossed {bad}");
    }

    #[test]
    fn rejects_what_it_cannot_score() {
        let dev = Cpu::default();
        let x: Tensor2<Cpu> = dev.tensor_from_vec(values(8, 3), (4, 2));
        let single = Positives::same_group(&[0, 1, 2, 3]);
        assert_eq!(multi_positive_info_nce(x.clone(), &single, 0.1).err().unwrap(), CausalError::NoPositives);
        let short = Positives::same_group(&[0, 0, 1]);
        assert_eq!(multi_positive_info_nce(x.clone(), &short, 0.1).err().unwrap(), CausalError::BatchMismatch { rows: 4, groups: 3 });
        let pairs = Positives::same_group(&[0, 0, 1, 1]);
        assert_eq!(multi_positive_info_nce(x, &pairs, 0.0).err().unwrap(), CausalError::InvalidTemperature(0.0));
    }
}
