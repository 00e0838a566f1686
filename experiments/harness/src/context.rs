//! What an experiment sees while it runs: its profile, its data, a place for artifacts, and
//! sinks for its metrics and figures (written atomically by the runner when it succeeds).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Context as _;
use datasets::{DataStore, PreparedDataset};
use lightcurve::LightCurveSet;

use crate::Profile;

pub struct RunContext<'a> {
    pub profile: Profile,
    pub(crate) store: &'a DataStore,
    pub(crate) datasets: BTreeMap<String, PreparedDataset>,
    /// Large intermediate outputs of this experiment (checkpoints, caches): not committed.
    pub artifacts_dir: PathBuf,
    /// Artifacts folders of the upstream experiments, by name.
    pub upstream_artifacts: BTreeMap<String, PathBuf>,
    /// Results files of the upstream experiments, parsed.
    pub upstream_results: BTreeMap<String, toml::Table>,
    pub(crate) results: toml::Table,
    pub(crate) figures: Vec<(String, String, Vec<u8>)>,
    pub(crate) config: toml::Value,
}

impl RunContext<'_> {
    /// Reads one of the experiment's declared data sets.
    pub fn open(&self, manifest: &str) -> anyhow::Result<LightCurveSet> {
        let p = self
            .datasets
            .get(manifest)
            .with_context(|| format!("data set `{manifest}` was not declared by this experiment for this profile"))?;
        let set = self.store.open(p).with_context(|| format!("reading data set `{manifest}` from {}", p.dir.display()))?;
        log::info!("{manifest}: {} curves, {} observations", set.len(), set.n_observations());
        Ok(set)
    }

    /// Reads one of the experiment's declared star × instrument data sets (layout "causal-table").
    pub fn open_causal(&self, manifest: &str) -> anyhow::Result<survey_sim::causal::CausalSet> {
        let p = self
            .datasets
            .get(manifest)
            .with_context(|| format!("data set `{manifest}` was not declared by this experiment for this profile"))?;
        let set = self.store.open_causal(p).with_context(|| format!("reading data set `{manifest}` from {}", p.dir.display()))?;
        log::info!("{manifest}: {} curves of {} stars through {} instruments", set.observations.len(), set.stars.len(), set.instruments.len());
        Ok(set)
    }

    /// The prepared data set (folder, manifest, content hash).
    pub fn dataset(&self, manifest: &str) -> Option<&PreparedDataset> {
        self.datasets.get(manifest)
    }

    /// The experiment's config for this profile, deserialised into its type.
    pub fn config<T: serde::de::DeserializeOwned>(&self) -> anyhow::Result<T> {
        Ok(self.config.clone().try_into()?)
    }

    /// Metrics table written to `results/<profile>/<experiment>.toml`.
    pub fn results(&mut self) -> &mut toml::Table {
        &mut self.results
    }

    /// Records a rendered figure for `target`.
    pub fn figure(&mut self, target: &str, svg: String, png: Vec<u8>) {
        self.figures.push((target.to_string(), svg, png));
    }

    /// Upstream artifacts folder, or an error naming the missing experiment.
    pub fn upstream_dir(&self, experiment: &str) -> anyhow::Result<&PathBuf> {
        self.upstream_artifacts
            .get(experiment)
            .with_context(|| format!("upstream experiment `{experiment}` not declared"))
    }
}
