//! e03-finetune: finetuning of the pretrained encoders (A2, and A1 for the classifier experiment)
//! on the few-shot subsets of each labelled set (dataset × fold × SPC, spec §7.2 and §8.4); test
//! RMSE/R² on all observations before and after, and Fig. 7 (pretrained vs finetuned test RMSE,
//! min–max over folds, finetuning time on a second axis).
//!
//! The finetuned weights of each run stay in [`finetuned_dir`]`/best` for the classifier
//! experiment.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use astromer::pretrain::{self, TestMetrics, TrainEvent};
use astromer::{Astromer, LossWeighting, MaskedBatch, Trainer};
use astromer::TrainSettings;
use evaluation::{FewShotSettings, FoldSummary};
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use lightcurve::LightCurveSet;
use serde::{Deserialize, Serialize};

/// The experiment's name (its results file and artifacts folder).
pub const NAME: &str = "e03-finetune";

/// The upstream experiment that holds the pretrained weights.
const UPSTREAM: &str = "e02-pretrain";

pub struct E03Finetune;

/// The experiment's configuration for a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// Folds, test curves per class and SPC values (spec §8.4).
    pub few_shot: FewShotSettings,
    /// Finetuning run settings (spec §7.2); `window_len` equals the pretraining one.
    pub finetune: TrainSettings,
    /// Names of the pretrained encoders of e02-pretrain to finetune (its `ModelSpec::name`).
    pub encoders: Vec<String>,
    /// Batch size of the all-observation test pass.
    pub test_batch_size: usize,
}

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        let cfg: Config = profile.section(NAME)?;
        // Finetuning continues the pretraining task: same window length and masking (spec §7.2).
        let upstream = e02_pretrain::Config::for_profile(profile)?;
        let pretraining = &upstream.training;
        anyhow::ensure!(
            cfg.finetune.window_len == pretraining.window_len && cfg.finetune.mask == pretraining.mask,
            "{}: [e03-finetune.finetune] window_len and mask must equal [e02-pretrain.training]'s ({} and {:?}): \
             finetuning continues the pretraining task (spec §7.2)",
            profile.origin().display(),
            pretraining.window_len,
            pretraining.mask
        );
        let models = &upstream.models;
        for name in &cfg.encoders {
            anyhow::ensure!(
                models.iter().any(|m| &m.name == name),
                "{}: [e03-finetune] encoders names `{name}`, which [e02-pretrain] does not pretrain (its models: {})",
                profile.origin().display(),
                models.iter().map(|m| m.name.as_str()).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(cfg)
    }
}

/// Folder of one finetuning run under this experiment's artifacts folder
/// (`artifacts/<profile>/e03-finetune`): `<dataset>/<encoder>/fold<k>-spc<n>`. The best weights
/// are in `<that>/best` (`Astromer::load`).
pub fn finetuned_dir(e03_artifacts: &Path, dataset: &str, encoder: &str, fold: usize, spc: usize) -> PathBuf {
    e03_artifacts.join(dataset).join(encoder).join(format!("fold{fold}-spc{spc}"))
}

/// Short display name of a labelled set: `synthetic-alcock-smoke` → `alcock`.
pub fn display_name(dataset: &str) -> &str {
    let s = dataset.strip_prefix("synthetic-").unwrap_or(dataset);
    s.strip_suffix("-smoke").or_else(|| s.strip_suffix("-small")).unwrap_or(s)
}

/// Official A2 means (real Alcock / ATLAS data), other-results §4: (dataset, SPC, pretrained
/// RMSE mean, finetuned RMSE mean, pretrained R² mean, finetuned R² mean, finetune time mean in min).
const PAPER: &[(&str, usize, f64, f64, f64, f64, f64)] = &[
    ("alcock", 20, 0.1381, 0.1453, 0.6522, 0.6185, 0.96),
    ("alcock", 100, 0.1381, 0.1523, 0.6522, 0.5767, 1.91),
    ("alcock", 500, 0.1381, 0.1413, 0.6522, 0.6380, 3.26),
    ("atlas", 20, 0.1271, 0.1229, 0.8212, 0.8269, 0.98),
    ("atlas", 100, 0.1271, 0.1060, 0.8212, 0.8646, 0.89),
    ("atlas", 500, 0.1271, 0.1024, 0.8212, 0.8681, 3.20),
];

const TARGETS: &[Target] = &[
    Target {
        name: "fig7",
        kind: TargetKind::Figure,
        description: "finetuning: test RMSE pretrained vs finetuned per dataset × SPC, min–max over folds, finetuning time on a second axis",
    },
    Target {
        name: "finetune",
        kind: TargetKind::Table,
        description: "test RMSE and R² on all observations before and after finetuning (A2, A1) per dataset × fold × SPC, with times, beside the paper's",
    },
];

/// One finetuning run (a row of `[[runs]]`).
#[derive(Debug, Clone, Serialize)]
struct RunRow {
    dataset: String,
    encoder: String,
    fold: usize,
    spc: usize,
    n_train_curves: usize,
    n_val_curves: usize,
    n_test_curves: usize,
    with_replacement_classes: Vec<String>,
    pretrained_rmse: f64,
    pretrained_rmse_weighted: f64,
    pretrained_r2: f64,
    finetuned_rmse: f64,
    finetuned_rmse_weighted: f64,
    finetuned_r2: f64,
    best_val_rmse_weighted: f64,
    epochs: usize,
    best_epoch: usize,
    finetune_seconds: f64,
}

/// Means (and RMSE ranges) over folds of one dataset × encoder × SPC (a row of `[[summary]]`).
#[derive(Debug, Clone, Serialize)]
struct SummaryRow {
    dataset: String,
    encoder: String,
    spc: usize,
    folds: usize,
    pretrained_rmse_mean: f64,
    pretrained_rmse_min: f64,
    pretrained_rmse_max: f64,
    finetuned_rmse_mean: f64,
    finetuned_rmse_min: f64,
    finetuned_rmse_max: f64,
    pretrained_r2_mean: f64,
    finetuned_r2_mean: f64,
    finetune_seconds_mean: f64,
    /// (finetuned − pretrained) / pretrained mean RMSE, in %: negative when finetuning helps.
    rmse_change_percent: f64,
}

const DECLARATION: Declaration = Declaration {
    name: NAME,
    description: "finetuning of the pretrained A2 and A1 per labelled set × fold × SPC; test RMSE/R²; Fig. 7",
    targets: TARGETS,
    upstream: &[UPSTREAM],
    upstream_artifacts: &[UPSTREAM],
    reads: Reads::LabelledSets,
    figures_need_sets: &[],
    source_dirs: &[
        "experiments/e03-finetune",
        // Upstream experiment crates whose code this one compiles (configs, paths).
        "experiments/e02-pretrain",
        "experiments/harness",
        "crates/astromer",
        "crates/lightcurve",
        "crates/datasets",
        "crates/evaluation",
        "crates/plotting",
    ],
};

impl Experiment for E03Finetune {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let dev = astromer::try_default_device(cfg.finetune.seed).map_err(anyhow::Error::msg)?;
        let upstream = ctx.upstream_dir(UPSTREAM)?.clone();
        let mut pretrained = BTreeMap::new();
        for name in &cfg.encoders {
            let dir = upstream.join(name).join("best");
            anyhow::ensure!(
                dir.join("config.toml").exists(),
                "no pretrained weights of {name} in {}: run `cargo xtask reproduce fig6 --profile {}` first",
                dir.display(),
                ctx.profile
            );
            let model = Astromer::load(&dir, dev.device()).with_context(|| format!("loading the pretrained {name} from {}", dir.display()))?;
            pretrained.insert(name.clone(), model);
        }

        anyhow::ensure!(
            cfg.few_shot.test_per_class >= 1,
            "few_shot.test_per_class is 0: the test set would be empty; use at least 1"
        );
        if let Some(spc) = cfg.few_shot.spc.iter().find(|&&spc| cfg.few_shot.n_val(spc) == 0 || cfg.few_shot.n_train(spc) == 0) {
            anyhow::bail!(
                "SPC {spc} with train_fraction {} leaves {} training and {} validation curves per class; \
                 finetuning needs both (early stopping reads the validation loss): raise SPC or change train_fraction",
                cfg.few_shot.train_fraction,
                cfg.few_shot.n_train(*spc),
                cfg.few_shot.n_val(*spc)
            );
        }
        let window = cfg.finetune.window_len;
        let mut rows: Vec<RunRow> = Vec::new();
        for dataset in ctx.profile.data().labelled.clone() {
            let set = ctx.open(&dataset)?;
            let splits = evaluation::few_shot_splits_for_set(&set, &cfg.few_shot)
                .with_context(|| format!("few-shot splits of {dataset}"))?;
            for s in splits.iter().filter(|s| !s.with_replacement_classes.is_empty()) {
                println!(
                    "  {dataset} fold {} SPC {}: too few curves outside the test set, drawn with replacement: {}",
                    s.fold,
                    s.spc,
                    s.with_replacement_classes.join(", ")
                );
            }
            // The test set of a fold is shared by all its SPC values: its batches are built once.
            let mut tests: BTreeMap<usize, (usize, Vec<MaskedBatch>)> = BTreeMap::new();
            for s in &splits {
                if !tests.contains_key(&s.fold) {
                    let test = set.subset(&s.test)?;
                    let batches = pretrain::fixed_masked_batches(&test, window, cfg.test_batch_size, None, 0)?;
                    tests.insert(s.fold, (test.len(), batches));
                }
            }
            for encoder in &cfg.encoders {
                let model = &pretrained[encoder];
                let mut before: BTreeMap<usize, TestMetrics> = BTreeMap::new();
                for s in &splits {
                    let (n_test, test_batches) = &tests[&s.fold];
                    if !before.contains_key(&s.fold) {
                        before.insert(s.fold, pretrain::test_metrics(model, test_batches)?);
                    }
                    let pre = before[&s.fold];
                    let (train, val) = (set.subset(&s.train)?, set.subset(&s.val)?);
                    let dir = finetuned_dir(&ctx.artifacts_dir, &dataset, encoder, s.fold, s.spc);
                    let label = format!("{} {encoder} fold {} SPC {}", display_name(&dataset), s.fold, s.spc);
                    let outcome = finetune_one(&label, model, &cfg.finetune, &train, &val, &dir)?;
                    let best = Astromer::load(&outcome.best_dir, dev.device())
                        .with_context(|| format!("loading finetuned weights from {}", outcome.best_dir.display()))?;
                    let post = pretrain::test_metrics(&best, test_batches)?;
                    let seconds: f64 = outcome.history.iter().map(|h| h.seconds).sum();
                    println!(
                        "  {label}: test RMSE {:.4} → {:.4}, R² {:.3} → {:.3} (pretrained → finetuned, all observations); \
                         {} epochs (best {}), {:.1} s",
                        pre.rmse,
                        post.rmse,
                        pre.r2,
                        post.r2,
                        outcome.history.len(),
                        outcome.best_epoch,
                        seconds
                    );
                    rows.push(RunRow {
                        dataset: dataset.clone(),
                        encoder: encoder.clone(),
                        fold: s.fold,
                        spc: s.spc,
                        n_train_curves: train.len(),
                        n_val_curves: val.len(),
                        n_test_curves: *n_test,
                        with_replacement_classes: s.with_replacement_classes.clone(),
                        pretrained_rmse: round(pre.rmse),
                        pretrained_rmse_weighted: round(pre.rmse_weighted),
                        pretrained_r2: round(pre.r2),
                        finetuned_rmse: round(post.rmse),
                        finetuned_rmse_weighted: round(post.rmse_weighted),
                        finetuned_r2: round(post.r2),
                        best_val_rmse_weighted: round(outcome.best_val_loss),
                        epochs: outcome.history.len(),
                        best_epoch: outcome.best_epoch,
                        finetune_seconds: round(seconds),
                    });
                }
            }
        }

        let summary = summarize(&rows)?;
        let results = ctx.results();
        results.insert("runs".into(), toml::Value::try_from(&rows)?);
        results.insert("summary".into(), toml::Value::try_from(&summary)?);
        results.insert("paper_reference".into(), toml::Value::Table(paper_reference()));

        // Fig. 7: A2 only (the A1 rows are in the table), one category per dataset × SPC.
        let a2: Vec<&SummaryRow> = summary.iter().filter(|r| r.encoder == "A2").collect();
        let x_labels: Vec<String> = a2.iter().map(|r| format!("{} SPC {}", display_name(&r.dataset), r.spc)).collect();
        let series = vec![
            (
                "pretrained".to_string(),
                a2.iter().map(|r| (r.pretrained_rmse_mean, r.pretrained_rmse_min, r.pretrained_rmse_max)).collect(),
            ),
            (
                "finetuned".to_string(),
                a2.iter().map(|r| (r.finetuned_rmse_mean, r.finetuned_rmse_min, r.finetuned_rmse_max)).collect(),
            ),
        ];
        let minutes: Vec<f64> = a2.iter().map(|r| r.finetune_seconds_mean / 60.0).collect();
        let fig = plotting::grouped_bars_with_errors(
            "Finetuning A2 (Fig. 7)",
            &x_labels,
            &series,
            "test RMSE, all observations (mag)",
            Some(("finetuning time (min)".to_string(), minutes)),
        )?;
        ctx.figure("fig7", fig.svg, fig.png);
        Ok(())
    }
}

/// Finetunes a copy of `pretrained` on `train` (validated on `val`), checkpoints in `dir`
/// (resumes there after an interruption), with a progress bar prefixed by `label`.
fn finetune_one(
    label: &str,
    pretrained: &Astromer<astromer::DefaultDevice>,
    settings: &TrainSettings,
    train: &LightCurveSet,
    val: &LightCurveSet,
    dir: &Path,
) -> Result<pretrain::TrainOutcome> {
    let mut trainer = Trainer::new(pretrained.clone(), settings.adam, LossWeighting::Weighted);
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} batches {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    let outcome = pretrain::train(&mut trainer, train, val, settings, dir, &mut |e| match e {
        TrainEvent::EpochStart {
            epoch,
            batches,
            resumed_from,
        } => {
            if let Some(k) = resumed_from {
                bar.suspend(|| println!("  {label}: resuming after epoch {k} from {}", dir.display()));
            }
            bar.set_length(batches as u64);
            bar.set_position(0);
            bar.set_message(format!("epoch {epoch}"));
        }
        TrainEvent::Batch {
            epoch,
            batch,
            loss,
            windows_per_s,
        } => {
            bar.set_position(batch as u64 + 1);
            bar.set_message(format!("epoch {epoch} loss {loss:.4} {windows_per_s:.1} windows/s"));
        }
        TrainEvent::EpochEnd(_) => {}
    })
    .with_context(|| format!("finetuning {label}"))?;
    bar.finish_and_clear();
    Ok(outcome)
}

/// One summary row per dataset × encoder × SPC, in the order of first appearance in `rows`.
fn summarize(rows: &[RunRow]) -> Result<Vec<SummaryRow>> {
    let mut keys: Vec<(String, String, usize)> = Vec::new();
    for r in rows {
        let k = (r.dataset.clone(), r.encoder.clone(), r.spc);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys.into_iter()
        .map(|(dataset, encoder, spc)| {
            let of: Vec<&RunRow> = rows.iter().filter(|r| r.dataset == dataset && r.encoder == encoder && r.spc == spc).collect();
            let over = |f: fn(&RunRow) -> f64| FoldSummary::from_values(&of.iter().map(|r| f(r)).collect::<Vec<_>>());
            let pre = over(|r| r.pretrained_rmse)?;
            let post = over(|r| r.finetuned_rmse)?;
            let mean = |f: fn(&RunRow) -> f64| of.iter().map(|r| f(r)).sum::<f64>() / of.len() as f64;
            Ok(SummaryRow {
                folds: of.len(),
                pretrained_rmse_mean: round(pre.mean),
                pretrained_rmse_min: pre.min,
                pretrained_rmse_max: pre.max,
                finetuned_rmse_mean: round(post.mean),
                finetuned_rmse_min: post.min,
                finetuned_rmse_max: post.max,
                pretrained_r2_mean: round(mean(|r| r.pretrained_r2)),
                finetuned_r2_mean: round(mean(|r| r.finetuned_r2)),
                finetune_seconds_mean: round(mean(|r| r.finetune_seconds)),
                rmse_change_percent: (percent_change(pre.mean, post.mean) * 100.0).round() / 100.0,
                dataset,
                encoder,
                spc,
            })
        })
        .collect()
}

fn percent_change(before: f64, after: f64) -> f64 {
    100.0 * (after - before) / before
}

fn paper_reference() -> toml::Table {
    let mut paper = toml::Table::new();
    paper.insert(
        "source".into(),
        "astromer2-other-results.md §4: DEV allresults.csv @ b7ab701 (official A2, pipeline_0/finetune.py + testing.py); \
         test RMSE and R² on all observations, unweighted, batch 2500; time = span of the validation log"
            .into(),
    );
    paper.insert(
        "note".into(),
        "real Alcock and ATLAS data, the full A2 and the official finetuning (lr 1e-5, batch 2000, patience 20); \
         ours are the profile's data, model and sizes"
            .into(),
    );
    let rows: Vec<toml::Value> = PAPER
        .iter()
        .map(|&(dataset, spc, pre, post, pre_r2, post_r2, minutes)| {
            let mut t = toml::Table::new();
            t.insert("dataset".into(), dataset.into());
            t.insert("encoder".into(), "A2".into());
            t.insert("spc".into(), (spc as i64).into());
            t.insert("pretrained_rmse_mean".into(), pre.into());
            t.insert("finetuned_rmse_mean".into(), post.into());
            t.insert("pretrained_r2_mean".into(), pre_r2.into());
            t.insert("finetuned_r2_mean".into(), post_r2.into());
            t.insert("finetune_minutes_mean".into(), minutes.into());
            t.insert("rmse_change_percent".into(), ((percent_change(pre, post) * 10.0).round() / 10.0).into());
            toml::Value::Table(t)
        })
        .collect();
    paper.insert("rows".into(), toml::Value::Array(rows));
    paper
}

fn round(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

#[cfg(test)]
mod tests {
    use super::*;
    use astromer::{AdamSettings, TrainWindows};

    #[test]
    fn finetuned_dir_layout() {
        let d = finetuned_dir(Path::new("artifacts/smoke/e03-finetune"), "synthetic-atlas-smoke", "A2", 1, 16);
        assert_eq!(d, PathBuf::from("artifacts/smoke/e03-finetune/synthetic-atlas-smoke/A2/fold1-spc16"));
    }

    #[test]
    fn configs_follow_pretraining_and_validate() {
        for name in ["smoke", "small", "paper"] {
            let p = &Profile::shipped(name).unwrap();
            let cfg = Config::for_profile(p).unwrap();
            assert_eq!(cfg.finetune.window_len, e02_pretrain::Config::for_profile(p).unwrap().training.window_len, "{p}");
            cfg.few_shot.validate().unwrap();
            assert_eq!(cfg.finetune.train_windows, TrainWindows::Sequential);
            assert!(cfg.finetune.weighted_loss);
            // The config round-trips through the harness' TOML.
            let v = E03Finetune.config(p).unwrap();
            assert_eq!(v.try_into::<Config>().unwrap(), cfg);
        }
        let paper = Config::for_profile(&Profile::shipped("paper").unwrap()).unwrap();
        assert_eq!(paper.few_shot, FewShotSettings::default());
        assert_eq!(paper.finetune.adam, AdamSettings::official());
        assert_eq!((paper.finetune.batch_size, paper.finetune.patience), (2000, 20));
    }

    #[test]
    fn a_profile_that_breaks_the_pretraining_link_is_refused() {
        let smoke = std::fs::read_to_string(Profile::shipped("smoke").unwrap().origin()).unwrap();
        let parse = |text: &str| Profile::parse("t", std::path::Path::new("profiles/t.toml"), text).unwrap();
        // Finetuning windows longer than the pretraining ones.
        let i = smoke.find("[e03-finetune.finetune]").unwrap();
        let longer = format!("{}{}", &smoke[..i], smoke[i..].replacen("window_len = 100", "window_len = 200", 1));
        let e = format!("{:#}", Config::for_profile(&parse(&longer)).unwrap_err());
        assert!(e.contains("profiles/t.toml") && e.contains("window_len"), "{e}");
        // An encoder e02 does not pretrain.
        let unknown = smoke.replacen("encoders = [\"A2\", \"A1\"]", "encoders = [\"A2\", \"A3\"]", 1);
        let e = format!("{:#}", Config::for_profile(&parse(&unknown)).unwrap_err());
        assert!(e.contains("A3"), "{e}");
    }

    #[test]
    fn display_names_and_summary() {
        assert_eq!(display_name("synthetic-alcock-smoke"), "alcock");
        assert_eq!(display_name("synthetic-atlas-small"), "atlas");
        assert_eq!(display_name("atlas"), "atlas");
        let row = |fold, pre, post| RunRow {
            dataset: "d".into(),
            encoder: "A2".into(),
            fold,
            spc: 20,
            n_train_curves: 0,
            n_val_curves: 0,
            n_test_curves: 0,
            with_replacement_classes: vec![],
            pretrained_rmse: pre,
            pretrained_rmse_weighted: 0.0,
            pretrained_r2: 0.5,
            finetuned_rmse: post,
            finetuned_rmse_weighted: 0.0,
            finetuned_r2: 0.6,
            best_val_rmse_weighted: 0.0,
            epochs: 1,
            best_epoch: 0,
            finetune_seconds: 30.0,
        };
        let s = summarize(&[row(0, 0.2, 0.1), row(1, 0.4, 0.2)]).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!((s[0].pretrained_rmse_min, s[0].pretrained_rmse_max), (0.2, 0.4));
        assert!((s[0].rmse_change_percent + 50.0).abs() < 1e-9);
        assert_eq!(s[0].folds, 2);
    }
}
