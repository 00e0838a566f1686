//! Throughput of the A2 train step: `cargo run -p astromer --example bench_step [-- batch steps]`.

use astromer::*;
use lightcurve::{PaddedWindow, WindowMeans};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;

fn main() {
    // GENERIC=1: dfdx's generic kernels instead of the CPU fast paths (for A/B comparisons).
    if std::env::var("GENERIC").is_ok() {
        astromer::kernels::with_generic_kernels(run)
    } else {
        run()
    }
}

fn run() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let batch = args.first().copied().unwrap_or(32);
    let steps = args.get(1).copied().unwrap_or(3);
    let l = 200;
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let windows: Vec<PaddedWindow> = (0..batch)
        .map(|k| {
            let n = if k % 4 == 0 { 120 } else { l };
            let mut t = 0.0f32;
            let time: Vec<f32> = (0..l)
                .map(|i| {
                    if i < n {
                        t += rng.gen_range(0.5..2.0);
                        t
                    } else {
                        0.0
                    }
                })
                .collect();
            let mag: Vec<f32> = (0..l)
                .map(|i| if i < n { (time[i] * 0.3).sin() } else { 0.0 })
                .collect();
            PaddedWindow {
                object_index: k,
                start: 0,
                time,
                mag,
                err: vec![0.05; l],
                loss_weight: vec![0.5; l],
                n_valid: n,
                means: WindowMeans::default(),
            }
        })
        .collect();
    let dev = default_device(0);
    if std::env::var("NO_CACHE").is_ok() {
        use astromer::dfdx::tensor::Cache;
        dev.disable_cache();
    }
    let model = Astromer::new(EncoderConfig::astromer2(), &dev, 0).unwrap();
    let mut trainer = Trainer::new(model, AdamSettings::official(), LossWeighting::Weighted);
    let b = MaskedBatch::pretraining(&windows, &MaskFractions::official(), &mut rng).unwrap();
    let t0 = Instant::now();
    let s = trainer.train_step(&b, &mut rng).unwrap();
    println!(
        "warm-up step: {:.3}s loss {:.4}",
        t0.elapsed().as_secs_f64(),
        s.loss
    );
    let t0 = Instant::now();
    for _ in 0..steps {
        trainer.train_step(&b, &mut rng).unwrap();
    }
    let dt = t0.elapsed().as_secs_f64() / steps as f64;
    println!(
        "train: {dt:.3}s/step, {:.1} windows/s (batch {batch}, L {l})",
        batch as f64 / dt
    );
    let t0 = Instant::now();
    for _ in 0..steps {
        trainer.eval_step(&b).unwrap();
    }
    let dt = t0.elapsed().as_secs_f64() / steps as f64;
    println!("eval:  {dt:.3}s/step, {:.1} windows/s", batch as f64 / dt);
}
