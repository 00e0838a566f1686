//! Small order statistics shared by the generator (amplitudes of irregular signals) and tests.

/// Linear-interpolated quantile (`q` in [0, 1]) of unsorted data; 0 for empty input.
pub(crate) fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return 0.0;
    }
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lower = position.floor() as usize;
    let upper = (lower + 1).min(sorted.len() - 1);
    let fraction = position - lower as f64;
    sorted[lower] + fraction * (sorted[upper] - sorted[lower])
}

/// 5–95 percentile range: an amplitude that ignores the few most extreme points.
pub(crate) fn robust_peak_to_peak(values: &[f64]) -> f64 {
    quantile(values, 0.95) - quantile(values, 0.05)
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    #[test]
    fn quantiles_interpolate() {
        let data = [3.0, 1.0, 2.0, 4.0, 5.0];
        assert_eq!(quantile(&data, 0.5), 3.0);
        assert_eq!(quantile(&data, 0.0), 1.0);
        assert_eq!(quantile(&data, 1.0), 5.0);
        assert!((quantile(&data, 0.125) - 1.5).abs() < 1e-12);
        assert_eq!(quantile(&[], 0.5), 0.0);
    }
}
