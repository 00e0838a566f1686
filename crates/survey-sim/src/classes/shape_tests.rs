//! End-to-end checks that the generated classes have their defining shapes, measured the way a
//! survey pipeline would: a least-squares Fourier fit at the (known) period.

use crate::test_support::{fitted_phase_curve, median, rise_fraction, robust_peak_to_peak};
use crate::{generate, Cadence, SimulatedCurve, SurveySpec};

const FIT_HARMONICS: usize = 4;
const PHASE_GRID: usize = 200;

fn survey(cadence: Cadence, class: &str, count: usize) -> Vec<SimulatedCurve> {
    let spec = SurveySpec {
        name: "shapes".into(),
        cadence,
        seed: 77,
        class_counts: vec![(class.to_string(), count)],
        id_prefix: "s".into(),
    };
    generate(&spec).unwrap_or_default()
}

fn fitted(curve: &SimulatedCurve) -> Vec<f64> {
    let period = curve.truth.period_days.unwrap_or(1.0);
    fitted_phase_curve(
        &curve.time,
        &curve.mag,
        &curve.err,
        period,
        FIT_HARMONICS,
        PHASE_GRID,
    )
}

fn peak_to_peak(values: &[f64]) -> f64 {
    values.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b))
        - values.iter().fold(f64::INFINITY, |a, &b| a.min(b))
}

#[test]
fn rrab_rise_steeply_and_rrc_are_near_sinusoidal() {
    let rise = |class| -> Vec<f64> {
        survey(Cadence::Macho, class, 25)
            .iter()
            .map(|curve| rise_fraction(&fitted(curve)))
            .collect()
    };
    let (rrab, rrc) = (rise("RRab"), rise("RRc"));
    assert!(
        median(&rrab) < 0.3,
        "RRab median rise fraction {} in {rrab:?}",
        median(&rrab)
    );
    assert!(
        median(&rrc) > 0.35,
        "RRc median rise fraction {} in {rrc:?}",
        median(&rrc)
    );
    // The classes overlap in their tails but are separated on average.
    assert!(rrab.iter().filter(|&&r| r < 0.35).count() >= 20, "{rrab:?}");
}

#[test]
fn fundamental_cepheids_are_more_asymmetric_than_overtones() {
    let rise = |class| -> Vec<f64> {
        survey(Cadence::Macho, class, 25)
            .iter()
            .map(|curve| rise_fraction(&fitted(curve)))
            .collect()
    };
    let (fundamental, overtone) = (rise("Cep_0"), rise("Cep_1"));
    assert!(
        median(&fundamental) < median(&overtone),
        "F {fundamental:?} 1O {overtone:?}"
    );
}

#[test]
fn fitted_amplitude_matches_true_amplitude_for_pulsators() {
    for class in ["RRab", "RRc", "Cep_0", "Cep_1"] {
        let ratios: Vec<f64> = survey(Cadence::Macho, class, 20)
            .iter()
            .map(|curve| peak_to_peak(&fitted(curve)) / curve.truth.amplitude_mag)
            .collect();
        let typical = median(&ratios);
        assert!(
            (0.9..1.12).contains(&typical),
            "{class}: fitted/true amplitude {typical} in {ratios:?}"
        );
    }
}

#[test]
fn robust_amplitude_matches_true_amplitude_at_high_signal_to_noise() {
    // ATLAS pulsators include bright stars with errors far below their amplitudes.
    let ratios: Vec<f64> = survey(Cadence::Atlas, "Pulse", 60)
        .iter()
        .filter(|curve| median(&curve.err) < curve.truth.amplitude_mag / 10.0)
        .map(|curve| robust_peak_to_peak(&curve.mag) / curve.truth.amplitude_mag)
        .collect();
    assert!(ratios.len() >= 10, "only {} high-S/N curves", ratios.len());
    let typical = median(&ratios);
    assert!(
        (0.85..1.15).contains(&typical),
        "robust/true amplitude {typical} in {ratios:?}"
    );
}
