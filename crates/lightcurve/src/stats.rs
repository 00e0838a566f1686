//! Per-curve summary statistics with the exact conventions of the official pipeline (pandas).

/// Arithmetic mean; `None` for an empty slice.
pub fn mean(x: &[f64]) -> Option<f64> {
    (!x.is_empty()).then(|| x.iter().sum::<f64>() / x.len() as f64)
}

/// Sample standard deviation (ddof = 1, as pandas `std`); `None` below 2 values.
pub fn std_sample(x: &[f64]) -> Option<f64> {
    let n = x.len();
    if n < 2 {
        return None;
    }
    let m = mean(x)?;
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    Some((ss / (n as f64 - 1.0)).sqrt())
}

/// Bias-corrected sample skewness (adjusted Fisher–Pearson G1), as pandas `Series.skew`.
/// `None` below 3 values; 0 for a constant series (pandas convention).
pub fn skewness(x: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 3 {
        return None;
    }
    let m = mean(x)?;
    let m2: f64 = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
    let m3: f64 = x.iter().map(|v| (v - m).powi(3)).sum::<f64>() / n;
    if m2 == 0.0 {
        return Some(0.0);
    }
    let g1 = m3 / m2.powf(1.5);
    Some(g1 * (n * (n - 1.0)).sqrt() / (n - 2.0))
}

/// Bias-corrected sample excess kurtosis (G2), as pandas `Series.kurtosis`.
/// `None` below 4 values; 0 for a constant series.
pub fn excess_kurtosis(x: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 4 {
        return None;
    }
    let m = mean(x)?;
    let m2: f64 = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / n;
    let m4: f64 = x.iter().map(|v| (v - m).powi(4)).sum::<f64>() / n;
    if m2 == 0.0 {
        return Some(0.0);
    }
    let g2 = m4 / (m2 * m2) - 3.0;
    Some(((n + 1.0) * g2 + 6.0) * (n - 1.0) / ((n - 2.0) * (n - 3.0)))
}

/// Quantile with the 'nearest' method (polars / numpy `nearest`): the value at index
/// round(q·(n−1)) of the sorted data (ties to even, as numpy's `around`).
pub fn quantile_nearest(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let idx = round_half_even(pos) as usize;
    sorted.get(idx.min(sorted.len() - 1)).copied()
}

fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// Median of unsorted data (average of the two middle values for even n).
pub fn median(x: &[f64]) -> Option<f64> {
    if x.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values computed with pandas 2.x:
    // s = pd.Series([1., 2., 3., 4., 10.]); s.skew() = 1.697056274847714, s.kurtosis() = 3.1519999999999984
    #[test]
    fn skew_and_kurtosis_match_pandas() {
        let x = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert!((skewness(&x).unwrap() - 1.697_056_274_847_714).abs() < 1e-12, "{:?}", skewness(&x));
        assert!((excess_kurtosis(&x).unwrap() - 3.152).abs() < 1e-12, "{:?}", excess_kurtosis(&x));
        assert!((std_sample(&x).unwrap() - 3.535_533_905_932_737_8).abs() < 1e-12);
    }

    #[test]
    fn degenerate_inputs() {
        assert_eq!(skewness(&[1.0, 2.0]), None);
        assert_eq!(skewness(&[3.0, 3.0, 3.0]), Some(0.0));
        assert_eq!(excess_kurtosis(&[3.0; 5]), Some(0.0));
        assert_eq!(mean(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn nearest_quantile_matches_numpy() {
        let s: Vec<f64> = (0..10).map(f64::from).collect();
        // numpy.quantile(range(10), 0.01, method='nearest') == 0; 0.99 -> 9; 0.5 -> 4 (4.5 ties to even)
        assert_eq!(quantile_nearest(&s, 0.01), Some(0.0));
        assert_eq!(quantile_nearest(&s, 0.99), Some(9.0));
        assert_eq!(quantile_nearest(&s, 0.5), Some(4.0));
        assert_eq!(quantile_nearest(&[], 0.5), None);
    }
}
