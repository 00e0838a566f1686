//! Every experiment's committed `smoke` results, as insta snapshots (issue 6, "Snapshots").
//!
//! Each ruled metric of `results/smoke/<experiment>.toml` is rounded to the `snapshot_decimals` of
//! the rule that decides it in `results/tolerances.toml` (the same first-match rule `cargo xtask
//! check` uses), and the snapshot header repeats each rule's `snapshot_reason`. The precision is
//! at most half the gate's tolerance, so a move the gate would flag always changes the snapshot,
//! while moves far below it do not. Unruled metrics (wall times, histories, …) are left out.
//!
//! A changed snapshot fails CI (insta writes nothing when `CI` is set). To accept a change, see
//! docs/regression.md, "Snapshots".

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use regression::{Rule, Rules};

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// `value` with exactly `decimals` decimals; `nan`/`inf`/`-inf` for non-finite values, and no
/// `-0.00` (a tiny negative value that rounds to zero is written as zero).
fn round(value: f64, decimals: u32) -> String {
    if value.is_nan() {
        return "nan".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let text = format!("{value:.*}", decimals as usize);
    match text.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => text,
    }
}

/// The snapshot text of one experiment's smoke results.
fn snapshot_text(experiment: &str) -> String {
    let root = workspace();
    let rules_path = root.join("results/tolerances.toml");
    let rules = Rules::load(&rules_path).unwrap_or_else(|e| panic!("{e}"));
    let results_path: PathBuf = root.join("results/smoke").join(format!("{experiment}.toml"));
    let text = std::fs::read_to_string(&results_path).unwrap_or_else(|e| {
        panic!(
            "cannot read {} ({e}): the smoke snapshots compare the committed smoke results. Run \
             `cargo xtask reproduce all --profile smoke` and commit results/smoke/",
            results_path.display()
        )
    });
    let table: toml::Table =
        text.parse().unwrap_or_else(|e| panic!("{} is not valid TOML: {e}", results_path.display()));

    let mut used: BTreeMap<usize, &Rule> = BTreeMap::new();
    let mut lines = Vec::new();
    for (id, value) in regression::flatten(&table) {
        if let Some(rule) = rules.find(experiment, &id) {
            used.insert(rule.number, rule);
            lines.push(format!("{id} = {}  # rule {}", round(value, rule.snapshot_decimals), rule.number));
        }
    }
    assert!(
        !lines.is_empty(),
        "no metric of {} is decided by a rule of {}: a snapshot would check nothing",
        results_path.display(),
        rules_path.display()
    );

    let mut out = format!("# {experiment}: results/smoke/{experiment}.toml, ruled metrics rounded per results/tolerances.toml\n");
    for rule in used.values() {
        writeln!(
            out,
            "# rule {} `{}`: {} decimals. {}",
            rule.number, rule.metric, rule.snapshot_decimals, rule.snapshot_reason
        )
        .unwrap();
    }
    out.push('\n');
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

macro_rules! smoke_snapshot {
    ($test:ident, $experiment:literal) => {
        #[test]
        fn $test() {
            let text = snapshot_text($experiment);
            insta::with_settings!({
                prepend_module_to_snapshot => false,
                omit_expression => true,
                description => concat!("results/smoke/", $experiment, ".toml rounded per results/tolerances.toml"),
            }, {
                insta::assert_snapshot!(concat!("smoke__", $experiment), text);
            });
        }
    };
}

smoke_snapshot!(e02_pretrain, "e02-pretrain");
smoke_snapshot!(e03_finetune, "e03-finetune");
smoke_snapshot!(e04_classify, "e04-classify");
smoke_snapshot!(e05_ablation, "e05-ablation");
smoke_snapshot!(e06_attention, "e06-attention");
smoke_snapshot!(e07_embeddings, "e07-embeddings");
smoke_snapshot!(e08_reconstruction, "e08-reconstruction");
smoke_snapshot!(e09_causal, "e09-causal");
smoke_snapshot!(e10_starclr, "e10-starclr");

#[test]
fn rounding_has_fixed_decimals_no_negative_zero_and_nan() {
    assert_eq!(round(0.123456, 3), "0.123");
    assert_eq!(round(0.5, 2), "0.50");
    assert_eq!(round(-0.004, 2), "0.00");
    assert_eq!(round(-0.0, 3), "0.000");
    assert_eq!(round(-0.006, 2), "-0.01");
    assert_eq!(round(2.4, 0), "2");
    assert_eq!(round(-0.4, 0), "0");
    assert_eq!(round(f64::NAN, 2), "nan");
    assert_eq!(round(f64::NEG_INFINITY, 2), "-inf");
}
