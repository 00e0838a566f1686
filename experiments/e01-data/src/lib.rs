//! e01-data: the data sets themselves — paper Tables 1–2 (class counts) and Figs. 4–5
//! (magnitude distributions; Δt boxplots on a log scale).

use anyhow::Result;
use harness::{Declaration, Experiment, Profile, Reads, RunContext, Target, TargetKind};
use lightcurve::LightCurveSet;
use serde::{Deserialize, Serialize};

pub struct E01Data;

/// Sizes of the plots; the statistics always use every observation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Config {
    pub histogram_bins: usize,
}

/// Official class counts (non-test pool + 100 test curves per class), spec §10.
const OFFICIAL_ALCOCK: [(&str, usize); 6] =
    [("Cep_0", 1182), ("Cep_1", 683), ("EC", 6824), ("LPV", 3046), ("RRab", 7397), ("RRc", 1762)];
const OFFICIAL_ATLAS: [(&str, usize); 5] =
    [("CB", 80318), ("DB", 28867), ("Mira", 7470), ("Other", 281354), ("Pulse", 25121)];

const TARGETS: &[Target] = &[
    Target {
        name: "table1",
        kind: TargetKind::Table,
        description: "Alcock (MACHO labelled) class counts, ours beside the official ones",
    },
    Target {
        name: "table2",
        kind: TargetKind::Table,
        description: "ATLAS class counts, ours beside the official ones",
    },
    Target {
        name: "fig4",
        kind: TargetKind::Figure,
        description: "magnitude distributions of the pretraining and labelled sets",
    },
    Target {
        name: "fig5",
        kind: TargetKind::Figure,
        description: "time between consecutive observations per data set (boxplots, log scale)",
    },
];

const DECLARATION: Declaration = Declaration {
    name: "e01-data",
    description: "data sets: class counts, magnitude and cadence distributions",
    targets: TARGETS,
    upstream: &[],
    upstream_artifacts: &[],
    reads: Reads::AllSets,
    figures_need_sets: &[],
    source_dirs: &[
        "experiments/e01-data",
        "experiments/harness",
        "crates/lightcurve",
        "crates/datasets",
        "crates/survey-sim",
        "crates/plotting",
    ],
};

impl Experiment for E01Data {
    fn declaration(&self) -> &'static Declaration {
        &DECLARATION
    }

    fn config(&self, profile: &Profile) -> Result<toml::Value> {
        Ok(toml::Value::try_from(profile.section::<Config>(self.name())?)?)
    }

    fn run(&self, ctx: &mut RunContext<'_>) -> Result<()> {
        let cfg: Config = ctx.config()?;
        let data = ctx.profile.data();
        let names = data.all();
        let mut mags = Vec::new();
        let mut gaps = Vec::new();
        let mut summary = toml::Table::new();
        for name in &names {
            let set = ctx.open(name)?;
            summary.insert(name.clone(), toml::Value::Table(dataset_summary(&set)));
            mags.push(plotting::Series1D {
                name: display_name(name),
                values: set.curves().flat_map(|c| c.mag.iter().copied()).collect(),
            });
            gaps.push(plotting::Series1D {
                name: display_name(name),
                values: time_gaps(&set),
            });
            if let Some(counts) = set.class_counts() {
                let (target, official): (&str, &[(&str, usize)]) = if name.contains("atlas") {
                    ("table2", &OFFICIAL_ATLAS)
                } else {
                    ("table1", &OFFICIAL_ALCOCK)
                };
                ctx.results().insert(target.to_string(), class_table(name, &counts, official));
            }
        }
        ctx.results().insert("datasets".into(), toml::Value::Table(summary));

        let fig4 = plotting::histograms(
            "Magnitude distributions (Fig. 4)",
            "magnitude (mag; MACHO-like: instrumental)",
            &mags,
            cfg.histogram_bins,
            false,
            true,
        )?;
        ctx.figure("fig4", fig4.svg, fig4.png);
        let fig5 = plotting::boxplots("Time between consecutive observations (Fig. 5)", "Δt (days)", &gaps, true)?;
        ctx.figure("fig5", fig5.svg, fig5.png);
        Ok(())
    }
}

/// Legend name: `synthetic-alcock-small` → `alcock (synthetic)`.
fn display_name(manifest: &str) -> String {
    match manifest.strip_prefix("synthetic-") {
        Some(rest) => format!("{} (synthetic)", rest.rsplit_once('-').map_or(rest, |(a, _)| a)),
        None => manifest.to_string(),
    }
}

/// Δt between consecutive observations of every curve (days).
pub fn time_gaps(set: &LightCurveSet) -> Vec<f64> {
    set.curves().flat_map(|c| c.time.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>()).collect()
}

fn dataset_summary(set: &LightCurveSet) -> toml::Table {
    let lens: Vec<f64> = set.curves().map(|c| c.len() as f64).collect();
    let gaps = time_gaps(set);
    let mags: Vec<f64> = set.curves().flat_map(|c| c.mag.iter().copied()).collect();
    let errs: Vec<f64> = set.curves().flat_map(|c| c.err.iter().copied()).collect();
    let mut sorted = mags.clone();
    sorted.sort_by(f64::total_cmp);
    let q = |p: f64| lightcurve::stats::quantile_nearest(&sorted, p).unwrap_or(f64::NAN);
    let mut t = toml::Table::new();
    t.insert("curves".into(), (set.len() as i64).into());
    t.insert("observations".into(), (set.n_observations() as i64).into());
    t.insert("median_points_per_curve".into(), round(lightcurve::stats::median(&lens).unwrap_or(0.0), 1).into());
    t.insert("median_dt_days".into(), round(lightcurve::stats::median(&gaps).unwrap_or(f64::NAN), 5).into());
    t.insert("mag_p05".into(), round(q(0.05), 3).into());
    t.insert("mag_p95".into(), round(q(0.95), 3).into());
    t.insert("median_err".into(), round(lightcurve::stats::median(&errs).unwrap_or(f64::NAN), 4).into());
    t
}

fn class_table(dataset: &str, ours: &[(String, usize)], official: &[(&str, usize)]) -> toml::Value {
    let total: usize = ours.iter().map(|c| c.1).sum();
    let official_total: usize = official.iter().map(|c| c.1).sum();
    let rows: Vec<toml::Value> = ours
        .iter()
        .map(|(class, n)| {
            let off = official.iter().find(|o| o.0 == class).map_or(0, |o| o.1);
            let mut r = toml::Table::new();
            r.insert("class".into(), class.clone().into());
            r.insert("count".into(), (*n as i64).into());
            r.insert("fraction".into(), round(*n as f64 / total.max(1) as f64, 4).into());
            r.insert("official_count".into(), (off as i64).into());
            r.insert("official_fraction".into(), round(off as f64 / official_total as f64, 4).into());
            toml::Value::Table(r)
        })
        .collect();
    let mut t = toml::Table::new();
    t.insert("dataset".into(), dataset.into());
    t.insert("total".into(), (total as i64).into());
    t.insert("official_total".into(), (official_total as i64).into());
    t.insert("official_source".into(), "spec §10: objects.csv counts + 100 test curves per class".into());
    t.insert("rows".into(), toml::Value::Array(rows));
    toml::Value::Table(t)
}

fn round(x: f64, digits: i32) -> f64 {
    let p = 10f64.powi(digits);
    (x * p).round() / p
}
