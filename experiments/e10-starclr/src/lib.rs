//! e10-starclr: contrastive pretraining of StarCLR (issue 17, docs/starclr.md) on the profile's
//! unlabelled set, the curves and split of e02's masked pretraining, at A2's scale; the test
//! NT-Xent beside that of an encoder that tells no curve from another; the loss curves. The
//! encoder is saved to `<artifacts>/<name>/best` (`starclr.toml` + `model.safetensors`), where
//! e04-classify reads it as `weights = "pretrained:<name>"`, beside A1 and A2.

use anyhow::{Context, Result};
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use serde::{Deserialize, Serialize};
use starclr::{PretrainSettings, StarClr, StarClrConfig};

pub struct E10StarClr;

/// Held-out split of the unlabelled set, by curve: set it as e02-pretrain's so both objectives
/// learn from the same curves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Split {
    pub test_fraction: f64,
    pub val_fraction: f64,
    pub seed: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The encoder's name downstream (e04's `pretrained:<name>`).
    pub name: String,
    pub split: Split,
    /// Sigma clipping of the preprocessing (the paper: 5 for TESS, 3 for ZTF and Gaia).
    pub sigma_clip: f64,
    /// Seed of the initial weights.
    pub init_seed: u64,
    pub model: StarClrConfig,
    pub pretrain: PretrainSettings,
}

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        profile.section("e10-starclr")
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "starclr-loss",
        kind: TargetKind::Figure,
        description: "StarCLR contrastive pretraining: train/validation NT-Xent per epoch, test NT-Xent and the no-information level as lines",
    },
    Target {
        name: "starclr-pretrain",
        kind: TargetKind::Table,
        description: "StarCLR pretraining: epochs, best epoch, test NT-Xent beside that of an encoder that tells no curve from another",
    },
];

const DECLARATION: Declaration = Declaration {
    name: "e10-starclr",
    description: "contrastive pretraining of StarCLR on e02's unlabelled curves; its encoder for e04's heads",
    targets: TARGETS,
    upstream: &[],
    upstream_artifacts: &[],
    reads: Reads::PretrainingSet,
    figures_need_sets: &[],
    source_dirs: &[
        "experiments/e10-starclr",
        "experiments/harness",
        "crates/starclr",
        "crates/causal",
        "crates/astromer",
        "crates/lightcurve",
        "crates/datasets",
        "crates/survey-sim",
        "crates/plotting",
    ],
};

impl Experiment for E10StarClr {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let set = ctx.open(&ctx.profile.data().pretraining)?;
        let (train, val, test) = astromer::pretrain::split_indices(set.len(), cfg.split.val_fraction, cfg.split.test_fraction, cfg.split.seed);
        println!("  split: {} train / {} validation / {} test curves", train.len(), val.len(), test.len());
        let curves = set
            .curves()
            .map(|c| starclr::preprocess(c.object_id, c.time, c.mag, cfg.sigma_clip))
            .collect::<Result<Vec<_>, _>>()
            .with_context(|| format!("preprocessing {} for StarCLR", ctx.profile.data().pretraining))?;
        let clipped: usize = curves.iter().map(|c| c.clipped).sum();
        println!("  preprocessing: {clipped} observations clipped at {} σ", cfg.sigma_clip);

        let dev = astromer::try_default_device(cfg.init_seed).map_err(anyhow::Error::msg)?;
        let model = StarClr::new(cfg.model.clone(), dev.device(), cfg.init_seed).context("building StarCLR")?;
        let parameters: usize = astromer::Parameters::named_params(&model).iter().map(|(_, p)| p.shape().iter().product::<usize>()).sum();
        let dir = ctx.artifacts_dir.join(&cfg.name);
        let bar = indicatif::ProgressBar::new(cfg.pretrain.max_epochs as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("  StarCLR [{bar:30}] {pos}/{len} epochs {msg} ({elapsed})")
                .expect("valid template")
                .progress_chars("=> "),
        );
        let started = std::time::Instant::now();
        let outcome = starclr::pretrain(model, &curves, &train, &val, &cfg.pretrain, Some(&dir.join("checkpoints")), &mut |log| {
            bar.suspend(|| println!("  epoch {:>3}: NT-Xent train {:.4}, validation {:.4}", log.epoch + 1, log.train, log.val));
            bar.set_position(log.epoch as u64 + 1);
        })
        .context("pretraining StarCLR (remove the checkpoints folder to restart from scratch)")?;
        bar.finish_and_clear();
        let seconds = started.elapsed().as_secs_f64();
        outcome.model.save(&dir.join("best")).context("saving the pretrained StarCLR")?;
        let test_loss = starclr::held_out_loss(&outcome.model, &curves, &test, &cfg.pretrain)?;
        let uniform = starclr::uniform_loss(test.len(), cfg.pretrain.batch_curves);
        println!(
            "  StarCLR: best epoch {} of {}; test NT-Xent {test_loss:.4} (an encoder that tells no curve from another: {uniform:.4}); {seconds:.0} s",
            outcome.best_epoch + 1,
            outcome.history.len()
        );

        let mut t = toml::Table::new();
        t.insert("parameters".into(), (parameters as i64).into());
        t.insert("epochs".into(), (outcome.history.len() as i64).into());
        t.insert("best_epoch".into(), (outcome.best_epoch as i64).into());
        t.insert("best_val_nt_xent".into(), round(outcome.history[outcome.best_epoch].val as f64).into());
        t.insert("test_nt_xent".into(), round(test_loss as f64).into());
        t.insert("test_nt_xent_uniform".into(), round(uniform as f64).into());
        t.insert("clipped_observations".into(), (clipped as i64).into());
        let history: Vec<toml::Value> = outcome
            .history
            .iter()
            .map(|h| {
                let mut r = toml::Table::new();
                r.insert("epoch".into(), (h.epoch as i64).into());
                r.insert("train_nt_xent".into(), round(h.train as f64).into());
                r.insert("val_nt_xent".into(), round(h.val as f64).into());
                toml::Value::Table(r)
            })
            .collect();
        t.insert("history".into(), toml::Value::Array(history));
        let mut models = toml::Table::new();
        models.insert(cfg.name.clone(), toml::Value::Table(t));
        ctx.results().insert("models".into(), toml::Value::Table(models));

        let pts = |f: fn(&starclr::EpochLoss) -> f32| outcome.history.iter().map(|h| ((h.epoch + 1) as f64, f(h) as f64)).collect();
        let curves = [
            plotting::LineSeries::new(format!("{} train", cfg.name), pts(|h| h.train)),
            plotting::LineSeries::new(format!("{} validation", cfg.name), pts(|h| h.val)).dashed(),
        ];
        let hlines = [
            (format!("{} test", cfg.name), test_loss as f64),
            ("no information (all similarities equal)".to_string(), uniform as f64),
        ];
        let fig = plotting::line_chart("StarCLR contrastive pretraining", "epoch", "NT-Xent", &curves, &hlines, false, false)?;
        ctx.figure("starclr-loss", fig.svg, fig.png);
        Ok(())
    }
}

fn round(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}
