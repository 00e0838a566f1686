//! Classifiers on a frozen Astromer encoder (spec §8): the `skip`, `max` and `avg` heads, the
//! shared MLP (1024 → 512 → 256, ReLU, LayerNorm, logits), and their training with Adam,
//! cross-entropy and early stopping on the validation loss.
//!
//! The heads read [`PooledFeatures`]: per window, each representation pooled over the valid
//! steps. Pooling comes before anything trainable in every head, so the frozen encoder runs once
//! per window and the features are cached and shared by all heads (see `docs/classification.md`).

pub mod error;
pub mod features;
pub mod head;
pub mod train;

pub use error::ClassifierError;
pub use features::{FeatureScaler, PooledFeatures};
pub use head::{ClassifierHead, GammaWeight, HeadKind, HeadShape};
pub use train::{loss_and_accuracy, train_head, ClassifierSettings, EvaluatedWeights, HeadEpoch, TrainedHead};
