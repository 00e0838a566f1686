//! Classical light-curve features and a random forest on them: the hand-made baseline that every
//! light-curve foundation model is asked to beat first.
//!
//! [`extract`] computes [`FEATURE_NAMES`] for one curve (raw magnitudes, days; the cleaning of
//! `crates/lightcurve` has run): sampling (count, span, cadence), moments, robust amplitudes,
//! variability indices (Beyond1Std, Stetson K, von Neumann η) and the periodic signal (best
//! Lomb–Scargle period and power, amplitude and smoothness of the folded curve). Definitions and
//! sources are in each module of [`features`] and in `docs/classical.md`; the selection follows
//! Richards et al. (2011, ApJ 733, 10) and the FATS library (Nun et al. 2015).
//!
//! [`RandomForest`] wraps `smartcore`'s random forest (Gini, √F features per split) with a fixed
//! seed, so the same data give the same forest.

pub mod features;

use lightcurve::LightCurve;
use smartcore::ensemble::random_forest_classifier::{RandomForestClassifier, RandomForestClassifierParameters};
use smartcore::linalg::basic::matrix::DenseMatrix;

/// The features, in the order of [`extract`]'s output.
pub const FEATURE_NAMES: [&str; 16] = [
    "n_obs_log10",
    "time_span_log10",
    "median_dt_log10",
    "std",
    "skewness",
    "kurtosis",
    "amplitude_p95_p5",
    "iqr",
    "mad",
    "beyond_1std",
    "stetson_k",
    "eta",
    "period_log10",
    "period_power",
    "folded_amplitude",
    "folded_eta",
];

/// Number of features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// How the periodic features are computed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FeatureSettings {
    /// Lomb–Scargle grid points per 1/T.
    pub ls_oversampling: f64,
    /// Highest frequency searched (cycles/day).
    pub ls_max_frequency: f64,
    /// Phase bins of `folded_amplitude`.
    pub fold_bins: usize,
}

impl Default for FeatureSettings {
    fn default() -> Self {
        Self {
            ls_oversampling: 5.0,
            ls_max_frequency: 5.0,
            fold_bins: 10,
        }
    }
}

/// Features of one curve, and whether its period search fell back (no periodogram).
#[derive(Debug, Clone, PartialEq)]
pub struct CurveFeatures {
    pub values: [f64; N_FEATURES],
    pub period_fallback: bool,
}

/// The features of one curve. Non-finite values (a constant curve's η, say) become 0, so the
/// forest and the MLP always see numbers; such cases are rare after cleaning.
pub fn extract(curve: &LightCurve<'_>, settings: &FeatureSettings) -> CurveFeatures {
    use features::*;
    let (t, m, e) = (curve.time, curve.mag, curve.err);
    let found = period::best_period(t, m, e, settings.ls_oversampling, settings.ls_max_frequency);
    let span = t.last().zip(t.first()).map(|(b, a)| b - a).unwrap_or(f64::NAN);
    let (p, power) = found.unwrap_or((span, 0.0));
    let values = [
        sampling::n_obs_log10(t),
        sampling::time_span_log10(t),
        sampling::median_dt_log10(t),
        moments::std(m),
        moments::skewness(m),
        moments::kurtosis(m),
        amplitude::amplitude_p95_p5(m),
        iqr::iqr(m),
        mad::mad(m),
        beyond_1std::beyond_1std(m, e),
        stetson_k::stetson_k(m, e),
        eta::eta(m),
        p.log10(),
        power,
        folded::folded_amplitude(t, m, p, settings.fold_bins),
        folded::folded_eta(t, m, p),
    ]
    .map(|v| if v.is_finite() { v } else { 0.0 });
    CurveFeatures {
        values,
        period_fallback: found.is_none(),
    }
}

/// Errors of the forest.
#[derive(Debug, thiserror::Error)]
pub enum ClassicalError {
    #[error("random forest: {0}")]
    Forest(String),
    #[error("{0}")]
    Input(String),
}

/// Random forest settings.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ForestSettings {
    pub n_trees: u16,
    pub seed: u64,
}

impl Default for ForestSettings {
    fn default() -> Self {
        Self { n_trees: 300, seed: 0 }
    }
}

/// A fitted forest.
pub struct RandomForest {
    forest: RandomForestClassifier<f64, u32, DenseMatrix<f64>, Vec<u32>>,
    n_features: usize,
}

fn matrix(rows: &[Vec<f64>]) -> Result<DenseMatrix<f64>, ClassicalError> {
    DenseMatrix::from_2d_vec(&rows.to_vec()).map_err(|e| ClassicalError::Input(e.to_string()))
}

impl RandomForest {
    /// Fits on `rows` (one feature vector per curve) and their classes.
    pub fn fit(rows: &[Vec<f64>], labels: &[usize], settings: &ForestSettings) -> Result<Self, ClassicalError> {
        if rows.is_empty() || rows.len() != labels.len() {
            return Err(ClassicalError::Input(format!("{} feature rows for {} labels", rows.len(), labels.len())));
        }
        let n_features = rows[0].len();
        if rows.iter().any(|r| r.len() != n_features || r.iter().any(|v| !v.is_finite())) {
            return Err(ClassicalError::Input("feature rows must have equal length and finite values".into()));
        }
        let y: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
        let params = RandomForestClassifierParameters::default()
            .with_n_trees(settings.n_trees)
            .with_seed(settings.seed);
        let forest = RandomForestClassifier::fit(&matrix(rows)?, &y, params).map_err(|e| ClassicalError::Forest(e.to_string()))?;
        Ok(Self { forest, n_features })
    }

    /// Predicted class of each row.
    pub fn predict(&self, rows: &[Vec<f64>]) -> Result<Vec<usize>, ClassicalError> {
        if rows.iter().any(|r| r.len() != self.n_features) {
            return Err(ClassicalError::Input(format!("rows must have {} features", self.n_features)));
        }
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let y = self.forest.predict(&matrix(rows)?).map_err(|e| ClassicalError::Forest(e.to_string()))?;
        Ok(y.into_iter().map(|c| c as usize).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn curve<'a>(t: &'a [f64], m: &'a [f64], e: &'a [f64]) -> LightCurve<'a> {
        LightCurve {
            object_id: "x",
            band: "R",
            time: t,
            mag: m,
            err: e,
        }
    }

    #[test]
    fn a_sinusoid_gives_its_period_and_amplitude() {
        let (t, m, e) = features::testing::sinusoid(400, 7.25, 0.4);
        let f = extract(&curve(&t, &m, &e), &FeatureSettings::default());
        let get = |name: &str| f.values[FEATURE_NAMES.iter().position(|n| *n == name).unwrap()];
        assert!(!f.period_fallback);
        assert!((10f64.powf(get("period_log10")) - 7.25).abs() < 0.05, "{}", get("period_log10"));
        assert!(get("period_power") > 0.9, "{}", get("period_power"));
        assert!((get("folded_amplitude") - 0.8).abs() < 0.05, "{}", get("folded_amplitude"));
        assert!(get("folded_eta") < 0.05 && get("eta") > get("folded_eta"));
        assert!((get("n_obs_log10") - 400f64.log10()).abs() < 1e-12);
    }

    #[test]
    fn a_constant_curve_has_zero_variability_features() {
        let t: Vec<f64> = (0..50).map(|i| i as f64 * 1.3).collect();
        let f = extract(&curve(&t, &[16.0; 50], &[0.02; 50]), &FeatureSettings::default());
        for name in ["std", "amplitude_p95_p5", "iqr", "mad", "beyond_1std", "skewness", "kurtosis"] {
            let v = f.values[FEATURE_NAMES.iter().position(|n| *n == name).unwrap()];
            assert_eq!(v, 0.0, "{name}");
        }
        assert!(f.values.iter().all(|v| v.is_finite()));
    }

    /// Two classes apart in feature 0, noise in feature 1.
    fn toy(n: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<usize>) {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let c = i % 2;
            rows.push(vec![c as f64 * 2.0 + next(), next()]);
            labels.push(c);
        }
        (rows, labels)
    }

    #[test]
    fn the_forest_learns_and_is_deterministic_for_a_seed() {
        let (x, y) = toy(200, 1);
        let (xt, yt) = toy(100, 2);
        let s = ForestSettings { n_trees: 50, seed: 7 };
        let a = RandomForest::fit(&x, &y, &s).unwrap().predict(&xt).unwrap();
        let b = RandomForest::fit(&x, &y, &s).unwrap().predict(&xt).unwrap();
        assert_eq!(a, b, "same seed, same forest");
        let correct = a.iter().zip(&yt).filter(|(p, t)| p == t).count();
        assert!(correct >= 98, "{correct}/100");
        assert!(RandomForest::fit(&x, &y[..10], &s).is_err());
        assert!(RandomForest::fit(&[vec![f64::NAN, 1.0]], &[0], &s).is_err());
    }
}
