//! `mad`: median absolute deviation from the median (FATS `MedianAbsDev`).

pub fn mad(mag: &[f64]) -> f64 {
    let Some(med) = lightcurve::stats::median(mag) else { return f64::NAN };
    let dev: Vec<f64> = mag.iter().map(|m| (m - med).abs()).collect();
    lightcurve::stats::median(&dev).unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_values() {
        // median 3; deviations 2 1 0 1 97 → median 1
        assert!((super::mad(&[1.0, 2.0, 3.0, 4.0, 100.0]) - 1.0).abs() < 1e-12);
        assert_eq!(super::mad(&[5.0; 4]), 0.0);
    }
}
