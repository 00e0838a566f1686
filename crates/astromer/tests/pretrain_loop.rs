//! The epoch loop: early stopping keeps the best weights, and a run interrupted after a checkpoint
//! and resumed reaches bit-identical final weights to an uninterrupted run.

use astromer::pretrain::{self, TrainEvent};
use astromer::*;
use lightcurve::{LightCurveSet, OwnedLightCurve};

fn tiny_config() -> EncoderConfig {
    EncoderConfig {
        n_blocks: 1,
        d_model: 8,
        n_heads: 2,
        ffn_width: 16,
        ..EncoderConfig::astromer2()
    }
}

fn set(n: usize, seed: usize) -> LightCurveSet {
    let curves = (0..n)
        .map(|k| {
            let len = 20 + (k * 7 + seed) % 25;
            let period = 1.3 + 0.37 * k as f64;
            OwnedLightCurve {
                object_id: format!("o{seed}-{k}"),
                band: "R".into(),
                time: (0..len).map(|i| i as f64 * 0.9 + 0.1 * ((i * k) % 3) as f64).collect(),
                mag: (0..len).map(|i| 15.0 + 0.3 * (i as f64 * 0.9 / period * 6.283).sin()).collect(),
                err: (0..len).map(|i| 0.02 + 0.01 * ((i + k) % 4) as f64).collect(),
                label: None,
            }
        })
        .collect();
    LightCurveSet::from_curves(curves).unwrap()
}

fn settings(max_epochs: usize) -> TrainSettings {
    TrainSettings {
        window_len: 16,
        batch_size: 4,
        max_epochs,
        patience: 100,
        adam: AdamSettings {
            lr: 3e-3,
            ..AdamSettings::official()
        },
        weighted_loss: true,
        mask: MaskFractions::official(),
        window_refresh: WindowRefresh::EveryEpoch,
        train_windows: TrainWindows::Random,
        max_windows_per_epoch: None,
        seed: 11,
    }
}

fn weights(m: &Astromer<DefaultDevice>) -> Vec<(String, Vec<u32>)> {
    m.parameter_shapes()
        .into_iter()
        .map(|(n, _)| {
            let v = m.parameter_values(&n).unwrap();
            (n, v.into_iter().map(f32::to_bits).collect())
        })
        .collect()
}

fn fresh_trainer() -> Trainer<DefaultDevice> {
    let dev = default_device(0);
    let model = Astromer::new(tiny_config(), &dev, 5).unwrap();
    Trainer::new(model, AdamSettings::official(), LossWeighting::Weighted)
}

#[test]
fn interrupted_and_resumed_run_matches_uninterrupted_run_bit_for_bit() {
    let (train_set, val_set) = (set(12, 1), set(5, 2));
    let s = settings(4);

    let a = tempfile::tempdir().unwrap();
    let mut t = fresh_trainer();
    let full = pretrain::train(&mut t, &train_set, &val_set, &s, a.path(), &mut |_| {}).unwrap();
    assert_eq!(full.history.len(), 4);
    assert_eq!(full.resumed_after, None);
    let uninterrupted = weights(&t.model);

    let b = tempfile::tempdir().unwrap();
    let interrupted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut t = fresh_trainer();
        pretrain::train(&mut t, &train_set, &val_set, &s, b.path(), &mut |e| {
            if let TrainEvent::EpochStart { epoch: 2, .. } = e {
                panic!("simulated kill after the epoch-1 checkpoint");
            }
        })
    }));
    assert!(interrupted.is_err());
    let mut t = fresh_trainer();
    let resumed = pretrain::train(&mut t, &train_set, &val_set, &s, b.path(), &mut |_| {}).unwrap();
    assert_eq!(resumed.resumed_after, Some(1));
    assert_eq!(resumed.history, full.history.iter().cloned().map(|mut h| {
        // Wall-clock fields differ between runs; everything else must match.
        let r = &resumed.history[h.epoch];
        h.seconds = r.seconds;
        h.train_windows_per_s = r.train_windows_per_s;
        h
    }).collect::<Vec<_>>());
    assert_eq!(weights(&t.model), uninterrupted);

    // A finished run resumes to "nothing to do" and the same best weights.
    let mut t2 = fresh_trainer();
    let again = pretrain::train(&mut t2, &train_set, &val_set, &s, b.path(), &mut |_| {}).unwrap();
    assert_eq!(again.history.len(), 4);
    assert_eq!(weights(&t2.model), uninterrupted);

    // Other settings in the same folder are refused, not silently mixed.
    let err = pretrain::train(&mut fresh_trainer(), &train_set, &val_set, &settings(5), b.path(), &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("other settings"), "{err}");
}

#[test]
fn training_lowers_validation_loss_and_best_weights_are_the_best_epoch() {
    let (train_set, val_set) = (set(16, 3), set(6, 4));
    let dir = tempfile::tempdir().unwrap();
    let mut t = fresh_trainer();
    let out = pretrain::train(&mut t, &train_set, &val_set, &settings(6), dir.path(), &mut |_| {}).unwrap();
    let first = out.history[0].val_loss;
    assert!(out.best_val_loss < first, "val loss did not improve: {:?}", out.history);
    let best = Astromer::load(&out.best_dir, &default_device(0)).unwrap();
    let batches = pretrain::fixed_masked_batches(&val_set, 16, 4, Some(&MaskFractions::official()), 11 ^ 0x5EED_0F_7A1).unwrap();
    let eval = Trainer::new(best, AdamSettings::official(), LossWeighting::Weighted);
    let (loss, _) = pretrain::evaluate(&eval, &batches).unwrap();
    assert!((loss - out.best_val_loss).abs() < 1e-6, "{loss} vs {}", out.best_val_loss);
}

#[test]
fn frozen_windows_replay_the_first_epoch_data() {
    let (train_set, val_set) = (set(8, 5), set(4, 6));
    let mut s = settings(3);
    s.window_refresh = WindowRefresh::FrozenAfterFirst;
    s.adam.lr = 0.0; // no learning: identical data gives identical train losses
    let dir = tempfile::tempdir().unwrap();
    let mut t = fresh_trainer();
    let out = pretrain::train(&mut t, &train_set, &val_set, &s, dir.path(), &mut |_| {}).unwrap();
    // Dropout differs per epoch, data does not: losses differ only through dropout, so compare
    // against a fresh-windows run, whose data differ.
    let mut s2 = s.clone();
    s2.window_refresh = WindowRefresh::EveryEpoch;
    let dir2 = tempfile::tempdir().unwrap();
    let out2 = pretrain::train(&mut fresh_trainer(), &train_set, &val_set, &s2, dir2.path(), &mut |_| {}).unwrap();
    assert_eq!(out.history[0].train_loss, out2.history[0].train_loss, "epoch 0 draws the same data");
    assert!(out.history.iter().all(|h| h.val_loss == out.history[0].val_loss), "lr 0: validation constant");
}

#[test]
fn a_window_budget_caps_every_epoch_and_leaves_the_settings_file_unchanged_when_absent() {
    let (train_set, val_set) = (set(12, 7), set(4, 8));
    let batches_per_epoch = |s: &TrainSettings| {
        let dir = tempfile::tempdir().unwrap();
        let mut batches = Vec::new();
        pretrain::train(&mut fresh_trainer(), &train_set, &val_set, s, dir.path(), &mut |e| {
            if let TrainEvent::EpochStart { batches: n, .. } = e {
                batches.push(n);
            }
        })
        .unwrap();
        batches
    };
    // One random window per curve: 12 windows, batches of 4.
    assert_eq!(batches_per_epoch(&settings(2)), vec![3, 3]);
    let mut capped = settings(2);
    capped.max_windows_per_epoch = Some(5);
    assert_eq!(batches_per_epoch(&capped), vec![2, 2], "5 windows in batches of 4");
    // Runs written before the budget existed keep their settings identity (resume still works).
    assert!(!toml::to_string(&settings(2)).unwrap().contains("max_windows_per_epoch"));
    assert!(toml::to_string(&capped).unwrap().contains("max_windows_per_epoch = 5"));
}
