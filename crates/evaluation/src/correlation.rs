//! Rank correlation: how monotone one per-point quantity is in another (e06 asks whether the
//! observations far from the median magnitude receive the most attention).

/// 1-based ranks of `values` in ascending order; ties share the mean of the ranks they span (the
/// convention of `scipy.stats.rankdata(method="average")`). NaN sorts after every number.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]].total_cmp(&values[order[start]]).is_eq() {
            end += 1;
        }
        // Positions start..end (0-based) hold equal values: ranks start+1 ..= end, mean below.
        let shared = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = shared;
        }
        start = end;
    }
    ranks
}

/// Spearman's rank correlation ρ: the Pearson correlation of the tie-averaged ranks. `None` when
/// the lengths differ, there are fewer than two points, or either side is constant (ρ undefined).
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let (rx, ry) = (ranks(x), ranks(y));
    let n = rx.len() as f64;
    let (mx, my) = (rx.iter().sum::<f64>() / n, ry.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in rx.iter().zip(&ry) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| sxy / (sxx * syy).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_mean_rank() {
        assert_eq!(ranks(&[10.0, 20.0, 20.0, 30.0]), vec![1.0, 2.5, 2.5, 4.0]);
        assert_eq!(ranks(&[3.0, 1.0, 2.0]), vec![3.0, 1.0, 2.0]);
        assert_eq!(ranks(&[5.0, 5.0, 5.0]), vec![2.0, 2.0, 2.0]);
        assert!(ranks(&[]).is_empty());
    }

    #[test]
    fn monotone_pairs_give_plus_and_minus_one() {
        let x = [0.1, 0.5, 0.7, 2.0, 9.0];
        let up = [1.0, 4.0, 9.0, 16.0, 1e3]; // monotone, far from linear
        let down: Vec<f64> = up.iter().map(|v| -v).collect();
        assert!((spearman(&x, &up).unwrap() - 1.0).abs() < 1e-12);
        assert!((spearman(&x, &down).unwrap() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn matches_the_textbook_formula_without_ties_and_pearson_of_ranks_with_them() {
        // No ties: ρ = 1 − 6 Σd² / (n(n² − 1)) = 1 − 6·4/120 = 0.8.
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]).unwrap();
        assert!((rho - 0.8).abs() < 1e-12, "{rho}");
        // With ties: ranks [1, 2.5, 2.5, 4] and [1, 3, 2, 4]; numpy.corrcoef of them = 0.9486832980505139.
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!((rho - 0.948_683_298_050_513_9).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(spearman(&[1.0, 2.0], &[3.0]), None);
        assert_eq!(spearman(&[1.0], &[3.0]), None);
        assert_eq!(spearman(&[1.0, 2.0, 3.0], &[4.0, 4.0, 4.0]), None);
    }
}
