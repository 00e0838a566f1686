//! Long-period variables: MACHO `LPV` (semi-regulars, OSARGs and Miras) and ATLAS `Mira`.
//!
//! Red-giant pulsation is only quasi-periodic: the period and amplitude wander from cycle to
//! cycle (Percy & Abachi 2013; Templeton et al. 2005 for Miras), semi-regulars often show a long
//! secondary period about ten times the pulsation period (Wood et al. 1999; Soszyński et al.
//! 2009 OGLE-III LMC LPVs), and dust episodes add slow trends. Periods/amplitudes by subtype:
//! OSARG-like 30–100 d / 0.1–0.3 mag, semi-regular 50–600 d / 0.2–1.2 mag, Mira 150–1000 d /
//! 1–2 mag in R (ATLAS Miras: 100–500 d, 1–4 mag in o). Mira light curves rise faster than they
//! decline, which a weak second harmonic reproduces.
//!
//! Implementation: the log-period deviation and the amplitude deviation are damped random walks
//! on a regular grid (step ≤ P/20); the pulsation phase is the integral of the instantaneous
//! frequency over that grid and is linearly interpolated to the observation times.

use std::f64::consts::TAU;

use crate::classes::fourier::{wrap_angle, FourierShape};
use crate::classes::stochastic::damped_random_walk;
use crate::classes::Variability;
use crate::rng::Draw;

const DAYS_PER_YEAR: f64 = 365.25;
/// Amplitude never collapses completely: keep at least this fraction of the nominal value.
const MIN_AMPLITUDE_FACTOR: f64 = 0.2;

/// Parameters of one quasi-periodic red giant.
struct SemiRegular {
    period_days: f64,
    amplitude_mag: f64,
    /// Standard deviation of ln(P) and its damping time in cycles.
    period_wander: f64,
    period_wander_cycles: f64,
    /// Standard deviation of the fractional amplitude change and its damping time in cycles.
    amplitude_wander: f64,
    amplitude_wander_cycles: f64,
    /// Second-harmonic ratio and phase of the mean cycle.
    second_harmonic: (f64, f64),
    /// (period, peak-to-peak amplitude) of a long secondary period, if any.
    long_secondary_period: Option<(f64, f64)>,
    trend_mag_per_year: f64,
}

pub(crate) fn macho_lpv(times: &[f64], draw: &mut Draw) -> Variability {
    let star = match draw.weighted_index(&[0.3, 0.45, 0.25]) {
        0 => {
            let period_days = draw.log_uniform(30.0, 100.0);
            let amplitude_mag = draw.log_uniform(0.1, 0.3);
            SemiRegular {
                period_days,
                amplitude_mag,
                period_wander: draw.uniform_in(0.05, 0.12),
                period_wander_cycles: draw.uniform_in(2.0, 6.0),
                amplitude_wander: draw.uniform_in(0.2, 0.4),
                amplitude_wander_cycles: draw.uniform_in(1.0, 4.0),
                second_harmonic: (draw.uniform_in(0.0, 0.1), draw.angle()),
                long_secondary_period: long_secondary_period(
                    period_days,
                    amplitude_mag,
                    0.35,
                    draw,
                ),
                trend_mag_per_year: draw.normal(0.0, 0.02),
            }
        }
        1 => {
            let period_days = draw.log_uniform(50.0, 600.0);
            let amplitude_mag = draw.log_uniform(0.2, 1.2);
            SemiRegular {
                period_days,
                amplitude_mag,
                period_wander: draw.uniform_in(0.03, 0.08),
                period_wander_cycles: draw.uniform_in(2.0, 6.0),
                amplitude_wander: draw.uniform_in(0.15, 0.35),
                amplitude_wander_cycles: draw.uniform_in(1.0, 4.0),
                second_harmonic: (
                    draw.uniform_in(0.05, 0.2),
                    wrap_angle(draw.normal(4.3, 0.5)),
                ),
                long_secondary_period: long_secondary_period(period_days, amplitude_mag, 0.3, draw),
                trend_mag_per_year: draw.normal(0.0, 0.03),
            }
        }
        _ => mira(
            draw.log_uniform(150.0, 1000.0),
            draw.uniform_in(1.0, 2.0),
            draw,
        ),
    };
    semi_regular_light_curve(&star, times, draw)
}

pub(crate) fn atlas_mira(times: &[f64], draw: &mut Draw) -> Variability {
    let period_days = libm::pow(
        10.0,
        draw.truncated_normal(2.45, 0.15, 2.0, libm::log10(500.0)),
    );
    let star = mira(period_days, draw.uniform_in(1.0, 4.0), draw);
    semi_regular_light_curve(&star, times, draw)
}

fn mira(period_days: f64, amplitude_mag: f64, draw: &mut Draw) -> SemiRegular {
    SemiRegular {
        period_days,
        amplitude_mag,
        period_wander: draw.uniform_in(0.01, 0.03),
        period_wander_cycles: draw.uniform_in(3.0, 10.0),
        amplitude_wander: draw.uniform_in(0.05, 0.15),
        amplitude_wander_cycles: draw.uniform_in(1.0, 3.0),
        second_harmonic: (draw.uniform_in(0.1, 0.3), wrap_angle(draw.normal(4.3, 0.4))),
        long_secondary_period: None,
        trend_mag_per_year: draw.normal(0.0, 0.02),
    }
}

fn long_secondary_period(
    period: f64,
    amplitude: f64,
    probability: f64,
    draw: &mut Draw,
) -> Option<(f64, f64)> {
    draw.chance(probability).then(|| {
        (
            (period * draw.uniform_in(6.0, 12.0)).min(3000.0),
            amplitude * draw.uniform_in(0.2, 0.6),
        )
    })
}

fn semi_regular_light_curve(star: &SemiRegular, times: &[f64], draw: &mut Draw) -> Variability {
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Variability {
            period_days: Some(star.period_days),
            amplitude_mag: star.amplitude_mag,
            delta_mag: Vec::new(),
        };
    };
    let shape = FourierShape::from_ratios(&[star.second_harmonic]).with_peak_to_peak(1.0);

    // Regular grid covering the observations, fine enough to integrate the phase.
    let step = (star.period_days / 20.0).min(2.0);
    let grid_len = ((last - first) / step).ceil() as usize + 2;
    let grid: Vec<f64> = (0..grid_len).map(|i| first + i as f64 * step).collect();
    let log_period_offset = damped_random_walk(
        &grid,
        star.period_wander_cycles * star.period_days,
        star.period_wander,
        draw,
    );
    let amplitude_offset = damped_random_walk(
        &grid,
        star.amplitude_wander_cycles * star.period_days,
        star.amplitude_wander,
        draw,
    );
    let mut phase = Vec::with_capacity(grid_len);
    let mut current_phase = draw.uniform();
    for offset in &log_period_offset {
        phase.push(current_phase);
        current_phase += step / (star.period_days * libm::exp(*offset));
    }

    let secondary_phase = draw.angle();
    let midpoint = 0.5 * (first + last);
    let delta_mag = times
        .iter()
        .map(|&time| {
            let position = ((time - first) / step).max(0.0);
            let index = (position.floor() as usize).min(grid_len - 2);
            let fraction = position - index as f64;
            let interpolate =
                |series: &[f64]| series[index] + fraction * (series[index + 1] - series[index]);
            let amplitude_factor = (1.0 + interpolate(&amplitude_offset)).max(MIN_AMPLITUDE_FACTOR);
            let pulsation =
                star.amplitude_mag * amplitude_factor * shape.value(interpolate(&phase));
            let secondary = star
                .long_secondary_period
                .map_or(0.0, |(period, amplitude)| {
                    0.5 * amplitude * libm::sin(TAU * time / period + secondary_phase)
                });
            let trend = star.trend_mag_per_year * (time - midpoint) / DAYS_PER_YEAR;
            pulsation + secondary + trend
        })
        .collect();
    Variability {
        period_days: Some(star.period_days),
        amplitude_mag: star.amplitude_mag,
        delta_mag,
    }
}

#[cfg(test)]
mod long_period_tests {
    use super::*;
    use crate::rng::{object_key, Stream};

    #[test]
    fn lpv_periods_and_amplitudes_in_range() {
        let times: Vec<f64> = (0..1500).map(|i| 49_000.0 + i as f64 * 1.7).collect();
        for index in 0..30 {
            let mut draw = Draw::new(object_key(2, "LPV", index), Stream::Signal);
            let variability = macho_lpv(&times, &mut draw);
            let period = variability.period_days.unwrap_or(0.0);
            assert!((30.0..=1000.0).contains(&period));
            assert!((0.1..=2.0).contains(&variability.amplitude_mag));
            assert!(variability.delta_mag.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn mira_cycles_differ_from_each_other() {
        let times: Vec<f64> = (0..3000).map(|i| 57_000.0 + i as f64).collect();
        let mut draw = Draw::new(object_key(2, "Mira", 1), Stream::Signal);
        let variability = atlas_mira(&times, &mut draw);
        let period = variability.period_days.unwrap_or(1.0);
        assert!((100.0..=500.0).contains(&period));
        // Cycle maxima (minimum magnitudes) change from cycle to cycle: the amplitude wanders.
        let cycle = period.round() as usize;
        let minima: Vec<f64> = variability
            .delta_mag
            .chunks(cycle)
            .filter(|chunk| chunk.len() == cycle)
            .map(|chunk| chunk.iter().fold(f64::INFINITY, |a, &b| a.min(b)))
            .collect();
        assert!(minima.len() >= 5);
        let spread = minima.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b))
            - minima.iter().fold(f64::INFINITY, |a, &b| a.min(b));
        assert!(spread > 0.01, "cycle maxima spread {spread}");
    }
}
