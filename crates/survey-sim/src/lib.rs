//! Deterministic synthetic variable-star surveys: the offline default data of astromer-rs.
//!
//! [`generate`] turns a [`SurveySpec`] (cadence, seed, class counts) into light curves that
//! mimic MACHO (LMC, instrumental R, ~7 yr seasons) or ATLAS (o band, intra-night visits)
//! photometry of physically motivated variable-star classes. The same spec gives bit-identical
//! output on every machine; each object depends only on `(seed, class name, index within class)`.
//! Models, parameter ranges and sources are documented in `docs/simulation.md`.
//!
//! ```
//! use survey_sim::{generate, SurveySpec};
//! let spec = SurveySpec::alcock(42, 12, 1);
//! let curves = generate(&spec).unwrap();
//! assert_eq!(curves.len(), 12);
//! assert_eq!(curves[0].class, "Cep_0");
//! ```

mod brightness;
pub mod causal;
mod cadence;
mod catalog;
mod classes;
mod error;
mod noise;
mod rng;
mod stats;
mod survey;

#[cfg(test)]
mod test_support;

pub use catalog::{
    counts_in_proportion, ALCOCK_CLASSES, ATLAS_CLASSES, MACHO_LMC_VARIABLES_MIX, MACHO_UNLABELED_MIX,
};
pub use classes::KNOWN_CLASSES;
pub use error::SimError;
pub use survey::{Cadence, SimulatedCurve, SurveySpec, TrueParams};

use classes::ClassKind;
use rng::{Draw, Stream};

/// Identifies the generative model. Bump whenever any output changes for some spec (model,
/// parameter, rounding or RNG-mixing change), so cached data sets can be invalidated.
pub const GENERATOR_VERSION: &str = "survey-sim/1";

/// Output rounding: epochs to 1e-5 d (≈ 1 s), magnitudes and errors to 1e-4 mag.
const TIME_DECIMALS_SCALE: f64 = 1e5;
const MAG_DECIMALS_SCALE: f64 = 1e4;
const MIN_ROUNDED_ERROR: f64 = 1e-4;

/// Simulates every object of `spec`, in `class_counts` order, then by index within class.
/// Classes with a count of 0 contribute nothing; a spec with no objects at all is an error.
pub fn generate(spec: &SurveySpec) -> Result<Vec<SimulatedCurve>, SimError> {
    Ok(generate_iter(spec)?.collect())
}

/// Like [`generate`] but lazily, one curve at a time (for surveys too large to hold in memory).
/// The spec is validated up front, so the iterator itself cannot fail.
pub fn generate_iter(
    spec: &SurveySpec,
) -> Result<impl Iterator<Item = SimulatedCurve> + '_, SimError> {
    let kinds = validate(spec)?;
    let objects = spec
        .class_counts
        .iter()
        .zip(kinds)
        .flat_map(|((class, count), kind)| (0..*count).map(move |index| (class, kind, index)));
    Ok(objects
        .enumerate()
        .map(move |(running_index, (class, kind, index_in_class))| {
            let object_id = format!("{}-{:06}", spec.id_prefix, running_index);
            simulate_known_object(
                spec.cadence,
                spec.seed,
                class,
                kind,
                index_in_class as u64,
                object_id,
            )
        }))
}

/// Simulates one object directly: identical to the curve `generate` produces for the
/// `index_in_class`-th object of `class` in any survey with the same cadence and seed (apart
/// from `object_id`, which is whatever the caller passes).
pub fn simulate_object(
    cadence: Cadence,
    seed: u64,
    class: &str,
    index_in_class: u64,
    object_id: impl Into<String>,
) -> Result<SimulatedCurve, SimError> {
    let kind = parse_class(class)?;
    Ok(simulate_known_object(
        cadence,
        seed,
        class,
        kind,
        index_in_class,
        object_id.into(),
    ))
}

fn parse_class(name: &str) -> Result<ClassKind, SimError> {
    ClassKind::from_name(name).ok_or_else(|| SimError::UnknownClass {
        name: name.to_string(),
        known: KNOWN_CLASSES.join(", "),
    })
}

fn validate(spec: &SurveySpec) -> Result<Vec<ClassKind>, SimError> {
    if spec.class_counts.is_empty() {
        return Err(SimError::EmptySurvey);
    }
    let mut kinds = Vec::with_capacity(spec.class_counts.len());
    for (position, (class, _)) in spec.class_counts.iter().enumerate() {
        kinds.push(parse_class(class)?);
        if spec.class_counts[..position]
            .iter()
            .any(|(earlier, _)| earlier == class)
        {
            return Err(SimError::DuplicateClass {
                class: class.clone(),
            });
        }
    }
    if spec.total_objects() == 0 {
        return Err(SimError::ZeroCounts);
    }
    Ok(kinds)
}

fn simulate_known_object(
    cadence: Cadence,
    seed: u64,
    class: &str,
    kind: ClassKind,
    index_in_class: u64,
    object_id: String,
) -> SimulatedCurve {
    let key = rng::object_key(seed, class, index_in_class);
    let times = cadence::observation_times(cadence, &mut Draw::new(key, Stream::Cadence));
    // Round epochs first so the model is evaluated at exactly the published times, then drop
    // any epoch that rounding made equal to its predecessor (keeps time strictly increasing).
    let mut times: Vec<f64> = times
        .into_iter()
        .map(|t| round_to(t, TIME_DECIMALS_SCALE))
        .collect();
    times.dedup_by(|later, earlier| *later <= *earlier);

    let mut signal_draw = Draw::new(key, Stream::Signal);
    let variability = classes::simulate(kind, &times, &mut signal_draw);
    let mean_mag =
        brightness::mean_magnitude(cadence, kind, variability.period_days, &mut signal_draw);
    let true_mag: Vec<f64> = variability
        .delta_mag
        .iter()
        .map(|delta| mean_mag + delta)
        .collect();
    let photometry = noise::observe(cadence, &true_mag, &mut Draw::new(key, Stream::Noise));

    SimulatedCurve {
        object_id,
        band: cadence.band().to_string(),
        class: class.to_string(),
        time: times,
        mag: photometry
            .mag
            .into_iter()
            .map(|m| round_to(m, MAG_DECIMALS_SCALE))
            .collect(),
        err: photometry
            .err
            .into_iter()
            .map(|e| round_to(e, MAG_DECIMALS_SCALE).max(MIN_ROUNDED_ERROR))
            .collect(),
        truth: TrueParams {
            period_days: variability.period_days,
            amplitude_mag: round_to(variability.amplitude_mag, MAG_DECIMALS_SCALE),
            mean_mag: round_to(mean_mag, MAG_DECIMALS_SCALE),
        },
    }
}

/// Rounds half away from zero to `1 / scale` (`f64::round` is exact and platform independent).
fn round_to(value: f64, scale: f64) -> f64 {
    (value * scale).round() / scale
}

#[cfg(test)]
mod determinism_tests {
    use super::*;

    fn bits(curves: &[SimulatedCurve]) -> Vec<Vec<u64>> {
        curves
            .iter()
            .map(|curve| {
                let mut all: Vec<u64> = curve
                    .time
                    .iter()
                    .chain(&curve.mag)
                    .chain(&curve.err)
                    .map(|v| v.to_bits())
                    .collect();
                all.push(curve.truth.amplitude_mag.to_bits());
                all.push(curve.truth.mean_mag.to_bits());
                all.push(curve.truth.period_days.unwrap_or(-1.0).to_bits());
                all
            })
            .collect()
    }

    fn spec(seed: u64, cadence: Cadence, counts: &[(&str, usize)]) -> SurveySpec {
        SurveySpec {
            name: "test".into(),
            cadence,
            seed,
            class_counts: counts.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
            id_prefix: "t".into(),
        }
    }

    #[test]
    fn same_spec_gives_bit_identical_output() {
        for cadence in [Cadence::Macho, Cadence::Atlas] {
            let spec = spec(
                11,
                cadence,
                &[
                    ("RRab", 2),
                    ("EC", 2),
                    ("LPV", 1),
                    ("Other", 2),
                    ("NonVar", 1),
                ],
            );
            let first = generate(&spec).unwrap();
            let second = generate(&spec).unwrap();
            assert_eq!(bits(&first), bits(&second));
            assert_eq!(first, second);
        }
    }

    #[test]
    fn different_seeds_differ() {
        let a = generate(&spec(1, Cadence::Macho, &[("RRc", 3)])).unwrap();
        let b = generate(&spec(2, Cadence::Macho, &[("RRc", 3)])).unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert_ne!(x.time, y.time);
            assert_ne!(x.mag, y.mag);
        }
    }

    #[test]
    fn objects_do_not_depend_on_survey_size_or_other_classes() {
        let small = generate(&spec(5, Cadence::Atlas, &[("Pulse", 10)])).unwrap();
        let large = generate(&spec(5, Cadence::Atlas, &[("CB", 3), ("Pulse", 20)])).unwrap();
        let large_pulse: Vec<&SimulatedCurve> =
            large.iter().filter(|c| c.class == "Pulse").collect();
        for (k, curve) in small.iter().enumerate() {
            assert_eq!(
                bits(std::slice::from_ref(curve)),
                bits(std::slice::from_ref(large_pulse[k]))
            );
        }
        let direct = simulate_object(Cadence::Atlas, 5, "Pulse", 7, "x").unwrap();
        assert_eq!(direct.mag, small[7].mag);
    }

    #[test]
    fn ids_count_over_the_survey_in_output_order() {
        let curves = generate(&spec(5, Cadence::Macho, &[("RRab", 2), ("RRc", 2)])).unwrap();
        let ids: Vec<&str> = curves.iter().map(|c| c.object_id.as_str()).collect();
        assert_eq!(ids, ["t-000000", "t-000001", "t-000002", "t-000003"]);
        let classes: Vec<&str> = curves.iter().map(|c| c.class.as_str()).collect();
        assert_eq!(classes, ["RRab", "RRab", "RRc", "RRc"]);
    }

    /// Hash of one object of every class under both cadences (all outputs, truth included).
    fn fingerprint_of_all_models() -> u64 {
        let mut hash = 0u64;
        for cadence in [Cadence::Macho, Cadence::Atlas] {
            let all_classes = spec(1, cadence, &KNOWN_CLASSES.map(|class| (class, 1)));
            for word in bits(&generate(&all_classes).unwrap()).concat() {
                hash = rng::splitmix64(hash ^ word);
            }
        }
        hash
    }

    #[test]
    fn pinned_fingerprint_detects_unintended_output_changes() {
        // A failure here means the generated data changed. If that was intended, bump
        // GENERATOR_VERSION (and the data manifests that pin it) and update both constants.
        assert_eq!(GENERATOR_VERSION, "survey-sim/1");
        let fingerprint = fingerprint_of_all_models();
        assert_eq!(
            fingerprint, REFERENCE_FINGERPRINT,
            "new fingerprint {fingerprint:#018x}"
        );
    }

    const REFERENCE_FINGERPRINT: u64 = 0x9bd3_b2d3_051b_0c8a;
}

#[cfg(test)]
mod validation_tests {
    use super::*;

    fn spec_with(counts: Vec<(String, usize)>) -> SurveySpec {
        SurveySpec {
            name: "v".into(),
            cadence: Cadence::Macho,
            seed: 0,
            class_counts: counts,
            id_prefix: "v".into(),
        }
    }

    #[test]
    fn bad_specs_are_errors_not_panics() {
        assert_eq!(generate(&spec_with(vec![])), Err(SimError::EmptySurvey));
        assert!(matches!(
            generate(&spec_with(vec![("RRd".into(), 3)])),
            Err(SimError::UnknownClass { name, .. }) if name == "RRd"
        ));
        assert_eq!(
            generate(&spec_with(vec![("RRab".into(), 0), ("RRc".into(), 0)])),
            Err(SimError::ZeroCounts)
        );
        // A single empty class is fine: it just contributes no objects.
        let curves = generate(&spec_with(vec![("RRab".into(), 0), ("RRc".into(), 2)])).unwrap();
        assert_eq!(curves.len(), 2);
        assert_eq!(
            generate(&spec_with(vec![("RRab".into(), 1), ("RRab".into(), 2)])),
            Err(SimError::DuplicateClass {
                class: "RRab".into()
            })
        );
        assert!(simulate_object(Cadence::Atlas, 0, "", 0, "x").is_err());
    }

    #[test]
    fn presets_follow_the_catalogue_mixes() {
        let alcock = SurveySpec::alcock(1, 100, 2);
        assert_eq!(alcock.total_objects(), 100);
        assert_eq!(alcock.cadence, Cadence::Macho);
        let names: Vec<&str> = alcock
            .class_counts
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["Cep_0", "Cep_1", "EC", "LPV", "RRab", "RRc"]);
        let atlas = SurveySpec::atlas(1, 3, 0);
        assert!(
            atlas.class_counts.iter().all(|(_, n)| *n > 0),
            "zero-count classes are dropped"
        );
        assert!(generate(&atlas).is_ok());
        assert_eq!(SurveySpec::macho_unlabeled(1, 50, 0).total_objects(), 50);
    }
}

#[cfg(test)]
mod validity_tests {
    use super::*;

    #[test]
    fn every_curve_is_sorted_finite_and_has_positive_errors() {
        for (cadence, seed) in [(Cadence::Macho, 3), (Cadence::Atlas, 4)] {
            let spec = SurveySpec {
                name: "all".into(),
                cadence,
                seed,
                class_counts: KNOWN_CLASSES.iter().map(|c| (c.to_string(), 3)).collect(),
                id_prefix: "all".into(),
            };
            for curve in generate(&spec).unwrap() {
                let n = curve.time.len();
                assert!(n >= 100, "{} has {n} points", curve.object_id);
                assert_eq!(curve.mag.len(), n);
                assert_eq!(curve.err.len(), n);
                assert!(
                    curve.time.windows(2).all(|w| w[1] > w[0]),
                    "{} not increasing",
                    curve.class
                );
                assert!(curve
                    .time
                    .iter()
                    .chain(&curve.mag)
                    .chain(&curve.err)
                    .all(|v| v.is_finite()));
                assert!(curve.err.iter().all(|&e| e > 0.0));
                assert_eq!(curve.band, cadence.band());
                assert!(curve.truth.amplitude_mag.is_finite() && curve.truth.amplitude_mag >= 0.0);
                assert_eq!(
                    curve.truth.period_days.is_none(),
                    matches!(curve.class.as_str(), "NonVar" | "Other")
                );
                let (low, high) = match cadence {
                    Cadence::Macho => (-12.0, 0.0),
                    Cadence::Atlas => (9.0, 23.0),
                };
                assert!(
                    curve.mag.iter().all(|m| (low..high).contains(m)),
                    "{} mags out of range: mean {} amplitude {} extremes {:?}",
                    curve.class,
                    curve.truth.mean_mag,
                    curve.truth.amplitude_mag,
                    (
                        stats::quantile(&curve.mag, 0.0),
                        stats::quantile(&curve.mag, 1.0)
                    )
                );
                // Outputs are already on the rounding grid.
                assert!(curve
                    .mag
                    .iter()
                    .all(|&m| round_to(m, MAG_DECIMALS_SCALE) == m));
                assert!(curve
                    .time
                    .iter()
                    .all(|&t| round_to(t, TIME_DECIMALS_SCALE) == t));
            }
        }
    }
}
