//! Errors of the probes. Every bad input is an `Err`, never a panic.

use astromer::ModelError;

/// Errors from the representation probes.
#[derive(Debug, thiserror::Error)]
pub enum RepresentationError {
    /// `rows × cols` does not match the data length (or overflows).
    #[error("matrix of {rows}×{cols} needs {expected} values, got {got}")]
    MatrixShape {
        rows: usize,
        cols: usize,
        expected: String,
        got: usize,
    },
    /// No windows were given.
    #[error("no windows given")]
    NoWindows,
    /// A window is internally inconsistent or differs in length from the first one.
    #[error("window {index} is invalid: {reason}")]
    InvalidWindow { index: usize, reason: String },
    /// A window has no real observation (`n_valid == 0`): nothing to attend to or reduce over.
    #[error("window {index} has no valid observations (n_valid = 0)")]
    EmptyWindow { index: usize },
    /// Block index past the model's last block.
    #[error("block {block} out of range: the model has {n_blocks} blocks (0-based)")]
    BlockOutOfRange { block: usize, n_blocks: usize },
    /// The model's attention masking cannot be reproduced for this input.
    #[error("unsupported attention masking: {0}")]
    UnsupportedMasking(String),
    /// `batch_size` was 0.
    #[error("batch size must be positive")]
    ZeroBatchSize,
    /// Labels and samples differ in number.
    #[error("{samples} samples but {labels} labels")]
    LengthMismatch { samples: usize, labels: usize },
    /// Too few samples for the computation.
    #[error("{what} needs at least {min} samples, got {got}")]
    TooFewSamples {
        what: &'static str,
        min: usize,
        got: usize,
    },
    /// Silhouette: the number of distinct labels must be in 2..=n_samples−1 (sklearn's rule).
    #[error("silhouette needs 2 to n_samples − 1 = {max} distinct labels, got {present}")]
    LabelCount { present: usize, max: usize },
    /// NaN or infinity in an input.
    #[error("non-finite value in {what} at index {index}")]
    NonFinite { what: &'static str, index: usize },
    /// Invalid t-SNE settings.
    #[error("invalid t-SNE settings: {0}")]
    InvalidSettings(String),
    /// Error from the model (batch building, encoding).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Error from an encoder behind [`lightcurve::WindowEncoder`].
    #[error(transparent)]
    Encoder(#[from] lightcurve::EncodeError),
}
