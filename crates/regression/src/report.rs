//! The plain-text table and its summary line.

use std::fmt;

use crate::compare::{Row, Verdict};

/// Counts over a comparison, for the summary line and the exit status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Metrics a rule decides (including new and missing ones).
    pub checked: usize,
    pub regressions: usize,
    pub changed: usize,
    pub missing: usize,
    pub improved: usize,
    /// Ruled metrics without a baseline.
    pub new: usize,
    /// Metrics no rule decides, whatever their verdict.
    pub unruled: usize,
}

impl Summary {
    pub fn of(rows: &[Row]) -> Summary {
        let mut s = Summary::default();
        for r in rows {
            // Rows without a rule are context, counted once as unruled whatever their verdict,
            // so `new` counts only metrics the contract covers.
            if r.rule.is_none() {
                s.unruled += 1;
                continue;
            }
            s.checked += 1;
            match r.verdict {
                Verdict::Regression => s.regressions += 1,
                Verdict::Changed => s.changed += 1,
                Verdict::Missing => s.missing += 1,
                Verdict::Improved => s.improved += 1,
                Verdict::New => s.new += 1,
                Verdict::Unruled | Verdict::Ok => {}
            }
        }
        s
    }

    /// Verdicts that fail the gate.
    pub fn failures(&self) -> usize {
        self.regressions + self.changed + self.missing
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} metric{} checked, {} regression{} ({} REGRESSION, {} changed, {} MISSING); {} improved, {} new; {} unruled (not shown without --all)",
            self.checked,
            plural(self.checked),
            self.failures(),
            plural(self.failures()),
            self.regressions,
            self.changed,
            self.missing,
            self.improved,
            self.new,
            self.unruled,
        )
    }
}

/// A number in at most six significant digits, so deltas show `-0.1`, not `-0.09999999999999998`.
pub fn format_number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return v.to_string();
    }
    let magnitude = v.abs().log10().floor() as i32;
    if !(-5..7).contains(&magnitude) {
        return format!("{v:.5e}");
    }
    let decimals = (5 - magnitude).max(0) as usize;
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// The aligned table, sorted by experiment then metric. Rows without a rule (`unruled`, and `new`
/// ones no rule covers) appear only with `all`: they are context, not part of the contract.
pub fn render_table(rows: &[Row], all: bool) -> String {
    let mut shown: Vec<&Row> = rows.iter().filter(|r| all || r.rule.is_some()).collect();
    shown.sort_by(|a, b| (&a.experiment, &a.metric).cmp(&(&b.experiment, &b.metric)));
    let opt = |v: Option<f64>| v.map(format_number).unwrap_or_else(|| "—".into());
    let header = ["experiment", "metric", "baseline", "now", "delta", "tolerance", "verdict"].map(String::from);
    let mut cells: Vec<[String; 7]> = vec![header];
    for r in &shown {
        cells.push([
            r.experiment.clone(),
            r.metric.clone(),
            opt(r.baseline),
            opt(r.now),
            r.delta.map(|d| if d > 0.0 { format!("+{}", format_number(d)) } else { format_number(d) }).unwrap_or_else(|| "—".into()),
            r.tolerance.map(|t| t.to_string()).unwrap_or_else(|| "—".into()),
            r.verdict.to_string(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let mut line = String::new();
        for (col, (c, w)) in row.iter().zip(widths).enumerate() {
            let pad = w - c.chars().count();
            // Text left-aligned, numbers right-aligned so their decimal places line up roughly.
            if (2..5).contains(&col) && i > 0 {
                line.push_str(&" ".repeat(pad));
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&" ".repeat(pad));
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            let total: usize = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Direction, Kind, Tolerance};

    fn row(exp: &str, metric: &str, b: f64, n: f64, verdict: Verdict, ruled: bool) -> Row {
        Row {
            experiment: exp.into(),
            metric: metric.into(),
            baseline: Some(b),
            now: Some(n),
            delta: Some(n - b),
            rule: ruled.then_some(1),
            tolerance: ruled.then_some(Tolerance { kind: Kind::Absolute, direction: Direction::Drop, value: 0.02 }),
            verdict,
        }
    }

    #[test]
    fn numbers_use_six_significant_digits() {
        assert_eq!(format_number(0.4 - 0.5), "-0.1");
        assert_eq!(format_number(9.718168871610201), "9.71817");
        assert_eq!(format_number(125698.0), "125698");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(1e-9), "1.00000e-9");
    }

    #[test]
    fn table_is_sorted_aligned_and_hides_unruled_rows_by_default() {
        let rows = vec![
            row("e05", "b", 0.5, 0.5, Verdict::Ok, true),
            row("e04", "z", 0.5, 0.4, Verdict::Regression, true),
            row("e04", "a.seconds", 1.0, 2.0, Verdict::Unruled, false),
        ];
        let t = render_table(&rows, false);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[0].starts_with("experiment  metric  baseline"), "{t}");
        assert!(lines[2].starts_with("e04") && lines[2].ends_with("REGRESSION"), "{t}");
        assert!(lines[2].contains("-0.1") && lines[2].contains("-0.02"), "{t}");
        assert!(lines[3].starts_with("e05") && lines[3].ends_with("ok"), "{t}");
        let all = render_table(&rows, true);
        assert!(all.contains("a.seconds") && all.contains("unruled"), "{all}");
    }

    #[test]
    fn summary_counts_failures() {
        let rows = vec![
            row("e04", "z", 0.5, 0.4, Verdict::Regression, true),
            row("e04", "y", 0.5, 0.4, Verdict::Changed, true),
            row("e04", "x", 0.5, 0.7, Verdict::Improved, true),
            row("e04", "w", 0.5, 0.7, Verdict::Unruled, false),
        ];
        let s = Summary::of(&rows);
        assert_eq!((s.checked, s.failures(), s.improved, s.unruled), (3, 2, 1, 1));
        assert!(s.to_string().starts_with("3 metrics checked, 2 regressions"), "{s}");
    }
}
