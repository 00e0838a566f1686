//! The dual-latent "causal foundation model" of "Causal Foundation Models: Disentangling Physics
//! from Instrument Properties" (ICML 2025 workshop; issue 16). Its data come from
//! [`survey_sim::causal`]; this crate holds what trains on them:
//!
//! - [`triplets`]: batches of (anchor, same star through another instrument, same instrument on
//!   another star) and the group ids the two contrastive spaces use;
//! - [`loss`]: multi-positive InfoNCE over a batch, in dfdx so the gradient reaches the encoders;
//! - [`model`]: the Conformer encoders (attention, LSTM, depthwise convolution), the product
//!   decoder and the projection heads, and the single-latent baseline;
//! - [`probe`]: the latents of a set, and what a space holds: an MLP regressor's test R² (θ₀)
//!   and k-NN accuracy (instrument);
//! - [`train`]: the paper's objective (MSE + L_star + L_instr) on a batch, one Adam step, and the
//!   epoch loop with early stopping on validation triplets, checkpointed every epoch and resumed
//!   exactly after an interruption.
//!
//! The Figs. 2–3 runs are the experiment `e09-causal` (issue 16; docs/causal.md).

pub mod loss;
pub mod model;
pub mod probe;
pub mod train;
pub mod triplets;

pub use loss::{multi_positive_info_nce, Positives};
pub use model::{CausalForward, CausalModel, CausalModelConfig};
pub use probe::{knn_accuracy, latents, r2, regression_r2, Labelled, Latents, ProbeSettings};
pub use train::{batch_loss, eval_loss, fit, train_step, EpochLog, FitOutcome, FitSettings, LossParts, Objective};
pub use triplets::{TripletBatch, TripletSampler};

use thiserror::Error;

/// Why a batch cannot be scored.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum CausalError {
    #[error("{rows} embedding rows but {groups} group ids: one group id per row")]
    BatchMismatch { rows: usize, groups: usize },
    #[error("no row of the batch has a positive (every group id appears once); sample pairs into the batch")]
    NoPositives,
    #[error("temperature {0} must be finite and > 0")]
    InvalidTemperature(f32),
    #[error("anchor {anchor} has no {which} partner in the data set (its star has a single visit, or the instrument a single star)")]
    NoPartner { anchor: usize, which: &'static str },
    #[error("optimiser: {0}")]
    Optimizer(String),
    #[error("training settings: {0}")]
    Settings(String),
    #[error("epoch {epoch}: the loss is not finite (lower the learning rate)")]
    NonFinite { epoch: usize },
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    #[error("anchor {anchor} is not in the split (the data set has {len} observations)")]
    AnchorOutOfRange { anchor: usize, len: usize },
}
