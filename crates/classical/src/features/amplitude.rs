//! `amplitude_p95_p5`: the 5th-to-95th percentile range of the magnitudes (a robust
//! peak-to-peak; Richards et al. 2011 use flux percentile ratios of the same ranges). For a
//! sinusoid of semi-amplitude A it is 2A·sin(0.45π) ≈ 1.975 A.

use super::{percentile, sorted};

pub fn amplitude_p95_p5(mag: &[f64]) -> f64 {
    let s = sorted(mag);
    percentile(&s, 0.95) - percentile(&s, 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoid_and_constant() {
        let (_, m, _) = crate::features::testing::sinusoid(4000, 3.7, 0.5);
        let want = 2.0 * 0.5 * (0.45 * std::f64::consts::PI).sin();
        assert!((amplitude_p95_p5(&m) - want).abs() < 0.01, "{}", amplitude_p95_p5(&m));
        assert_eq!(amplitude_p95_p5(&[3.0; 7]), 0.0);
    }
}
