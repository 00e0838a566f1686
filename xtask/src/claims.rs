//! `cargo xtask claims`: evaluate the pre-registered claims (`results/claims.toml`) on a profile's
//! results, print the table and write `results/<profile>/claims.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use regression::claims::{self, Evaluation, Verdict};

pub const LONG_ABOUT: &str = "Evaluate the paper's claims, pre-registered in results/claims.toml (each a comparison \
    over metric ids with its source: section or figure), on the results of a profile: results/<profile>/*.toml and \
    results/<profile>/compare/*.toml.\n\n\
    Verdicts: holds; FAILS; inconclusive (the fold ranges of the two sides overlap, or some instances hold and \
    others have no data); no data (the results lack a metric the claim needs, e.g. an experiment not run yet).\n\n\
    Prints one line per claim instance (e.g. per dataset and SPC) with both sides as mean [min–max] over folds, and \
    writes results/<profile>/claims.toml. A verdict never makes the command fail; a malformed claims file does. \
    See docs/claims.md.";

#[derive(Args)]
pub struct ClaimsArgs {
    #[arg(long, default_value = "small")]
    profile: String,
    /// The claims file.
    #[arg(long, default_value = "results/claims.toml")]
    claims: PathBuf,
}

pub fn run(root: &Path, args: ClaimsArgs) -> Result<()> {
    let claims_path = root.join(&args.claims);
    let text = std::fs::read_to_string(&claims_path).with_context(|| format!("reading {}", claims_path.display()))?;
    let file = claims::parse_claims(&text, &claims_path.display().to_string())?;
    let results_dir = root.join("results").join(args.profile.as_str());
    let mut metrics: claims::Metrics = BTreeMap::new();
    for (name, table) in crate::check::read_dir_tables(&results_dir)? {
        metrics.insert(name, regression::flatten(&table));
    }
    let compare_dir = results_dir.join("compare");
    if compare_dir.is_dir() {
        for (name, table) in crate::check::read_dir_tables(&compare_dir)? {
            metrics.insert(format!("compare/{name}"), regression::flatten(&table));
        }
    }
    let evaluations = claims::evaluate(&file, &metrics, args.profile.as_str())?;
    print!("{}", render(&evaluations));
    let out = results_dir.join(crate::check::CLAIMS_FILE);
    let mut table = toml::Table::new();
    table.insert(
        "note".into(),
        format!(
            "Verdicts of the claims in {} on results/{}/ (cargo xtask claims --profile {}); left/right are \
             mean, min, max over the sample (folds) of each side.",
            args.claims.display(),
            args.profile,
            args.profile
        )
        .into(),
    );
    table.insert("claim".into(), toml::Value::try_from(&evaluations)?);
    harness::runner::write_atomic(&out, toml::to_string(&table)?.as_bytes())?;
    println!("wrote {}", out.strip_prefix(root).unwrap_or(&out).display());
    Ok(())
}

fn render(evaluations: &[Evaluation]) -> String {
    let mut rows: Vec<[String; 6]> = vec![[
        "claim".into(),
        "source".into(),
        "verdict".into(),
        "instance".into(),
        "left".into(),
        "right".into(),
    ]];
    let side = |r: &Option<claims::Range>| r.map(|r| r.to_string()).unwrap_or_else(|| "—".into());
    for e in evaluations {
        rows.push([e.id.clone(), e.source.clone(), e.verdict.to_string(), String::new(), String::new(), String::new()]);
        if e.instances.len() == 1 && e.instances[0].binding.is_empty() {
            let i = &e.instances[0];
            let last = rows.last_mut().expect("just pushed");
            last[4] = side(&i.left);
            last[5] = side(&i.right);
            continue;
        }
        for i in &e.instances {
            rows.push([
                String::new(),
                String::new(),
                format!("  {}", i.verdict),
                i.binding.clone(),
                side(&i.left),
                side(&i.right),
            ]);
        }
    }
    let widths: Vec<usize> = (0..6).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (k, r) in rows.iter().enumerate() {
        let line: Vec<String> = r.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
        if k == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 10));
            out.push('\n');
        }
    }
    let count = |v: Verdict| evaluations.iter().filter(|e| e.verdict == v).count();
    out.push_str(&format!(
        "{} claims: {} hold, {} fail, {} inconclusive, {} without data\n",
        evaluations.len(),
        count(Verdict::Holds),
        count(Verdict::Fails),
        count(Verdict::Inconclusive),
        count(Verdict::NoData)
    ));
    for e in evaluations {
        for i in e.instances.iter().filter(|i| !i.problem.is_empty()).take(1) {
            out.push_str(&format!("  {}: {}\n", e.id, i.problem));
        }
    }
    out
}
