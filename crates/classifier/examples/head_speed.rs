//! Wall time of head training on random features shaped like the small profile's largest split
//! (6830 windows, 4 representations of width 128, 6 classes): one head alone, then `n` heads at
//! once on a rayon pool; then one Adam update of the head's parameters, fused (the CPU fast path)
//! against dfdx's generic elementwise ops, side by side in one run.
//! `cargo run -p classifier --example head_speed -- [epochs] [n]`; set RAYON_NUM_THREADS to pin the pool.
use classifier::*;
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use std::time::Instant;

fn features(n: usize, seed: u64) -> PooledFeatures {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (r, d) = (4, 128);
    PooledFeatures {
        n_reps: r,
        d_model: d,
        means: (0..n * r * d).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        last_max: (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect(),
        object_index: (0..n).collect(),
        labels: (0..n).map(|i| i % 6).collect(),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2);
    let (train, val) = (features(6830, 1), features(1700, 2));
    let settings = ClassifierSettings { max_epochs: epochs, patience: epochs, batch_size: 32, lr: 1e-3, ..ClassifierSettings::official() };
    let one = |seed: u64| {
        let dev = Cpu::default();
        let s = ClassifierSettings { seed, ..settings.clone() };
        train_head(&dev, HeadKind::Skip, &train, &val, 6, &s, &mut |_| {}).unwrap().head.output.weight.as_vec()
    };
    let t = Instant::now();
    let w0 = one(0);
    let alone = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let ws: Vec<Vec<f32>> = (0..n as u64).into_par_iter().map(one).collect();
    let together = t.elapsed().as_secs_f64();
    assert_eq!(ws[0], w0, "a head trained beside others must equal the one trained alone");
    println!(
        "{} threads: one head {alone:.2} s ({:.1} steps/s); {n} heads at once {together:.2} s ({:.2} s per head, {:.2}x)",
        rayon::current_num_threads(),
        (epochs * 6830 / 32) as f64 / alone,
        together / n as f64,
        alone * n as f64 / together
    );
    adam_ab(&settings);
}

/// One Adam update of a fresh skip head's parameters (d 128, official MLP): fused vs generic.
fn adam_ab(settings: &ClassifierSettings) {
    use astromer::{Adam, Parameters};
    let dev = Cpu::default();
    let mut head = ClassifierHead::new(&dev, HeadKind::Skip, 4, 128, 6, &settings.shape, 0);
    // The generic update replaces every parameter by a new tensor (new id), so each update gets
    // its own gradient set, built outside the timed part.
    fn gradients(head: &ClassifierHead<Cpu>) -> dfdx::tensor::Gradients<f32, Cpu> {
        let mut grads = head.zero_gradients();
        for (_, p) in head.params() {
            let buf = match p {
                astromer::layers::ParamRef::R1(t) => grads.get_or_alloc_mut(t).unwrap(),
                astromer::layers::ParamRef::R2(t) => grads.get_or_alloc_mut(t).unwrap(),
            };
            buf.iter_mut().enumerate().for_each(|(i, g)| *g = ((i % 17) as f32 - 8.0) * 1e-3);
        }
        grads
    }
    let mut adam = Adam::new(settings.adam(), &head);
    let reps = 200;
    let mut time = |generic: bool| {
        let mut spent = 0.0;
        for _ in 0..reps {
            let grads = gradients(&head);
            let t = Instant::now();
            if generic {
                astromer::kernels::with_generic_kernels(|| adam.update(&mut head, &grads)).unwrap();
            } else {
                adam.update(&mut head, &grads).unwrap();
            }
            spent += t.elapsed().as_secs_f64();
        }
        spent * 1e3 / reps as f64
    };
    let (fused, generic) = (time(false), time(true));
    println!(
        "Adam update of {} parameters: fused {fused:.2} ms, generic {generic:.2} ms ({:.1}x)",
        head.parameter_count(),
        generic / fused
    );
}
