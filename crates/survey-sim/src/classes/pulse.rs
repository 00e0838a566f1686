//! ATLAS `Pulse`: short-period radial pulsators of several kinds lumped together (Heinze et al.
//! 2018): RR Lyrae (both modes), δ Scuti / high-amplitude δ Scuti stars and short-period
//! Cepheid-like pulsators (BL Her / anomalous Cepheids). Periods 0.05–1 d, amplitudes 0.05–1 mag.
//!
//! δ Scuti stars (Breger 2000; McNamara 2000 for HADS): periods 0.05–0.2 d; low-amplitude ones
//! are sinusoidal, HADS (≳ 0.3 mag) are asymmetric like RRab; about a third pulsate in a second
//! radial mode with period ratio ≈ 0.773 (first overtone / fundamental).

use crate::classes::cepheid::fundamental_mode_with_log_period;
use crate::classes::fourier::{wrap_angle, FourierShape, Pulsation};
use crate::classes::rr_lyrae::{rrab, rrc};
use crate::classes::Variability;
use crate::rng::Draw;

const MAX_PULSE_AMPLITUDE: f64 = 1.0;
const DELTA_SCUTI_OVERTONE_RATIO: f64 = 0.773;

pub(crate) fn atlas_pulse(times: &[f64], draw: &mut Draw) -> Variability {
    let (main_mode, extra_mode) = match draw.weighted_index(&[0.5, 0.15, 0.25, 0.1]) {
        0 => (rrab(draw), None),
        1 => (rrc(draw), None),
        2 => delta_scuti(draw),
        _ => {
            let log_period = draw.uniform_in(libm::log10(0.6), 0.0);
            (fundamental_mode_with_log_period(log_period, draw), None)
        }
    };
    // ATLAS o-band amplitudes of the brightest RRab exceed 1 mag only rarely; keep the class range.
    let amplitude_scale = (MAX_PULSE_AMPLITUDE / main_mode.amplitude_mag).min(1.0);
    let delta_mag = times
        .iter()
        .map(|&t| {
            let extra = extra_mode.as_ref().map_or(0.0, |mode| mode.delta_mag(t));
            amplitude_scale * (main_mode.delta_mag(t) + extra)
        })
        .collect();
    Variability {
        period_days: Some(main_mode.period_days),
        amplitude_mag: amplitude_scale * main_mode.amplitude_mag,
        delta_mag,
    }
}

/// Main mode and, for double-mode stars, the first overtone.
fn delta_scuti(draw: &mut Draw) -> (Pulsation, Option<Pulsation>) {
    let period = draw.log_uniform(0.05, 0.2);
    let amplitude = draw.log_uniform(0.05, 0.8);
    let is_high_amplitude = amplitude > 0.3;
    let shape = if is_high_amplitude {
        FourierShape::from_ratios(&[
            (draw.uniform_in(0.2, 0.4), wrap_angle(draw.normal(4.0, 0.3))),
            (
                draw.uniform_in(0.05, 0.2),
                wrap_angle(draw.normal(2.0, 0.4)),
            ),
        ])
    } else {
        FourierShape::from_ratios(&[(draw.uniform_in(0.0, 0.1), draw.angle())])
    };
    let main_mode = Pulsation::new(period, amplitude, shape, None, draw);
    let overtone = draw.chance(0.33).then(|| {
        let overtone_amplitude = amplitude * draw.uniform_in(0.2, 0.6);
        Pulsation::new(
            period * DELTA_SCUTI_OVERTONE_RATIO,
            overtone_amplitude,
            FourierShape::from_ratios(&[]),
            None,
            draw,
        )
    });
    (main_mode, overtone)
}
