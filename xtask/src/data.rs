//! `cargo xtask data …`: generate, verify, fetch and pin data sets.

use std::path::Path;
use std::process::Command as Process;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use datasets::{DataStore, Manifest, PinState, Source};

#[derive(Subcommand)]
pub enum DataCommand {
    /// List the manifests and whether each is pinned and present.
    List,
    /// Generate a synthetic data set and verify it against its manifest.
    Gen {
        name: String,
        /// Refuse a manifest without trusted hashes.
        #[arg(long)]
        locked: bool,
    },
    /// Re-hash data files and report every mismatch with its manifest (all sets when no name).
    Verify { name: Option<String> },
    /// Download a real data set from its public URL(s), verify it and unpack it.
    Fetch { name: String },
    /// Pin the files present: write their sizes and sha256 into the manifest.
    Lock { name: String },
    /// Read a data set as the experiments do and print its counts (curves, observations, classes).
    Inspect { name: String },
}

pub fn run(root: &Path, cmd: DataCommand) -> Result<()> {
    let mut store = DataStore::new(root.join("data-manifests"), root.join("data"));
    match cmd {
        DataCommand::List => {
            for name in store.names()? {
                let m = store.manifest(&name)?;
                let present = store.dataset_dir(&m).exists();
                println!(
                    "{name:<28} {:<9} {:<8} {}",
                    pin_word(&m),
                    if present { "present" } else { "absent" },
                    m.description
                );
            }
            Ok(())
        }
        DataCommand::Gen { name, locked } => {
            let m = store.manifest(&name)?;
            if !m.source.is_generated() {
                bail!("`{name}` is not synthetic; use `cargo xtask data fetch {name}`");
            }
            store.generate(&m)?;
            let p = store.prepare(&m, locked)?;
            println!("{name}: generated in {} ({})", p.dir.display(), describe(&p.how));
            Ok(())
        }
        DataCommand::Verify { name } => {
            let names = match name {
                Some(n) => vec![n],
                None => store.names()?,
            };
            let mut failures = 0;
            for name in names {
                let m = store.manifest(&name)?;
                match m.pin_state() {
                    PinState::Unpinned => {
                        println!("{name}: unpinned (no hashes in the manifest); nothing to verify");
                        continue;
                    }
                    PinState::Stale => {
                        println!("{name}: stale (the source changed since the hashes were pinned); run `cargo xtask data lock {name}` after generating");
                        failures += 1;
                        continue;
                    }
                    PinState::Pinned => {}
                }
                if !store.dataset_dir(&m).exists() {
                    println!("{name}: absent ({}); generate or fetch it first", store.dataset_dir(&m).display());
                    continue;
                }
                let report = store.verify(&m)?;
                if report.is_ok() {
                    println!("{name}: ok ({} files)", report.checked);
                } else {
                    failures += 1;
                    println!("{name}: {} of {} files do not match:", report.mismatches.len(), report.checked);
                    for x in &report.mismatches {
                        println!("  {}: {}", x.path.display(), x.problem);
                    }
                }
            }
            if failures > 0 {
                bail!("{failures} data set(s) failed verification");
            }
            Ok(())
        }
        DataCommand::Lock { name } => {
            let m = store.lock(&name)?;
            println!("{name}: pinned {} files in {}", m.files.len(), store.manifest_path(&name).display());
            Ok(())
        }
        DataCommand::Fetch { name } => fetch(&mut store, &name),
        DataCommand::Inspect { name } => {
            let m = store.manifest(&name)?;
            let p = store.prepare(&m, false)?;
            let set = store.open(&p)?;
            println!("{name}: {} ({})", p.dir.display(), describe(&p.how));
            println!("  curves: {}, observations: {}", set.len(), set.n_observations());
            let mut lens: Vec<usize> = set.curves().map(|c| c.len()).collect();
            lens.sort_unstable();
            if let (Some(min), Some(max)) = (lens.first(), lens.last()) {
                println!("  points per curve: min {min}, median {}, max {max}", lens[lens.len() / 2]);
            }
            if let Some(counts) = set.class_counts() {
                for (class, n) in counts {
                    println!("  {class:<10} {n}");
                }
            }
            Ok(())
        }
    }
}

fn pin_word(m: &Manifest) -> &'static str {
    match m.pin_state() {
        PinState::Pinned => "pinned",
        PinState::Unpinned => "unpinned",
        PinState::Stale => "stale",
    }
}

fn describe(how: &datasets::Preparation) -> &'static str {
    match how {
        datasets::Preparation::Verified | datasets::Preparation::GeneratedVerified => "verified against the manifest",
        datasets::Preparation::GeneratedUnpinned => "unpinned: run `cargo xtask data lock` to pin it",
        datasets::Preparation::PresentUnpinned => "present, unpinned",
    }
}

fn fetch(store: &mut DataStore, name: &str) -> Result<()> {
    let m = store.manifest(name)?;
    let Source::Url { urls, instructions } = &m.source else {
        bail!("`{name}` has no URL source; synthetic sets are made with `cargo xtask data gen {name}`");
    };
    let dir = store.dataset_dir(&m);
    if urls.is_empty() {
        bail!(
            "`{name}` has no direct download URL.\n{instructions}\nPlace the files in {} (layout: {:?}), then run \
             `cargo xtask data lock {name}`.",
            dir.display(),
            m.layout
        );
    }
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    for url in urls {
        let file = downloads.join(url.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or("download"));
        println!("fetching {url}");
        let status = Process::new("curl")
            .args(["--fail", "--location", "--silent", "--show-error", "--connect-timeout", "20", "-o"])
            .arg(&file)
            .arg(url)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(_) | Err(_) => {
                let _ = std::fs::remove_file(&file);
                bail!(
                    "could not download {url} (offline, or the URL moved).\n\
                     Place the files by hand in {} (layout: {:?}), then run `cargo xtask data lock {name}` \
                     (or `data verify {name}` if the manifest is pinned).\n{instructions}",
                    dir.display(),
                    m.layout
                );
            }
        }
        if file.extension().is_some_and(|e| e == "zip") {
            let ok = Process::new("unzip").arg("-oq").arg(&file).arg("-d").arg(&dir).status().map(|s| s.success());
            if !matches!(ok, Ok(true)) {
                bail!("could not unpack {} (is `unzip` installed?)", file.display());
            }
        }
    }
    match m.pin_state() {
        PinState::Pinned => {
            let report = store.verify(&m).context("verifying the download")?;
            if !report.is_ok() {
                for x in &report.mismatches {
                    println!("  {}: {}", x.path.display(), x.problem);
                }
                bail!("`{name}`: downloaded files differ from the manifest; refusing them");
            }
            println!("{name}: fetched and verified");
        }
        _ => println!("{name}: fetched; the manifest is unpinned: run `cargo xtask data lock {name}` to pin what you got"),
    }
    Ok(())
}
