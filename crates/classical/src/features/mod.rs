//! One classical feature per module, each with its definition, its source and tests on curves
//! with a known answer beside it.

pub mod amplitude;
pub mod beyond_1std;
pub mod eta;
pub mod folded;
pub mod iqr;
pub mod mad;
pub mod moments;
pub mod period;
pub mod sampling;
pub mod stetson_k;

/// Percentile by linear interpolation between closest ranks (numpy's default), of sorted data.
pub(crate) fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

pub(crate) fn sorted(x: &[f64]) -> Vec<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

#[cfg(test)]
pub(crate) mod testing {
    /// A sinusoid of `amplitude` (semi-amplitude) and `period` on irregular times.
    pub fn sinusoid(n: usize, period: f64, amplitude: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let mut t = Vec::with_capacity(n);
        let mut x = 0.0f64;
        for i in 0..n {
            // Deterministic irregular gaps in [0.3, 2.3) days.
            x += 0.3 + ((i as f64 * 0.618_033_988_75).fract() * 2.0);
            t.push(x);
        }
        let m = t.iter().map(|ti| 15.0 + amplitude * (2.0 * std::f64::consts::PI * ti / period).sin()).collect();
        (t, m, vec![0.01; n])
    }
}
