//! Seconds per training step of the dual-latent model at a given size, to size the profiles:
//! `cargo run --example step_speed -- <d_model> <n_blocks> <batch_anchors> <n_steps>`.

use astromer::train::{Adam, AdamSettings};
use causal::{train_step, CausalModel, CausalModelConfig, Objective, TripletSampler};
use rand::SeedableRng;
use survey_sim::causal::{simulate, CausalSpec};

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("numbers")).collect();
    let (d_model, n_blocks, anchors, n_steps) = (args[0], args[1], args[2], args[3]);
    let spec = CausalSpec { n_steps, ..CausalSpec::sized(1, 64, 8, 1024) };
    let set = simulate(&spec).unwrap();
    let dev = astromer::try_default_device(0).unwrap();
    let config = CausalModelConfig { d_model, n_blocks, ffn_width: 2 * d_model, ..CausalModelConfig::paper(n_steps) };
    let mut model = CausalModel::new(config, dev.device(), 1).unwrap();
    let mut adam = Adam::new(AdamSettings { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-7 }, &model);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
    let sampler = TripletSampler::whole(&set);
    let anchor_rows: Vec<usize> = (0..anchors).collect();
    let batch = sampler.batch(&anchor_rows, &mut rng).unwrap();
    train_step(&mut model, &mut adam, &set, &batch, &Objective::paper()).unwrap();
    let start = std::time::Instant::now();
    let steps = 5;
    for _ in 0..steps {
        train_step(&mut model, &mut adam, &set, &batch, &Objective::paper()).unwrap();
    }
    let per_step = start.elapsed().as_secs_f64() / steps as f64;
    println!("d {d_model} blocks {n_blocks} anchors {anchors} T {n_steps}: {per_step:.3} s/step, {:.1} curves/s", 3.0 * anchors as f64 / per_step);
}
