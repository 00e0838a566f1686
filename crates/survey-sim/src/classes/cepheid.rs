//! Classical Cepheids: fundamental mode (Cep_0) and first overtone (Cep_1).
//!
//! Period distributions follow the OGLE-III LMC Cepheids (Soszyński et al. 2008, AcA 58, 163):
//! fundamental-mode periods peak near 3–4 d (log P ≈ 0.5) and reach ~30 d; first-overtone
//! periods peak near 2 d and stop at ~6 d. Fundamental-mode shapes follow the Hertzsprung
//! progression (Hertzsprung 1926; Simon & Lee 1981; Soszyński et al. 2008, Fig. 4): R21 is
//! ≈ 0.4–0.5 except for a deep minimum near P ≈ 10 d where the secondary bump crosses maximum
//! light, and φ21 rises slowly with period, dips sharply at ≈ 10 d, then recovers. First
//! overtones are nearly sinusoidal (R21 ≈ 0.1–0.2) with lower amplitudes.
//!
//! The two modes overlap in period (2–6 d) and amplitude (0.3–0.5 mag), and short-period
//! fundamental pulsators with weak harmonics look like overtones, as in real data.

use crate::classes::fourier::{wrap_angle, FourierShape, Pulsation};
use crate::rng::Draw;

/// Centre and half-width (in log P) of the Hertzsprung-progression resonance.
const HERTZSPRUNG_LOG_PERIOD: f64 = 1.0;
const HERTZSPRUNG_WIDTH: f64 = 0.09;

pub(crate) fn fundamental_mode(draw: &mut Draw) -> Pulsation {
    let log_period = draw.truncated_normal(0.52, 0.22, libm::log10(2.0), libm::log10(30.0));
    fundamental_mode_with_log_period(log_period, draw)
}

/// Fundamental-mode model for a given log-period; also used for short-period Cepheid-like
/// pulsators in the ATLAS `Pulse` class.
pub(crate) fn fundamental_mode_with_log_period(log_period: f64, draw: &mut Draw) -> Pulsation {
    let period = libm::pow(10.0, log_period);
    let resonance = hertzsprung_resonance(log_period);
    // The phase differences grow with log P between P ≈ 2 d and ≈ 9 d, then level off.
    let progression = ((log_period - 0.3) / 0.65).clamp(0.0, 1.0);
    let amplitude = draw.truncated_normal(
        0.6 + 0.25 * (log_period - 0.5) - 0.15 * resonance,
        0.15,
        0.3,
        1.0,
    );
    let shape = FourierShape::from_ratios(&[
        (
            draw.truncated_normal(0.42 - 0.27 * resonance, 0.06, 0.05, 0.6),
            wrap_angle(draw.normal(4.0 + 0.6 * progression - 1.1 * resonance, 0.15)),
        ),
        (
            draw.truncated_normal(0.25 - 0.15 * resonance, 0.05, 0.02, 0.4),
            wrap_angle(draw.normal(1.9 + 0.8 * progression - 0.6 * resonance, 0.25)),
        ),
        (
            draw.truncated_normal(0.12, 0.04, 0.0, 0.25),
            wrap_angle(draw.normal(5.9, 0.4)),
        ),
    ]);
    Pulsation::new(period, amplitude, shape, None, draw)
}

pub(crate) fn first_overtone(draw: &mut Draw) -> Pulsation {
    let log_period = draw.truncated_normal(0.3, 0.15, libm::log10(0.5), libm::log10(6.0));
    let period = libm::pow(10.0, log_period);
    let amplitude = draw.truncated_normal(0.28, 0.09, 0.1, 0.5);
    let shape = FourierShape::from_ratios(&[
        (
            draw.truncated_normal(0.15, 0.06, 0.02, 0.35),
            wrap_angle(draw.normal(4.6 + 0.3 * (log_period - 0.3), 0.25)),
        ),
        (
            draw.truncated_normal(0.06, 0.03, 0.0, 0.15),
            wrap_angle(draw.normal(3.0, 0.5)),
        ),
    ]);
    Pulsation::new(period, amplitude, shape, None, draw)
}

/// 1 at the Hertzsprung resonance (P ≈ 10 d), falling to 0 away from it.
fn hertzsprung_resonance(log_period: f64) -> f64 {
    let distance = (log_period - HERTZSPRUNG_LOG_PERIOD) / HERTZSPRUNG_WIDTH;
    libm::exp(-distance * distance)
}
