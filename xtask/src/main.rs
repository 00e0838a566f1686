//! `cargo xtask`: the project's command runner (rust-analyzer's xtask pattern).
//!
//! Run `cargo xtask --help` for the commands.

mod bench;
mod check;
mod claims;
mod compare;
mod data;
mod weights;
mod embed;

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Parser, Subcommand};
use harness::{Profile, Registry, ReproduceOptions, Runner};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Reproduce the Astromer 2 paper: data, experiments, figures, checks.",
    long_about = "Reproduce the Astromer 2 paper (Donoso-Oliva et al. 2026) end to end.\n\n\
        Profiles: smoke (CI, minutes), small (default, a laptop), paper (the paper's sizes, real data, GPU).\n\
        Outputs: results/<profile>/<experiment>.toml and figures/<profile>/<target>.svg|png.\n\
        Data enters only through data-manifests/*.toml, every file pinned by sha256."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List experiments, their targets, data sets and upstream experiments.
    List {
        /// A profile: profiles/<name>.toml (smoke, small, paper, or your own).
        #[arg(long, default_value = "small")]
        profile: String,
    },
    /// Run what is needed to produce targets (e.g. `fig4 table1`, an experiment name, or `all`),
    /// in dependency order, skipping what is up to date and saying why anything reruns.
    Reproduce {
        /// Targets, experiment names, or `all`.
        #[arg(required = true)]
        targets: Vec<String>,
        /// A profile: profiles/<name>.toml (smoke, small, paper, or your own).
        #[arg(long, default_value = "small")]
        profile: String,
        /// Refuse data sets whose manifests have no trusted hashes.
        #[arg(long)]
        locked: bool,
        /// Rerun even what is up to date.
        #[arg(long)]
        force: bool,
        /// Only say what would run and why.
        #[arg(long)]
        dry_run: bool,
    },
    /// Regression gate: compare results/<profile>/*.toml (the working tree) with a baseline under the
    /// tolerance rules of results/tolerances.toml, print every ruled metric (baseline, now, delta,
    /// tolerance, verdict) and fail on REGRESSION, changed or MISSING.
    #[command(long_about = "Regression gate: compare results/<profile>/*.toml in the working tree (fresh) with a \
        baseline — the same files at a git revision (--against, default HEAD) or in a folder (--baseline-dir) — \
        under the pre-registered tolerance rules of results/tolerances.toml.\n\n\
        Prints a table of every ruled metric: baseline, now, delta, tolerance and verdict (ok, REGRESSION, improved, \
        changed, new, MISSING; --all adds unruled metrics). Exits non-zero on any REGRESSION, changed or MISSING. \
        A file absent at the baseline makes its metrics `new`, which passes. Read-only: runs no experiment.\n\n\
        To accept a change: rerun the experiments and commit the new results with a message saying why. \
        See docs/regression.md for rule syntax and how metric ids are formed.")]
    Check(check::CheckArgs),
    /// Evaluate the pre-registered claims of the paper (results/claims.toml) on a profile's results:
    /// holds / FAILS / inconclusive / no data, per claim and instance.
    #[command(long_about = claims::LONG_ABOUT)]
    Claims(claims::ClaimsArgs),
    /// Run a variant (a config overlay, variants/<name>.toml) beside the baseline and print which
    /// metrics it moves; `--list` shows the ready variants.
    #[command(long_about = "Run a variant — a named config overlay in variants/<name>.toml, e.g. the paper's masking \
        split instead of the code's — beside the baseline on identical data and folds.\n\n\
        First brings the baseline (results/<profile>/ of this tree) up to date for the targets (on small, stops \
        instead if that would rerun anything, unless --allow-baseline-run). Then runs the variant in \
        artifacts/variants/<name>/ (sources and data linked from this tree; experiments the overlay does not \
        change are taken from the baseline), compares every ruled metric under results/tolerances.toml and writes \
        results/<profile>/compare/<name>.toml and figures/<profile>/compare/<name>.svg|png. A REGRESSION verdict \
        is a finding (the variant moved the metric beyond the tolerance), not a failure: the exit status is 0.\n\n\
        See docs/variants.md for the file format and merge rules.")]
    Compare(compare::CompareArgs),
    /// Embed light curves (a long table or an official-layout folder) with a trained or imported
    /// checkpoint: one row per object (or window) of pooled encoder outputs.
    #[command(long_about = embed::LONG_ABOUT)]
    Embed(embed::EmbedArgs),
    /// Official TensorFlow checkpoints: inspect keys, import into our format, check parity with the
    /// official outputs.
    #[command(long_about = weights::LONG_ABOUT)]
    Weights {
        #[command(subcommand)]
        command: weights::WeightsCommand,
    },
    /// Data sets: generate, verify, fetch, pin.
    Data {
        #[command(subcommand)]
        command: data::DataCommand,
    },
    /// Training and inference windows/s, GFLOP/s, % of the CPU's nominal peak and peak memory of
    /// A2 and the small encoder (window 200) on this build's device (CPU, or CUDA with
    /// `--features cuda`), beside PyTorch (like-for-like attention and fused SDPA) when installed.
    /// The default (2 encoders × 2 batches × 2 modes × 5 repeats, Rust and 2 PyTorch forms) takes
    /// about 20 min on 2 cores; `--encoder small --batch 32 --repeats 3` a few.
    Bench {
        /// Encoders: a2 (the paper's: 6 blocks, d 256, FFN 512) and/or small (the small profile's
        /// A2: 3 blocks, d 128, FFN 256).
        #[arg(long, value_delimiter = ',', default_value = "a2,small")]
        encoder: Vec<String>,
        /// Batch sizes to measure.
        #[arg(long, value_delimiter = ',', default_value = "32,256")]
        batch: Vec<usize>,
        /// Steps per timing (after one warm-up step).
        #[arg(long, default_value_t = 1)]
        steps: usize,
        /// Timings per configuration; the table shows their median and range.
        #[arg(long, default_value_t = 5)]
        repeats: usize,
        /// Skip the PyTorch reference.
        #[arg(long)]
        no_torch: bool,
    },
    /// Compare the Rust model with the independent PyTorch reference (tools/parity; needs python3
    /// with torch, safetensors and numpy). Opt-in: not part of the test command.
    Parity {
        /// Where the exported checkpoints, inputs and outputs go.
        #[arg(long, default_value = "target/parity")]
        dir: PathBuf,
        /// Require every output within 1e-5 absolute (see docs/parity.md for why that is stricter than f32 allows).
        #[arg(long)]
        strict: bool,
    },
    /// (internal) one bench configuration, run in a child process.
    #[command(hide = true)]
    BenchOne { encoder: String, mode: String, batch: usize, steps: usize, repeats: usize },
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// Every experiment, in declaration order.
pub fn experiments() -> Vec<Box<dyn harness::Experiment>> {
    vec![
        Box::new(e01_data::E01Data),
        Box::new(e02_pretrain::E02Pretrain),
        Box::new(e03_finetune::E03Finetune),
        Box::new(e10_starclr::E10StarClr),
        Box::new(e04_classify::E04Classify),
        Box::new(e05_ablation::E05Ablation),
        Box::new(e06_attention::E06Attention),
        Box::new(e07_embeddings::E07Embeddings),
        Box::new(e08_reconstruction::E08Reconstruction),
        Box::new(e09_causal::E09Causal),
    ]
}

/// Reads `profiles/<name>.toml` of the workspace.
pub fn load_profile(root: &Path, name: &str) -> Result<Profile> {
    Profile::load(&root.join("profiles"), name)
}

pub fn registry() -> Registry {
    Registry::new(experiments())
}

fn parity(root: &Path, dir: &Path, strict: bool) -> Result<()> {
    use std::process::Command as Process;
    let dir = root.join(dir);
    let status = Process::new(env!("CARGO"))
        .args(["run", "--quiet", "-p", "astromer", "--example", "export_parity", "--"])
        .arg(&dir)
        .current_dir(root)
        .status()?;
    anyhow::ensure!(status.success(), "exporting the Rust model failed");
    let mut py = Process::new("python3");
    py.arg(root.join("tools/parity/parity.py")).arg(&dir);
    if strict {
        py.arg("--strict");
    }
    let status = py.status().map_err(|e| anyhow::anyhow!("running python3: {e}"))?;
    anyhow::ensure!(
        status.success(),
        "parity check failed (or python3 lacks torch/safetensors/numpy: pip install torch safetensors numpy)"
    );
    Ok(())
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn,lightcurve=info")).init();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    let root = workspace_root();
    let registry = registry();
    match cli.command {
        Command::List { profile } => {
            let profile = load_profile(&root, &profile)?;
            println!("profile {profile} ({}): {}", profile.origin().display(), profile.description());
            for e in registry.experiments() {
                println!("{}  {}", e.name(), e.description());
                for t in e.targets() {
                    println!("    {:<8} {}", t.name, t.description);
                }
                println!("    data ({profile}): {}", e.datasets(&profile).join(", "));
                if !e.upstream().is_empty() {
                    println!("    after: {}", e.upstream().join(", "));
                }
            }
            Ok(())
        }
        Command::Reproduce {
            targets,
            profile,
            locked,
            force,
            dry_run,
        } => {
            let mut runner = Runner::new(&root, &registry);
            let profile = load_profile(&root, &profile)?;
            let opts = ReproduceOptions {
                profile: profile.clone(),
                locked,
                force,
                dry_run,
            };
            let outcomes = runner.reproduce(&targets, &opts)?;
            let ran = outcomes.iter().filter(|(_, o)| !matches!(o, harness::runner::Outcome::UpToDate)).count();
            if ran == 0 {
                println!("all up to date ({profile})");
            }
            Ok(())
        }
        Command::Check(args) => check::run(&root, args),
        Command::Claims(args) => claims::run(&root, args),
        Command::Compare(args) => compare::run(&root, args),
        Command::Data { command } => data::run(&root, command),
        Command::Weights { command } => weights::run(command),
        Command::Embed(args) => embed::run(args),
        Command::Bench {
            encoder,
            batch,
            steps,
            repeats,
            no_torch,
        } => bench::run(&bench::BenchPlan {
            encoders: &encoder,
            batches: &batch,
            steps,
            repeats,
            torch: !no_torch,
        })
        .map(|_| ()),
        Command::BenchOne {
            encoder,
            mode,
            batch,
            steps,
            repeats,
        } => bench::bench_one(&encoder, &mode, batch, steps, repeats),
        Command::Parity { dir, strict } => parity(&root, &dir, strict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped profile gives every experiment a valid config and names only experiments.
    #[test]
    fn shipped_profiles_configure_every_experiment() {
        let root = workspace_root();
        let registry = registry();
        let names = Profile::available(&root.join("profiles"));
        for expected in ["eros-lmc", "paper", "plateau", "small", "smoke"] {
            assert!(names.iter().any(|n| n == expected), "{names:?}");
        }
        for name in names {
            let profile = load_profile(&root, &name).unwrap();
            registry.check_sections(&profile).unwrap();
            for e in registry.experiments() {
                e.config(&profile).unwrap_or_else(|err| panic!("{name} {}: {err:#}", e.name()));
                for ds in e.datasets(&profile) {
                    assert!(root.join("data-manifests").join(format!("{ds}.toml")).exists(), "{name}: manifest {ds}");
                }
            }
        }
    }

    #[test]
    fn a_misspelt_section_or_key_is_refused_before_anything_runs() {
        let root = workspace_root();
        let registry = registry();
        let small = std::fs::read_to_string(root.join("profiles/small.toml")).unwrap();
        let parse = |text: &str| Profile::parse("t", Path::new("profiles/t.toml"), text).unwrap();
        let e = registry.check_sections(&parse(&small.replace("[e01-data]", "[e01-dataa]"))).unwrap_err();
        assert!(format!("{e:#}").contains("[e01-dataa] names no experiment"), "{e:#}");
        let bad = parse(&small.replacen("max_epochs = 60", "max_epoch = 60", 1));
        let e = registry.get("e04-classify").unwrap().config(&bad).unwrap_err();
        assert!(format!("{e:#}").contains("profiles/t.toml"), "{e:#}");
        let e = registry.get("e04-classify").unwrap().config(&parse(&small.replacen("patience = 10", "patience = 10\nlr_decay = 0.5", 1)));
        let e = format!("{:#}", e.unwrap_err());
        assert!(e.contains("unknown key `e04-classify.classifier.lr_decay`"), "{e}");
    }
}
