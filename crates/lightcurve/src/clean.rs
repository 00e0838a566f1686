//! Observation and curve filters, as the official pipeline applies them (spec §2.1), each a
//! separate step with its own counter in [`CleaningReport`].

use std::fmt;
use std::path::Path;

use crate::error::{DataError, Result};
use crate::stats;

/// What to do with a bad observation (NaN/inf, null, error outside bounds, duplicate time,
/// unsorted times).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Validation {
    /// Drop it and count it in the [`CleaningReport`] (the official pipeline's behaviour).
    #[default]
    Drop,
    /// Refuse the file with an error naming the object and the problem.
    Strict,
    /// Drop the whole curve at its first problem and list it, with the problem, in
    /// [`CleaningReport::rejected`]; curves with fewer than `min_points` observations are listed
    /// there too. For tools that must not alter a curve silently but should go on with the others
    /// (embedding users' light curves).
    Reject,
}

/// A curve dropped whole under [`Validation::Reject`], and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedCurve {
    pub object_id: String,
    pub band: String,
    pub problem: String,
}

/// Direction of the Gaussian-noise (variability) filter; spec §2.1 explains the disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariabilityFilter {
    /// The official code: keep only curves with skew > 1, excess kurtosis > 10 and std > 0.1.
    KeepVariableAsCode,
    /// The paper's text taken literally: remove curves with |kurtosis| > 10, |skew| > 1, std > 0.1.
    RemoveVariableAsPaper,
}

/// Per-curve magnitude clipping to the open interval between two percentiles ('nearest').
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PercentileClip {
    pub lower: f64,
    pub upper: f64,
}

impl Default for PercentileClip {
    /// 1st/99th, as the paper and the bigmacho pipeline.
    fn default() -> Self {
        Self {
            lower: 0.01,
            upper: 0.99,
        }
    }
}

/// Cleaning settings. `Default` is what the official records pipeline does: 0 < err < 1, finite,
/// duplicates dropped, sorted by time, curves with fewer than 5 points dropped; no variability
/// filter and no clipping.
#[derive(Debug, Clone, PartialEq)]
pub struct CleaningOptions {
    pub validation: Validation,
    /// Observations with err >= this are dropped; `None` keeps any positive error (the old-format
    /// Alcock/ATLAS writer did not filter errors).
    pub max_error: Option<f64>,
    pub min_points: usize,
    pub variability: Option<VariabilityFilter>,
    pub clip: Option<PercentileClip>,
}

impl Default for CleaningOptions {
    fn default() -> Self {
        Self {
            validation: Validation::Drop,
            max_error: Some(1.0),
            min_points: 5,
            variability: None,
            clip: None,
        }
    }
}

/// Counts of what cleaning dropped, logged by the readers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleaningReport {
    pub observations_in: usize,
    pub curves_in: usize,
    pub dropped_nonfinite: usize,
    pub dropped_error_bounds: usize,
    pub dropped_duplicate_time: usize,
    pub dropped_clipped: usize,
    pub curves_resorted: usize,
    pub curves_too_short: usize,
    pub curves_variability: usize,
    pub observations_out: usize,
    pub curves_out: usize,
    /// Curves refused whole under [`Validation::Reject`], in reading order.
    pub rejected: Vec<RejectedCurve>,
}

impl fmt::Display for CleaningReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} curves / {} observations in; dropped observations: {} non-finite or null, {} error outside bounds, \
             {} duplicate time, {} clipped; {} curves re-sorted; dropped curves: {} too short, {} by variability filter; \
             {} curves / {} observations out",
            self.curves_in,
            self.observations_in,
            self.dropped_nonfinite,
            self.dropped_error_bounds,
            self.dropped_duplicate_time,
            self.dropped_clipped,
            self.curves_resorted,
            self.curves_too_short,
            self.curves_variability,
            self.curves_out,
            self.observations_out
        )?;
        if let Some(first) = self.rejected.first() {
            write!(
                f,
                "; {} curves rejected (first: `{}`: {})",
                self.rejected.len(),
                first.object_id,
                first.problem
            )?;
        }
        Ok(())
    }
}

/// One raw curve as read from a file: values may be null (`None`), unsorted, duplicated.
#[derive(Debug, Clone, Default)]
pub struct RawCurve {
    pub object_id: String,
    pub band: String,
    pub time: Vec<Option<f64>>,
    pub mag: Vec<Option<f64>>,
    pub err: Vec<Option<f64>>,
}

/// A cleaned curve: sorted, finite, within bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct CleanCurve {
    pub object_id: String,
    pub band: String,
    pub time: Vec<f64>,
    pub mag: Vec<f64>,
    pub err: Vec<f64>,
}

/// Cleans one raw curve. `Ok(None)` means the curve was dropped (counted in `report`, and listed
/// in `report.rejected` under [`Validation::Reject`]).
pub fn clean_curve(
    path: &Path,
    raw: RawCurve,
    opts: &CleaningOptions,
    report: &mut CleaningReport,
) -> Result<Option<CleanCurve>> {
    report.curves_in += 1;
    report.observations_in += raw.time.len();
    let n = raw.time.len();
    if raw.mag.len() != n || raw.err.len() != n {
        return Err(DataError::BadObject {
            path: path.to_path_buf(),
            object_id: raw.object_id.clone(),
            problem: "time, mag and err columns have different lengths".into(),
        });
    }
    if opts.validation == Validation::Reject {
        return Ok(reject_or_clean(path, raw, opts, report));
    }
    clean_checked(path, raw, opts, report)
}

/// [`Validation::Reject`]: a problem Strict would refuse the file for refuses only this curve.
fn reject_or_clean(path: &Path, raw: RawCurve, opts: &CleaningOptions, report: &mut CleaningReport) -> Option<CleanCurve> {
    let strict = CleaningOptions {
        validation: Validation::Strict,
        ..opts.clone()
    };
    let (object_id, band, n_raw) = (raw.object_id.clone(), raw.band.clone(), raw.time.len());
    // Count into a scratch report, merged only for curves that pass, so a rejected curve adds
    // nothing but its entry (and the `*_in` counts already taken).
    let mut scratch = CleaningReport::default();
    let problem = match clean_checked(path, raw, &strict, &mut scratch) {
        Ok(Some(c)) => {
            report.curves_resorted += scratch.curves_resorted;
            report.dropped_clipped += scratch.dropped_clipped;
            report.curves_out += 1;
            report.observations_out += c.time.len();
            return Some(c);
        }
        Ok(None) if scratch.curves_variability > 0 => {
            report.curves_variability += 1;
            return None;
        }
        Ok(None) => {
            report.curves_too_short += 1;
            format!(
                "has {} observations, fewer than the {} needed",
                n_raw - scratch.dropped_clipped,
                opts.min_points
            )
        }
        Err(DataError::BadObject { problem, .. }) => problem,
        Err(e) => e.to_string(),
    };
    report.rejected.push(RejectedCurve {
        object_id,
        band,
        problem,
    });
    None
}

/// Cleaning under [`Validation::Drop`] or [`Validation::Strict`].
fn clean_checked(
    path: &Path,
    raw: RawCurve,
    opts: &CleaningOptions,
    report: &mut CleaningReport,
) -> Result<Option<CleanCurve>> {
    let bad = |problem: String| DataError::BadObject {
        path: path.to_path_buf(),
        object_id: raw.object_id.clone(),
        problem,
    };
    let n = raw.time.len();
    // Observation filter: finite values, 0 < err (< max_error).
    let mut obs: Vec<(f64, f64, f64)> = Vec::with_capacity(n);
    for k in 0..n {
        let (t, m, e) = (raw.time[k], raw.mag[k], raw.err[k]);
        let (Some(t), Some(m), Some(e)) = (t, m, e) else {
            if opts.validation == Validation::Strict {
                return Err(bad(format!("row {k} has a missing (null) value")));
            }
            report.dropped_nonfinite += 1;
            continue;
        };
        if !(t.is_finite() && m.is_finite() && e.is_finite()) {
            if opts.validation == Validation::Strict {
                return Err(bad(format!("row {k} has a non-finite value (time {t}, mag {m}, err {e})")));
            }
            report.dropped_nonfinite += 1;
            continue;
        }
        let above_max = opts.max_error.is_some_and(|mx| e >= mx);
        if e <= 0.0 || above_max {
            if opts.validation == Validation::Strict {
                return Err(bad(format!(
                    "row {k} at time {t} has error {e}, outside (0, {})",
                    opts.max_error.map_or("inf".to_string(), |m| m.to_string())
                )));
            }
            report.dropped_error_bounds += 1;
            continue;
        }
        obs.push((t, m, e));
    }
    // Sort by time (stable, so the first of duplicate times is the first in the file).
    if obs.windows(2).any(|w| w[1].0 < w[0].0) {
        if opts.validation == Validation::Strict {
            return Err(bad("times are not sorted".into()));
        }
        report.curves_resorted += 1;
        obs.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    let before = obs.len();
    obs.dedup_by(|b, a| b.0 == a.0);
    let dups = before - obs.len();
    if dups > 0 && opts.validation == Validation::Strict {
        return Err(bad(format!("{dups} duplicate observation time(s)")));
    }
    report.dropped_duplicate_time += dups;
    if let Some(clip) = opts.clip {
        let kept = percentile_clip(&obs, clip);
        report.dropped_clipped += obs.len() - kept.len();
        obs = kept;
    }
    if obs.len() < opts.min_points {
        report.curves_too_short += 1;
        return Ok(None);
    }
    let mag: Vec<f64> = obs.iter().map(|o| o.1).collect();
    if let Some(filter) = opts.variability {
        if !passes_variability_filter(&mag, filter) {
            report.curves_variability += 1;
            return Ok(None);
        }
    }
    report.curves_out += 1;
    report.observations_out += obs.len();
    Ok(Some(CleanCurve {
        object_id: raw.object_id,
        band: raw.band,
        time: obs.iter().map(|o| o.0).collect(),
        mag,
        err: obs.iter().map(|o| o.2).collect(),
    }))
}

/// Keeps observations with magnitude strictly between the two percentiles (bigmacho pipeline).
fn percentile_clip(obs: &[(f64, f64, f64)], clip: PercentileClip) -> Vec<(f64, f64, f64)> {
    let mut sorted: Vec<f64> = obs.iter().map(|o| o.1).collect();
    sorted.sort_by(f64::total_cmp);
    let (Some(lo), Some(hi)) = (
        stats::quantile_nearest(&sorted, clip.lower),
        stats::quantile_nearest(&sorted, clip.upper),
    ) else {
        return obs.to_vec();
    };
    obs.iter().copied().filter(|o| o.1 > lo && o.1 < hi).collect()
}

/// Whether a curve survives the variability filter in the given direction.
pub fn passes_variability_filter(mag: &[f64], filter: VariabilityFilter) -> bool {
    let (Some(skew), Some(kurt), Some(std)) = (
        stats::skewness(mag),
        stats::excess_kurtosis(mag),
        stats::std_sample(mag),
    ) else {
        // Too few points to judge: the code keeps nothing it cannot judge; the paper removes nothing.
        return filter == VariabilityFilter::RemoveVariableAsPaper;
    };
    match filter {
        VariabilityFilter::KeepVariableAsCode => skew > 1.0 && kurt > 10.0 && std > 0.1,
        VariabilityFilter::RemoveVariableAsPaper => !(kurt.abs() > 10.0 && skew.abs() > 1.0 && std > 0.1),
    }
}

/// Checks that an already-clean curve really is: non-empty, finite, strictly increasing time,
/// positive errors.
pub(crate) fn check_clean(path: &Path, object_id: &str, time: &[f64], mag: &[f64], err: &[f64]) -> Result<()> {
    let bad = |problem: String| DataError::BadObject {
        path: path.to_path_buf(),
        object_id: object_id.to_string(),
        problem,
    };
    if time.is_empty() {
        return Err(bad("is empty".into()));
    }
    if mag.len() != time.len() || err.len() != time.len() {
        return Err(bad("time, mag and err have different lengths".into()));
    }
    for k in 0..time.len() {
        if !(time[k].is_finite() && mag[k].is_finite() && err[k].is_finite()) {
            return Err(bad(format!("observation {k} is not finite")));
        }
        if err[k] <= 0.0 {
            return Err(bad(format!("observation {k} has non-positive error {}", err[k])));
        }
        if k > 0 && time[k] <= time[k - 1] {
            return Err(bad(format!("time is not strictly increasing at observation {k}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(time: &[f64], mag: &[f64], err: &[f64]) -> RawCurve {
        RawCurve {
            object_id: "obj-7".into(),
            band: "R".into(),
            time: time.iter().map(|&v| Some(v)).collect(),
            mag: mag.iter().map(|&v| Some(v)).collect(),
            err: err.iter().map(|&v| Some(v)).collect(),
        }
    }

    fn run(r: RawCurve, opts: &CleaningOptions) -> (Result<Option<CleanCurve>>, CleaningReport) {
        let mut rep = CleaningReport::default();
        (clean_curve(Path::new("f.csv"), r, opts, &mut rep), rep)
    }

    #[test]
    fn drops_bad_observations_with_counts_and_sorts() {
        let r = raw(
            &[5.0, 1.0, 2.0, 2.0, 3.0, 4.0, 6.0, f64::NAN, 8.0, 9.0],
            &[1.0, 2.0, 3.0, 9.0, 4.0, 5.0, 6.0, 7.0, f64::INFINITY, 1.0],
            &[0.1, 0.1, 0.1, 0.1, -0.1, 0.0, 1.0, 0.1, 0.1, 0.2],
        );
        let (out, rep) = run(r, &CleaningOptions { min_points: 1, ..Default::default() });
        let c = out.unwrap().unwrap();
        assert_eq!(c.time, vec![1.0, 2.0, 5.0, 9.0]);
        assert_eq!(c.mag, vec![2.0, 3.0, 1.0, 1.0], "first of duplicate times kept");
        assert_eq!(rep.dropped_nonfinite, 2);
        assert_eq!(rep.dropped_error_bounds, 3);
        assert_eq!(rep.dropped_duplicate_time, 1);
        assert_eq!(rep.curves_resorted, 1);
        assert_eq!(rep.observations_out, 4);
    }

    #[test]
    fn short_curves_are_dropped_and_counted() {
        let (out, rep) = run(raw(&[1.0, 2.0, 3.0, 4.0], &[1.0; 4], &[0.1; 4]), &CleaningOptions::default());
        assert!(out.unwrap().is_none());
        assert_eq!(rep.curves_too_short, 1);
        let (out, _) = run(raw(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.0; 5], &[0.1; 5]), &CleaningOptions::default());
        assert_eq!(out.unwrap().unwrap().time.len(), 5);
        let (out, rep) = run(raw(&[], &[], &[]), &CleaningOptions::default());
        assert!(out.unwrap().is_none());
        assert_eq!(rep.curves_too_short, 1);
    }

    #[test]
    fn strict_mode_names_object_and_problem() {
        let strict = CleaningOptions {
            validation: Validation::Strict,
            ..Default::default()
        };
        let cases = [
            (raw(&[1.0, 2.0], &[f64::NAN, 1.0], &[0.1, 0.1]), "non-finite"),
            (raw(&[1.0, 2.0], &[1.0, 1.0], &[0.1, -0.5]), "outside"),
            (raw(&[2.0, 1.0], &[1.0, 1.0], &[0.1, 0.1]), "not sorted"),
            (raw(&[1.0, 1.0], &[1.0, 1.0], &[0.1, 0.1]), "duplicate"),
        ];
        for (r, needle) in cases {
            let msg = run(r, &strict).0.unwrap_err().to_string();
            assert!(msg.contains("obj-7") && msg.contains("f.csv") && msg.contains(needle), "{msg}");
        }
        let mut nulls = raw(&[1.0, 2.0], &[1.0, 1.0], &[0.1, 0.1]);
        nulls.err[1] = None;
        assert!(run(nulls, &strict).0.unwrap_err().to_string().contains("null"));
    }

    #[test]
    fn reject_mode_drops_whole_curves_and_lists_them() {
        let reject = CleaningOptions {
            validation: Validation::Reject,
            max_error: None,
            ..Default::default()
        };
        let t = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let cases = [
            (raw(&t, &[1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0], &[0.1; 6]), "non-finite"),
            (raw(&t, &[1.0; 6], &[0.1, 0.1, 0.0, 0.1, 0.1, 0.1]), "outside (0, inf)"),
            (raw(&[1.0, 3.0, 2.0, 4.0, 5.0, 6.0], &[1.0; 6], &[0.1; 6]), "not sorted"),
            (raw(&[1.0, 2.0, 2.0, 4.0, 5.0, 6.0], &[1.0; 6], &[0.1; 6]), "duplicate"),
            (raw(&t[..4], &[1.0; 4], &[0.1; 4]), "has 4 observations, fewer than the 5 needed"),
        ];
        for (r, needle) in cases {
            let (out, rep) = run(r, &reject);
            assert!(out.unwrap().is_none(), "{needle}");
            assert_eq!(rep.rejected.len(), 1, "{needle}");
            let rej = &rep.rejected[0];
            assert_eq!((rej.object_id.as_str(), rej.band.as_str()), ("obj-7", "R"));
            assert!(rej.problem.contains(needle), "{}", rej.problem);
            assert_eq!((rep.curves_in, rep.curves_out, rep.observations_out), (1, 0, 0));
            assert!(rep.to_string().contains("1 curves rejected (first: `obj-7`"), "{rep}");
        }
        // A good curve passes untouched; the default max error does not apply when unset.
        let (out, rep) = run(raw(&t, &[1.0; 6], &[1.5; 6]), &reject);
        assert_eq!(out.unwrap().unwrap().time, t.to_vec());
        assert!(rep.rejected.is_empty());
        assert_eq!((rep.curves_out, rep.observations_out), (1, 6));
    }

    #[test]
    fn variability_filter_directions_are_opposite_for_a_spiky_curve() {
        // One deep fading event (magnitudes grow when a star dims): skew > 1, kurtosis > 10, std > 0.1.
        let mut mag = vec![15.0; 60];
        for (i, m) in mag.iter_mut().enumerate() {
            *m += 0.01 * ((i * 7919) % 13) as f64;
        }
        mag[30] = 19.0;
        assert!(passes_variability_filter(&mag, VariabilityFilter::KeepVariableAsCode));
        assert!(!passes_variability_filter(&mag, VariabilityFilter::RemoveVariableAsPaper));
        // A brightening outburst has negative skew: the code's signed test drops it, the paper's
        // absolute-value test still flags it as variable.
        mag[30] = 11.0;
        assert!(!passes_variability_filter(&mag, VariabilityFilter::KeepVariableAsCode));
        assert!(!passes_variability_filter(&mag, VariabilityFilter::RemoveVariableAsPaper));
        let flat: Vec<f64> = (0..60).map(|i| 15.0 + 0.3 * (i as f64).sin()).collect();
        assert!(!passes_variability_filter(&flat, VariabilityFilter::KeepVariableAsCode));
        assert!(passes_variability_filter(&flat, VariabilityFilter::RemoveVariableAsPaper));
    }

    #[test]
    fn percentile_clip_is_strict_nearest() {
        let t: Vec<f64> = (0..101).map(f64::from).collect();
        let m: Vec<f64> = (0..101).map(f64::from).collect();
        let opts = CleaningOptions {
            clip: Some(PercentileClip::default()),
            ..Default::default()
        };
        let (out, rep) = run(raw(&t, &m, &[0.1; 101]), &opts);
        let c = out.unwrap().unwrap();
        // 1st percentile (nearest) of 0..=100 is 1, 99th is 99: keep 2..=98.
        assert_eq!(c.mag.first(), Some(&2.0));
        assert_eq!(c.mag.last(), Some(&98.0));
        assert_eq!(rep.dropped_clipped, 4);
    }
}
