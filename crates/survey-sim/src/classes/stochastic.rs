//! Damped random walk (Ornstein–Uhlenbeck process), used for irregular variability and for the
//! wandering periods and amplitudes of long-period variables (Kelly, Bechtold & Siemiginowska
//! 2009 use the same process for quasar variability).

use crate::rng::Draw;

/// Zero-mean damped random walk with stationary standard deviation `sigma` and damping
/// `timescale`, sampled *exactly* at the sorted `times` (no discretisation error for irregular
/// sampling): `x_{i+1} = x_i e^{−Δt/τ} + σ √(1 − e^{−2Δt/τ}) z`. Starts from the stationary
/// distribution, so there is no burn-in transient.
pub(crate) fn damped_random_walk(
    times: &[f64],
    timescale: f64,
    sigma: f64,
    draw: &mut Draw,
) -> Vec<f64> {
    let mut values = Vec::with_capacity(times.len());
    let mut value = sigma * draw.standard_normal();
    let mut previous_time: Option<f64> = None;
    for &time in times {
        if let Some(previous) = previous_time {
            let decay = libm::exp(-(time - previous).max(0.0) / timescale);
            value =
                value * decay + sigma * libm::sqrt(1.0 - decay * decay) * draw.standard_normal();
        }
        values.push(value);
        previous_time = Some(time);
    }
    values
}

#[cfg(test)]
mod stochastic_tests {
    use super::*;
    use crate::rng::{object_key, Stream};

    #[test]
    fn stationary_spread_and_short_lag_correlation() {
        let mut draw = Draw::new(object_key(4, "drw", 0), Stream::Signal);
        let times: Vec<f64> = (0..20_000).map(|i| i as f64).collect();
        let values = damped_random_walk(&times, 5.0, 0.3, &mut draw);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let sd =
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64).sqrt();
        assert!((0.25..0.35).contains(&sd), "sd {sd}");
        // Lag-1 autocorrelation should be e^{-1/5} ≈ 0.82.
        let lag1 = values
            .windows(2)
            .map(|w| (w[0] - mean) * (w[1] - mean))
            .sum::<f64>()
            / (values.len() - 1) as f64
            / (sd * sd);
        assert!((0.75..0.88).contains(&lag1), "lag-1 autocorrelation {lag1}");
    }
}
