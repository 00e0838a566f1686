//! `Other`: everything variable that is neither a clean pulsator nor an eclipsing binary.
//!
//! ATLAS's largest class (Heinze et al. 2018) collects irregular, stochastic and dubious
//! variability; here it is deliberately diverse so that "Other" is not trivially separable:
//!
//! * damped random walk (stochastic red-noise variability, Kelly et al. 2009), τ 5–500 d,
//!   σ 0.03–0.4 mag;
//! * slow linear/quadratic trends of 0.05–0.8 mag over the baseline, with a little red noise;
//! * low-level excess white scatter of 0.01–0.1 mag (unstable photometry, micro-variability);
//! * a few discrete dips or outbursts (YSO dippers, flares, R CrB-like fades), 0.5–30 d long,
//!   0.1–1 mag deep;
//! * quasi-periodic signals whose phase and amplitude diffuse within a few cycles (spotted
//!   stars, semi-regular pulsators), 0.02–0.2 mag.
//!
//! No period is reported for any of them.

use std::f64::consts::TAU;

use crate::classes::stochastic::damped_random_walk;
use crate::classes::Variability;
use crate::rng::Draw;
use crate::stats::robust_peak_to_peak;

pub(crate) fn other(times: &[f64], draw: &mut Draw) -> Variability {
    let delta_mag = match draw.weighted_index(&[0.3, 0.15, 0.2, 0.15, 0.2]) {
        0 => {
            let timescale = draw.log_uniform(5.0, 500.0);
            let sigma = draw.log_uniform(0.03, 0.4);
            damped_random_walk(times, timescale, sigma, draw)
        }
        1 => trend(times, draw),
        2 => {
            let sigma = draw.log_uniform(0.01, 0.1);
            times
                .iter()
                .map(|_| sigma * draw.standard_normal())
                .collect()
        }
        3 => discrete_events(times, draw),
        _ => quasi_periodic(times, draw),
    };
    Variability {
        period_days: None,
        amplitude_mag: robust_peak_to_peak(&delta_mag),
        delta_mag,
    }
}

fn span(times: &[f64]) -> (f64, f64) {
    match (times.first(), times.last()) {
        (Some(&first), Some(&last)) => (first, (last - first).max(1.0)),
        _ => (0.0, 1.0),
    }
}

fn trend(times: &[f64], draw: &mut Draw) -> Vec<f64> {
    let (start, length) = span(times);
    let change = draw.log_uniform(0.05, 0.8) * if draw.chance(0.5) { 1.0 } else { -1.0 };
    let curvature = draw.uniform_in(-1.0, 1.0);
    let noise = damped_random_walk(
        times,
        draw.log_uniform(10.0, 100.0),
        draw.uniform_in(0.01, 0.03),
        draw,
    );
    times
        .iter()
        .zip(noise)
        .map(|(&time, red_noise)| {
            let x = (time - start) / length - 0.5;
            change * (x + curvature * (x * x - 1.0 / 12.0)) + red_noise
        })
        .collect()
}

fn discrete_events(times: &[f64], draw: &mut Draw) -> Vec<f64> {
    let (start, length) = span(times);
    // Dippers fade (magnitude up), outbursts brighten (magnitude down).
    let direction = if draw.chance(0.6) { 1.0 } else { -1.0 };
    let events: Vec<(f64, f64, f64)> = (0..draw.integer_in(1, 6))
        .map(|_| {
            (
                start + draw.uniform() * length,
                draw.log_uniform(0.5, 30.0),
                draw.log_uniform(0.1, 1.0),
            )
        })
        .collect();
    let background = damped_random_walk(times, draw.log_uniform(10.0, 100.0), 0.02, draw);
    times
        .iter()
        .zip(background)
        .map(|(&time, red_noise)| {
            let events_sum: f64 = events
                .iter()
                .map(|&(centre, width, depth)| {
                    let z = (time - centre) / width;
                    depth * libm::exp(-0.5 * z * z)
                })
                .sum();
            direction * events_sum + red_noise
        })
        .collect()
}

fn quasi_periodic(times: &[f64], draw: &mut Draw) -> Vec<f64> {
    let (_, length) = span(times);
    let period = draw.log_uniform(0.5, (length / 3.0).max(1.0));
    let amplitude = draw.log_uniform(0.02, 0.2);
    let coherence = draw.uniform_in(1.0, 5.0) * period;
    let phase_noise = damped_random_walk(times, coherence, draw.uniform_in(0.5, 1.5), draw);
    let amplitude_noise = damped_random_walk(times, coherence, 0.3, draw);
    let phase_zero = draw.angle();
    times
        .iter()
        .zip(phase_noise.iter().zip(&amplitude_noise))
        .map(|(&time, (&phase_offset, &amplitude_offset))| {
            0.5 * amplitude
                * (1.0 + amplitude_offset).max(0.0)
                * libm::sin(TAU * time / period + phase_zero + phase_offset)
        })
        .collect()
}

#[cfg(test)]
mod irregular_tests {
    use super::*;
    use crate::rng::{object_key, Stream};

    #[test]
    fn other_is_aperiodic_finite_and_mostly_small() {
        let times: Vec<f64> = (0..500).map(|i| 57_000.0 + i as f64 * 1.3).collect();
        let mut amplitudes = Vec::new();
        for index in 0..60 {
            let mut draw = Draw::new(object_key(6, "Other", index), Stream::Signal);
            let variability = other(&times, &mut draw);
            assert_eq!(variability.period_days, None);
            assert_eq!(variability.delta_mag.len(), times.len());
            assert!(variability.delta_mag.iter().all(|v| v.is_finite()));
            amplitudes.push(variability.amplitude_mag);
        }
        let median = crate::stats::quantile(&amplitudes, 0.5);
        assert!((0.01..0.5).contains(&median), "median amplitude {median}");
    }

    #[test]
    fn handles_empty_and_single_epoch_input() {
        let mut draw = Draw::new(object_key(6, "Other", 0), Stream::Signal);
        for _ in 0..10 {
            assert!(other(&[], &mut draw).delta_mag.is_empty());
            assert_eq!(other(&[57_000.0], &mut draw).delta_mag.len(), 1);
        }
    }
}
