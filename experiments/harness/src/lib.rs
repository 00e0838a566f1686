//! The experiment harness: what an experiment declares (targets, data, upstream experiments, a
//! typed config per profile), the context it runs in, and the runner behind `cargo xtask reproduce`
//! that runs what is needed in dependency order, skips what is up to date and says why it reruns.

pub mod context;
pub mod fingerprint;
pub mod profile;
pub mod runner;

pub use context::RunContext;
pub use profile::{Profile, ProfileData};
pub use runner::{Registry, ReproduceOptions, Runner};

/// One output of an experiment: a figure or a table of the paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// Name used on the command line, e.g. `fig4`, `table1`.
    pub name: &'static str,
    pub kind: TargetKind,
    pub description: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// Written to `figures/<profile>/<name>.svg` and `.png`.
    Figure,
    /// A table inside `results/<profile>/<experiment>.toml` (and, when drawn, also a figure).
    Table,
}

/// Runs independent jobs side by side, one per core, when `side_by_side` (else one after
/// another, e.g. on a GPU), and returns their results in `jobs` order.
///
/// For many small trainings (classifier heads, GRU baselines): their matrix products are too
/// small to spread over cores, so one training keeps one core busy and two run in the time of one
/// (`crates/classifier/examples/head_speed.rs`). Each job must build its own device and RNG from
/// its own seed; then every result is the one a serial run gives, bit for bit, for any number of
/// cores. The first error (in `jobs` order) is returned.
pub fn on_every_core<J, R, E, F>(jobs: Vec<J>, side_by_side: bool, run: F) -> Result<Vec<R>, E>
where
    J: Send,
    R: Send,
    E: Send,
    F: Fn(J) -> Result<R, E> + Sync,
{
    use rayon::prelude::*;
    if !side_by_side {
        return jobs.into_iter().map(run).collect();
    }
    jobs.into_par_iter().map(|job| run(job)).collect::<Vec<_>>().into_iter().collect()
}

/// The figure targets drawable under `profile` when some figures need a number of labelled sets
/// (`needs`: figure, labelled sets it needs): for [`Experiment::figures`].
pub fn figures_drawable(targets: &[Target], profile: &Profile, needs: &[(&str, usize)]) -> Vec<&'static str> {
    let n_sets = profile.data().labelled.len();
    targets
        .iter()
        .filter(|t| t.kind == TargetKind::Figure)
        .map(|t| t.name)
        .filter(|name| needs.iter().all(|(f, n)| f != name || n_sets >= *n))
        .collect()
}

/// The data sets an experiment reads under a profile (their manifests are prepared before it runs
/// and their hashes decide reruns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// The pretraining set and every labelled set.
    AllSets,
    /// The profile's pretraining set.
    PretrainingSet,
    /// The profile's labelled sets.
    LabelledSets,
    /// The manifest named by this string key of the experiment's own config section.
    ConfigKey(&'static str),
    /// No data set (tests).
    Nothing,
}

/// What an experiment is, declared once as a `const`: the runner, xtask's commands and the rerun
/// logic read it through [`Experiment`]'s provided methods.
#[derive(Debug, Clone, Copy)]
pub struct Declaration {
    /// Crate-like name, e.g. `e01-data`; also its results file and profile section.
    pub name: &'static str,
    pub description: &'static str,
    pub targets: &'static [Target],
    /// Experiments whose outputs this one reads.
    pub upstream: &'static [&'static str],
    /// Upstream experiments whose *artifacts* (not only results) this one reads, e.g. weights.
    /// When this experiment must run and such an upstream's artifacts are missing (a fresh clone
    /// holds results but no artifacts) or stamped by another run, the upstream reruns too.
    pub upstream_artifacts: &'static [&'static str],
    pub reads: Reads,
    /// Figures drawn once per labelled set: (figure, labelled sets it needs). A profile with fewer
    /// sets does not draw them, so it is not forever "missing" the second set's figure.
    pub figures_need_sets: &'static [(&'static str, usize)],
    /// Workspace-relative folders whose sources the results depend on (their hash decides reruns).
    pub source_dirs: &'static [&'static str],
}

/// A numbered experiment. Implementations are thin: they wire library calls to figures and tables.
pub trait Experiment: Send + Sync {
    fn declaration(&self) -> &'static Declaration;
    /// The typed configuration for a profile (usually `profile.section(self.name())`, checked),
    /// serialised (its hash decides reruns).
    fn config(&self, profile: &Profile) -> anyhow::Result<toml::Value>;
    fn run(&self, ctx: &mut RunContext<'_>) -> anyhow::Result<()>;

    fn name(&self) -> &'static str {
        self.declaration().name
    }
    fn description(&self) -> &'static str {
        self.declaration().description
    }
    fn targets(&self) -> &'static [Target] {
        self.declaration().targets
    }
    fn upstream(&self) -> &'static [&'static str] {
        self.declaration().upstream
    }
    fn upstream_artifacts(&self) -> &'static [&'static str] {
        self.declaration().upstream_artifacts
    }
    fn source_dirs(&self) -> &'static [&'static str] {
        self.declaration().source_dirs
    }
    /// The figure targets a run under `profile` draws.
    fn figures(&self, profile: &Profile) -> Vec<&'static str> {
        figures_drawable(self.targets(), profile, self.declaration().figures_need_sets)
    }
    /// Manifest names this experiment reads under a profile.
    fn datasets(&self, profile: &Profile) -> Vec<String> {
        match self.declaration().reads {
            Reads::AllSets => profile.data().all(),
            Reads::PretrainingSet => vec![profile.data().pretraining.clone()],
            Reads::LabelledSets => profile.data().labelled.clone(),
            // A config the profile cannot give fails later, with its own message, when it runs.
            Reads::ConfigKey(key) => self
                .config(profile)
                .ok()
                .and_then(|c| c.get(key).and_then(|v| v.as_str()).map(|s| vec![s.to_string()]))
                .unwrap_or_default(),
            Reads::Nothing => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn jobs_on_every_core_come_back_in_order_with_the_first_error() {
        for side_by_side in [true, false] {
            let squares = super::on_every_core((0u64..64).collect(), side_by_side, |i| Ok::<_, String>(i * i)).unwrap();
            assert_eq!(squares, (0u64..64).map(|i| i * i).collect::<Vec<_>>());
            let err = super::on_every_core((0u64..64).collect(), side_by_side, |i| if i % 10 == 7 { Err(i) } else { Ok(i) });
            assert_eq!(err.unwrap_err(), 7);
        }
    }

    use super::*;

    #[test]
    fn figures_of_a_missing_labelled_set_are_not_drawable() {
        let targets = [
            Target { name: "fig11", kind: TargetKind::Figure, description: "" },
            Target { name: "fig12", kind: TargetKind::Figure, description: "" },
            Target { name: "table3", kind: TargetKind::Table, description: "" },
        ];
        let profile = |labelled: &str| {
            let text = format!("description = \"t\"\npaper_data = false\nguard_baseline = false\n[data]\npretraining = \"p\"\nlabelled = [{labelled}]\n");
            Profile::parse("t", std::path::Path::new("t.toml"), &text).unwrap()
        };
        assert_eq!(figures_drawable(&targets, &profile("\"a\""), &[("fig12", 2)]), ["fig11"]);
        assert_eq!(figures_drawable(&targets, &profile("\"a\", \"b\""), &[("fig12", 2)]), ["fig11", "fig12"]);
    }
}
