//! e07-embeddings: what the blocks' embeddings separate (paper Figs. 14, 15 and Appendix A,
//! Fig. A.1). Test windows of fold 0 are encoded by the A2 finetuned on fold 0 at the largest SPC;
//! each representation (input embedding and every block) is reduced per window by the mean over
//! valid steps (t-SNE, Figs. 14/15) and by mean, max and concatenation (cosine silhouette after
//! StandardScaler and L2 normalisation, as the official notebook; Fig. A.1).

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use e06_attention::ProbeSetup;
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use lightcurve::PaddedWindow;
use representation::{Reduction, TsneSettings};
use serde::{Deserialize, Serialize};

pub struct E07Embeddings;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub encoder: String,
    /// Test windows per class (the official notebook: 100 per class); fewer when a class has fewer.
    pub windows_per_class: usize,
    pub reductions: Vec<Reduction>,
    pub tsne: TsneSettings,
    pub batch_size: usize,
}

impl Config {
    pub fn for_profile(profile: &Profile) -> Result<Self> {
        profile.section("e07-embeddings")
    }
}

const TARGETS: &[Target] = &[
    Target {
        name: "fig14",
        kind: TargetKind::Figure,
        description: "Alcock: t-SNE of the mean embedding of test windows per block, coloured by class",
    },
    Target {
        name: "fig15",
        kind: TargetKind::Figure,
        description: "ATLAS: t-SNE of the mean embedding of test windows per block, coloured by class",
    },
    Target {
        name: "figA1",
        kind: TargetKind::Figure,
        description: "cosine silhouette of the class labels per block for mean, max and concatenated embeddings",
    },
];

/// Official concatenation silhouettes for blocks 1–6 (other-results §7; Alcock, finetuned on
/// fold 0 at SPC 500, 100 windows per class).
const PAPER_CONCAT: [f64; 6] = [-0.0295, -0.0106, -0.0078, 0.0022, 0.0025, 0.0023];

/// Up to `per_class` test windows of each class, taken round-robin over the class's curves
/// (window k of every curve before window k + 1), so that a few long curves cannot fill a class
/// and the silhouette does not measure "same light curve". Deterministic.
fn sample_windows(setup: &ProbeSetup, per_class: usize) -> Result<(Vec<PaddedWindow>, Vec<usize>)> {
    let subset = setup.set.subset(&setup.test)?;
    let windows = lightcurve::set_sequential_windows(&subset, setup.window_len);
    let items = windows
        .into_iter()
        .filter(|w| w.n_valid > 0)
        .map(|w| Ok((subset.label(w.object_index).context("a test curve has no class")?, w.object_index, w)))
        .collect::<Result<Vec<_>>>()?;
    let (labels, windows): (Vec<usize>, Vec<PaddedWindow>) = round_robin(items, per_class).into_iter().unzip();
    Ok((windows, labels))
}

/// `(class, curve, item)` in order → at most `per_class` items per class, round-robin over each
/// class's curves (curves in order of first appearance), classes in ascending order.
fn round_robin<T>(items: Vec<(usize, usize, T)>, per_class: usize) -> Vec<(usize, T)> {
    let mut by_class: BTreeMap<usize, Vec<(usize, Vec<T>)>> = BTreeMap::new();
    for (class, curve, item) in items {
        let curves = by_class.entry(class).or_default();
        match curves.iter_mut().find(|(c, _)| *c == curve) {
            Some((_, v)) => v.push(item),
            None => curves.push((curve, vec![item])),
        }
    }
    let mut out = Vec::new();
    for (class, curves) in by_class {
        let mut queues: Vec<std::vec::IntoIter<T>> = curves.into_iter().map(|(_, v)| v.into_iter()).collect();
        let mut taken = 0;
        'rounds: loop {
            let mut progressed = false;
            for q in queues.iter_mut() {
                if taken == per_class {
                    break 'rounds;
                }
                if let Some(item) = q.next() {
                    out.push((class, item));
                    taken += 1;
                    progressed = true;
                }
            }
            if !progressed {
                break;
            }
        }
    }
    out
}

fn representation_name(i: usize) -> String {
    if i == 0 {
        "input embedding".into()
    } else {
        format!("block {i}")
    }
}

const DECLARATION: Declaration = Declaration {
    name: "e07-embeddings",
    description: "t-SNE of per-block embeddings (Figs. 14, 15) and their cosine silhouette (Fig. A.1)",
    targets: TARGETS,
    upstream: &["e03-finetune"],
    upstream_artifacts: &["e03-finetune"],
    reads: Reads::LabelledSets,
    figures_need_sets: &[("fig15", 2)],
    source_dirs: &[
        "experiments/e07-embeddings",
        // Upstream experiment crates whose code this one compiles (configs, paths).
        "experiments/e03-finetune",
        "experiments/e02-pretrain",
        "experiments/e06-attention",
        "experiments/harness",
        "crates/representation",
        "crates/panels",
        "crates/astromer",
        "crates/lightcurve",
        "crates/evaluation",
        "crates/plotting",
    ],
};

impl Experiment for E07Embeddings {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(Config::for_profile(profile)?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let mut silhouettes = Vec::new();
        let mut silhouette_series = Vec::new();
        let labelled = ctx.profile.data().labelled.clone();
        // The first labelled set is drawn as the paper's Alcock (Fig. 14, solid), the second as
        // its ATLAS (Fig. 15, dashed), whatever the surveys are.
        for (position, manifest) in labelled.iter().enumerate() {
            let second = position > 0;
            let setup = ProbeSetup::load(ctx, manifest, &cfg.encoder)?;
            let (windows, labels) = sample_windows(&setup, cfg.windows_per_class)?;
            anyhow::ensure!(windows.len() >= 2, "{}: fewer than 2 test windows to embed", setup.dataset);
            println!(
                "  {}: {} test windows ({} classes) through {} finetuned on fold {} SPC {}",
                setup.dataset,
                windows.len(),
                setup.classes.len(),
                cfg.encoder,
                setup.fold,
                setup.spc
            );
            let bar = indicatif::ProgressBar::new((cfg.reductions.len()) as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("  {prefix} [{bar:30}] {pos}/{len} reductions {msg}")
                    .expect("valid template")
                    .progress_chars("=> "),
            );
            bar.set_prefix(setup.dataset.clone());
            for &reduction in &cfg.reductions {
                bar.set_message(reduction.as_str());
                let mut reps = representation::block_embeddings(&setup.model, &windows, reduction, cfg.batch_size)?;
                if reduction == Reduction::Mean {
                    // t-SNE of the raw mean embeddings (before the silhouette preprocessing).
                    bar.set_message("t-SNE");
                    let panels = reps
                        .iter()
                        .enumerate()
                        .map(|(k, m)| {
                            let xy = representation::tsne(m, &cfg.tsne)?;
                            let groups: Vec<(String, Vec<(f64, f64)>)> = setup
                                .classes
                                .iter()
                                .enumerate()
                                .map(|(c, name)| {
                                    let pts = xy.iter().zip(&labels).filter(|(_, &l)| l == c).map(|(p, _)| (p[0], p[1])).collect();
                                    (name.clone(), pts)
                                })
                                .collect();
                            Ok(plotting::scatter(
                                &format!("{}: {} (mean over valid steps)", setup.dataset, representation_name(k)),
                                "t-SNE 1",
                                "t-SNE 2",
                                &groups,
                            )?)
                        })
                        .collect::<Result<Vec<_>>>()?;
                    let fig = panels::grid(
                        Some(&format!(
                            "{}: t-SNE of test-window embeddings per block, {} finetuned on fold {} SPC {} (Fig. {})",
                            setup.dataset,
                            cfg.encoder,
                            setup.fold,
                            setup.spc,
                            if second { 15 } else { 14 }
                        )),
                        &panels,
                        2,
                    )?;
                    ctx.figure(if second { "fig15" } else { "fig14" }, fig.svg, fig.png);
                }
                let mut points = Vec::new();
                for (k, m) in reps.iter_mut().enumerate() {
                    representation::standardize_then_normalize(m);
                    let s = representation::silhouette_cosine(m, &labels)
                        .with_context(|| format!("{} {} {}", setup.dataset, reduction.as_str(), representation_name(k)))?;
                    let mut row = toml::Table::new();
                    row.insert("dataset".into(), setup.dataset.clone().into());
                    row.insert("reduction".into(), reduction.as_str().into());
                    row.insert("representation".into(), (k as i64).into());
                    row.insert("silhouette".into(), ((s * 1e5).round() / 1e5).into());
                    silhouettes.push(toml::Value::Table(row));
                    points.push((k as f64, s));
                }
                let line = plotting::LineSeries::new(format!("{} {}", setup.dataset, reduction.as_str()), points);
                silhouette_series.push(if second { line.dashed() } else { line });
                bar.inc(1);
            }
            bar.finish_and_clear();
        }
        if ctx.profile.paper_data() {
            let pts = PAPER_CONCAT.iter().enumerate().map(|(i, &s)| ((i + 1) as f64, s)).collect();
            // Solid like the other Alcock lines; the legend names it.
            silhouette_series.push(plotting::LineSeries::new("alcock concat, official notebook", pts));
        }
        let names: Vec<&str> = labelled.iter().map(|m| e03_finetune::display_name(m)).collect();
        let title = match names.as_slice() {
            [first, second, ..] => format!("Class silhouette per layer (Fig. A.1): {first} solid, {second} dashed"),
            _ => "Class silhouette per layer (Fig. A.1)".to_string(),
        };
        let fig = plotting::line_chart(
            &title,
            "representation (0 = input embedding, k = block k)",
            "silhouette (cosine, after StandardScaler + L2)",
            &silhouette_series,
            &[],
            false,
            false,
        )?;
        ctx.figure("figA1", fig.svg, fig.png);
        let results = ctx.results();
        results.insert(
            "note".into(),
            "Test windows of fold 0 (at most windows_per_class per class) through the A2 finetuned on fold 0 at the largest SPC. \
             representation 0 = input embedding, k = block k. Silhouette: cosine, after StandardScaler and row L2 \
             normalisation (the official notebook). paper_concat_alcock: the official notebook's concatenation scores for \
             blocks 1-6 on real Alcock data (other-results §7); the paper says the mean reduction peaks above 0.05."
                .into(),
        );
        results.insert(
            "paper_concat_alcock".into(),
            toml::Value::Array(PAPER_CONCAT.iter().map(|&v| v.into()).collect()),
        );
        results.insert("silhouette".into(), toml::Value::Array(silhouettes));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_goes_round_robin_over_curves_and_caps_each_class() {
        // Class 0: curve 10 has 3 windows, curve 11 has 1; class 1: curve 20 has 2.
        let items = vec![(0, 10, "a0"), (0, 10, "a1"), (0, 10, "a2"), (0, 11, "b0"), (1, 20, "c0"), (1, 20, "c1")];
        let got = round_robin(items.clone(), 3);
        assert_eq!(got, vec![(0, "a0"), (0, "b0"), (0, "a1"), (1, "c0"), (1, "c1")]);
        let got = round_robin(items, 1);
        assert_eq!(got, vec![(0, "a0"), (1, "c0")]);
    }

    #[test]
    fn representation_names_say_which_layer() {
        assert_eq!(representation_name(0), "input embedding");
        assert_eq!(representation_name(3), "block 3");
    }
}
