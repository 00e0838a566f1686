//! Training a head on pooled features: Adam (Keras form), cross-entropy on logits, early stopping
//! on the validation loss, and an explicit choice of which weights are evaluated.

use astromer::layers::{cached_tensor, one_hot, Tensor2};
use astromer::{Adam, AdamSettings, EarlyStopping, Parameters};
use dfdx::losses::cross_entropy_with_logits_loss;
use dfdx::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::ClassifierError;
use crate::features::PooledFeatures;
use crate::head::{ClassifierHead, HeadKind, HeadShape};

/// Which weights the test metrics come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvaluatedWeights {
    /// The epoch with the lowest validation loss (what a user expects; our default).
    Best,
    /// The last epoch trained: what the official runs evaluated, since their EarlyStopping did not
    /// restore the best weights (spec §7.3): `patience` epochs after the best one.
    Last,
}

/// Optimiser and schedule of a head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifierSettings {
    pub shape: HeadShape,
    /// Adam learning rate (official paper runs 1e-5, ablation runs 1e-3).
    pub lr: f64,
    /// Keras Adam defaults: β 0.9 / 0.999, ε 1e-7.
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub batch_size: usize,
    pub max_epochs: usize,
    /// Epochs without a lower validation loss before stopping (official 40).
    pub patience: usize,
    pub evaluated: EvaluatedWeights,
    /// Standardise every pooled dimension with the training windows' mean and std before the head
    /// ([`crate::FeatureScaler`]); the official heads read raw embeddings (`false`).
    #[serde(default)]
    pub standardize: bool,
    pub seed: u64,
}

impl ClassifierSettings {
    /// The optimiser these settings describe (the workspace's one Adam).
    pub fn adam(&self) -> AdamSettings {
        AdamSettings {
            lr: self.lr,
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
        }
    }

    /// The paper's runs (spec §7.3): lr 1e-5, batch 512, patience 40, the last epoch evaluated.
    pub fn official() -> Self {
        Self {
            shape: HeadShape::default(),
            lr: 1e-5,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            batch_size: 512,
            max_epochs: 1_000_000,
            patience: 40,
            evaluated: EvaluatedWeights::Last,
            standardize: false,
            seed: 0,
        }
    }
}

/// One epoch of head training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadEpoch {
    pub epoch: usize,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_accuracy: f64,
}

/// A trained head and how it got there.
#[derive(Debug, Clone)]
pub struct TrainedHead<D: Device<f32>> {
    /// The evaluated weights ([`EvaluatedWeights`]).
    pub head: ClassifierHead<D>,
    pub history: Vec<HeadEpoch>,
    pub best_epoch: usize,
    /// The epoch whose weights `head` holds.
    pub evaluated_epoch: usize,
}

/// One optimisation step on windows `rows`; returns the batch's mean cross-entropy.
fn step<D: Device<f32>>(
    head: &mut ClassifierHead<D>,
    adam: &mut Adam<D>,
    features: &PooledFeatures,
    rows: &[usize],
) -> f32 {
    let dev = head.output.weight.device().clone();
    let kind = head.kind;
    let width = features.input_width(kind);
    let x: Tensor2<D> = cached_tensor(&dev, &features.head_input(kind, rows), (rows.len(), width));
    let labels: Vec<usize> = rows.iter().map(|&i| features.labels[i]).collect();
    let y = one_hot(&dev, &labels, head.n_classes());
    // Every parameter gets a gradient buffer before the forward pass, so the tape keeps them.
    let grads = Parameters::zero_gradients(&*head);
    let logits = head.forward(x.traced(grads));
    let loss = cross_entropy_with_logits_loss(logits, y);
    let value = loss.retaped::<NoneTape>().as_vec()[0];
    let grads = loss.backward();
    adam.update(head, &grads).expect("the optimiser was built for this head");
    value
}

/// Mean cross-entropy and accuracy of `head` on every window of `features`.
pub fn loss_and_accuracy<D: Device<f32>>(head: &ClassifierHead<D>, features: &PooledFeatures, batch_size: usize) -> (f64, f64) {
    let k = head.n_classes();
    let rows: Vec<usize> = (0..features.len()).collect();
    let width = features.input_width(head.kind);
    let logits = head.logits(&features.head_input(head.kind, &rows), width, batch_size);
    let (mut ce, mut correct) = (0.0f64, 0usize);
    for (row, &label) in logits.chunks_exact(k).zip(&features.labels) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
        let lse = m + row.iter().map(|&v| (v as f64 - m).exp()).sum::<f64>().ln();
        ce += lse - row[label] as f64;
        let pred = (0..k).fold(0, |b, j| if row[j] > row[b] { j } else { b });
        correct += usize::from(pred == label);
    }
    let n = features.len().max(1) as f64;
    (ce / n, correct as f64 / n)
}

/// Trains a `kind` head on `train`, stopping early on the loss of `val`. Deterministic for a
/// given `settings.seed` (initialisation and shuffling). `on_epoch` sees every epoch's log.
pub fn train_head<D: Device<f32>>(
    dev: &D,
    kind: HeadKind,
    train: &PooledFeatures,
    val: &PooledFeatures,
    n_classes: usize,
    settings: &ClassifierSettings,
    on_epoch: &mut dyn FnMut(&HeadEpoch),
) -> Result<TrainedHead<D>, ClassifierError> {
    if train.is_empty() {
        return Err(ClassifierError::NoData("training"));
    }
    if val.is_empty() {
        return Err(ClassifierError::NoData("validation"));
    }
    if (train.n_reps, train.d_model) != (val.n_reps, val.d_model) {
        return Err(ClassifierError::Mismatch(format!(
            "training features are {}×{}, validation features {}×{}",
            train.n_reps, train.d_model, val.n_reps, val.d_model
        )));
    }
    if let Some(&bad) = train.labels.iter().chain(&val.labels).find(|&&l| l >= n_classes) {
        return Err(ClassifierError::Mismatch(format!("label {bad} is not below n_classes = {n_classes}")));
    }
    let mut head = ClassifierHead::new(dev, kind, train.n_reps, train.d_model, n_classes, &settings.shape, settings.seed);
    let mut adam = Adam::new(settings.adam(), &head);
    let mut stopping = EarlyStopping::new(settings.patience);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut history = Vec::new();
    let mut best_head = head.clone();
    for epoch in 0..settings.max_epochs.max(1) {
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(settings.seed ^ (epoch as u64 + 1).wrapping_mul(0x9E37_79B9)));
        let (mut loss, mut n) = (0.0f64, 0usize);
        for rows in order.chunks(settings.batch_size.max(1)) {
            loss += step(&mut head, &mut adam, train, rows) as f64 * rows.len() as f64;
            n += rows.len();
        }
        let (val_loss, val_accuracy) = loss_and_accuracy(&head, val, settings.batch_size.max(512));
        if !val_loss.is_finite() {
            return Err(ClassifierError::NonFinite { epoch });
        }
        let log = HeadEpoch {
            epoch,
            train_loss: loss / n as f64,
            val_loss,
            val_accuracy,
        };
        on_epoch(&log);
        history.push(log);
        if stopping.observe(epoch, val_loss) && settings.evaluated == EvaluatedWeights::Best {
            best_head = head.clone();
        }
        if stopping.should_stop(epoch) {
            break;
        }
    }
    let best_epoch = stopping.best_epoch().expect("a finite validation loss improves on infinity");
    let last_epoch = history.len() - 1;
    let (head, evaluated_epoch) = match settings.evaluated {
        EvaluatedWeights::Best => (best_head, best_epoch),
        EvaluatedWeights::Last => (head, last_epoch),
    };
    Ok(TrainedHead {
        head,
        history,
        best_epoch,
        evaluated_epoch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two well-separated classes in a 2-representation, 4-wide feature space.
    fn blobs(n: usize, seed: u64) -> PooledFeatures {
        use rand::Rng;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (r, d) = (2, 4);
        let mut f = PooledFeatures::empty(r, d);
        for i in 0..n {
            let label = i % 2;
            let centre = if label == 0 { -1.0 } else { 1.0 };
            for _ in 0..r * d {
                f.means.push(centre + rng.gen_range(-0.5..0.5));
            }
            for _ in 0..d {
                f.last_max.push(centre + rng.gen_range(-0.5..0.5));
            }
            f.object_index.push(i);
            f.labels.push(label);
        }
        f
    }

    fn settings(evaluated: EvaluatedWeights) -> ClassifierSettings {
        ClassifierSettings {
            shape: HeadShape {
                hidden: vec![16, 8],
                layer_norm_eps: 1e-3,
            },
            lr: 1e-2,
            batch_size: 8,
            max_epochs: 30,
            patience: 5,
            evaluated,
            ..ClassifierSettings::official()
        }
    }

    #[test]
    fn every_head_learns_separable_classes_deterministically() {
        let dev = Cpu::default();
        let (train, val) = (blobs(40, 1), blobs(20, 2));
        for kind in HeadKind::ALL {
            let s = settings(EvaluatedWeights::Best);
            let a = train_head(&dev, kind, &train, &val, 2, &s, &mut |_| {}).unwrap();
            let (loss, acc) = loss_and_accuracy(&a.head, &val, 64);
            assert!(acc == 1.0 && loss < 0.3, "{kind}: val accuracy {acc}, loss {loss}");
            assert!(a.history[0].val_loss > loss, "{kind}: the loss did not fall");
            let b = train_head(&dev, kind, &train, &val, 2, &s, &mut |_| {}).unwrap();
            assert_eq!(a.head.output.weight.as_vec(), b.head.output.weight.as_vec(), "{kind} is not deterministic");
        }
    }

    #[test]
    fn gamma_is_trained_and_last_weights_differ_from_best() {
        let dev = Cpu::default();
        let (train, val) = (blobs(40, 3), blobs(20, 4));
        let mut s = settings(EvaluatedWeights::Last);
        s.max_epochs = 12;
        s.patience = 100;
        let last = train_head(&dev, HeadKind::Skip, &train, &val, 2, &s, &mut |_| {}).unwrap();
        assert_eq!(last.evaluated_epoch, 11);
        let g = last.head.gamma.as_ref().unwrap().raw();
        assert!(g.iter().any(|&v| (v - 0.5).abs() > 1e-6), "γ never moved: {g:?}");
        s.evaluated = EvaluatedWeights::Best;
        let best = train_head(&dev, HeadKind::Skip, &train, &val, 2, &s, &mut |_| {}).unwrap();
        assert_eq!(best.evaluated_epoch, best.best_epoch);
        if best.best_epoch != 11 {
            assert_ne!(best.head.output.weight.as_vec(), last.head.output.weight.as_vec());
        }
    }

    #[test]
    fn bad_labels_and_empty_sets_are_errors() {
        let dev = Cpu::default();
        let (train, val) = (blobs(10, 1), blobs(4, 2));
        let s = settings(EvaluatedWeights::Best);
        let err = train_head(&dev, HeadKind::Max, &train, &val, 1, &s, &mut |_| {}).unwrap_err();
        assert!(err.to_string().contains("n_classes"), "{err}");
        let empty = PooledFeatures { labels: vec![], object_index: vec![], means: vec![], last_max: vec![], ..val.clone() };
        assert!(train_head(&dev, HeadKind::Max, &train, &empty, 2, &s, &mut |_| {}).is_err());
    }
}
