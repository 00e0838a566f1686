//! RR Lyrae stars: fundamental-mode RRab and first-overtone RRc.
//!
//! Fourier parameters follow the OGLE-III LMC RR Lyrae sample (Soszyński et al. 2009, AcA 59, 1,
//! I band, cosine series): RRab have R21 ≈ 0.45–0.5, R31 ≈ 0.3, φ21 ≈ 4.0, φ31 ≈ 1.9 — a
//! sawtooth whose brightening takes ~15–20% of the cycle; RRc have R21 ≈ 0.1–0.2 and are close
//! to sinusoidal. Periods: RRab ⟨P⟩ = 0.576 d, RRc ⟨P⟩ = 0.339 d in the LMC. Amplitudes (R band,
//! ≈ 0.8 × V) decrease with period along the Bailey diagram (Cacciari et al. 2005).
//!
//! The two types deliberately overlap: long-period, low-amplitude RRab with weak harmonics reach
//! into the RRc tails of period, amplitude and R21, as in real surveys.

use crate::classes::fourier::{wrap_angle, AmplitudeModulation, FourierShape, Pulsation};
use crate::rng::Draw;

pub(crate) fn rrab(draw: &mut Draw) -> Pulsation {
    let period = draw.truncated_normal(0.58, 0.08, 0.42, 0.9);
    // Bailey diagram: shorter period, larger amplitude; scatter covers Oosterhoff groups.
    let amplitude = draw.truncated_normal(2.45 - 2.7 * period, 0.12, 0.45, 1.25);
    // Weaker harmonics for low-amplitude stars (Jurcsik & Kovács 1996: amplitude and Fourier
    // ratios are correlated), which is where RRab become RRc-like.
    let amplitude_weakening = ((0.9 - amplitude) * 0.15).max(0.0);
    let shape = FourierShape::from_ratios(&[
        (
            draw.truncated_normal(0.47 - amplitude_weakening, 0.05, 0.25, 0.6),
            wrap_angle(draw.normal(4.0, 0.15)),
        ),
        (
            draw.truncated_normal(0.32 - amplitude_weakening, 0.05, 0.1, 0.45),
            wrap_angle(draw.normal(1.9, 0.2)),
        ),
        (
            draw.truncated_normal(0.21, 0.05, 0.03, 0.35),
            wrap_angle(draw.normal(5.8, 0.3)),
        ),
        (
            draw.truncated_normal(0.13, 0.04, 0.0, 0.25),
            wrap_angle(draw.normal(3.6, 0.4)),
        ),
    ]);
    let modulation = draw
        .chance(0.2)
        .then(|| AmplitudeModulation::draw(draw, 20.0, 200.0, 0.3));
    Pulsation::new(period, amplitude, shape, modulation, draw)
}

pub(crate) fn rrc(draw: &mut Draw) -> Pulsation {
    let period = draw.truncated_normal(0.335, 0.04, 0.22, 0.46);
    let amplitude = draw.truncated_normal(0.42, 0.08, 0.2, 0.65);
    let shape = FourierShape::from_ratios(&[
        (
            draw.truncated_normal(0.14, 0.045, 0.03, 0.3),
            wrap_angle(draw.normal(4.75, 0.3)),
        ),
        (
            draw.truncated_normal(0.07, 0.03, 0.0, 0.15),
            wrap_angle(draw.normal(3.0, 0.5)),
        ),
        (
            draw.truncated_normal(0.04, 0.02, 0.0, 0.1),
            wrap_angle(draw.normal(1.6, 0.7)),
        ),
    ]);
    let modulation = draw
        .chance(0.08)
        .then(|| AmplitudeModulation::draw(draw, 20.0, 200.0, 0.2));
    Pulsation::new(period, amplitude, shape, modulation, draw)
}
