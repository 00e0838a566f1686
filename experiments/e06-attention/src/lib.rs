//! e06-attention: where the first attention block looks (paper Figs. 8 and 9). For one test light
//! curve per class, the attention each observation of its first window receives in block 1, per
//! head (Fig. 8) and averaged over heads (Fig. 9), drawn on the curve folded by its period.
//!
//! The period is the simulator's true period when the data set has one (`truth.parquet` of the
//! synthetic surveys) and a Lomb–Scargle estimate otherwise (real data); both are recorded.
//!
//! The probed encoder is the A2 finetuned on fold 0 at the largest SPC (as the official
//! embedding notebook used `alcock/fold_0/alcock_500`), read on the test curves of fold 0.
//! [`ProbeSetup`] and [`examples_per_class`] are shared with e07-embeddings and
//! e08-reconstruction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use astromer::{Astromer, DefaultDevice};
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use lightcurve::{LightCurveSet, PaddedWindow};
use serde::{Deserialize, Serialize};

/// The experiment's name (its results file).
pub const NAME: &str = "e06-attention";

pub struct E06Attention;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The finetuned encoder probed (an encoder name of e03-finetune).
    pub encoder: String,
    /// Block whose attention is drawn, 0-based (the paper: the first).
    pub block: usize,
    /// Lomb–Scargle oversampling of the frequency grid, and its highest frequency (cycles/day).
    pub ls_oversampling: f64,
    pub ls_max_frequency: f64,
}

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        profile.section(NAME)
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "fig8",
        kind: TargetKind::Figure,
        description: "Alcock: attention received per observation in block 1, per head, one test curve per class, folded",
    },
    Target {
        name: "fig9",
        kind: TargetKind::Figure,
        description: "Alcock and ATLAS: attention received in block 1 averaged over heads, one test curve per class, folded",
    },
];

/// The finetuned encoder probed by e06–e08 and the data it is read on.
pub struct ProbeSetup {
    pub dataset: String,
    pub manifest: String,
    pub set: LightCurveSet,
    pub classes: Vec<String>,
    /// Indices into `set` of the fold-0 test curves.
    pub test: Vec<usize>,
    pub fold: usize,
    pub spc: usize,
    pub window_len: usize,
    pub weights: PathBuf,
    pub model: Astromer<DefaultDevice>,
    /// e03-finetune's configuration (folds, masking fractions, window length).
    pub finetune: e03_finetune::Config,
}

impl ProbeSetup {
    /// Loads the encoder finetuned on fold 0 at the largest SPC of `manifest` and the fold's test set.
    pub fn load(ctx: &RunContext<'_>, manifest: &str, encoder: &str) -> Result<Self> {
        let finetune: e03_finetune::Config = ctx
            .upstream_results
            .get(e03_finetune::NAME)
            .and_then(|t| t.get("config"))
            .cloned()
            .context("results of e03-finetune are missing; run `cargo xtask reproduce fig7` for this profile first")?
            .try_into()
            .context("reading the config of e03-finetune from its results")?;
        anyhow::ensure!(
            finetune.encoders.iter().any(|e| e == encoder),
            "encoder `{encoder}` was not finetuned by e03-finetune (it finetuned {:?})",
            finetune.encoders
        );
        let set = ctx.open(manifest)?;
        let classes = set.classes().context("the labelled set has no classes")?.to_vec();
        let splits = evaluation::few_shot_splits_for_set(&set, &finetune.few_shot)?;
        let spc = *finetune.few_shot.spc.iter().max().context("e03-finetune has no SPC values")?;
        let split = splits
            .iter()
            .find(|s| s.fold == 0 && s.spc == spc)
            .context("fold 0 at the largest SPC is missing from the few-shot splits")?;
        let e03_dir = ctx.upstream_dir(e03_finetune::NAME)?;
        let weights = e03_finetune::finetuned_dir(e03_dir, manifest, encoder, 0, spc).join("best");
        let dev = astromer::try_default_device(0).map_err(anyhow::Error::msg)?;
        let model = Astromer::load(&weights, dev.device()).with_context(|| {
            format!(
                "loading the finetuned encoder from {}; run `cargo xtask reproduce fig7 --profile {}` first",
                weights.display(),
                ctx.profile
            )
        })?;
        Ok(Self {
            dataset: e03_finetune::display_name(manifest).to_string(),
            manifest: manifest.to_string(),
            classes,
            test: split.test.clone(),
            fold: 0,
            spc,
            window_len: finetune.finetune.window_len,
            weights,
            model,
            set,
            finetune,
        })
    }
}

/// One test curve per class: the one whose first window holds the most observations (ties: the
/// lowest index), with that window. Classes without a test curve are skipped.
pub struct Example {
    pub class: usize,
    pub class_name: String,
    /// Index of the curve in the set.
    pub curve: usize,
    pub object_id: String,
    /// The curve's first window (object_index = `curve`).
    pub window: PaddedWindow,
}

pub fn examples_per_class(setup: &ProbeSetup) -> Vec<Example> {
    let mut best: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for &i in &setup.test {
        let Some(label) = setup.set.label(i) else { continue };
        let n = setup.set.curve(i).len().min(setup.window_len);
        let e = best.entry(label).or_insert((i, n));
        if n > e.1 || (n == e.1 && i < e.0) {
            *e = (i, n);
        }
    }
    best.into_iter()
        .map(|(class, (i, _))| {
            let curve = setup.set.curve(i);
            Example {
                class,
                class_name: setup.classes[class].clone(),
                curve: i,
                object_id: curve.object_id.to_string(),
                window: lightcurve::make_window(&curve, i, 0, setup.window_len),
            }
        })
        .collect()
}

/// True periods by object id from the simulator's `truth.parquet`, when the data set has one.
pub fn true_periods(dir: &Path) -> Result<Option<BTreeMap<String, f64>>> {
    use polars::prelude::*;
    let path = dir.join("truth.parquet");
    if !path.exists() {
        return Ok(None);
    }
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let df = ParquetReader::new(file).finish().with_context(|| format!("reading {}", path.display()))?;
    let ids = df.column("object_id").and_then(|c| c.str().cloned()).with_context(|| format!("{}: column object_id", path.display()))?;
    let periods = df
        .column("period_days")
        .and_then(|c| c.f64().cloned())
        .with_context(|| format!("{}: column period_days", path.display()))?;
    Ok(Some(
        ids.into_iter()
            .zip(periods.into_iter())
            .filter_map(|(id, p)| Some((id?.to_string(), p?)))
            .filter(|(_, p)| p.is_finite() && *p > 0.0)
            .collect(),
    ))
}

/// The folding period of a curve: the true one when known, else Lomb–Scargle on the whole curve.
pub struct FoldingPeriod {
    pub days: f64,
    pub source: &'static str,
    pub true_days: Option<f64>,
    pub lomb_scargle_days: Option<f64>,
}

pub fn folding_period(
    set: &LightCurveSet,
    curve: usize,
    truth: Option<&BTreeMap<String, f64>>,
    oversampling: f64,
    max_frequency: f64,
) -> Result<FoldingPeriod> {
    let c = set.curve(curve);
    let true_days = truth.and_then(|t| t.get(c.object_id).copied());
    let grid = periodogram::FrequencyGrid::auto(c.time, oversampling, Some(max_frequency));
    // Real data may carry zero or negative errors: retry unweighted before giving up.
    let ls = grid
        .and_then(|g| {
            periodogram::lomb_scargle(c.time, c.mag, Some(c.err), &g)
                .or_else(|_| periodogram::lomb_scargle(c.time, c.mag, None, &g))
        })
        .map(|p| p.best_period());
    let lomb_scargle_days = match ls {
        Ok(p) => Some(p),
        Err(e) => {
            log::warn!("{}: no Lomb–Scargle period ({e})", c.object_id);
            None
        }
    };
    let (days, source) = match (true_days, lomb_scargle_days) {
        (Some(t), _) => (t, "simulator"),
        (None, Some(p)) => (p, "Lomb–Scargle"),
        // Nothing to fold by: one "period" = the curve's time span, i.e. phase = normalised time.
        (None, None) => {
            let span = c.time.last().copied().unwrap_or(0.0) - c.time.first().copied().unwrap_or(0.0);
            log::warn!("{}: no period; drawn against normalised time instead of phase", c.object_id);
            (if span > 0.0 { span } else { 1.0 }, "none: time span")
        }
    };
    Ok(FoldingPeriod {
        days,
        source,
        true_days,
        lomb_scargle_days,
    })
}

/// Phase of each valid observation of `window` (times restored to the survey's clock).
pub fn window_phases(window: &PaddedWindow, period: f64) -> Vec<f64> {
    let t: Vec<f64> = window.time[..window.n_valid].iter().map(|&t| t as f64 + window.means.time).collect();
    periodogram::fold(&t, period, 0.0)
}

/// Test curves per class read for the extrema statistic (first window each): enough for a stable
/// mean, few enough that `paper` (thousands of test curves per class) stays seconds.
const EXTREMA_CURVES_PER_CLASS: usize = 100;

/// Spearman ρ, over the valid points of one window, between the attention each observation
/// receives and its distance from the window's median magnitude, |mag − median|: positive when
/// the extrema of the curve draw the attention (what Figs. 8–9 show by eye). `None` when either
/// side is constant.
fn extremum_attention_correlation(mag: &[f64], received: &[f32]) -> Option<f64> {
    let median = lightcurve::stats::median(mag)?;
    let distance: Vec<f64> = mag.iter().map(|m| (m - median).abs()).collect();
    let attention: Vec<f64> = received.iter().map(|&a| a as f64).collect();
    evaluation::spearman(&attention, &distance)
}

/// The extrema statistic of one class: mean of [`extremum_attention_correlation`] (attention
/// averaged over heads) over the first window of up to [`EXTREMA_CURVES_PER_CLASS`] fold-0 test
/// curves of the class.
struct ClassExtrema {
    class_name: String,
    windows: usize,
    spearman_mean: f64,
    spearman_positive_fraction: f64,
}

fn extremum_attention_by_class(setup: &ProbeSetup, block: usize) -> Result<Vec<ClassExtrema>> {
    let mut by_class: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &setup.test {
        let Some(label) = setup.set.label(i) else { continue };
        let curves = by_class.entry(label).or_default();
        if curves.len() < EXTREMA_CURVES_PER_CLASS {
            curves.push(i);
        }
    }
    let mut out = Vec::new();
    for (class, curves) in by_class {
        let windows: Vec<PaddedWindow> = curves
            .iter()
            .map(|&i| lightcurve::make_window(&setup.set.curve(i), i, 0, setup.window_len))
            .collect();
        let mut rhos = Vec::new();
        // Chunks bound the memory of the maps (n_valid² per head and window).
        for chunk in windows.chunks(64) {
            let maps = representation::attention_maps(&setup.model, chunk, block)
                .with_context(|| format!("{}: attention maps of block {}", setup.dataset, block + 1))?;
            for (window, map) in chunk.iter().zip(&maps) {
                let mag: Vec<f64> = window.mag[..window.n_valid].iter().map(|&m| m as f64).collect();
                rhos.extend(extremum_attention_correlation(&mag, &map.received(None)));
            }
        }
        if rhos.is_empty() {
            continue;
        }
        let count = rhos.len() as f64;
        out.push(ClassExtrema {
            class_name: setup.classes[class].clone(),
            windows: rhos.len(),
            spearman_mean: rhos.iter().sum::<f64>() / count,
            spearman_positive_fraction: rhos.iter().filter(|&&r| r > 0.0).count() as f64 / count,
        });
    }
    Ok(out)
}

/// Normalised entropy of a distribution (1 = uniform).
fn normalised_entropy(p: &[f32]) -> f64 {
    if p.len() < 2 {
        return 1.0;
    }
    let h: f64 = p.iter().filter(|&&x| x > 0.0).map(|&x| -(x as f64) * (x as f64).ln()).sum();
    h / (p.len() as f64).ln()
}

/// Points grouped into attention quartiles; legend names carry the upper bound of each quartile
/// (short, so the legend stays readable).
fn quartile_groups(phase: &[f64], y: &[f64], attention: &[f32]) -> Vec<(String, Vec<(f64, f64)>)> {
    let mut sorted: Vec<f32> = attention.to_vec();
    sorted.sort_by(f32::total_cmp);
    let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f).round() as usize];
    let cuts = [q(0.25), q(0.5), q(0.75)];
    let mut groups: Vec<(String, Vec<(f64, f64)>)> = vec![
        (format!("low ≤{:.4}", cuts[0]), Vec::new()),
        (format!("≤{:.4}", cuts[1]), Vec::new()),
        (format!("≤{:.4}", cuts[2]), Vec::new()),
        (format!("top >{:.4}", cuts[2]), Vec::new()),
    ];
    for ((&p, &v), &a) in phase.iter().zip(y).zip(attention) {
        let g = cuts.iter().filter(|&&c| a > c).count();
        groups[g].1.push((p, v));
    }
    groups
}

/// One example's attention and its folded view, kept for the figures.
struct Probed {
    dataset: String,
    example_class: String,
    object_id: String,
    period: FoldingPeriod,
    phase: Vec<f64>,
    /// −(mag − window mean): brighter up.
    brightness: Vec<f64>,
    received_per_head: Vec<Vec<f32>>,
    received_mean: Vec<f32>,
}

fn panel(p: &Probed, attention: &[f32], what: &str) -> Result<plotting::Figure> {
    let groups = quartile_groups(&p.phase, &p.brightness, attention);
    Ok(plotting::scatter(
        &format!("{} {} ({}) · {what}; P = {:.4} d ({})", p.dataset, p.example_class, p.object_id, p.period.days, p.period.source),
        "phase (period P); colour = attention received (quartiles)",
        "mean − magnitude (mag; brighter up)",
        &groups,
    )?)
}

const DECLARATION: Declaration = Declaration {
    name: NAME,
    description: "attention of the first block on folded test curves, per head and averaged (Figs. 8, 9)",
    targets: TARGETS,
    upstream: &["e03-finetune"],
    upstream_artifacts: &["e03-finetune"],
    reads: Reads::LabelledSets,
    figures_need_sets: &[],
    source_dirs: &[
        "experiments/e06-attention",
        // Upstream experiment crates whose code this one compiles (configs, paths).
        "experiments/e03-finetune",
        "experiments/e02-pretrain",
        "experiments/harness",
        "crates/representation",
        "crates/periodogram",
        "crates/panels",
        "crates/astromer",
        "crates/lightcurve",
        "crates/evaluation",
        "crates/plotting",
    ],
};

impl Experiment for E06Attention {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let mut probed = Vec::new();
        let mut rows = Vec::new();
        let mut extrema_rows = Vec::new();
        for manifest in ctx.profile.data().labelled.clone() {
            let setup = ProbeSetup::load(ctx, &manifest, &cfg.encoder)?;
            let dir = ctx.dataset(&manifest).context("prepared data set")?.dir.clone();
            let truth = true_periods(&dir)?;
            let examples = examples_per_class(&setup);
            let windows: Vec<PaddedWindow> = examples.iter().map(|e| e.window.clone()).collect();
            let maps = representation::attention_maps(&setup.model, &windows, cfg.block)
                .with_context(|| format!("{}: attention maps of block {}", setup.dataset, cfg.block + 1))?;
            for (ex, m) in examples.iter().zip(&maps) {
                let period = folding_period(&setup.set, ex.curve, truth.as_ref(), cfg.ls_oversampling, cfg.ls_max_frequency)?;
                let phase = window_phases(&ex.window, period.days);
                let brightness: Vec<f64> = ex.window.mag[..ex.window.n_valid].iter().map(|&m| -(m as f64)).collect();
                let per_head: Vec<Vec<f32>> = (0..m.n_heads).map(|h| m.received(Some(h))).collect();
                let mean = m.received(None);
                let mut row = toml::Table::new();
                row.insert("dataset".into(), setup.dataset.clone().into());
                row.insert("class".into(), ex.class_name.clone().into());
                row.insert("object_id".into(), ex.object_id.clone().into());
                row.insert("n_valid".into(), (ex.window.n_valid as i64).into());
                row.insert("period_days".into(), period.days.into());
                row.insert("period_source".into(), period.source.into());
                if let Some(t) = period.true_days {
                    row.insert("true_period_days".into(), t.into());
                }
                if let Some(p) = period.lomb_scargle_days {
                    row.insert("lomb_scargle_period_days".into(), p.into());
                }
                let ent = |v: &[f32]| toml::Value::Float((normalised_entropy(v) * 1e4).round() / 1e4);
                row.insert("entropy_per_head".into(), toml::Value::Array(per_head.iter().map(|v| ent(v)).collect()));
                row.insert("entropy_mean_over_heads".into(), ent(&mean));
                rows.push(toml::Value::Table(row));
                println!(
                    "  {} {:<6} {}: {} points, P = {:.4} d ({}){}; received-attention entropy {:.3} (1 = uniform)",
                    setup.dataset,
                    ex.class_name,
                    ex.object_id,
                    ex.window.n_valid,
                    period.days,
                    period.source,
                    period.lomb_scargle_days.map(|p| format!(", Lomb–Scargle {p:.4} d")).unwrap_or_default(),
                    normalised_entropy(&mean)
                );
                probed.push(Probed {
                    dataset: setup.dataset.clone(),
                    example_class: ex.class_name.clone(),
                    object_id: ex.object_id.clone(),
                    period,
                    phase,
                    brightness,
                    received_per_head: per_head,
                    received_mean: mean,
                });
            }
            for class in extremum_attention_by_class(&setup, cfg.block)? {
                let round = |v: f64| (v * 1e4).round() / 1e4;
                println!(
                    "  {} {:<6}: attention vs |mag − median| over {} test windows: mean Spearman {:+.3}, positive in {:.0} %",
                    setup.dataset,
                    class.class_name,
                    class.windows,
                    class.spearman_mean,
                    100.0 * class.spearman_positive_fraction
                );
                let mut row = toml::Table::new();
                row.insert("dataset".into(), setup.dataset.clone().into());
                row.insert("class".into(), class.class_name.into());
                row.insert("windows".into(), (class.windows as i64).into());
                row.insert("spearman_mean".into(), round(class.spearman_mean).into());
                row.insert("spearman_positive_fraction".into(), round(class.spearman_positive_fraction).into());
                extrema_rows.push(toml::Value::Table(row));
            }
        }
        let agreement = period_agreement(&probed);
        let results = ctx.results();
        results.insert(
            "note".into(),
            "Attention received by observation k = mean over the window's valid queries of the softmax weight on key k \
             (padding excluded), in the first block of the A2 encoder finetuned on fold 0 at the largest SPC. \
             entropy = normalised entropy of that distribution (1 = uniform attention). \
             attention_extrema: per class, Spearman rank correlation between the attention received (mean over heads) and \
             |mag - window median| over the valid points of the first window of up to 100 fold-0 test curves; \
             spearman_mean > 0 when the extrema draw the attention."
                .into(),
        );
        if let Some((n, within, half)) = agreement {
            let mut t = toml::Table::new();
            t.insert("curves_with_true_period".into(), (n as i64).into());
            t.insert("lomb_scargle_within_1_percent".into(), (within as i64).into());
            t.insert("lomb_scargle_within_1_percent_of_half".into(), (half as i64).into());
            results.insert("lomb_scargle_check".into(), toml::Value::Table(t));
        }
        results.insert("examples".into(), toml::Value::Array(rows));
        results.insert("attention_extrema".into(), toml::Value::Array(extrema_rows));

        // Fig. 8: Alcock (the first labelled set), rows = classes, columns = heads.
        let first = probed.first().map(|p| p.dataset.clone()).unwrap_or_default();
        let mut panels = Vec::new();
        let mut n_heads = 1;
        for p in probed.iter().filter(|p| p.dataset == first) {
            n_heads = p.received_per_head.len();
            for (h, a) in p.received_per_head.iter().enumerate() {
                panels.push(panel(p, a, &format!("head {}", h + 1))?);
            }
        }
        let fig = panels::grid(
            Some(&format!("{first}: attention received per observation in block {}, per head (Fig. 8)", cfg.block + 1)),
            &panels,
            n_heads.max(1),
        )?;
        ctx.figure("fig8", fig.svg, fig.png);

        // Fig. 9: every labelled set, mean over heads, one panel per class.
        let panels = probed
            .iter()
            .map(|p| panel(p, &p.received_mean, "mean over heads"))
            .collect::<Result<Vec<_>>>()?;
        let fig = panels::grid(
            Some(&format!("Attention received in block {}, mean over heads (Fig. 9)", cfg.block + 1)),
            &panels,
            3,
        )?;
        ctx.figure("fig9", fig.svg, fig.png);
        Ok(())
    }
}

/// Of the examples with a true period: how many, how many Lomb–Scargle estimates fall within 1 %
/// of it, and how many within 1 % of half of it (eclipsing binaries: two minima per orbit, so a
/// sinusoid fits best at P/2).
fn period_agreement(probed: &[Probed]) -> Option<(usize, usize, usize)> {
    let pairs: Vec<(f64, f64)> = probed
        .iter()
        .filter_map(|p| Some((p.period.true_days?, p.period.lomb_scargle_days?)))
        .collect();
    let within = |f: f64| pairs.iter().filter(|(t, l)| ((l - f * t) / (f * t)).abs() < 0.01).count();
    (!pairs.is_empty()).then(|| (pairs.len(), within(1.0), within(0.5)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extremum_correlation_is_one_when_attention_follows_the_distance_from_the_median() {
        let mag = [0.0, 0.1, -0.1, 0.9, -0.5, 0.05, -1.2];
        // Attention growing with |mag − median| (median 0.0) …
        let follows: Vec<f32> = mag.iter().map(|m: &f64| (0.01 + m.abs()) as f32).collect();
        assert!((extremum_attention_correlation(&mag, &follows).unwrap() - 1.0).abs() < 1e-12);
        // … shrinking with it …
        let avoids: Vec<f32> = mag.iter().map(|m: &f64| (1.0 / (0.01 + m.abs())) as f32).collect();
        assert!((extremum_attention_correlation(&mag, &avoids).unwrap() + 1.0).abs() < 1e-12);
        // … and uniform attention says nothing.
        assert_eq!(extremum_attention_correlation(&mag, &[1.0 / 7.0; 7]), None);
        // Even count: the median is the mean of the middle pair (0.0 and 0.1 → 0.05).
        let mag = [0.0, 0.1, 1.0, -1.0];
        let attention = [0.2_f32, 0.2, 0.3, 0.3];
        assert!(extremum_attention_correlation(&mag, &attention).unwrap() > 0.9);
    }

    #[test]
    fn entropy_is_one_for_uniform_and_low_for_peaked() {
        assert!((normalised_entropy(&[0.25; 4]) - 1.0).abs() < 1e-9);
        assert!(normalised_entropy(&[0.97, 0.01, 0.01, 0.01]) < 0.2);
    }

    #[test]
    fn quartile_groups_keep_every_point_once_in_order_of_attention() {
        let att: Vec<f32> = (0..8).map(|i| i as f32 / 28.0).collect();
        let phase: Vec<f64> = (0..8).map(|i| i as f64 / 8.0).collect();
        let g = quartile_groups(&phase, &phase, &att);
        assert_eq!(g.iter().map(|g| g.1.len()).sum::<usize>(), 8);
        assert!(g[3].1.iter().all(|p| p.0 >= 0.625), "{:?}", g[3]);
        // Cuts at the sorted values of rank round(7·q): 2, 4 (3.5 rounds to 4) and 5 of 0..7.
        assert_eq!(g.iter().map(|g| g.1.len()).collect::<Vec<_>>(), vec![3, 2, 1, 2], "{g:?}");
        assert!(g[0].1.iter().all(|p| p.0 <= 0.25), "{:?}", g[0]);
        assert!(g[0].0.starts_with("low ≤"), "{}", g[0].0);
        assert!(g[3].0.starts_with("top >"), "{}", g[3].0);
    }
}
