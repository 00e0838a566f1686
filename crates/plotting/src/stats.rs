//! Small numeric helpers: quantiles, box statistics, binning.

/// `(min, max)` of the finite values (None when there are none).
pub(crate) fn min_max(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let mut acc: Option<(f64, f64)> = None;
    for v in values {
        if !v.is_finite() {
            continue;
        }
        acc = Some(match acc {
            None => (v, v),
            Some((a, b)) => (a.min(v), b.max(v)),
        });
    }
    acc
}

/// Quantile of sorted data with linear interpolation between order statistics
/// (numpy's default, "type 7"). `sorted` must be non-empty.
pub(crate) fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    debug_assert!(!sorted.is_empty());
    let n = sorted.len();
    if n == 1 {
        return sorted[0];
    }
    let h = q.clamp(0.0, 1.0) * (n - 1) as f64;
    let i = (h.floor() as usize).min(n - 2);
    let f = h - i as f64;
    sorted[i] + (sorted[i + 1] - sorted[i]) * f
}

/// Tukey box-plot statistics.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BoxStats {
    pub q1: f64,
    pub median: f64,
    pub q3: f64,
    /// Lowest datum >= q1 - 1.5 IQR.
    pub whisker_lo: f64,
    /// Highest datum <= q3 + 1.5 IQR.
    pub whisker_hi: f64,
    /// Points beyond the whiskers, thinned to at most `2 * MAX_OUTLIERS_PER_SIDE` (evenly spaced
    /// in rank, extremes always kept) so that huge samples do not bloat the SVG.
    pub outliers: Vec<f64>,
    pub n: usize,
}

pub(crate) const MAX_OUTLIERS_PER_SIDE: usize = 200;

/// Box statistics of the finite values (None when there are none).
pub(crate) fn box_stats(values: impl IntoIterator<Item = f64>) -> Option<BoxStats> {
    let mut s: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if s.is_empty() {
        return None;
    }
    s.sort_by(f64::total_cmp);
    let q1 = quantile_sorted(&s, 0.25);
    let median = quantile_sorted(&s, 0.5);
    let q3 = quantile_sorted(&s, 0.75);
    let iqr = q3 - q1;
    let (fence_lo, fence_hi) = (q1 - 1.5 * iqr, q3 + 1.5 * iqr);
    // First index inside the fence and one past the last index inside it.
    let lo_idx = s.partition_point(|&v| v < fence_lo);
    let hi_idx = s.partition_point(|&v| v <= fence_hi);
    // q1 and q3 lie inside the fences, so lo_idx < hi_idx.
    let whisker_lo = s[lo_idx.min(s.len() - 1)];
    let whisker_hi = s[hi_idx.saturating_sub(1).max(lo_idx).min(s.len() - 1)];
    let mut outliers = thin(&s[..lo_idx], MAX_OUTLIERS_PER_SIDE);
    outliers.extend(thin(&s[hi_idx..], MAX_OUTLIERS_PER_SIDE));
    Some(BoxStats {
        q1,
        median,
        q3,
        whisker_lo,
        whisker_hi,
        outliers,
        n: s.len(),
    })
}

/// At most `max` elements of `sorted`, evenly spaced in rank, first and last included.
pub(crate) fn thin(sorted: &[f64], max: usize) -> Vec<f64> {
    if sorted.len() <= max {
        return sorted.to_vec();
    }
    if max == 0 {
        return Vec::new();
    }
    if max == 1 {
        return vec![sorted[sorted.len() - 1]];
    }
    let last = (sorted.len() - 1) as f64;
    (0..max)
        .map(|i| sorted[((i as f64) * last / (max - 1) as f64).round() as usize])
        .collect()
}

/// Counts of the finite values in `bins` equal-width bins over `[lo, hi]` (values outside are
/// ignored, `hi` itself falls in the last bin).
pub(crate) fn bin_counts(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<u64> {
    let mut counts = vec![0u64; bins];
    if bins == 0 || !(hi > lo) {
        return counts;
    }
    let width = (hi - lo) / bins as f64;
    for &v in values {
        if !v.is_finite() || v < lo || v > hi {
            continue;
        }
        let i = (((v - lo) / width).floor() as usize).min(bins - 1);
        counts[i] += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.25), 1.75);
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert_eq!(quantile_sorted(&s, 0.75), 3.25);
        assert_eq!(quantile_sorted(&[5.0], 0.3), 5.0);
    }

    #[test]
    fn box_stats_whiskers_clip_to_data() {
        let mut v: Vec<f64> = (1..=20).map(f64::from).collect();
        v.push(100.0);
        v.push(f64::NAN);
        let b = box_stats(v).unwrap();
        assert_eq!(b.n, 21);
        assert_eq!(b.median, 11.0);
        assert_eq!(b.whisker_lo, 1.0);
        assert_eq!(b.whisker_hi, 20.0);
        assert_eq!(b.outliers, vec![100.0]);
        assert!(box_stats(vec![f64::NAN]).is_none());
        let one = box_stats(vec![3.0]).unwrap();
        assert_eq!(
            (one.whisker_lo, one.whisker_hi, one.q1, one.q3),
            (3.0, 3.0, 3.0, 3.0)
        );
    }

    #[test]
    fn thinning_keeps_extremes() {
        let s: Vec<f64> = (0..1000).map(f64::from).collect();
        let t = thin(&s, 5);
        assert_eq!(t.len(), 5);
        assert_eq!(t[0], 0.0);
        assert_eq!(t[4], 999.0);
        assert!(t.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn binning() {
        let c = bin_counts(&[0.0, 0.5, 1.0, 2.0, f64::NAN, 3.0], 0.0, 2.0, 2);
        assert_eq!(c, vec![2, 2]);
    }
}
