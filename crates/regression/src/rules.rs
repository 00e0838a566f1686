//! Pre-registered tolerance rules (`results/tolerances.toml`).
//!
//! A rule says how far one experiment's metrics may move, in which direction, and why. Rules are
//! written before the numbers move so that "is this a regression?" is not decided after the fact.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::{Table, Value};

use crate::glob::glob_match;

/// How the tolerance is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// In the metric's own units.
    Absolute,
    /// As a fraction of |baseline|.
    Relative,
}

/// Which way the metric must not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Bigger is better (F1, R²): fail if now < baseline − tolerance.
    Drop,
    /// Smaller is better (RMSE): fail if now > baseline + tolerance.
    Rise,
    /// No better side (entropy, silhouette as a description): fail if |now − baseline| > tolerance.
    Both,
}

/// The tolerance part of a rule, as shown in the report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    pub kind: Kind,
    pub direction: Direction,
    pub value: f64,
}

impl Tolerance {
    /// The allowed move in the metric's units, for this baseline.
    pub fn allowed(&self, baseline: f64) -> f64 {
        match self.kind {
            Kind::Absolute => self.value,
            Kind::Relative => self.value * baseline.abs(),
        }
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.direction {
            Direction::Drop => "-",
            Direction::Rise => "+",
            Direction::Both => "±",
        };
        match self.kind {
            Kind::Absolute => write!(f, "{sign}{}", self.value),
            Kind::Relative => write!(f, "{sign}{}%", self.value * 100.0),
        }
    }
}

/// One `[[rule]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// 1-based position in the file: what messages and the report call "rule N".
    pub number: usize,
    pub experiment: String,
    /// Glob over metric ids (see [`glob_match`]).
    pub metric: String,
    pub tolerance: Tolerance,
    pub reason: String,
    /// Decimals the smoke snapshots (`tests/tests/smoke_snapshots.rs`) round this rule's metrics
    /// to, chosen in advance from the tolerance (docs/regression.md, "Snapshots"). At most
    /// [`MAX_SNAPSHOT_DECIMALS`].
    pub snapshot_decimals: u32,
    /// Why that precision: printed in the snapshot header beside the rounded values.
    pub snapshot_reason: String,
}

/// Largest accepted `snapshot_decimals`: beyond 9 decimals a snapshot shows float noise, not science.
pub const MAX_SNAPSHOT_DECIMALS: u32 = 9;

/// The rules of one file, in file order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub source: PathBuf,
    pub rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    // The underlying errors are part of the message rather than a `source`, so that an anyhow
    // chain (`{e:#}`) does not print them twice.
    #[error("reading tolerance rules {path}: {error} (default: results/tolerances.toml; see docs/regression.md)")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path} is not valid TOML ({error}); fix the syntax")]
    Toml { path: PathBuf, error: toml::de::Error },
    #[error("{path}: {problem}")]
    Shape { path: PathBuf, problem: String },
    #[error("{path}: rule {number} (experiment {experiment:?}, metric {metric:?}): {problem}")]
    Invalid {
        path: PathBuf,
        number: usize,
        experiment: String,
        metric: String,
        problem: String,
    },
}

const FIELDS: [&str; 8] = [
    "experiment",
    "metric",
    "kind",
    "direction",
    "tolerance",
    "reason",
    "snapshot_decimals",
    "snapshot_reason",
];

impl Rules {
    pub fn load(path: &Path) -> Result<Rules, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|error| RulesError::Io { path: path.into(), error })?;
        Rules::parse(&text, path)
    }

    /// Parse and validate; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Rules, RulesError> {
        let shape = |problem: String| RulesError::Shape { path: path.into(), problem };
        let table: Table = text.parse().map_err(|error| RulesError::Toml { path: path.into(), error })?;
        if let Some(key) = table.keys().find(|k| k.as_str() != "rule") {
            return Err(shape(format!("unknown top-level key {key:?}; the file holds only [[rule]] entries")));
        }
        let items = match table.get("rule") {
            None => return Ok(Rules { source: path.into(), rules: Vec::new() }),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(shape("`rule` must be an array of tables: write each rule as [[rule]]".into())),
        };
        let rules = items
            .iter()
            .enumerate()
            .map(|(i, item)| parse_rule(i + 1, item, path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rules { source: path.into(), rules })
    }

    /// The first rule of `experiment` whose glob matches `metric`: order in the file is priority,
    /// so a specific rule placed before a broad one overrides it.
    pub fn find(&self, experiment: &str, metric: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.experiment == experiment && glob_match(&r.metric, metric))
    }

    /// Rules of `experiment` that decide none of `metrics` (a mistyped glob, or one shadowed by an
    /// earlier rule): they would silently check nothing.
    pub fn unused<'a>(&'a self, experiment: &str, metrics: impl IntoIterator<Item = &'a str>) -> Vec<&'a Rule> {
        let mut used = vec![false; self.rules.len()];
        for m in metrics {
            if let Some(rule) = self.find(experiment, m) {
                used[rule.number - 1] = true;
            }
        }
        self.rules
            .iter()
            .filter(|r| r.experiment == experiment && !used[r.number - 1])
            .collect()
    }
}

fn parse_rule(number: usize, item: &Value, path: &Path) -> Result<Rule, RulesError> {
    let Some(t) = item.as_table() else {
        return Err(RulesError::Shape {
            path: path.into(),
            problem: format!("rule {number} is not a table: write each rule as [[rule]]"),
        });
    };
    let text = |key: &str| t.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let (experiment, metric) = (text("experiment"), text("metric"));
    let invalid = |problem: String| RulesError::Invalid {
        path: path.into(),
        number,
        experiment: experiment.clone(),
        metric: metric.clone(),
        problem,
    };
    if let Some(key) = t.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(invalid(format!("unknown field {key:?}; a rule has {}", FIELDS.join(", "))));
    }
    for key in ["experiment", "metric", "kind", "direction", "reason", "snapshot_reason"] {
        match t.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {}
            Some(Value::String(_)) | None => {
                let hint = match key {
                    "reason" => "; say why this tolerance is the change that matters scientifically",
                    "snapshot_reason" => {
                        "; say why the smoke snapshot rounds to `snapshot_decimals` (e.g. \"F1 to 0.01: half the gate's 0.02\")"
                    }
                    _ => "",
                };
                return Err(invalid(format!("`{key}` is missing or empty{hint}")));
            }
            Some(_) => return Err(invalid(format!("`{key}` must be a string"))),
        }
    }
    let kind = match text("kind").as_str() {
        "absolute" => Kind::Absolute,
        "relative" => Kind::Relative,
        other => return Err(invalid(format!("kind {other:?} is unknown; use \"absolute\" or \"relative\""))),
    };
    let direction = match text("direction").as_str() {
        "drop" => Direction::Drop,
        "rise" => Direction::Rise,
        "both" => Direction::Both,
        other => {
            return Err(invalid(format!(
                "direction {other:?} is unknown; use \"drop\" (bigger is better), \"rise\" (smaller is better) or \"both\""
            )))
        }
    };
    let value = match t.get("tolerance") {
        Some(Value::Float(f)) => *f,
        Some(Value::Integer(i)) => *i as f64,
        _ => return Err(invalid("`tolerance` is missing or not a number".into())),
    };
    if !value.is_finite() || value < 0.0 {
        return Err(invalid(format!("tolerance {value} must be a finite number >= 0")));
    }
    let snapshot_decimals = match t.get("snapshot_decimals") {
        Some(Value::Integer(d)) if (0..=i64::from(MAX_SNAPSHOT_DECIMALS)).contains(d) => *d as u32,
        Some(Value::Integer(d)) => {
            return Err(invalid(format!(
                "snapshot_decimals {d} is out of range; use 0 to {MAX_SNAPSHOT_DECIMALS}"
            )))
        }
        Some(_) => return Err(invalid("`snapshot_decimals` must be an integer (0 to 9)".into())),
        None => {
            return Err(invalid(
                "`snapshot_decimals` is missing; give the decimals the smoke snapshot rounds these metrics to \
                 (docs/regression.md, \"Snapshots\")"
                    .into(),
            ))
        }
    };
    // An absolute tolerance fixes the scale in advance: the snapshot's step must be at most half of
    // it, or a move the gate flags could round to the same snapshot value. (A relative tolerance
    // depends on the values; its reason has to argue the step.)
    let step = 10f64.powi(-(snapshot_decimals as i32));
    if kind == Kind::Absolute && value > 0.0 && step > value / 2.0 * (1.0 + 1e-9) {
        return Err(invalid(format!(
            "snapshot_decimals {snapshot_decimals} rounds to {step}, coarser than half the tolerance {value}: \
             a move the gate flags could leave the snapshot unchanged; use more decimals"
        )));
    }
    Ok(Rule {
        number,
        experiment,
        metric,
        tolerance: Tolerance { kind, direction, value },
        reason: text("reason"),
        snapshot_decimals,
        snapshot_reason: text("snapshot_reason"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
        [[rule]]
        experiment = "e04-classify"
        metric = "summary[*].f1_per_window.mean"
        kind = "absolute"
        direction = "drop"
        tolerance = 0.02
        reason = "F1 to 0.02"
        snapshot_decimals = 2
        snapshot_reason = "F1 to 0.01: half the gate's 0.02"

        [[rule]]
        experiment = "e04-classify"
        metric = "summary[**"
        kind = "relative"
        direction = "both"
        tolerance = 1
        reason = "catch-all"
        snapshot_decimals = 0
        snapshot_reason = "catch-all, to 1"
    "#;

    fn err(text: &str) -> String {
        Rules::parse(text, Path::new("results/tolerances.toml")).unwrap_err().to_string()
    }

    fn one_rule(field: &str, value: &str) -> String {
        let mut lines = [
            ("experiment", "\"e02-pretrain\""),
            ("metric", "\"models.*.test_rmse\""),
            ("kind", "\"absolute\""),
            ("direction", "\"rise\""),
            ("tolerance", "0.01"),
            ("reason", "\"why\""),
            ("snapshot_decimals", "3"),
            ("snapshot_reason", "\"to 0.001: a tenth of the gate\""),
        ];
        for l in lines.iter_mut() {
            if l.0 == field {
                l.1 = value;
            }
        }
        // `value` "-" leaves the field out.
        let body: Vec<String> = lines.iter().filter(|(_, v)| *v != "-").map(|(k, v)| format!("{k} = {v}")).collect();
        format!("[[rule]]\n{}\n", body.join("\n"))
    }

    #[test]
    fn parses_rules_in_order_and_first_match_wins() {
        let rules = Rules::parse(GOOD, Path::new("t.toml")).unwrap();
        assert_eq!(rules.rules.len(), 2);
        assert_eq!(rules.rules[1].tolerance.value, 1.0);
        let hit = rules.find("e04-classify", "summary[spc=4].f1_per_window.mean").unwrap();
        assert_eq!(hit.number, 1);
        let broad = rules.find("e04-classify", "summary[spc=4].f1_per_object.mean").unwrap();
        assert_eq!(broad.number, 2);
        assert!(rules.find("e05-ablation", "summary[spc=4].f1_per_window.mean").is_none());
    }

    #[test]
    fn unused_rules_are_reported() {
        let rules = Rules::parse(GOOD, Path::new("t.toml")).unwrap();
        let unused = rules.unused("e04-classify", ["summary[spc=4].f1_per_window.mean"]);
        assert_eq!(unused.iter().map(|r| r.number).collect::<Vec<_>>(), [2]);
    }

    #[test]
    fn tolerance_display_shows_direction_and_kind() {
        let t = |kind, direction, value| Tolerance { kind, direction, value }.to_string();
        assert_eq!(t(Kind::Absolute, Direction::Drop, 0.02), "-0.02");
        assert_eq!(t(Kind::Relative, Direction::Rise, 0.05), "+5%");
        assert_eq!(t(Kind::Absolute, Direction::Both, 0.02), "±0.02");
    }

    #[test]
    fn unknown_kind_names_rule_file_and_choices() {
        let e = err(&one_rule("kind", "\"abs\""));
        assert!(e.contains("results/tolerances.toml: rule 1"), "{e}");
        assert!(e.contains("\"abs\" is unknown") && e.contains("\"relative\""), "{e}");
    }

    #[test]
    fn unknown_direction_is_rejected() {
        let e = err(&one_rule("direction", "\"up\""));
        assert!(e.contains("rule 1") && e.contains("direction \"up\" is unknown"), "{e}");
    }

    #[test]
    fn negative_tolerance_is_rejected() {
        let e = err(&one_rule("tolerance", "-0.1"));
        assert!(e.contains("rule 1") && e.contains("must be a finite number >= 0"), "{e}");
    }

    #[test]
    fn empty_reason_is_rejected_with_a_hint() {
        let e = err(&one_rule("reason", "\"  \""));
        assert!(e.contains("`reason` is missing or empty") && e.contains("say why"), "{e}");
    }

    #[test]
    fn snapshot_fields_are_parsed() {
        let rules = Rules::parse(GOOD, Path::new("t.toml")).unwrap();
        assert_eq!(rules.rules[0].snapshot_decimals, 2);
        assert_eq!(rules.rules[0].snapshot_reason, "F1 to 0.01: half the gate's 0.02");
        assert_eq!(rules.rules[1].snapshot_decimals, 0);
        let nine = Rules::parse(&one_rule("snapshot_decimals", "9"), Path::new("t.toml")).unwrap();
        assert_eq!(nine.rules[0].snapshot_decimals, 9);
    }

    #[test]
    fn missing_snapshot_decimals_is_rejected_naming_the_rule() {
        let e = err(&one_rule("snapshot_decimals", "-"));
        assert!(e.contains("results/tolerances.toml: rule 1 (experiment \"e02-pretrain\""), "{e}");
        assert!(e.contains("`snapshot_decimals` is missing"), "{e}");
    }

    #[test]
    fn snapshot_decimals_out_of_range_or_not_an_integer_is_rejected() {
        for bad in ["10", "-1"] {
            let e = err(&one_rule("snapshot_decimals", bad));
            assert!(e.contains("rule 1") && e.contains(&format!("snapshot_decimals {bad} is out of range; use 0 to 9")), "{e}");
        }
        for bad in ["2.0", "\"2\""] {
            let e = err(&one_rule("snapshot_decimals", bad));
            assert!(e.contains("rule 1") && e.contains("`snapshot_decimals` must be an integer"), "{e}");
        }
    }

    #[test]
    fn missing_or_empty_snapshot_reason_is_rejected_with_a_hint() {
        for bad in ["-", "\" \""] {
            let e = err(&one_rule("snapshot_reason", bad));
            assert!(e.contains("rule 1") && e.contains("`snapshot_reason` is missing or empty"), "{e}");
            assert!(e.contains("say why the smoke snapshot rounds"), "{e}");
        }
    }

    #[test]
    fn snapshot_coarser_than_half_an_absolute_tolerance_is_rejected() {
        // Absolute 0.01 (one_rule): 2 decimals (0.01) could hide a flagged move, 3 (0.001) cannot.
        let e = err(&one_rule("snapshot_decimals", "1"));
        assert!(e.contains("rule 1") && e.contains("coarser than half the tolerance 0.01"), "{e}");
        let e = err(&one_rule("snapshot_decimals", "2"));
        assert!(e.contains("coarser than half the tolerance"), "{e}");
        // Exactly half passes (F1: 0.01 against 0.02, in GOOD); relative rules are not checked.
        let rel = one_rule("kind", "\"relative\"").replace("snapshot_decimals = 3", "snapshot_decimals = 0");
        assert!(Rules::parse(&rel, Path::new("t.toml")).is_ok());
    }

    #[test]
    fn second_rule_is_named_by_its_number() {
        let text = format!("{}{}", one_rule("kind", "\"absolute\""), one_rule("tolerance", "\"x\""));
        let e = err(&text);
        assert!(e.contains("rule 2 (experiment \"e02-pretrain\""), "{e}");
    }

    #[test]
    fn unknown_fields_and_top_level_keys_are_rejected() {
        let e = err(&one_rule("kind", "\"absolute\"\ntolerence = 1"));
        assert!(e.contains("unknown field \"tolerence\""), "{e}");
        let e = err("version = 1\n");
        assert!(e.contains("unknown top-level key \"version\""), "{e}");
    }

    #[test]
    fn invalid_toml_names_the_file() {
        let e = err("[[rule]\n");
        assert!(e.starts_with("results/tolerances.toml is not valid TOML"), "{e}");
    }
}
