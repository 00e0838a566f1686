//! Training a baseline from scratch: Keras Adam, cross-entropy on logits, per-epoch validation
//! loss and accuracy, early stopping on the validation loss.

use astromer::layers::one_hot;
use astromer::{Adam, EarlyStopping, Parameters};
use classifier::{EvaluatedWeights, HeadEpoch};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::prelude::*;
use lightcurve::PaddedWindow;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::error::BaselineError;
use crate::model::{check_windows, BaselineKind, BaselineModel, BaselineSettings, HostBatch};

/// A trained baseline and how it got there.
pub struct TrainedBaseline<D: Device<f32>> {
    /// The evaluated weights (`settings.evaluated`).
    pub model: BaselineModel<D>,
    pub history: Vec<HeadEpoch>,
    /// The epoch with the lowest validation loss.
    pub best_epoch: usize,
    /// The epoch whose weights `model` holds.
    pub evaluated_epoch: usize,
}

/// One optimisation step on `windows`; returns the batch's mean cross-entropy.
pub(crate) fn train_step<D: Device<f32>>(
    model: &mut BaselineModel<D>,
    adam: &mut Adam<D>,
    windows: &[&PaddedWindow],
    labels: &[usize],
) -> f32 {
    let dev = model.head.output.weight.device().clone();
    let batch = HostBatch::new(windows);
    let y = one_hot(&dev, labels, model.n_classes());
    // Every parameter gets a gradient buffer before the forward pass, so the tape keeps them.
    let grads = Parameters::zero_gradients(&*model);
    let x = batch.input(&dev, model.kind()).traced(grads);
    let loss = cross_entropy_with_logits_loss(model.forward(x, &batch), y);
    let value = loss.retaped::<NoneTape>().as_vec()[0];
    let grads = loss.backward();
    adam.update(model, &grads).expect("the optimiser was built for this model");
    value
}

/// One Adam step of `model` on `windows` (labels per window); returns the batch's mean
/// cross-entropy. Inputs are not validated (use [`train_baseline`] for that); exposed for
/// throughput measurements.
pub fn train_batch<D: Device<f32>>(
    model: &mut BaselineModel<D>,
    adam: &mut Adam<D>,
    windows: &[PaddedWindow],
    labels: &[usize],
) -> f32 {
    let refs: Vec<&PaddedWindow> = windows.iter().collect();
    train_step(model, adam, &refs, labels)
}

/// Mean cross-entropy and accuracy of `model` on `windows`.
pub fn loss_and_accuracy<D: Device<f32>>(
    model: &BaselineModel<D>,
    windows: &[PaddedWindow],
    labels: &[usize],
    batch_size: usize,
) -> Result<(f64, f64), BaselineError> {
    let k = model.n_classes();
    check_set("evaluation", windows, labels, k)?;
    let logits = model.logits(windows, batch_size)?;
    let (mut ce, mut correct) = (0.0f64, 0usize);
    for (row, &label) in logits.chunks_exact(k).zip(labels) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
        ce += lse - row[label] as f64;
        let pred = (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        correct += usize::from(pred == label);
    }
    let n = windows.len().max(1) as f64;
    Ok((ce / n, correct as f64 / n))
}

fn check_set(
    set: &'static str,
    windows: &[PaddedWindow],
    labels: &[usize],
    n_classes: usize,
) -> Result<(), BaselineError> {
    if windows.is_empty() {
        return Err(BaselineError::Empty(set));
    }
    if windows.len() != labels.len() {
        return Err(BaselineError::LengthMismatch {
            set,
            windows: windows.len(),
            labels: labels.len(),
        });
    }
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= n_classes) {
        return Err(BaselineError::Label {
            set,
            index,
            label,
            n_classes,
        });
    }
    check_windows(set, windows)
}

/// Trains a `kind` baseline from scratch on `train`, early-stopping on the loss of `val`.
///
/// Each epoch shuffles the training windows (ChaCha8 seeded from `s.seed` and the epoch), runs
/// mini-batches of `s.batch_size` with Keras Adam on the cross-entropy, then logs the validation
/// loss and accuracy (`on_epoch` sees every log). Training stops `s.patience` epochs after the
/// lowest validation loss or at `s.max_epochs`. The returned weights are the last epoch's
/// ([`EvaluatedWeights::Last`], official: Keras's EarlyStopping did not restore the best weights)
/// or the best epoch's ([`EvaluatedWeights::Best`]). Deterministic for a given `s.seed`.
#[allow(clippy::too_many_arguments)]
pub fn train_baseline<D: Device<f32>>(
    dev: &D,
    kind: BaselineKind,
    train: &[PaddedWindow],
    train_labels: &[usize],
    val: &[PaddedWindow],
    val_labels: &[usize],
    n_classes: usize,
    s: &BaselineSettings,
    on_epoch: &mut dyn FnMut(&HeadEpoch),
) -> Result<TrainedBaseline<D>, BaselineError> {
    s.validate(n_classes)?;
    check_set("training", train, train_labels, n_classes)?;
    check_set("validation", val, val_labels, n_classes)?;
    let mut model = BaselineModel::new(dev, kind, n_classes, s);
    let mut adam = Adam::new(s.adam(), &model);
    let mut stopping = EarlyStopping::new(s.patience);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::new();
    let mut best_model = None;
    for epoch in 0..s.max_epochs.max(1) {
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(
            s.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9),
        ));
        let (mut loss, mut n) = (0.0f64, 0usize);
        for rows in order.chunks(s.batch_size) {
            let windows: Vec<&PaddedWindow> = rows.iter().map(|&i| &train[i]).collect();
            let labels: Vec<usize> = rows.iter().map(|&i| train_labels[i]).collect();
            loss +=
                train_step(&mut model, &mut adam, &windows, &labels) as f64 * rows.len() as f64;
            n += rows.len();
        }
        let train_loss = loss / n as f64;
        if !train_loss.is_finite() {
            return Err(BaselineError::NonFinite {
                epoch,
                which: "training",
            });
        }
        let (val_loss, val_accuracy) = loss_and_accuracy(&model, val, val_labels, s.batch_size)?;
        if !val_loss.is_finite() {
            return Err(BaselineError::NonFinite {
                epoch,
                which: "validation",
            });
        }
        let log = HeadEpoch {
            epoch,
            train_loss,
            val_loss,
            val_accuracy,
        };
        log::debug!(
            "{kind} epoch {epoch}: train {train_loss:.4}, val {val_loss:.4}, acc {val_accuracy:.3}"
        );
        on_epoch(&log);
        history.push(log);
        if stopping.observe(epoch, val_loss) && s.evaluated == EvaluatedWeights::Best {
            best_model = Some(model.clone());
        }
        if stopping.should_stop(epoch) {
            break;
        }
    }
    let best_epoch = stopping.best_epoch().expect("a finite validation loss improves on infinity");
    let last_epoch = history.len() - 1;
    let (model, evaluated_epoch) = match (s.evaluated, best_model) {
        (EvaluatedWeights::Best, Some(best)) => (best, best_epoch),
        _ => (model, last_epoch),
    };
    Ok(TrainedBaseline {
        model,
        history,
        best_epoch,
        evaluated_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use classifier::HeadShape;
    use lightcurve::WindowMeans;
    use rand::Rng;

    /// The GRU task: class 0 a fast sinusoid (period ≈ 3 steps), class 1 a slow one (≈ 14 steps),
    /// same cadence. Zero-mean magnitudes, random phase, amplitude and length (10–16 of 16),
    /// centred times.
    fn toy(n: usize, seed: u64) -> (Vec<PaddedWindow>, Vec<usize>) {
        toy_task(n, seed, false)
    }

    /// `by_cadence`: both classes have the same magnitude distribution (period 5 steps) and differ
    /// in the sampling cadence only (1 vs 3 days per step). The task base_avgpool can learn: its
    /// pooled feature does not depend on zero-mean magnitudes (see
    /// `avgpool_ignores_zero_mean_magnitudes`).
    fn toy_task(n: usize, seed: u64, by_cadence: bool) -> (Vec<PaddedWindow>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let len = 16;
        let mut windows = Vec::with_capacity(n);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let label = i % 2;
            let (period, cadence) = match (by_cadence, label) {
                (false, 0) => (3.0, 1.0),
                (false, _) => (14.0, 1.0),
                (true, 0) => (5.0, 1.0),
                (true, _) => (5.0, 3.0),
            };
            let n_valid = rng.gen_range(10..=len);
            let (phase, amp) = (rng.gen_range(0.0..6.3), rng.gen_range(0.5..1.5));
            let t: Vec<f32> = (0..n_valid)
                .map(|k| k as f32 + rng.gen_range(-0.2..0.2))
                .collect();
            let m: Vec<f32> = t
                .iter()
                .map(|&t| amp * (std::f32::consts::TAU * t / period + phase).sin())
                .collect();
            let t: Vec<f32> = t.iter().map(|v| v * cadence).collect();
            let tm = t.iter().sum::<f32>() / n_valid as f32;
            let mm = m.iter().sum::<f32>() / n_valid as f32;
            let mut time: Vec<f32> = t.iter().map(|v| v - tm).collect();
            let mut mag: Vec<f32> = m.iter().map(|v| v - mm).collect();
            time.resize(len, 0.0);
            mag.resize(len, 0.0);
            windows.push(PaddedWindow {
                object_index: i,
                start: 0,
                err: vec![0.0; len],
                loss_weight: vec![1.0; len],
                n_valid,
                means: WindowMeans::default(),
                time,
                mag,
            });
            labels.push(label);
        }
        (windows, labels)
    }

    fn settings() -> BaselineSettings {
        BaselineSettings {
            d_model: 8,
            gru_units: 8,
            pe_base: 10000.0,
            head: HeadShape {
                hidden: vec![16, 8],
                layer_norm_eps: 1e-3,
            },
            lr: 1e-2,
            batch_size: 16,
            max_epochs: 25,
            patience: 100,
            evaluated: EvaluatedWeights::Best,
            ..BaselineSettings::official()
        }
    }

    #[test]
    fn every_kind_learns_a_separable_task_deterministically() {
        let dev = Cpu::default();
        let s = settings();
        for kind in BaselineKind::ALL {
            let by_cadence = kind == BaselineKind::BaseAvgpool;
            let (train, train_y) = toy_task(96, 1, by_cadence);
            let (val, val_y) = toy_task(48, 2, by_cadence);
            let mut epochs = 0;
            let a = train_baseline(
                &dev,
                kind,
                &train,
                &train_y,
                &val,
                &val_y,
                2,
                &s,
                &mut |_| epochs += 1,
            )
            .unwrap();
            assert_eq!(epochs, a.history.len());
            let (loss, acc) = loss_and_accuracy(&a.model, &val, &val_y, 64).unwrap();
            let first = &a.history[0];
            eprintln!(
                "{kind}: val loss {:.3} → {loss:.3}, accuracy {:.2} → {acc:.2}",
                first.val_loss, first.val_accuracy
            );
            assert!(acc >= 0.85, "{kind}: val accuracy {acc}");
            assert!(
                loss < first.val_loss
                    && a.history.last().unwrap().train_loss < a.history[0].train_loss,
                "{kind}: the loss did not fall"
            );
            assert_eq!(a.evaluated_epoch, a.best_epoch);
            let b = train_baseline(
                &dev,
                kind,
                &train,
                &train_y,
                &val,
                &val_y,
                2,
                &s,
                &mut |_| {},
            )
            .unwrap();
            assert_eq!(
                a.model.logits(&val, 64).unwrap(),
                b.model.logits(&val, 64).unwrap(),
                "{kind} is not deterministic"
            );
        }
    }

    #[test]
    fn early_stopping_and_last_weights() {
        let dev = Cpu::default();
        let (train, train_y) = toy(32, 3);
        let (val, val_y) = toy(16, 4);
        let mut s = BaselineSettings {
            max_epochs: 6,
            patience: 100,
            evaluated: EvaluatedWeights::Last,
            ..settings()
        };
        let last = train_baseline(
            &dev,
            BaselineKind::BaseAvgpool,
            &train,
            &train_y,
            &val,
            &val_y,
            2,
            &s,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!((last.history.len(), last.evaluated_epoch), (6, 5));
        // patience 0 (Keras): stops at the first epoch that does not improve on the best.
        s.patience = 0;
        s.lr = 0.5; // overshoots, so the validation loss rises at some point
        s.max_epochs = 50;
        let stopped = train_baseline(
            &dev,
            BaselineKind::BaseAvgpool,
            &train,
            &train_y,
            &val,
            &val_y,
            2,
            &s,
            &mut |_| {},
        )
        .unwrap();
        let n = stopped.history.len();
        assert!(n < 50, "never stopped");
        assert_eq!(stopped.best_epoch, n - 2);
        assert!(stopped.history[n - 1].val_loss >= stopped.history[n - 2].val_loss);
    }

    /// mean over valid steps of (w·mag + b + PE(t)) = w·mean(mag) + b + mean(PE(t)), and the
    /// windows' magnitudes are zero-mean: base_avgpool sees the sampling times only.
    #[test]
    fn avgpool_ignores_zero_mean_magnitudes() {
        let dev = Cpu::default();
        let (mut w, _) = toy(4, 6);
        let m = BaselineModel::new(&dev, BaselineKind::BaseAvgpool, 3, &settings());
        let before = m.logits(&w, 4).unwrap();
        for win in &mut w {
            let n = win.n_valid;
            // Another zero-mean signal on the same times.
            let mags: Vec<f32> = (0..n)
                .map(|k| if k % 2 == 0 { 2.0 } else { -2.0 })
                .collect();
            let mean = mags.iter().sum::<f32>() / n as f32;
            for (dst, v) in win.mag.iter_mut().zip(mags) {
                *dst = v - mean;
            }
        }
        let after = m.logits(&w, 4).unwrap();
        for (a, b) in before.iter().zip(&after) {
            assert!((a - b).abs() < 1e-4, "{before:?} vs {after:?}");
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let dev = Cpu::default();
        let (w, y) = toy(8, 5);
        let s = settings();
        let run =
            |train: &[PaddedWindow], ty: &[usize], val: &[PaddedWindow], vy: &[usize], k: usize| {
                train_baseline(
                    &dev,
                    BaselineKind::RawGru,
                    train,
                    ty,
                    val,
                    vy,
                    k,
                    &s,
                    &mut |_| {},
                )
                .map(|_| ())
                .unwrap_err()
            };
        assert!(matches!(
            run(&[], &[], &w, &y, 2),
            BaselineError::Empty("training")
        ));
        assert!(matches!(
            run(&w, &y, &[], &[], 2),
            BaselineError::Empty("validation")
        ));
        assert!(matches!(
            run(&w, &y[..7], &w, &y, 2),
            BaselineError::LengthMismatch {
                windows: 8,
                labels: 7,
                ..
            }
        ));
        let mut bad_y = y.clone();
        bad_y[3] = 2;
        let e = run(&w, &bad_y, &w, &y, 2);
        assert!(
            matches!(
                e,
                BaselineError::Label {
                    index: 3,
                    label: 2,
                    ..
                }
            ),
            "{e}"
        );
        let mut short = w.clone();
        short[2].time.pop();
        short[2].mag.pop();
        short[2].n_valid = short[2].n_valid.min(15);
        assert!(matches!(
            run(&short, &y, &w, &y, 2),
            BaselineError::WindowLength { index: 2, .. }
        ));
        let mut none = w.clone();
        none[4].n_valid = 0;
        assert!(matches!(
            run(&w, &y, &none, &y, 2),
            BaselineError::NoValidStep {
                set: "validation",
                index: 4
            }
        ));
        assert!(matches!(run(&w, &y, &w, &y, 1), BaselineError::Settings(_)));
        let s_nan = BaselineSettings {
            lr: 1e30,
            max_epochs: 3,
            ..settings()
        };
        let e = train_baseline(
            &dev,
            BaselineKind::BaseAvgpool,
            &w,
            &y,
            &w,
            &y,
            2,
            &s_nan,
            &mut |_| {},
        )
        .map(|_| ())
        .unwrap_err();
        assert!(
            matches!(e, BaselineError::NonFinite { epoch: 0, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("epoch 0"));
    }
}
