//! Mean magnitudes: where each kind of star sits in the survey's photometric system.
//!
//! MACHO objects are LMC members, so pulsators follow period–luminosity relations at the LMC
//! distance, converted to MACHO instrumental R with r_M ≈ R − 23.7 (Alcock et al. 1999
//! calibration; puts LMC RR Lyrae at r_M ≈ −4.6). ATLAS objects are Galactic field stars at all
//! distances, so their magnitudes follow a smooth number-count law over the survey range
//! (median o ≈ 17).

use crate::classes::ClassKind;
use crate::rng::Draw;
use crate::Cadence;

/// MACHO instrumental r ≈ Kron–Cousins R − 23.7.
const MACHO_R_ZERO_POINT: f64 = 23.7;
/// Apparent V of LMC RR Lyrae (Clementini et al. 2003: ⟨V⟩ = 19.06 dereddened, plus A_V ≈ 0.35).
const LMC_RR_LYRAE_V: f64 = 19.4;
/// Apparent-V period–luminosity relation of LMC fundamental-mode Cepheids:
/// V0 = 17.04 − 2.76 log P (Udalski et al. 1999, OGLE-II) plus mean extinction A_V ≈ 0.4.
const LMC_CEPHEID_V_AT_1_DAY: f64 = 17.45;
const CEPHEID_PL_SLOPE: f64 = -2.76;
/// First-overtone periods are 0.71 of the fundamental (double-mode Cepheids, Alcock et al. 1995),
/// so an overtone pulsator is as bright as a fundamental one with period P / 0.71.
const FIRST_OVERTONE_PERIOD_RATIO: f64 = 0.71;

pub(crate) fn mean_magnitude(
    cadence: Cadence,
    kind: ClassKind,
    period_days: Option<f64>,
    draw: &mut Draw,
) -> f64 {
    match cadence {
        Cadence::Macho => macho_instrumental(kind, period_days, draw),
        Cadence::Atlas => atlas_apparent(kind, draw),
    }
}

fn macho_instrumental(kind: ClassKind, period_days: Option<f64>, draw: &mut Draw) -> f64 {
    let log_period = period_days.map(libm::log10).unwrap_or(0.0);
    match kind {
        ClassKind::RRab | ClassKind::RRc => {
            // Depth within the LMC, differential extinction and metallicity spread.
            let v = draw.normal(LMC_RR_LYRAE_V, 0.15);
            let v_minus_r = draw.normal(0.30, 0.05);
            v - v_minus_r - MACHO_R_ZERO_POINT
        }
        ClassKind::Cep0 | ClassKind::Cep1 => {
            let fundamental_log_period = if kind == ClassKind::Cep1 {
                log_period - libm::log10(FIRST_OVERTONE_PERIOD_RATIO)
            } else {
                log_period
            };
            let v = LMC_CEPHEID_V_AT_1_DAY
                + CEPHEID_PL_SLOPE * fundamental_log_period
                + draw.normal(0.0, 0.2);
            // Longer-period Cepheids are cooler and redder.
            let v_minus_r = 0.35 + 0.15 * fundamental_log_period + draw.normal(0.0, 0.04);
            v - v_minus_r - MACHO_R_ZERO_POINT
        }
        // Red giants: brighter with longer period (the LPV sequences of Wood et al. 1999).
        ClassKind::Lpv | ClassKind::Mira => {
            (-7.2 - 1.6 * (log_period - 2.0) + draw.normal(0.0, 0.5)).clamp(-10.5, -5.0)
        }
        // LMC eclipsing binaries range from bright massive systems to the detection limit.
        ClassKind::Ec | ClassKind::Cb | ClassKind::Db => number_count_law(draw, 0.3, -8.5, -3.5),
        ClassKind::NonVar | ClassKind::Other | ClassKind::Pulse => {
            number_count_law(draw, 0.35, -9.5, -3.3)
        }
    }
}

fn atlas_apparent(kind: ClassKind, draw: &mut Draw) -> f64 {
    match kind {
        // Miras are luminous and red: seen far away and bright in o; ATLAS saturates near 11.
        ClassKind::Mira | ClassKind::Lpv => number_count_law(draw, 0.15, 11.0, 16.5),
        // Catalogued variables are those bright enough for a confident detection, so the
        // magnitude distribution rises more slowly towards the limit than raw star counts.
        _ => number_count_law(draw, 0.15, 12.0, 18.8),
    }
}

/// Magnitude with density ∝ 10^(slope · m) on [bright, faint] (star counts rise towards faint
/// magnitudes), by inverse-CDF sampling.
fn number_count_law(draw: &mut Draw, slope: f64, bright: f64, faint: f64) -> f64 {
    let low = libm::pow(10.0, slope * bright);
    let high = libm::pow(10.0, slope * faint);
    let mag = libm::log10(low + draw.uniform() * (high - low)) / slope;
    mag.clamp(bright, faint)
}

#[cfg(test)]
mod brightness_tests {
    use super::*;
    use crate::rng::{object_key, Stream};

    fn sample(cadence: Cadence, kind: ClassKind, period: Option<f64>, n: u64) -> Vec<f64> {
        (0..n)
            .map(|i| {
                let mut draw = Draw::new(object_key(1, "b", i), Stream::Signal);
                mean_magnitude(cadence, kind, period, &mut draw)
            })
            .collect()
    }

    #[test]
    fn macho_magnitudes_are_instrumental_and_ordered_physically() {
        let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len() as f64;
        let rr = mean(sample(Cadence::Macho, ClassKind::RRab, Some(0.55), 200));
        let cep_short = mean(sample(Cadence::Macho, ClassKind::Cep0, Some(3.0), 200));
        let cep_long = mean(sample(Cadence::Macho, ClassKind::Cep0, Some(20.0), 200));
        let overtone = mean(sample(Cadence::Macho, ClassKind::Cep1, Some(3.0), 200));
        assert!((-5.0..-4.2).contains(&rr), "RR Lyrae {rr}");
        assert!(cep_long < cep_short && cep_short < rr);
        assert!(
            overtone < cep_short,
            "overtones are brighter at fixed period"
        );
        for mag in sample(Cadence::Macho, ClassKind::NonVar, None, 500) {
            assert!((-10.0..=-3.0).contains(&mag));
        }
    }

    #[test]
    fn atlas_magnitudes_stay_in_survey_range() {
        for mag in sample(Cadence::Atlas, ClassKind::Other, None, 500) {
            assert!((12.0..=19.0).contains(&mag));
        }
    }
}
