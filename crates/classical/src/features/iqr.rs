//! `iqr`: the interquartile range p75 − p25 of the magnitudes (FATS `Q31`).

use super::{percentile, sorted};

pub fn iqr(mag: &[f64]) -> f64 {
    let s = sorted(mag);
    percentile(&s, 0.75) - percentile(&s, 0.25)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        // numpy.percentile([1..9], [25, 75]) = 3, 7
        let x: Vec<f64> = (1..=9).map(f64::from).collect();
        assert!((super::iqr(&x) - 4.0).abs() < 1e-12);
        assert_eq!(super::iqr(&[2.0; 5]), 0.0);
    }
}
