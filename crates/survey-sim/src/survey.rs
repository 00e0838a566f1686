//! The public data types: what a survey asks for and what one simulated object looks like.

use serde::{Deserialize, Serialize};

/// Which survey's sampling, photometric system and noise a simulated survey mimics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cadence {
    /// MACHO LMC fields: ~7 yr baseline with seasons, a visit every ~3 d, instrumental R mags.
    Macho,
    /// ATLAS: o band, nights every ~2 d in seasons, 3–5 visits within an hour, apparent mags.
    Atlas,
}

impl Cadence {
    /// Band label stored with every curve.
    pub fn band(self) -> &'static str {
        match self {
            Cadence::Macho => "R",
            Cadence::Atlas => "o",
        }
    }
}

/// Parameters the curve was generated from, kept so experiments can check recovered values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueParams {
    /// Mean (nominal) period in days; `None` for constant and irregular stars.
    pub period_days: Option<f64>,
    /// Peak-to-peak amplitude of the noise-free light curve in magnitudes (for irregular
    /// variables: the 5–95 percentile range of the noise-free signal at the sampled epochs).
    pub amplitude_mag: f64,
    /// Mean magnitude of the noise-free model (phase average for periodic stars).
    pub mean_mag: f64,
}

/// One simulated light curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulatedCurve {
    /// `"{id_prefix}-{running index:06}"`, the running index counting over the whole survey in
    /// output order (e.g. `"alcock-000042"`).
    pub object_id: String,
    /// `"R"` for MACHO-like, `"o"` for ATLAS-like surveys.
    pub band: String,
    /// Class name; `"NonVar"` for constant stars.
    pub class: String,
    /// Epochs in days (MJD), strictly increasing, rounded to 1e-5 d.
    pub time: Vec<f64>,
    /// Observed magnitudes (fainter = larger), rounded to 1e-4 mag.
    pub mag: Vec<f64>,
    /// Reported 1-sigma magnitude errors, > 0, rounded to 1e-4 mag.
    pub err: Vec<f64>,
    pub truth: TrueParams,
}

/// What to simulate. Objects are generated in `class_counts` order, then by index within class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SurveySpec {
    /// Free-form label (not used by the generator, so renaming a survey keeps its output).
    pub name: String,
    pub cadence: Cadence,
    pub seed: u64,
    /// `(class name, number of objects)`; names from [`crate::KNOWN_CLASSES`], each once.
    pub class_counts: Vec<(String, usize)>,
    /// Prefix of every `object_id`.
    pub id_prefix: String,
}

impl SurveySpec {
    /// Total number of objects the spec asks for (saturating, so absurd counts cannot overflow).
    pub fn total_objects(&self) -> usize {
        self.class_counts
            .iter()
            .fold(0usize, |total, (_, count)| total.saturating_add(*count))
    }

    /// MACHO-like labelled survey with the Alcock class proportions.
    pub fn alcock(seed: u64, total: usize, min_per_class: usize) -> Self {
        Self::from_mix(
            "alcock",
            Cadence::Macho,
            seed,
            total,
            &crate::ALCOCK_CLASSES,
            min_per_class,
        )
    }

    /// ATLAS-like labelled survey with the ATLAS catalogue class proportions.
    pub fn atlas(seed: u64, total: usize, min_per_class: usize) -> Self {
        Self::from_mix(
            "atlas",
            Cadence::Atlas,
            seed,
            total,
            &crate::ATLAS_CLASSES,
            min_per_class,
        )
    }

    /// MACHO-like unlabelled pretraining survey ([`crate::MACHO_UNLABELED_MIX`]).
    pub fn macho_unlabeled(seed: u64, total: usize, min_per_class: usize) -> Self {
        Self::from_mix(
            "macho",
            Cadence::Macho,
            seed,
            total,
            &crate::MACHO_UNLABELED_MIX,
            min_per_class,
        )
    }

    /// MACHO-like unlabelled pretraining survey of variable stars only, in LMC proportions
    /// ([`crate::MACHO_LMC_VARIABLES_MIX`]).
    pub fn macho_lmc_variables(seed: u64, total: usize, min_per_class: usize) -> Self {
        Self::from_mix(
            "macho",
            Cadence::Macho,
            seed,
            total,
            &crate::MACHO_LMC_VARIABLES_MIX,
            min_per_class,
        )
    }

    fn from_mix(
        name: &str,
        cadence: Cadence,
        seed: u64,
        total: usize,
        mix: &[(&str, f64)],
        min_per_class: usize,
    ) -> Self {
        Self {
            name: name.to_string(),
            cadence,
            seed,
            // Classes that round to zero objects are left out of the spec.
            class_counts: crate::counts_in_proportion(total, mix, min_per_class)
                .into_iter()
                .filter(|(_, count)| *count > 0)
                .collect(),
            id_prefix: name.to_string(),
        }
    }
}
