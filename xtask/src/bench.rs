//! `cargo xtask bench`: training and inference throughput (windows/s) and peak memory of A2 at
//! window 200 on this build's device, and the PyTorch reference when it is installed.
//!
//! Each configuration runs in a child process (this same binary, hidden `bench-one` command) so
//! that its peak resident memory is its own.

use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use astromer::{AdamSettings, Astromer, EncoderConfig, LossWeighting, MaskFractions, MaskedBatch, Trainer};
use lightcurve::{PaddedWindow, WindowMeans};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One measurement.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BenchResult {
    pub mode: String,
    pub batch: usize,
    pub windows_per_s: f64,
    pub seconds_per_step: f64,
    pub peak_rss_mib: f64,
}

/// Synthetic windows: three quarters full, one quarter half-padded, like real MACHO windows.
fn windows(batch: usize, len: usize, seed: u64) -> Vec<PaddedWindow> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..batch)
        .map(|k| {
            let n = if k % 4 == 0 { len * 3 / 5 } else { len };
            let mut t = 0.0f32;
            let time: Vec<f32> = (0..len)
                .map(|i| {
                    if i < n {
                        t += rng.gen_range(0.5..6.0);
                        t - 3.25 * n as f32 / 2.0
                    } else {
                        0.0
                    }
                })
                .collect();
            let mag: Vec<f32> = (0..len).map(|i| if i < n { 0.3 * (time[i] * 0.7).sin() } else { 0.0 }).collect();
            let loss_weight = (0..len).map(|_| rng.gen_range(0.001..1.001)).collect();
            PaddedWindow {
                object_index: k,
                start: 0,
                time,
                mag,
                err: vec![0.0; len],
                loss_weight,
                n_valid: n,
                means: WindowMeans::default(),
            }
        })
        .collect()
}

/// Runs one configuration in this process and prints it as TOML on stdout.
pub fn bench_one(mode: &str, batch: usize, steps: usize) -> Result<()> {
    let dev = astromer::try_default_device(0).map_err(anyhow::Error::msg)?;
    let model = Astromer::new(EncoderConfig::astromer2(), &dev, 0)?;
    let w = windows(batch, 200, 1);
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let masked = MaskedBatch::pretraining(&w, &MaskFractions::official(), &mut rng)?;
    let eval = MaskedBatch::evaluation(&w)?;
    let mut trainer = Trainer::new(model, AdamSettings::official(), LossWeighting::Weighted);
    let mut step = |trainer: &mut Trainer<_>| -> Result<()> {
        match mode {
            "train" => {
                trainer.train_step(&masked, &mut rng)?;
            }
            "inference" => {
                let out = trainer.model.encode(&eval)?;
                std::hint::black_box(out.blocks.len());
            }
            _ => bail!("unknown mode {mode}"),
        }
        Ok(())
    };
    step(&mut trainer)?; // warm-up: allocations, caches
    let started = Instant::now();
    for _ in 0..steps {
        step(&mut trainer)?;
    }
    let secs = started.elapsed().as_secs_f64() / steps as f64;
    let r = BenchResult {
        mode: mode.to_string(),
        batch,
        windows_per_s: batch as f64 / secs,
        seconds_per_step: secs,
        peak_rss_mib: peak_rss_mib(),
    };
    println!("{}", toml::to_string(&r)?);
    Ok(())
}

/// Peak resident set size of this process (Linux `VmHWM`), in MiB; 0 where unknown.
fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Runs every configuration in a child process and prints a table (and the PyTorch reference).
pub fn run(batches: &[usize], steps: usize, torch: bool) -> Result<Vec<BenchResult>> {
    let exe = std::env::current_exe()?;
    let device = if cfg!(feature = "cuda") { "cuda" } else { "cpu" };
    println!(
        "A2 (6 blocks, d 256, FFN 512), window 200, device {device}, {} threads",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    let mut results = Vec::new();
    for &batch in batches {
        for mode in ["train", "inference"] {
            let out = Command::new(&exe)
                .args(["bench-one", mode, &batch.to_string(), &steps.to_string()])
                .output()
                .context("running a bench child")?;
            if !out.status.success() {
                bail!("bench {mode} batch {batch} failed: {}", String::from_utf8_lossy(&out.stderr));
            }
            let r: BenchResult = toml::from_str(&String::from_utf8_lossy(&out.stdout))?;
            println!(
                "  rust  {:<9} batch {:>4}: {:>8.1} windows/s  ({:.3} s/step, peak RSS {:.0} MiB)",
                r.mode, r.batch, r.windows_per_s, r.seconds_per_step, r.peak_rss_mib
            );
            results.push(r);
        }
    }
    if torch {
        torch_reference(batches, steps, &results)?;
    }
    Ok(results)
}

/// Runs `tools/bench/bench_torch.py` when PyTorch is importable, and prints ratios.
fn torch_reference(batches: &[usize], steps: usize, ours: &[BenchResult]) -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    let script = root.join("tools/bench/bench_torch.py");
    let has_torch = Command::new("python3")
        .args(["-c", "import torch"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_torch || !script.exists() {
        println!("  PyTorch reference: not run (python3 with torch not found; `pip install torch` to compare)");
        return Ok(());
    }
    for &batch in batches {
        for mode in ["train", "inference"] {
            let out = Command::new("python3")
                .arg(&script)
                .args([mode, &batch.to_string(), &steps.to_string()])
                .output()?;
            if !out.status.success() {
                println!("  torch {mode} batch {batch}: failed: {}", String::from_utf8_lossy(&out.stderr).trim());
                continue;
            }
            let r: BenchResult = toml::from_str(&String::from_utf8_lossy(&out.stdout))?;
            let ratio = ours
                .iter()
                .find(|o| o.mode == mode && o.batch == batch)
                .map_or(f64::NAN, |o| o.windows_per_s / r.windows_per_s);
            println!(
                "  torch {:<9} batch {:>4}: {:>8.1} windows/s  (peak RSS {:.0} MiB)  → rust/torch = {ratio:.2}",
                mode, batch, r.windows_per_s, r.peak_rss_mib
            );
        }
    }
    Ok(())
}
