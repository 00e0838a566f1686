//! Error type of the crate.

/// Why a periodogram, grid or period could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum PeriodogramError {
    /// Two input slices that must be parallel have different lengths.
    #[error("length mismatch: {what} has {found} values but time has {expected}")]
    LengthMismatch {
        what: &'static str,
        expected: usize,
        found: usize,
    },
    /// Fewer points than the three parameters (offset, two amplitudes) of the model.
    #[error("at least 3 points are needed, got {n}")]
    TooFewPoints { n: usize },
    /// A NaN or infinite input value.
    #[error("{what}[{index}] is not finite")]
    NonFinite { what: &'static str, index: usize },
    /// Times must be sorted in non-decreasing order.
    #[error("time is not sorted: time[{index}] < time[{}]", .index - 1)]
    UnsortedTime { index: usize },
    /// All times are equal, so no frequency can be resolved.
    #[error("zero baseline: all times are equal")]
    ZeroBaseline,
    /// An uncertainty that cannot be turned into a weight `1/σ²`.
    #[error("err[{index}] = {value} must be finite and > 0")]
    InvalidError { index: usize, value: f64 },
    /// All magnitudes are equal (zero weighted variance): the normalised power is undefined.
    #[error("all magnitudes are equal: the normalised power is undefined")]
    ConstantMagnitude,
    /// A frequency grid (or its construction parameters) is unusable.
    #[error("invalid frequency grid: {0}")]
    InvalidGrid(String),
}
