//! Sampling features: how many points, over how long, how densely. Not about the star, but real
//! surveys differ in them and a classifier may use them (as `base_avgpool` does, docs/analysis.md).
//!
//! - `n_obs_log10` = log10 N;
//! - `time_span_log10` = log10(t_N − t_1) in days;
//! - `median_dt_log10` = log10 of the median gap between consecutive observations (days).

/// log10 of the number of observations.
pub fn n_obs_log10(time: &[f64]) -> f64 {
    (time.len() as f64).log10()
}

/// log10 of the time span (days); −∞ → NaN for a single point.
pub fn time_span_log10(time: &[f64]) -> f64 {
    match (time.first(), time.last()) {
        (Some(a), Some(b)) if b > a => (b - a).log10(),
        _ => f64::NAN,
    }
}

/// log10 of the median consecutive gap (days).
pub fn median_dt_log10(time: &[f64]) -> f64 {
    let gaps: Vec<f64> = time.windows(2).map(|w| w[1] - w[0]).collect();
    match lightcurve::stats::median(&gaps) {
        Some(g) if g > 0.0 => g.log10(),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sampling() {
        let t = [0.0, 1.0, 3.0, 6.0, 10.0];
        assert!((n_obs_log10(&t) - 5f64.log10()).abs() < 1e-12);
        assert!((time_span_log10(&t) - 1.0).abs() < 1e-12);
        // gaps 1, 2, 3, 4: median 2.5
        assert!((median_dt_log10(&t) - 2.5f64.log10()).abs() < 1e-12);
        assert!(time_span_log10(&[1.0]).is_nan());
    }
}
