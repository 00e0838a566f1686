//! Fourier-series light curves of radial pulsators.
//!
//! Convention (OGLE, e.g. Soszyński et al. 2008, 2009):
//! `m(t) = A0 + Σ_k A_k cos(2π k φ + φ_k)`, `φ = (t − epoch) / P`, with the shape described by
//! the ratios `R_k1 = A_k / A_1` and phase differences `φ_k1 = φ_k − k φ_1` (Simon & Lee 1981).
//! Because `φ_k1` is invariant under a time shift we set `φ_1 = 0` and put the random phase in
//! the epoch. Magnitudes: fainter is larger, so a steep *rise in brightness* is a steep *drop*
//! in magnitude.

use std::f64::consts::TAU;

use crate::rng::Draw;

/// Phases sampled to measure the extremes of a shape; the error on the peak-to-peak amplitude
/// is below 1e-4 of it for the (≤ 5 harmonic) shapes used here.
const EXTREME_GRID_POINTS: usize = 1024;

#[derive(Clone, Debug)]
pub(crate) struct FourierShape {
    /// `(A_k, φ_k)` for k = 1, 2, ...
    harmonics: Vec<(f64, f64)>,
}

impl FourierShape {
    /// Shape from `(R_k1, φ_k1)` for k = 2, 3, ..., with unit first-harmonic amplitude.
    pub(crate) fn from_ratios(higher_harmonics: &[(f64, f64)]) -> Self {
        let mut harmonics = Vec::with_capacity(higher_harmonics.len() + 1);
        harmonics.push((1.0, 0.0));
        harmonics.extend(
            higher_harmonics
                .iter()
                .map(|&(ratio, phase)| (ratio.max(0.0), phase)),
        );
        Self { harmonics }
    }

    /// Magnitude offset at `phase` (in cycles); the phase average is exactly zero.
    pub(crate) fn value(&self, phase: f64) -> f64 {
        let phase = phase - phase.floor();
        self.harmonics
            .iter()
            .enumerate()
            .map(|(index, &(amplitude, phi))| {
                amplitude * libm::cos(TAU * (index + 1) as f64 * phase + phi)
            })
            .sum()
    }

    /// (minimum, maximum) over one cycle.
    pub(crate) fn extremes(&self) -> (f64, f64) {
        (0..EXTREME_GRID_POINTS)
            .map(|i| self.value(i as f64 / EXTREME_GRID_POINTS as f64))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| {
                (low.min(v), high.max(v))
            })
    }

    /// The same shape rescaled to the given peak-to-peak amplitude in magnitudes.
    pub(crate) fn with_peak_to_peak(mut self, amplitude: f64) -> Self {
        let (low, high) = self.extremes();
        let current = high - low;
        if current > 0.0 {
            let scale = amplitude / current;
            for harmonic in &mut self.harmonics {
                harmonic.0 *= scale;
            }
        }
        self
    }
}

/// Slow modulation of the pulsation amplitude (the Blazhko effect of RR Lyrae, Blažko 1907;
/// ~20% of LMC RRab per Soszyński et al. 2009).
#[derive(Clone, Debug)]
pub(crate) struct AmplitudeModulation {
    pub(crate) period_days: f64,
    pub(crate) depth: f64,
    pub(crate) phase: f64,
}

impl AmplitudeModulation {
    pub(crate) fn draw(draw: &mut Draw, min_period: f64, max_period: f64, max_depth: f64) -> Self {
        Self {
            period_days: draw.log_uniform(min_period, max_period),
            depth: draw.uniform_in(0.05, max_depth),
            phase: draw.angle(),
        }
    }

    fn factor(&self, time: f64) -> f64 {
        1.0 + self.depth * libm::sin(TAU * time / self.period_days + self.phase)
    }
}

/// A strictly periodic pulsator with an optional amplitude modulation.
#[derive(Clone, Debug)]
pub(crate) struct Pulsation {
    pub(crate) period_days: f64,
    /// Peak-to-peak amplitude of the unmodulated curve.
    pub(crate) amplitude_mag: f64,
    epoch: f64,
    shape: FourierShape,
    modulation: Option<AmplitudeModulation>,
}

impl Pulsation {
    /// `shape` is rescaled to `amplitude_mag`; the epoch (phase zero) is drawn uniformly.
    pub(crate) fn new(
        period_days: f64,
        amplitude_mag: f64,
        shape: FourierShape,
        modulation: Option<AmplitudeModulation>,
        draw: &mut Draw,
    ) -> Self {
        Self {
            period_days,
            amplitude_mag,
            epoch: draw.uniform_in(0.0, period_days),
            shape: shape.with_peak_to_peak(amplitude_mag),
            modulation,
        }
    }

    pub(crate) fn delta_mag(&self, time: f64) -> f64 {
        let offset = self.shape.value((time - self.epoch) / self.period_days);
        match &self.modulation {
            Some(modulation) => offset * modulation.factor(time),
            None => offset,
        }
    }

    pub(crate) fn light_curve(&self, times: &[f64]) -> Vec<f64> {
        times.iter().map(|&t| self.delta_mag(t)).collect()
    }
}

/// Wraps an angle into [0, 2π).
pub(crate) fn wrap_angle(angle: f64) -> f64 {
    angle - TAU * (angle / TAU).floor()
}

#[cfg(test)]
mod fourier_tests {
    use super::*;

    #[test]
    fn rescaling_sets_peak_to_peak_and_zero_mean() {
        let shape = FourierShape::from_ratios(&[(0.47, 4.0), (0.32, 1.9)]).with_peak_to_peak(0.8);
        let (low, high) = shape.extremes();
        assert!((high - low - 0.8).abs() < 1e-9);
        let mean: f64 = (0..1000)
            .map(|i| shape.value(i as f64 / 1000.0))
            .sum::<f64>()
            / 1000.0;
        assert!(mean.abs() < 1e-12);
    }

    #[test]
    fn value_is_periodic() {
        let shape = FourierShape::from_ratios(&[(0.3, 1.0)]);
        assert!((shape.value(0.3) - shape.value(17.3)).abs() < 1e-9);
    }
}
