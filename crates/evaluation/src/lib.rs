//! Evaluation of the downstream classifiers (spec §8.3, §8.4): classification metrics as the
//! official `evaluate_clf` computes them, per window or per object, their summary over folds,
//! and the few-shot (SPC) fold protocol.
//!
//! - [`ConfusionMatrix`]: rows true, columns predicted; [`ConfusionMatrix::normalized_by_true`];
//! - [`ClassificationMetrics`]: accuracy and macro precision/recall/F1 (sklearn,
//!   `zero_division=0`), averaged over all classes ([`ClassificationMetrics::macro_over`]) or
//!   over the classes present ([`ClassificationMetrics::macro_present`]);
//! - [`aggregate`]: per-object mean logits, [`argmax`], [`window_metrics`], [`object_metrics`];
//! - [`FoldSummary`] / [`MetricsSummary`]: mean, sample std, min, max over folds;
//! - [`few_shot_splits`]: test set, SPC subsets and train/val per fold, deterministic per seed;
//! - [`spearman`]: rank correlation with tie-averaged [`ranks`];
//! - [`precision_at_k`]: retrieval of same-class neighbours by cosine similarity, beside
//!   [`chance_precision`].
//!
//! See `docs/evaluation.md` for the protocol and where it departs from the paper.

pub mod aggregate;
pub mod confusion;
pub mod correlation;
pub mod error;
pub mod few_shot;
pub mod metrics;
pub mod retrieval;
pub mod summary;

pub use aggregate::{
    aggregate_logit_rows_by_object, aggregate_logits_by_object, argmax, argmax_rows,
    labels_by_object, object_metrics, window_metrics,
};
pub use confusion::ConfusionMatrix;
pub use correlation::{ranks, spearman};
pub use error::{EvalError, Result};
pub use few_shot::{
    draw_rng, few_shot_splits, few_shot_splits_for_set, DrawStage, FewShotSettings, FoldSplit,
};
pub use metrics::{ClassificationMetrics, PerClassMetrics};
pub use retrieval::{chance_precision, precision_at_k};
pub use summary::{FoldSummary, MetricsSummary};
