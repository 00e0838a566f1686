//! Confusion matrix: rows are true classes, columns predicted classes (sklearn's
//! `confusion_matrix(y_true, y_pred, labels=range(n_classes))` layout).

use serde::{Deserialize, Serialize};

use crate::error::{check_labels, check_same_len, Result};

/// `n_classes × n_classes` counts, row-major; `get(t, p)` counts samples of true class `t`
/// predicted as `p`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    n_classes: usize,
    counts: Vec<u64>,
}

impl ConfusionMatrix {
    /// An all-zero matrix.
    pub fn new(n_classes: usize) -> Self {
        Self {
            n_classes,
            counts: vec![0; n_classes * n_classes],
        }
    }

    /// Counts the pairs `(y_true[i], y_pred[i])`. Errors if the slices differ in length or a
    /// label is not in `0..n_classes`. Empty slices give an all-zero matrix.
    pub fn from_labels(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Self> {
        check_same_len("y_true", y_true.len(), "y_pred", y_pred.len())?;
        check_labels("y_true", y_true, n_classes)?;
        check_labels("y_pred", y_pred, n_classes)?;
        let mut m = Self::new(n_classes);
        for (&t, &p) in y_true.iter().zip(y_pred) {
            m.counts[t * n_classes + p] += 1;
        }
        Ok(m)
    }

    /// Adds one sample. Panics if a label is out of range.
    pub fn add(&mut self, true_label: usize, pred_label: usize) {
        assert!(
            true_label < self.n_classes && pred_label < self.n_classes,
            "labels ({true_label}, {pred_label}) out of range for {} classes",
            self.n_classes
        );
        self.counts[true_label * self.n_classes + pred_label] += 1;
    }

    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// Count of true class `t` predicted as `p`.
    pub fn get(&self, t: usize, p: usize) -> u64 {
        self.counts[t * self.n_classes + p]
    }

    /// Row of true class `t`.
    pub fn row(&self, t: usize) -> &[u64] {
        &self.counts[t * self.n_classes..(t + 1) * self.n_classes]
    }

    /// All counts, row-major.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// The matrix as nested rows.
    pub fn to_rows(&self) -> Vec<Vec<u64>> {
        (0..self.n_classes).map(|t| self.row(t).to_vec()).collect()
    }

    /// Number of samples.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Correctly classified samples (the trace).
    pub fn correct(&self) -> u64 {
        (0..self.n_classes).map(|c| self.get(c, c)).sum()
    }

    /// Samples per true class (row sums; sklearn's "support").
    pub fn true_counts(&self) -> Vec<u64> {
        (0..self.n_classes)
            .map(|t| self.row(t).iter().sum())
            .collect()
    }

    /// Samples per predicted class (column sums).
    pub fn pred_counts(&self) -> Vec<u64> {
        (0..self.n_classes)
            .map(|p| (0..self.n_classes).map(|t| self.get(t, p)).sum())
            .collect()
    }

    /// Each row divided by its sum, as sklearn `confusion_matrix(..., normalize='true')`. Rows of
    /// classes with no true samples are all 0 (sklearn turns their 0/0 into 0 as well).
    pub fn normalized_by_true(&self) -> Vec<Vec<f64>> {
        (0..self.n_classes)
            .map(|t| {
                let row = self.row(t);
                let sum: u64 = row.iter().sum();
                row.iter()
                    .map(|&c| if sum == 0 { 0.0 } else { c as f64 / sum as f64 })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::EvalError;

    fn close(a: &[Vec<f64>], b: &[Vec<f64>]) {
        assert_eq!(a.len(), b.len());
        for (ra, rb) in a.iter().zip(b) {
            assert_eq!(ra.len(), rb.len());
            for (x, y) in ra.iter().zip(rb) {
                assert!((x - y).abs() < 1e-12, "{ra:?} vs {rb:?}");
            }
        }
    }

    #[test]
    fn counts_rows_true_cols_pred() {
        // Hand-computed: pairs (0,0) (0,1) (1,1) (2,0) (2,0).
        let m = ConfusionMatrix::from_labels(&[0, 0, 1, 2, 2], &[0, 1, 1, 0, 0], 3).unwrap();
        assert_eq!(
            m.to_rows(),
            vec![vec![1, 1, 0], vec![0, 1, 0], vec![2, 0, 0]]
        );
        assert_eq!(m.total(), 5);
        assert_eq!(m.correct(), 2);
        assert_eq!(m.true_counts(), vec![2, 1, 2]);
        assert_eq!(m.pred_counts(), vec![3, 2, 0]);
        assert_eq!(m.get(2, 0), 2);
    }

    #[test]
    fn matches_sklearn_with_an_empty_class() {
        // sklearn 1.9.1: confusion_matrix(yt, yp, labels=[0,1,2,3]) and normalize='true' with
        // yt = [0,0,1,1,1,2,2,2,2,0], yp = [0,1,1,1,2,2,2,0,2,0]; class 3 has no samples.
        let yt = [0, 0, 1, 1, 1, 2, 2, 2, 2, 0];
        let yp = [0, 1, 1, 1, 2, 2, 2, 0, 2, 0];
        let m = ConfusionMatrix::from_labels(&yt, &yp, 4).unwrap();
        assert_eq!(
            m.to_rows(),
            vec![
                vec![2, 1, 0, 0],
                vec![0, 2, 1, 0],
                vec![1, 0, 3, 0],
                vec![0, 0, 0, 0]
            ]
        );
        close(
            &m.normalized_by_true(),
            &[
                vec![0.6666666666666666, 0.3333333333333333, 0.0, 0.0],
                vec![0.0, 0.6666666666666666, 0.3333333333333333, 0.0],
                vec![0.25, 0.0, 0.75, 0.0],
                vec![0.0, 0.0, 0.0, 0.0],
            ],
        );
    }

    #[test]
    fn add_accumulates() {
        let mut m = ConfusionMatrix::new(2);
        m.add(1, 0);
        m.add(1, 0);
        m.add(0, 0);
        assert_eq!(m.to_rows(), vec![vec![1, 0], vec![2, 0]]);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!(
            ConfusionMatrix::from_labels(&[0, 1], &[0], 2),
            Err(EvalError::LengthMismatch { .. })
        ));
        let e = ConfusionMatrix::from_labels(&[0, 1], &[0, 5], 2).unwrap_err();
        assert_eq!(
            e,
            EvalError::LabelOutOfRange {
                what: "y_pred",
                position: 1,
                label: 5,
                n_classes: 2
            }
        );
    }
}
