//! Errors of the baselines: bad inputs and diverged training, never panics.

/// What went wrong building, training or running a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    /// A set that must hold windows holds none.
    #[error("the {0} set is empty")]
    Empty(&'static str),
    /// Windows and labels differ in number.
    #[error("the {set} set has {windows} windows but {labels} labels")]
    LengthMismatch {
        set: &'static str,
        windows: usize,
        labels: usize,
    },
    /// A label outside `0..n_classes`.
    #[error("{set} window {index} has label {label}, which is not below n_classes = {n_classes}")]
    Label {
        set: &'static str,
        index: usize,
        label: usize,
        n_classes: usize,
    },
    /// Windows of one set have different lengths L.
    #[error("{set} window {index} has length {len} but window 0 has length {expected}; all windows must have the same length")]
    WindowLength {
        set: &'static str,
        index: usize,
        len: usize,
        expected: usize,
    },
    /// A window without any real observation.
    #[error("{set} window {index} has no valid observation (n_valid = 0)")]
    NoValidStep { set: &'static str, index: usize },
    /// A window whose fields disagree (n_valid beyond the length, time and mag of different lengths).
    #[error("{set} window {index} is malformed: {reason}")]
    Malformed {
        set: &'static str,
        index: usize,
        reason: String,
    },
    /// Settings that cannot be trained with (zero sizes, fewer than two classes, bad PE base).
    #[error("invalid baseline settings: {0}")]
    Settings(String),
    /// The training or validation loss became NaN or infinite.
    #[error("the {which} loss is not finite at epoch {epoch}")]
    NonFinite { epoch: usize, which: &'static str },
}
