//! Opt-in measurement (minutes; `cargo test --workspace --test classical_small -- --ignored --nocapture`):
//! e05's classical-features rows alone on the `small` profile's labelled sets, on the folds and SPC
//! of e03's small config, without the deep pipeline (no upstream experiment needed). Prints the
//! per-object macro-F1 table of the random forest and the MLP on features, and checks that the
//! forest is far above chance on both sets (the synthetic classes are separable by hand-made
//! features; an RF at chance would mean the features or the folds are broken).

use std::path::Path;

use e05_ablation::classical_rows::{self, FeatureTable};
use harness::Profile;

#[test]
#[ignore = "a measurement on the small sets (generates them if needed; ~5-10 minutes on 2 cores)"]
fn classical_rows_on_the_small_sets() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut store = datasets::DataStore::new(root.join("data-manifests"), root.join("data"));
    let small = Profile::shipped("small").unwrap();
    let cfg = e05_ablation::Config::for_profile(&small).unwrap();
    let few_shot = e03_finetune::Config::for_profile(&small).unwrap().few_shot;
    let head = cfg.head_settings();
    let dev = astromer::default_device(cfg.settings.seed);
    for manifest in small.data().labelled.clone() {
        let m = store.manifest(&manifest).unwrap();
        let prepared = store.prepare(&m, true).unwrap();
        let set = store.open(&prepared).unwrap();
        let n_classes = set.classes().unwrap().len();
        let splits = evaluation::few_shot_splits_for_set(&set, &few_shot).unwrap();
        let mut table = FeatureTable::new(&set);
        let t0 = std::time::Instant::now();
        let mut by: std::collections::BTreeMap<(String, usize), Vec<f64>> = Default::default();
        for split in &splits {
            let curves: Vec<usize> = split.train.iter().chain(&split.val).chain(&split.test).copied().collect();
            table.compute(&set, &curves, &cfg.classical.features);
            let rf = classical_rows::forest(&table, &set, split, &cfg.classical, n_classes).unwrap();
            let mlp = classical_rows::mlp(&dev, &table, &set, split, &head, n_classes, &mut |_| {}).unwrap();
            for (name, s) in [("classical_rf", rf), ("classical_mlp", mlp)] {
                let f1 = evaluation::object_metrics(&s.logits, n_classes, &s.labels, &split.test).unwrap().f1_macro;
                by.entry((name.to_string(), split.spc)).or_default().push(f1);
            }
        }
        println!("{manifest} ({} curves, {:.0} s):", set.len(), t0.elapsed().as_secs_f64());
        for ((name, spc), v) in &by {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
            println!("  {name:<14} SPC {spc:>4}: per-object macro-F1 {:.3} [{lo:.3}–{hi:.3}]", v.iter().sum::<f64>() / v.len() as f64);
        }
        let chance = 1.0 / n_classes as f64;
        let rf_min = by.iter().filter(|((n, _), _)| n == "classical_rf").flat_map(|(_, v)| v).fold(1.0f64, |a, x| a.min(*x));
        assert!(rf_min > 2.0 * chance, "{manifest}: random forest F1 {rf_min} is within 2× of chance {chance}");
    }
}
