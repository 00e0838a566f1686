//! Accuracy and macro-averaged precision, recall and F1, computed as the official
//! `steps/metrics.py: evaluate_clf` does (spec §8.3): sklearn
//! `precision_recall_fscore_support(average='macro', zero_division=0)` plus `accuracy_score`.
//!
//! Per class `c` (from the confusion matrix; tp = diagonal, fp = column sum − tp,
//! fn = row sum − tp):
//! - precision = tp / (tp + fp), 0 when nothing was predicted as `c` (zero_division = 0);
//! - recall = tp / (tp + fn), 0 when `c` has no true samples;
//! - F1 = 2·tp / (2·tp + fp + fn), 0 when that denominator is 0 (sklearn ≥ 1.3 formula; equal
//!   to 2PR/(P+R) whenever both are defined).
//!
//! The macro value is the unweighted mean of the per-class values. **Which classes enter the
//! mean** is the one choice to make:
//! - [`ClassificationMetrics::macro_over`] (our default): all `n_classes` of the label set, so a
//!   class absent from both `y_true` and `y_pred` contributes 0 to P, R and F1. This is sklearn
//!   with `labels=range(n_classes)`.
//! - [`ClassificationMetrics::macro_present`]: only the classes that occur in `y_true ∪ y_pred`,
//!   which is what sklearn does with `labels=None` (the official call). The two agree whenever
//!   every class occurs in `y_true` or `y_pred` — always the case for the official test sets,
//!   which hold 100 curves of every class.

use serde::{Deserialize, Serialize};

use crate::aggregate::argmax_rows;
use crate::confusion::ConfusionMatrix;
use crate::error::{check_same_len, EvalError, Result};

/// Per-class precision, recall, F1 and support (number of true samples), in label order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PerClassMetrics {
    pub precision: Vec<f64>,
    pub recall: Vec<f64>,
    pub f1: Vec<f64>,
    pub support: Vec<u64>,
}

impl PerClassMetrics {
    /// Per-class values with zero_division = 0, for every class of the matrix.
    pub fn from_confusion(cm: &ConfusionMatrix) -> Self {
        let k = cm.n_classes();
        let true_counts = cm.true_counts();
        let pred_counts = cm.pred_counts();
        let ratio = |num: u64, den: u64| {
            if den == 0 {
                0.0
            } else {
                num as f64 / den as f64
            }
        };
        let mut out = Self {
            precision: Vec::with_capacity(k),
            recall: Vec::with_capacity(k),
            f1: Vec::with_capacity(k),
            support: true_counts.clone(),
        };
        for c in 0..k {
            let tp = cm.get(c, c);
            out.precision.push(ratio(tp, pred_counts[c]));
            out.recall.push(ratio(tp, true_counts[c]));
            // 2tp + fp + fn = true_count + pred_count.
            out.f1.push(ratio(2 * tp, true_counts[c] + pred_counts[c]));
        }
        out
    }
}

/// Accuracy and macro-averaged precision, recall and F1 over `n` samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    pub accuracy: f64,
    pub precision_macro: f64,
    pub recall_macro: f64,
    pub f1_macro: f64,
    /// Number of samples (windows or objects) the metrics were computed on.
    pub n: usize,
}

impl ClassificationMetrics {
    /// Macro average over **all** `n_classes` classes (sklearn `labels=range(n_classes)`); a
    /// class absent from both `y_true` and `y_pred` counts as 0. Errors on empty input,
    /// mismatched lengths or out-of-range labels.
    pub fn macro_over(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Self> {
        let cm = ConfusionMatrix::from_labels(y_true, y_pred, n_classes)?;
        Self::from_confusion(&cm)
    }

    /// Macro average over the classes present in `y_true ∪ y_pred` only (sklearn
    /// `labels=None`). The number of classes is taken as `max label + 1`.
    pub fn macro_present(y_true: &[usize], y_pred: &[usize]) -> Result<Self> {
        let n_classes = y_true.iter().chain(y_pred).max().map_or(0, |&m| m + 1);
        let cm = ConfusionMatrix::from_labels(y_true, y_pred, n_classes)?;
        Self::from_confusion_present(&cm)
    }

    /// [`Self::macro_over`] from a confusion matrix (all of its classes).
    pub fn from_confusion(cm: &ConfusionMatrix) -> Result<Self> {
        Self::from_confusion_with(cm, |_, _| true)
    }

    /// [`Self::macro_present`] from a confusion matrix: classes with a zero row *and* a zero
    /// column are left out of the mean.
    pub fn from_confusion_present(cm: &ConfusionMatrix) -> Result<Self> {
        Self::from_confusion_with(cm, |t, p| t > 0 || p > 0)
    }

    fn from_confusion_with(cm: &ConfusionMatrix, keep: impl Fn(u64, u64) -> bool) -> Result<Self> {
        let total = cm.total();
        if total == 0 {
            return Err(EvalError::Empty("the label slices (no samples to score)"));
        }
        let per = PerClassMetrics::from_confusion(cm);
        let (tc, pc) = (cm.true_counts(), cm.pred_counts());
        let kept: Vec<usize> = (0..cm.n_classes())
            .filter(|&c| keep(tc[c], pc[c]))
            .collect();
        let mean = |v: &[f64]| kept.iter().map(|&c| v[c]).sum::<f64>() / kept.len() as f64;
        Ok(Self {
            accuracy: cm.correct() as f64 / total as f64,
            precision_macro: mean(&per.precision),
            recall_macro: mean(&per.recall),
            f1_macro: mean(&per.f1),
            n: total as usize,
        })
    }

    /// Metrics of logits (row-major, `n_classes` per sample) against true labels: the predicted
    /// class is the argmax of each row ([`crate::argmax`]), then [`Self::macro_over`].
    pub fn from_logits(logits: &[f32], n_classes: usize, y_true: &[usize]) -> Result<Self> {
        let pred = argmax_rows(logits, n_classes)?;
        check_same_len("logit rows", pred.len(), "y_true", y_true.len())?;
        Self::macro_over(y_true, &pred, n_classes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }

    fn assert_metrics(m: &ClassificationMetrics, acc: f64, p: f64, r: f64, f1: f64, n: usize) {
        assert_close(m.accuracy, acc);
        assert_close(m.precision_macro, p);
        assert_close(m.recall_macro, r);
        assert_close(m.f1_macro, f1);
        assert_eq!(m.n, n);
    }

    #[test]
    fn perfect_and_all_wrong() {
        // Hand-computed.
        let m = ClassificationMetrics::macro_over(&[0, 1, 2], &[0, 1, 2], 3).unwrap();
        assert_metrics(&m, 1.0, 1.0, 1.0, 1.0, 3);
        let m = ClassificationMetrics::macro_over(&[0, 1], &[1, 0], 2).unwrap();
        assert_metrics(&m, 0.0, 0.0, 0.0, 0.0, 2);
    }

    #[test]
    fn hand_computed_small_case() {
        // y_true = [0,0,1,1], y_pred = [0,1,1,1]:
        // class 0: tp 1, fp 0, fn 1 → P 1, R 1/2, F1 2/3;
        // class 1: tp 2, fp 1, fn 0 → P 2/3, R 1, F1 4/5.
        let m = ClassificationMetrics::macro_over(&[0, 0, 1, 1], &[0, 1, 1, 1], 2).unwrap();
        assert_metrics(
            &m,
            0.75,
            (1.0 + 2.0 / 3.0) / 2.0,
            (0.5 + 1.0) / 2.0,
            (2.0 / 3.0 + 0.8) / 2.0,
            4,
        );
    }

    #[test]
    fn absent_class_makes_macro_over_and_macro_present_differ() {
        // sklearn 1.9.1, precision_recall_fscore_support(average='macro', zero_division=0):
        // labels=[0,1,2,3] → P = R = F1 = 0.52083333333333326; labels=None → 0.69444444444444431;
        // accuracy_score = 0.7. Class 3 occurs in neither y_true nor y_pred.
        let yt = [0, 0, 1, 1, 1, 2, 2, 2, 2, 0];
        let yp = [0, 1, 1, 1, 2, 2, 2, 0, 2, 0];
        let all = ClassificationMetrics::macro_over(&yt, &yp, 4).unwrap();
        let present = ClassificationMetrics::macro_present(&yt, &yp).unwrap();
        let v = 0.52083333333333326;
        assert_metrics(&all, 0.7, v, v, v, 10);
        let v = 0.69444444444444431;
        assert_metrics(&present, 0.7, v, v, v, 10);
        // Over 3 classes the two coincide.
        let three = ClassificationMetrics::macro_over(&yt, &yp, 3).unwrap();
        assert_eq!(three, present);
        // The same through the confusion matrix.
        let cm = ConfusionMatrix::from_labels(&yt, &yp, 4).unwrap();
        assert_eq!(ClassificationMetrics::from_confusion(&cm).unwrap(), all);
        assert_eq!(
            ClassificationMetrics::from_confusion_present(&cm).unwrap(),
            present
        );
    }

    #[test]
    fn never_predicted_class_has_zero_precision() {
        // sklearn 1.9.1 (both labels=None and labels=[0,1,2]): acc 0.5,
        // P 0.33333333333333331, R 0.5, F1 0.38888888888888884;
        // per class P [0.5, 0.5, 0], R [1, 0.5, 0], F1 [2/3, 0.5, 0].
        let yt = [0, 1, 2, 0, 1, 2];
        let yp = [0, 0, 0, 0, 1, 1];
        let m = ClassificationMetrics::macro_over(&yt, &yp, 3).unwrap();
        assert_metrics(&m, 0.5, 0.33333333333333331, 0.5, 0.38888888888888884, 6);
        assert_eq!(ClassificationMetrics::macro_present(&yt, &yp).unwrap(), m);
        let per =
            PerClassMetrics::from_confusion(&ConfusionMatrix::from_labels(&yt, &yp, 3).unwrap());
        assert_eq!(per.precision, vec![0.5, 0.5, 0.0]);
        assert_eq!(per.recall, vec![1.0, 0.5, 0.0]);
        assert_close(per.f1[0], 2.0 / 3.0);
        assert_eq!(per.support, vec![2, 2, 2]);
    }

    #[test]
    fn predicted_only_class_has_zero_recall() {
        // sklearn 1.9.1 (both label choices): acc 0.75, P 0.66666666666666663, R 0.5,
        // F1 0.55555555555555547. Class 2 is predicted once but never true.
        let yt = [0, 0, 1, 1];
        let yp = [0, 2, 1, 1];
        let m = ClassificationMetrics::macro_over(&yt, &yp, 3).unwrap();
        assert_metrics(&m, 0.75, 0.66666666666666663, 0.5, 0.55555555555555547, 4);
        assert_eq!(ClassificationMetrics::macro_present(&yt, &yp).unwrap(), m);
    }

    #[test]
    fn random_five_class_case_matches_sklearn() {
        // Labels drawn with numpy default_rng(7) (60 % correct, else a random class); expected
        // values from sklearn 1.9.1: acc 0.7, P 0.71238095238095234, R 0.70095238095238099,
        // F1 0.69999999999999996; per-class F1 [0.75, 2/3, 5/6, 0.5, 0.75].
        let yt = [
            4, 3, 3, 4, 2, 3, 4, 1, 0, 1, 1, 4, 4, 0, 2, 4, 0, 3, 0, 2, 4, 1, 1, 1, 3, 1, 4, 2, 2,
            2,
        ];
        let yp = [
            4, 4, 3, 2, 2, 1, 4, 1, 0, 1, 4, 4, 4, 0, 2, 4, 3, 3, 0, 2, 3, 1, 0, 1, 3, 3, 4, 2, 2,
            3,
        ];
        let m = ClassificationMetrics::macro_over(&yt, &yp, 5).unwrap();
        assert_metrics(
            &m,
            0.7,
            0.71238095238095234,
            0.70095238095238099,
            0.69999999999999996,
            30,
        );
        let per =
            PerClassMetrics::from_confusion(&ConfusionMatrix::from_labels(&yt, &yp, 5).unwrap());
        for (a, b) in per
            .f1
            .iter()
            .zip([0.75, 0.6666666666666666, 0.8333333333333334, 0.5, 0.75])
        {
            assert_close(*a, b);
        }
        for (a, b) in
            per.precision
                .iter()
                .zip([0.75, 0.8, 0.8333333333333334, 0.42857142857142855, 0.75])
        {
            assert_close(*a, b);
        }
        assert_eq!(per.support, vec![4, 7, 6, 5, 8]);
    }

    #[test]
    fn from_logits_uses_argmax() {
        // Rows argmax to [1, 0, 1]; true [1, 0, 0] → acc 2/3.
        let logits = [0.1, 0.9, 2.0, -1.0, 0.0, 0.5];
        let m = ClassificationMetrics::from_logits(&logits, 2, &[1, 0, 0]).unwrap();
        assert_close(m.accuracy, 2.0 / 3.0);
        assert!(ClassificationMetrics::from_logits(&logits, 2, &[1, 0]).is_err());
    }

    #[test]
    fn empty_input_is_an_error() {
        assert_eq!(
            ClassificationMetrics::macro_over(&[], &[], 3).unwrap_err(),
            EvalError::Empty("the label slices (no samples to score)")
        );
        assert!(ClassificationMetrics::macro_present(&[], &[]).is_err());
    }
}
