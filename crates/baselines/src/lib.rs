//! Supervised baselines of the ablation (paper Fig. 18; spec §8.1–8.2, official
//! `baseline_clf.py`), trained from scratch on labelled windows, with no pretrained encoder:
//!
//! - [`BaselineKind::RawGru`] ("Baseline raw", `build_raw_rnn_classifier`): per step the
//!   window-centred [magnitude, time] (2 features) → masked GRU → final state → head;
//! - [`BaselineKind::BaseGru`] ("Supervised GRU", `build_supervised_rnn_classifier`): a new,
//!   untrained Astromer input embedding (Dense(1→d) of the magnitude + the sinusoidal encoding of
//!   the time, [`astromer::model::InputEmbedding`]) → masked GRU → final state → head;
//! - [`BaselineKind::BaseAvgpool`] ("Baseline MLP", `build_supervised_pooling_classifier`): the
//!   same new embedding → mean over the valid steps → head.
//!
//! The head is the spec §8.1 MLP ([`classifier::ClassifierHead`], 1024 → 512 → 256 ReLU,
//! LayerNorm, logits, no γ). The GRU ([`Gru`]) has `tf.keras.layers.GRU` semantics
//! (reset_after, Keras masking: padded steps carry the state) and is built from dfdx tensor ops.
//! Training ([`train_baseline`]) is Keras Adam on the cross-entropy with early stopping on the
//! validation loss.
//!
//! - [`gru`]: the GRU layer;
//! - [`model`]: [`BaselineKind`], [`BaselineSettings`], [`BaselineModel`];
//! - [`train`]: [`train_baseline`] and the optimiser;
//! - [`error`]: [`BaselineError`].

pub mod error;
pub mod gru;
pub mod model;
pub mod train;

pub use error::BaselineError;
pub use gru::Gru;
pub use model::{BaselineKind, BaselineModel, BaselineSettings};
pub use train::{loss_and_accuracy, train_baseline, train_batch, TrainedBaseline};
