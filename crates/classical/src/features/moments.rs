//! Moments of the magnitudes (FATS `Std`, `Skew`, `SmallKurtosis`; Richards et al. 2011):
//! sample standard deviation (ddof 1), bias-corrected skewness G1 and excess kurtosis G2, with the
//! pandas conventions of `lightcurve::stats` (0 for a constant curve).

pub fn std(mag: &[f64]) -> f64 {
    lightcurve::stats::std_sample(mag).unwrap_or(f64::NAN)
}

pub fn skewness(mag: &[f64]) -> f64 {
    lightcurve::stats::skewness(mag).unwrap_or(f64::NAN)
}

pub fn kurtosis(mag: &[f64]) -> f64 {
    lightcurve::stats::excess_kurtosis(mag).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_curve_has_zero_moments() {
        let m = [15.0; 10];
        assert_eq!((std(&m), skewness(&m), kurtosis(&m)), (0.0, 0.0, 0.0));
    }

    #[test]
    fn known_sample() {
        // G1 and G2 of [1, 2, 3, 4, 10] worked by hand from the central moments.
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        // mean 4, deviations −3 −2 −1 0 6: Σd² = 50, Σd³ = 180, Σd⁴ = 1394; n = 5.
        let (m2, m3, m4) = (50.0 / 5.0, 180.0 / 5.0, 1394.0 / 5.0);
        let g1: f64 = m3 / f64::powf(m2, 1.5) * (5.0f64 * 4.0).sqrt() / 3.0;
        let g2 = ((6.0) * (m4 / (m2 * m2) - 3.0) + 6.0) * 4.0 / (3.0 * 2.0);
        assert!((std(&x) - (50.0f64 / 4.0).sqrt()).abs() < 1e-12);
        assert!((skewness(&x) - g1).abs() < 1e-12, "{} vs {g1}", skewness(&x));
        assert!((kurtosis(&x) - g2).abs() < 1e-12, "{} vs {g2}", kurtosis(&x));
        // A symmetric sample has no skew.
        assert!(skewness(&[1.0, 2.0, 3.0, 4.0, 5.0]).abs() < 1e-12);
    }
}
