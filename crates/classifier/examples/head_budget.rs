//! Issue 14 study: wall time and test macro-F1 of one head on cached e04 features, at several
//! batch sizes (a budget in optimiser steps rather than epochs). Reads
//! `<dir>/{train,val,test}.features` (e04-classify's cache: artifacts/<profile>/e04-classify/
//! <manifest>/<encoder>/fold<k>-spc<n>) and trains the head of `--head` with the profile's recipe
//! (lr 1e-3, patience 10, at most 60 epochs) at each batch size, two at a time.
//! `cargo run --example head_budget -p classifier -- <skip|max|avg> <batch,batch,...> <dir>...`
use classifier::*;
use rayon::prelude::*;
use std::path::Path;
use std::time::Instant;

fn macro_f1(logits: &[f32], n_classes: usize, labels: &[usize]) -> f64 {
    let mut tp = vec![0usize; n_classes];
    let mut fp = vec![0usize; n_classes];
    let mut fn_ = vec![0usize; n_classes];
    for (row, &truth) in logits.chunks(n_classes).zip(labels) {
        let pred = row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best });
        if pred == truth {
            tp[truth] += 1;
        } else {
            fp[pred] += 1;
            fn_[truth] += 1;
        }
    }
    let f1: Vec<f64> = (0..n_classes)
        .map(|c| {
            let denom = 2 * tp[c] + fp[c] + fn_[c];
            if denom == 0 { 0.0 } else { 2.0 * tp[c] as f64 / denom as f64 }
        })
        .collect();
    f1.iter().sum::<f64>() / n_classes as f64
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let head = match args.get(1).map(String::as_str) {
        Some("skip") => HeadKind::Skip,
        Some("max") => HeadKind::Max,
        Some("avg") => HeadKind::Avg,
        _ => panic!("usage: head_budget <skip|max|avg> <batch,batch,...> <features dir>..."),
    };
    let batches: Vec<usize> = args[2].split(',').map(|b| b.parse().expect("batch sizes")).collect();
    let dirs = &args[3..];
    let jobs: Vec<(usize, &String)> = dirs.iter().flat_map(|d| batches.iter().map(move |&b| (b, d))).collect();
    let out: Vec<String> = jobs
        .par_iter()
        .map(|&(batch, dir)| {
            let load = |p: &str| PooledFeatures::load(&Path::new(dir).join(format!("{p}.features"))).expect("features");
            let (train, val, test) = (load("train"), load("val"), load("test"));
            let n_classes = train.labels.iter().chain(&val.labels).chain(&test.labels).max().unwrap() + 1;
            let settings = ClassifierSettings {
                batch_size: batch,
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-7,
                max_epochs: 60,
                patience: 10,
                seed: 0,
                evaluated: EvaluatedWeights::Best,
                ..ClassifierSettings::official()
            };
            let dev = dfdx::prelude::Cpu::default();
            let t = Instant::now();
            let trained = train_head(&dev, head, &train, &val, n_classes, &settings, &mut |_| {}).expect("training");
            let seconds = t.elapsed().as_secs_f64();
            let rows: Vec<usize> = (0..test.len()).collect();
            let logits = trained.head.logits(&test.head_input(head, &rows), test.input_width(head), 512);
            let steps_per_epoch = train.len().div_ceil(batch);
            format!(
                "{dir} batch {batch:>4}: test F1 {:.3}, {} epochs (best {}), {} steps, {seconds:.1} s",
                macro_f1(&logits, n_classes, &test.labels),
                trained.history.len(),
                trained.best_epoch,
                trained.history.len() * steps_per_epoch
            )
        })
        .collect();
    for line in out {
        println!("{line}");
    }
}
