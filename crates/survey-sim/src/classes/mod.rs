//! Variability models, one module per class family. Each model turns observation epochs into
//! noise-free magnitude offsets from the star's mean magnitude (fainter = positive).

mod cepheid;
mod eclipsing;
mod fourier;
mod irregular;
mod long_period;
mod pulse;
mod rr_lyrae;
mod stochastic;

use crate::rng::Draw;

/// Every class name `generate` accepts, in alphabetical (label) order.
pub const KNOWN_CLASSES: [&str; 12] = [
    "CB", "Cep_0", "Cep_1", "DB", "EC", "LPV", "Mira", "NonVar", "Other", "Pulse", "RRab", "RRc",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClassKind {
    /// ATLAS contact binary.
    Cb,
    /// Fundamental-mode classical Cepheid.
    Cep0,
    /// First-overtone classical Cepheid.
    Cep1,
    /// ATLAS detached binary.
    Db,
    /// MACHO eclipsing binary (contact, semi-detached and detached).
    Ec,
    /// MACHO long-period variable.
    Lpv,
    Mira,
    /// Constant star.
    NonVar,
    /// Irregular / stochastic / miscellaneous variability.
    Other,
    /// ATLAS short-period pulsator (RR Lyrae, δ Scuti, short Cepheids).
    Pulse,
    RRab,
    RRc,
}

impl ClassKind {
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "CB" => ClassKind::Cb,
            "Cep_0" => ClassKind::Cep0,
            "Cep_1" => ClassKind::Cep1,
            "DB" => ClassKind::Db,
            "EC" => ClassKind::Ec,
            "LPV" => ClassKind::Lpv,
            "Mira" => ClassKind::Mira,
            "NonVar" => ClassKind::NonVar,
            "Other" => ClassKind::Other,
            "Pulse" => ClassKind::Pulse,
            "RRab" => ClassKind::RRab,
            "RRc" => ClassKind::RRc,
            _ => return None,
        })
    }
}

/// Noise-free variability of one object.
#[derive(Clone, Debug)]
pub(crate) struct Variability {
    pub(crate) period_days: Option<f64>,
    pub(crate) amplitude_mag: f64,
    /// Offset from the mean magnitude at each epoch.
    pub(crate) delta_mag: Vec<f64>,
}

impl Variability {
    pub(crate) fn constant(len: usize) -> Self {
        Self {
            period_days: None,
            amplitude_mag: 0.0,
            delta_mag: vec![0.0; len],
        }
    }
}

pub(crate) fn simulate(kind: ClassKind, times: &[f64], draw: &mut Draw) -> Variability {
    let pulsation = |model: fourier::Pulsation| Variability {
        period_days: Some(model.period_days),
        amplitude_mag: model.amplitude_mag,
        delta_mag: model.light_curve(times),
    };
    match kind {
        ClassKind::NonVar => Variability::constant(times.len()),
        ClassKind::RRab => pulsation(rr_lyrae::rrab(draw)),
        ClassKind::RRc => pulsation(rr_lyrae::rrc(draw)),
        ClassKind::Cep0 => pulsation(cepheid::fundamental_mode(draw)),
        ClassKind::Cep1 => pulsation(cepheid::first_overtone(draw)),
        ClassKind::Ec => eclipsing::macho_ec(times, draw),
        ClassKind::Cb => eclipsing::contact_binary(times, draw),
        ClassKind::Db => eclipsing::detached_binary(times, draw),
        ClassKind::Lpv => long_period::macho_lpv(times, draw),
        ClassKind::Mira => long_period::atlas_mira(times, draw),
        ClassKind::Pulse => pulse::atlas_pulse(times, draw),
        ClassKind::Other => irregular::other(times, draw),
    }
}

#[cfg(test)]
mod class_name_tests {
    use super::*;

    #[test]
    fn every_known_name_parses_and_names_are_sorted() {
        for name in KNOWN_CLASSES {
            assert!(ClassKind::from_name(name).is_some(), "{name}");
        }
        let mut sorted = KNOWN_CLASSES;
        sorted.sort_unstable();
        assert_eq!(sorted, KNOWN_CLASSES);
        assert!(ClassKind::from_name("rrab").is_none());
    }
}

#[cfg(test)]
mod shape_tests;
