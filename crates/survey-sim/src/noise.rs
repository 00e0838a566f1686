//! Photometric errors and noise: CCD error law per survey, per-epoch seeing scatter, slightly
//! underestimated reported errors, and rare outliers.

use crate::rng::Draw;
use crate::Cadence;

/// `sigma(m)^2 = floor^2 + source * f + background * f^2`, `f = 10^(0.4 (m - reference_mag))`.
///
/// The `f` term is source photon noise (relative flux error ∝ F^-1/2), the `f^2` term sky and
/// read noise (∝ F^-1), and the floor flat-fielding / calibration. At `reference_mag` the error
/// is `sqrt(floor^2 + source + background)`.
struct ErrorLaw {
    floor: f64,
    source: f64,
    background: f64,
    reference_mag: f64,
}

impl ErrorLaw {
    fn sigma(&self, mag: f64) -> f64 {
        let relative_flux = libm::pow(10.0, 0.4 * (mag - self.reference_mag));
        libm::sqrt(
            self.floor * self.floor
                + self.source * relative_flux
                + self.background * relative_flux * relative_flux,
        )
    }
}

/// MACHO instrumental R: ~0.01 mag at -10, ~0.1 at -5, ~0.4 at -3 (Alcock et al. 1999 show
/// LMC RR Lyrae at r ≈ -4.5 with errors of 0.1–0.2 mag).
const MACHO_ERRORS: ErrorLaw = ErrorLaw {
    floor: 0.008,
    source: 0.04,
    background: 0.12,
    reference_mag: -3.0,
};
/// ATLAS o: ~0.01 mag at 12–13, ~0.45 at the 19 mag limit (Heinze et al. 2018, Fig. 2).
const ATLAS_ERRORS: ErrorLaw = ErrorLaw {
    floor: 0.006,
    source: 0.05,
    background: 0.15,
    reference_mag: 19.0,
};

/// Fraction of epochs hit by a bad-pixel / cloud / cosmic-ray outlier.
const OUTLIER_PROBABILITY: f64 = 0.005;
/// Largest outlier offset: bad frames of faint stars would otherwise throw points many
/// magnitudes off, which real pipelines reject.
const MAX_OUTLIER_OFFSET: f64 = 2.0;
/// Errors are never reported above this (such points are dropped by survey pipelines).
const MAX_REPORTED_ERROR: f64 = 1.5;
const MIN_REPORTED_ERROR: f64 = 0.002;

/// Observed magnitudes and reported errors for a noise-free magnitude series.
pub(crate) struct Photometry {
    pub(crate) mag: Vec<f64>,
    pub(crate) err: Vec<f64>,
}

pub(crate) fn observe(cadence: Cadence, true_mag: &[f64], draw: &mut Draw) -> Photometry {
    let law = match cadence {
        Cadence::Macho => &MACHO_ERRORS,
        Cadence::Atlas => &ATLAS_ERRORS,
    };
    // Crowding/blending makes some stars noisier than the law for their brightness.
    let object_quality = draw.lognormal_factor(0.15);
    // Pipelines tend to underestimate errors a little; the true scatter is this much larger.
    let error_underestimate = draw.uniform_in(0.9, 1.2);

    let mut mag = Vec::with_capacity(true_mag.len());
    let mut err = Vec::with_capacity(true_mag.len());
    for &model_mag in true_mag {
        // Seeing and sky vary from epoch to epoch.
        let epoch_quality = draw.lognormal_factor(0.25);
        let reported = (law.sigma(model_mag) * object_quality * epoch_quality)
            .clamp(MIN_REPORTED_ERROR, MAX_REPORTED_ERROR);
        let mut observed = model_mag + reported * error_underestimate * draw.standard_normal();
        if draw.chance(OUTLIER_PROBABILITY) {
            // Mostly spuriously faint (clouds, bad columns), sometimes bright (cosmic rays).
            let direction = if draw.chance(0.7) { 1.0 } else { -1.0 };
            observed += direction * (draw.uniform_in(3.0, 8.0) * reported).min(MAX_OUTLIER_OFFSET);
        }
        mag.push(observed);
        err.push(reported);
    }
    Photometry { mag, err }
}

#[cfg(test)]
mod noise_tests {
    use super::*;
    use crate::rng::{object_key, Stream};

    #[test]
    fn macho_error_law_spans_bright_to_faint() {
        assert!((0.008..0.015).contains(&MACHO_ERRORS.sigma(-10.0)));
        assert!((0.06..0.15).contains(&MACHO_ERRORS.sigma(-5.0)));
        assert!((0.3..0.5).contains(&MACHO_ERRORS.sigma(-3.0)));
    }

    #[test]
    fn atlas_error_law_spans_bright_to_faint() {
        assert!((0.006..0.015).contains(&ATLAS_ERRORS.sigma(12.0)));
        assert!((0.3..0.5).contains(&ATLAS_ERRORS.sigma(19.0)));
    }

    #[test]
    fn scatter_matches_reported_errors_roughly() {
        let mut draw = Draw::new(object_key(5, "NonVar", 0), Stream::Noise);
        let truth = vec![-6.0; 4000];
        let photometry = observe(Cadence::Macho, &truth, &mut draw);
        let normalised: Vec<f64> = photometry
            .mag
            .iter()
            .zip(&photometry.err)
            .map(|(m, e)| (m - (-6.0)) / e)
            .collect();
        let mut sorted = normalised.clone();
        sorted.sort_by(f64::total_cmp);
        // Robust sigma from the interquartile range, insensitive to the outliers.
        let robust_sigma = (sorted[3000] - sorted[1000]) / 1.349;
        assert!((0.85..1.3).contains(&robust_sigma), "{robust_sigma}");
        let outliers = normalised.iter().filter(|z| z.abs() > 4.5).count();
        assert!((2..=60).contains(&outliers), "{outliers} outliers");
        assert!(photometry.err.iter().all(|&e| e > 0.0));
    }
}
