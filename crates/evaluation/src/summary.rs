//! Mean and spread of a metric over folds.

use serde::{Deserialize, Serialize};

use crate::error::{EvalError, Result};
use crate::metrics::ClassificationMetrics;

/// Mean, sample standard deviation (ddof = 1, as pandas `std()` and `np.std(ddof=1)`), minimum
/// and maximum of a metric over folds. With a single value `std_sample` is NaN (as in pandas and
/// numpy); serialized through serde_json a NaN becomes `null`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FoldSummary {
    pub mean: f64,
    pub std_sample: f64,
    pub min: f64,
    pub max: f64,
    /// Number of values (folds).
    pub n: usize,
}

impl FoldSummary {
    /// Summary of `values`. Errors if empty or if a value is not finite.
    pub fn from_values(values: &[f64]) -> Result<Self> {
        if values.is_empty() {
            return Err(EvalError::Empty("the values to summarize over folds"));
        }
        if let Some(position) = values.iter().position(|v| !v.is_finite()) {
            return Err(EvalError::NonFinite {
                what: "fold values",
                position,
                value: values[position],
            });
        }
        let n = values.len();
        let mean = values.iter().sum::<f64>() / n as f64;
        let std_sample = if n < 2 {
            f64::NAN
        } else {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt()
        };
        Ok(Self {
            mean,
            std_sample,
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            n,
        })
    }
}

/// [`FoldSummary`] of each field of [`ClassificationMetrics`] over folds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricsSummary {
    pub accuracy: FoldSummary,
    pub precision_macro: FoldSummary,
    pub recall_macro: FoldSummary,
    pub f1_macro: FoldSummary,
}

impl MetricsSummary {
    pub fn from_folds(folds: &[ClassificationMetrics]) -> Result<Self> {
        let of = |f: fn(&ClassificationMetrics) -> f64| {
            FoldSummary::from_values(&folds.iter().map(f).collect::<Vec<_>>())
        };
        Ok(Self {
            accuracy: of(|m| m.accuracy)?,
            precision_macro: of(|m| m.precision_macro)?,
            recall_macro: of(|m| m.recall_macro)?,
            f1_macro: of(|m| m.f1_macro)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy() {
        // numpy 2: np.mean([0.61, 0.58, 0.66]) = 0.6166666666666667,
        // np.std(..., ddof=1) = 0.040414518843273836.
        let s = FoldSummary::from_values(&[0.61, 0.58, 0.66]).unwrap();
        assert!((s.mean - 0.6166666666666667).abs() < 1e-15);
        assert!((s.std_sample - 0.040414518843273836).abs() < 1e-15);
        assert_eq!((s.min, s.max, s.n), (0.58, 0.66, 3));
    }

    #[test]
    fn single_value_has_nan_std() {
        let s = FoldSummary::from_values(&[0.5]).unwrap();
        assert_eq!((s.mean, s.min, s.max, s.n), (0.5, 0.5, 0.5, 1));
        assert!(s.std_sample.is_nan());
    }

    #[test]
    fn rejects_empty_and_non_finite() {
        assert!(FoldSummary::from_values(&[]).is_err());
        assert!(matches!(
            FoldSummary::from_values(&[0.1, f64::NAN]),
            Err(EvalError::NonFinite { position: 1, .. })
        ));
    }

    #[test]
    fn summarizes_each_metric() {
        let m = |a: f64, f: f64| ClassificationMetrics {
            accuracy: a,
            precision_macro: 0.5,
            recall_macro: 0.5,
            f1_macro: f,
            n: 10,
        };
        let s = MetricsSummary::from_folds(&[m(0.2, 0.1), m(0.4, 0.3)]).unwrap();
        assert!((s.accuracy.mean - 0.3).abs() < 1e-15);
        assert!((s.f1_macro.mean - 0.2).abs() < 1e-15);
        // Hand-computed: two values 0.2 apart → sample std = 0.1·√2.
        assert!((s.accuracy.std_sample - 0.1 * 2f64.sqrt()).abs() < 1e-15);
        assert_eq!(s.precision_macro.std_sample, 0.0);
        assert!(MetricsSummary::from_folds(&[]).is_err());
    }
}
