//! e08-reconstruction: what the encoder reconstructs (paper Appendix B). For one test curve per
//! class, its first window is masked as in pretraining (the profile's fractions, one seeded draw)
//! and the A2 finetuned on fold 0 at the largest SPC predicts the probed magnitudes: the light
//! curve with visible, true probed and predicted points; predicted vs true with the RMSE; and the
//! folded view. A table gives the probed-point RMSE per class over every fold-0 test window.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use astromer::{MaskedBatch, ProbeRole};
use e06_attention::{examples_per_class, folding_period, true_periods, window_phases, ProbeSetup};
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use lightcurve::PaddedWindow;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

pub struct E08Reconstruction;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub encoder: String,
    /// Seed of the masking draws.
    pub seed: u64,
    pub batch_size: usize,
    pub ls_oversampling: f64,
    pub ls_max_frequency: f64,
}

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        profile.section("e08-reconstruction")
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "appB",
        kind: TargetKind::Figure,
        description: "Alcock: masked reconstruction of one test window per class (curve, predicted vs true, folded)",
    },
    Target {
        name: "reconstruction",
        kind: TargetKind::Table,
        description: "probed-point RMSE and R² per class over the fold-0 test windows, both labelled sets",
    },
];

/// Probed positions of one window: (index, role, true, predicted).
fn probed_points(batch: &MaskedBatch, pred: &[f32], b: usize) -> Vec<(usize, ProbeRole, f64, f64)> {
    let l = batch.window_len;
    (0..l)
        .filter(|&i| batch.roles[b * l + i].is_scored())
        .map(|i| (i, batch.roles[b * l + i], batch.target[b * l + i] as f64, pred[b * l + i] as f64))
        .collect()
}

/// NaN for no points (a window with nothing probed has no reconstruction error to report).
fn rmse(pairs: &[(f64, f64)]) -> f64 {
    if pairs.is_empty() {
        return f64::NAN;
    }
    (pairs.iter().map(|(t, p)| (t - p).powi(2)).sum::<f64>() / pairs.len() as f64).sqrt()
}

fn r2(pairs: &[(f64, f64)]) -> f64 {
    let mean = pairs.iter().map(|p| p.0).sum::<f64>() / pairs.len().max(1) as f64;
    let ss_tot: f64 = pairs.iter().map(|p| (p.0 - mean).powi(2)).sum();
    let ss_res: f64 = pairs.iter().map(|(t, p)| (t - p).powi(2)).sum();
    if ss_tot > 0.0 {
        1.0 - ss_res / ss_tot
    } else {
        f64::NAN
    }
}

fn round(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

/// The three panels of one example.
fn example_panels(
    dataset: &str,
    class: &str,
    object_id: &str,
    window: &PaddedWindow,
    batch: &MaskedBatch,
    pred: &[f32],
    period: &e06_attention::FoldingPeriod,
) -> Result<Vec<plotting::Figure>> {
    let probed = probed_points(batch, pred, 0);
    let pairs: Vec<(f64, f64)> = probed.iter().map(|p| (p.2, p.3)).collect();
    let n = window.n_valid;
    let t: Vec<f64> = window.time[..n].iter().map(|&t| t as f64).collect();
    let phase = window_phases(window, period.days);
    let is_probed: Vec<bool> = (0..n).map(|i| batch.roles[i].is_scored()).collect();
    let visible: Vec<(f64, f64)> = (0..n).filter(|&i| !is_probed[i]).map(|i| (t[i], -(window.mag[i] as f64))).collect();
    let truth: Vec<(f64, f64)> = probed.iter().map(|p| (t[p.0], -p.2)).collect();
    let predicted: Vec<(f64, f64)> = probed.iter().map(|p| (t[p.0], -p.3)).collect();
    let head = format!("{dataset} {class} ({object_id})");
    let curve = plotting::scatter(
        &format!("{head}: {} probed of {n}", probed.len()),
        "time − window mean (days)",
        "mean − magnitude (mag; brighter up)",
        &[
            ("visible, not probed".to_string(), visible),
            ("probed: true".to_string(), truth),
            ("probed: predicted".to_string(), predicted),
        ],
    )?;
    let lo = pairs.iter().flat_map(|p| [p.0, p.1]).fold(f64::INFINITY, f64::min);
    let hi = pairs.iter().flat_map(|p| [p.0, p.1]).fold(f64::NEG_INFINITY, f64::max);
    let diagonal: Vec<(f64, f64)> = if lo.is_finite() && hi.is_finite() {
        (0..=24).map(|k| lo + (hi - lo) * k as f64 / 24.0).map(|v| (v, v)).collect()
    } else {
        Vec::new()
    };
    let mut by_role: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    for p in &probed {
        let name = match p.1 {
            ProbeRole::Masked => "masked (hidden)",
            ProbeRole::Random => "random replacement",
            _ => "probed, unchanged",
        };
        by_role.entry(name).or_default().push((p.2, p.3));
    }
    let mut groups: Vec<(String, Vec<(f64, f64)>)> = by_role.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    groups.push(("y = x".to_string(), diagonal));
    let scatter = plotting::scatter(
        &format!("{head}: RMSE {:.4} mag, R² {:.3} on probed points", rmse(&pairs), r2(&pairs)),
        "true magnitude − window mean (mag)",
        "predicted magnitude − window mean (mag)",
        &groups,
    )?;
    let folded_true: Vec<(f64, f64)> = (0..n).map(|i| (phase[i], -(window.mag[i] as f64))).collect();
    let folded_pred: Vec<(f64, f64)> = probed.iter().map(|p| (phase[p.0], -p.3)).collect();
    let folded = plotting::scatter(
        &format!("{head}: folded, P = {:.4} d ({})", period.days, period.source),
        "phase (period P)",
        "mean − magnitude (mag; brighter up)",
        &[("observed".to_string(), folded_true), ("probed: predicted".to_string(), folded_pred)],
    )?;
    Ok(vec![curve, scatter, folded])
}

const DECLARATION: Declaration = Declaration {
    name: "e08-reconstruction",
    description: "masked reconstructions of test windows per class (Appendix B) and per-class probed RMSE",
    targets: TARGETS,
    upstream: &["e03-finetune"],
    upstream_artifacts: &["e03-finetune"],
    reads: Reads::LabelledSets,
    figures_need_sets: &[],
    source_dirs: &[
        "experiments/e08-reconstruction",
        // Upstream experiment crates whose code this one compiles (configs, paths).
        "experiments/e03-finetune",
        "experiments/e02-pretrain",
        "experiments/e06-attention",
        "experiments/harness",
        "crates/periodogram",
        "crates/panels",
        "crates/astromer",
        "crates/lightcurve",
        "crates/evaluation",
        "crates/plotting",
    ],
};

impl Experiment for E08Reconstruction {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let mut example_rows = Vec::new();
        let mut class_rows = Vec::new();
        let mut panels = Vec::new();
        for (d, manifest) in ctx.profile.data().labelled.clone().into_iter().enumerate() {
            let setup = ProbeSetup::load(ctx, &manifest, &cfg.encoder)?;
            let mask = setup.finetune.finetune.mask;
            let dir = ctx.dataset(&manifest).context("prepared data set")?.dir.clone();
            let truth = true_periods(&dir)?;
            for ex in examples_per_class(&setup) {
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed + ex.class as u64);
                let batch = MaskedBatch::pretraining(std::slice::from_ref(&ex.window), &mask, &mut rng)?;
                let pred = setup.model.predict(&batch)?;
                let pairs: Vec<(f64, f64)> = probed_points(&batch, &pred, 0).iter().map(|p| (p.2, p.3)).collect();
                let period = folding_period(&setup.set, ex.curve, truth.as_ref(), cfg.ls_oversampling, cfg.ls_max_frequency)?;
                let mut row = toml::Table::new();
                row.insert("dataset".into(), setup.dataset.clone().into());
                row.insert("class".into(), ex.class_name.clone().into());
                row.insert("object_id".into(), ex.object_id.clone().into());
                row.insert("n_valid".into(), (ex.window.n_valid as i64).into());
                row.insert("n_probed".into(), (pairs.len() as i64).into());
                row.insert("rmse_probed".into(), round(rmse(&pairs)).into());
                row.insert("period_days".into(), period.days.into());
                row.insert("period_source".into(), period.source.into());
                example_rows.push(toml::Value::Table(row));
                if d == 0 {
                    panels.extend(example_panels(&setup.dataset, &ex.class_name, &ex.object_id, &ex.window, &batch, &pred, &period)?);
                }
            }

            // Per class over every fold-0 test window, one seeded masking draw.
            let subset = setup.set.subset(&setup.test)?;
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(cfg.seed);
            let windows = lightcurve::set_sequential_windows(&subset, setup.window_len);
            let mut per_class: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
            for chunk in windows.chunks(cfg.batch_size.max(1)) {
                let batch = MaskedBatch::pretraining(chunk, &mask, &mut rng)?;
                let pred = setup.model.predict(&batch)?;
                for (b, w) in chunk.iter().enumerate() {
                    let label = subset.label(w.object_index).context("a test curve has no class")?;
                    per_class.entry(label).or_default().extend(probed_points(&batch, &pred, b).iter().map(|p| (p.2, p.3)));
                }
            }
            for (c, pairs) in &per_class {
                let mut row = toml::Table::new();
                row.insert("dataset".into(), setup.dataset.clone().into());
                row.insert("class".into(), setup.classes[*c].clone().into());
                row.insert("n_probed".into(), (pairs.len() as i64).into());
                row.insert("rmse_probed".into(), round(rmse(pairs)).into());
                let r = r2(pairs);
                if r.is_finite() {
                    row.insert("r2_probed".into(), round(r).into());
                }
                println!(
                    "  {} {:<6}: probed RMSE {:.4} mag, R² {:.3} over {} probed points",
                    setup.dataset,
                    setup.classes[*c],
                    rmse(pairs),
                    r,
                    pairs.len()
                );
                class_rows.push(toml::Value::Table(row));
            }
        }
        let fig = panels::grid(
            Some("Masked reconstruction of one test window per class (Appendix B): curve, predicted vs true, folded"),
            &panels,
            3,
        )?;
        ctx.figure("appB", fig.svg, fig.png);
        let results = ctx.results();
        results.insert(
            "note".into(),
            "A2 finetuned on fold 0 at the largest SPC; windows masked with the profile's pretraining fractions \
             (one seeded draw); RMSE and R² over every probed point (masked, replaced and unchanged), magnitudes \
             window-centred, unweighted."
                .into(),
        );
        results.insert("per_class".into(), toml::Value::Array(class_rows));
        results.insert("examples".into(), toml::Value::Array(example_rows));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmse_and_r2_by_hand() {
        let pairs = [(1.0, 1.5), (-1.0, -1.5), (0.0, 0.0)];
        assert!((rmse(&pairs) - (0.5f64 / 3.0).sqrt()).abs() < 1e-12);
        // ss_tot = 2, ss_res = 0.5.
        assert!((r2(&pairs) - 0.75).abs() < 1e-12);
        assert!(r2(&[(1.0, 0.0), (1.0, 2.0)]).is_nan());
        assert!(rmse(&[]).is_nan());
    }
}
