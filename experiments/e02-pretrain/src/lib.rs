//! e02-pretrain: masked pretraining of Astromer 1 and Astromer 2 on the profile's unlabelled set,
//! test RMSE/R² on held-out curves, and Fig. 6 (train/val RMSE per epoch, test RMSE as a line).

use std::path::Path;

use anyhow::{Context, Result};
use astromer::pretrain::{self, TestMetrics, TrainEvent};
use astromer::{AdamSettings, Astromer, EncoderConfig, LossWeighting, Trainer};
use astromer::TrainSettings;
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use serde::{Deserialize, Serialize};

pub struct E02Pretrain;

/// One encoder to pretrain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSpec {
    /// `A1` or `A2` (or a variant name).
    pub name: String,
    pub encoder: EncoderConfig,
    /// Optimiser for this model when it differs from the run's (A1 was trained with lr 1e-3).
    #[serde(default)]
    pub adam: Option<AdamSettings>,
    /// Where the pretrained weights come from: `"pretrain"` (train here) or `"imported:<dir>"`
    /// (a checkpoint written by `cargo xtask weights import`, e.g. the released A2; its own
    /// config.toml sets the architecture and `encoder` is ignored). Relative to the directory
    /// `cargo xtask` runs in (the workspace root).
    #[serde(default)]
    pub weights: WeightsSource,
}

/// Where a model's pretrained weights come from (serialised as `"pretrain"` / `"imported:<dir>"`,
/// so a variant overlay can switch it with one string).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum WeightsSource {
    #[default]
    Pretrain,
    Imported(std::path::PathBuf),
}

impl TryFrom<String> for WeightsSource {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            _ if s == "pretrain" => Ok(WeightsSource::Pretrain),
            Some(("imported", dir)) if !dir.is_empty() => Ok(WeightsSource::Imported(dir.into())),
            _ => Err(format!("weights = {s:?}: expected \"pretrain\" or \"imported:<dir>\"")),
        }
    }
}

impl From<WeightsSource> for String {
    fn from(w: WeightsSource) -> String {
        match w {
            WeightsSource::Pretrain => "pretrain".into(),
            WeightsSource::Imported(dir) => format!("imported:{}", dir.display()),
        }
    }
}

/// Held-out split of the unlabelled set, by curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    pub test_fraction: f64,
    pub val_fraction: f64,
    pub seed: u64,
}

/// The experiment's configuration for a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub split: Split,
    pub training: TrainSettings,
    pub test_batch_size: usize,
    pub models: Vec<ModelSpec>,
}

/// Paper / official values (real MACHO data), shown beside ours.
const PAPER: &[(&str, f64, &str)] = &[
    ("a2_test_rmse", 0.113, "paper Sect. 5.1; official test RMSE, unweighted, probed points (other-results §3)"),
    ("a2_r2_quoted", 0.732, "paper's R²; it is the best *validation* R² of the official run (spec §11)"),
    ("a2_test_r2", 0.727, "official test R² (tr_astromer_2.pdf, other-results §3)"),
    ("a1_test_rmse", 0.148, "paper's A1 RMSE (not found in the official files)"),
];

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        profile.section("e02-pretrain")
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "fig6",
        kind: TargetKind::Figure,
        description: "pretraining curves: train/val RMSE per epoch, test RMSE as a line (A1, A2)",
    },
    Target {
        name: "pretrain",
        kind: TargetKind::Table,
        description: "test RMSE and R² of A1 and A2 on probed points (and R² on all points), beside the paper's",
    },
];

const DECLARATION: Declaration = Declaration {
    name: "e02-pretrain",
    description: "masked pretraining of Astromer 1 and 2; test RMSE/R²; Fig. 6",
    targets: TARGETS,
    upstream: &[],
    upstream_artifacts: &[],
    reads: Reads::PretrainingSet,
    figures_need_sets: &[],
    source_dirs: &[
        "experiments/e02-pretrain",
        "experiments/harness",
        "crates/astromer",
        "crates/lightcurve",
        "crates/datasets",
        "crates/survey-sim",
        "crates/plotting",
    ],
};

impl Experiment for E02Pretrain {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let set = ctx.open(&ctx.profile.data().pretraining)?;
        let (train_idx, val_idx, test_idx) =
            pretrain::split_indices(set.len(), cfg.split.val_fraction, cfg.split.test_fraction, cfg.split.seed);
        let (train, val, test) = (set.subset(&train_idx)?, set.subset(&val_idx)?, set.subset(&test_idx)?);
        println!(
            "  split: {} train / {} validation / {} test curves",
            train.len(),
            val.len(),
            test.len()
        );
        // Test batches: sequential windows with the pretraining masking (fixed seed), and
        // all-points batches (everything visible and scored) for R² on all points.
        let window = cfg.training.window_len;
        let probed_batches =
            pretrain::fixed_masked_batches(&test, window, cfg.test_batch_size, Some(&cfg.training.mask), cfg.split.seed ^ 0x7E57)?;
        let all_batches = pretrain::fixed_masked_batches(&test, window, cfg.test_batch_size, None, 0)?;

        let mut models = toml::Table::new();
        let mut curves = Vec::new();
        let mut hlines = Vec::new();
        for spec in &cfg.models {
            let dir = ctx.artifacts_dir.join(&spec.name);
            if let WeightsSource::Imported(source) = &spec.weights {
                let (t, probed) = import_one(spec, source, &cfg, &probed_batches, &all_batches, &dir)?;
                models.insert(spec.name.clone(), toml::Value::Table(t));
                hlines.push((format!("{} (imported) test RMSE (unweighted)", spec.name), probed.rmse));
                continue;
            }
            let (outcome, probed, all, params) = pretrain_one(spec, &cfg, &train, &val, &probed_batches, &all_batches, &dir)?;
            let mut t = toml::Table::new();
            t.insert("parameters".into(), (params as i64).into());
            t.insert("epochs".into(), (outcome.history.len() as i64).into());
            t.insert("best_epoch".into(), (outcome.best_epoch as i64).into());
            t.insert("best_val_loss_weighted".into(), round(outcome.best_val_loss).into());
            t.insert("test_rmse".into(), round(probed.rmse).into());
            t.insert("test_rmse_weighted".into(), round(probed.rmse_weighted).into());
            t.insert("test_r2".into(), round(probed.r2).into());
            t.insert("test_rmse_all_points".into(), round(all.rmse).into());
            t.insert("test_r2_all_points".into(), round(all.r2).into());
            let mut speeds: Vec<f64> = outcome.history.iter().map(|h| h.train_windows_per_s).collect();
            speeds.sort_by(f64::total_cmp);
            t.insert("train_windows_per_s_median".into(), round(speeds[speeds.len() / 2]).into());
            let history: Vec<toml::Value> = outcome
                .history
                .iter()
                .map(|h| {
                    let mut r = toml::Table::new();
                    r.insert("epoch".into(), (h.epoch as i64).into());
                    r.insert("train_rmse".into(), round(h.train_loss).into());
                    r.insert("val_rmse".into(), round(h.val_loss).into());
                    r.insert("train_r2".into(), round(h.train_r2).into());
                    r.insert("val_r2".into(), round(h.val_r2).into());
                    toml::Value::Table(r)
                })
                .collect();
            t.insert("history".into(), toml::Value::Array(history));
            models.insert(spec.name.clone(), toml::Value::Table(t));

            let pts = |f: fn(&pretrain::EpochLog) -> f64| outcome.history.iter().map(|h| ((h.epoch + 1) as f64, f(h))).collect();
            curves.push(plotting::LineSeries::new(format!("{} train (weighted)", spec.name), pts(|h| h.train_loss)));
            curves.push(plotting::LineSeries::new(format!("{} validation (weighted)", spec.name), pts(|h| h.val_loss)).dashed());
            hlines.push((format!("{} test RMSE (unweighted)", spec.name), probed.rmse));
        }
        let mut paper = toml::Table::new();
        for (k, v, src) in PAPER {
            paper.insert(k.to_string(), (*v).into());
            paper.insert(format!("{k}_source"), src.to_string().into());
        }
        paper.insert("note".into(), "real MACHO data and the full A2; ours are the profile's data and sizes".into());
        // What a model scores without learning anything about stars (leak-free; see
        // astromer::reference): a reconstruction R² only counts above these.
        let mut references = toml::Table::new();
        for predictor in astromer::ReferencePredictor::ALL {
            let m = pretrain::reference_metrics(predictor, &probed_batches);
            println!(
                "  reference {}: test RMSE {:.4} (weighted {:.4}), R² {:.3} on probed points",
                predictor.name(),
                m.rmse,
                m.rmse_weighted,
                m.r2
            );
            let mut t = toml::Table::new();
            t.insert("test_rmse".into(), round(m.rmse).into());
            t.insert("test_rmse_weighted".into(), round(m.rmse_weighted).into());
            t.insert("test_r2".into(), round(m.r2).into());
            references.insert(predictor.name().into(), toml::Value::Table(t));
            hlines.push((format!("reference {} test RMSE", predictor.name()), m.rmse));
        }
        let results = ctx.results();
        results.insert("models".into(), toml::Value::Table(models));
        results.insert("reference_predictors".into(), toml::Value::Table(references));
        results.insert("paper_reference".into(), toml::Value::Table(paper));

        let fig = plotting::line_chart(
            "Pretraining (Fig. 6)",
            "epoch",
            "RMSE on probed points (centred mag)",
            &curves,
            &hlines,
            false,
            false,
        )?;
        ctx.figure("fig6", fig.svg, fig.png);
        Ok(())
    }
}

type Pretrained = (pretrain::TrainOutcome, TestMetrics, TestMetrics, usize);

/// Takes `spec`'s weights from an imported checkpoint (`cargo xtask weights import`) instead of
/// pretraining: copies it to `<dir>/best`, where the downstream experiments load pretrained
/// weights, with its `import.toml`, and measures it on the test batches like a pretrained model.
fn import_one(
    spec: &ModelSpec,
    source: &Path,
    cfg: &Config,
    probed_batches: &[astromer::MaskedBatch],
    all_batches: &[astromer::MaskedBatch],
    dir: &Path,
) -> Result<(toml::Table, TestMetrics)> {
    let dev = astromer::try_default_device(cfg.training.seed).map_err(anyhow::Error::msg)?;
    let model = Astromer::load(source, dev.device()).with_context(|| {
        format!(
            "{}: weights = \"imported:{}\" but no checkpoint loads from there; make one with \
             `cargo xtask weights import <official checkpoint> --out {}`",
            spec.name,
            source.display(),
            source.display()
        )
    })?;
    let best = dir.join("best");
    model.save(&best).with_context(|| format!("copying the imported {} to {}", spec.name, best.display()))?;
    let provenance = std::fs::read_to_string(source.join("import.toml")).ok();
    if let Some(text) = &provenance {
        std::fs::write(best.join("import.toml"), text)?;
    }
    let probed = pretrain::test_metrics(&model, probed_batches)?;
    let all = pretrain::test_metrics(&model, all_batches)?;
    println!(
        "  {}: imported from {} ({} parameters, {:?}); test RMSE {:.4} (weighted {:.4}), R² {:.3} on probed points; R² {:.3} on all points",
        spec.name,
        source.display(),
        model.parameter_count(),
        model.config().mask_token,
        probed.rmse,
        probed.rmse_weighted,
        probed.r2,
        all.r2
    );
    let mut t = toml::Table::new();
    t.insert("weights".into(), String::from(spec.weights.clone()).into());
    t.insert("parameters".into(), (model.parameter_count() as i64).into());
    t.insert("encoder".into(), toml::Value::try_from(model.config())?);
    // Where the weights came from: the official checkpoint's files and hashes, as recorded at import.
    if let Some(p) = provenance.as_deref().and_then(|text| text.parse::<toml::Table>().ok()) {
        for key in ["source_prefix", "source_files", "importer"] {
            if let Some(v) = p.get(key) {
                t.insert(format!("imported_{key}"), v.clone());
            }
        }
    }
    t.insert("test_rmse".into(), round(probed.rmse).into());
    t.insert("test_rmse_weighted".into(), round(probed.rmse_weighted).into());
    t.insert("test_r2".into(), round(probed.r2).into());
    t.insert("test_rmse_all_points".into(), round(all.rmse).into());
    t.insert("test_r2_all_points".into(), round(all.r2).into());
    Ok((t, probed))
}

fn pretrain_one(
    spec: &ModelSpec,
    cfg: &Config,
    train: &lightcurve::LightCurveSet,
    val: &lightcurve::LightCurveSet,
    probed_batches: &[astromer::MaskedBatch],
    all_batches: &[astromer::MaskedBatch],
    dir: &Path,
) -> Result<Pretrained> {
    let dev = astromer::try_default_device(cfg.training.seed).map_err(anyhow::Error::msg)?;
    let model = Astromer::new(spec.encoder.clone(), dev.device(), cfg.training.seed)
        .with_context(|| format!("building {}", spec.name))?;
    let params = model.parameter_count();
    let mut settings = cfg.training.clone();
    if let Some(adam) = spec.adam {
        settings.adam = adam;
    }
    let mut trainer = Trainer::new(model, settings.adam, LossWeighting::Weighted);
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} batches {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(spec.name.clone());
    let outcome = pretrain::train(&mut trainer, train, val, &settings, dir, &mut |e| match e {
        TrainEvent::EpochStart {
            epoch,
            batches,
            resumed_from,
        } => {
            if let Some(k) = resumed_from {
                bar.suspend(|| println!("  {}: resuming after epoch {k} from {}", spec.name, dir.display()));
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
        // `suspend` + println, not `bar.println`: the per-epoch log must also reach a non-terminal (CI) log.
        TrainEvent::EpochEnd(h) => bar.suspend(|| {
            println!(
                "  {} epoch {:>3}: train RMSE {:.4} R² {:.3} | val RMSE {:.4} R² {:.3} | {:.1} windows/s, {:.1} s",
                spec.name, h.epoch, h.train_loss, h.train_r2, h.val_loss, h.val_r2, h.train_windows_per_s, h.seconds
            )
        }),
    })
    .with_context(|| format!("pretraining {}", spec.name))?;
    bar.finish_and_clear();
    let best = Astromer::load(&outcome.best_dir, dev.device())?;
    let probed = pretrain::test_metrics(&best, probed_batches)?;
    let all = pretrain::test_metrics(&best, all_batches)?;
    println!(
        "  {}: best epoch {}; test RMSE {:.4} (weighted {:.4}), R² {:.3} on probed points; R² {:.3} on all points",
        spec.name, outcome.best_epoch, probed.rmse, probed.rmse_weighted, probed.r2, all.r2
    );
    Ok((outcome, probed, all, params))
}

fn round(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_source_is_one_string_in_the_config() {
        let spec = &Config::for_profile(&Profile::shipped("smoke").unwrap()).unwrap().models[1];
        assert_eq!(spec.weights, WeightsSource::Pretrain);
        let text = toml::to_string(spec).unwrap();
        assert!(text.contains("weights = \"pretrain\""), "{text}");
        let imported: ModelSpec = toml::from_str(&text.replace("\"pretrain\"", "\"imported:artifacts/imported/a2\"")).unwrap();
        assert_eq!(imported.weights, WeightsSource::Imported("artifacts/imported/a2".into()));
        for bad in ["\"imported:\"", "\"pretrained\"", "\"import:x\""] {
            let err = toml::from_str::<ModelSpec>(&text.replace("\"pretrain\"", bad)).unwrap_err();
            assert!(err.to_string().contains("imported:<dir>"), "{bad}: {err}");
        }
        // Older configs without the key read as "pretrain".
        let old: ModelSpec = toml::from_str(&text.replace("weights = \"pretrain\"\n", "")).unwrap();
        assert_eq!(old.weights, WeightsSource::Pretrain);
    }
}
