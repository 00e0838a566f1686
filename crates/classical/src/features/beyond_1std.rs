//! `beyond_1std`: fraction of observations more than one standard deviation from the
//! error-weighted mean (Richards et al. 2011; FATS `Beyond1Std`), with σ the sample standard
//! deviation about the plain mean (FATS takes it about the weighted mean; the two agree when the
//! errors are equal). About 0.317 for Gaussian noise, 0.5 for a sinusoid (|sin| > 1/√2 half of the
//! time), 0 for a constant curve.

pub fn beyond_1std(mag: &[f64], err: &[f64]) -> f64 {
    let sd = lightcurve::stats::std_sample(mag).unwrap_or(0.0);
    if sd == 0.0 {
        return 0.0;
    }
    let w: Vec<f64> = err.iter().map(|e| 1.0 / (e * e)).collect();
    let wsum: f64 = w.iter().sum();
    let mean = mag.iter().zip(&w).map(|(m, w)| m * w).sum::<f64>() / wsum;
    mag.iter().filter(|m| (*m - mean).abs() > sd).count() as f64 / mag.len() as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn sinusoid_is_half_beyond() {
        let (_, m, e) = crate::features::testing::sinusoid(5000, 2.3, 1.0);
        let f = super::beyond_1std(&m, &e);
        assert!((f - 0.5).abs() < 0.02, "{f}");
        assert_eq!(super::beyond_1std(&[1.0; 9], &[0.1; 9]), 0.0);
    }
}
