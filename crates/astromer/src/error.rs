//! Errors of the model crate.

use thiserror::Error;

/// Errors from building batches, configurations and the model itself.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("empty batch")]
    EmptyBatch,
    #[error("window {index} is inconsistent: {reason}")]
    InconsistentWindow { index: usize, reason: String },
    #[error("invalid encoder configuration: {0}")]
    InvalidConfig(String),
    #[error("batch window length {got} does not match {expected}")]
    WindowLength { expected: usize, got: usize },
    #[error("unknown parameter `{0}`")]
    UnknownParameter(String),
    #[error("parameter `{name}` has {expected} values, got {got}")]
    ParameterSize {
        name: String,
        expected: usize,
        got: usize,
    },
}

/// Errors from saving and loading checkpoints. Never a panic on a bad file.
#[derive(Debug, Error)]
pub enum CheckpointError {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot parse config {path}: {message}")]
    Config {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("checkpoint config does not match the model:\n  checkpoint: {checkpoint}\n  model:      {model}")]
    ConfigMismatch { checkpoint: String, model: String },
    #[error("invalid safetensors file {path}: {message}")]
    SafeTensors {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("parameter `{0}` missing from the checkpoint")]
    MissingTensor(String),
    #[error("checkpoint holds parameter(s) the model does not have: {0:?}")]
    UnexpectedTensors(Vec<String>),
    #[error("parameter `{name}`: checkpoint shape {checkpoint:?}, model shape {model:?}")]
    ShapeMismatch {
        name: String,
        checkpoint: Vec<usize>,
        model: Vec<usize>,
    },
    #[error("parameter `{name}`: dtype {dtype}, expected F32")]
    Dtype { name: String, dtype: String },
    #[error("optimizer state: {0}")]
    Optimizer(String),
    #[error(transparent)]
    Model(#[from] ModelError),
}
