//! Baseline vs fresh, metric by metric.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use toml::Table;

use crate::flatten::flatten;
use crate::rules::{Direction, Rules, Tolerance};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Within the tolerance.
    Ok,
    /// Moved beyond the tolerance in the bad direction.
    Regression,
    /// Moved beyond the tolerance in the good direction (not a failure, but worth a look: the
    /// baseline should be updated so the gain is protected).
    Improved,
    /// A `both` rule's metric moved beyond the tolerance: a failure, since there is no good side.
    Changed,
    /// No baseline value (new metric or new file): nothing to regress against.
    New,
    /// A ruled metric is in the baseline but not in the fresh results: a failure, since a gate
    /// that passes when its metric vanishes checks nothing.
    Missing,
    /// No rule decides this metric; shown only on request.
    Unruled,
}

impl Verdict {
    /// Whether this verdict fails the gate.
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Regression | Verdict::Changed | Verdict::Missing)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Regression => "REGRESSION",
            Verdict::Improved => "improved",
            Verdict::Changed => "changed",
            Verdict::New => "new",
            Verdict::Missing => "MISSING",
            Verdict::Unruled => "unruled",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub experiment: String,
    pub metric: String,
    pub baseline: Option<f64>,
    pub now: Option<f64>,
    /// now − baseline, when both exist.
    pub delta: Option<f64>,
    /// The deciding rule's number (1-based, its position in the tolerances file).
    pub rule: Option<usize>,
    pub tolerance: Option<Tolerance>,
    pub verdict: Verdict,
}

/// Every metric of one experiment's results, baseline vs fresh. A file absent on one side is an
/// empty table: all its metrics are then `new` (no baseline) or, where ruled, `MISSING`.
pub fn compare(experiment: &str, baseline: &Table, fresh: &Table, rules: &Rules) -> Vec<Row> {
    compare_metrics(experiment, &flatten(baseline), &flatten(fresh), rules)
}

/// [`compare`] on already flattened metrics; rows sorted by metric id.
pub fn compare_metrics(
    experiment: &str,
    baseline: &BTreeMap<String, f64>,
    fresh: &BTreeMap<String, f64>,
    rules: &Rules,
) -> Vec<Row> {
    let ids: BTreeSet<&String> = baseline.keys().chain(fresh.keys()).collect();
    ids.into_iter()
        .map(|id| {
            let (b, n) = (baseline.get(id).copied(), fresh.get(id).copied());
            let rule = rules.find(experiment, id);
            let tolerance = rule.map(|r| r.tolerance);
            Row {
                experiment: experiment.to_string(),
                metric: id.clone(),
                baseline: b,
                now: n,
                delta: b.zip(n).map(|(b, n)| n - b),
                rule: rule.map(|r| r.number),
                tolerance,
                verdict: verdict(b, n, tolerance),
            }
        })
        .collect()
}

fn verdict(baseline: Option<f64>, now: Option<f64>, tolerance: Option<Tolerance>) -> Verdict {
    match (baseline, now, tolerance) {
        (None, _, _) => Verdict::New,
        (Some(_), None, Some(_)) => Verdict::Missing,
        (Some(_), _, None) => Verdict::Unruled,
        (Some(b), Some(n), Some(t)) => judge(b, n, t),
    }
}

fn judge(b: f64, n: f64, t: Tolerance) -> Verdict {
    if b.is_nan() || n.is_nan() {
        // NaN on both sides is the same (degenerate) result; NaN on one side is a change with no
        // meaningful direction.
        return if b.is_nan() && n.is_nan() { Verdict::Ok } else { Verdict::Changed };
    }
    let delta = n - b;
    // Results are written rounded, so `now − baseline` carries float noise of a few ulps; without
    // this slack a move of exactly the tolerance would fail or pass by accident.
    let allowed = t.allowed(b) + 1e-9 * (1.0 + b.abs() + n.abs());
    let (bad, good) = match t.direction {
        Direction::Drop => (-delta, delta),
        Direction::Rise => (delta, -delta),
        Direction::Both => {
            return if delta.abs() > allowed { Verdict::Changed } else { Verdict::Ok };
        }
    };
    if bad > allowed {
        Verdict::Regression
    } else if good > allowed {
        Verdict::Improved
    } else {
        Verdict::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const RULES: &str = r#"
        [[rule]]
        experiment = "e04-classify"
        metric = "summary[*].f1"
        kind = "absolute"
        direction = "drop"
        tolerance = 0.02
        reason = "F1"
        snapshot_decimals = 2
        snapshot_reason = "test"

        [[rule]]
        experiment = "e04-classify"
        metric = "summary[*].rmse"
        kind = "relative"
        direction = "rise"
        tolerance = 0.05
        reason = "RMSE"
        snapshot_decimals = 3
        snapshot_reason = "test"

        [[rule]]
        experiment = "e04-classify"
        metric = "summary[*].entropy"
        kind = "absolute"
        direction = "both"
        tolerance = 0.01
        reason = "entropy"
        snapshot_decimals = 3
        snapshot_reason = "test"
    "#;

    fn rules() -> Rules {
        Rules::parse(RULES, Path::new("t.toml")).unwrap()
    }

    fn table(text: &str) -> Table {
        text.parse().unwrap()
    }

    fn summary(spc: i64, f1: f64, rmse: f64, entropy: f64) -> String {
        format!("[[summary]]\nspc = {spc}\nf1 = {f1}\nrmse = {rmse}\nentropy = {entropy}\nseconds = 1.0\n")
    }

    fn verdicts(base: &str, fresh: &str) -> BTreeMap<String, Verdict> {
        compare("e04-classify", &table(base), &table(fresh), &rules())
            .into_iter()
            .map(|r| (r.metric, r.verdict))
            .collect()
    }

    #[test]
    fn identical_results_are_ok_and_unruled_metrics_are_marked() {
        let s = summary(4, 0.5, 0.2, 0.99);
        let v = verdicts(&s, &s);
        assert_eq!(v["summary[spc=4].f1"], Verdict::Ok);
        assert_eq!(v["summary[spc=4].rmse"], Verdict::Ok);
        assert_eq!(v["summary[spc=4].entropy"], Verdict::Ok);
        assert_eq!(v["summary[spc=4].seconds"], Verdict::Unruled);
    }

    #[test]
    fn drop_beyond_tolerance_is_a_regression_within_it_ok() {
        let base = summary(4, 0.5, 0.2, 0.99);
        assert_eq!(verdicts(&base, &summary(4, 0.4, 0.2, 0.99))["summary[spc=4].f1"], Verdict::Regression);
        assert_eq!(verdicts(&base, &summary(4, 0.49, 0.2, 0.99))["summary[spc=4].f1"], Verdict::Ok);
        // Exactly at the tolerance (with rounding noise in the subtraction) still passes.
        assert_eq!(verdicts(&base, &summary(4, 0.48, 0.2, 0.99))["summary[spc=4].f1"], Verdict::Ok);
    }

    #[test]
    fn move_in_the_good_direction_is_improved() {
        let base = summary(4, 0.5, 0.2, 0.99);
        let v = verdicts(&base, &summary(4, 0.6, 0.15, 0.99));
        assert_eq!(v["summary[spc=4].f1"], Verdict::Improved);
        assert_eq!(v["summary[spc=4].rmse"], Verdict::Improved);
    }

    #[test]
    fn relative_rise_tolerance_scales_with_baseline() {
        let base = summary(4, 0.5, 0.2, 0.99);
        // 5% of 0.2 is 0.01.
        assert_eq!(verdicts(&base, &summary(4, 0.5, 0.209, 0.99))["summary[spc=4].rmse"], Verdict::Ok);
        assert_eq!(verdicts(&base, &summary(4, 0.5, 0.212, 0.99))["summary[spc=4].rmse"], Verdict::Regression);
    }

    #[test]
    fn both_direction_beyond_tolerance_is_changed_and_fails() {
        let base = summary(4, 0.5, 0.2, 0.99);
        for e in [0.97, 1.01 + 0.001] {
            let v = verdicts(&base, &summary(4, 0.5, 0.2, e))["summary[spc=4].entropy"];
            assert_eq!(v, Verdict::Changed, "entropy {e}");
            assert!(v.fails());
        }
    }

    #[test]
    fn metric_without_baseline_is_new_and_passes() {
        let v = verdicts("", &summary(4, 0.5, 0.2, 0.99));
        assert!(v.values().all(|v| *v == Verdict::New), "{v:?}");
        assert!(!Verdict::New.fails());
    }

    #[test]
    fn vanished_ruled_metric_is_missing_and_fails_unruled_is_not() {
        let v = verdicts(&summary(4, 0.5, 0.2, 0.99), &summary(8, 0.5, 0.2, 0.99));
        assert_eq!(v["summary[spc=4].f1"], Verdict::Missing);
        assert!(Verdict::Missing.fails());
        assert_eq!(v["summary[spc=4].seconds"], Verdict::Unruled);
        assert_eq!(v["summary[spc=8].f1"], Verdict::New);
    }

    #[test]
    fn rows_carry_delta_rule_and_tolerance() {
        let rows = compare(
            "e04-classify",
            &table(&summary(4, 0.5, 0.2, 0.99)),
            &table(&summary(4, 0.4, 0.2, 0.99)),
            &rules(),
        );
        let f1 = rows.iter().find(|r| r.metric == "summary[spc=4].f1").unwrap();
        assert_eq!(f1.rule, Some(1));
        assert!((f1.delta.unwrap() + 0.1).abs() < 1e-12);
        assert_eq!(f1.tolerance.unwrap().to_string(), "-0.02");
    }

    #[test]
    fn nan_on_one_side_is_changed() {
        let base = summary(4, 0.5, 0.2, 0.99);
        let v = verdicts(&base, &summary(4, f64::NAN, 0.2, 0.99).replace("NaN", "nan"));
        assert_eq!(v["summary[spc=4].f1"], Verdict::Changed);
    }
}
