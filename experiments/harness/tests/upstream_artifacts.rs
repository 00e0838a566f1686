//! A fresh clone has results but no artifacts: an experiment that must rerun and reads an
//! upstream's artifacts makes that upstream rerun too; when nothing needs to run, nothing does.

use std::sync::atomic::{AtomicUsize, Ordering};

use harness::runner::Outcome;
use harness::{Declaration, Experiment, Profile, Reads, Registry, ReproduceOptions, RunContext, Runner, Target, TargetKind};

static UP_RUNS: AtomicUsize = AtomicUsize::new(0);
static DOWN_CONFIG: AtomicUsize = AtomicUsize::new(0);

struct Up;
struct Down;

const UP_TARGETS: &[Target] = &[Target { name: "up", kind: TargetKind::Table, description: "weights" }];
const DOWN_TARGETS: &[Target] = &[Target { name: "down", kind: TargetKind::Table, description: "uses the weights" }];

const UP: Declaration = Declaration {
    name: "up",
    description: "writes an artifact",
    targets: UP_TARGETS,
    upstream: &[],
    upstream_artifacts: &[],
    reads: Reads::Nothing,
    figures_need_sets: &[],
    source_dirs: &[],
};

const DOWN: Declaration = Declaration {
    name: "down",
    description: "reads the artifact",
    targets: DOWN_TARGETS,
    upstream: &["up"],
    upstream_artifacts: &["up"],
    reads: Reads::Nothing,
    figures_need_sets: &[],
    source_dirs: &[],
};

impl Experiment for Up {
    fn declaration(&self) -> &'static Declaration {
        &UP
    }
    fn config(&self, _: &Profile) -> anyhow::Result<toml::Value> {
        Ok(toml::Value::Table(toml::Table::new()))
    }
    fn run(&self, ctx: &mut RunContext<'_>) -> anyhow::Result<()> {
        UP_RUNS.fetch_add(1, Ordering::SeqCst);
        std::fs::write(ctx.artifacts_dir.join("weights"), "w")?;
        Ok(())
    }
}

impl Experiment for Down {
    fn declaration(&self) -> &'static Declaration {
        &DOWN
    }
    fn config(&self, _: &Profile) -> anyhow::Result<toml::Value> {
        let mut t = toml::Table::new();
        t.insert("k".into(), (DOWN_CONFIG.load(Ordering::SeqCst) as i64).into());
        Ok(toml::Value::Table(t))
    }
    fn run(&self, ctx: &mut RunContext<'_>) -> anyhow::Result<()> {
        let w = std::fs::read_to_string(ctx.upstream_dir("up")?.join("weights"))?;
        anyhow::ensure!(w == "w");
        Ok(())
    }
}

fn ran(outcomes: &[(String, Outcome)], name: &str) -> bool {
    outcomes.iter().any(|(n, o)| n == name && matches!(o, Outcome::Ran { .. }))
}

#[test]
fn missing_upstream_artifacts_rerun_the_upstream_only_when_needed() {
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::new(vec![Box::new(Up), Box::new(Down)]);
    let profile = Profile::parse(
        "t",
        std::path::Path::new("profiles/t.toml"),
        "description = \"t\"\npaper_data = false\nguard_baseline = false\n[data]\npretraining = \"p\"\nlabelled = []\n",
    )
    .unwrap();
    let opts = ReproduceOptions { profile, locked: false, force: false, dry_run: false };
    let run = || Runner::new(root.path(), &registry).reproduce(&["down".to_string()], &opts).unwrap();

    let first = run();
    assert!(ran(&first, "up") && ran(&first, "down"));
    assert_eq!(UP_RUNS.load(Ordering::SeqCst), 1);

    // A fresh clone: results committed, artifacts absent. Nothing to do, so nothing runs.
    std::fs::remove_dir_all(root.path().join("artifacts")).unwrap();
    let again = run();
    assert!(again.iter().all(|(_, o)| *o == Outcome::UpToDate), "{again:?}");

    // `down` changes: it needs `up`'s weights, which are missing, so `up` reruns first.
    DOWN_CONFIG.store(1, Ordering::SeqCst);
    let changed = run();
    assert!(ran(&changed, "up") && ran(&changed, "down"), "{changed:?}");
    assert_eq!(UP_RUNS.load(Ordering::SeqCst), 2);

    // With the artifacts in place, a further change to `down` leaves `up` alone.
    DOWN_CONFIG.store(2, Ordering::SeqCst);
    let third = run();
    assert!(!ran(&third, "up") && ran(&third, "down"), "{third:?}");
}
