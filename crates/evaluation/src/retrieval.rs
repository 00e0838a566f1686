//! Retrieval by embedding similarity (StarCLR's use beyond classification, issue 17): for every
//! object, its k most cosine-similar other objects, and the fraction of them of its class.
//!
//! [`precision_at_k`] averages that fraction over the objects (ties in similarity broken by the
//! lower index, so the result is deterministic); [`chance_precision`] is what neighbours drawn at
//! random score, Σ_c n_c (n_c − 1) / (N (N − 1)), the level an embedding must beat.

use crate::error::{EvalError, Result};

/// Mean precision@k of same-class neighbours by cosine similarity, for each k of `ks` (each in
/// 1..N): `embeddings` row-major, `width` values per object, `labels` one per object. An object
/// is never its own neighbour. A zero vector has cosine 0 with everything.
pub fn precision_at_k(embeddings: &[f32], width: usize, labels: &[usize], ks: &[usize]) -> Result<Vec<f64>> {
    let n = labels.len();
    if n < 2 || width == 0 {
        return Err(EvalError::Empty("retrieval needs at least two objects with a non-empty embedding; the embeddings"));
    }
    if embeddings.len() != n * width {
        return Err(EvalError::LengthMismatch { left_name: "embeddings", left: embeddings.len(), right_name: "labels × width", right: n * width });
    }
    if let Some((position, &value)) = embeddings.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(EvalError::NonFinite { what: "embeddings", position, value: value as f64 });
    }
    if let Some(&k) = ks.iter().find(|&&k| k == 0 || k >= n) {
        return Err(EvalError::InvalidSettings(format!("precision@{k} over {n} objects: k must be in 1..{n}")));
    }
    let unit: Vec<Vec<f64>> = embeddings
        .chunks(width)
        .map(|row| {
            let norm = row.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>().sqrt();
            row.iter().map(|&x| if norm > 0.0 { x as f64 / norm } else { 0.0 }).collect()
        })
        .collect();
    let k_max = ks.iter().copied().max().unwrap_or(0);
    let mut sums = vec![0.0f64; ks.len()];
    for i in 0..n {
        let mut others: Vec<(f64, usize)> = (0..n)
            .filter(|&j| j != i)
            .map(|j| (unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum::<f64>(), j))
            .collect();
        // Most similar first; equal similarity: lower index first.
        others.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let hits: Vec<bool> = others.iter().take(k_max).map(|&(_, j)| labels[j] == labels[i]).collect();
        for (sum, &k) in sums.iter_mut().zip(ks) {
            *sum += hits[..k].iter().filter(|&&h| h).count() as f64 / k as f64;
        }
    }
    Ok(sums.into_iter().map(|s| s / n as f64).collect())
}

/// Precision of neighbours drawn at random (without the object itself): the probability that
/// another object shares its class, averaged over objects.
pub fn chance_precision(labels: &[usize]) -> Result<f64> {
    let n = labels.len();
    if n < 2 {
        return Err(EvalError::Empty("chance precision needs at least two objects; the labels"));
    }
    let mut counts = std::collections::BTreeMap::new();
    for &l in labels {
        *counts.entry(l).or_insert(0usize) += 1;
    }
    Ok(counts.values().map(|&c| (c * (c - 1)) as f64).sum::<f64>() / (n * (n - 1)) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_counts_same_class_neighbours_by_cosine() {
        // Two tight clusters along x and y; object 4 sits in the x cluster but is labelled 1.
        let e = [1.0, 0.0, 2.0, 0.1, 0.0, 1.0, 0.1, 3.0, 1.0, 0.05];
        let labels = [0, 0, 1, 1, 1];
        let p = precision_at_k(&e, 2, &labels, &[1, 2]).unwrap();
        // The same neighbour lists written out directly.
        let by_hand = |k: usize| -> f64 {
            let unit: Vec<(f64, f64)> = e.chunks(2).map(|r| { let n = ((r[0] * r[0] + r[1] * r[1]) as f64).sqrt(); (r[0] as f64 / n, r[1] as f64 / n) }).collect();
            let mut total = 0.0;
            for i in 0..5 {
                let mut o: Vec<(f64, usize)> = (0..5).filter(|&j| j != i).map(|j| (unit[i].0 * unit[j].0 + unit[i].1 * unit[j].1, j)).collect();
                o.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                total += o[..k].iter().filter(|&&(_, j)| labels[j] == labels[i]).count() as f64 / k as f64;
            }
            total / 5.0
        };
        assert!((p[0] - by_hand(1)).abs() < 1e-12 && (p[1] - by_hand(2)).abs() < 1e-12, "{p:?}");
        // A perfect clustering scores 1; scale does not matter (cosine).
        let clean = [1.0, 0.0, 5.0, 0.0, 0.0, 1.0, 0.0, 0.2];
        assert_eq!(precision_at_k(&clean, 2, &[0, 0, 1, 1], &[1]).unwrap(), vec![1.0]);
        // Bad input is an error, not a panic.
        assert!(precision_at_k(&clean, 2, &[0, 0, 1, 1], &[4]).is_err());
        assert!(precision_at_k(&clean, 2, &[0, 0, 1], &[1]).is_err());
        assert!(precision_at_k(&[f32::NAN, 0.0, 1.0, 0.0], 2, &[0, 1], &[1]).is_err());
    }

    #[test]
    fn chance_is_the_same_class_probability_of_another_object() {
        // 3 of class 0, 1 of class 1: (3·2 + 0) / (4·3) = 0.5.
        assert_eq!(chance_precision(&[0, 0, 0, 1]).unwrap(), 0.5);
        // Balanced classes of 50 among C = 5: (50·49·5) / (250·249).
        assert!((chance_precision(&(0..250).map(|i| i % 5).collect::<Vec<_>>()).unwrap() - 49.0 / 249.0).abs() < 1e-12);
        assert!(chance_precision(&[1]).is_err());
    }
}
