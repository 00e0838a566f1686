//! `cargo xtask compare <variant>`: run a variant (a config overlay, `variants/<name>.toml`) beside
//! the baseline on identical data and folds, and report which metrics it moves (docs/variants.md).
//!
//! The baseline is the main tree (`results/<profile>/`), brought up to date first. The variant runs
//! in its own root, `artifacts/variants/<name>/`, which links the main tree's sources, manifests and
//! data (same code hashes, same generated data) and has its own results/, figures/ and artifacts/.
//! Experiments the variant does not touch (neither overlaid nor downstream of an overlaid one) are
//! copied in from the baseline, so they are up to date there and never rerun.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use harness::runner::{write_atomic, Outcome};
use harness::{Declaration, Experiment, Profile, Registry, ReproduceOptions, RunContext, Runner, TargetKind};
use regression::{compare, format_number, Row, Rules, Verdict};
use toml::{Table, Value};
use variants::Variant;

#[derive(clap::Args)]
pub struct CompareArgs {
    /// Variant name: variants/<name>.toml.
    #[arg(required_unless_present = "list")]
    variant: Option<String>,
    /// A profile: profiles/<name>.toml.
    #[arg(long, default_value = "small")]
    profile: String,
    /// Targets to reproduce instead of the variant file's `targets` (comma- or space-separated).
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    targets: Option<Vec<String>>,
    /// List the ready variants with their descriptions and sources.
    #[arg(long)]
    list: bool,
    /// On `small`, bring the committed baseline up to date even if that reruns experiments
    /// (otherwise the command stops and says what would rerun and why).
    #[arg(long)]
    allow_baseline_run: bool,
    /// Only say what would run (baseline and variant) and what the overlay changes.
    #[arg(long)]
    dry_run: bool,
    /// Also show (and record) metrics no tolerance rule covers.
    #[arg(long)]
    all: bool,
    /// Tolerance rules (relative to the workspace root unless absolute).
    #[arg(long, value_name = "PATH", default_value = "results/tolerances.toml")]
    tolerances: PathBuf,
}

/// An experiment with a variant's overlay merged into its config; everything else delegates.
struct Overlaid {
    inner: Box<dyn Experiment>,
    variant: Arc<Variant>,
}

impl Experiment for Overlaid {
    fn declaration(&self) -> &'static Declaration {
        self.inner.declaration()
    }
    fn config(&self, profile: &Profile) -> Result<Value> {
        Ok(self.variant.apply(self.inner.name(), self.inner.config(profile)?)?)
    }
    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        self.inner.run(ctx)
    }
}

/// The registry with `variant`'s overlays applied to the experiments it names.
pub fn variant_registry(variant: &Arc<Variant>) -> Registry {
    Registry::new(
        crate::experiments()
            .into_iter()
            .map(|e| -> Box<dyn Experiment> {
                if variant.overlay.contains_key(e.name()) {
                    Box::new(Overlaid { inner: e, variant: Arc::clone(variant) })
                } else {
                    e
                }
            })
            .collect(),
    )
}

/// Deserialises a merged config into the experiment's typed config, so a bad enum spelling or a
/// value of the wrong shape is reported before anything runs.
fn check_typed(experiment: &str, config: &Value) -> Result<()> {
    let v = config.clone();
    let r: std::result::Result<(), toml::de::Error> = match experiment {
        "e01-data" => v.try_into::<e01_data::Config>().map(drop),
        "e02-pretrain" => v.try_into::<e02_pretrain::Config>().map(drop),
        "e03-finetune" => v.try_into::<e03_finetune::Config>().map(drop),
        "e04-classify" => v.try_into::<e04_classify::Config>().map(drop),
        "e05-ablation" => v.try_into::<e05_ablation::Config>().map(drop),
        "e06-attention" => v.try_into::<e06_attention::Config>().map(drop),
        "e07-embeddings" => v.try_into::<e07_embeddings::Config>().map(drop),
        "e08-reconstruction" => v.try_into::<e08_reconstruction::Config>().map(drop),
        "e09-causal" => v.try_into::<e09_causal::Config>().map(drop),
        "e10-starclr" => v.try_into::<e10_starclr::Config>().map(drop),
        _ => Ok(()),
    };
    r.with_context(|| format!("the overlaid config of {experiment} is not a valid {experiment} config"))
}

pub fn run(root: &Path, args: CompareArgs) -> Result<()> {
    let dir = root.join("variants");
    if args.list {
        for v in variants::load_dir(&dir)? {
            println!("{}  (targets: {})", v.name, v.targets.join(" "));
            println!("    {}", v.description);
            println!("    source: {}", v.source);
            println!("    overlays: {}", v.experiments().collect::<Vec<_>>().join(", "));
        }
        return Ok(());
    }
    let name = args.variant.clone().expect("clap requires the variant unless --list");
    let profile = &crate::load_profile(root, &args.profile)?;
    let mut variant = variants::find(&dir, &name)?;
    // Name the file workspace-relative in messages.
    variant.path = variant.path.strip_prefix(root).map(Path::to_path_buf).unwrap_or(variant.path);
    let variant = Arc::new(variant);
    let base_registry = crate::registry();
    let known: Vec<&str> = base_registry.experiments().map(|e| e.name()).collect();
    variant.check_experiments(&known)?;
    let targets = args.targets.clone().unwrap_or_else(|| variant.targets.clone());
    let rules = Rules::load(&root.join(&args.tolerances))?;

    println!("variant {}: {}", variant.name, variant.description);
    println!("  source: {}", variant.source);
    println!("  profile {profile}, targets {}", targets.join(" "));

    // What the overlay changes under this profile, checked against the typed configs.
    let plan: Vec<&str> = base_registry.plan(&targets)?.iter().map(|e| e.name()).collect();
    let mut changes: Vec<(String, String, String, String)> = Vec::new();
    for exp in variant.experiments() {
        let e = base_registry.get(exp).expect("checked above");
        let base = e.config(profile)?;
        let merged = variant.apply(exp, base.clone())?;
        check_typed(exp, &merged)?;
        let d = variants::diff(&base, &merged);
        if d.is_empty() {
            println!("  {exp}: the overlay changes nothing under profile {profile} (its values equal the baseline's)");
        }
        for (k, b, a) in d {
            println!("  {exp}: {k} = {b} → {a}");
            changes.push((exp.to_string(), k, b, a));
        }
    }
    for exp in variant.experiments().filter(|e| !plan.contains(e)) {
        println!("  note: the overlay of {exp} is not exercised: {exp} is not among targets {} nor upstream of them", targets.join(" "));
    }
    let affected = affected(&base_registry, &plan, &variant);
    let changed_in_plan = changes.iter().any(|c| plan.contains(&c.0.as_str()));
    if !changed_in_plan {
        bail!(
            "under profile {profile} the variant changes nothing the targets {} run (the overlaid values equal the \
             baseline's, or the overlaid experiments are not in the plan {:?}): nothing to compare",
            targets.join(" "),
            plan
        );
    }

    // 1. The baseline (main tree) for the same targets.
    println!("\n== baseline: {} (results/{profile}/) ==", root.display());
    let mut main_runner = Runner::new(root, &base_registry);
    let dry = ReproduceOptions { profile: profile.clone(), locked: false, force: false, dry_run: true };
    let would: Vec<(String, Vec<String>)> = main_runner
        .reproduce(&targets, &dry)?
        .into_iter()
        .filter_map(|(n, o)| match o {
            Outcome::WouldRun { reasons } => Some((n, reasons)),
            _ => None,
        })
        .collect();
    if !would.is_empty() {
        let list = would.iter().map(|(n, r)| format!("{n} ({})", r.join("; "))).collect::<Vec<_>>().join(", ");
        if args.dry_run {
            println!("  (dry run) the baseline would rerun: {list}");
        } else if profile.guard_baseline() && !args.allow_baseline_run {
            bail!(
                "the {profile} baseline is not up to date for {}: {list}. Rerunning it replaces committed \
                 results; run `cargo xtask reproduce {} --profile {profile}` deliberately, or pass --allow-baseline-run",
                targets.join(" "),
                targets.join(" ")
            );
        } else {
            let opts = ReproduceOptions { dry_run: false, ..dry.clone() };
            main_runner.reproduce(&targets, &opts)?;
        }
    }

    // 2. The variant, in its own root.
    let vroot = root.join("artifacts").join("variants").join(&variant.name);
    println!("\n== variant {}: {} ==", variant.name, vroot.strip_prefix(root).unwrap_or(&vroot).display());
    prepare_variant_root(root, &vroot, profile, &base_registry, &plan, &affected)?;
    let vregistry = variant_registry(&variant);
    let mut vrunner = Runner::new(&vroot, &vregistry);
    let opts = ReproduceOptions { profile: profile.clone(), locked: false, force: false, dry_run: args.dry_run };
    let outcomes = vrunner.reproduce(&targets, &opts)?;
    for (n, o) in &outcomes {
        if !affected.contains(n.as_str()) && !matches!(o, Outcome::UpToDate) {
            println!("  note: {n} is untouched by the variant but ran in the variant root (its baseline artifacts were missing)");
        }
    }
    if args.dry_run {
        println!("\n(dry run: nothing compared)");
        return Ok(());
    }

    // 3. Compare, experiment by experiment, under the tolerance rules.
    let mut rows: Vec<Row> = Vec::new();
    let mut official: Vec<(String, String, f64, String)> = Vec::new();
    for exp in plan.iter().filter(|e| affected.contains(**e)) {
        let base = read_table(&runner_results(root, profile, exp))?;
        let var = read_table(&runner_results(&vroot, profile, exp))?;
        rows.extend(compare(exp, &base, &var, &rules).into_iter().filter(|r| args.all || r.rule.is_some()));
        if profile.paper_data() {
            official.extend(official_numbers(exp, &base));
        }
    }
    rows.sort_by(|a, b| (&a.experiment, &a.metric).cmp(&(&b.experiment, &b.metric)));
    let official_of = |r: &Row| official.iter().find(|o| o.0 == r.experiment && o.1 == r.metric).map(|o| o.2);
    println!("\n== {} vs baseline ({profile}; tolerances {}) ==", variant.name, args.tolerances.display());
    print!("{}", render(&rows, &variant.name, profile.paper_data(), &official_of));
    let count = |v: Verdict| rows.iter().filter(|r| r.verdict == v).count();
    println!(
        "{} metrics: {} moved beyond tolerance in the worse direction (REGRESSION), {} in the better (improved), {} changed (two-sided rule), {} within tolerance",
        rows.len(),
        count(Verdict::Regression),
        count(Verdict::Improved),
        count(Verdict::Changed),
        count(Verdict::Ok)
    );
    println!(
        "Verdicts are those of `cargo xtask check` under the same rules: here REGRESSION means the variant moves the \
         metric beyond the pre-registered tolerance (a finding about the switch, not a failure)."
    );
    let official_note = match profile.paper_data() {
        true => {
            let mut s = "official numbers (real data): e02 from its results' [paper_reference] (paper Sect. 5.1, \
                         astromer2-other-results.md §3)"
                .to_string();
            if plan.iter().any(|e| *e != "e01-data" && *e != "e02-pretrain") {
                s.push_str("; e03 Fig. 7 rows: results/paper-reference/astromer2.toml [[finetune]]; e04 Fig. 11–12 bars: [[published]]");
            }
            s
        }
        false => format!(
            "profile {profile} runs other data and small models: the official numbers (results/paper-reference/, real \
             MACHO/Alcock/ATLAS, full-size A2) are not comparable and are not shown"
        ),
    };
    println!("{official_note}");

    // 4. Record: results/<profile>/compare/<variant>.toml and a figure.
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let mut doc = Table::new();
    doc.insert("variant".into(), variant.name.clone().into());
    doc.insert("description".into(), variant.description.clone().into());
    doc.insert("source".into(), variant.source.clone().into());
    doc.insert("file".into(), variant.path.display().to_string().into());
    doc.insert("profile".into(), profile.as_str().into());
    doc.insert("targets".into(), Value::Array(targets.iter().map(|t| Value::from(t.as_str())).collect()));
    doc.insert("baseline".into(), format!("results/{profile}/").into());
    doc.insert("variant_results".into(), format!("{}/results/{profile}/", rel(&vroot)).into());
    doc.insert("tolerances".into(), args.tolerances.display().to_string().into());
    doc.insert("official".into(), official_note.into());
    doc.insert(
        "ran".into(),
        Value::Array(
            outcomes
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::Ran { .. }))
                .map(|(n, _)| Value::from(n.as_str()))
                .collect(),
        ),
    );
    doc.insert("overlay".into(), Value::try_from(&variant.overlay)?);
    doc.insert(
        "change".into(),
        Value::Array(
            changes
                .iter()
                .map(|(e, k, b, a)| {
                    let mut t = Table::new();
                    t.insert("experiment".into(), e.clone().into());
                    t.insert("key".into(), k.clone().into());
                    t.insert("baseline".into(), b.clone().into());
                    t.insert("variant".into(), a.clone().into());
                    Value::Table(t)
                })
                .collect(),
        ),
    );
    doc.insert(
        "metric".into(),
        Value::Array(
            rows.iter()
                .map(|r| {
                    let mut t = Table::new();
                    t.insert("experiment".into(), r.experiment.clone().into());
                    t.insert("metric".into(), r.metric.clone().into());
                    // The delta in six significant digits, without the float noise of the subtraction.
                    let delta = r.delta.map(|d| format_number(d).parse::<f64>().unwrap_or(d));
                    for (k, v) in [("baseline", r.baseline), ("variant", r.now), ("delta", delta), ("official", official_of(r))] {
                        if let Some(v) = v.filter(|v| v.is_finite()) {
                            t.insert(k.into(), v.into());
                        }
                    }
                    if let Some(tol) = r.tolerance {
                        t.insert("tolerance".into(), tol.to_string().into());
                    }
                    t.insert("verdict".into(), r.verdict.as_str().into());
                    Value::Table(t)
                })
                .collect(),
        ),
    );
    let out = root.join("results").join(profile.as_str()).join("compare").join(format!("{}.toml", variant.name));
    write_atomic(&out, toml::to_string_pretty(&doc)?.as_bytes())?;
    let fig = figure(&variant.name, profile, &rows)?;
    let fig_base = root.join("figures").join(profile.as_str()).join("compare");
    write_atomic(&fig_base.join(format!("{}.svg", variant.name)), fig.svg.as_bytes())?;
    write_atomic(&fig_base.join(format!("{}.png", variant.name)), &fig.png)?;
    println!(
        "wrote {}, {}/{}.svg|png",
        rel(&out),
        rel(&fig_base),
        variant.name
    );
    Ok(())
}

/// Experiments of the plan that the variant changes: overlaid ones and everything downstream.
fn affected(registry: &Registry, plan: &[&str], variant: &Variant) -> BTreeSet<&'static str> {
    let mut out: BTreeSet<&'static str> = BTreeSet::new();
    // `plan` is in dependency order, so one pass sees upstreams first.
    for name in plan {
        let e = registry.get(name).expect("planned");
        if variant.overlay.contains_key(e.name()) || e.upstream().iter().any(|u| out.contains(u)) {
            out.insert(e.name());
        }
    }
    out
}

fn runner_results(root: &Path, profile: &Profile, experiment: &str) -> PathBuf {
    root.join("results").join(profile.as_str()).join(format!("{experiment}.toml"))
}

fn read_table(path: &Path) -> Result<Table> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    text.parse::<Table>().with_context(|| format!("{} is not valid TOML", path.display()))
}

/// The variant root: links to the main tree's inputs, its own outputs, and the baseline's
/// results, figures and artifacts for experiments the variant does not change.
fn prepare_variant_root(
    root: &Path,
    vroot: &Path,
    profile: &Profile,
    registry: &Registry,
    plan: &[&str],
    affected: &BTreeSet<&'static str>,
) -> Result<()> {
    std::fs::create_dir_all(root.join("data")).context("creating data/")?;
    std::fs::create_dir_all(vroot.join("results")).with_context(|| format!("creating {}", vroot.display()))?;
    for link in ["data-manifests", "data", "crates", "experiments", "results/paper-reference"] {
        ensure_symlink(&root.join(link), &vroot.join(link))?;
    }
    let p = profile.as_str();
    for d in ["results", "figures", "artifacts"] {
        std::fs::create_dir_all(vroot.join(d).join(p))?;
    }
    for name in plan {
        let e = registry.get(name).expect("planned");
        let varts = vroot.join("artifacts").join(p).join(name);
        if affected.contains(name) {
            // Runs here with its own artifacts; drop a link left by an earlier run with other targets.
            if varts.is_symlink() {
                std::fs::remove_file(&varts)?;
            }
            continue;
        }
        let main_results = runner_results(root, profile, name);
        let Ok(text) = std::fs::read_to_string(&main_results) else { continue };
        std::fs::copy(&main_results, runner_results(vroot, profile, name))?;
        for t in e.targets().iter().filter(|t| t.kind == TargetKind::Figure) {
            for ext in ["svg", "png"] {
                let f = Path::new("figures").join(p).join(format!("{}.{ext}", t.name));
                if root.join(&f).exists() {
                    std::fs::copy(root.join(&f), vroot.join(&f))?;
                }
            }
        }
        // Link the baseline's artifacts only when they belong to the baseline's results; otherwise
        // the runner reruns the experiment here if a changed downstream needs them.
        let fingerprint = text
            .parse::<Table>()
            .ok()
            .and_then(|t| t.get("provenance")?.get("fingerprint")?.as_str().map(str::to_string));
        let main_arts = root.join("artifacts").join(p).join(name);
        let stamped = std::fs::read_to_string(main_arts.join(".fingerprint")).ok().map(|s| s.trim().to_string());
        if fingerprint.is_some() && fingerprint == stamped {
            if varts.exists() && !varts.is_symlink() {
                std::fs::remove_dir_all(&varts)?;
            }
            ensure_symlink(&main_arts, &varts)?;
        } else if varts.is_symlink() {
            std::fs::remove_file(&varts)?;
        }
    }
    Ok(())
}

fn ensure_symlink(target: &Path, link: &Path) -> Result<()> {
    if link.is_symlink() {
        if std::fs::read_link(link)? == target {
            return Ok(());
        }
        std::fs::remove_file(link)?;
    } else if link.exists() {
        bail!("{} exists and is not a link; remove it (variant roots are disposable)", link.display());
    }
    if let Some(d) = link.parent() {
        std::fs::create_dir_all(d)?;
    }
    std::os::unix::fs::symlink(target, link).with_context(|| format!("linking {} → {}", link.display(), target.display()))
}

/// Official numbers that apply to a metric, read from the baseline's own results (paper profile):
/// `(experiment, metric id, value, source)`.
fn official_numbers(experiment: &str, baseline: &Table) -> Vec<(String, String, f64, String)> {
    let mut out = Vec::new();
    if experiment == "e02-pretrain" {
        let Some(reference) = baseline.get("paper_reference").and_then(Value::as_table) else { return out };
        for (metric, key) in [
            ("models.A2.test_rmse", "a2_test_rmse"),
            ("models.A2.test_r2", "a2_test_r2"),
            ("models.A1.test_rmse", "a1_test_rmse"),
        ] {
            if let Some(v) = reference.get(key).and_then(Value::as_float) {
                let src = reference.get(&format!("{key}_source")).and_then(Value::as_str).unwrap_or("").to_string();
                out.push((experiment.to_string(), metric.to_string(), v, src));
            }
        }
    }
    out
}

fn render(rows: &[Row], variant: &str, with_official: bool, official: &dyn Fn(&Row) -> Option<f64>) -> String {
    let opt = |v: Option<f64>| v.map(format_number).unwrap_or_else(|| "—".into());
    let mut header = vec!["experiment", "metric", "baseline", variant, "delta", "delta %", "tolerance", "verdict"];
    if with_official {
        header.insert(4, "official");
    }
    let mut cells: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
    for r in rows {
        let pct = r.baseline.zip(r.delta).filter(|(b, _)| *b != 0.0).map(|(b, d)| format!("{:+.1}%", 100.0 * d / b.abs()));
        let mut row = vec![
            r.experiment.clone(),
            r.metric.clone(),
            opt(r.baseline),
            opt(r.now),
            r.delta.map(|d| if d > 0.0 { format!("+{}", format_number(d)) } else { format_number(d) }).unwrap_or_else(|| "—".into()),
            pct.unwrap_or_else(|| "—".into()),
            r.tolerance.map(|t| t.to_string()).unwrap_or_else(|| "—".into()),
            r.verdict.to_string(),
        ];
        if with_official {
            row.insert(4, opt(official(r)));
        }
        cells.push(row);
    }
    let n = cells[0].len();
    let mut widths = vec![0usize; n];
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let numeric = |col: usize| col >= 2 && col < n - 2;
    let mut out = String::new();
    for (i, row) in cells.iter().enumerate() {
        let mut line = String::new();
        for (col, (c, w)) in row.iter().zip(&widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            if numeric(col) && i > 0 {
                line.push_str(&pad);
                line.push_str(c);
            } else {
                line.push_str(c);
                line.push_str(&pad);
            }
            line.push_str("  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
        if i == 0 {
            out.push_str(&"-".repeat(widths.iter().sum::<usize>() + 2 * (n - 1)));
            out.push('\n');
        }
    }
    out
}

/// Grouped bars, baseline vs variant, of the compared metrics (at most 24: those moved most
/// relative to their tolerance).
fn figure(variant: &str, profile: &Profile, rows: &[Row]) -> Result<plotting::Figure> {
    let mut shown: Vec<&Row> = rows.iter().filter(|r| r.baseline.is_some() && r.now.is_some()).collect();
    if shown.len() > 24 {
        let score = |r: &Row| {
            let d = r.delta.unwrap_or(0.0).abs();
            r.tolerance.map(|t| d / t.allowed(r.baseline.unwrap_or(0.0)).max(1e-12)).unwrap_or(d)
        };
        shown.sort_by(|a, b| score(b).total_cmp(&score(a)));
        shown.truncate(24);
        shown.sort_by(|a, b| (&a.experiment, &a.metric).cmp(&(&b.experiment, &b.metric)));
    }
    let labels: Vec<String> = shown
        .iter()
        .map(|r| {
            let short = r.experiment.split('-').next().unwrap_or(&r.experiment);
            let mark = match r.verdict {
                Verdict::Regression => " (worse)",
                Verdict::Improved => " (better)",
                Verdict::Changed => " (changed)",
                _ => "",
            };
            format!("{short} {}{mark}", r.metric.trim_start_matches("models.").trim_start_matches("summary"))
        })
        .collect();
    let series = vec![
        ("baseline".to_string(), shown.iter().map(|r| r.baseline.unwrap_or(f64::NAN)).collect()),
        (variant.to_string(), shown.iter().map(|r| r.now.unwrap_or(f64::NAN)).collect()),
    ];
    let options = plotting::BarOptions { value_labels: shown.len() <= 8, log_y: false };
    Ok(plotting::bar_table(
        &format!("{variant} vs baseline ({profile})"),
        &labels,
        &series,
        "metric value",
        &options,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variant(text: &str) -> Arc<Variant> {
        Arc::new(Variant::parse(text, Path::new("variants/t.toml")).unwrap())
    }

    #[test]
    fn adapter_changes_only_the_overlaid_config() {
        let v = variant(
            "name = \"t\"\ndescription = \"\"\nsource = \"\"\ntargets = [\"fig6\"]\n\
             [overlay.e02-pretrain.\"models[name=A2]\".encoder]\npe_base = 1000\n",
        );
        let base = crate::registry();
        let reg = variant_registry(&v);
        for p in ["smoke", "small"].map(|n| Profile::shipped(n).unwrap()) {
            let p = &p;
            for e in base.experiments() {
                let (b, o) = (e.config(p).unwrap(), reg.get(e.name()).unwrap().config(p).unwrap());
                if e.name() == "e02-pretrain" {
                    let d = variants::diff(&b, &o);
                    assert_eq!(d.len(), 1, "{d:?}");
                    assert_eq!(d[0].0, "models[name=A2].encoder.pe_base");
                    check_typed(e.name(), &o).unwrap();
                } else {
                    assert_eq!(b, o, "{}", e.name());
                }
                assert_eq!(reg.get(e.name()).unwrap().source_dirs(), e.source_dirs());
            }
        }
        let affected = affected(&reg, &["e02-pretrain", "e03-finetune", "e04-classify"], &v);
        assert_eq!(affected.into_iter().collect::<Vec<_>>(), ["e02-pretrain", "e03-finetune", "e04-classify"]);
    }

    #[test]
    fn every_ready_variant_applies_and_type_checks_on_every_profile() {
        let root = crate::workspace_root();
        let reg = crate::registry();
        for v in variants::load_dir(&root.join("variants")).unwrap() {
            let names: Vec<&str> = reg.experiments().map(|e| e.name()).collect();
            v.check_experiments(&names).unwrap();
            reg.plan(&v.targets).unwrap();
            for p in ["smoke", "small", "paper"].map(|n| Profile::shipped(n).unwrap()) {
                let p = &p;
                for exp in v.experiments() {
                    let merged = v.apply(exp, reg.get(exp).unwrap().config(p).unwrap()).unwrap();
                    check_typed(exp, &merged).unwrap_or_else(|e| panic!("{} on {p}: {e:#}", v.name));
                }
            }
        }
    }

    #[test]
    fn bad_enum_spelling_is_caught_before_running() {
        let v = variant(
            "name = \"t\"\ndescription = \"\"\nsource = \"\"\ntargets = [\"fig6\"]\n\
             [overlay.e02-pretrain.training]\nwindow_refresh = \"frozen\"\n",
        );
        let e = crate::registry();
        let merged = v.apply("e02-pretrain", e.get("e02-pretrain").unwrap().config(&Profile::shipped("smoke").unwrap()).unwrap()).unwrap();
        let err = format!("{:#}", check_typed("e02-pretrain", &merged).unwrap_err());
        assert!(err.contains("frozen"), "{err}");
    }
}
