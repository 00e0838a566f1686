//! `cargo xtask bench`: training and inference throughput (windows/s), GFLOP/s, share of the
//! CPU's nominal peak and peak memory of an encoder at window 200 on this build's device, with the
//! PyTorch reference in both attention forms beside it when torch is installed.
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

/// Window length of every configuration.
const WINDOW: usize = 200;

/// One measurement: windows/s over `repeats` timings of `steps` steps each.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BenchResult {
    pub mode: String,
    pub batch: usize,
    /// Median over the repeats.
    pub windows_per_s: f64,
    #[serde(default)]
    pub windows_per_s_min: f64,
    #[serde(default)]
    pub windows_per_s_max: f64,
    pub seconds_per_step: f64,
    pub peak_rss_mib: f64,
}

/// The encoders the bench knows: the paper's A2 and the `small` profile's A2.
pub fn encoder(name: &str) -> Result<EncoderConfig> {
    match name {
        "a2" => Ok(EncoderConfig::astromer2()),
        "small" => Ok(EncoderConfig {
            n_blocks: 3,
            d_model: 128,
            ffn_width: 256,
            ..EncoderConfig::astromer2()
        }),
        other => bail!("unknown bench encoder `{other}`: use a2 (6 blocks, d 256, FFN 512) or small (3 blocks, d 128, FFN 256)"),
    }
}

/// Floating-point operations of one window through the encoder (multiply-add = 2): per block the
/// Q, K, V, merge and two residual projections (6·2·L·d²), QKᵀ and AV (2·2·L²·d) and the FFN
/// (2·2·L·d·f). Embedding, LayerNorms, softmax and head are under 1 % and left out. Training
/// counts 3× (forward, and a backward pass of twice the forward's products).
pub fn flops_per_window(cfg: &EncoderConfig, mode: &str) -> f64 {
    let (l, d, f) = (WINDOW as f64, cfg.d_model as f64, cfg.ffn_width as f64);
    let projections = if cfg.residual_projections { 6.0 } else { 4.0 };
    let forward = cfg.n_blocks as f64 * (projections * 2.0 * l * d * d + 4.0 * l * l * d + 4.0 * l * d * f);
    if mode == "train" {
        3.0 * forward
    } else {
        forward
    }
}

/// Nominal f32 peak of this machine in GFLOP/s, and how it was found. Assumes two FMA units per
/// core (Zen 3, Ice Lake server), FMA width from the CPU flags (AVX-512: 16 lanes, AVX2: 8) and
/// the clock from the model name ("@ 2.45GHz") or else `cpu MHz` of /proc/cpuinfo.
pub fn nominal_peak_gflops() -> Option<(f64, String)> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    let field = |key: &str| info.lines().find(|l| l.starts_with(key)).and_then(|l| l.split(':').nth(1)).map(str::trim);
    let flags = field("flags")?;
    let lanes = if flags.split_whitespace().any(|f| f == "avx512f") {
        16.0
    } else if flags.split_whitespace().any(|f| f == "fma") {
        8.0
    } else {
        4.0
    };
    let model = field("model name").unwrap_or("unknown CPU");
    let ghz = model
        .split('@')
        .nth(1)
        .and_then(|s| s.trim().trim_end_matches("GHz").trim().parse::<f64>().ok())
        .or_else(|| field("cpu MHz")?.parse::<f64>().ok().map(|mhz| mhz / 1000.0))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let peak = cores * 2.0 * lanes * 2.0 * ghz;
    Some((
        peak,
        format!("{model}: {cores} threads × 2 FMA units × {lanes} f32 lanes × 2 FLOP × {ghz:.2} GHz = {peak:.0} GFLOP/s (assumed, not measured)"),
    ))
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
pub fn bench_one(encoder_name: &str, mode: &str, batch: usize, steps: usize, repeats: usize) -> Result<()> {
    let dev = astromer::try_default_device(0).map_err(anyhow::Error::msg)?;
    let model = Astromer::new(encoder(encoder_name)?, dev.device(), 0)?;
    let w = windows(batch, WINDOW, 1);
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
    let mut rates = Vec::with_capacity(repeats.max(1));
    for _ in 0..repeats.max(1) {
        let started = Instant::now();
        for _ in 0..steps.max(1) {
            step(&mut trainer)?;
        }
        rates.push((batch * steps.max(1)) as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let median = rates[rates.len() / 2];
    let r = BenchResult {
        mode: mode.to_string(),
        batch,
        windows_per_s: median,
        windows_per_s_min: rates[0],
        windows_per_s_max: rates[rates.len() - 1],
        seconds_per_step: batch as f64 / median,
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

/// What `cargo xtask bench` measures.
pub struct BenchPlan<'a> {
    pub encoders: &'a [String],
    pub batches: &'a [usize],
    pub steps: usize,
    pub repeats: usize,
    pub torch: bool,
}

/// Runs every configuration in a child process, with PyTorch beside it, and prints a table.
pub fn run(plan: &BenchPlan<'_>) -> Result<Vec<BenchResult>> {
    let exe = std::env::current_exe()?;
    let device = if cfg!(feature = "cuda") { "cuda" } else { "cpu" };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("window {WINDOW}, device {device}, {threads} threads; windows/s = median [min–max] of {} repeats of {} steps", plan.repeats, plan.steps);
    let peak = if device == "cpu" { nominal_peak_gflops() } else { None };
    match &peak {
        Some((_, how)) => println!("nominal peak: {how}"),
        None => println!("nominal peak: unknown on this device; % of peak not shown"),
    }
    let torch = plan.torch && torch_available();
    if plan.torch && !torch {
        println!("PyTorch reference: not run (python3 with torch not found; `pip install torch` to compare)");
    }
    println!(
        "| encoder | mode | batch | Rust windows/s | GFLOP/s | % of peak | peak RSS MiB | PyTorch (matmul-softmax-matmul) | Rust/PyTorch | PyTorch SDPA | Rust/SDPA | PyTorch RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut results = Vec::new();
    for name in plan.encoders {
        let cfg = encoder(name)?;
        for &batch in plan.batches {
            for mode in ["train", "inference"] {
                let out = Command::new(&exe)
                    .args(["bench-one", name, mode, &batch.to_string(), &plan.steps.to_string(), &plan.repeats.to_string()])
                    .output()
                    .context("running a bench child")?;
                if !out.status.success() {
                    bail!("bench {name} {mode} batch {batch} failed: {}", String::from_utf8_lossy(&out.stderr));
                }
                let r: BenchResult = toml::from_str(&String::from_utf8_lossy(&out.stdout))?;
                let gflops = r.windows_per_s * flops_per_window(&cfg, mode) / 1e9;
                let share = peak.as_ref().map_or("—".to_string(), |(p, _)| format!("{:.1} %", 100.0 * gflops / p));
                let (manual, sdpa) = if torch {
                    (torch_one(name, mode, batch, plan, "manual"), torch_one(name, mode, batch, plan, "sdpa"))
                } else {
                    (None, None)
                };
                let cell = |t: &Option<BenchResult>| {
                    t.as_ref().map_or(("—".to_string(), "—".to_string()), |t| {
                        (
                            format!("{:.1} [{:.1}–{:.1}]", t.windows_per_s, t.windows_per_s_min, t.windows_per_s_max),
                            format!("{:.2}", r.windows_per_s / t.windows_per_s),
                        )
                    })
                };
                let ((m, mr), (s, sr)) = (cell(&manual), cell(&sdpa));
                let torch_rss = manual.as_ref().map_or("—".to_string(), |t| format!("{:.0}", t.peak_rss_mib));
                println!(
                    "| {name} | {mode} | {batch} | {:.1} [{:.1}–{:.1}] | {gflops:.1} | {share} | {:.0} | {m} | {mr} | {s} | {sr} | {torch_rss} |",
                    r.windows_per_s, r.windows_per_s_min, r.windows_per_s_max, r.peak_rss_mib
                );
                results.push(r);
            }
        }
    }
    Ok(results)
}

fn torch_script() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root");
    root.join("tools/bench/bench_torch.py")
}

fn torch_available() -> bool {
    torch_script().exists()
        && Command::new("python3")
            .args(["-c", "import torch"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
}

/// One PyTorch configuration (`tools/bench/bench_torch.py`); `None` (with a note) if it failed.
fn torch_one(encoder: &str, mode: &str, batch: usize, plan: &BenchPlan<'_>, attention: &str) -> Option<BenchResult> {
    let out = Command::new("python3")
        .arg(torch_script())
        .args([mode, &batch.to_string(), &plan.steps.to_string(), &plan.repeats.to_string(), encoder, attention])
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!("  torch {encoder} {mode} batch {batch} ({attention}): failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        return None;
    }
    toml::from_str(&String::from_utf8_lossy(&out.stdout)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flop_count_of_the_paper_a2_matches_a_hand_count() {
        // d 256, L 200, f 512, 6 blocks: 6·2·200·256² + 4·200²·256 + 4·200·256·512 per block.
        let per_block = 6.0 * 2.0 * 200.0 * 65536.0 + 4.0 * 40000.0 * 256.0 + 4.0 * 200.0 * 256.0 * 512.0;
        let a2 = encoder("a2").unwrap();
        assert_eq!(flops_per_window(&a2, "inference"), 6.0 * per_block);
        assert_eq!(flops_per_window(&a2, "train"), 18.0 * per_block);
        assert!(flops_per_window(&encoder("small").unwrap(), "inference") < flops_per_window(&a2, "inference") / 6.0);
        assert!(encoder("big").unwrap_err().to_string().contains("a2"));
    }
}
