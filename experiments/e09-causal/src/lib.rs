//! e09-causal: the dual-latent "causal foundation model" (ICML 2025 workshop, issue 16) on the
//! star × instrument simulator. The stars are split into training, validation and test stars
//! (no test star is seen in training); the dual model (z_star, z_instr) and the single-latent
//! baseline are trained on triplets of the training stars, early-stopped on the validation stars.
//!
//! - `causal-fig3`: test R² of θ₀ predicted by an MLP from the raw curve, the baseline's latent,
//!   z_star and z_instr, trained on growing numbers of training-star curves, mean ± std over the
//!   profile's runs (each run draws its own training curves and seeds its own MLP);
//! - `causal-fig2`: t-SNE of z_star and z_instr of test curves coloured by instrument and by θ₀;
//! - `disentanglement` (table): k-NN accuracy of the instrument id from each space (test curves
//!   against training curves; chance is 1 / instruments) and the R² of θ₀ at the full size.

use anyhow::{Context, Result};
use causal::{CausalModel, CausalModelConfig, FitSettings, Labelled, ProbeSettings};
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use representation::{Matrix, TsneSettings};
use serde::{Deserialize, Serialize};
use survey_sim::causal::CausalSet;

pub struct E09Causal;

/// Which stars train, validate and test (fractions of the stars, drawn with `seed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StarSplit {
    pub seed: u64,
    pub val_fraction: f64,
    pub test_fraction: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    /// The star × instrument data set (a manifest with layout "causal-table").
    pub dataset: String,
    pub split: StarSplit,
    /// The dual model's architecture; the baseline is the same with a single latent.
    pub model: CausalModelConfig,
    /// Training of both models (Adam, the loss weights and temperature, early stopping).
    pub fit: FitSettings,
    /// The θ₀ regressor; run r seeds it with `probe.seed + r`.
    pub probe: ProbeSettings,
    /// Training-star curves the regressor learns from (Fig. 3's x axis); a size above the number
    /// of training-star curves is cut to all of them.
    pub train_sizes: Vec<usize>,
    /// Repeats per size (the paper: 5).
    pub runs: usize,
    /// Neighbours of the instrument-id vote.
    pub knn_k: usize,
    /// Curves per inference pass.
    pub batch_size: usize,
    /// Test curves in the t-SNE panels (the first ones of a seeded shuffle).
    pub tsne_points: usize,
    pub tsne: TsneSettings,
    /// θ₀ colour classes of Fig. 2 (equal-width bins over θ₀'s range).
    pub theta0_bins: usize,
}

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        let cfg: Config = profile.section("e09-causal")?;
        let origin = profile.origin().display();
        let f = &cfg.split;
        anyhow::ensure!(
            f.val_fraction > 0.0 && f.test_fraction > 0.0 && f.val_fraction + f.test_fraction < 1.0,
            "{origin} [e09-causal.split]: val_fraction and test_fraction must be > 0 with a sum below 1"
        );
        anyhow::ensure!(cfg.model.dual, "{origin} [e09-causal.model]: `dual` must be true (the baseline is built from it with a single latent)");
        anyhow::ensure!(
            !cfg.train_sizes.is_empty() && cfg.train_sizes.windows(2).all(|w| w[0] < w[1]) && cfg.train_sizes[0] >= 2,
            "{origin} [e09-causal]: train_sizes must be increasing, from at least 2"
        );
        anyhow::ensure!(cfg.runs >= 1 && cfg.knn_k >= 1 && cfg.batch_size >= 1 && cfg.theta0_bins >= 1, "{origin} [e09-causal]: runs, knn_k, batch_size and theta0_bins must be at least 1");
        anyhow::ensure!(cfg.tsne_points >= 2, "{origin} [e09-causal]: tsne_points must be at least 2");
        Ok(cfg)
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "causal-fig2",
        kind: TargetKind::Figure,
        description: "t-SNE of z_star and z_instr of test curves, coloured by instrument and by θ₀",
    },
    Target {
        name: "causal-fig3",
        kind: TargetKind::Figure,
        description: "R² of θ₀ from the raw curve, the baseline's latent, z_star and z_instr vs training size (mean ± std over runs)",
    },
    Target {
        name: "disentanglement",
        kind: TargetKind::Table,
        description: "k-NN accuracy of the instrument id and R² of θ₀ from each space",
    },
];

/// The representations probed, in the order of the figure's legend.
const INPUTS: [&str; 4] = ["raw", "baseline", "z_star", "z_instr"];

/// Observations of the training, validation and test stars: each star's curves go to one part.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits the stars (a seeded shuffle: the first `test_fraction` are test stars, the next
/// `val_fraction` validation stars, at least one each) and returns their observations in index order.
pub fn split_by_star(set: &CausalSet, split: &StarSplit) -> Result<Parts> {
    let n = set.stars.len();
    let mut stars: Vec<usize> = (0..n).collect();
    stars.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(split.seed));
    let n_test = ((n as f64 * split.test_fraction).round() as usize).max(1);
    let n_val = ((n as f64 * split.val_fraction).round() as usize).max(1);
    anyhow::ensure!(n_test + n_val < n, "{n} stars cannot be split into {n_test} test, {n_val} validation and at least one training star");
    let mut part = vec![0u8; n];
    for &s in &stars[..n_test] {
        part[s] = 2;
    }
    for &s in &stars[n_test..n_test + n_val] {
        part[s] = 1;
    }
    let pick = |p: u8| (0..set.observations.len()).filter(|&o| part[set.observations[o].star] == p).collect::<Vec<_>>();
    Ok(Parts { train: pick(0), val: pick(1), test: pick(2) })
}

/// The raw curves of `rows` as a matrix (one row of T samples per curve).
fn raw_matrix(set: &CausalSet, rows: &[usize]) -> Matrix {
    let t = set.spec.n_steps;
    let data = rows.iter().flat_map(|&r| set.observations[r].flux.iter().map(|&v| v as f32)).collect();
    Matrix::new(rows.len(), t, data).expect("every curve has T samples (checked when read)")
}

/// The rows `picked` (positions into `m`'s rows).
fn select(m: &Matrix, picked: &[usize]) -> Matrix {
    let data = picked.iter().flat_map(|&i| m.row(i).iter().copied()).collect();
    Matrix::new(picked.len(), m.cols, data).expect("rows of one width")
}

/// One representation of the training, validation and test curves.
struct Space {
    name: &'static str,
    train: Matrix,
    val: Matrix,
    test: Matrix,
}

fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 { values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

fn round(x: f64) -> f64 {
    (x * 1e5).round() / 1e5
}

/// Equal-width bins of `values` over their range: the bin of each value and each bin's label.
fn bins(values: &[f64], n: usize) -> (Vec<usize>, Vec<String>) {
    let (lo, hi) = values.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
    let width = ((hi - lo) / n as f64).max(1e-12);
    let which = values.iter().map(|&v| (((v - lo) / width) as usize).min(n - 1)).collect();
    let labels = (0..n).map(|i| format!("θ₀ {:.2} – {:.2}", lo + i as f64 * width, lo + (i + 1) as f64 * width)).collect();
    (which, labels)
}

fn progress(len: usize, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("  {{prefix}} [{{bar:30}}] {{pos}}/{{len}} {what} {{msg}}"))
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

const DECLARATION: Declaration = Declaration {
    name: "e09-causal",
    description: "dual-latent causal model on the star × instrument simulator: θ₀ R² per space and size (Fig. 3), t-SNE (Fig. 2)",
    targets: TARGETS,
    upstream: &[],
    upstream_artifacts: &[],
    reads: Reads::ConfigKey("dataset"),
    figures_need_sets: &[],
    source_dirs: &[
        "experiments/e09-causal",
        "experiments/harness",
        "crates/causal",
        "crates/survey-sim",
        "crates/datasets",
        "crates/astromer",
        "crates/representation",
        "crates/plotting",
        "crates/panels",
    ],
};

impl Experiment for E09Causal {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let set = ctx.open_causal(&cfg.dataset)?;
        let parts = split_by_star(&set, &cfg.split)?;
        println!(
            "  {}: {} curves of {} stars through {} instruments; {} / {} / {} training / validation / test curves",
            cfg.dataset,
            set.observations.len(),
            set.stars.len(),
            set.instruments.len(),
            parts.train.len(),
            parts.val.len(),
            parts.test.len()
        );

        // The two models, side by side on a CPU (each its own device and seed: the same weights
        // as one after the other).
        let configs = vec![("baseline", CausalModelConfig { dual: false, ..cfg.model.clone() }), ("dual", cfg.model.clone())];
        let bars = indicatif::MultiProgress::new();
        let jobs: Vec<_> = configs
            .into_iter()
            .map(|(name, model)| {
                let bar = bars.add(progress(cfg.fit.max_epochs, "epochs"));
                bar.set_prefix(name);
                // Checkpoints per epoch: an interrupted run resumes where it stopped.
                (name, model, bar, ctx.artifacts_dir.join(name))
            })
            .collect();
        let (set_ref, parts_ref, fit) = (&set, &parts, &cfg.fit);
        let trained = harness::on_every_core(jobs, astromer::DEFAULT_DEVICE_IS_CPU, |(name, model_cfg, bar, checkpoints)| -> Result<_> {
            let dev = astromer::try_default_device(fit.seed).map_err(anyhow::Error::msg)?;
            let model = CausalModel::new(model_cfg, dev.device(), fit.seed).map_err(anyhow::Error::msg).with_context(|| format!("{name} model"))?;
            let out = causal::fit(model, set_ref, &parts_ref.train, &parts_ref.val, fit, Some(&checkpoints), &mut |log| {
                log::info!("{name}: epoch {} train {:.4} val {:.4}", log.epoch, log.train.total, log.val.total);
                bar.set_message(format!("val loss {:.4}", log.val.total));
                bar.set_position(log.epoch as u64 + 1);
            })
            .with_context(|| format!("training the {name} model"))?;
            bar.finish_and_clear();
            let rows = [&parts_ref.train, &parts_ref.val, &parts_ref.test];
            let latents = rows
                .into_iter()
                .map(|r| causal::latents(&out.model, set_ref, r, cfg.batch_size))
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("latents of the {name} model"))?;
            Ok((name, out.history, out.best_epoch, latents))
        })?;

        let mut models = toml::Table::new();
        let mut spaces = vec![Space {
            name: "raw",
            train: raw_matrix(&set, &parts.train),
            val: raw_matrix(&set, &parts.val),
            test: raw_matrix(&set, &parts.test),
        }];
        for (name, history, best_epoch, latents) in trained {
            let best = history[best_epoch];
            let mut t = toml::Table::new();
            t.insert("epochs".into(), (history.len() as i64).into());
            t.insert("best_epoch".into(), (best_epoch as i64).into());
            for (key, v) in [
                ("val_total", best.val.total),
                ("val_reconstruction_mse", best.val.reconstruction),
                ("val_star_infonce", best.val.star),
                ("val_instrument_infonce", best.val.instrument),
                ("train_total", best.train.total),
            ] {
                t.insert(key.into(), round(v as f64).into());
            }
            models.insert(name.into(), toml::Value::Table(t));
            let [train, val, test]: [causal::Latents; 3] = latents.try_into().map_err(|_| anyhow::anyhow!("three parts"))?;
            if name == "baseline" {
                spaces.push(Space { name: "baseline", train: train.star, val: val.star, test: test.star });
            } else {
                let missing = || anyhow::anyhow!("the dual model has no instrument latent");
                spaces.push(Space {
                    name: "z_star",
                    train: train.star,
                    val: val.star,
                    test: test.star,
                });
                spaces.push(Space {
                    name: "z_instr",
                    train: train.instrument.ok_or_else(missing)?,
                    val: val.instrument.ok_or_else(missing)?,
                    test: test.instrument.ok_or_else(missing)?,
                });
            }
        }
        spaces.sort_by_key(|s| INPUTS.iter().position(|&n| n == s.name));

        // Fig. 3: the θ₀ regressor per space, size and run.
        let theta0 = |rows: &[usize]| rows.iter().map(|&r| set.stars[set.observations[r].star].theta0()).collect::<Vec<f64>>();
        let (y_train, y_val, y_test) = (theta0(&parts.train), theta0(&parts.val), theta0(&parts.test));
        let mut sizes: Vec<usize> = cfg.train_sizes.iter().map(|&s| s.min(parts.train.len())).collect();
        sizes.dedup();
        let picks: Vec<Vec<Vec<usize>>> = sizes
            .iter()
            .map(|&size| {
                (0..cfg.runs)
                    .map(|run| {
                        let mut order: Vec<usize> = (0..parts.train.len()).collect();
                        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(cfg.probe.seed.wrapping_add(1000 * size as u64 + run as u64)));
                        order.truncate(size);
                        order
                    })
                    .collect()
            })
            .collect();
        let mut jobs = Vec::new();
        for (s, space) in spaces.iter().enumerate() {
            for (k, &size) in sizes.iter().enumerate() {
                for run in 0..cfg.runs {
                    jobs.push((s, space.name, k, size, run));
                }
            }
        }
        let bar = progress(jobs.len(), "regressors");
        bar.set_prefix("θ₀ probes");
        let scores = harness::on_every_core(jobs, astromer::DEFAULT_DEVICE_IS_CPU, |(s, name, k, size, run)| -> Result<_> {
            let space = &spaces[s];
            let picked = &picks[k][run];
            let x = select(&space.train, picked);
            let y: Vec<f64> = picked.iter().map(|&i| y_train[i]).collect();
            let settings = ProbeSettings { seed: cfg.probe.seed.wrapping_add(run as u64), ..cfg.probe.clone() };
            let dev = astromer::try_default_device(settings.seed).map_err(anyhow::Error::msg)?;
            let r2 = causal::regression_r2(
                dev.device(),
                Labelled { x: &x, y: &y },
                Labelled { x: &space.val, y: &y_val },
                Labelled { x: &space.test, y: &y_test },
                &settings,
            )
            .with_context(|| format!("θ₀ regressor on {name}, {size} curves, run {run}"))?;
            bar.inc(1);
            Ok((name, size, run, r2))
        })?;
        bar.finish_and_clear();

        let mut fig3_rows = Vec::new();
        let mut summary_rows = Vec::new();
        let mut series = Vec::new();
        let mut full_size_r2 = std::collections::BTreeMap::new();
        for space in &spaces {
            let mut points = Vec::new();
            let mut band = Vec::new();
            for &size in &sizes {
                let values: Vec<f64> = scores.iter().filter(|r| r.0 == space.name && r.1 == size).map(|r| r.3).collect();
                for (run, v) in values.iter().enumerate() {
                    let mut row = toml::Table::new();
                    row.insert("input".into(), space.name.into());
                    row.insert("train_size".into(), (size as i64).into());
                    row.insert("run".into(), (run as i64).into());
                    row.insert("r2".into(), round(*v).into());
                    fig3_rows.push(toml::Value::Table(row));
                }
                let (mean, sd) = mean_std(&values);
                let mut row = toml::Table::new();
                row.insert("input".into(), space.name.into());
                row.insert("train_size".into(), (size as i64).into());
                row.insert("r2_mean".into(), round(mean).into());
                row.insert("r2_std".into(), round(sd).into());
                summary_rows.push(toml::Value::Table(row));
                points.push((size as f64, mean));
                band.push((size as f64, mean - sd, mean + sd));
                full_size_r2.insert(space.name, mean);
            }
            series.push(plotting::LineSeries::new(space.name, points).with_band(band));
        }
        let fig3 = plotting::line_chart(
            &format!("R² of θ₀ on test stars vs training curves, mean ± std over {} runs (causal Fig. 3)", cfg.runs),
            "training curves (training stars)",
            "test R² of θ₀ (MLP regressor)",
            &series,
            &[],
            true,
            false,
        )?;
        ctx.figure("causal-fig3", fig3.svg, fig3.png);

        // Disentanglement: which space knows the instrument, and which θ₀.
        let instrument_of = |rows: &[usize]| rows.iter().map(|&r| set.observations[r].instrument).collect::<Vec<usize>>();
        let (inst_train, inst_test) = (instrument_of(&parts.train), instrument_of(&parts.test));
        let mut disentanglement = Vec::new();
        for space in &spaces {
            let accuracy = causal::knn_accuracy(
                Labelled { x: &space.train, y: &inst_train },
                Labelled { x: &space.test, y: &inst_test },
                cfg.knn_k.min(parts.train.len()),
            )
            .with_context(|| format!("k-NN instrument accuracy from {}", space.name))?;
            let mut row = toml::Table::new();
            row.insert("space".into(), space.name.into());
            row.insert("knn_instrument_accuracy".into(), round(accuracy).into());
            row.insert("theta0_r2".into(), round(full_size_r2[space.name]).into());
            disentanglement.push(toml::Value::Table(row));
        }

        // Fig. 2: t-SNE of the two latents of (a seeded sample of) the test curves.
        let mut order: Vec<usize> = (0..parts.test.len()).collect();
        order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(cfg.split.seed ^ 0x75_4E));
        order.truncate(cfg.tsne_points);
        let theta_shown: Vec<f64> = order.iter().map(|&i| y_test[i]).collect();
        let (theta_bin, theta_labels) = bins(&theta_shown, cfg.theta0_bins);
        let inst_shown: Vec<usize> = order.iter().map(|&i| inst_test[i]).collect();
        let mut panels = Vec::new();
        for name in ["z_star", "z_instr"] {
            let space = spaces.iter().find(|s| s.name == name).expect("the dual model's spaces");
            let xy = representation::tsne(&select(&space.test, &order), &cfg.tsne).with_context(|| format!("t-SNE of {name}"))?;
            let by = |labels: &[usize], names: &[String]| -> Vec<(String, Vec<(f64, f64)>)> {
                names
                    .iter()
                    .enumerate()
                    .map(|(c, n)| (n.clone(), xy.iter().zip(labels).filter(|(_, &l)| l == c).map(|(p, _)| (p[0], p[1])).collect()))
                    .collect()
            };
            let instrument_names: Vec<String> = (0..set.instruments.len()).map(|m| format!("instrument {m}")).collect();
            panels.push(plotting::scatter(&format!("{name} by instrument"), "t-SNE 1", "t-SNE 2", &by(&inst_shown, &instrument_names))?);
            panels.push(plotting::scatter(&format!("{name} by θ₀"), "t-SNE 1", "t-SNE 2", &by(&theta_bin, &theta_labels))?);
        }
        let fig2 = panels::grid(
            Some(&format!("t-SNE of the dual model's latents, {} test curves (causal Fig. 2)", order.len())),
            &panels,
            2,
        )?;
        ctx.figure("causal-fig2", fig2.svg, fig2.png);

        let results = ctx.results();
        results.insert(
            "note".into(),
            "Stars split into training / validation / test stars; both models trained on triplets of the training stars, \
             early-stopped on the validation stars. fig3: test R² of θ₀ (test stars) from an MLP trained on train_size \
             curves of the training stars, per run (own draw of curves, own seed); fig3_summary: mean and sample std over \
             runs. disentanglement: k-NN accuracy of the instrument id (test curves vote among training curves; chance = \
             chance_instrument_accuracy) and the mean R² of θ₀ at the largest size."
                .into(),
        );
        let mut split = toml::Table::new();
        split.insert("train_curves".into(), (parts.train.len() as i64).into());
        split.insert("val_curves".into(), (parts.val.len() as i64).into());
        split.insert("test_curves".into(), (parts.test.len() as i64).into());
        results.insert("split".into(), toml::Value::Table(split));
        results.insert("chance_instrument_accuracy".into(), round(1.0 / set.instruments.len() as f64).into());
        results.insert("models".into(), toml::Value::Table(models));
        results.insert("fig3".into(), toml::Value::Array(fig3_rows));
        results.insert("fig3_summary".into(), toml::Value::Array(summary_rows));
        results.insert("disentanglement".into(), toml::Value::Array(disentanglement));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use survey_sim::causal::{simulate, CausalSpec};

    #[test]
    fn the_split_keeps_every_star_in_one_part() {
        let set = simulate(&CausalSpec::sized(1, 20, 4, 80)).unwrap();
        let parts = split_by_star(&set, &StarSplit { seed: 3, val_fraction: 0.2, test_fraction: 0.2 }).unwrap();
        assert_eq!(parts.train.len() + parts.val.len() + parts.test.len(), 80);
        let stars = |rows: &[usize]| rows.iter().map(|&r| set.observations[r].star).collect::<std::collections::BTreeSet<_>>();
        let (a, b, c) = (stars(&parts.train), stars(&parts.val), stars(&parts.test));
        assert_eq!((a.len(), b.len(), c.len()), (12, 4, 4));
        assert!(a.is_disjoint(&b) && a.is_disjoint(&c) && b.is_disjoint(&c));
        assert_eq!(parts, split_by_star(&set, &StarSplit { seed: 3, val_fraction: 0.2, test_fraction: 0.2 }).unwrap());
        assert!(split_by_star(&set, &StarSplit { seed: 3, val_fraction: 0.5, test_fraction: 0.5 }).is_err());
    }

    #[test]
    fn theta_bins_cover_the_range() {
        let (which, labels) = bins(&[-1.0, -0.01, 0.49, 1.0], 2);
        assert_eq!(which, [0, 0, 1, 1]);
        assert_eq!(labels.len(), 2);
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, std::f64::consts::SQRT_2));
    }
}
