//! `period_log10` and `period_power`: the best Lomb–Scargle period (generalised, floating mean,
//! 1/σ² weights; `crates/periodogram`) and its power (standard normalisation: the fraction of the
//! weighted variance a sinusoid explains, in [0, 1]). Richards et al. (2011) rank the first
//! frequency and its significance among the most important features for variable-star classes.
//!
//! The grid runs from 1/T to `max_frequency` (cycles/day) with `oversampling` points per 1/T. A
//! curve whose periodogram cannot be computed (all errors equal to zero, a single epoch) gets the
//! time span as period and power 0, and the fallback is counted by the caller.

use periodogram::{lomb_scargle, FrequencyGrid};

/// Best period (days) and its power, or `None` if no periodogram could be computed.
pub fn best_period(time: &[f64], mag: &[f64], err: &[f64], oversampling: f64, max_frequency: f64) -> Option<(f64, f64)> {
    let baseline = time.last()? - time.first()?;
    if !(baseline > 0.0) {
        return None;
    }
    // Never ask for a grid whose top is below 1/T (short curves): then use twice 1/T.
    let max_frequency = max_frequency.max(2.0 / baseline);
    let grid = FrequencyGrid::auto(time, oversampling, Some(max_frequency)).ok()?;
    let p = lomb_scargle(time, mag, Some(err), &grid)
        .or_else(|_| lomb_scargle(time, mag, None, &grid))
        .ok()?;
    let (mut best_f, mut best_p) = (f64::NAN, f64::NEG_INFINITY);
    for (&f, &pw) in p.frequency.iter().zip(&p.power) {
        if pw > best_p {
            (best_f, best_p) = (f, pw);
        }
    }
    best_f.is_finite().then(|| (1.0 / best_f, best_p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_sinusoid_period_with_high_power() {
        let (t, m, e) = crate::features::testing::sinusoid(300, 5.3, 0.3);
        let (p, power) = best_period(&t, &m, &e, 10.0, 2.0).unwrap();
        assert!((p - 5.3).abs() / 5.3 < 0.005, "{p}");
        assert!(power > 0.99, "{power}");
    }

    #[test]
    fn degenerate_curves_have_no_period() {
        assert!(best_period(&[1.0, 1.0], &[1.0, 2.0], &[0.1, 0.1], 5.0, 1.0).is_none());
        assert!(best_period(&[], &[], &[], 5.0, 1.0).is_none());
    }
}
