//! Training throughput of the GRU baselines on the CPU: one Adam step on a batch of 32 full
//! windows of length 200 (every step valid, the worst case), official head, d_model 256.
//!
//! `cargo run -p baselines --example gru_speed` (the dev profile is optimised).

use std::time::Instant;

use baselines::{train_batch, BaselineKind, BaselineModel, BaselineSettings};
use lightcurve::{PaddedWindow, WindowMeans};

fn window(i: usize, len: usize) -> PaddedWindow {
    let time: Vec<f32> = (0..len).map(|t| t as f32 - len as f32 / 2.0).collect();
    let mag: Vec<f32> = time
        .iter()
        .map(|t| (t * 0.1 * (1 + i % 3) as f32).sin())
        .collect();
    PaddedWindow {
        object_index: i,
        start: 0,
        err: vec![0.0; len],
        loss_weight: vec![1.0; len],
        n_valid: len,
        means: WindowMeans::default(),
        time,
        mag,
    }
}

fn main() {
    let dev = astromer::default_device(0);
    let windows: Vec<PaddedWindow> = (0..32).map(|i| window(i, 200)).collect();
    let labels: Vec<usize> = (0..32).map(|i| i % 2).collect();
    for kind in [
        BaselineKind::RawGru,
        BaselineKind::BaseGru,
        BaselineKind::BaseAvgpool,
    ] {
        for units in [64, 256] {
            if kind == BaselineKind::BaseAvgpool && units == 64 {
                continue; // no GRU
            }
            let s = BaselineSettings {
                gru_units: units,
                ..BaselineSettings::official()
            };
            let mut model = BaselineModel::new(&dev, kind, 2, &s);
            let mut adam = astromer::Adam::new(s.adam(), &model);
            train_batch(&mut model, &mut adam, &windows, &labels); // warm-up
            let reps = 3;
            let t0 = Instant::now();
            for _ in 0..reps {
                train_batch(&mut model, &mut adam, &windows, &labels);
            }
            let per_batch = t0.elapsed().as_secs_f64() / reps as f64;
            let t1 = Instant::now();
            model.logits(&windows, 32).unwrap();
            let infer = t1.elapsed().as_secs_f64();
            println!(
                "{kind:<12} units {units:>3}: train {:.3} s/batch of 32 ({:.0} windows/s), inference {:.0} windows/s",
                per_batch,
                32.0 / per_batch,
                32.0 / infer
            );
        }
    }
}
