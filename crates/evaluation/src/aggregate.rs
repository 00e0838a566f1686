//! Per-window vs per-object predictions.
//!
//! The official code scores every **window** (spec §8.3); a light curve longer than one window
//! gives several samples. For per-**object** scores, the logits of all windows of an object are
//! averaged (arithmetic mean of the raw logits, not of softmax probabilities) and the object's
//! prediction is the argmax of that mean.
//!
//! Objects are identified by `object_index[w]`, any `usize` per window (typically the position of
//! the curve in its set). Outputs list objects in ascending id order (as `np.unique` or a pandas
//! `groupby` would), whatever the window order.

use std::collections::BTreeMap;

use crate::error::{check_same_len, EvalError, Result};
use crate::metrics::ClassificationMetrics;

/// Index of the largest value, numpy `argmax` semantics: the first index on ties, and the first
/// NaN if there is one (numpy treats NaN as the maximum). Panics on an empty row.
pub fn argmax(row: &[f32]) -> usize {
    assert!(!row.is_empty(), "argmax of an empty row");
    if let Some(i) = row.iter().position(|v| v.is_nan()) {
        return i;
    }
    let mut best = 0;
    for (i, &v) in row.iter().enumerate().skip(1) {
        if v > row[best] {
            best = i;
        }
    }
    best
}

/// [`argmax`] of each row of a row-major `[n_rows × n_classes]` array. Errors if `n_classes` is
/// 0 or does not divide the length.
pub fn argmax_rows(logits: &[f32], n_classes: usize) -> Result<Vec<usize>> {
    check_row_major(logits, n_classes)?;
    Ok(logits.chunks_exact(n_classes).map(argmax).collect())
}

fn check_row_major(logits: &[f32], n_classes: usize) -> Result<()> {
    if n_classes == 0 {
        return Err(EvalError::Empty("n_classes (0 classes)"));
    }
    if logits.len() % n_classes != 0 {
        return Err(EvalError::LengthMismatch {
            left_name: "flat logits",
            left: logits.len(),
            right_name: "a multiple of n_classes",
            right: n_classes,
        });
    }
    Ok(())
}

/// Mean logits per object from row-major window logits (`n_classes` per window). Returns the
/// distinct object ids (ascending) and their mean logits, row-major `[n_objects × n_classes]`.
/// Means are accumulated in f64.
pub fn aggregate_logits_by_object(
    logits: &[f32],
    n_classes: usize,
    object_index: &[usize],
) -> Result<(Vec<usize>, Vec<f32>)> {
    check_row_major(logits, n_classes)?;
    check_same_len(
        "logit rows",
        logits.len() / n_classes,
        "object_index",
        object_index.len(),
    )?;
    let mut sums: BTreeMap<usize, (Vec<f64>, usize)> = BTreeMap::new();
    for (row, &obj) in logits.chunks_exact(n_classes).zip(object_index) {
        let (sum, count) = sums.entry(obj).or_insert_with(|| (vec![0.0; n_classes], 0));
        for (s, &v) in sum.iter_mut().zip(row) {
            *s += v as f64;
        }
        *count += 1;
    }
    let mut ids = Vec::with_capacity(sums.len());
    let mut means = Vec::with_capacity(sums.len() * n_classes);
    for (obj, (sum, count)) in sums {
        ids.push(obj);
        means.extend(sum.iter().map(|s| (s / count as f64) as f32));
    }
    Ok((ids, means))
}

/// [`aggregate_logits_by_object`] for logits given as one `Vec` per window (all rows the same
/// length).
pub fn aggregate_logit_rows_by_object(
    logits: &[Vec<f32>],
    object_index: &[usize],
) -> Result<(Vec<usize>, Vec<Vec<f32>>)> {
    let n_classes = logits.first().map_or(0, Vec::len);
    if let Some(bad) = logits.iter().find(|r| r.len() != n_classes) {
        return Err(EvalError::LengthMismatch {
            left_name: "a logit row",
            left: bad.len(),
            right_name: "the first logit row",
            right: n_classes,
        });
    }
    if logits.is_empty() {
        check_same_len("logit rows", 0, "object_index", object_index.len())?;
        return Ok((Vec::new(), Vec::new()));
    }
    let flat: Vec<f32> = logits.concat();
    let (ids, means) = aggregate_logits_by_object(&flat, n_classes, object_index)?;
    Ok((
        ids,
        means.chunks_exact(n_classes).map(<[f32]>::to_vec).collect(),
    ))
}

/// One true label per object from per-window labels. Returns the distinct object ids (ascending,
/// the same order as [`aggregate_logits_by_object`]) and their labels; errors if the windows of
/// one object disagree.
pub fn labels_by_object(
    window_labels: &[usize],
    object_index: &[usize],
) -> Result<(Vec<usize>, Vec<usize>)> {
    check_same_len(
        "window_labels",
        window_labels.len(),
        "object_index",
        object_index.len(),
    )?;
    let mut by: BTreeMap<usize, usize> = BTreeMap::new();
    for (&label, &obj) in window_labels.iter().zip(object_index) {
        let first = *by.entry(obj).or_insert(label);
        if first != label {
            return Err(EvalError::InconsistentObjectLabel {
                object: obj,
                first,
                other: label,
            });
        }
    }
    Ok(by.into_iter().unzip())
}

/// Per-window metrics (the official protocol): argmax of each window's logits against its label.
pub fn window_metrics(
    logits: &[f32],
    n_classes: usize,
    window_labels: &[usize],
) -> Result<ClassificationMetrics> {
    ClassificationMetrics::from_logits(logits, n_classes, window_labels)
}

/// Per-object metrics: window logits averaged per object, argmax, then macro metrics over
/// `n_classes`; `n` in the result counts objects.
pub fn object_metrics(
    logits: &[f32],
    n_classes: usize,
    window_labels: &[usize],
    object_index: &[usize],
) -> Result<ClassificationMetrics> {
    let (ids, means) = aggregate_logits_by_object(logits, n_classes, object_index)?;
    let (label_ids, labels) = labels_by_object(window_labels, object_index)?;
    debug_assert_eq!(ids, label_ids);
    ClassificationMetrics::from_logits(&means, n_classes, &labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_follows_numpy() {
        assert_eq!(argmax(&[0.0, 3.0, 1.0]), 1);
        assert_eq!(argmax(&[2.0, 2.0, 1.0]), 0); // first on ties
        assert_eq!(argmax(&[-5.0, -1.0, -1.0]), 1);
        assert_eq!(argmax(&[1.0, f32::NAN, 9.0, f32::NAN]), 1); // first NaN
        assert_eq!(argmax(&[f32::NEG_INFINITY, f32::NEG_INFINITY]), 0);
        assert_eq!(argmax_rows(&[0.0, 1.0, 1.0, 0.0], 2).unwrap(), vec![1, 0]);
        assert!(argmax_rows(&[0.0, 1.0, 1.0], 2).is_err());
        assert!(argmax_rows(&[0.0], 0).is_err());
    }

    #[test]
    fn mean_logits_per_object_in_ascending_id_order() {
        // Windows: obj 7 → [1, 0], [3, 2]; obj 2 → [0, 4]; obj 7 again → [2, 7].
        // Hand-computed means: obj 2 → [0, 4]; obj 7 → [(1+3+2)/3, (0+2+7)/3] = [2, 3].
        let logits = [1.0, 0.0, 3.0, 2.0, 0.0, 4.0, 2.0, 7.0];
        let (ids, means) = aggregate_logits_by_object(&logits, 2, &[7, 7, 2, 7]).unwrap();
        assert_eq!(ids, vec![2, 7]);
        assert_eq!(means, vec![0.0, 4.0, 2.0, 3.0]);

        let rows: Vec<Vec<f32>> = logits.chunks(2).map(<[f32]>::to_vec).collect();
        let (ids2, mrows) = aggregate_logit_rows_by_object(&rows, &[7, 7, 2, 7]).unwrap();
        assert_eq!(ids2, ids);
        assert_eq!(mrows, vec![vec![0.0, 4.0], vec![2.0, 3.0]]);
    }

    #[test]
    fn aggregation_rejects_mismatches() {
        assert!(aggregate_logits_by_object(&[0.0, 1.0], 2, &[0, 1]).is_err());
        assert!(aggregate_logit_rows_by_object(&[vec![0.0, 1.0], vec![0.0]], &[0, 1]).is_err());
        assert_eq!(
            aggregate_logit_rows_by_object(&[], &[]).unwrap(),
            (vec![], vec![])
        );
        assert!(matches!(
            labels_by_object(&[0, 1], &[3, 3]),
            Err(EvalError::InconsistentObjectLabel {
                object: 3,
                first: 0,
                other: 1
            })
        ));
    }

    #[test]
    fn window_and_object_metrics_differ_as_expected() {
        // Object 0 (class 0): window argmaxes 0, 0, 1; mean logits [2/3, 1/3] → 0 (correct).
        // Object 1 (class 1): window argmaxes 1, 0; mean logits [0.3, 0.7] → 1 (correct).
        let logits = [
            1.0, 0.0, // obj 0, pred 0
            1.0, 0.0, // obj 0, pred 0
            0.0, 1.0, // obj 0, pred 1  → mean [2/3, 1/3] → 0
            0.0, 1.0, // obj 1, pred 1
            0.6, 0.4, // obj 1, pred 0  → mean [0.3, 0.7] → 1
        ];
        let labels = [0, 0, 0, 1, 1];
        let objects = [0, 0, 0, 1, 1];
        let w = window_metrics(&logits, 2, &labels).unwrap();
        // Hand-computed per window: y_true [0,0,0,1,1], y_pred [0,0,1,1,0] → acc 3/5;
        // class 0: P 2/3, R 2/3; class 1: P 1/2, R 1/2.
        assert!((w.accuracy - 0.6).abs() < 1e-12);
        assert!((w.precision_macro - (2.0 / 3.0 + 0.5) / 2.0).abs() < 1e-12);
        assert_eq!(w.n, 5);
        let o = object_metrics(&logits, 2, &labels, &objects).unwrap();
        assert_eq!(o.accuracy, 1.0);
        assert_eq!(o.f1_macro, 1.0);
        assert_eq!(o.n, 2);
    }
}
