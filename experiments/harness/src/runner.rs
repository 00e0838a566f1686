//! `reproduce`: resolve targets to experiments, add their upstream experiments, run in dependency
//! order, skip what is up to date, and say why each rerun happens.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use datasets::DataStore;

use crate::context::RunContext;
use crate::fingerprint::{hash_sources, hash_str, Provenance};
use crate::{Experiment, Profile, TargetKind};

/// All experiments, in declaration order.
pub struct Registry {
    experiments: Vec<Box<dyn Experiment>>,
}

impl Registry {
    pub fn new(experiments: Vec<Box<dyn Experiment>>) -> Self {
        Self { experiments }
    }

    pub fn experiments(&self) -> impl Iterator<Item = &dyn Experiment> {
        self.experiments.iter().map(|e| e.as_ref())
    }

    pub fn get(&self, name: &str) -> Option<&dyn Experiment> {
        self.experiments().find(|e| e.name() == name)
    }

    /// The experiment producing `target` (a target name or an experiment name).
    pub fn resolve(&self, target: &str) -> anyhow::Result<&dyn Experiment> {
        if let Some(e) = self.get(target) {
            return Ok(e);
        }
        self.experiments()
            .find(|e| e.targets().iter().any(|t| t.name == target))
            .with_context(|| {
                let all: Vec<&str> = self.experiments().flat_map(|e| e.targets().iter().map(|t| t.name)).collect();
                format!("unknown target `{target}`; known targets: {} (or `all`)", all.join(", "))
            })
    }

    /// A profile's `[<experiment>]` sections must each name an experiment (a misspelt section name
    /// would otherwise be ignored silently).
    pub fn check_sections(&self, profile: &Profile) -> anyhow::Result<()> {
        for section in profile.section_names() {
            if self.get(section).is_none() {
                let known: Vec<&str> = self.experiments().map(|e| e.name()).collect();
                bail!(
                    "{}: section [{section}] names no experiment (known: {})",
                    profile.origin().display(),
                    known.join(", ")
                );
            }
        }
        Ok(())
    }

    /// Experiments needed for `targets`, upstream first.
    pub fn plan(&self, targets: &[String]) -> anyhow::Result<Vec<&dyn Experiment>> {
        let mut wanted: BTreeSet<&str> = BTreeSet::new();
        let mut stack: Vec<&str> = Vec::new();
        if targets.iter().any(|t| t == "all") {
            stack.extend(self.experiments().map(|e| e.name()));
        } else {
            for t in targets {
                stack.push(self.resolve(t)?.name());
            }
        }
        while let Some(n) = stack.pop() {
            if wanted.insert(n) {
                let e = self.get(n).with_context(|| format!("unknown upstream experiment `{n}`"))?;
                stack.extend(e.upstream().iter().copied());
            }
        }
        // Topological order (declaration order breaks ties).
        let mut done: BTreeSet<&str> = BTreeSet::new();
        let mut order = Vec::new();
        while order.len() < wanted.len() {
            let before = order.len();
            for e in self.experiments() {
                if wanted.contains(e.name()) && !done.contains(e.name()) && e.upstream().iter().all(|u| done.contains(u)) {
                    done.insert(e.name());
                    order.push(e);
                }
            }
            if order.len() == before {
                bail!("experiments have a dependency cycle among: {wanted:?}");
            }
        }
        Ok(order)
    }
}

/// Options of a reproduce run.
#[derive(Debug, Clone)]
pub struct ReproduceOptions {
    pub profile: Profile,
    /// Refuse data sets whose hashes are not pinned.
    pub locked: bool,
    /// Rerun even when up to date.
    pub force: bool,
    /// Only report what would run.
    pub dry_run: bool,
}

/// What happened to one experiment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    UpToDate,
    Ran { reasons: Vec<String> },
    WouldRun { reasons: Vec<String> },
}

/// Runs experiments inside a workspace layout (results/, figures/, artifacts/).
pub struct Runner<'a> {
    pub root: PathBuf,
    pub registry: &'a Registry,
    pub store: DataStore,
}

impl<'a> Runner<'a> {
    pub fn new(root: &Path, registry: &'a Registry) -> Self {
        let store = DataStore::new(root.join("data-manifests"), root.join("data"));
        Self {
            root: root.to_path_buf(),
            registry,
            store,
        }
    }

    pub fn results_path(&self, profile: &Profile, experiment: &str) -> PathBuf {
        self.root.join("results").join(profile.as_str()).join(format!("{experiment}.toml"))
    }

    pub fn figure_path(&self, profile: &Profile, target: &str, ext: &str) -> PathBuf {
        self.root.join("figures").join(profile.as_str()).join(format!("{target}.{ext}"))
    }

    pub fn artifacts_dir(&self, profile: &Profile, experiment: &str) -> PathBuf {
        self.root.join("artifacts").join(profile.as_str()).join(experiment)
    }

    /// Runs the plan for `targets`; returns each experiment's outcome.
    pub fn reproduce(&mut self, targets: &[String], opts: &ReproduceOptions) -> anyhow::Result<Vec<(String, Outcome)>> {
        let plan = self.registry.plan(targets)?;
        self.registry.check_sections(&opts.profile)?;
        for t in targets {
            if let Ok(exp) = self.registry.resolve(t) {
                let is_figure = exp.targets().iter().any(|x| x.name == t && x.kind == TargetKind::Figure);
                if is_figure && !exp.figures(&opts.profile).contains(&t.as_str()) {
                    bail!(
                        "{t} is not drawn under profile {} ({}): it needs a labelled set the profile does not list (it draws {})",
                        opts.profile,
                        opts.profile.origin().display(),
                        exp.figures(&opts.profile).join(", ")
                    );
                }
            }
        }
        // Decide every experiment first (fingerprints are deterministic), then let experiments that
        // must run pull in upstreams whose artifacts they need but which are missing.
        let mut decided = Vec::with_capacity(plan.len());
        let mut fingerprints: BTreeMap<String, String> = BTreeMap::new();
        for exp in &plan {
            let name = exp.name();
            let profile = &opts.profile;
            let mut prepared = BTreeMap::new();
            for ds in exp.datasets(profile) {
                let m = self.store.manifest(&ds)?;
                let p = self
                    .store
                    .prepare(&m, opts.locked)
                    .with_context(|| format!("preparing data set `{ds}` for {name}"))?;
                match p.how {
                    datasets::Preparation::GeneratedVerified => println!("  data {ds}: generated and verified against its manifest"),
                    datasets::Preparation::GeneratedUnpinned => println!(
                        "  data {ds}: generated; its manifest has no hashes for this source (run `cargo xtask data lock {ds}` to pin)"
                    ),
                    datasets::Preparation::PresentUnpinned => println!("  data {ds}: present but unpinned"),
                    datasets::Preparation::Verified => {}
                }
                prepared.insert(ds, p);
            }
            let config = exp.config(profile)?;
            let config_text = toml::to_string(&config)?;
            let upstream: BTreeMap<String, String> = exp
                .upstream()
                .iter()
                .map(|u| {
                    let fp = fingerprints
                        .get(*u)
                        .cloned()
                        .or_else(|| self.stored_provenance(profile, u).map(|p| p.fingerprint))
                        .unwrap_or_default();
                    (u.to_string(), fp)
                })
                .collect();
            let now = Provenance {
                experiment: name.to_string(),
                profile: profile.to_string(),
                config_hash: hash_str(&config_text),
                code_hash: hash_sources(&self.root, exp.source_dirs()),
                data: prepared.iter().map(|(k, p)| (k.clone(), p.content_hash.clone())).collect(),
                upstream,
                fingerprint: String::new(),
                git_revision: git_revision(&self.root),
            }
            .seal();

            let mut reasons = match self.stored_provenance(profile, name) {
                None => vec!["it has no results yet".to_string()],
                Some(before) => now.reasons_against(&before),
            };
            for figure in exp.figures(profile) {
                for ext in ["svg", "png"] {
                    let p = self.figure_path(profile, figure, ext);
                    if !p.exists() {
                        reasons.push(format!("{} is missing", p.strip_prefix(&self.root).unwrap_or(&p).display()));
                    }
                }
            }
            if opts.force && reasons.is_empty() {
                reasons.push("--force".to_string());
            }
            fingerprints.insert(name.to_string(), now.fingerprint.clone());
            decided.push((*exp, prepared, config, now, reasons));
        }
        for i in (0..decided.len()).rev() {
            if decided[i].4.is_empty() {
                continue;
            }
            let (needer, needs) = (decided[i].0.name(), decided[i].0.upstream_artifacts());
            for j in 0..i {
                let (up, _, _, up_now, up_reasons) = &mut decided[j];
                if needs.contains(&up.name()) && up_reasons.is_empty() && !self.artifacts_match(&opts.profile, up.name(), &up_now.fingerprint) {
                    up_reasons.push(format!("{needer} needs its artifacts, which are missing here (results are committed, artifacts are not)"));
                }
            }
        }

        let mut outcomes = Vec::new();
        for (exp, prepared, config, now, reasons) in decided {
            let name = exp.name();
            let profile = &opts.profile;
            if reasons.is_empty() {
                println!("{name}: up to date (config, code, data and upstream unchanged)");
                outcomes.push((name.to_string(), Outcome::UpToDate));
                continue;
            }
            println!("{name}: rerunning because {}", reasons.join("; "));
            if opts.dry_run {
                outcomes.push((name.to_string(), Outcome::WouldRun { reasons }));
                continue;
            }
            let started = std::time::Instant::now();
            let mut ctx = RunContext {
                profile: profile.clone(),
                store: &self.store,
                datasets: prepared,
                artifacts_dir: self.artifacts_dir(profile, name),
                upstream_artifacts: exp.upstream().iter().map(|u| (u.to_string(), self.artifacts_dir(profile, u))).collect(),
                upstream_results: exp
                    .upstream()
                    .iter()
                    .filter_map(|u| self.read_results(profile, u).map(|t| (u.to_string(), t)))
                    .collect(),
                results: toml::Table::new(),
                figures: Vec::new(),
                config: config.clone(),
            };
            prepare_artifacts(&ctx.artifacts_dir, &now.fingerprint, opts.force)?;
            exp.run(&mut ctx).with_context(|| format!("experiment {name} failed"))?;
            let RunContext { results, figures, .. } = ctx;
            for (target, svg, png) in figures {
                write_atomic(&self.figure_path(profile, &target, "svg"), svg.as_bytes())?;
                write_atomic(&self.figure_path(profile, &target, "png"), &png)?;
            }
            let mut doc = toml::Table::new();
            doc.insert("provenance".into(), toml::Value::try_from(&now)?);
            doc.insert("config".into(), config);
            for (k, v) in results {
                doc.insert(k, v);
            }
            write_atomic(&self.results_path(profile, name), toml::to_string_pretty(&doc)?.as_bytes())?;
            println!("{name}: done in {:.1} s", started.elapsed().as_secs_f64());
            outcomes.push((name.to_string(), Outcome::Ran { reasons }));
        }
        Ok(outcomes)
    }

    /// Whether the artifacts folder of `experiment` is stamped with `fingerprint`.
    fn artifacts_match(&self, profile: &Profile, experiment: &str, fingerprint: &str) -> bool {
        std::fs::read_to_string(self.artifacts_dir(profile, experiment).join(".fingerprint")).is_ok_and(|s| s.trim() == fingerprint)
    }

    fn read_results(&self, profile: &Profile, experiment: &str) -> Option<toml::Table> {
        let text = std::fs::read_to_string(self.results_path(profile, experiment)).ok()?;
        toml::from_str(&text).ok()
    }

    fn stored_provenance(&self, profile: &Profile, experiment: &str) -> Option<Provenance> {
        self.read_results(profile, experiment)?.get("provenance")?.clone().try_into().ok()
    }
}

/// Artifacts (checkpoints, caches) belong to one fingerprint: those of an interrupted run with the
/// same fingerprint are kept (training resumes from them); any others, or all with `--force`, are
/// discarded.
fn prepare_artifacts(dir: &Path, fingerprint: &str, force: bool) -> anyhow::Result<()> {
    let stamp = dir.join(".fingerprint");
    let same = std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == fingerprint);
    if dir.exists() && (force || !same) {
        println!("  discarding artifacts of an earlier configuration in {}", dir.display());
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(&stamp, fingerprint.as_bytes())
}

/// Writes a file through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(d) = path.parent() {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let tmp = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}

fn git_revision(root: &Path) -> String {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match run(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) => {
            let dirty = run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{rev}-dirty")
            } else {
                rev
            }
        }
        None => "unknown".to_string(),
    }
}
