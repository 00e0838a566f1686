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

/// A numbered experiment. Implementations are thin: they wire library calls to figures and tables.
pub trait Experiment: Send + Sync {
    /// Crate-like name, e.g. `e01-data`.
    fn name(&self) -> &'static str;
    fn description(&self) -> &'static str;
    fn targets(&self) -> &'static [Target];
    /// Experiments whose outputs this one reads.
    fn upstream(&self) -> &'static [&'static str] {
        &[]
    }
    /// Upstream experiments whose *artifacts* (not only results) this one reads, e.g. weights.
    /// When this experiment must run and such an upstream's artifacts are missing (a fresh clone
    /// holds results but no artifacts) or stamped by another run, the upstream reruns too.
    fn upstream_artifacts(&self) -> &'static [&'static str] {
        &[]
    }
    /// The figure targets a run under `profile` draws (default: all of them). An experiment whose
    /// figures follow the profile's labelled sets (one figure per set) drops those it cannot draw,
    /// so that a profile with one labelled set is not forever "missing" the second set's figure.
    fn figures(&self, profile: &Profile) -> Vec<&'static str> {
        let _ = profile;
        self.targets().iter().filter(|t| t.kind == TargetKind::Figure).map(|t| t.name).collect()
    }
    /// Manifest names this experiment reads under a profile.
    fn datasets(&self, profile: &Profile) -> Vec<String>;
    /// The typed configuration for a profile (usually `profile.section(self.name())`, checked),
    /// serialised (its hash decides reruns).
    fn config(&self, profile: &Profile) -> anyhow::Result<toml::Value>;
    /// Workspace-relative folders whose sources the results depend on (their hash decides reruns).
    fn source_dirs(&self) -> &'static [&'static str];
    fn run(&self, ctx: &mut RunContext<'_>) -> anyhow::Result<()>;
}

#[cfg(test)]
mod tests {
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
