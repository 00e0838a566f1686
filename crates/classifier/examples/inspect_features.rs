//! Trains a head on cached features and prints its history: `cargo run -p classifier --example
//! inspect_features -- <folder with train/val/test.features> [skip|max|avg] [lr]`.
use classifier::*;
use dfdx::prelude::*;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(&args[1]);
    let kind = match args.get(2).map(String::as_str) {
        Some("max") => HeadKind::Max,
        Some("avg") => HeadKind::Avg,
        _ => HeadKind::Skip,
    };
    let lr: f64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(1e-3);
    let load = |p: &str| PooledFeatures::load(&dir.join(format!("{p}.features"))).unwrap();
    let (mut train, mut val, mut test) = (load("train"), load("val"), load("test"));
    let batch: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(64);
    if std::env::var("STANDARDIZE").is_ok() {
        let z = FeatureScaler::fit(&train);
        for f in [&mut train, &mut val, &mut test] {
            z.apply(f);
        }
    }
    let n_classes = train.labels.iter().max().unwrap() + 1;
    let w = train.input_width(kind);
    let rows: Vec<usize> = (0..train.len()).collect();
    let x = train.head_input(kind, &rows);
    let mean: Vec<f64> = (0..w).map(|j| rows.iter().map(|&i| x[i * w + j] as f64).sum::<f64>() / rows.len() as f64).collect();
    let std: f64 = (0..w).map(|j| (rows.iter().map(|&i| (x[i * w + j] as f64 - mean[j]).powi(2)).sum::<f64>() / rows.len() as f64).sqrt()).sum::<f64>() / w as f64;
    let absmean: f64 = mean.iter().map(|v| v.abs()).sum::<f64>() / w as f64;
    println!("{} train / {} val / {} test windows, {n_classes} classes, width {w}: mean |feature mean| {absmean:.4}, mean feature std {std:.4}", train.len(), val.len(), test.len());
    let s = ClassifierSettings { lr, batch_size: batch, max_epochs: 60, patience: 60, evaluated: EvaluatedWeights::Best, ..ClassifierSettings::official() };
    let dev = Cpu::default();
    let t = train_head(&dev, kind, &train, &val, n_classes, &s, &mut |e| println!("{e:?}")).unwrap();
    let (l, a) = loss_and_accuracy(&t.head, &test, 512);
    let (lt, at) = loss_and_accuracy(&t.head, &train, 512);
    println!("best epoch {}: test loss {l:.3} acc {a:.3}; train loss {lt:.3} acc {at:.3}", t.best_epoch);
}
