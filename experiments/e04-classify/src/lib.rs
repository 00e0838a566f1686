//! e04-classify: classifiers on frozen finetuned encoders across SPC (paper Sects. 5.3–5.4), and
//! the same heads on two controls: A2 pretrained but not finetuned, and A2 never trained (issue 14):
//! Figs. 11 and 12 (macro-F1 vs SPC), Fig. 13 (γ of the `skip` head per layer), Figs. 16 and 17
//! (confusion matrices), one results row per dataset × encoder × head × SPC × fold.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use astromer::Astromer;
use classifier::{train_head, ClassifierSettings, HeadKind, PooledFeatures};
use evaluation::{object_metrics, window_metrics, ClassificationMetrics, ConfusionMatrix, FoldSummary};
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use lightcurve::LightCurveSet;
use serde::{Deserialize, Serialize};

pub struct E04Classify;

/// The heads trained on one frozen encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderHeads {
    /// Row name: the e02/e03 model name (`A2`, `A1`) for finetuned encoders, or a control's name.
    pub encoder: String,
    pub heads: Vec<HeadKind>,
    /// Where the frozen encoder comes from (default: finetuned by e03 on each split).
    #[serde(default)]
    pub weights: EncoderWeights,
}

/// Source of a frozen encoder, as one string so a variant overlay can switch it:
/// `"finetuned"` (e03's encoder finetuned on the split, named by `encoder`),
/// `"pretrained:<model>"` (a pretrained `<model>`, never finetuned: e02's A1/A2 — what finetuning
/// adds — or e10's StarCLR, whose protocol is a frozen backbone; any family `crates/encoders` loads) or
/// `"untrained:<model>"` (`<model>`'s architecture at e02's initialisation, never trained: what
/// pretraining adds; issue 14's control).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum EncoderWeights {
    #[default]
    Finetuned,
    Pretrained(String),
    Untrained(String),
}

impl TryFrom<String> for EncoderWeights {
    type Error = String;
    fn try_from(s: String) -> std::result::Result<Self, String> {
        match s.split_once(':') {
            None if s == "finetuned" => Ok(EncoderWeights::Finetuned),
            Some(("pretrained", m)) if !m.is_empty() => Ok(EncoderWeights::Pretrained(m.into())),
            Some(("untrained", m)) if !m.is_empty() => Ok(EncoderWeights::Untrained(m.into())),
            _ => Err(format!("weights = {s:?}: expected \"finetuned\", \"pretrained:<model>\" or \"untrained:<model>\"")),
        }
    }
}

impl From<EncoderWeights> for String {
    fn from(w: EncoderWeights) -> String {
        match w {
            EncoderWeights::Finetuned => "finetuned".into(),
            EncoderWeights::Pretrained(m) => format!("pretrained:{m}"),
            EncoderWeights::Untrained(m) => format!("untrained:{m}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub encoders: Vec<EncoderHeads>,
    pub classifier: ClassifierSettings,
    /// Windows per encoder pass when extracting features.
    pub embed_batch_size: usize,
}

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        profile.section("e04-classify")
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "fig11",
        kind: TargetKind::Figure,
        description: "Alcock: test macro-F1 vs SPC for the A2 and A1 encoders (mean and min–max over folds)",
    },
    Target {
        name: "fig12",
        kind: TargetKind::Figure,
        description: "ATLAS: test macro-F1 vs SPC for the A2 and A1 encoders (mean and min–max over folds)",
    },
    Target {
        name: "fig13",
        kind: TargetKind::Figure,
        description: "γ of the A2 skip head per layer (raw and softmaxed) vs SPC, mean over folds",
    },
    Target {
        name: "fig16",
        kind: TargetKind::Figure,
        description: "Alcock: confusion matrices of A2 skip at each SPC (normalised by true class, mean over folds)",
    },
    Target {
        name: "fig17",
        kind: TargetKind::Figure,
        description: "ATLAS: confusion matrices of A2 skip at each SPC (normalised by true class, mean over folds)",
    },
    Target {
        name: "retrieval",
        kind: TargetKind::Table,
        description: "precision@1/5/10 of same-class test objects by cosine similarity of their embeddings, every dataset × encoder × SPC × fold, beside chance",
    },
    Target {
        name: "classification",
        kind: TargetKind::Table,
        description: "accuracy and macro P/R/F1 per window and per object, every dataset × encoder × head × SPC × fold",
    },
];

/// The experiments that pretrain encoders (`weights = "pretrained:<model>"` finds `<model>` in
/// the artifacts of one of them: `<artifacts>/<model>/best`), then e03-finetune.
const PRETRAINING_EXPERIMENTS: [&str; 2] = ["e02-pretrain", "e10-starclr"];
const PRETRAINING_EXPERIMENTS_AND_E03: [&str; 3] = [PRETRAINING_EXPERIMENTS[0], PRETRAINING_EXPERIMENTS[1], "e03-finetune"];

/// The folder of the pretrained encoder `model`: `<artifacts of X>/<model>/best` for exactly one
/// pretraining experiment X.
fn pretrained_dir(ctx: &RunContext<'_>, model: &str) -> Result<std::path::PathBuf> {
    let mut found = Vec::new();
    for experiment in PRETRAINING_EXPERIMENTS {
        let dir = ctx.upstream_dir(experiment)?.join(model).join("best");
        if dir.is_dir() {
            found.push(dir);
        }
    }
    match found.len() {
        1 => Ok(found.pop().expect("one")),
        0 => bail!(
            "weights = \"pretrained:{model}\": no pretraining experiment ({}) saved an encoder named `{model}`; \
             name one of their models (e02-pretrain's [[models]], e10-starclr's name) and run them first",
            PRETRAINING_EXPERIMENTS.join(", ")
        ),
        _ => bail!("weights = \"pretrained:{model}\": several pretraining experiments saved an encoder named `{model}` ({found:?}); rename one"),
    }
}

/// The official numbers, transcribed with their sources (results/paper-reference/README.md).
const PAPER_REFERENCE: &str = include_str!("../../../results/paper-reference/astromer2.toml");

#[derive(Debug, Deserialize)]
struct PaperReference {
    published: Vec<Published>,
}

#[derive(Debug, Deserialize)]
struct Published {
    dataset: String,
    spc: usize,
    encoder: String,
    f1_mean: f64,
}

/// `synthetic-alcock-small` → `alcock`.
pub fn display_name(manifest: &str) -> String {
    let s = manifest.strip_prefix("synthetic-").unwrap_or(manifest);
    let s = s.strip_suffix("-smoke").or_else(|| s.strip_suffix("-small")).unwrap_or(s);
    s.to_string()
}

const DECLARATION: Declaration = Declaration {
    name: "e04-classify",
    description: "few-shot classifiers (skip/max/avg heads) on frozen finetuned encoders; Figs. 11–13, 16, 17",
    targets: TARGETS,
    upstream: &PRETRAINING_EXPERIMENTS_AND_E03,
    // e03's finetuned encoders; the pretrained ones of every pretraining experiment.
    upstream_artifacts: &PRETRAINING_EXPERIMENTS_AND_E03,
    reads: Reads::LabelledSets,
    figures_need_sets: &[("fig12", 2), ("fig17", 2)],
    source_dirs: &[
        "experiments/e04-classify",
        // Upstream experiment crates whose code this one compiles (configs, paths).
        "experiments/e03-finetune",
        "experiments/e02-pretrain",
        "experiments/harness",
        "crates/classifier",
        "crates/encoders",
        "crates/starclr",
        "crates/causal",
        "crates/astromer",
        "crates/lightcurve",
        "crates/evaluation",
        "crates/plotting",
        "results/paper-reference",
    ],
};

impl Experiment for E04Classify {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let finetune: e03_finetune::Config = ctx
            .upstream_results
            .get(e03_finetune::NAME)
            .and_then(|t| t.get("config"))
            .cloned()
            .context("results of e03-finetune are missing; run `cargo xtask reproduce fig7` first")?
            .try_into()
            .context("reading the config of e03-finetune from its results")?;
        let e03_dir = ctx.upstream_dir(e03_finetune::NAME)?.clone();
        let e02_dir = ctx.upstream_dir("e02-pretrain")?.clone();
        let e02_seed = ctx
            .upstream_results
            .get("e02-pretrain")
            .and_then(|t| t.get("config")?.get("training")?.get("seed")?.as_integer())
            .context("results of e02-pretrain carry no config.training.seed; run `cargo xtask reproduce fig6` first")?;
        let window_len = finetune.finetune.window_len;
        let started = Instant::now();
        let mut rows: Vec<RunRow> = Vec::new();
        let mut retrieval: Vec<RetrievalRow> = Vec::new();
        let mut classes_by_dataset = BTreeMap::new();
        let (mut feature_seconds, mut head_seconds) = (0.0, 0.0);
        for manifest in ctx.profile.data().labelled.clone() {
            let dataset = display_name(&manifest);
            let set = ctx.open(&manifest)?;
            let classes = set.classes().context("the labelled set has no classes")?.to_vec();
            let splits = evaluation::few_shot_splits_for_set(&set, &finetune.few_shot)?;
            // Encoder passes first (each uses both cores), then every head of this set side by
            // side, one per core (results as a serial run's, in the same order).
            let bar = progress_bar(cfg.encoders.len() * splits.len(), &dataset, "encoder passes");
            let mut features = Vec::with_capacity(cfg.encoders.len());
            for enc in &cfg.encoders {
                if enc.weights == EncoderWeights::Finetuned && !finetune.encoders.contains(&enc.encoder) {
                    bail!("encoder `{}` was not finetuned by e03-finetune (it finetuned {:?})", enc.encoder, finetune.encoders);
                }
                // The controls' weights do not depend on the split: one pass over the curves of
                // all splits together serves every split (selected per curve, as a pass over the
                // split's curves gives); curves no split uses are never embedded.
                let mut split_curves: Vec<usize> = splits.iter().flat_map(|s| s.train.iter().chain(&s.val).chain(&s.test).copied()).collect();
                split_curves.sort_unstable();
                split_curves.dedup();
                let mut all_splits = None;
                let mut per_split = Vec::with_capacity(splits.len());
                for split in &splits {
                    let weights = match &enc.weights {
                        EncoderWeights::Finetuned => e03_finetune::finetuned_dir(&e03_dir, &manifest, &enc.encoder, split.fold, split.spc).join("best"),
                        EncoderWeights::Pretrained(model) => pretrained_dir(ctx, model)?,
                        EncoderWeights::Untrained(model) => untrained(&e02_dir, model, e02_seed as u64, &ctx.artifacts_dir)?,
                    };
                    bar.set_message(format!("{} fold {} SPC {}", enc.encoder, split.fold, split.spc));
                    let t0 = Instant::now();
                    let cache = ctx.artifacts_dir.join(&manifest).join(&enc.encoder).join(format!("fold{}-spc{}", split.fold, split.spc));
                    let shared = (enc.weights != EncoderWeights::Finetuned).then_some(SharedPass { curves: &split_curves, features: &mut all_splits });
                    per_split.push(features_of(&set, split, &weights, &cache, shared, window_len, cfg.embed_batch_size)?);
                    feature_seconds += t0.elapsed().as_secs_f64();
                    bar.inc(1);
                }
                features.push(per_split);
            }
            bar.finish_and_clear();
            // Retrieval on the test curves of every split, for every encoder (issue 17): the
            // nearest test objects by cosine similarity of their embeddings, same class or not.
            for (e, enc) in cfg.encoders.iter().enumerate() {
                for (s, split) in splits.iter().enumerate() {
                    retrieval.push(retrieval_row(&features[e][s].test, &dataset, &enc.encoder, split.fold, split.spc)?);
                }
            }
            let mut jobs = Vec::new();
            for (e, enc) in cfg.encoders.iter().enumerate() {
                for (s, split) in splits.iter().enumerate() {
                    jobs.extend(enc.heads.iter().map(|&kind| (e, s, split, kind)));
                }
            }
            let bar = progress_bar(jobs.len(), &dataset, "heads");
            let t1 = Instant::now();
            let (features, encoders, classifier, dataset_ref) = (&features, &cfg.encoders, &cfg.classifier, &dataset);
            let done = harness::on_every_core(jobs, astromer::DEFAULT_DEVICE_IS_CPU, |(e, s, split, kind)| {
                let enc = &encoders[e].encoder;
                let row = classify(&features[e][s], kind, classes.len(), classifier, dataset_ref, enc, split.fold, split.spc)?;
                bar.suspend(|| {
                    println!(
                        "  {dataset_ref} {enc} {kind:<4} SPC {:>4} fold {}: F1 {:.3} per window, {:.3} per object ({} epochs, evaluated epoch {})",
                        split.spc, split.fold, row.window.f1_macro, row.object.f1_macro, row.epochs, row.evaluated_epoch
                    )
                });
                bar.inc(1);
                Ok::<_, anyhow::Error>(row)
            })?;
            head_seconds += t1.elapsed().as_secs_f64();
            rows.extend(done);
            bar.finish_and_clear();
            classes_by_dataset.insert(dataset, classes);
        }
        println!(
            "  e04 timing: {:.1} s features, {:.1} s heads, {:.1} s in all",
            feature_seconds,
            head_seconds,
            started.elapsed().as_secs_f64()
        );
        write_results(ctx, &rows, &classes_by_dataset, feature_seconds, head_seconds)?;
        write_retrieval(ctx, &retrieval)?;
        draw_figures(ctx, &rows, &classes_by_dataset)?;
        Ok(())
    }
}

/// The untrained control of e02's `model`: its architecture built with e02's seed (the very
/// initialisation its pretraining started from), saved once under this experiment's artifacts.
fn untrained(e02_dir: &Path, model: &str, seed: u64, artifacts: &Path) -> Result<std::path::PathBuf> {
    let dir = artifacts.join("untrained").join(model);
    if !dir.join("model.safetensors").exists() {
        let dev = astromer::try_default_device(0).map_err(anyhow::Error::msg)?;
        let pretrained = e02_dir.join(model).join("best");
        let config = Astromer::load(&pretrained, dev.device())
            .with_context(|| format!("reading the architecture of {model} from {}", pretrained.display()))?
            .config()
            .clone();
        Astromer::new(config, dev.device(), seed)?.save(&dir)?;
    }
    Ok(dir)
}

fn progress_bar(len: usize, prefix: &str, unit: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("  {{prefix}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}"))
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(prefix.to_string());
    bar
}

/// Pooled features of the train, validation and test curves of one split.
struct SplitFeatures {
    train: PooledFeatures,
    val: PooledFeatures,
    test: PooledFeatures,
}

/// One encoder pass shared by every split: the features of `curves` (sorted indices into the set),
/// computed by the first split that needs them.
struct SharedPass<'a> {
    curves: &'a [usize],
    features: &'a mut Option<PooledFeatures>,
}

/// Features from the cache folder, or computed with the encoder in `weights` and cached. With
/// `shared` (encoders whose weights are the same for every split) the features of the shared
/// curves are computed once, kept there, and each part selects its curves from them.
fn features_of(
    set: &LightCurveSet,
    split: &evaluation::FoldSplit,
    weights: &Path,
    cache: &Path,
    mut shared: Option<SharedPass<'_>>,
    window_len: usize,
    batch_size: usize,
) -> Result<SplitFeatures> {
    let paths = ["train", "val", "test"].map(|p| cache.join(format!("{p}.features")));
    if paths.iter().all(|p| p.exists()) {
        let [train, val, test] = paths.map(|p| PooledFeatures::load(&p));
        return Ok(SplitFeatures {
            train: train?,
            val: val?,
            test: test?,
        });
    }
    let dev = astromer::try_default_device(0).map_err(anyhow::Error::msg)?;
    // Any encoder family the registry knows (Astromer, StarCLR), by the folder's config file.
    let model = encoders::load_frozen(weights, dev.device())
        .with_context(|| format!("loading the encoder in {} (run `cargo xtask reproduce fig7 starclr-pretrain` for this profile first)", weights.display()))?;
    let extract = |subset: &LightCurveSet| -> Result<PooledFeatures> {
        let windows = lightcurve::set_sequential_windows(subset, window_len);
        let label = |i: usize| {
            subset
                .label(i)
                .ok_or_else(|| classifier::ClassifierError::Mismatch(format!("curve {i} of the subset has no class")))
        };
        Ok(PooledFeatures::extract(model.as_ref(), &windows, label, batch_size, &mut |_, _| {})?)
    };
    let mut out = Vec::new();
    for (idx, path) in [&split.train, &split.val, &split.test].into_iter().zip(&paths) {
        let f = match shared.as_mut() {
            Some(pass) => {
                if pass.features.is_none() {
                    *pass.features = Some(extract(&set.subset(pass.curves)?)?);
                }
                // Positions in the shared pass, which numbers its curves 0.. in `curves` order.
                let positions = idx
                    .iter()
                    .map(|curve| pass.curves.binary_search(curve).map_err(|_| anyhow::anyhow!("curve {curve} of the split is not among the shared curves")))
                    .collect::<Result<Vec<usize>>>()?;
                pass.features.as_ref().expect("computed above").select_curves(&positions)?
            }
            None => extract(&set.subset(idx)?)?,
        };
        f.save(path)?;
        out.push(f);
    }
    let test = out.pop().expect("three parts");
    let val = out.pop().expect("three parts");
    let train = out.pop().expect("three parts");
    Ok(SplitFeatures { train, val, test })
}

/// The neighbours counted by the retrieval table.
const RETRIEVAL_K: [usize; 3] = [1, 5, 10];

/// Retrieval of same-class test objects by one encoder on one split: precision@k of the
/// cosine-nearest objects (embedding: the mean over an object's windows of the last layer's mean
/// over valid steps, StarCLR's representation), beside what random neighbours score.
#[derive(Debug, Clone)]
struct RetrievalRow {
    dataset: String,
    encoder: String,
    spc: usize,
    fold: usize,
    objects: usize,
    /// (k, precision@k) for the k of [`RETRIEVAL_K`] below the number of objects.
    precision: Vec<(usize, f64)>,
    chance: f64,
}

fn retrieval_row(test: &PooledFeatures, dataset: &str, encoder: &str, fold: usize, spc: usize) -> Result<RetrievalRow> {
    let (embeddings, labels) = test.object_embeddings();
    let ks: Vec<usize> = RETRIEVAL_K.into_iter().filter(|&k| k < labels.len()).collect();
    let precision = evaluation::precision_at_k(&embeddings, test.d_model, &labels, &ks)
        .with_context(|| format!("retrieval on the {dataset} test curves with {encoder} (fold {fold}, SPC {spc})"))?;
    Ok(RetrievalRow {
        dataset: dataset.to_string(),
        encoder: encoder.to_string(),
        spc,
        fold,
        objects: labels.len(),
        precision: ks.into_iter().zip(precision).collect(),
        chance: evaluation::chance_precision(&labels)?,
    })
}

/// `retrieval` (one row per dataset × encoder × SPC × fold) and `retrieval_summary` (mean, min,
/// max over folds), printed as a table too.
fn write_retrieval(ctx: &mut RunContext<'_>, rows: &[RetrievalRow]) -> Result<()> {
    let table_of = |r: &RetrievalRow| {
        let mut t = toml::Table::new();
        t.insert("dataset".into(), r.dataset.clone().into());
        t.insert("encoder".into(), r.encoder.clone().into());
        t.insert("spc".into(), (r.spc as i64).into());
        t
    };
    let mut out = Vec::new();
    for r in rows {
        let mut t = table_of(r);
        t.insert("fold".into(), (r.fold as i64).into());
        t.insert("objects".into(), (r.objects as i64).into());
        for &(k, p) in &r.precision {
            t.insert(format!("precision_at_{k}"), round(p).into());
        }
        t.insert("chance".into(), round(r.chance).into());
        out.push(toml::Value::Table(t));
    }
    let mut groups: BTreeMap<(String, String, usize), Vec<&RetrievalRow>> = BTreeMap::new();
    for r in rows {
        groups.entry((r.dataset.clone(), r.encoder.clone(), r.spc)).or_default().push(r);
    }
    let mut summary = Vec::new();
    println!("  retrieval (test objects, cosine): dataset encoder SPC: precision@k mean over folds [min–max]; chance");
    for rs in groups.values() {
        let mut t = table_of(rs[0]);
        t.insert("folds".into(), (rs.len() as i64).into());
        let mut line = format!("    {} {} SPC {}:", rs[0].dataset, rs[0].encoder, rs[0].spc);
        for (i, &(k, _)) in rs[0].precision.iter().enumerate() {
            let values: Vec<f64> = rs.iter().filter_map(|r| r.precision.get(i).map(|p| p.1)).collect();
            let s = FoldSummary::from_values(&values)?;
            line.push_str(&format!(" @{k} {:.3} [{:.3}–{:.3}]", s.mean, s.min, s.max));
            t.insert(format!("precision_at_{k}"), summary_table(&s));
        }
        let chance = rs.iter().map(|r| r.chance).sum::<f64>() / rs.len() as f64;
        t.insert("chance".into(), round(chance).into());
        println!("{line}; chance {chance:.3}");
        summary.push(toml::Value::Table(t));
    }
    let results = ctx.results();
    results.insert("retrieval".into(), toml::Value::Array(out));
    results.insert("retrieval_summary".into(), toml::Value::Array(summary));
    Ok(())
}

/// One results row.
#[derive(Debug, Clone, Serialize)]
struct RunRow {
    dataset: String,
    encoder: String,
    head: HeadKind,
    spc: usize,
    fold: usize,
    window: ClassificationMetrics,
    object: ClassificationMetrics,
    train_windows: usize,
    val_windows: usize,
    epochs: usize,
    best_epoch: usize,
    evaluated_epoch: usize,
    /// Raw and softmaxed γ (skip head only), γ0 = input embedding.
    gamma_raw: Vec<f32>,
    gamma_softmax: Vec<f32>,
    /// Confusion counts per window (rows true, columns predicted).
    confusion: Vec<Vec<u64>>,
}

#[allow(clippy::too_many_arguments)]
fn classify(
    parts: &SplitFeatures,
    kind: HeadKind,
    n_classes: usize,
    settings: &ClassifierSettings,
    dataset: &str,
    encoder: &str,
    fold: usize,
    spc: usize,
) -> Result<RunRow> {
    let dev = astromer::try_default_device(settings.seed).map_err(anyhow::Error::msg)?;
    let scaled;
    let parts = if settings.standardize {
        let z = classifier::FeatureScaler::fit(&parts.train);
        let (mut train, mut val, mut test) = (parts.train.clone(), parts.val.clone(), parts.test.clone());
        for f in [&mut train, &mut val, &mut test] {
            z.apply(f);
        }
        scaled = SplitFeatures { train, val, test };
        &scaled
    } else {
        parts
    };
    let trained = train_head(dev.device(), kind, &parts.train, &parts.val, n_classes, settings, &mut |_| {})
        .with_context(|| format!("{dataset} {encoder} {kind} fold {fold} SPC {spc}"))?;
    let test = &parts.test;
    anyhow::ensure!(
        (test.n_reps, test.d_model) == (parts.train.n_reps, parts.train.d_model) && !test.is_empty(),
        "{dataset} {encoder} fold {fold} SPC {spc}: test features are {} windows of {}×{}, training features {}×{}; \
         delete artifacts/<profile>/e04-classify to recompute them",
        test.len(),
        test.n_reps,
        test.d_model,
        parts.train.n_reps,
        parts.train.d_model
    );
    let rows: Vec<usize> = (0..test.len()).collect();
    let logits = trained.head.logits(&test.head_input(kind, &rows), test.input_width(kind), 512);
    let window = window_metrics(&logits, n_classes, &test.labels)?;
    let object = object_metrics(&logits, n_classes, &test.labels, &test.object_index)?;
    let pred = evaluation::argmax_rows(&logits, n_classes)?;
    let cm = ConfusionMatrix::from_labels(&test.labels, &pred, n_classes)?;
    let (gamma_raw, gamma_softmax) = match &trained.head.gamma {
        Some(g) => (g.raw(), g.softmaxed()),
        None => (Vec::new(), Vec::new()),
    };
    Ok(RunRow {
        dataset: dataset.to_string(),
        encoder: encoder.to_string(),
        head: kind,
        spc,
        fold,
        window,
        object,
        train_windows: parts.train.len(),
        val_windows: parts.val.len(),
        epochs: trained.history.len(),
        best_epoch: trained.best_epoch,
        evaluated_epoch: trained.evaluated_epoch,
        gamma_raw,
        gamma_softmax,
        confusion: cm.to_rows(),
    })
}

fn round(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

fn metrics_table(m: &ClassificationMetrics) -> toml::Value {
    let mut t = toml::Table::new();
    t.insert("accuracy".into(), round(m.accuracy).into());
    t.insert("precision".into(), round(m.precision_macro).into());
    t.insert("recall".into(), round(m.recall_macro).into());
    t.insert("f1".into(), round(m.f1_macro).into());
    t.insert("n".into(), (m.n as i64).into());
    toml::Value::Table(t)
}

fn summary_table(s: &FoldSummary) -> toml::Value {
    let mut t = toml::Table::new();
    t.insert("mean".into(), round(s.mean).into());
    // One fold has no sample std; TOML has nan, but a reader would trip on it: leave it out.
    if s.std_sample.is_finite() {
        t.insert("std".into(), round(s.std_sample).into());
    }
    t.insert("min".into(), round(s.min).into());
    t.insert("max".into(), round(s.max).into());
    toml::Value::Table(t)
}

type GroupKey = (String, String, HeadKind, usize);

fn groups(rows: &[RunRow]) -> BTreeMap<GroupKey, Vec<&RunRow>> {
    let mut g: BTreeMap<GroupKey, Vec<&RunRow>> = BTreeMap::new();
    for r in rows {
        g.entry((r.dataset.clone(), r.encoder.clone(), r.head, r.spc)).or_default().push(r);
    }
    g
}

fn write_results(
    ctx: &mut RunContext<'_>,
    rows: &[RunRow],
    classes: &BTreeMap<String, Vec<String>>,
    feature_seconds: f64,
    head_seconds: f64,
) -> Result<()> {
    let runs: Vec<toml::Value> = rows
        .iter()
        .map(|r| {
            let mut t = toml::Table::new();
            t.insert("dataset".into(), r.dataset.clone().into());
            t.insert("encoder".into(), r.encoder.clone().into());
            t.insert("head".into(), r.head.as_str().into());
            t.insert("spc".into(), (r.spc as i64).into());
            t.insert("fold".into(), (r.fold as i64).into());
            t.insert("per_window".into(), metrics_table(&r.window));
            t.insert("per_object".into(), metrics_table(&r.object));
            t.insert("train_windows".into(), (r.train_windows as i64).into());
            t.insert("val_windows".into(), (r.val_windows as i64).into());
            t.insert("epochs".into(), (r.epochs as i64).into());
            t.insert("best_epoch".into(), (r.best_epoch as i64).into());
            t.insert("evaluated_epoch".into(), (r.evaluated_epoch as i64).into());
            if !r.gamma_raw.is_empty() {
                let v = |g: &[f32]| toml::Value::Array(g.iter().map(|&x| round(x as f64).into()).collect());
                t.insert("gamma_raw".into(), v(&r.gamma_raw));
                t.insert("gamma_softmax".into(), v(&r.gamma_softmax));
            }
            let cm = r
                .confusion
                .iter()
                .map(|row| toml::Value::Array(row.iter().map(|&c| (c as i64).into()).collect()))
                .collect();
            t.insert("confusion_per_window".into(), toml::Value::Array(cm));
            toml::Value::Table(t)
        })
        .collect();
    let mut summary = Vec::new();
    for ((dataset, encoder, head, spc), rs) in groups(rows) {
        let mut t = toml::Table::new();
        t.insert("dataset".into(), dataset.into());
        t.insert("encoder".into(), encoder.into());
        t.insert("head".into(), head.as_str().into());
        t.insert("spc".into(), (spc as i64).into());
        t.insert("folds".into(), (rs.len() as i64).into());
        for (name, pick) in [
            ("f1_per_window", (|r: &RunRow| r.window.f1_macro) as fn(&RunRow) -> f64),
            ("f1_per_object", |r: &RunRow| r.object.f1_macro),
            ("accuracy_per_window", |r: &RunRow| r.window.accuracy),
            ("accuracy_per_object", |r: &RunRow| r.object.accuracy),
        ] {
            let vals: Vec<f64> = rs.iter().map(|r| pick(r)).collect();
            t.insert(name.into(), summary_table(&FoldSummary::from_values(&vals)?));
        }
        summary.push(toml::Value::Table(t));
    }
    let mut class_table = toml::Table::new();
    for (d, c) in classes {
        class_table.insert(d.clone(), toml::Value::Array(c.iter().map(|s| s.clone().into()).collect()));
    }
    let mut timing = toml::Table::new();
    timing.insert("feature_extraction_seconds".into(), round(feature_seconds).into());
    timing.insert("head_training_seconds".into(), round(head_seconds).into());
    let results = ctx.results();
    results.insert(
        "note".into(),
        "per_window = the official metric (every test window scored); per_object = window logits averaged per curve. \
         Metrics are macro averages over all classes (sklearn zero_division=0); `n` counts windows per_window and \
         curves per_object. The evaluated weights are named by config.classifier.evaluated (best = lowest validation \
         loss; the official runs evaluated the last epoch). `epochs` is a count; best_epoch and evaluated_epoch are \
         0-based. train_windows/val_windows count a curve drawn twice (with replacement) twice."
            .into(),
    );
    results.insert("classes".into(), toml::Value::Table(class_table));
    results.insert("timing".into(), toml::Value::Table(timing));
    results.insert("summary".into(), toml::Value::Array(summary));
    results.insert("runs".into(), toml::Value::Array(runs));
    Ok(())
}

fn draw_figures(ctx: &mut RunContext<'_>, rows: &[RunRow], classes: &BTreeMap<String, Vec<String>>) -> Result<()> {
    let grouped = groups(rows);
    let reference: PaperReference = toml::from_str(PAPER_REFERENCE).context("parsing results/paper-reference/astromer2.toml")?;
    // The profile's first labelled set is drawn as the paper's Alcock figures (11, 16), the
    // second as its ATLAS ones (12, 17), whatever the surveys are.
    let labelled: Vec<String> = ctx.profile.data().labelled.iter().map(|m| display_name(m)).collect();
    for (dataset, (target, fig_no)) in labelled.iter().zip([("fig11", 11), ("fig12", 12)]) {
        let (dataset, title) = (dataset.as_str(), format!("{dataset} (Fig. {fig_no})"));
        let mut series = Vec::new();
        // The paper's lines and the controls first (fixed colours), then every head of the other
        // encoder families registered in the profile (StarCLR, ...), in results order.
        let fixed = [
            ("A2", HeadKind::Skip),
            ("A1", HeadKind::Skip),
            ("A2", HeadKind::Max),
            ("A2-pretrained", HeadKind::Skip),
            ("A2-untrained", HeadKind::Skip),
        ];
        let mut lines: Vec<(&str, HeadKind)> = fixed.to_vec();
        for r in rows {
            if !fixed.iter().any(|(e, _)| *e == r.encoder) && !lines.contains(&(r.encoder.as_str(), r.head)) {
                lines.push((r.encoder.as_str(), r.head));
            }
        }
        for (slot, (encoder, head)) in lines.into_iter().enumerate() {
            let pts: Vec<(usize, FoldSummary)> = grouped
                .iter()
                .filter(|((d, e, h, _), _)| d == dataset && e == encoder && *h == head)
                .map(|((.., spc), rs)| {
                    let f1: Vec<f64> = rs.iter().map(|r| r.window.f1_macro).collect();
                    Ok((*spc, FoldSummary::from_values(&f1)?))
                })
                .collect::<Result<_>>()?;
            if pts.is_empty() {
                continue;
            }
            // Ours solid with a min–max band; the paper's dashed.
            let line = plotting::LineSeries::new(
                format!("{encoder} {head} (ours)"),
                pts.iter().map(|(s, f)| (*s as f64, f.mean)).collect(),
            )
            .with_band(pts.iter().map(|(s, f)| (*s as f64, f.min, f.max)).collect())
            .colored(slot);
            series.push(line);
        }
        // The paper's published bars on every profile, labelled as real data, so a reader sees
        // where the synthetic benchmark stands (issue 14).
        // Same colours as our A2 skip (slot 0) and A1 skip (slot 1).
        for (slot, encoder) in ["A2", "A1"].into_iter().enumerate() {
            let pts: Vec<(f64, f64)> = reference
                .published
                .iter()
                .filter(|p| p.dataset == dataset && p.encoder == encoder)
                .map(|p| (p.spc as f64, p.f1_mean))
                .collect();
            series.push(plotting::LineSeries::new(format!("{encoder} skip (paper, real data)"), pts).dashed().colored(slot));
        }
        let fig = plotting::line_chart(
            &format!("{title}: test macro-F1 per window, mean and min–max over folds"),
            "samples per class (SPC)",
            "macro F1",
            &series,
            &[],
            true,
            false,
        )?;
        ctx.figure(target, fig.svg, fig.png);
    }

    // Fig. 13: raw γ per layer of the A2 skip head (what the paper plots), mean over folds; the
    // softmaxed weights are in the results rows.
    let mut gamma_series = Vec::new();
    for ((dataset, encoder, head, spc), rs) in &grouped {
        if encoder != "A2" || *head != HeadKind::Skip || rs[0].gamma_raw.is_empty() {
            continue;
        }
        let n = rs[0].gamma_raw.len();
        let mean: Vec<(f64, f64)> = (0..n)
            .map(|i| (i as f64, rs.iter().map(|r| r.gamma_raw[i] as f64).sum::<f64>() / rs.len() as f64))
            .collect();
        let s = plotting::LineSeries::new(format!("{dataset} SPC {spc}"), mean);
        gamma_series.push(if labelled.first() != Some(dataset) { s.dashed() } else { s });
    }
    let fig = plotting::line_chart(
        "A2 skip head: raw γ per layer (Fig. 13), mean over folds; initialised to 1/(blocks+1)",
        "layer (0 = input embedding, k = block k)",
        "raw γ (before softmax)",
        &gamma_series,
        &[],
        false,
        false,
    )?;
    ctx.figure("fig13", fig.svg, fig.png);

    // Figs. 16, 17: one block of rows per SPC, each row a true class normalised to 1.
    for (dataset, target) in labelled.iter().map(String::as_str).zip(["fig16", "fig17"]) {
        let Some(names) = classes.get(dataset) else { continue };
        let (mut labels, mut values, mut notes) = (Vec::new(), Vec::new(), Vec::new());
        for ((d, encoder, head, spc), rs) in &grouped {
            if d != dataset || encoder != "A2" || *head != HeadKind::Skip {
                continue;
            }
            let k = names.len();
            let mut mean = vec![vec![0.0; k]; k];
            for r in rs {
                let cm = confusion_from_rows(&r.confusion);
                for (t, row) in cm.normalized_by_true().iter().enumerate() {
                    for (p, v) in row.iter().enumerate() {
                        mean[t][p] += v / rs.len() as f64;
                    }
                }
            }
            for (t, row) in mean.into_iter().enumerate() {
                labels.push(format!("SPC {spc} · {}", names[t]));
                notes.push(row.iter().map(|v| format!("{v:.2}")).collect());
                values.push(row);
            }
        }
        let fig = plotting::heatmap(
            &format!("{} A2 skip: confusion per window, rows normalised, mean over folds", dataset),
            &labels,
            names,
            &values,
            Some(&notes),
            "predicted class",
            "true class (grouped by SPC)",
        )?;
        ctx.figure(target, fig.svg, fig.png);
    }
    Ok(())
}

fn confusion_from_rows(rows: &[Vec<u64>]) -> ConfusionMatrix {
    let mut cm = ConfusionMatrix::new(rows.len());
    for (t, row) in rows.iter().enumerate() {
        for (p, &c) in row.iter().enumerate() {
            for _ in 0..c {
                cm.add(t, p);
            }
        }
    }
    cm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paper_reference_parses_with_all_published_bars() {
        let r: PaperReference = toml::from_str(PAPER_REFERENCE).unwrap();
        assert_eq!(r.published.len(), 18);
        let a2 = r.published.iter().find(|p| p.dataset == "atlas" && p.spc == 100 && p.encoder == "A2").unwrap();
        assert_eq!(a2.f1_mean, 0.775);
    }

    #[test]
    fn encoder_weights_are_one_string_and_the_controls_are_configured() {
        for (text, w) in [
            ("finetuned", EncoderWeights::Finetuned),
            ("pretrained:A2", EncoderWeights::Pretrained("A2".into())),
            ("untrained:A2", EncoderWeights::Untrained("A2".into())),
        ] {
            assert_eq!(EncoderWeights::try_from(text.to_string()).unwrap(), w);
            assert_eq!(String::from(w), text);
        }
        for bad in ["untrained:", "random:A2", "pretrained"] {
            assert!(EncoderWeights::try_from(bad.to_string()).is_err(), "{bad}");
        }
        for name in ["smoke", "small", "paper"] {
            let p = &Profile::shipped(name).unwrap();
            let cfg = Config::for_profile(p).unwrap();
            let names: Vec<&str> = cfg.encoders.iter().map(|e| e.encoder.as_str()).collect();
            assert_eq!(names, ["A2", "A1", "A2-pretrained", "A2-untrained", "StarCLR"], "{p}");
            let starclr = cfg.encoders.iter().find(|e| e.encoder == "StarCLR").unwrap();
            assert_eq!(starclr.weights, EncoderWeights::Pretrained("StarCLR".into()), "{p}: StarCLR is e10-starclr's, frozen");
            // The config round-trips through TOML (the harness stores it in the results).
            let v = toml::Value::try_from(&cfg).unwrap();
            assert_eq!(v.try_into::<Config>().unwrap(), cfg);
        }
    }

    #[test]
    fn display_names_drop_the_synthetic_decoration() {
        assert_eq!(display_name("synthetic-alcock-small"), "alcock");
        assert_eq!(display_name("atlas"), "atlas");
    }

    #[test]
    fn confusion_rows_round_trip() {
        let rows = vec![vec![2, 1], vec![0, 3]];
        assert_eq!(confusion_from_rows(&rows).to_rows(), rows);
    }
}
