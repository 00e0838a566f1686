//! `cargo xtask check`: the regression gate. Compares the working tree's `results/<profile>/*.toml`
//! with a baseline (a git revision, or a folder) under the rules of `results/tolerances.toml`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command as Process;

use anyhow::{bail, Context, Result};
use regression::{compare, render_table, Row, Rules, Summary};
use toml::Table;

#[derive(clap::Args)]
pub struct CheckArgs {
    /// Which results/<profile>/ to check.
    #[arg(long, default_value = "small")]
    profile: String,
    /// Git revision holding the baseline results (read with `git show <rev>:results/<profile>/<file>`).
    /// Default: HEAD, i.e. the committed results.
    #[arg(long, value_name = "REV")]
    against: Option<String>,
    /// Read the baseline `<experiment>.toml` files from this folder instead of git.
    #[arg(long, value_name = "DIR", conflicts_with = "against")]
    baseline_dir: Option<PathBuf>,
    /// Tolerance rules (relative to the workspace root unless absolute).
    #[arg(long, value_name = "PATH", default_value = "results/tolerances.toml")]
    tolerances: PathBuf,
    /// Also print metrics no rule covers (unruled, and new ones without a rule).
    #[arg(long)]
    all: bool,
}

/// Where baseline files come from.
enum Baseline {
    Git { rev: String },
    Dir(PathBuf),
}

impl Baseline {
    fn describe(&self, profile: &str) -> String {
        match self {
            Baseline::Git { rev } => format!("git {rev}:results/{profile}/"),
            Baseline::Dir(dir) => dir.display().to_string(),
        }
    }
}

pub fn run(root: &Path, args: CheckArgs) -> Result<()> {
    let profile = args.profile.as_str();
    let rules_path = root.join(&args.tolerances);
    let rules = Rules::load(&rules_path)?;
    let fresh_dir = root.join("results").join(profile);
    let baseline = match args.baseline_dir {
        Some(dir) => Baseline::Dir(dir),
        None => Baseline::Git { rev: args.against.unwrap_or_else(|| "HEAD".into()) },
    };

    let fresh = read_dir_tables(&fresh_dir).with_context(|| {
        format!("no fresh results: run `cargo xtask reproduce all --profile {profile}` first")
    })?;
    let base = match &baseline {
        Baseline::Dir(dir) => read_dir_tables(dir).context("--baseline-dir must be a folder of <experiment>.toml files")?,
        Baseline::Git { rev } => read_git_tables(root, rev, profile)?,
    };
    println!(
        "regression gate ({profile}): fresh results/{profile}/ vs baseline {}; rules {}",
        baseline.describe(profile),
        args.tolerances.display()
    );
    if base.is_empty() {
        // Say why there is nothing to compare with, since a gate that compares nothing passes.
        let why = match &baseline {
            Baseline::Git { .. } if git(root, &["check-ignore", "-q", &format!("results/{profile}/")]).is_ok() => {
                format!("results/{profile}/ is git-ignored, so no revision holds a baseline")
            }
            _ => "the baseline holds no results files".to_string(),
        };
        eprintln!(
            "note: {why}: every metric is `new` and nothing can regress. \
             Commit baseline results or pass --baseline-dir DIR."
        );
    }

    let empty = Table::new();
    let experiments: BTreeSet<&String> = fresh.keys().chain(base.keys()).collect();
    let mut rows: Vec<Row> = Vec::new();
    for experiment in experiments {
        let (b, f) = (base.get(experiment), fresh.get(experiment));
        match (b, f) {
            (None, Some(_)) if !base.is_empty() => {
                eprintln!("note: {experiment}: no baseline file; its metrics are `new`")
            }
            (Some(_), None) => eprintln!(
                "note: {experiment}: results/{profile}/{experiment}.toml is missing; its ruled metrics are MISSING \
                 (run `cargo xtask reproduce {experiment} --profile {profile}`)"
            ),
            _ => {}
        }
        let experiment_rows = compare(experiment, b.unwrap_or(&empty), f.unwrap_or(&empty), &rules);
        for rule in rules.unused(experiment, experiment_rows.iter().map(|r| r.metric.as_str())) {
            eprintln!(
                "warning: {} rule {} ({experiment}, metric {:?}) decides no metric of {experiment}: \
                 fix its glob (ids: `cargo xtask check --all`) or remove it",
                args.tolerances.display(),
                rule.number,
                rule.metric
            );
        }
        rows.extend(experiment_rows);
    }

    print!("{}", render_table(&rows, args.all));
    let summary = Summary::of(&rows);
    println!("{summary}");
    if summary.failures() > 0 {
        let failing: Vec<String> = rows
            .iter()
            .filter(|r| r.verdict.fails())
            .map(|r| format!("{} {} {}", r.experiment, r.metric, r.verdict))
            .collect();
        let shown = failing.iter().take(5).cloned().collect::<Vec<_>>().join("; ");
        let more = if failing.len() > 5 { format!("; and {} more", failing.len() - 5) } else { String::new() };
        let noun = if failing.len() == 1 { "regression" } else { "regressions" };
        bail!(
            "{} {noun}: {shown}{more}. If the change is intended, rerun the experiments, commit the new \
             results/{profile}/ with a message saying why, or argue a different tolerance in {} (docs/regression.md)",
            failing.len(),
            args.tolerances.display()
        );
    }
    Ok(())
}

/// Not an experiment's results: the verdicts of `cargo xtask claims`, which copies metrics of the
/// experiments (the gate judges those where they come from).
pub(crate) const CLAIMS_FILE: &str = "claims.toml";

/// `<experiment> → table` for every `*.toml` in `dir` (except [`CLAIMS_FILE`]).
pub(crate) fn read_dir_tables(dir: &Path) -> Result<BTreeMap<String, Table>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("reading results folder {}", dir.display()))?;
    let mut out = BTreeMap::new();
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") || path.file_name().is_some_and(|n| n == CLAIMS_FILE) {
            continue;
        }
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        out.insert(stem(&path), parse(&text, &path.display().to_string())?);
    }
    Ok(out)
}

/// The same files as committed at `rev`. Absent files are simply absent (their metrics are `new`).
fn read_git_tables(root: &Path, rev: &str, profile: &str) -> Result<BTreeMap<String, Table>> {
    let inside = git(root, &["rev-parse", "--is-inside-work-tree"]);
    if !matches!(inside.as_deref().map(str::trim), Ok("true")) {
        bail!(
            "{} is not a git work tree (or git is not installed), so there is no committed baseline: \
             pass --baseline-dir DIR with the baseline results/{profile}/*.toml files",
            root.display()
        );
    }
    if git(root, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")]).is_err() {
        bail!("--against {rev:?} is not a commit in this repository; give a branch, tag or commit id (default HEAD)");
    }
    let folder = format!("results/{profile}/");
    let listing = git(root, &["ls-tree", "--name-only", rev, "--", &folder])?;
    let mut out = BTreeMap::new();
    for path in listing.lines().filter(|p| p.ends_with(".toml") && !p.ends_with(&format!("/{CLAIMS_FILE}"))) {
        let text = git(root, &["show", &format!("{rev}:{path}")])?;
        out.insert(stem(Path::new(path)), parse(&text, &format!("{rev}:{path}"))?);
    }
    Ok(out)
}

fn git(root: &Path, args: &[&str]) -> Result<String> {
    let output = Process::new("git")
        .args(args)
        .current_dir(root)
        .output()
        .context("running git")?;
    if !output.status.success() {
        bail!("git {} failed: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    String::from_utf8(output.stdout).context("git printed non-UTF-8 output")
}

fn parse(text: &str, name: &str) -> Result<Table> {
    text.parse::<Table>()
        .with_context(|| format!("{name} is not valid TOML; rerun the experiment that writes it"))
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}
